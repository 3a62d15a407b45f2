//! Reading a body whole, but never more than a cap: the declared `Content-Length` cannot be
//! trusted to be there (a chunked body has none), so the stream itself is counted and reading
//! stops at the first chunk that would go past the cap.
//!
//! [`read_capped`] takes any [`ByteStream`](worker::ByteStream) (`Request::stream()`,
//! `Response::stream()`); whose fault a failed read is depends on the side (the client's for a
//! request, the origin's for a response), so it returns the runtime's error for the caller to
//! classify. [`request_body`] is the request side.

use futures_util::{Stream, StreamExt};
use worker::Request;

use crate::domain::GateError;

/// The whole of `stream`, or `None` as soon as it holds more than `cap` bytes. At most `cap`
/// bytes are ever kept; the rest of the stream is left unread (dropping it cancels it). A chunk
/// arrives whole from the runtime, so one chunk's size is the runtime's, not ours.
pub async fn read_capped<S>(mut stream: S, cap: usize) -> worker::Result<Option<Vec<u8>>>
where
    S: Stream<Item = worker::Result<Vec<u8>>> + Unpin,
{
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if chunk.len() > cap - out.len() {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// The request's body, or `None` when it is longer than `cap`: refused on its declared length
/// without reading, or while reading, whichever comes first. A request without a body reads
/// as empty. A body the client stops sending is a client fault (400).
pub async fn request_body(req: &mut Request, cap: usize) -> Result<Option<Vec<u8>>, GateError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Ok(None);
    }
    if req.inner().body().is_none() {
        return Ok(Some(Vec::new()));
    }
    let stream = req.stream().map_err(super::respond::internal)?;
    read_capped(stream, cap)
        .await
        .map_err(|_| GateError::InvalidRequest("Request body could not be read".into()))
}
