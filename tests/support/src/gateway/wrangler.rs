//! Starting a gateway under `wrangler dev`, as `make dev` and most tests do: secrets through a
//! private file, the other variables on the command line, the config without its build step.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Gateway, GatewayOptions, SECRET_VARS, fresh_state_dir};
use crate::host::{die_with_parent, free_port, project_dir};

impl Gateway {
    /// Starts a gateway and waits until it answers.
    pub fn start(options: GatewayOptions) -> Gateway {
        let mut gateway = Self::spawn(options);
        gateway.wait_ready();
        gateway
    }

    /// Starts a gateway without waiting, so several can boot at once. Call it from a thread
    /// that outlives the gateway: the parent-death signal fires when the spawning *thread* ends.
    pub fn spawn(options: GatewayOptions) -> Gateway {
        Self::spawn_with_config(options, &runtime_config())
    }

    /// [`Gateway::spawn`] with another wrangler config (another worker, such as the benchmark's
    /// pass-through).
    pub fn spawn_with_config(options: GatewayOptions, config: &Path) -> Gateway {
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
}

/// Writes `secrets` in `.dev.vars` format to `path`, readable by this user only from the
/// moment it exists. Values are single-quoted (taken literally), so they may not hold a quote
/// or a line break.
fn write_secrets(path: &Path, secrets: &[&(&str, String)]) -> PathBuf {
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
