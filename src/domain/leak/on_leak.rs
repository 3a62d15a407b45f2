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
}
