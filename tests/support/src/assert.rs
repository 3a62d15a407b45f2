//! Assertions that report instead of panicking, so a case fails with a message and the suite
//! goes on: a condition, an equality, a keygate refusal, a clean runtime log.

use libtest_mimic::Failed;
use serde_json::Value;

use crate::{Gateway, Reply};

/// A test assertion that reports `what` instead of panicking.
pub fn check(ok: bool, what: &str) -> Result<(), Failed> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// An equality assertion that reports both sides and `what`.
pub fn eq<T: PartialEq + std::fmt::Debug>(got: T, want: T, what: &str) -> Result<(), Failed> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}").into())
    }
}

/// The runtime's log holds no panic or uncaught error.
pub fn no_panic(gateway: &Gateway) -> Result<(), Failed> {
    let log = gateway.log();
    for marker in ["panicked", "RuntimeError", "Uncaught"] {
        check(
            !log.contains(marker),
            &format!("the log contains {marker:?}"),
        )?;
    }
    Ok(())
}

/// `reply` is a keygate refusal: `status`, the JSON `error` code `code`, a JSON content type
/// and a non-empty `message`, which it returns for the case to check further.
pub fn refusal(reply: &Reply, status: u16, code: &str) -> Result<String, Failed> {
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    if reply.status != status || body["error"] != code {
        return Err(format!(
            "want {status} {code}, got {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        )
        .into());
    }
    check(
        reply.header("content-type") == Some("application/json"),
        "content-type",
    )?;
    let message = body["message"].as_str().unwrap_or_default();
    check(!message.is_empty(), "message")?;
    Ok(message.to_owned())
}
