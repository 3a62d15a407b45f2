//! `make dev`: keygate on workerd at http://127.0.0.1:8787 in front of a demo origin at
//! http://127.0.0.1:8788, with local KV persisted in `.keygate-dev/`, and a demo key printed.
//! Ctrl-C stops everything.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use keygate::domain::ApiKey;
use support::{Gateway, GatewayOptions, Origin, mint, project_dir};

const GATEWAY_PORT: u16 = 8787;
const ORIGIN_PORT: u16 = 8788;

fn main() {
    let dir = project_dir().join(".keygate-dev");
    let key_file = dir.join("demo-key");
    std::fs::create_dir_all(&dir).expect("create .keygate-dev");

    let origin = Origin::start_on(ORIGIN_PORT).unwrap_or_else(|e| {
        eprintln!("keygate dev: cannot listen on 127.0.0.1:{ORIGIN_PORT} ({e}); is `make dev` already running?");
        std::process::exit(1);
    });

    // The demo key survives restarts, like the rest of the local state.
    let (key, records) = match std::fs::read_to_string(&key_file)
        .ok()
        .and_then(|t| ApiKey::parse(t.trim()).ok())
    {
        Some(key) => (key, vec![]),
        None => {
            let (key, hash, record) = mint("demo", "Demo key", |_| {});
            std::fs::write(&key_file, key.expose_secret()).expect("write demo key");
            (key, vec![(hash, record)])
        }
    };

    let mut gateway = Gateway::start(GatewayOptions {
        vars: vec![("ORIGIN", origin.url())],
        records,
        state_dir: Some(dir.join("state")),
        port: Some(GATEWAY_PORT),
        show_output: true,
    });
    print_banner(&key, &gateway, &key_file);
    while gateway.running() {
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("keygate dev: wrangler stopped");
}

fn print_banner(key: &ApiKey, gateway: &Gateway, key_file: &Path) {
    let secret = key.expose_secret();
    println!();
    println!("keygate is running on workerd at {}", gateway.url("/"));
    println!("  demo origin:  http://127.0.0.1:{ORIGIN_PORT}/");
    println!(
        "  demo key:     {secret}   (organization \"demo\"; saved in {})",
        key_file.display()
    );
    println!("  local state:  {}", gateway.state_dir.display());
    println!();
    println!("Try it:");
    println!(
        "  curl -H 'Authorization: Bearer {secret}' {}",
        gateway.url("/hello?name=keygate")
    );
    println!(
        "  curl -i -H 'X-API-Key: kg_live_wrong' {}",
        gateway.url("/hello")
    );
    println!();
    println!("Ctrl-C stops keygate and the demo origin.");
}
