//! The admin console: which path under `<ADMIN_PREFIX>/console` serves which of its static
//! files, and the headers every one of them carries. The files themselves are built from
//! `console/` by `make build` and embedded by the edge; this module only names them.
//!
//! The pages need no credential: they hold no data. The console asks the management API for
//! everything with the credential the admin pastes, so the headers below are what keeps the
//! page itself from being turned against that credential: no script but its own (CSP), no
//! framing (clickjacking), no content sniffing, no referrer leaving the page.

use crate::domain::error::GateError;

/// One file of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleFile {
    /// `console/`: the page (`index.html`).
    Index,
    /// `console/app.js`: the bundled script.
    Script,
    /// `console/app.css`: the style sheet.
    Style,
    /// `console/favicon.svg`: the icon (without one the browser asks the gateway for
    /// `/favicon.ico`, and gets a 401).
    Icon,
}

/// What a path under `console` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleRoute {
    /// `…/console` without the slash: to `…/console/`, so the page's relative links resolve.
    Redirect,
    /// A file.
    File(ConsoleFile),
}

/// The Content-Security-Policy of every console answer: only the console's own script, style
/// and API calls; no inline script or style, no plug-ins, no framing, no form posts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Headers of every console answer, the redirect included.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

impl ConsoleRoute {
    /// Resolves `method` and `rest`, the segments after `console` (none for `…/console`).
    /// Anything but GET or HEAD is a 405; an unknown file a 404.
    pub fn resolve(method: &str, rest: &[&str]) -> Result<ConsoleRoute, GateError> {
        let route = match rest {
            [] => ConsoleRoute::Redirect,
            [""] => ConsoleRoute::File(ConsoleFile::Index),
            ["app.js"] => ConsoleRoute::File(ConsoleFile::Script),
            ["app.css"] => ConsoleRoute::File(ConsoleFile::Style),
            ["favicon.svg"] => ConsoleRoute::File(ConsoleFile::Icon),
            _ => return Err(GateError::NotFound),
        };
        match method {
            "GET" | "HEAD" => Ok(route),
            _ => Err(GateError::MethodNotAllowed("GET, HEAD")),
        }
    }
}

impl ConsoleFile {
    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            ConsoleFile::Index => "text/html; charset=utf-8",
            ConsoleFile::Script => "text/javascript; charset=utf-8",
            ConsoleFile::Style => "text/css; charset=utf-8",
            ConsoleFile::Icon => "image/svg+xml",
        }
    }

    /// Its `Cache-Control`. The page is asked again on every visit, so a deployment shows at
    /// once; it names the script and style with `?v=<hash of their content>`, so those may be
    /// kept for a year: a new build is a new URL. The icon's URL has no version: a day.
    pub fn cache_control(self) -> &'static str {
        match self {
            ConsoleFile::Index => "no-cache",
            ConsoleFile::Script | ConsoleFile::Style => "public, max-age=31536000, immutable",
            ConsoleFile::Icon => "public, max-age=86400",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(method: &str, rest: &[&str]) -> Result<ConsoleRoute, &'static str> {
        ConsoleRoute::resolve(method, rest).map_err(|e| e.code())
    }

    #[test]
    fn paths_name_files_and_the_bare_folder_redirects() {
        assert_eq!(resolve("GET", &[]), Ok(ConsoleRoute::Redirect));
        assert_eq!(
            resolve("GET", &[""]),
            Ok(ConsoleRoute::File(ConsoleFile::Index))
        );
        assert_eq!(
            resolve("HEAD", &["app.js"]),
            Ok(ConsoleRoute::File(ConsoleFile::Script))
        );
        assert_eq!(
            resolve("GET", &["app.css"]),
            Ok(ConsoleRoute::File(ConsoleFile::Style))
        );
        assert_eq!(
            resolve("GET", &["favicon.svg"]),
            Ok(ConsoleRoute::File(ConsoleFile::Icon))
        );
    }

    #[test]
    fn other_files_and_methods_are_refused() {
        for rest in [
            &["index.html"][..],
            &["app.js", ""],
            &["..", "openapi.json"],
            &["orgs", "acme"],
        ] {
            assert_eq!(resolve("GET", rest), Err("not_found"), "{rest:?}");
        }
        assert_eq!(resolve("POST", &[""]), Err("method_not_allowed"));
        assert_eq!(resolve("PUT", &[]), Err("method_not_allowed"));
    }

    #[test]
    fn the_page_is_revalidated_and_versioned_assets_are_kept() {
        assert_eq!(ConsoleFile::Index.cache_control(), "no-cache");
        for file in [ConsoleFile::Script, ConsoleFile::Style] {
            assert!(file.cache_control().contains("immutable"), "{file:?}");
        }
        assert!(!ConsoleFile::Icon.cache_control().contains("immutable"));
        assert!(ConsoleFile::Index.content_type().starts_with("text/html"));
    }

    #[test]
    fn the_policy_allows_nothing_inline_and_no_framing() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert!(SECURITY_HEADERS.contains(&("x-frame-options", "DENY")));
    }
}
