//! The notices a key has ahead of it on a schedule: `key.expiring` 30, 14 and 7 days before its
//! `expires_at`, `key.expired` at that instant, and `key.rotation_grace_ended` when the old
//! secret of a rotation stops.

use serde::{Deserialize, Serialize};

use super::EventType;
use crate::domain::time::UnixMillis;

/// Days before expiry at which `key.expiring` is sent, each once.
pub const NOTICE_DAYS: [u64; 3] = [30, 14, 7];

/// One scheduled notice of a key.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// `days` before `expires_at`.
    #[allow(missing_docs)]
    Expiring { days: u64, expires_at: UnixMillis },
    /// At `expires_at`.
    #[allow(missing_docs)]
    Expired { expires_at: UnixMillis },
    /// When the old secret stops (`until`).
    #[allow(missing_docs)]
    RotationGraceEnded { until: UnixMillis },
}

impl Notice {
    /// When it is due.
    pub fn due_at(self) -> UnixMillis {
        match self {
            Notice::Expiring { days, expires_at } => {
                UnixMillis(expires_at.0.saturating_sub(days * UnixMillis::DAY))
            }
            Notice::Expired { expires_at } => expires_at,
            Notice::RotationGraceEnded { until } => until,
        }
    }

    /// The webhook event it becomes.
    pub fn event(self) -> EventType {
        match self {
            Notice::Expiring { .. } => EventType::KeyExpiring,
            Notice::Expired { .. } => EventType::KeyExpired,
            Notice::RotationGraceEnded { .. } => EventType::KeyRotationGraceEnded,
        }
    }
}

/// The notices still ahead at `now` of a key expiring at `expires_at` (none without expiry),
/// and of the grace of its rotation ending at `grace_until`, earliest first. A key created with
/// 20 days left gets the 14- and 7-day notices and the expiry, not the 30-day one.
pub fn notices_ahead(
    expires_at: Option<UnixMillis>,
    grace_until: Option<UnixMillis>,
    now: UnixMillis,
) -> Vec<Notice> {
    let mut notices: Vec<Notice> = expires_at
        .into_iter()
        .flat_map(|expires_at| {
            NOTICE_DAYS
                .iter()
                .map(move |&days| Notice::Expiring { days, expires_at })
                .chain([Notice::Expired { expires_at }])
        })
        .chain(grace_until.map(|until| Notice::RotationGraceEnded { until }))
        .filter(|n| n.due_at() >= now)
        .collect();
    notices.sort_by_key(|n| n.due_at());
    notices
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = UnixMillis::DAY;

    #[test]
    fn a_key_with_31_days_left_gets_every_notice_in_order() {
        let now = UnixMillis(1_000 * DAY);
        let expires_at = UnixMillis(now.0 + 31 * DAY);
        let due: Vec<_> = notices_ahead(Some(expires_at), None, now)
            .into_iter()
            .map(|n| (n.event(), (expires_at.0 - n.due_at().0) / DAY))
            .collect();
        assert_eq!(
            due,
            [
                (EventType::KeyExpiring, 30),
                (EventType::KeyExpiring, 14),
                (EventType::KeyExpiring, 7),
                (EventType::KeyExpired, 0),
            ]
        );
    }

    #[test]
    fn only_the_notices_still_ahead() {
        let now = UnixMillis(1_000 * DAY);
        let expires_at = UnixMillis(now.0 + 20 * DAY);
        let ahead = notices_ahead(Some(expires_at), None, now);
        assert_eq!(ahead.len(), 3, "{ahead:?}");
        assert!(!ahead.contains(&Notice::Expiring {
            days: 30,
            expires_at
        }));
        assert_eq!(notices_ahead(Some(UnixMillis(now.0 - 1)), None, now), []);
        assert_eq!(notices_ahead(None, None, now), []);
        // Due exactly now still counts: it is sent at once.
        let at_30 = UnixMillis(now.0 + 30 * DAY);
        assert_eq!(notices_ahead(Some(at_30), None, now).len(), 4);
    }

    #[test]
    fn a_rotation_grace_ends_with_a_notice() {
        let now = UnixMillis(5 * DAY);
        let until = UnixMillis(now.0 + 60_000);
        let expires_at = UnixMillis(now.0 + 2 * DAY);
        assert_eq!(
            notices_ahead(Some(expires_at), Some(until), now),
            [
                Notice::RotationGraceEnded { until },
                Notice::Expired { expires_at }
            ]
        );
    }
}
