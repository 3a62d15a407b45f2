//! Tests of `config.rs`.

use super::*;

#[test]
fn webhook_retry_delays_default_or_a_comma_list() {
    let base = [("ORIGIN", "http://x")];
    assert_eq!(config(&base).unwrap().webhook_retry_delays, RETRY_DELAYS_MS);
    let set = config(&[
        ("ORIGIN", "http://x"),
        ("WEBHOOK_RETRY_DELAYS_MS", "200, 400"),
    ]);
    assert_eq!(set.unwrap().webhook_retry_delays, [200, 400]);
    for bad in ["", "0", "1,,2", "x", "1,2,3,4,5,6,7,8,9,10,11", "604800001"] {
        let e = config(&[("ORIGIN", "http://x"), ("WEBHOOK_RETRY_DELAYS_MS", bad)]).unwrap_err();
        assert_eq!(e.var, "WEBHOOK_RETRY_DELAYS_MS", "{bad:?}");
    }
}
use std::collections::HashMap;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn defaults_apply() {
    let c = config(&[("ORIGIN", "http://127.0.0.1:9000/")]).unwrap();
    assert_eq!(c.key_prefix.as_str(), "kg_live");
    assert_eq!(c.admin_prefix, AdminPrefix::default());
    assert_eq!(c.origin_timeout, Duration::from_secs(30));
    assert_eq!(c.revocation_bound.as_millis(), 1_000);
    assert_eq!(c.origin.join("/a/b?x=1"), "http://127.0.0.1:9000/a/b?x=1");
}

#[test]
fn policy_and_secret_are_read() {
    let c = config(&[
        ("ORIGIN", "http://x"),
        (
            "POLICY",
            r#"{"rules":[{"method":"GET","path":"/a","resource":"a"}]}"#,
        ),
        ("ORIGIN_SIGNING_SECRET", "s"),
    ])
    .unwrap();
    assert_eq!(c.policy.resources(), vec!["a"]);
    assert_eq!(
        c.signing_secret.as_ref().map(SigningSecret::expose),
        Some("s")
    );
    assert_eq!(format!("{:?}", c.signing_secret), "Some(SigningSecret(…))");
    let e = config(&[
        ("ORIGIN", "http://x"),
        (
            "POLICY",
            r#"{"rules":[{"method":"GET","path":"a","resource":"a"}]}"#,
        ),
    ])
    .unwrap_err();
    assert_eq!(e.var, "POLICY");
    assert!(
        e.to_string()
            .contains("rule 1 (a): path must start with '/'"),
        "{e}"
    );
}

#[test]
fn the_revocation_bound_takes_its_whole_range() {
    for (text, ms) in [("0", 0), ("1000", 1_000), (" 250 ", 250), ("60000", 60_000)] {
        let c = config(&[("ORIGIN", "http://x"), ("REVOCATION_BOUND_MS", text)]).unwrap();
        assert_eq!(c.revocation_bound.as_millis(), ms, "{text:?}");
    }
}

#[test]
fn origin_base_path_is_kept() {
    let o = Origin::parse("https://api.example.com/v2/").unwrap();
    assert_eq!(o.join("/users"), "https://api.example.com/v2/users");
    assert_eq!(o.target("/users?a=1"), "/v2/users?a=1");
    let bare = Origin::parse("http://127.0.0.1:9000").unwrap();
    assert_eq!(bare.target("/users"), "/users");
}

#[test]
fn errors_name_the_variable() {
    assert_eq!(config(&[]).unwrap_err().var, "ORIGIN");
    for bad in ["nope", "ftp://x", "http://x/?a=1", "http://x/#f"] {
        assert_eq!(
            config(&[("ORIGIN", bad)]).unwrap_err().var,
            "ORIGIN",
            "{bad}"
        );
    }
    let e = config(&[("ORIGIN", "http://x"), ("KEY_PREFIX", "kg-live")]).unwrap_err();
    assert_eq!(e.var, "KEY_PREFIX");
    assert!(e.to_string().starts_with("KEY_PREFIX: "), "{e}");
    for bad in ["0", "-1", "1.5", "600001", "soon"] {
        let e = config(&[("ORIGIN", "http://x"), ("ORIGIN_TIMEOUT_MS", bad)]).unwrap_err();
        assert_eq!(e.var, "ORIGIN_TIMEOUT_MS", "{bad:?}");
    }
    for bad in ["999", "3600001", "1m", ""] {
        let e = config(&[("ORIGIN", "http://x"), ("USAGE_REPORT_MS", bad)]).unwrap_err();
        assert_eq!(e.var, "USAGE_REPORT_MS", "{bad:?}");
        assert!(e.to_string().contains("1000 to 3600000"), "{e}");
    }
    let c = config(&[("ORIGIN", "http://x"), ("USAGE_REPORT_MS", "1000")]).unwrap();
    assert_eq!(c.usage_report_every, Duration::from_secs(1));
    let c = config(&[("ORIGIN", "http://x")]).unwrap();
    assert_eq!(c.usage_report_every, Duration::from_secs(60));
    for bad in ["-1", "60001", "1.5", "1s", "", "18446744073709551616"] {
        let e = config(&[("ORIGIN", "http://x"), ("REVOCATION_BOUND_MS", bad)]).unwrap_err();
        assert_eq!(e.var, "REVOCATION_BOUND_MS", "{bad:?}");
        assert!(e.to_string().contains("0 to 60000"), "{e}");
    }
    for bad in ["", "/", "keygate", "/_keygate/", "/a//b", "/a/../b", "/a b"] {
        let e = config(&[("ORIGIN", "http://x"), ("ADMIN_PREFIX", bad)]).unwrap_err();
        assert_eq!(e.var, "ADMIN_PREFIX", "{bad:?}");
    }
}

#[test]
fn admin_prefix_matches_whole_segments() {
    let p = AdminPrefix::default();
    assert_eq!(p.strip("/_keygate"), Some(""));
    assert_eq!(p.strip("/_keygate/v1/health"), Some("/v1/health"));
    assert_eq!(p.strip("/_keygatex"), None);
    assert_eq!(p.strip("/api/_keygate"), None);
}

#[test]
fn rate_limit_bounds_default_to_todays_or_come_from_the_variable() {
    use crate::domain::limits::bounds::LimitBounds;
    let c = config(&[("ORIGIN", "http://x")]).unwrap();
    assert_eq!(c.limit_bounds, LimitBounds::default());
    let z8 = config(&[
        ("ORIGIN", "http://x"),
        (
            "RATE_LIMIT_BOUNDS",
            r#"{"max_limit":10000,"max_window_seconds":3600}"#,
        ),
    ])
    .unwrap();
    assert_eq!(z8.limit_bounds, LimitBounds::new(10_000, 1, 3_600).unwrap());
    let e = config(&[
        ("ORIGIN", "http://x"),
        ("RATE_LIMIT_BOUNDS", r#"{"max_limit":0}"#),
    ])
    .unwrap_err();
    assert_eq!(e.var, "RATE_LIMIT_BOUNDS");
}

#[test]
fn plans_default_to_todays_or_come_from_the_variable() {
    use crate::domain::Plan;
    let c = config(&[("ORIGIN", "http://x")]).unwrap();
    assert_eq!(c.plans, Plans::default());
    let zenovay = config(&[
        ("ORIGIN", "http://x"),
        ("PLANS", r#"{"free":{"api_access":false}}"#),
    ])
    .unwrap();
    assert!(!zenovay.plans.get(Plan::Free).api_access);
    let e = config(&[("ORIGIN", "http://x"), ("PLANS", r#"{"gold":{}}"#)]).unwrap_err();
    assert_eq!(e.var, "PLANS");
}

#[test]
fn settings_of_the_wrong_shape_say_what_is_expected() {
    let e = config(&[
        ("ORIGIN", "http://x"),
        ("PLANS", r#"{"free":{"key_limit":-1}}"#),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("a whole number of keys"), "{e}");
    assert!(!e.to_string().contains("untagged"), "{e}");
    let e = config(&[
        ("ORIGIN", "http://x"),
        (
            "POLICY",
            r#"{"rules":[{"method":5,"path":"/a","resource":"a"}]}"#,
        ),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("a name or a list of names"), "{e}");
}
