//! The request as the origin will read it, parsed once: the method, the canonical target and
//! the headers. Policy matching, forwarding and signing all use this one form, so a spelling
//! keygate reads one way cannot reach an origin that reads it another way.
//!
//! Canonical path (after the runtime's URL parser, which has already resolved `.`/`..` and
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

/// The raw path and query of an absolute URL as the runtime serialized it (WHATWG): the path
/// starts at the first `/` after the authority, the query after the first `?`, and a fragment is
/// never sent. Read from the string, not parsed again.
pub fn split_url(url: &str) -> (&str, Option<&str>) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = url[after_scheme..]
        .find('/')
        .map_or("/", |i| &url[after_scheme + i..]);
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

/// The methods keygate forwards. Any other (PROPFIND, PURGE, a lower-case `patch`…) is a 405:
/// the runtime would silently turn it into a GET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
}

/// The `Allow` header of a 405 from the gateway.
pub const FORWARDED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

impl Method {
    const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];

    /// The method exactly as sent (methods are case-sensitive, RFC 9110 §9.1).
    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

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

/// Whether keygate reads the body whole before deciding: a body of any method but GET and
/// HEAD whose content type names a form (`application/x-www-form-urlencoded`, any
/// `multipart/…`, however spelled or repeated), or that has no content type (Rack reads such a
/// POST as a form). Origins take `_method` and ids from such bodies.
pub fn reads_form(method: Method, content_type: Option<&str>) -> bool {
    !matches!(method, Method::Get | Method::Head)
        && content_type.is_none_or(|t| {
            let t = t.to_ascii_lowercase();
            t.contains("form") || t.contains("multipart")
        })
}

/// The field names of a form body, read both ways origins might ([`param_name`]): as
/// urlencoded pairs and as multipart parts (`name="…"`, `name='…'` or `name=…`). Reading a
/// name that is not there only makes keygate stricter.
pub fn form_names(body: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = url::form_urlencoded::parse(body)
        .map(|(k, _)| param_name(&k))
        .collect();
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    for (at, _) in lower.match_indices("name") {
        let rest = text[at + 4..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
            _ => rest.split([';', '\r', '\n', ' ']).next().unwrap_or(""),
        };
        names.push(param_name(value));
    }
    names
}

/// The override headers and parameter, if the request carries one naming another method than
/// its own (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override` in any spelling,
/// `_method` in the query), or any `_method` field in a form body keygate read. keygate refuses
/// them: a key allowed to POST must not make Rails, Laravel or Express DELETE.
pub fn method_override(request: &Request<'_>) -> Result<(), GateError> {
    const HEADERS: [&str; 3] = [
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    ];
    let other = |value: &str| {
        value
            .split(',')
            .any(|v| !v.trim().eq_ignore_ascii_case(request.method.as_str()))
    };
    let in_headers = request
        .headers
        .iter()
        .any(|(n, v)| HEADERS.contains(&header_name(n).as_str()) && other(v));
    let in_query = request
        .target
        .unique_param("_method", None)?
        .is_some_and(|v| other(&v));
    let in_form = request
        .form
        .is_some_and(|names| names.iter().any(|n| n == "_method"));
    if in_headers || in_query || in_form {
        Err(GateError::MethodOverride)
    } else {
        Ok(())
    }
}

/// One request as keygate read it: what the policy matches, the override check reads and the
/// proxy forwards.
pub struct Request<'r> {
    /// The method as sent.
    pub method: Method,
    /// The canonical target.
    pub target: &'r Target,
    /// The headers.
    pub headers: &'r Headers,
    /// The field names of the body ([`form_names`]), when keygate read it whole
    /// ([`reads_form`]); `None` when it streams. Read once, for the override and id checks.
    pub form: Option<&'r [String]>,
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

/// A canonical segment, percent-decoded.
fn decode(segment: &str) -> Cow<'_, str> {
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

    #[test]
    fn split_url_reads_the_raw_path_and_query() {
        let cases = [
            ("http://127.0.0.1:8787/a/b?x=1&y", "/a/b", Some("x=1&y")),
            ("https://api.example.com/", "/", None),
            ("https://api.example.com", "/", None),
            ("https://h/a%2Fb?", "/a%2Fb", Some("")),
            ("https://h/a?b?c", "/a", Some("b?c")),
            ("https://h/a#frag", "/a", None),
            ("https://user@h:1/p/?q=%2F", "/p/", Some("q=%2F")),
        ];
        for (url, path, query) in cases {
            assert_eq!(split_url(url), (path, query), "{url}");
        }
    }

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

    #[test]
    fn a_query_id_must_be_named_once() {
        let t = |q: &str| Target::parse("/a", Some(q), MatrixParams::Refuse).unwrap();
        let value = |q: &str| t(q).unique_param("siteId", None).map_err(|e| e.code());
        assert_eq!(value("siteId=site_a&x=1"), Ok(Some("site_a".into())));
        assert_eq!(value("x=1"), Ok(None));
        assert_eq!(value("site%49d=site_a"), Ok(Some("site_a".into())));
        assert_eq!(value("siteId=a+b%21"), Ok(Some("a b!".into())));
        assert_eq!(value("[siteId]=site_b"), Ok(Some("site_b".into())));
        for q in [
            "siteId=site_a&siteId=site_b",
            "siteId=site_a&SITEID=site_b",
            "siteId=site_a&siteId[]=site_b",
            "siteId=site_a;siteId=site_b",
            "siteId=site_a&x=1;siteId=site_b",
            "siteId=site_a;x",
            "siteId=site_a&+siteId=site_b",
            "siteId=site_a&siteId%00=site_b",
            "siteId=site_a&[siteId]=site_b",
            "siteId=site_a&%5BsiteId%5D=site_b",
        ] {
            assert_eq!(value(q), Err("ambiguous_request"), "{q}");
        }
        // The id also in a form body (PHP's $_REQUEST prefers it) is refused too.
        let names = |body: &[u8]| form_names(body);
        let form = t("siteId=site_a").unique_param("siteId", Some(&names(b"siteId=site_b")));
        assert_eq!(form.map_err(|e| e.code()), Err("ambiguous_request"));
        let other = t("siteId=site_a").unique_param("siteId", Some(&names(b"note=x")));
        assert_eq!(other.ok().flatten().as_deref(), Some("site_a"));
        // A ';' elsewhere is harmless when no rule reads the query.
        assert_eq!(t("a;b").query(), Some("a;b"));
    }

    #[test]
    fn names_read_as_lenient_origins_read_them() {
        assert_eq!(header_name("X.Keygate.Org"), "x-keygate-org");
        assert_eq!(header_name("X_Keygate~Org"), "x-keygate-org");
        for (raw, read) in [
            ("siteId", "siteid"),
            (" siteId", "siteid"),
            ("siteId\0x", "siteid"),
            ("[siteId]", "siteid"),
            ("siteId[x]", "siteid"),
            (".method", "_method"),
            ("_METHOD", "_method"),
        ] {
            assert_eq!(param_name(raw), read, "{raw:?}");
        }
        let multipart = b"--b\r\nContent-Disposition: form-data; name = '_method'\r\n\r\nX\r\n--b\r\nContent-Disposition: form-data; name=note\r\n\r\nhi\r\n--b--";
        let names = form_names(multipart);
        assert!(names.contains(&"_method".to_owned()), "{names:?}");
        assert!(names.contains(&"note".to_owned()), "{names:?}");
        assert!(form_names(b"a=1&+_method=DELETE").contains(&"_method".to_owned()));
        assert!(reads_form(Method::Post, None));
        assert!(reads_form(
            Method::Post,
            Some("application/x-www-form-urlencoded, text/plain")
        ));
        assert!(reads_form(
            Method::Put,
            Some("Multipart/Related; boundary=x")
        ));
        assert!(!reads_form(Method::Post, Some("application/json")));
        assert!(!reads_form(Method::Get, None));
    }

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

    #[test]
    fn method_overrides_are_refused_unless_they_agree() {
        let refused =
            |method, headers: &[(&str, &str)], query: Option<&str>, form: Option<&[u8]>| {
                let target = Target::parse("/a", query, MatrixParams::Refuse).unwrap();
                let headers = Headers::new(
                    headers
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                );
                let fields = form.map(form_names);
                let request = Request {
                    method,
                    target: &target,
                    headers: &headers,
                    form: fields.as_deref(),
                };
                method_override(&request).map_err(|e| (e.status(), e.code()))
            };
        let no = Err((400, "method_override_refused"));
        assert_eq!(refused(Method::Post, &[], None, None), Ok(()));
        for header in [
            [("x-http-method-override", "DELETE")],
            [("x-method-override", "delete")],
            [("x-http-method", "PUT")],
            [("x_http_method_override", "DELETE")],
            [("x.http.method.override", "DELETE")],
            [("x-http-method-override", "POST, DELETE")],
        ] {
            assert_eq!(refused(Method::Post, &header, None, None), no, "{header:?}");
        }
        // Every header counts, not the first one found.
        let two = [
            ("x-http-method", "POST"),
            ("x-http-method-override", "DELETE"),
        ];
        assert_eq!(refused(Method::Post, &two, None, None), no);
        // A header that agrees does not hide the query.
        let agree = [("x-http-method-override", "POST")];
        assert_eq!(
            refused(Method::Post, &agree, Some("_method=DELETE"), None),
            no
        );
        assert_eq!(refused(Method::Post, &agree, None, None), Ok(()));
        assert_eq!(
            refused(Method::Post, &[], Some("+_method=DELETE"), None),
            no
        );
        for body in [
            &b"qty=1&_method=DELETE"[..],
            b"_method%00=DELETE",
            b"[_method]=DELETE",
            b"--x\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--x--",
            b"--x\r\nContent-Disposition: form-data; name=\".method\"\r\n\r\nDELETE\r\n--x--",
        ] {
            assert_eq!(
                refused(Method::Post, &[], None, Some(body)),
                no,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            refused(Method::Post, &[], None, Some(b"qty=1&note=a")),
            Ok(())
        );
    }

    proptest::proptest! {
        /// Any path made of the pieces attacks use canonicalizes to a fixed point (forwarding it
        /// and reading it again changes nothing) with no way left to spell '/' or '..'.
        #[test]
        fn canonical_paths_are_fixed_points(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "/", "a", "A", "%2f", "%2F", "%2e", ".", "%25", "%5c", ";", "%3b", "%41",
                    "%c3%a9", "%ff", "%", "~", "%7e", "\\", "%00", "b", "..",
                ]),
                0..12,
            )
        ) {
            let path = format!("/{}", pieces.concat());
            if let Ok(t) = Target::parse(&path, None, MatrixParams::Refuse) {
                let again = Target::parse(t.path(), None, MatrixParams::Refuse);
                proptest::prop_assert_eq!(again.as_ref().ok(), Some(&t));
                let upper = t.path().to_ascii_uppercase();
                proptest::prop_assert!(!upper.contains("%2F") && !upper.contains("%5C"));
                proptest::prop_assert!(!t.path()[1..].split('/').any(|s| s == ".." || s == "."));
                proptest::prop_assert!(!t.path().contains("//"));
            }
        }
    }

    #[test]
    fn methods_are_exact() {
        assert_eq!(Method::parse("PATCH"), Some(Method::Patch));
        assert_eq!(Method::parse("patch"), None);
        assert_eq!(Method::parse("PROPFIND"), None);
        assert_eq!(Method::parse("GET").map(Method::as_str), Some("GET"));
    }
}
