//! `Incoming`: a request as the fetch entry read it, once.

use worker::worker_sys::web_sys;

use super::fetch;
use crate::domain::http::request::Headers;

/// A request as the fetch entry read it: the runtime's object, with the method as sent, the
/// URL and the headers copied out once, in one call (each read of the runtime's object crosses
/// the wasm boundary).
pub struct Incoming {
    pub raw: web_sys::Request,
    /// As sent: the runtime's typed method turns one it does not know (PROPFIND) into GET.
    pub method: String,
    pub url: String,
    pub headers: Headers,
}

impl Incoming {
    /// Reads the method, the URL and the headers.
    pub fn read(raw: web_sys::Request) -> Incoming {
        let text = fetch::read(&raw);
        let mut lines = text.split('\n');
        let method = lines.next().unwrap_or_default().to_owned();
        let url = lines.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
            headers.push((name.to_owned(), value.to_owned()));
        }
        Incoming {
            raw,
            method,
            url,
            headers: Headers::new(headers),
        }
    }
}
