//! The HTTP exchange: a [`Call`] sent to the management root with the bearer token, the answer
//! read whole. A 2xx is the answer; a 4xx/5xx is [`Failure::Refused`]; no answer at all is
//! [`Failure::Network`]. Redirects are not followed: the token must not travel to another
//! address, and keygate's management routes never redirect.

use std::time::Duration;

use ureq::Agent;
use url::Url;

use crate::call::Call;
use crate::cli::Token;
use crate::failure::Failure;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole exchange may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read (a page of 200 keys is well under 1 MiB).
const MAX_ANSWER_BYTES: u64 = 16 << 20;

/// The management API at one root, with one credential.
pub struct Api {
    root: Url,
    token: Token,
    agent: Agent,
}

impl Api {
    /// The API at `root` (e.g. `https://api.example.com/_keygate`).
    pub fn new(root: Url, token: Token) -> Api {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(TIMEOUT))
            .user_agent(concat!("keygate-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Api { root, token, agent }
    }

    /// Sends `call`; returns the body of its 2xx answer.
    pub fn send(&self, call: &Call) -> Result<Vec<u8>, Failure> {
        let url = endpoint(&self.root, call);
        let request = ureq::http::Request::builder()
            .method(call.method)
            .uri(url.as_str())
            .header("authorization", self.token.bearer())
            .header("accept", "application/json");
        let network = |e: ureq::Error| self.network(e);
        let sent = match &call.body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body.clone().into_bytes())
                .map(|r| self.agent.run(r)),
            None => request.body(()).map(|r| self.agent.run(r)),
        };
        // The builder refuses only what this file puts in it (a method, a parsed URL, a token
        // checked to be printable ASCII).
        let mut answer = sent
            .map_err(|e| Failure::Other(format!("cannot build the request: {e}")))?
            .map_err(network)?;
        let status = answer.status().as_u16();
        let body = answer
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(network)?;
        match status {
            200..=299 => Ok(body),
            300..=399 => {
                let to = answer
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?");
                Err(Failure::Other(format!(
                    "{} answered {status}, a redirect to {to}: check KEYGATE_URL (keygate's management API never redirects)",
                    shown(&self.root)
                )))
            }
            _ => Err(Failure::refused(status, &body)),
        }
    }

    fn network(&self, e: ureq::Error) -> Failure {
        if is_network(&e) {
            Failure::Network {
                target: shown(&self.root),
                reason: e.to_string(),
            }
        } else {
            Failure::Other(format!("talking to {}: {e}", shown(&self.root)))
        }
    }
}

/// The URL of `call` under `root`: `{root}/v1{path}?{query}`.
fn endpoint(root: &Url, call: &Call) -> Url {
    let mut url = root.clone();
    url.set_path(&format!(
        "{}/v1{}",
        root.path().trim_end_matches('/'),
        call.path
    ));
    if !call.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&call.query);
    }
    url
}

/// `root` as error lines show it: no user name or password.
fn shown(root: &Url) -> String {
    let mut url = root.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// Whether `e` means nothing answered (exit 4) rather than something else going wrong.
fn is_network(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::Tls(_)
            | ureq::Error::Rustls(_)
            | ureq::Error::TlsRequired
            | ureq::Error::ConnectProxyFailed(_)
            | ureq::Error::BodyStalled
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Answer;

    fn call(path: &str, query: Vec<(&'static str, String)>) -> Call {
        Call {
            method: "GET",
            path: path.into(),
            query,
            body: None,
            answer: Answer::Keys,
            follow: false,
        }
    }

    #[test]
    fn calls_go_under_the_roots_v1() {
        for root in [
            "https://api.example.com/_keygate",
            "https://api.example.com/_keygate/",
        ] {
            let url = endpoint(&Url::parse(root).unwrap(), &call("/orgs/acme/keys", vec![]));
            assert_eq!(
                url.as_str(),
                "https://api.example.com/_keygate/v1/orgs/acme/keys"
            );
        }
        let bare = Url::parse("http://127.0.0.1:8787").unwrap();
        let q = vec![
            ("q", "ci deploy & co".to_owned()),
            ("cursor", "a/b".to_owned()),
        ];
        assert_eq!(
            endpoint(&bare, &call("/orgs/acme/keys", q)).as_str(),
            "http://127.0.0.1:8787/v1/orgs/acme/keys?q=ci+deploy+%26+co&cursor=a%2Fb"
        );
    }

    #[test]
    fn errors_never_show_user_info() {
        let root = Url::parse("https://ops:hunter2@api.example.com/_keygate").unwrap();
        assert_eq!(shown(&root), "https://api.example.com/_keygate");
    }

    #[test]
    fn transport_failures_are_network_failures() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(is_network(&ureq::Error::Io(refused)));
        assert!(is_network(&ureq::Error::HostNotFound));
        assert!(is_network(&ureq::Error::ConnectionFailed));
        assert!(!is_network(&ureq::Error::BadUri("x".into())));
        assert!(!is_network(&ureq::Error::BodyExceedsLimit(1)));
    }

    #[test]
    fn nothing_listening_is_exit_4() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let root = Url::parse(&format!("http://127.0.0.1:{port}/_keygate")).unwrap();
        let api = Api::new(root, Token::from("t".to_owned()));
        let failure = api.send(&call("/orgs/acme/keys", vec![])).unwrap_err();
        assert_eq!(failure.exit_code(), 4, "{failure}");
        assert!(
            failure.to_string().contains(&format!("127.0.0.1:{port}")),
            "{failure}"
        );
    }
}
