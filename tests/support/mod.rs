//! Real-runtime test support: a recording HTTP origin on 127.0.0.1, the built worker under
//! `wrangler dev` (workerd, local KV persisted in a fresh directory) and an HTTP client.
//! Every process started here is stopped when its handle drops, whatever the tests did.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod admin;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Root of the crate (where `wrangler.toml` is).
pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A named integration case over a shared world (the runtimes it started).
pub type Case<W> = (&'static str, fn(&W) -> Result<(), libtest_mimic::Failed>);

/// Runs `cases` against `world` with the standard test CLI, then drops the world, which stops
/// every runtime and origin in it, whatever the cases did.
pub fn run_cases<W: Send + Sync + 'static>(
    world: W,
    cases: &'static [Case<W>],
) -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let world = Arc::new(world);
    let trials = cases
        .iter()
        .map(|&(name, case)| {
            let world = world.clone();
            libtest_mimic::Trial::test(name, move || case(&world))
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // The trials held the other references; this drop stops the runtimes.
    drop(world);
    conclusion.exit_code()
}

/// A test assertion that reports `what` instead of panicking.
pub fn check(ok: bool, what: &str) -> Result<(), libtest_mimic::Failed> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// An equality assertion that reports both sides and `what`.
pub fn eq<T: PartialEq + std::fmt::Debug>(
    got: T,
    want: T,
    what: &str,
) -> Result<(), libtest_mimic::Failed> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}").into())
    }
}

/// The runtime's log holds no panic or uncaught error.
pub fn no_panic(gateway: &Gateway) -> Result<(), libtest_mimic::Failed> {
    let log = gateway.log();
    for marker in ["panicked", "RuntimeError", "Uncaught"] {
        check(
            !log.contains(marker),
            &format!("the log contains {marker:?}"),
        )?;
    }
    Ok(())
}

/// `clients` threads at once, each making `per_client` calls of `request(client, i)` in turn;
/// every status, all together (how the limit tests load a key).
pub fn fan_out<F>(clients: usize, per_client: usize, request: F) -> Vec<u16>
where
    F: Fn(usize, usize) -> u16 + Sync,
{
    std::thread::scope(|s| {
        let request = &request;
        let handles: Vec<_> = (0..clients)
            .map(|c| s.spawn(move || (0..per_client).map(|i| request(c, i)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A request as the origin received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query exactly as they arrived.
    pub url: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP origin that records every request and answers with a JSON echo of it.
/// Paths starting with `/status/<code>` answer with that status; `/redirect` answers 302;
/// `/api/employees…` answers [`EMPLOYEES`]; `/api/html…` answers an HTML page; `/slow/<ms>…`
/// answers after that many milliseconds.
pub struct Origin {
    pub port: u16,
    server: Arc<tiny_http::Server>,
    /// `None` for an origin that records nothing (benchmarks and soaks: memory stays flat).
    seen: Option<Arc<Mutex<Vec<Seen>>>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl Origin {
    pub fn start() -> Origin {
        Self::start_on(0).expect("bind the origin")
    }

    pub fn start_on(port: u16) -> Result<Origin, Box<dyn std::error::Error + Send + Sync>> {
        Self::serve(port, true)
    }

    /// An origin that answers like the others but keeps no record of what it received.
    pub fn start_unrecorded(port: u16) -> Result<Origin, Box<dyn std::error::Error + Send + Sync>> {
        Self::serve(port, false)
    }

    fn serve(port: u16, record: bool) -> Result<Origin, Box<dyn std::error::Error + Send + Sync>> {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port))?);
        let port = server.server_addr().to_ip().expect("ip listener").port();
        let seen = record.then(|| Arc::new(Mutex::new(Vec::new())));
        let (srv, log) = (server.clone(), seen.clone());
        let worker = thread::spawn(move || {
            for request in srv.incoming_requests() {
                let log = log.clone();
                thread::spawn(move || answer(request, log.as_deref()));
            }
        });
        Ok(Origin {
            port,
            server,
            seen,
            worker: Some(worker),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far whose path starts with `path`.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        let all = self
            .seen
            .as_ref()
            .expect("this origin records nothing")
            .lock()
            .unwrap();
        all.iter()
            .filter(|s| s.url.starts_with(path))
            .cloned()
            .collect()
    }

    /// The one request received under `path`; fails the test if there is not exactly one.
    pub fn only(&self, path: &str) -> Seen {
        let seen = self.seen(path);
        assert_eq!(seen.len(), 1, "origin requests under {path}: {seen:#?}");
        seen.into_iter().next().unwrap()
    }
}

fn answer(mut request: tiny_http::Request, log: Option<&Mutex<Vec<Seen>>>) {
    if let Some(ms) = request
        .url()
        .strip_prefix("/slow/")
        .and_then(|r| r.split('/').next()?.parse().ok())
    {
        thread::sleep(Duration::from_millis(ms));
    }
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let seen = Seen {
        method: request.method().as_str().to_owned(),
        url: request.url().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect(),
        body,
    };
    let status = seen
        .url
        .strip_prefix("/status/")
        .and_then(|rest| rest.get(..3)?.parse().ok())
        .unwrap_or(if seen.url.starts_with("/redirect") {
            302
        } else {
            200
        });
    let echo = serde_json::json!({
        "origin": "keygate demo origin",
        "method": seen.method,
        "url": seen.url,
        "key_id": seen.header("x-keygate-key-id"),
        "org": seen.header("x-keygate-org"),
        "body_bytes": seen.body.len(),
    });
    let seen_url_is_employees = seen.url.contains("/api/employees");
    let (content_type, body) = if seen_url_is_employees {
        ("application/json", EMPLOYEES.to_owned())
    } else if seen.url.starts_with("/api/html") {
        ("text/html; charset=utf-8", "<p>not JSON</p>".to_owned())
    } else {
        ("application/json", echo.to_string())
    };
    if let Some(log) = log {
        log.lock().unwrap().push(seen);
    }
    let mut response = tiny_http::Response::from_data(body)
        .with_status_code(status)
        .with_header(header("content-type", content_type))
        .with_header(header("x-origin", "demo"));
    if status == 302 {
        response = response.with_header(header("location", "/elsewhere"));
    }
    if seen_url_is_employees {
        // Validators and ranges of the unfiltered body: a filtered response must drop them.
        response = response
            .with_header(header("etag", "\"employees-v1\""))
            .with_header(header("last-modified", "Mon, 23 Nov 2026 10:00:00 GMT"))
            .with_header(header("accept-ranges", "bytes"));
    }
    let _ = request.respond(response);
}

/// The origin's employees list: an envelope with pagination, nested and sensitive fields.
pub const EMPLOYEES: &str = r#"{"data":[{"name":"Ada","start_date":"2020-01-01","salary":120000,"address":{"city":"Zürich","street":"Bahnhofstrasse 1"}},{"name":"Bob","start_date":"2021-06-01","salary":95000,"address":"unknown"}],"next":"c2"}"#;

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap()
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The built worker running under `wrangler dev` on workerd.
pub struct Gateway {
    pub port: u16,
    pub state_dir: PathBuf,
    child: Child,
    log: PathBuf,
    /// The file holding the secrets given to wrangler (removed when the gateway stops).
    secrets: Option<PathBuf>,
}

/// Variables that are secrets. They never go on a command line, where `ps` shows them to every
/// user of the machine: `wrangler dev` reads them from a `.dev.vars`-format file only its user
/// can read (`--env-file`), the Miniflare runner from its stdin.
pub const SECRET_VARS: &[&str] = &["ADMIN_TOKEN", "ORIGIN_SIGNING_SECRET"];

/// What a gateway is started with.
pub struct GatewayOptions<'a> {
    /// Variables: secrets ([`SECRET_VARS`]) through a private file, the others with
    /// `--var NAME:VALUE`.
    pub vars: Vec<(&'a str, String)>,
    /// Local state directory; a fresh one under `target/` when `None`.
    pub state_dir: Option<PathBuf>,
    /// Port to listen on; a free one when `None`.
    pub port: Option<u16>,
    /// Wrangler's output goes to the terminal instead of a log file.
    pub show_output: bool,
}

impl Gateway {
    /// Starts a gateway and waits until it answers.
    pub fn start(options: GatewayOptions<'_>) -> Gateway {
        let mut gateway = Self::spawn(options);
        gateway.wait_ready();
        gateway
    }

    /// Starts a gateway without waiting, so several can boot at once. Call it from a thread
    /// that outlives the gateway: the parent-death signal fires when the spawning *thread* ends.
    pub fn spawn(options: GatewayOptions<'_>) -> Gateway {
        Self::spawn_with_config(options, &runtime_config())
    }

    /// [`Gateway::spawn`] with another wrangler config (another worker, such as the benchmark's
    /// pass-through).
    pub fn spawn_with_config(options: GatewayOptions<'_>, config: &std::path::Path) -> Gateway {
        let state_dir = options.state_dir.unwrap_or_else(fresh_state_dir);
        std::fs::create_dir_all(&state_dir).unwrap();
        let port = options.port.unwrap_or_else(free_port);
        let log = state_dir.join(format!("wrangler-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let (secret, plain): (Vec<_>, Vec<_>) = options
            .vars
            .iter()
            .partition(|(name, _)| SECRET_VARS.contains(name));
        // Always a file, even an empty one: with --env-file wrangler reads no stray .dev.vars
        // or .env, so every gateway has exactly the secrets it was given.
        let secrets = write_secrets(&state_dir.join(format!("secrets-{port}.env")), &secret);
        let mut command = Command::new(project_dir().join("node_modules/.bin/wrangler"));
        command
            .current_dir(project_dir())
            .args(["dev", "--config", config.to_str().unwrap()])
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &free_port().to_string()])
            .args(["--persist-to", state_dir.to_str().unwrap()])
            .args(["--env-file", secrets.to_str().unwrap()])
            .args(["--show-interactive-dev-session=false", "--log-level", "log"])
            // build/ is bundled already; wrangler's own esbuild watcher deadlocked under load
            // ("all goroutines are asleep") and took the runtime down mid-suite.
            .arg("--no-bundle");
        for (name, value) in plain {
            command.args(["--var", &format!("{name}:{value}")]);
        }
        command
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .stdin(Stdio::null());
        if !options.show_output {
            command.stdout(out.try_clone().unwrap()).stderr(out);
        }
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .expect("spawn wrangler dev (run `make tools` first)");
        Gateway {
            port,
            state_dir,
            child,
            log,
            secrets: Some(secrets),
        }
    }

    /// Starts `worker` (`keygate` or `passthrough`) on workerd through Miniflare's API
    /// (`benches/miniflare.mjs`): the same runtime and local storage as `wrangler dev`, without
    /// its reload proxy. Waits until it answers.
    pub fn start_miniflare(worker: &str, options: GatewayOptions<'_>) -> Gateway {
        Self::start_miniflare_copies(worker, options, &[])
    }

    /// [`Gateway::start_miniflare`] with `more` copies of the worker in the same workerd, each
    /// its own isolate listening on its own port, bound to the Durable Object namespaces of the
    /// first copy (which listens on [`Gateway::port`]) and to the same KV namespace.
    pub fn start_miniflare_copies(
        worker: &str,
        options: GatewayOptions<'_>,
        more: &[u16],
    ) -> Gateway {
        let state_dir = options.state_dir.unwrap_or_else(fresh_state_dir);
        std::fs::create_dir_all(&state_dir).unwrap();
        let port = options.port.unwrap_or_else(free_port);
        let ports = std::iter::once(port)
            .chain(more.iter().copied())
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let log = state_dir.join(format!("miniflare-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new("node");
        command
            .current_dir(project_dir())
            .arg("benches/miniflare.mjs")
            .args([worker, &ports, state_dir.to_str().unwrap()])
            // The variables arrive as the first line on stdin; the runner stops when this pipe
            // closes, i.e. when this process is gone.
            .stdin(Stdio::piped())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        die_with_parent(&mut command);
        let mut child = command.spawn().expect("spawn node benches/miniflare.mjs");
        let vars: serde_json::Map<String, serde_json::Value> = options
            .vars
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone().into()))
            .collect();
        {
            use std::io::Write;
            let stdin = child.stdin.as_mut().expect("the runner's stdin");
            writeln!(stdin, "{}", serde_json::Value::Object(vars)).expect("send the variables");
        }
        let mut gateway = Gateway {
            port,
            state_dir,
            child,
            log,
            secrets: None,
        };
        gateway.wait_ready();
        gateway
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The process id of the runtime's supervisor (wrangler, or the Miniflare runner).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether wrangler is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// The worker's log (wrangler's output) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once it contains `needle` (wrangler writes it asynchronously), within 10 s.
    pub fn log_containing(&self, needle: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return Some(log);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Blocks until the worker answers HTTP; panics with wrangler's output if it never does.
    pub fn wait_ready(&mut self) {
        // The first start may compile the worker (wrangler runs `make build`): allow for it.
        let deadline = Instant::now() + Duration::from_secs(300);
        let agent = client();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("wrangler dev exited ({status}):\n{}", self.log());
            }
            // Any HTTP answer means workerd runs the worker (a misconfigured one answers 500).
            // The body is read so workerd does not write into a closed socket.
            if let Ok(mut r) = agent.get(&self.url("/_keygate/health")).call() {
                let _ = r.body_mut().read_to_vec();
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("wrangler dev not ready after 300 s:\n{}", self.log());
    }

    /// Stops the runtime: SIGTERM (wrangler stops workerd), SIGKILL if it lingers.
    pub fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop();
        if let Some(secrets) = &self.secrets {
            let _ = std::fs::remove_file(secrets);
        }
    }
}

/// Writes `secrets` in `.dev.vars` format to `path`, readable by this user only from the
/// moment it exists. Values are single-quoted (taken literally), so they may not hold a quote
/// or a line break.
fn write_secrets(path: &std::path::Path, secrets: &[&(&str, String)]) -> PathBuf {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .expect("create the secrets file");
    // An existing file keeps its mode on open: set it anyway.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .expect("make the secrets file private");
    for (name, value) in secrets {
        assert!(
            !value.contains(['\'', '\n', '\r']),
            "{name}: a secret for wrangler dev may not hold a quote or a line break"
        );
        writeln!(file, "{name}='{value}'").expect("write the secrets file");
    }
    path.to_owned()
}

/// The command lines of `pid` and every process below it (wrangler's workerd, esbuild…), for
/// the check that no secret is on one. Each is the `/proc/<pid>/cmdline` text, NULs as spaces.
pub fn command_lines(pid: u32) -> Vec<(u32, String)> {
    // Parents from /proc/<pid>/status (`PPid:`): the children lists are not always provided.
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            let ppid = status
                .lines()
                .find_map(|l| l.strip_prefix("PPid:"))?
                .trim()
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(pid) = queue.pop() {
        if let Ok(bytes) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            out.push((pid, String::from_utf8_lossy(&bytes).replace('\0', " ")));
        }
        queue.extend(parents.iter().filter(|(_, p)| *p == pid).map(|(c, _)| *c));
    }
    out
}

/// `wrangler.toml` without its `[build]` table, written under `target/`. With a custom build,
/// wrangler rebuilds and reloads the worker whenever its file watcher becomes ready, at a
/// moment unrelated to "Ready": a request can meet a restarting server. The Makefile builds
/// before any test or `make dev`, so the runtime here only serves `build/`.
///
/// Written once per process: wrangler watches its config, and rewriting it (even unchanged)
/// reloads every running gateway, whose proxy then replays requests in flight.
pub fn runtime_config() -> PathBuf {
    static CONFIG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CONFIG.get_or_init(write_runtime_config).clone()
}

fn write_runtime_config() -> PathBuf {
    let root = project_dir();
    let source = std::fs::read_to_string(root.join("wrangler.toml")).expect("read wrangler.toml");
    let mut out = String::new();
    let mut in_build = false;
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_build = trimmed == "[build]";
        }
        if in_build {
            continue;
        }
        if trimmed.starts_with("main = ") {
            out.push_str(&format!(
                "main = {:?}\n",
                root.join("build/index.js").display().to_string()
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(
        root.join("build/index.js").exists(),
        "build/index.js is missing: run `make build` (make test does)"
    );
    let dir = root.join("target/keygate-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("wrangler-{}.toml", std::process::id()));
    std::fs::write(&path, out).unwrap();
    path
}

/// If the test process dies without unwinding, the kernel sends wrangler SIGTERM. Linux ties
/// this to the spawning thread, hence `Gateway::spawn`'s note.
pub fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

fn fresh_state_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    project_dir()
        .join("target/keygate-tests")
        .join(format!("{}-{nanos}", std::process::id()))
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Sends `raw` bytes as one HTTP/1.1 request over TCP and returns the status and the body:
/// for what no client library would send (dot segments, invalid UTF-8, huge header blocks).
pub fn send_raw(gateway: &Gateway, raw: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", gateway.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before reading everything; that is an answer too.
    let _ = stream.write_all(raw);
    // Read until the response is complete (the server may keep the connection open after it).
    let mut answer = Vec::new();
    let mut chunk = [0u8; 65536];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        if response_complete(&answer) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Whether `bytes` hold a whole HTTP/1.1 response (by Content-Length, or chunked to its end).
fn response_complete(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let head = head.to_ascii_lowercase();
    if let Some(length) = head.lines().find_map(|l| l.strip_prefix("content-length:")) {
        return length
            .trim()
            .parse::<usize>()
            .is_ok_and(|n| body.len() >= n);
    }
    head.contains("transfer-encoding: chunked") && body.ends_with("0\r\n\r\n")
}

/// The answer `wrangler dev`'s own proxy gives when its connection to workerd broke before the
/// worker saw the request (after an earlier answer that left a request body unread). keygate
/// never says this; workerd without the proxy, as on Cloudflare, never does either.
const DEV_PROXY_RESTART: &str = "Your worker restarted mid-request";

/// Sends one request to the gateway and reads the whole answer. A [`DEV_PROXY_RESTART`] answer
/// (the request never reached the worker) is sent again, once.
pub fn send(
    gateway: &Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let reply = send_once(gateway, method, path, headers, body);
    if reply.status == 503 && String::from_utf8_lossy(&reply.body).starts_with(DEV_PROXY_RESTART) {
        return send_once(gateway, method, path, headers, body);
    }
    reply
}

fn send_once(
    gateway: &Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(gateway.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let agent = client();
    let response = match body {
        Some(bytes) => agent.run(request.body(bytes.to_vec()).unwrap()),
        None => agent.run(request.body(()).unwrap()),
    };
    Reply::from(response.expect("HTTP exchange with the gateway"))
}

/// [`send`] with `key` in `Authorization: Bearer`, then the `extra` headers.
pub fn send_with_key(
    gateway: &Gateway,
    key: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    send(gateway, method, path, &headers, body)
}

/// An HTTP client that returns every status as a response and never follows redirects.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A response read whole: status, lower-case headers, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn from(mut r: ureq::http::Response<ureq::Body>) -> Reply {
        let headers = r
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap_or_default();
        Reply {
            status: r.status().as_u16(),
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}
