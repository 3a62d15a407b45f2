//! Organization plans and what they allow.

use serde::{Deserialize, Serialize};

/// An organization's plan. It caps the number of live (not revoked) keys.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// 2 keys.
    Free,
    /// 10 keys.
    Pro,
    /// 50 keys.
    Business,
    /// No limit.
    Enterprise,
}

impl Plan {
    /// Most live keys the organization may hold; `None` = unlimited.
    pub fn key_limit(self) -> Option<u32> {
        match self {
            Plan::Free => Some(2),
            Plan::Pro => Some(10),
            Plan::Business => Some(50),
            Plan::Enterprise => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_spec() {
        let limits: Vec<_> = [Plan::Free, Plan::Pro, Plan::Business, Plan::Enterprise]
            .map(Plan::key_limit)
            .into();
        assert_eq!(limits, vec![Some(2), Some(10), Some(50), None]);
        assert_eq!(
            serde_json::from_str::<Plan>(r#""business""#).unwrap(),
            Plan::Business
        );
        assert!(serde_json::from_str::<Plan>(r#""gold""#).is_err());
    }
}
