//! The request as the origin will read it, parsed once: the method, the canonical target and
//! the headers. Policy matching, forwarding and signing all use this one form, so a spelling
//! keygate reads one way cannot reach an origin that reads it another way.
//!
//! Here: the URL split, the request as a whole ([`Request`]), form bodies and the method
//! overrides they may carry; the [`method`](super::method), [`target`](super::target) and
//! [`headers`](super::headers) live beside it and are re-exported.

use crate::domain::error::GateError;
pub use crate::domain::http::headers::{Headers, header_name, preflight_origin};
pub use crate::domain::http::method::{FORWARDED_METHODS, Method};
pub use crate::domain::http::target::{MatrixParams, Target, param_name};

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
}
