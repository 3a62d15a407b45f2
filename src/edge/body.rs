//! Reading a body whole, with a cap: a peer that sends more than the cap is stopped there,
//! whatever `Content-Length` said or did not say (a chunked body has none).

use futures_util::StreamExt;
use worker::ByteStream;

use super::respond::internal;
use crate::domain::GateError;

/// The bytes of `stream`, or `None` as soon as they pass `cap`.
pub async fn read_capped(mut stream: ByteStream, cap: usize) -> Result<Option<Vec<u8>>, GateError> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(internal)?;
        if out.len() + chunk.len() > cap {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}
