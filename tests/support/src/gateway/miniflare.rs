//! Starting keygate (or the benchmark's pass-through worker) on workerd through Miniflare's API
//! (`benches/miniflare.mjs`): the same runtime as `wrangler dev` without its reload proxy, and
//! several copies of the worker in one workerd, each its own isolate.

use std::process::{Command, Stdio};

use super::{Gateway, GatewayOptions, fresh_state_dir};
use crate::host::{die_with_parent, free_port, project_dir};

impl Gateway {
    /// Starts `worker` (`keygate` or `passthrough`) on workerd through Miniflare's API
    /// (`benches/miniflare.mjs`): the same runtime and local storage as `wrangler dev`, without
    /// its reload proxy. Waits until it answers.
    pub fn start_miniflare(worker: &str, options: GatewayOptions) -> Gateway {
        Self::start_miniflare_copies(worker, options, &[])
    }

    /// [`Gateway::start_miniflare`] with `more` copies of the worker in the same workerd, each
    /// its own isolate listening on its own port, bound to the Durable Object namespaces of the
    /// first copy (which listens on [`Gateway::port`]) and to the same KV namespace.
    pub fn start_miniflare_copies(worker: &str, options: GatewayOptions, more: &[u16]) -> Gateway {
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
}
