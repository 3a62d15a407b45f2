//! Secrets stay off command lines. `ADMIN_TOKEN` and `ORIGIN_SIGNING_SECRET` reach `wrangler dev`
//! through a `.dev.vars`-format file only this user can read, and the Miniflare runner through
//! its stdin: a command line is visible to every user of the machine (`ps`, /proc/<pid>/cmdline).
//! Several runtimes with different secrets in one test process each get their own.

use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;

use keygate::domain::forward::sign;
use libtest_mimic::Failed;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, check, command_lines, eq, run_cases, send,
};

/// Each runtime's admin token and signing secret, all different.
const SECRETS: [(&str, &str); 3] = [
    ("secrets-token-a-Yq8Jx2", "secrets-signing-a-Kd2Pw9"),
    ("secrets-token-b-7HnwQ4", "secrets-signing-b-Tz5Mr1"),
    ("secrets-token-m-Lp3Vd8", "secrets-signing-m-Wc6Nb5"),
];

struct World {
    origin: Origin,
    /// Two under `wrangler dev`, then one through Miniflare's API; in the order of `SECRETS`.
    gateways: Vec<Gateway>,
}

impl World {
    fn start() -> World {
        let origin = Origin::start();
        let options = |(token, signing): (&str, &str)| {
            GatewayOptions::new(origin.url())
                .var("ADMIN_TOKEN", token)
                .var("ORIGIN_SIGNING_SECRET", signing)
        };
        // Both wrangler runtimes boot at once, from this thread (it outlives them).
        let mut gateways: Vec<Gateway> = SECRETS[..2]
            .iter()
            .map(|s| Gateway::spawn(options(*s)))
            .collect();
        for gateway in &mut gateways {
            gateway.wait_ready();
        }
        gateways.push(Gateway::start_miniflare("keygate", options(SECRETS[2])));
        World { origin, gateways }
    }
}

const CASES: &[Case<World>] = &[
    ("no_secret_is_on_any_command_line", |w| {
        for (i, gateway) in w.gateways.iter().enumerate() {
            let lines = command_lines(gateway.pid());
            check(
                lines.iter().any(|(_, l)| l.contains("workerd")),
                &format!("runtime {i}: workerd is among the processes looked at: {lines:?}"),
            )?;
            for (pid, line) in &lines {
                for secret in SECRETS.iter().flat_map(|(a, b)| [a, b]) {
                    check(
                        !line.contains(secret),
                        &format!("runtime {i}: process {pid} has a secret on its command line"),
                    )?;
                }
            }
        }
        Ok(())
    }),
    ("each_runtime_has_its_own_admin_token", |w| {
        for (i, gateway) in w.gateways.iter().enumerate() {
            for (j, (token, _)) in SECRETS.iter().enumerate() {
                let status = Admin::bearer(gateway, token)
                    .call("GET", "/orgs/nobody", None)
                    .status;
                // 404 org_not_found: authenticated; 401: not this runtime's token.
                let want = if i == j { 404 } else { 401 };
                eq(status, want, &format!("runtime {i}, token {j}"))?;
            }
        }
        Ok(())
    }),
    ("each_runtime_signs_with_its_own_secret", |w| {
        for (i, gateway) in w.gateways.iter().enumerate() {
            let (token, signing) = SECRETS[i];
            let admin = Admin::bearer(gateway, token);
            admin.put_org("signed", r#"{"plan":"pro"}"#);
            let (key, id) = admin.create_key("signed", r#"{"name":"Signed","scopes":["read"]}"#);
            let path = format!("/api/signed-{i}");
            let r = send(
                gateway,
                "GET",
                &path,
                &[("authorization", &format!("Bearer {key}"))],
                None,
            );
            eq(r.status, 200, "forwarded")?;
            let seen = w.origin.only(&path);
            let timestamp = seen.header("x-keygate-timestamp").unwrap_or_default();
            let nonce = seen.header("x-keygate-request-id").unwrap_or_default();
            let lines = [
                "v3", "GET", &path, timestamp, nonce, &id, "signed", "read", "", "null", "", "",
            ];
            let message = lines.join("\n");
            eq(
                seen.header("x-keygate-signature"),
                Some(sign(signing, &message).as_str()),
                &format!("runtime {i}'s signature"),
            )?;
        }
        Ok(())
    }),
    (
        "the_secrets_file_is_private_and_goes_with_the_runtime",
        |w| {
            for gateway in &w.gateways[..2] {
                let file = gateway
                    .state_dir
                    .join(format!("secrets-{}.env", gateway.port));
                let mode = std::fs::metadata(&file)
                    .map_err(|e| Failed::from(format!("{}: {e}", file.display())))?
                    .permissions()
                    .mode();
                eq(mode & 0o777, 0o600, "readable by its owner only")?;
            }
            // A runtime started and stopped here removes its file.
            let mut gateway = Gateway::start(
                GatewayOptions::new(w.origin.url()).var("ADMIN_TOKEN", "short-lived"),
            );
            let file = gateway
                .state_dir
                .join(format!("secrets-{}.env", gateway.port));
            check(file.exists(), "written while it runs")?;
            gateway.stop();
            drop(gateway);
            check(!file.exists(), "removed when it stops")
        },
    ),
];

fn main() -> ExitCode {
    run_cases(World::start(), CASES)
}
