//! The canonical target: the path as the origin will read it, and the query's parameters.
//!
//! The canonical path (after the runtime's URL parser, which has already resolved `.`/`..` and
//! turned `\` into `/`):
//! - percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, other escapes
//!   keep their byte with upper-case hex (`%73tats` → `stats`, `%c3%a9` → `%C3%A9`);
//! - refused with 400 `ambiguous_request`: an encoded `/` or `\` (`%2F`, `%5C`), an encoded
//!   `%` that forms another escape (`%252F`), control bytes (raw or encoded), an escape that
//!   does not decode to UTF-8, empty segments (`//a`, `/a//b`), `.` and `..` segments left
//!   after decoding, and `;` parameters (`/a;x=1/b`) unless the policy opts in;
//! - a trailing `/` is kept: whether it matters is the policy's choice.
//!
//! Example: `/api/sites/site_xyz789/%73tats` is `/api/sites/site_xyz789/stats`, matched,
//! forwarded and signed as that; `/api/employees%2F1` is a 400.

use std::borrow::Cow;

use crate::domain::error::GateError;

/// Whether a path may carry `;` parameters (the policy's `matrix_params`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MatrixParams {
    /// `;` in a path is a 400 (the default): Tomcat and others strip what follows it, so a
    /// segment `employees;x` would be matched as one thing and served as another.
    #[default]
    Refuse,
    /// `;` parameters are kept and forwarded; rules match each segment up to its first `;`.
    Strip,
}

/// The canonical path and the query, as forwarded and signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    path: String,
    query: Option<String>,
}

impl Target {
    /// Canonicalizes `path` (the runtime's, still percent-encoded) and keeps `query` as sent.
    pub fn parse(
        path: &str,
        query: Option<&str>,
        matrix: MatrixParams,
    ) -> Result<Target, GateError> {
        if !path.starts_with('/') {
            return Err(ambiguous("The path must start with '/'"));
        }
        let path = canonical_path(path)?;
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let last = segments.len() - 1;
        for (i, segment) in segments.iter().enumerate() {
            if segment.is_empty() && i != last {
                return Err(ambiguous("The path has an empty segment ('//')"));
            }
            if matches!(*segment, "." | "..") {
                return Err(ambiguous("The path has a '.' or '..' segment"));
            }
            // An encoded ';' is one too: a proxy in front of the origin may decode it.
            let has_params = segment.contains(';') || segment.contains("%3B");
            match matrix {
                MatrixParams::Refuse if has_params => {
                    return Err(ambiguous("The path has a ';' parameter"));
                }
                MatrixParams::Strip if has_params => {
                    let stripped = decode(segment);
                    let stripped = stripped.split(';').next().unwrap_or("");
                    if matches!(stripped, "" | "." | "..") {
                        return Err(ambiguous(
                            "The path has a segment that is empty, '.' or '..' without its ';' parameters",
                        ));
                    }
                }
                MatrixParams::Refuse | MatrixParams::Strip => {}
            }
        }
        if let Some(q) = query
            && q.bytes().any(|b| b.is_ascii_control())
        {
            return Err(ambiguous("The query has a control character"));
        }
        Ok(Target {
            path,
            query: query.map(str::to_owned),
        })
    }

    /// The canonical path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query as sent, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Path and query as sent to the origin: `/a/b?x=1`.
    pub fn path_and_query(&self) -> Cow<'_, str> {
        match &self.query {
            Some(q) => Cow::Owned(format!("{}?{q}", self.path)),
            None => Cow::Borrowed(&self.path),
        }
    }

    /// The segments of the path, each percent-decoded (the canonical form guarantees UTF-8
    /// and no `/` inside).
    pub fn segments(&self) -> Vec<Cow<'_, str>> {
        self.path.split('/').skip(1).map(decode).collect()
    }

    /// The one value of parameter `name`, as origins read it: query pairs split on `&` (and
    /// `;`, as older Rack does), names and values form-decoded, and names compared the way
    /// lenient frameworks read them ([`param_name`]). More than one value, or the name also in
    /// a form body (`form`: PHP's `$_REQUEST` and Laravel's `input()` prefer the body), is a 400:
    /// "first one wins" here and "last one wins" at the origin would check one id and serve
    /// another.
    pub fn unique_param(
        &self,
        name: &str,
        form: Option<&[String]>,
    ) -> Result<Option<String>, GateError> {
        let twice = || {
            GateError::AmbiguousRequest(format!(
                "The parameter {name} must appear once, in the query, in '&'-separated pairs"
            ))
        };
        let wanted = param_name(name);
        if form.is_some_and(|names| names.contains(&wanted)) {
            return Err(twice());
        }
        let Some(query) = &self.query else {
            return Ok(None);
        };
        let mut found = None;
        for pair in query.split(['&', ';']).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if param_name(&form_decode(k)) != wanted {
                continue;
            }
            if found.is_some() || query.contains(';') {
                return Err(twice());
            }
            found = Some(form_decode(v));
        }
        Ok(found)
    }
}

/// A parameter name as the most lenient frameworks read it: cut at a NUL, leading spaces and
/// `[` dropped, a `[...]` suffix dropped (`siteId[]`, `[siteId]`), `.` and space read as `_`
/// (PHP), ASCII case folded (ASP.NET).
pub fn param_name(name: &str) -> String {
    let name = name.split('\0').next().unwrap_or("");
    let name = name.trim_start_matches(|c: char| c.is_whitespace() || c == '[');
    let name = name.split('[').next().unwrap_or("");
    name.chars()
        .filter(|c| *c != ']')
        .map(|c| match c {
            '.' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn ambiguous(message: &str) -> GateError {
    GateError::AmbiguousRequest(message.to_owned())
}

fn canonical_path(raw: &str) -> Result<String, GateError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let byte = hex_pair(bytes.get(i + 1..i + 3)).ok_or_else(|| {
                ambiguous("The path has a '%' that is not followed by two hex digits")
            })?;
            match byte {
                b'/' | b'\\' => return Err(ambiguous("The path has an encoded '/' or '\\'")),
                c if c.is_ascii_control() => {
                    return Err(ambiguous("The path has an encoded control character"));
                }
                c if c.is_ascii_alphanumeric() || b"-._~".contains(&c) => out.push(c as char),
                c => out.push_str(&format!("%{c:02X}")),
            }
            i += 3;
            continue;
        }
        match b {
            b'\\' => return Err(ambiguous("The path has a '\\'")),
            c if c.is_ascii_control() => {
                return Err(ambiguous("The path has a control character"));
            }
            c if c.is_ascii() => out.push(c as char),
            // The runtime encodes non-ASCII; encode any it let through the same way.
            c => out.push_str(&format!("%{c:02X}")),
        }
        i += 1;
    }
    // An encoded '%' followed by two hex digits (even ones decoded just now, `%25%41%41`)
    // is a second layer of encoding that some origins and proxies decode again.
    if out
        .match_indices("%25")
        .any(|(at, _)| hex_pair(out.as_bytes().get(at + 3..at + 5)).is_some())
    {
        return Err(ambiguous("The path is percent-encoded twice"));
    }
    // Every escape left must decode to UTF-8, or origins would each guess a charset.
    for segment in out.split('/') {
        if segment.contains('%') && std::str::from_utf8(&percent_bytes(segment)).is_err() {
            return Err(ambiguous("The path has an escape that is not UTF-8"));
        }
    }
    Ok(out)
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let pair = std::str::from_utf8(pair?).ok()?;
    if pair.len() != 2 || !pair.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(pair, 16).ok()
}

fn percent_bytes(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex_pair(bytes.get(i + 1..i + 3))) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A canonical segment, percent-decoded (as rules read path parameters).
pub fn decode(segment: &str) -> Cow<'_, str> {
    if segment.contains('%') {
        Cow::Owned(String::from_utf8_lossy(&percent_bytes(segment)).into_owned())
    } else {
        Cow::Borrowed(segment)
    }
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map_or_else(String::new, |(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(path: &str) -> Result<String, String> {
        Target::parse(path, None, MatrixParams::Refuse)
            .map(|t| t.path().to_owned())
            .map_err(|e| e.public_message())
    }

    #[test]
    fn spellings_of_one_path_become_one() {
        assert_eq!(
            canon("/api/sites/site_xyz789/%73tats").unwrap(),
            "/api/sites/site_xyz789/stats"
        );
        assert_eq!(canon("/%61%70%69/%7e%2D%2e%5f").unwrap(), "/api/~-._");
        assert_eq!(canon("/caf%c3%a9").unwrap(), "/caf%C3%A9");
        assert_eq!(canon("/a%20b/%3a").unwrap(), "/a%20b/%3A");
        assert_eq!(canon("/").unwrap(), "/");
        assert_eq!(canon("/a/").unwrap(), "/a/");
        let t = Target::parse("/caf%C3%A9/a%20b", Some("x=1"), MatrixParams::Refuse).unwrap();
        assert_eq!(t.segments(), vec!["café", "a b"]);
        assert_eq!(t.path_and_query(), "/caf%C3%A9/a%20b?x=1");
    }

    #[test]
    fn what_cannot_be_made_unambiguous_is_refused() {
        for path in [
            "/api/employees%2F1",
            "/api/employees%2f..%2fpayroll",
            "/api%5Cpayroll",
            "/api\\payroll",
            "//api/employees",
            "/api//employees",
            "/api/%2e%2e/payroll",
            "/api/./x",
            "/api/%2E/x",
            "/api/sites;x=1/site_a/stats",
            "/api/employees;/1",
            "/api/employees%3B/1",
            "/api/employees/..%3B/payroll",
            "/a%00b",
            "/a%0a",
            "/a\tb",
            "/a%252Fb",
            "/a%25%41b",
            "/a%zz",
            "/a%4",
            "/a%ff",
            "api",
        ] {
            let got = canon(path);
            assert!(got.is_err(), "{path:?} was accepted as {got:?}");
        }
        // A literal percent that escapes nothing is fine.
        assert_eq!(canon("/100%25").unwrap(), "/100%25");
        let strip = Target::parse("/a;v=1/b", None, MatrixParams::Strip).unwrap();
        assert_eq!(strip.path(), "/a;v=1/b");
        for path in [
            "/api/employees/..;/payroll",
            "/;x/api",
            "/a/.;x/b",
            "/a/%2e%2e%3Bx/b",
        ] {
            assert!(
                Target::parse(path, None, MatrixParams::Strip).is_err(),
                "{path} under strip"
            );
        }
        let code = Target::parse("//x", None, MatrixParams::Refuse).unwrap_err();
        assert_eq!((code.status(), code.code()), (400, "ambiguous_request"));
    }
}
