//! What a key's guard tells its organization's catalog about the requests it decides, and how
//! rarely: the first rate-limit refusal in a window (not every 429), and a successful
//! authentication at most once an hour, so the audit trail holds both without a write per
//! request.

use std::collections::HashMap;

use crate::domain::limits::window::WindowReport;
use crate::domain::time::UnixMillis;

/// How often a successful authentication of one key is recorded.
pub const SUCCESS_EVERY_MS: u64 = UnixMillis::HOUR;

/// The sightings a guard has reported lately (in memory: an evicted guard may report one again,
/// never miss one).
#[derive(Debug, Default)]
pub struct Sightings {
    /// Per window name: no new refusal report before this instant.
    limited_until: HashMap<String, UnixMillis>,
    /// The last success reported.
    succeeded_at: Option<UnixMillis>,
}

impl Sightings {
    /// The full window to report for a refusal at `now`, if it is the first in that window.
    pub fn limited<'w>(
        &mut self,
        windows: &'w [WindowReport],
        now: UnixMillis,
    ) -> Option<&'w WindowReport> {
        let full = windows.iter().find(|w| w.remaining == 0)?;
        let quiet = self.limited_until.get(&full.name).is_some_and(|&t| now < t);
        if quiet {
            return None;
        }
        let until = now.plus_millis(u64::from(full.window_seconds) * 1000);
        self.limited_until.insert(full.name.clone(), until);
        Some(full)
    }

    /// Whether a success at `now` is to be reported.
    pub fn succeeded(&mut self, now: UnixMillis) -> bool {
        let due = self
            .succeeded_at
            .is_none_or(|last| now.0 >= last.0 + SUCCESS_EVERY_MS);
        if due {
            self.succeeded_at = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(name: &str, remaining: u32) -> WindowReport {
        WindowReport {
            name: name.into(),
            limit: 10,
            window_seconds: 60,
            remaining,
            reset_at: UnixMillis(0),
        }
    }

    #[test]
    fn one_refusal_report_per_window_length() {
        let mut s = Sightings::default();
        let windows = [window("second", 3), window("minute", 0)];
        let t = UnixMillis(1_000_000);
        assert_eq!(
            s.limited(&windows, t).map(|w| w.name.as_str()),
            Some("minute")
        );
        assert_eq!(s.limited(&windows, t.plus_millis(59_999)), None);
        assert!(s.limited(&windows, t.plus_millis(60_000)).is_some());
        assert_eq!(
            s.limited(&[window("minute", 1)], t.plus_millis(200_000)),
            None
        );
    }

    #[test]
    fn successes_are_reported_once_an_hour() {
        let mut s = Sightings::default();
        let t = UnixMillis(5_000_000);
        assert!(s.succeeded(t));
        assert!(!s.succeeded(t.plus_millis(SUCCESS_EVERY_MS - 1)));
        assert!(s.succeeded(t.plus_millis(SUCCESS_EVERY_MS)));
    }
}
