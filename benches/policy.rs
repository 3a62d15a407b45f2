//! `make bench`: policy matching, natively. Reports the median and the slowest of 25 batches,
//! in nanoseconds per request, for a 10- and a 200-rule policy, at the first rule, the last rule
//! (the worst case: every rule is tried) and a miss falling through to the default.

use std::hint::black_box;
use std::time::Instant;

use keygate::domain::Policy;

const BATCHES: usize = 25;
const PER_BATCH: u32 = 20_000;

fn policy(rules: usize) -> Policy {
    let rules: Vec<String> = (0..rules)
        .map(|i| {
            format!(
                r#"{{"method":["GET","POST"],"path":"/api/r{i}/:id/items/*","resource":"r{i}","ids":{{"site":"path:id"}}}}"#
            )
        })
        .collect();
    Policy::parse(&format!(
        r#"{{"default":"allow","rules":[{}]}}"#,
        rules.join(",")
    ))
    .unwrap()
}

/// (median, slowest batch) in ns per call.
fn measure(policy: &Policy, path: &str) -> (f64, f64) {
    let mut per_call: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..PER_BATCH {
                let route = policy.route(
                    black_box("GET"),
                    black_box(path),
                    black_box(Some("a=1")),
                    |_| None,
                );
                black_box(route.ok());
            }
            start.elapsed().as_nanos() as f64 / f64::from(PER_BATCH)
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    (per_call[BATCHES / 2], per_call[BATCHES - 1])
}

fn main() {
    println!(
        "{:<34} {:>12} {:>14}",
        "policy match", "median ns", "slowest batch"
    );
    for rules in [10, 200] {
        let p = policy(rules);
        for (what, path) in [
            ("first rule", "/api/r0/site_1/items/x".to_owned()),
            ("last rule", format!("/api/r{}/site_1/items/x", rules - 1)),
            ("no rule (default)", "/elsewhere/entirely".to_owned()),
        ] {
            let (median, worst) = measure(&p, &path);
            println!(
                "{:<34} {median:>12.0} {worst:>14.0}",
                format!("{rules} rules, {what}")
            );
        }
    }
}
