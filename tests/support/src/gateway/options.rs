//! What a gateway is started with: its variables (secrets apart), state directory, port and
//! where its output goes. One builder, so a suite names only what differs from the usual.

use std::path::PathBuf;

/// The admin token of every test gateway, unless a case gives it another (`var`).
pub const ADMIN_TOKEN: &str = "keygate-test-admin-token";

/// Variables that are secrets. They never go on a command line, where `ps` shows them to every
/// user of the machine: `wrangler dev` reads them from a `.dev.vars`-format file only its user
/// can read (`--env-file`), the Miniflare runner from its stdin.
pub const SECRET_VARS: &[&str] = &["ADMIN_TOKEN", "ORIGIN_SIGNING_SECRET"];

/// What a gateway is started with.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// Variables: secrets ([`SECRET_VARS`]) through a private file, the others with
    /// `--var NAME:VALUE`.
    pub(super) vars: Vec<(&'static str, String)>,
    /// Local state directory; a fresh one under `target/` when `None`.
    pub(super) state_dir: Option<PathBuf>,
    /// Port to listen on; a free one when `None`.
    pub(super) port: Option<u16>,
    /// Wrangler's output goes to the terminal instead of a log file.
    pub(super) show_output: bool,
}

impl GatewayOptions {
    /// In front of `origin` (the `ORIGIN` variable), with [`ADMIN_TOKEN`], fresh state, a free
    /// port, output to a log file.
    pub fn new(origin: impl Into<String>) -> GatewayOptions {
        GatewayOptions {
            vars: vec![
                ("ORIGIN", origin.into()),
                ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ],
            state_dir: None,
            port: None,
            show_output: false,
        }
    }

    /// Sets the variable `name`, replacing its earlier value.
    pub fn var(mut self, name: &'static str, value: impl Into<String>) -> GatewayOptions {
        let value = value.into();
        match self.vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
        self
    }

    /// Keeps local state in `dir` (to restart on the state of an earlier gateway).
    pub fn state_dir(mut self, dir: PathBuf) -> GatewayOptions {
        self.state_dir = Some(dir);
        self
    }

    /// Listens on `port` instead of a free one.
    pub fn port(mut self, port: u16) -> GatewayOptions {
        self.port = Some(port);
        self
    }

    /// Sends the runtime's output to the terminal instead of a log file (`make dev`).
    pub fn show_output(mut self) -> GatewayOptions {
        self.show_output = true;
        self
    }
}
