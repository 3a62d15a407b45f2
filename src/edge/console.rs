//! The admin console's files, embedded in the worker. `make build` bundles `console/` into
//! `build/console/` before the Rust build (these `include_bytes!` need the files); which path
//! is which file, and the headers, are the domain's (`domain::manage::console`).

use worker::Response;

use super::respond;
use crate::domain::config::AdminPrefix;
use crate::domain::manage::console::{ConsoleFile, ConsoleRoute, SECURITY_HEADERS};

macro_rules! built {
    ($file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/build/console/",
            $file
        ))
    };
}

/// The answer to a console route: a file, or the redirect to the folder.
pub fn serve(route: ConsoleRoute, prefix: &AdminPrefix) -> Response {
    let mut headers: Vec<(&str, String)> = SECURITY_HEADERS
        .iter()
        .map(|&(name, value)| (name, value.to_owned()))
        .collect();
    let file = match route {
        ConsoleRoute::Redirect => {
            headers.push(("location", format!("{}/console/", prefix.as_str())));
            return respond::empty(308, &headers);
        }
        ConsoleRoute::File(file) => file,
    };
    headers.push(("content-type", file.content_type().to_owned()));
    headers.push(("cache-control", file.cache_control().to_owned()));
    respond::bytes(200, &headers, contents(file))
}

/// Every answer for a path under the console's, refusals included (a 404, a 405, a 400 for a
/// path keygate will not read), carries the console's security headers.
pub fn with_security_headers(response: Response, raw_path: &str, prefix: &AdminPrefix) -> Response {
    // Every request passes here: a prefix test, no allocation.
    let under_console = raw_path
        .strip_prefix(prefix.as_str())
        .is_some_and(|rest| rest.starts_with("/console"));
    if !under_console {
        return response;
    }
    let headers = response.headers();
    for (name, value) in SECURITY_HEADERS {
        let _ = headers.set(name, value);
    }
    response
}

fn contents(file: ConsoleFile) -> &'static [u8] {
    match file {
        ConsoleFile::Index => built!("index.html"),
        ConsoleFile::Script => built!("app.js"),
        ConsoleFile::Style => built!("app.css"),
        ConsoleFile::Icon => built!("favicon.svg"),
    }
}
