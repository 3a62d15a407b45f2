//! Who is asking, for per-client budgets: the address Cloudflare saw (`CF-Connecting-IP`),
//! grouped so that one party cannot pose as millions of clients.
//!
//! - IPv4: the address.
//! - IPv6: its /64 network. One host commonly holds a whole /64 (2^64 addresses), so counting
//!   single addresses would give it unlimited budgets. An IPv4-mapped IPv6 address counts as
//!   its IPv4 address.
//! - No header (a request that did not come through Cloudflare's edge, e.g. local tools): one
//!   shared bucket for all of them.
//! - Anything else (not an address): its first 64 bytes, so a huge header cannot grow memory.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use crate::domain::limits::usage::truncate;

/// The bucket a request's budget is counted in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ClientId(String);

/// Longest client id kept from a header that is not an address.
const MAX_ID_BYTES: usize = 64;

impl ClientId {
    /// The header that names the client's address.
    pub const HEADER: &'static str = "cf-connecting-ip";

    /// The client of a request whose `CF-Connecting-IP` header is `header`.
    pub fn from_header(header: Option<&str>) -> ClientId {
        let Some(text) = header.map(str::trim) else {
            return ClientId::default();
        };
        match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => ClientId(v4.to_string()),
            Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientId(v4.to_string()),
                None => {
                    let s = v6.segments();
                    let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    ClientId(format!("{net}/64"))
                }
            },
            Err(_) => {
                let mut id = format!("?{text}");
                truncate(&mut id, MAX_ID_BYTES);
                ClientId(id)
            }
        }
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(no client address)")
        } else {
            f.write_str(&self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(header: Option<&str>) -> String {
        ClientId::from_header(header).to_string()
    }

    #[test]
    fn addresses_group_as_the_clients_they_are() {
        assert_eq!(id(Some("203.0.113.9")), "203.0.113.9");
        assert_eq!(id(Some(" 203.0.113.9 ")), "203.0.113.9");
        assert_eq!(id(Some("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            id(Some("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            "2001:db8:1:2::/64",
            "a whole /64 is one client"
        );
        assert_ne!(id(Some("2001:db8:1:3::1")), "2001:db8:1:2::/64");
        assert_eq!(id(Some("::ffff:198.51.100.7")), "198.51.100.7");
        assert_eq!(id(None), "(no client address)");
        assert_eq!(ClientId::from_header(None), ClientId::default());
        assert_ne!(
            ClientId::from_header(Some("")),
            ClientId::from_header(None),
            "an empty header is not the shared bucket of requests without one"
        );
        let huge = "x".repeat(100_000);
        assert!(id(Some(&huge)).len() <= 64);
    }
}
