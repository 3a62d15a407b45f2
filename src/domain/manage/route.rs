//! The management routes under `ADMIN_PREFIX`: method + path → [`Endpoint`], or the 404/405
//! that says why not.

use crate::domain::authz::resource::{ResourceRef, is_resource_type};
use crate::domain::error::GateError;
use crate::domain::http::target;
use crate::domain::key::record::{KeyId, OrgId};
use crate::domain::manage::console::ConsoleRoute;
use crate::domain::webhook::WebhookRoute;

/// One management operation, with the ids from its path.
#[derive(Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /health`: liveness, no auth.
    Health,
    /// `GET /v1/openapi.json`: the API description, no auth.
    OpenApi,
    /// `GET /console/…`: the admin console's static files, no auth (they hold no data).
    Console(ConsoleRoute),
    /// `GET /v1/orgs`: every organization (the admin token only).
    ListOrgs,
    /// `GET /v1/policy`: the deployment's route policy; any organization's admin may read it.
    Policy,
    /// `PUT /v1/orgs/{org}`.
    PutOrg(OrgId),
    /// `GET /v1/orgs/{org}`.
    GetOrg(OrgId),
    /// `POST /v1/orgs/{org}/keys`.
    CreateKey(OrgId),
    /// `GET /v1/orgs/{org}/keys`.
    ListKeys(OrgId),
    /// `GET /v1/orgs/{org}/keys/{id}`.
    GetKey(OrgId, KeyId),
    /// `PATCH /v1/orgs/{org}/keys/{id}`.
    UpdateKey(OrgId, KeyId),
    /// `DELETE /v1/orgs/{org}/keys/{id}`.
    RevokeKey(OrgId, KeyId),
    /// `POST /v1/orgs/{org}/keys/{id}/rotate`.
    RotateKey(OrgId, KeyId),
    /// `GET /v1/orgs/{org}/keys/{id}/usage`.
    KeyUsage(OrgId, KeyId),
    /// `POST /v1/orgs/{org}/keys/revoke-all`.
    RevokeAll(OrgId),
    /// `GET /v1/orgs/{org}/audit`.
    Audit(OrgId),
    /// `POST /v1/secret-scanning/github`: a signed report from GitHub's secret scanning.
    GithubReport,
    /// `POST /v1/leaked`: anyone reports a key found in public.
    LeakReport,
    /// `/v1/orgs/{org}/webhooks…`.
    Webhooks(OrgId, WebhookRoute),
    /// `GET /v1/orgs/{org}/resources/{type}`: the registrations of one type.
    ListResources(OrgId, String),
    /// `GET /v1/orgs/{org}/resources/{type}/{id}`.
    GetResource(OrgId, ResourceRef),
    /// `PUT /v1/orgs/{org}/resources/{type}/{id}`: register or move.
    PutResource(OrgId, ResourceRef),
    /// `DELETE /v1/orgs/{org}/resources/{type}/{id}`.
    DeleteResource(OrgId, ResourceRef),
}

impl Endpoint {
    /// Resolves `method` and `rest` (the path after the prefix).
    pub fn resolve(method: &str, rest: &str) -> Result<Endpoint, GateError> {
        let segments: Vec<&str> = rest.strip_prefix('/').unwrap_or(rest).split('/').collect();
        let org = |s: &str| {
            OrgId::parse(s).ok_or_else(|| {
                GateError::InvalidRequest(format!(
                    "Invalid organization id {s:?}: use 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
                ))
            })
        };
        let key = |s: &str| KeyId::parse(s).ok_or(GateError::KeyNotFound);
        let kind = |t: &str| {
            is_resource_type(t).then(|| t.to_owned()).ok_or_else(|| {
                GateError::InvalidRequest(format!(
                    "Invalid resource type {t:?}: use lower-case letters, digits, '_' or '-'"
                ))
            })
        };
        // The id as rules read it from a path: percent-decoded.
        let resource = |t: &str, i: &str| {
            ResourceRef::parse(t, &target::decode(i))
                .map_err(|why| GateError::InvalidRequest(format!("Invalid resource: {why}")))
        };
        let (allow, endpoint): (&'static str, Option<Endpoint>) = match segments.as_slice() {
            ["health"] => (
                "GET, HEAD",
                matches!(method, "GET" | "HEAD").then_some(Endpoint::Health),
            ),
            ["v1", "openapi.json"] => ("GET", (method == "GET").then_some(Endpoint::OpenApi)),
            ["v1", "policy"] => ("GET", (method == "GET").then_some(Endpoint::Policy)),
            ["console", rest @ ..] => {
                return ConsoleRoute::resolve(method, rest).map(Endpoint::Console);
            }
            ["v1", "secret-scanning", "github"] => {
                ("POST", (method == "POST").then_some(Endpoint::GithubReport))
            }
            ["v1", "leaked"] => ("POST", (method == "POST").then_some(Endpoint::LeakReport)),
            ["v1", "orgs"] => ("GET", (method == "GET").then_some(Endpoint::ListOrgs)),
            ["v1", "orgs", o] => (
                "GET, PUT",
                match method {
                    "GET" => Some(Endpoint::GetOrg(org(o)?)),
                    "PUT" => Some(Endpoint::PutOrg(org(o)?)),
                    _ => None,
                },
            ),
            ["v1", "orgs", o, "keys"] => (
                "GET, POST",
                match method {
                    "GET" => Some(Endpoint::ListKeys(org(o)?)),
                    "POST" => Some(Endpoint::CreateKey(org(o)?)),
                    _ => None,
                },
            ),
            ["v1", "orgs", o, "keys", "revoke-all"] => (
                "POST",
                (method == "POST")
                    .then(|| org(o))
                    .transpose()?
                    .map(Endpoint::RevokeAll),
            ),
            ["v1", "orgs", o, "keys", k] => (
                "GET, PATCH, DELETE",
                match method {
                    "GET" => Some(Endpoint::GetKey(org(o)?, key(k)?)),
                    "PATCH" => Some(Endpoint::UpdateKey(org(o)?, key(k)?)),
                    "DELETE" => Some(Endpoint::RevokeKey(org(o)?, key(k)?)),
                    _ => None,
                },
            ),
            ["v1", "orgs", o, "keys", k, "rotate"] => (
                "POST",
                match method {
                    "POST" => Some(Endpoint::RotateKey(org(o)?, key(k)?)),
                    _ => None,
                },
            ),
            ["v1", "orgs", o, "keys", k, "usage"] => (
                "GET",
                match method {
                    "GET" => Some(Endpoint::KeyUsage(org(o)?, key(k)?)),
                    _ => None,
                },
            ),
            ["v1", "orgs", o, "audit"] => (
                "GET",
                (method == "GET")
                    .then(|| org(o))
                    .transpose()?
                    .map(Endpoint::Audit),
            ),
            ["v1", "orgs", o, "resources", t] => (
                "GET",
                match method {
                    "GET" => Some(Endpoint::ListResources(org(o)?, kind(t)?)),
                    _ => None,
                },
            ),
            ["v1", "orgs", o, "resources", t, i] => (
                "GET, PUT, DELETE",
                match method {
                    "GET" => Some(Endpoint::GetResource(org(o)?, resource(t, i)?)),
                    "PUT" => Some(Endpoint::PutResource(org(o)?, resource(t, i)?)),
                    "DELETE" => Some(Endpoint::DeleteResource(org(o)?, resource(t, i)?)),
                    _ => None,
                },
            ),
            ["v1", "orgs", o, "webhooks", rest @ ..] => {
                let route = WebhookRoute::resolve(method, rest)?;
                return Ok(Endpoint::Webhooks(org(o)?, route));
            }
            _ => return Err(GateError::NotFound),
        };
        endpoint.ok_or(GateError::MethodNotAllowed(allow))
    }

    /// The organization the endpoint acts on, if any.
    pub fn org(&self) -> Option<&OrgId> {
        match self {
            Endpoint::Health
            | Endpoint::OpenApi
            | Endpoint::Policy
            | Endpoint::Console(_)
            | Endpoint::GithubReport
            | Endpoint::LeakReport
            | Endpoint::ListOrgs => None,
            Endpoint::PutOrg(o)
            | Endpoint::GetOrg(o)
            | Endpoint::CreateKey(o)
            | Endpoint::ListKeys(o)
            | Endpoint::GetKey(o, _)
            | Endpoint::UpdateKey(o, _)
            | Endpoint::RevokeKey(o, _)
            | Endpoint::RotateKey(o, _)
            | Endpoint::KeyUsage(o, _)
            | Endpoint::RevokeAll(o)
            | Endpoint::Audit(o)
            | Endpoint::Webhooks(o, _)
            | Endpoint::ListResources(o, _)
            | Endpoint::GetResource(o, _)
            | Endpoint::PutResource(o, _)
            | Endpoint::DeleteResource(o, _) => Some(o),
        }
    }

    /// Whether only the admin token (the operator) may call it: admin-scoped keys manage their
    /// organization's keys, not its plan nor the list of organizations.
    pub fn operator_only(&self) -> bool {
        matches!(self, Endpoint::PutOrg(_) | Endpoint::ListOrgs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::manage::console::ConsoleFile;

    fn code(method: &str, path: &str) -> &'static str {
        Endpoint::resolve(method, path)
            .map(|_| "ok")
            .unwrap_or_else(|e| e.code())
    }

    #[test]
    fn routes_resolve() {
        let acme = OrgId::parse("acme").unwrap();
        let key = KeyId::parse("key_abc").unwrap();
        assert_eq!(
            Endpoint::resolve("GET", "/health").unwrap(),
            Endpoint::Health
        );
        assert_eq!(
            Endpoint::resolve("GET", "/v1/orgs").unwrap(),
            Endpoint::ListOrgs
        );
        assert_eq!(
            Endpoint::resolve("GET", "/v1/policy").unwrap(),
            Endpoint::Policy
        );
        assert_eq!(
            Endpoint::resolve("PUT", "/v1/orgs/acme").unwrap(),
            Endpoint::PutOrg(acme.clone())
        );
        assert_eq!(
            Endpoint::resolve("POST", "/v1/orgs/acme/keys/revoke-all").unwrap(),
            Endpoint::RevokeAll(acme.clone())
        );
        assert_eq!(
            Endpoint::resolve("POST", "/v1/orgs/acme/keys/key_abc/rotate").unwrap(),
            Endpoint::RotateKey(acme.clone(), key.clone())
        );
        assert_eq!(
            Endpoint::resolve("DELETE", "/v1/orgs/acme/keys/key_abc").unwrap(),
            Endpoint::RevokeKey(acme.clone(), key)
        );
        assert_eq!(
            Endpoint::resolve("GET", "/v1/orgs/acme/resources/website").unwrap(),
            Endpoint::ListResources(acme.clone(), "website".into())
        );
        // The id is percent-decoded, as a rule reads a path parameter.
        assert_eq!(
            Endpoint::resolve("PUT", "/v1/orgs/acme/resources/website/w%201%C3%A9")
                .map_err(|e| e.code()),
            Err("invalid_request"),
            "a space or non-ASCII is no resource id"
        );
        assert_eq!(
            Endpoint::resolve("DELETE", "/v1/orgs/acme/resources/website/w%3A1").unwrap(),
            Endpoint::DeleteResource(acme, ResourceRef::parse("website", "w:1").unwrap())
        );
        assert_eq!(
            Endpoint::resolve("GET", "/console").unwrap(),
            Endpoint::Console(ConsoleRoute::Redirect)
        );
        assert_eq!(
            Endpoint::resolve("GET", "/console/").unwrap(),
            Endpoint::Console(ConsoleRoute::File(ConsoleFile::Index))
        );
        assert_eq!(code("GET", "/console/app.js/x"), "not_found");
        assert_eq!(code("DELETE", "/console/"), "method_not_allowed");
    }

    #[test]
    fn wrong_paths_and_methods_say_so() {
        assert_eq!(code("GET", "/v2/orgs/acme"), "not_found");
        assert_eq!(code("GET", "/v1/orgs/acme/"), "not_found");
        assert_eq!(code("GET", ""), "not_found");
        assert_eq!(code("DELETE", "/v1/orgs/acme"), "method_not_allowed");
        assert_eq!(code("POST", "/v1/orgs"), "method_not_allowed");
        assert_eq!(code("POST", "/v1/policy"), "method_not_allowed");
        assert_eq!(
            code("GET", "/v1/orgs/acme/keys/revoke-all"),
            "method_not_allowed"
        );
        assert_eq!(
            code("PUT", "/v1/orgs/acme/keys/key_a"),
            "method_not_allowed"
        );
        assert_eq!(code("GET", "/v1/orgs/Acme"), "invalid_request");
        assert_eq!(code("GET", "/v1/orgs/acme/keys/nope"), "key_not_found");
        assert_eq!(
            code("POST", "/v1/orgs/acme/resources/website"),
            "method_not_allowed"
        );
        assert_eq!(
            code("PATCH", "/v1/orgs/acme/resources/website/w_1"),
            "method_not_allowed"
        );
        assert_eq!(
            code("GET", "/v1/orgs/acme/resources/Website"),
            "invalid_request"
        );
        assert_eq!(
            code("PUT", "/v1/orgs/acme/resources/website/a,b"),
            "invalid_request"
        );
        assert_eq!(
            code("GET", "/v1/orgs/acme/resources/website/w/x"),
            "not_found"
        );
        let Err(GateError::MethodNotAllowed(allow)) =
            Endpoint::resolve("POST", "/v1/orgs/acme/keys/key_a")
        else {
            panic!("expected 405");
        };
        assert_eq!(allow, "GET, PATCH, DELETE");
    }
}
