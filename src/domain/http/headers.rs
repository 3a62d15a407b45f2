//! Request headers, read once: lookups, the one value a rule takes an id from, and the names
//! CGI-style stacks read.

use crate::domain::error::GateError;
use crate::domain::http::method::Method;

/// Request headers as the runtime gives them: lower-case names, repeated headers joined by
/// `, `. Collected once per request.
#[derive(Clone, Debug, Default)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Wraps the runtime's (lower-case name, value) pairs.
    pub fn new(entries: Vec<(String, String)>) -> Headers {
        Headers(entries)
    }

    /// The value of `name` (lower-case), as joined by the runtime.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every (name, value) pair.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The one value of header `name` that a rule takes an id from. Sent twice (joined with a
    /// comma by the runtime) or also under a spelling with `_` for `-` (which CGI-style stacks
    /// read as the same header) is a 400.
    pub fn unique(&self, name: &str) -> Result<Option<&str>, GateError> {
        let mut found = None;
        for (n, v) in self.iter() {
            if header_name(n) != header_name(name) {
                continue;
            }
            if found.is_some() || v.contains(',') {
                return Err(GateError::AmbiguousRequest(format!(
                    "The header {name} must appear once, with one value"
                )));
            }
            found = Some(v.trim());
        }
        Ok(found)
    }
}

/// The web origin of a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`), which browsers send without credentials.
pub fn preflight_origin(method: Method, headers: &Headers) -> Option<&str> {
    if method != Method::Options || headers.get("access-control-request-method").is_none() {
        return None;
    }
    headers.get("origin")
}

/// A header name as CGI-style stacks read it: PHP and others turn every character but letters
/// and digits into `_`, so `X_Keygate_Org` and `X.Keygate.Org` are `x-keygate-org`.
pub fn header_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_ids_must_be_single() {
        let h = |pairs: &[(&str, &str)]| {
            Headers::new(
                pairs
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let one = h(&[("x-team", "t1")]);
        assert_eq!(one.unique("x-team").unwrap(), Some("t1"));
        assert_eq!(h(&[]).unique("x-team").unwrap(), None);
        for twice in [
            h(&[("x-team", "t1, t2")]),
            h(&[("x-team", "t1"), ("x_team", "t2")]),
        ] {
            assert_eq!(
                twice.unique("x-team").unwrap_err().code(),
                "ambiguous_request"
            );
        }
    }
}
