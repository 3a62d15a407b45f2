//! `make dev`: keygate on workerd at http://127.0.0.1:8787 in front of a demo origin at
//! http://127.0.0.1:8788, with local KV and Durable Objects persisted in `.keygate-dev/`.
//! The demo organization and key are made through the management API, as an admin would.
//! Ctrl-C stops everything.

use std::path::Path;
use std::time::Duration;

use support::{Admin, Gateway, GatewayOptions, Origin, project_dir, send};

const GATEWAY_PORT: u16 = 8787;
const ORIGIN_PORT: u16 = 8788;

fn main() {
    let dir = project_dir().join(".keygate-dev");
    std::fs::create_dir_all(&dir).expect("create .keygate-dev");
    let token = admin_token(&project_dir().join(".dev.vars"));

    let origin = Origin::start_on(ORIGIN_PORT).unwrap_or_else(|e| {
        eprintln!("keygate dev: cannot listen on 127.0.0.1:{ORIGIN_PORT} ({e}); is `make dev` already running?");
        std::process::exit(1);
    });
    let mut gateway = Gateway::start(
        GatewayOptions::new(origin.url())
            .var("ADMIN_TOKEN", token.clone())
            .state_dir(dir.join("state"))
            .port(GATEWAY_PORT)
            .show_output(),
    );

    let key_file = dir.join("demo-key");
    let key = saved_key(&gateway, &key_file).unwrap_or_else(|| {
        let admin = Admin::bearer(&gateway, &token);
        admin.put_org("demo", r#"{"plan":"pro"}"#);
        let (key, _) = admin.create_key(
            "demo",
            r#"{"name":"Demo key","scopes":["read","write"],"meta":{"source":"make dev"}}"#,
        );
        std::fs::write(&key_file, &key).expect("write demo key");
        key
    });
    print_banner(&key, &token, &gateway);
    while gateway.running() {
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("keygate dev: wrangler stopped");
}

/// The `ADMIN_TOKEN` kept in `.dev.vars` (where `wrangler dev` run by hand finds it too),
/// created on first use. The file is made readable by its owner only. The token reaches
/// wrangler through a private file of its own (see `support::SECRET_VARS`), never a command
/// line.
fn admin_token(dev_vars: &Path) -> String {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let text = std::fs::read_to_string(dev_vars).unwrap_or_default();
    if dev_vars.exists() {
        let _ = std::fs::set_permissions(dev_vars, std::fs::Permissions::from_mode(0o600));
    }
    if let Some(token) = text.lines().find_map(|l| l.strip_prefix("ADMIN_TOKEN=")) {
        return token.trim().trim_matches(['"', '\'']).to_owned();
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("random admin token");
    let token = hex::encode(bytes);
    let line = format!(
        "{}ADMIN_TOKEN={token}\n",
        if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        }
    );
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(dev_vars)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .expect("write .dev.vars");
    token
}

/// The demo key of an earlier run, if it still gets through.
fn saved_key(gateway: &Gateway, file: &Path) -> Option<String> {
    let key = std::fs::read_to_string(file).ok()?.trim().to_owned();
    let auth = format!("Bearer {key}");
    (send(gateway, "GET", "/", &[("authorization", &auth)], None).status != 401).then_some(key)
}

fn print_banner(key: &str, token: &str, gateway: &Gateway) {
    let admin = gateway.url("/_keygate/v1");
    println!();
    println!("keygate is running on workerd at {}", gateway.url("/"));
    println!("  demo origin:  http://127.0.0.1:{ORIGIN_PORT}/");
    println!("  demo key:     {key}   (organization \"demo\")");
    println!("  admin token:  {token}   (from .dev.vars)");
    println!(
        "  console:      {}   (sign in with the admin token)",
        gateway.url("/_keygate/console/")
    );
    println!("  local state:  {}", gateway.state_dir.display());
    println!();
    println!("Try it:");
    println!(
        "  curl -H 'Authorization: Bearer {key}' {}",
        gateway.url("/hello?name=keygate")
    );
    println!(
        "  curl -i -H 'X-API-Key: kg_live_wrong' {}",
        gateway.url("/hello")
    );
    println!("  curl -H 'Authorization: Bearer {token}' {admin}/orgs/demo/keys");
    println!();
    println!("The keygate CLI (see the README's CLI section):");
    println!(
        "  export KEYGATE_URL={} KEYGATE_TOKEN={token}",
        gateway.url("/_keygate")
    );
    println!("  cargo run -q --bin keygate -- keys list demo");
    println!();
    println!("Ctrl-C stops keygate and the demo origin.");
}
