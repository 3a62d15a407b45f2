//! `keygate`: the command-line tool for admins and scripts. Each command is one call to the
//! management API (`--all` follows the pages of a list); the answer is printed for a person,
//! or unchanged with `--json`. Configured by `KEYGATE_URL` and `KEYGATE_TOKEN` (or `--url`
//! and `--token`); exit codes in [`failure`].
//!
//! - [`cli`]: the flags (clap), [`values`]: their values, parsed into keygate's own types;
//! - [`call`]: a command → the API call, [`client`]: the HTTP exchange;
//! - [`render`]: tables and relative times, [`failure`]: errors and exit codes.
//!
//! Only this file reads the clock and the terminal.

mod call;
mod cli;
mod client;
mod failure;
mod render;
mod values;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use keygate::domain::{OrgId, UnixMillis};

use crate::call::Call;
use crate::cli::{Cli, Command, KeysCommand};
use crate::client::Api;
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (Some(url), Some(token)) = (cli.url.clone(), cli.token.clone()) else {
        usage_error("set KEYGATE_URL and KEYGATE_TOKEN (or pass --url and --token)");
    };
    if !token.is_valid() {
        // Never quoted: the message must not echo the credential.
        usage_error("the token is empty or holds spaces or control characters");
    }
    let stdin = std::io::stdin();
    let at_terminal = stdin.is_terminal();
    let result = confirm(
        &cli.command,
        &mut stdin.lock(),
        &mut std::io::stderr(),
        at_terminal,
    )
    .and_then(|()| run(&Api::new(url, token), &cli));
    let printed = match result {
        Ok(printed) => printed,
        Err(failure) => {
            eprintln!("{failure}");
            return ExitCode::from(failure.exit_code());
        }
    };
    // A closed pipe (`keygate keys list acme | head -1`) is not worth a panic.
    let _ = std::io::stdout().write_all(printed.stdout.as_bytes());
    let _ = std::io::stderr().write_all(printed.stderr.as_bytes());
    ExitCode::SUCCESS
}

/// clap's usage error (exit 2), for what clap cannot check itself.
fn usage_error(message: &str) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::MissingRequiredArgument, message)
        .exit()
}

/// The clock: the only place the CLI reads it.
fn now() -> UnixMillis {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    UnixMillis(since_epoch.map_or(0, |d| d.as_millis() as u64))
}

/// Makes the command's call (every page with `--all`) and prints the answer.
fn run(api: &Api, cli: &Cli) -> Result<render::Printed, Failure> {
    let mut call = Call::of(&cli.command, now());
    let mut body = api.send(&call)?;
    if let (true, Some(items)) = (call.follow, call.answer.items()) {
        let mut all = page(&body)?;
        let mut seen = std::collections::HashSet::new();
        while let Some(cursor) = all.next_cursor.take() {
            // A cursor must move on; one seen before would loop forever.
            if !seen.insert(cursor.clone()) {
                return Err(Failure::Other(format!(
                    "keygate answered the next_cursor {cursor:?} twice; stopped"
                )));
            }
            call.set_cursor(cursor);
            let next = page(&api.send(&call)?)?;
            all.append(items, next)?;
        }
        body = serde_json::to_vec(&all.value).map_err(|e| Failure::Other(e.to_string()))?;
    }
    if cli.json {
        let mut stdout = String::from_utf8_lossy(&body).into_owned();
        if !stdout.ends_with('\n') {
            stdout.push('\n');
        }
        return Ok(render::Printed {
            stdout,
            stderr: String::new(),
        });
    }
    // Relative times count from when the answer came: a key created for 30 days expires
    // "in 29 days" (and some hours), as it does.
    render::print(call.answer, &body, now()).map_err(Failure::Other)
}

/// A list answer being gathered by `--all`: the first page's JSON, later pages' items appended
/// to its array, `next_cursor` null at the end (the API's shape, so `--json` stays it).
struct Gathered {
    value: serde_json::Value,
    next_cursor: Option<String>,
}

fn page(body: &[u8]) -> Result<Gathered, Failure> {
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Failure::Other(format!("keygate's answer is not JSON ({e})")))?;
    let next_cursor = value
        .get_mut("next_cursor")
        .map(serde_json::Value::take)
        .and_then(|c| c.as_str().map(str::to_owned));
    Ok(Gathered { value, next_cursor })
}

impl Gathered {
    fn append(&mut self, items: &str, mut next: Gathered) -> Result<(), Failure> {
        let more = next.value.get_mut(items).map(serde_json::Value::take);
        match (self.value.get_mut(items), more) {
            (Some(serde_json::Value::Array(have)), Some(serde_json::Value::Array(more))) => {
                have.extend(more);
                self.next_cursor = next.next_cursor;
                Ok(())
            }
            _ => Err(Failure::Other(format!(
                "a page of keygate's answer has no {items:?} list"
            ))),
        }
    }
}

/// `keys revoke-all` without `--yes`: the organization's id must be typed (prompt on stderr,
/// the answer read from stdin, which a terminal echoes); anything else revokes nothing.
fn confirm(
    command: &Command,
    input: &mut impl BufRead,
    prompt: &mut impl Write,
    typed_at_terminal: bool,
) -> Result<(), Failure> {
    let Command::Keys(KeysCommand::RevokeAll { org, yes: false }) = command else {
        return Ok(());
    };
    let typed = ask(org, input, prompt, typed_at_terminal).unwrap_or_default();
    if typed.trim() == org.as_str() {
        Ok(())
    } else {
        Err(Failure::Other(format!(
            "aborted: {:?} is not {org}; nothing was revoked",
            typed.trim()
        )))
    }
}

fn ask(
    org: &OrgId,
    input: &mut impl BufRead,
    prompt: &mut impl Write,
    typed_at_terminal: bool,
) -> std::io::Result<String> {
    write!(
        prompt,
        "This revokes every key of organization {org}, permanently.\nType the organization's id ({org}) to confirm: "
    )?;
    prompt.flush()?;
    let mut line = String::new();
    input.read_line(&mut line)?;
    // Piped input is not echoed: end the prompt's line before anything else is printed.
    if !typed_at_terminal {
        writeln!(prompt)?;
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revoke_all(yes: bool) -> Command {
        let line = if yes {
            "keys revoke-all acme --yes"
        } else {
            "keys revoke-all acme"
        };
        crate::cli::parse_line(line).unwrap().command
    }

    #[test]
    fn revoke_all_needs_the_organization_typed() {
        let mut prompt = Vec::new();
        assert!(confirm(&revoke_all(false), &mut &b"acme\n"[..], &mut prompt, true).is_ok());
        let prompt = String::from_utf8(prompt).unwrap();
        assert!(
            prompt.contains("Type the organization's id (acme)"),
            "{prompt}"
        );
        for typed in [&b"acm\n"[..], b"ACME\n", b"", b"yes\n"] {
            let err =
                confirm(&revoke_all(false), &mut &typed[..], &mut Vec::new(), false).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            assert!(err.to_string().contains("nothing was revoked"), "{err}");
        }
        let mut prompt = Vec::new();
        assert!(confirm(&revoke_all(true), &mut &b""[..], &mut prompt, false).is_ok());
        assert!(prompt.is_empty(), "--yes asks nothing");
    }

    #[test]
    fn all_pages_become_one_answer_of_the_same_shape() {
        let mut all = page(br#"{"keys":[{"id":"a"}],"next_cursor":"1"}"#).unwrap();
        assert_eq!(all.next_cursor.as_deref(), Some("1"));
        all.append(
            "keys",
            page(br#"{"keys":[{"id":"b"}],"next_cursor":null}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(all.next_cursor, None);
        assert_eq!(
            all.value,
            serde_json::json!({"keys": [{"id": "a"}, {"id": "b"}], "next_cursor": null})
        );
        assert!(
            all.append("keys", page(br#"{"orgs":[]}"#).unwrap())
                .is_err()
        );
    }
}
