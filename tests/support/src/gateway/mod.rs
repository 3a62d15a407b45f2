//! A running gateway: the built worker on workerd, under `wrangler dev` ([`wrangler`]) or
//! Miniflare's API ([`miniflare`]), started with [`GatewayOptions`]. Dropping the handle stops
//! the runtime, whatever the tests did.

mod miniflare;
mod options;
mod wrangler;

use std::path::PathBuf;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

pub use options::{ADMIN_TOKEN, GatewayOptions, SECRET_VARS};
pub use wrangler::runtime_config;

use crate::host::project_dir;
use crate::http::client;

/// The built worker running on workerd.
pub struct Gateway {
    pub port: u16,
    pub state_dir: PathBuf,
    child: Child,
    log: PathBuf,
    /// The file holding the secrets given to wrangler (removed when the gateway stops).
    secrets: Option<PathBuf>,
}

impl Gateway {
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

/// A new local state directory under `target/keygate-tests`.
fn fresh_state_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    project_dir()
        .join("target/keygate-tests")
        .join(format!("{}-{nanos}", std::process::id()))
}
