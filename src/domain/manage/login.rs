//! Logging in to the management API: which API keys may manage, and which failed logins count
//! toward a client's throttle.

use crate::domain::authz::scope::Scope;
use crate::domain::error::GateError;
use crate::domain::key::record::KeyRecord;
use crate::domain::manage::actor::Actor;

/// The actor an active API key is: an organization admin, if the key has the `admin` scope;
/// otherwise 403 `insufficient_scope` naming `admin`.
pub fn key_actor(record: &KeyRecord) -> Result<Actor, GateError> {
    if !record.scopes.iter().any(|s| s.is_admin()) {
        return Err(GateError::InsufficientScope {
            needed: vec![Scope::admin()],
            missing: vec![Scope::admin()],
            read_only: false,
        });
    }
    Ok(Actor::OrgAdmin {
        key: record.id.clone(),
        org: record.org.clone(),
        owner: record.owner.clone(),
    })
}

/// Whether a failed login counts toward the client's throttle: a 401 to a request that sent a
/// credential (one without any guesses nothing), or a key-shaped guess refused for the client's
/// made-up-key budget. Refusals of a real key (scope, disabled organization…) do not count.
pub fn counts_as_failure(error: &GateError, sent_credential: bool) -> bool {
    sent_credential
        && (error.status() == 401 || matches!(error, GateError::TooManyInvalidKeys { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(scopes: &str) -> KeyRecord {
        KeyRecord::from_json(&format!(
            r#"{{"id":"key_abc123","org":"acme","name":"Ops","created_at":1,"scopes":{scopes}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn only_a_key_with_the_admin_scope_manages_and_only_its_own_org() {
        let actor = key_actor(&record(r#"["read","admin"]"#)).unwrap();
        assert_eq!(actor.name(), "key_abc123");
        assert!(matches!(&actor, Actor::OrgAdmin { org, .. } if org.as_str() == "acme"));
        let err = key_actor(&record(r#"["read","employees:write"]"#)).unwrap_err();
        assert_eq!(err.status(), 403);
        assert!(matches!(
            err,
            GateError::InsufficientScope { ref missing, read_only: false, .. } if *missing == [Scope::admin()]
        ));
    }

    #[test]
    fn only_guesses_count_toward_the_login_throttle() {
        let made_up = GateError::TooManyInvalidKeys { retry_after: 5 };
        for guess in [GateError::Unauthorized, GateError::InvalidKey, made_up] {
            assert!(counts_as_failure(&guess, true), "{guess:?}");
            assert!(
                !counts_as_failure(&guess, false),
                "no credential: {guess:?}"
            );
        }
        let no_admin = GateError::InsufficientScope {
            needed: vec![Scope::admin()],
            missing: vec![Scope::admin()],
            read_only: false,
        };
        for real_key in [no_admin, GateError::OperatorOnly, GateError::NotFound] {
            assert!(!counts_as_failure(&real_key, true), "{real_key:?}");
        }
    }
}
