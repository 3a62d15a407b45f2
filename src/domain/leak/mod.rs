//! Leaked keys: GitHub's secret-scanning reports (signed batches of found tokens) and what an
//! organization does with a key found in public (`on_leak`).

mod github;
mod on_leak;

pub use github::{
    Feedback, FoundToken, KeyList, Label, MAX_REPORT_BYTES, PublicKeyError, ReportError,
    parse_report, verify_signature,
};
pub use on_leak::OnLeak;
