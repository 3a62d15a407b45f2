//! The secrets a key accepts: the current one and, during a rotation's grace period, the one
//! it replaced; and the arithmetic of rotating.

use serde::{Deserialize, Serialize};

use super::hash::KeyHash;
use crate::domain::time::UnixMillis;

/// A secret a key accepts: its hash, and until when (exclusive) if it is being retired.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// SHA-256 of the secret.
    pub hash: KeyHash,
    /// `None` for the current secret; the end of the grace period for a rotated-out one.
    pub until: Option<UnixMillis>,
}

/// Whether `hash` is an accepted secret at `now`. A retired secret stops at `until` exactly.
pub fn accepts(secrets: &[Secret], hash: &KeyHash, now: UnixMillis) -> bool {
    secrets
        .iter()
        .any(|s| s.hash == *hash && s.until.is_none_or(|until| now < until))
}

/// The secrets after rotating to `new`: the new one, plus the current one until
/// `now + grace_hours` (none when the grace is 0). Secrets already being retired are dropped:
/// one rotation's grace ends when the next rotation starts.
pub fn rotate(secrets: &[Secret], new: KeyHash, grace_hours: u32, now: UnixMillis) -> Vec<Secret> {
    let mut out = vec![Secret {
        hash: new,
        until: None,
    }];
    if grace_hours > 0 {
        let until = now.plus_millis(u64::from(grace_hours) * UnixMillis::HOUR);
        out.extend(
            secrets
                .iter()
                .filter(|s| s.until.is_none())
                .map(|s| Secret {
                    hash: s.hash,
                    until: Some(until),
                }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::format::ApiKey;

    fn hash() -> KeyHash {
        KeyHash::of(&ApiKey::generate(&Default::default()).unwrap())
    }

    #[test]
    fn rotation_keeps_the_old_secret_for_the_grace_period() {
        let (old, new) = (hash(), hash());
        let now = UnixMillis(1_000);
        let secrets = rotate(
            &[Secret {
                hash: old,
                until: None,
            }],
            new,
            24,
            now,
        );
        let end = now.plus_millis(24 * UnixMillis::HOUR);
        assert!(accepts(&secrets, &new, now));
        assert!(accepts(&secrets, &old, UnixMillis(end.0 - 1)));
        assert!(!accepts(&secrets, &old, end));
        assert!(accepts(&secrets, &new, UnixMillis(u64::MAX)));
        assert!(!accepts(&secrets, &hash(), now));
    }

    #[test]
    fn zero_grace_and_second_rotation_retire_at_once() {
        let (a, b, c) = (hash(), hash(), hash());
        let now = UnixMillis(1_000);
        let none = rotate(
            &[Secret {
                hash: a,
                until: None,
            }],
            b,
            0,
            now,
        );
        assert_eq!(
            none,
            vec![Secret {
                hash: b,
                until: None
            }]
        );
        let first = rotate(
            &[Secret {
                hash: a,
                until: None,
            }],
            b,
            24,
            now,
        );
        let second = rotate(&first, c, 24, now);
        assert!(
            !accepts(&second, &a, now),
            "a secret two rotations old still works"
        );
        assert!(accepts(&second, &b, now) && accepts(&second, &c, now));
    }
}
