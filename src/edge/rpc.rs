//! Calling the Durable Objects: a serde command as a POST body, nothing read from the path.

use serde::Serialize;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use super::respond::internal;
use crate::domain::GateError;

/// The stub of the object named `name` in the namespace bound as `binding`.
pub fn stub(env: &Env, binding: &str, name: &str) -> Result<Stub, GateError> {
    env.durable_object(binding)
        .and_then(|ns| ns.id_from_name(name)?.get_stub())
        .map_err(|e| GateError::Internal(format!("Durable Object {binding}/{name}: {e}")))
}

/// Sends `command`; `accept` is passed on so the object renders errors as the client asked.
pub async fn send<C: Serialize>(
    stub: &Stub,
    command: &C,
    accept: Option<&str>,
) -> Result<Response, GateError> {
    let body = serde_json::to_string(command).map_err(internal)?;
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(internal)?;
    if let Some(accept) = accept {
        headers.set("accept", accept).map_err(internal)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body)));
    let request = Request::new_with_init("https://keygate.internal/", &init).map_err(internal)?;
    stub.fetch_with_request(request).await.map_err(internal)
}

/// Sends `command` and reads the object's JSON answer as `R`. Any answer but 200 is an
/// error, like a failed transport: a caller never mistakes a refusal for success.
pub async fn ask<C: Serialize, R: serde::de::DeserializeOwned>(
    stub: &Stub,
    command: &C,
) -> Result<R, GateError> {
    let mut reply = send(stub, command, None).await?;
    let status = reply.status_code();
    let text = reply.text().await.map_err(internal)?;
    if status != 200 {
        return Err(GateError::Internal(format!(
            "Durable Object answered {status}: {text}"
        )));
    }
    serde_json::from_str(&text).map_err(|e| GateError::Internal(format!("unreadable answer: {e}")))
}

/// Reads a command sent with [`send`].
pub async fn receive<C: serde::de::DeserializeOwned>(req: &mut Request) -> Result<C, GateError> {
    let text = req.text().await.map_err(internal)?;
    serde_json::from_str(&text).map_err(|e| GateError::Internal(format!("bad command: {e}")))
}
