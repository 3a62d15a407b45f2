//! This machine as the tests see it: the project's directory, free ports, the process tree,
//! the parent-death signal that stops what a test started, the wall clock.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// First port [`free_port`] hands out, and how many it cycles through: below Linux's ephemeral
/// range (32768–60999), where the kernel picks the local ports of outgoing connections.
const PORTS_FROM: u16 = 20_000;
const PORTS: u16 = 12_000;

/// A port free right now on 127.0.0.1, for a runtime to bind a moment later. Not port 0: the
/// kernel hands that out of the ephemeral range, where any outgoing connection (the tests make
/// thousands) may take it before the runtime binds it ("Address already in use"). Each process
/// walks its own sequence, starting at a place its id picks, so parallel suites rarely meet.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919);
    loop {
        let n = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        let port = PORTS_FROM + (n % u32::from(PORTS)) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Root of the keygate crate (where `wrangler.toml` is): two levels above this crate.
pub fn project_dir() -> PathBuf {
    let support = Path::new(env!("CARGO_MANIFEST_DIR"));
    support
        .ancestors()
        .nth(2)
        .expect("tests/support sits two levels below the project")
        .to_owned()
}
