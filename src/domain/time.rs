//! Time as integer Unix milliseconds, and its RFC 3339 form for the management API. Only the
//! edge reads the clock (`SystemTime::now()` panics on wasm32-unknown-unknown); everything
//! here takes `now` as an argument.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

/// Latest instant accepted from clients: 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: u64 = 253_402_300_799_999;

impl UnixMillis {
    /// Milliseconds in one hour.
    pub const HOUR: u64 = 3_600_000;
    /// Milliseconds in one day.
    pub const DAY: u64 = 86_400_000;

    /// `self + ms`, saturating rather than wrapping.
    pub fn plus_millis(self, ms: u64) -> UnixMillis {
        UnixMillis(self.0.saturating_add(ms))
    }

    /// Parses an RFC 3339 timestamp (`2026-01-15T00:00:00Z`, `…T09:30:00.5+02:00`), at or after
    /// the epoch. Returns `None` for anything else.
    pub fn parse_rfc3339(s: &str) -> Option<UnixMillis> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u64> {
            let part = s.get(r)?;
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut rest = &s[19..];
        let mut millis = 0;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            // Milliseconds are the resolution; further digits are truncated.
            let kept = &frac[..digits.min(3)];
            millis = kept.parse::<u64>().ok()? * 10u64.pow(3 - kept.len() as u32);
            rest = &frac[digits..];
        }
        let offset_minutes: i64 = match rest.as_bytes() {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let digits = [*h1, *h2, *m1, *m2];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let d = |c: u8| i64::from(c - b'0');
                let (h, m) = (d(*h1) * 10 + d(*h2), d(*m1) * 10 + d(*m2));
                if h > 23 || m > 59 {
                    return None;
                }
                if *sign == b'+' {
                    h * 60 + m
                } else {
                    -(h * 60 + m)
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year as i64, month, day);
        let local_secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64;
        let utc_millis = (local_secs - offset_minutes * 60) * 1000 + millis as i64;
        u64::try_from(utc_millis)
            .ok()
            .filter(|&ms| ms <= MAX_MILLIS)
            .map(UnixMillis)
    }
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-01-15T09:30:00.000Z`.
impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1000;
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            self.0 % 1000
        )
    }
}

/// Serde `serialize_with`: an instant as RFC 3339 in API bodies.
pub fn serialize_rfc3339<S: serde::Serializer>(t: &UnixMillis, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// Serde `serialize_with`: an optional instant as RFC 3339, or `null`.
pub fn serialize_rfc3339_opt<S: serde::Serializer>(
    t: &Option<UnixMillis>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-01-15T00:00:00Z", 1_768_435_200_000),
            ("2026-01-15T02:00:00+02:00", 1_768_435_200_000),
            ("2026-01-14T23:00:00.250-01:00", 1_768_435_200_250),
            ("2024-02-29T12:00:00.123456Z", 1_709_208_000_123),
        ];
        for (text, ms) in cases {
            assert_eq!(
                UnixMillis::parse_rfc3339(text),
                Some(UnixMillis(ms)),
                "{text}"
            );
        }
        assert_eq!(
            UnixMillis(1_768_435_200_250).to_string(),
            "2026-01-15T00:00:00.250Z"
        );
    }

    #[test]
    fn invalid_timestamps_are_refused() {
        for bad in [
            "",
            "2026-01-15",
            "2026-01-15T00:00:00",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-15T24:00:00Z",
            "2026-01-15T00:00:00+25:00",
            "2026-01-15T00:00:00.Z",
            "1969-12-31T23:59:59Z",
            "２０２６-01-15T00:00:00Z",
            "2026-01-15T00:00:00Z ",
        ] {
            assert_eq!(UnixMillis::parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(ms in 0u64..=MAX_MILLIS) {
            let t = UnixMillis(ms);
            prop_assert_eq!(UnixMillis::parse_rfc3339(&t.to_string()), Some(t));
        }
    }
}
