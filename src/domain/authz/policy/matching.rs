//! Matching a request's segments against a rule under a reading (case, trailing `/`, and
//! the lenient origins' format suffixes and Unicode case folding).

use super::{Reading, Rule, Segment};
use crate::domain::http::request::Method;

impl Rule {
    /// The named parameters if `method` and the (decoded) `segments` match under `reading`.
    pub(super) fn matches(
        &self,
        method: Method,
        segments: &[&str],
        reading: Reading,
    ) -> Option<Vec<(&str, String)>> {
        // Frameworks answer HEAD with the GET handler.
        let listed = |ms: &Vec<Method>| {
            ms.contains(&method) || (method == Method::Head && ms.contains(&Method::Get))
        };
        if self.methods.as_ref().is_some_and(|ms| !listed(ms)) {
            return None;
        }
        let mut pattern = self.segments.as_slice();
        if reading.ignore_trailing_slash
            && pattern.len() > 1
            && pattern.last() == Some(&Segment::Literal(String::new()))
        {
            pattern = &pattern[..pattern.len() - 1];
        }
        let rest = pattern.last() == Some(&Segment::Rest);
        let fixed = pattern.len() - usize::from(rest);
        if segments.len() < fixed || (!rest && segments.len() != fixed) {
            return None;
        }
        let mut params = Vec::new();
        for (i, (pattern, actual)) in pattern[..fixed].iter().zip(segments).enumerate() {
            let lenient = reading.lenient && !rest && i + 1 == fixed;
            match pattern {
                Segment::Literal(l) if l == actual => {}
                Segment::Literal(l) if reading.fold_case && l.eq_ignore_ascii_case(actual) => {}
                Segment::Literal(l) if reading.lenient && folds_to(l, actual) => {}
                Segment::Literal(l) if lenient && folds_to(without_format(l), actual) => {}
                Segment::Param(name) if !actual.is_empty() => {
                    params.push((name.as_str(), (*actual).to_owned()))
                }
                _ => return None,
            }
        }
        Some(params)
    }
}

/// The last segment without a format suffix (`stats.json` → `stats`), as Rails routes it.
pub(super) fn without_format(segment: &str) -> &str {
    match segment.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && (1..=10).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            stem
        }
        _ => segment,
    }
}

/// Whether `actual` equals the literal under Unicode case folding, char by char, the way
/// Java's `equalsIgnoreCase` and Python's `re.I` compare (`ſ` ~ `s`, `İ` ~ `i`, `K` ~ `k`).
pub(super) fn folds_to(literal: &str, actual: &str) -> bool {
    let same = |l: char, a: char| {
        l.eq_ignore_ascii_case(&a)
            || a.to_uppercase()
                .next()
                .is_some_and(|u| l.eq_ignore_ascii_case(&u))
            || a.to_lowercase()
                .next()
                .is_some_and(|d| l.eq_ignore_ascii_case(&d))
    };
    literal.chars().count() == actual.chars().count()
        && literal.chars().zip(actual.chars()).all(|(l, a)| same(l, a))
}
