//! What an organization does with one of its keys found in public.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The organization's `on_leak` setting.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnLeak {
    /// Revoke the key at once (the default).
    #[default]
    Revoke,
    /// Disable it: it stops working, and an admin can enable it again.
    Disable,
    /// Leave it working; only the audit event and the webhook tell.
    Notify,
}

impl OnLeak {
    /// As written in the setting.
    pub fn as_str(self) -> &'static str {
        match self {
            OnLeak::Revoke => "revoke",
            OnLeak::Disable => "disable",
            OnLeak::Notify => "notify",
        }
    }
}

impl fmt::Display for OnLeak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OnLeak {
    type Err = String;

    fn from_str(s: &str) -> Result<OnLeak, String> {
        [OnLeak::Revoke, OnLeak::Disable, OnLeak::Notify]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("on_leak must be revoke, disable or notify (got {s:?})"))
    }
}

/// Which of a key's secrets a report found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundSecret {
    /// The secret the key works with now.
    Current,
    /// An old secret still in its rotation grace period.
    Previous,
    /// One that no longer works, or a revoked key's.
    Inactive,
}

impl FoundSecret {
    /// As the audit log spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            FoundSecret::Current => "current",
            FoundSecret::Previous => "previous",
            FoundSecret::Inactive => "inactive",
        }
    }
}

/// What a report of a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakAction {
    /// The key is revoked.
    Revoked,
    /// The key is disabled.
    Disabled,
    /// Nothing but the audit event and the webhook.
    Notified,
    /// The old secret stops now; the current one keeps working.
    Retired,
    /// Nothing: the secret no longer worked, or the key was already off.
    None,
}

impl LeakAction {
    /// The action for `found` of a key `enabled` or not, under the organization's `on_leak`.
    /// The secret decides, not the key: an old secret never takes the current one down.
    pub fn of(found: FoundSecret, enabled: bool, on_leak: OnLeak) -> LeakAction {
        match (found, on_leak) {
            (FoundSecret::Inactive, _) => LeakAction::None,
            (_, OnLeak::Notify) => LeakAction::Notified,
            (FoundSecret::Previous, _) => LeakAction::Retired,
            (FoundSecret::Current, OnLeak::Disable) if !enabled => LeakAction::None,
            (FoundSecret::Current, OnLeak::Disable) => LeakAction::Disabled,
            (FoundSecret::Current, OnLeak::Revoke) => LeakAction::Revoked,
        }
    }

    /// As the audit log spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LeakAction::Revoked => "revoked",
            LeakAction::Disabled => "disabled",
            LeakAction::Notified => "notified",
            LeakAction::Retired => "retired",
            LeakAction::None => "none",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() {
        for o in [OnLeak::Revoke, OnLeak::Disable, OnLeak::Notify] {
            assert_eq!(o.as_str().parse(), Ok(o));
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
        }
        assert_eq!(OnLeak::default(), OnLeak::Revoke);
        assert!(
            "Revoke"
                .parse::<OnLeak>()
                .unwrap_err()
                .contains("revoke, disable or notify")
        );
    }

    #[test]
    fn the_secret_found_decides_never_the_key() {
        use FoundSecret::*;
        use LeakAction as A;
        for on_leak in [OnLeak::Revoke, OnLeak::Disable, OnLeak::Notify] {
            assert_eq!(
                LeakAction::of(Inactive, true, on_leak),
                A::None,
                "{on_leak}"
            );
        }
        assert_eq!(LeakAction::of(Previous, true, OnLeak::Revoke), A::Retired);
        assert_eq!(LeakAction::of(Previous, true, OnLeak::Disable), A::Retired);
        assert_eq!(LeakAction::of(Previous, true, OnLeak::Notify), A::Notified);
        assert_eq!(LeakAction::of(Current, true, OnLeak::Revoke), A::Revoked);
        assert_eq!(LeakAction::of(Current, false, OnLeak::Revoke), A::Revoked);
        assert_eq!(LeakAction::of(Current, true, OnLeak::Disable), A::Disabled);
        assert_eq!(LeakAction::of(Current, false, OnLeak::Disable), A::None);
        assert_eq!(LeakAction::of(Current, true, OnLeak::Notify), A::Notified);
    }
}
