//! The fuzz targets' checks (`fuzz/checks.rs`), natively on every `make test`: every committed
//! seed and every regression a fuzz run found (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`),
//! then a few thousand random inputs per target with proptest. `make fuzz` runs the same checks
//! under libFuzzer for longer.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

use proptest::prelude::*;

/// A target's check: panics when an input breaks one of its invariants.
type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 4] = [
    ("key", checks::key),
    ("policy", checks::policy),
    ("manage_body", checks::manage_body),
    ("field_filter", checks::field_filter),
];

#[test]
fn every_seed_and_regression_passes_its_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (target, check) in TARGETS {
        for dir in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            for entry in entries.flatten() {
                let input = std::fs::read(entry.path()).unwrap();
                replayed += 1;
                if std::panic::catch_unwind(|| check(&input)).is_err() {
                    failures.push(entry.path().display().to_string());
                }
            }
        }
    }
    assert!(replayed >= 12, "only {replayed} inputs found under fuzz/");
    assert!(
        failures.is_empty(),
        "inputs that break a check: {failures:#?}"
    );
}

/// Random bytes, and random text shaped like each input (JSON-ish, key-ish), so proptest reaches
/// past the first parse error.
fn shaped() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (any::<u8>(), "[a-z_]{1,10}_[A-Za-z0-9]{30,44}").prop_map(|(m, k)| {
            let mut v = vec![m];
            v.extend(format!("Bearer {k}").bytes());
            v
        }),
        (any::<u8>(), r#"\{("[a-z_]{1,12}":(\[("[a-z:*_]{0,12}",?){0,4}\]|[0-9]{1,12}|"[^"]{0,20}"|true|null|\{\}),?){0,6}\}"#)
            .prop_map(|(m, j)| {
                let mut v = vec![m];
                v.extend(j.bytes());
                v
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn key_check_holds(input in shaped()) { checks::key(&input) }

    #[test]
    fn policy_check_holds(input in shaped()) { checks::policy(&input) }

    #[test]
    fn manage_body_check_holds(input in shaped()) { checks::manage_body(&input) }

    #[test]
    fn field_filter_check_holds(input in shaped()) { checks::field_filter(&input) }
}
