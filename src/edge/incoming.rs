//! `Incoming`: a request as the fetch entry read it, once.

use worker::worker_sys::web_sys;

use crate::domain::http::request::Headers;

/// A request as the fetch entry read it: the runtime's object, with the method as sent and the
/// headers copied out once (each read of the runtime's object crosses the wasm boundary).
pub struct Incoming {
    pub raw: web_sys::Request,
    /// As sent: the runtime's typed method turns one it does not know (PROPFIND) into GET.
    pub method: String,
    pub headers: Headers,
}

impl Incoming {
    /// Reads the method and copies the headers, inside the runtime, once.
    pub fn read(raw: web_sys::Request) -> Incoming {
        Incoming {
            method: raw.method(),
            headers: Headers::new(worker::Headers(raw.headers()).entries().collect()),
            raw,
        }
    }
}
