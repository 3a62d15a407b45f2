//! The webhook routes of the management API (`/v1/orgs/{org}/webhooks…`) and the commands
//! they become for the organization's catalog.

use serde::{Deserialize, Serialize};

use super::{CreateWebhook, UpdateWebhook};
use crate::domain::error::GateError;
use crate::domain::manage::audit::AuditKind;
use crate::domain::manage::parse_body;

/// A webhook route, with the endpoint id from its path.
#[derive(Debug, PartialEq, Eq)]
pub enum WebhookRoute {
    /// `GET …/webhooks`.
    List,
    /// `POST …/webhooks`.
    Create,
    /// `GET …/webhooks/{id}`.
    Get(String),
    /// `PATCH …/webhooks/{id}`.
    Update(String),
    /// `DELETE …/webhooks/{id}`.
    Delete(String),
    /// `POST …/webhooks/{id}/test`.
    Test(String),
    /// `POST …/webhooks/{id}/rotate-secret`.
    RotateSecret(String),
    /// `GET …/webhooks/{id}/deliveries`.
    Deliveries(String),
}

impl WebhookCommand {
    /// The audit kind of a change (reads and tests change nothing).
    pub fn audit_kind(&self) -> Option<AuditKind> {
        match self {
            WebhookCommand::Create(_) => Some(AuditKind::WebhookCreated),
            WebhookCommand::Update(..) => Some(AuditKind::WebhookUpdated),
            WebhookCommand::Delete(_) => Some(AuditKind::WebhookDeleted),
            WebhookCommand::RotateSecret(_) => Some(AuditKind::WebhookSecretRotated),
            WebhookCommand::List
            | WebhookCommand::Get(_)
            | WebhookCommand::Test(_)
            | WebhookCommand::Deliveries(_) => None,
        }
    }
}

impl WebhookRoute {
    /// Resolves `method` and the path segments after `webhooks`.
    pub fn resolve(method: &str, rest: &[&str]) -> Result<WebhookRoute, GateError> {
        let id = |s: &str| {
            let valid = s.strip_prefix("wh_").is_some_and(|body| {
                !body.is_empty() && s.len() <= 64 && body.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            valid
                .then(|| s.to_owned())
                .ok_or(GateError::WebhookNotFound)
        };
        let (allow, route) = match rest {
            [] => (
                "GET, POST",
                match method {
                    "GET" => Some(WebhookRoute::List),
                    "POST" => Some(WebhookRoute::Create),
                    _ => None,
                },
            ),
            [w] => (
                "GET, PATCH, DELETE",
                match method {
                    "GET" => Some(WebhookRoute::Get(id(w)?)),
                    "PATCH" => Some(WebhookRoute::Update(id(w)?)),
                    "DELETE" => Some(WebhookRoute::Delete(id(w)?)),
                    _ => None,
                },
            ),
            [w, "test"] => (
                "POST",
                (method == "POST")
                    .then(|| id(w))
                    .transpose()?
                    .map(WebhookRoute::Test),
            ),
            [w, "rotate-secret"] => (
                "POST",
                (method == "POST")
                    .then(|| id(w))
                    .transpose()?
                    .map(WebhookRoute::RotateSecret),
            ),
            [w, "deliveries"] => (
                "GET",
                (method == "GET")
                    .then(|| id(w))
                    .transpose()?
                    .map(WebhookRoute::Deliveries),
            ),
            _ => return Err(GateError::NotFound),
        };
        route.ok_or(GateError::MethodNotAllowed(allow))
    }

    /// Whether the route reads a JSON body.
    pub fn has_body(&self) -> bool {
        matches!(self, WebhookRoute::Create | WebhookRoute::Update(_))
    }

    /// The command, given the body of the routes that read one (`None` otherwise).
    pub fn command(self, body: Option<&[u8]>) -> Result<WebhookCommand, GateError> {
        Ok(match self {
            WebhookRoute::List => WebhookCommand::List,
            WebhookRoute::Create => WebhookCommand::Create(
                parse_body::<CreateWebhook>(body.unwrap_or_default())?.validate()?,
            ),
            WebhookRoute::Get(id) => WebhookCommand::Get(id),
            WebhookRoute::Update(id) => WebhookCommand::Update(
                id,
                parse_body::<UpdateWebhook>(body.unwrap_or_default())?.validate()?,
            ),
            WebhookRoute::Delete(id) => WebhookCommand::Delete(id),
            WebhookRoute::Test(id) => WebhookCommand::Test(id),
            WebhookRoute::RotateSecret(id) => WebhookCommand::RotateSecret(id),
            WebhookRoute::Deliveries(id) => WebhookCommand::Deliveries(id),
        })
    }
}

/// What the catalog does for a webhook route.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum WebhookCommand {
    /// Every endpoint.
    List,
    /// Add an endpoint; its secret is shown in the answer, once.
    Create(CreateWebhook),
    /// One endpoint.
    Get(String),
    /// Change an endpoint.
    Update(String, UpdateWebhook),
    /// Remove an endpoint and its pending deliveries.
    Delete(String),
    /// Queue a `webhook.test` event for this endpoint only.
    Test(String),
    /// A new secret, shown once; the old one stops at once.
    RotateSecret(String),
    /// The endpoint's latest deliveries.
    Deliveries(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_and_say_what_is_allowed() {
        let code = |method, rest: &[&str]| WebhookRoute::resolve(method, rest).unwrap_err().code();
        assert_eq!(
            WebhookRoute::resolve("GET", &[]).unwrap(),
            WebhookRoute::List
        );
        assert_eq!(
            WebhookRoute::resolve("POST", &["wh_abc", "test"]).unwrap(),
            WebhookRoute::Test("wh_abc".into())
        );
        assert_eq!(code("PUT", &["wh_abc"]), "method_not_allowed");
        assert_eq!(code("GET", &["key_abc"]), "webhook_not_found");
        assert_eq!(code("GET", &["wh_a", "x"]), "not_found");
        let create = WebhookRoute::Create
            .command(Some(br#"{"url":"https://x/","events":["key.revoked"]}"#))
            .unwrap();
        assert!(matches!(create, WebhookCommand::Create(_)));
        assert!(WebhookRoute::Create.command(None).is_err());
    }
}
