//! A management-API client for tests. Every response it receives is checked against the
//! OpenAPI document the worker serves, so the document cannot drift from the API.

use serde_json::Value;

use crate::openapi::conforms;
use crate::{ADMIN_TOKEN, Gateway, Reply, send};

/// Talks to `/_keygate/v1` with one credential header.
pub struct Admin<'a> {
    gateway: &'a Gateway,
    credential: (&'static str, String),
    spec: Value,
}

impl<'a> Admin<'a> {
    /// With `Authorization: Bearer <token>` (the admin token or an API key).
    pub fn bearer(gateway: &'a Gateway, token: &str) -> Admin<'a> {
        Self::with(gateway, ("authorization", format!("Bearer {token}")))
    }

    /// As the operator: `Authorization: Bearer` [`ADMIN_TOKEN`].
    pub fn operator(gateway: &'a Gateway) -> Admin<'a> {
        Self::bearer(gateway, ADMIN_TOKEN)
    }

    /// With any credential header, e.g. `("x-api-key", key)`.
    pub fn with(gateway: &'a Gateway, credential: (&'static str, String)) -> Admin<'a> {
        let spec = send(gateway, "GET", "/_keygate/v1/openapi.json", &[], None).json();
        Admin {
            gateway,
            credential,
            spec,
        }
    }

    /// Sends a request to `/_keygate/v1{path}` and checks the response against the document.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        self.call_with(method, path, body, &[])
    }

    /// As [`Admin::call`], with extra headers.
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut all: Vec<(&str, &str)> = vec![(self.credential.0, self.credential.1.as_str())];
        all.extend_from_slice(headers);
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        let reply = send(
            self.gateway,
            method,
            &format!("/_keygate/v1{path}"),
            &all,
            body.map(str::as_bytes),
        );
        if reply.header("content-type") == Some("application/json")
            && let Err(e) = conforms(&self.spec, method, path, reply.status, &reply.json())
        {
            panic!(
                "{method} {path} → {} does not match openapi.json: {e}\n{}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        reply
    }

    /// Creates or updates an organization; panics unless it succeeds.
    pub fn put_org(&self, org: &str, body: &str) -> Value {
        let r = self.call("PUT", &format!("/orgs/{org}"), Some(body));
        assert!(
            matches!(r.status, 200 | 201),
            "PUT org {org}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    /// Creates a key; returns `(full key, key id)`. Panics unless it succeeds.
    pub fn create_key(&self, org: &str, body: &str) -> (String, String) {
        let r = self.call("POST", &format!("/orgs/{org}/keys"), Some(body));
        assert_eq!(
            r.status,
            201,
            "create key: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        (
            v["key"].as_str().unwrap().to_owned(),
            v["id"].as_str().unwrap().to_owned(),
        )
    }
}
