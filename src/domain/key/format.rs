//! API keys: generation, parsing, checksum and masking.
//!
//! A key reads `<prefix>_<random><checksum>`, e.g. `kg_live_3hR9…` (the GitHub token design):
//! - `prefix`: the deployment's `KEY_PREFIX`, 1–32 characters of `[A-Za-z0-9_]`, neither
//!   starting nor ending with `_`;
//! - `random`: [`RANDOM_LEN`] base62 characters from the platform CSPRNG (190 bits);
//! - `checksum`: the CRC32 of `prefix_random`, as [`CHECKSUM_LEN`] base62 digits, zero-padded.
//!
//! Base62 has no `_`, so the last `_` splits the prefix from the body without ambiguity. The
//! checksum lets the gateway refuse a mistyped or made-up string with no storage lookup; it is
//! not a secret and does not protect against forgery (the SHA-256 lookup does that).
//!
//! Parsing accepts any well-formed prefix, not only the configured one, so changing
//! `KEY_PREFIX` does not lock out keys issued before the change.

use std::fmt;
use std::str::FromStr;

/// Base62 characters of randomness in a generated key (32 × log2(62) ≈ 190 bits).
pub const RANDOM_LEN: usize = 32;
/// Fewest random characters a key may have and still parse (≈ 178 bits).
pub const MIN_RANDOM_LEN: usize = 30;
/// Most random characters a key may have and still parse; bounds the work per request.
pub const MAX_RANDOM_LEN: usize = 64;
/// Base62 digits of the CRC32 checksum (62^6 > 2^32).
pub const CHECKSUM_LEN: usize = 6;
/// Longest accepted prefix.
pub const MAX_PREFIX_LEN: usize = 32;
/// Random characters shown by [`ApiKey::start`].
pub const START_VISIBLE: usize = 4;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A validated key prefix such as `kg_live`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// The prefix as written in keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for KeyPrefix {
    fn default() -> Self {
        KeyPrefix("kg_live".to_owned())
    }
}

impl FromStr for KeyPrefix {
    type Err = KeyFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= MAX_PREFIX_LEN
            && !s.starts_with('_')
            && !s.ends_with('_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(KeyPrefix(s.to_owned()))
        } else {
            Err(KeyFormatError::BadPrefix)
        }
    }
}

/// Why a string is not a well-formed key. Logged, never sent: every variant is the same
/// `malformed_api_key` to the client.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeyFormatError {
    /// No `_` separates a prefix from the body.
    NoPrefix,
    /// The prefix is empty, too long or has characters outside `[A-Za-z0-9_]`.
    BadPrefix,
    /// The body has a character outside base62.
    BadCharacter,
    /// The body is shorter or longer than any key keygate issues.
    BadLength,
    /// The checksum does not match: a typo, a truncation or a made-up string.
    ChecksumMismatch,
}

impl fmt::Display for KeyFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFormatError::NoPrefix => "no prefix separator",
            KeyFormatError::BadPrefix => "invalid prefix",
            KeyFormatError::BadCharacter => "non-base62 character in body",
            KeyFormatError::BadLength => "body length out of range",
            KeyFormatError::ChecksumMismatch => "checksum mismatch",
        })
    }
}

/// A well-formed API key: prefix, random part and a matching checksum. Holding one proves
/// the format, not that the key exists. `Debug` and `Display` show only the start.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    text: String,
    /// Byte index of the `_` that ends the prefix.
    split: usize,
}

impl ApiKey {
    /// Parses and checks a key as a client sent it (no trimming: callers trim header values).
    pub fn parse(text: &str) -> Result<ApiKey, KeyFormatError> {
        let split = text.rfind('_').ok_or(KeyFormatError::NoPrefix)?;
        let body = &text.as_bytes()[split + 1..];
        if body.len() < MIN_RANDOM_LEN + CHECKSUM_LEN || body.len() > MAX_RANDOM_LEN + CHECKSUM_LEN
        {
            return Err(KeyFormatError::BadLength);
        }
        if !body.iter().all(u8::is_ascii_alphanumeric) {
            return Err(KeyFormatError::BadCharacter);
        }
        KeyPrefix::from_str(&text[..split])?;
        let (signed, checksum) = text.split_at(text.len() - CHECKSUM_LEN);
        if encode_checksum(crc32fast::hash(signed.as_bytes())).as_slice() != checksum.as_bytes() {
            return Err(KeyFormatError::ChecksumMismatch);
        }
        Ok(ApiKey {
            text: text.to_owned(),
            split,
        })
    }

    /// Generates a fresh key with the platform CSPRNG.
    pub fn generate(prefix: &KeyPrefix) -> Result<ApiKey, getrandom::Error> {
        Self::generate_with(prefix, getrandom::fill)
    }

    /// Generates a key from `fill`, a source of random bytes. Base62 characters are drawn by
    /// rejection sampling (bytes ≥ 248 are discarded) so each is uniform.
    pub fn generate_with<E>(
        prefix: &KeyPrefix,
        mut fill: impl FnMut(&mut [u8]) -> Result<(), E>,
    ) -> Result<ApiKey, E> {
        let mut text = String::with_capacity(prefix.0.len() + 1 + RANDOM_LEN + CHECKSUM_LEN);
        text.push_str(&prefix.0);
        text.push('_');
        let split = prefix.0.len();
        let mut buf = [0u8; 48];
        let mut drawn = 0;
        while drawn < RANDOM_LEN {
            fill(&mut buf)?;
            for &b in buf.iter().filter(|&&b| b < 248) {
                if drawn == RANDOM_LEN {
                    break;
                }
                text.push(BASE62[usize::from(b % 62)] as char);
                drawn += 1;
            }
        }
        let checksum = encode_checksum(crc32fast::hash(text.as_bytes()));
        text.extend(checksum.iter().map(|&b| b as char));
        Ok(ApiKey { text, split })
    }

    /// The whole secret. Only hashing and the one response that hands a new key out use it.
    pub fn expose_secret(&self) -> &str {
        &self.text
    }

    /// The prefix, e.g. `kg_live`.
    pub fn prefix(&self) -> &str {
        &self.text[..self.split]
    }

    /// The display form: prefix, `_`, the first [`START_VISIBLE`] random characters and `…`.
    pub fn start(&self) -> String {
        format!("{}…", &self.text[..self.split + 1 + START_VISIBLE])
    }

    /// The first layout's name of [`start`](ApiKey::start), kept for the benches and fuzz
    /// targets that call it.
    #[doc(hidden)]
    pub fn mask(&self) -> String {
        self.start()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.start())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.start())
    }
}

/// Big-endian base62 digits of `crc`, zero-padded to [`CHECKSUM_LEN`].
fn encode_checksum(mut crc: u32) -> [u8; CHECKSUM_LEN] {
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prefix() -> KeyPrefix {
        KeyPrefix::default()
    }

    fn key_from_seed(seed: u8) -> ApiKey {
        let mut n = seed;
        ApiKey::generate_with(&prefix(), |buf: &mut [u8]| {
            for b in buf.iter_mut() {
                n = n.wrapping_mul(31).wrapping_add(7);
                *b = n;
            }
            Ok::<_, ()>(())
        })
        .unwrap()
    }

    #[test]
    fn generated_key_has_the_documented_shape() {
        let key = ApiKey::generate(&prefix()).unwrap();
        let text = key.expose_secret();
        assert!(text.starts_with("kg_live_"));
        assert_eq!(text.len(), "kg_live_".len() + RANDOM_LEN + CHECKSUM_LEN);
        assert_eq!(key.prefix(), "kg_live");
        assert_eq!(ApiKey::parse(text).unwrap(), key);
    }

    #[test]
    fn two_generated_keys_differ() {
        assert_ne!(
            ApiKey::generate(&prefix()).unwrap(),
            ApiKey::generate(&prefix()).unwrap()
        );
    }

    #[test]
    fn checksum_is_zero_padded_base62() {
        assert_eq!(&encode_checksum(0), b"000000");
        assert_eq!(&encode_checksum(61), b"00000z");
        assert_eq!(&encode_checksum(62), b"000010");
        assert_eq!(&encode_checksum(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn malformed_strings_are_refused_with_a_reason() {
        let good = key_from_seed(1);
        let text = good.expose_secret();
        let cases: &[(&str, KeyFormatError)] = &[
            ("", KeyFormatError::NoPrefix),
            ("nounderscore", KeyFormatError::NoPrefix),
            ("kg_live_", KeyFormatError::BadLength),
            ("kg_live_abc", KeyFormatError::BadLength),
            (&text[..text.len() - 1], KeyFormatError::ChecksumMismatch),
        ];
        for (input, want) in cases {
            assert_eq!(ApiKey::parse(input), Err(*want), "{input:?}");
        }
        let body = &text["kg_live_".len()..];
        assert_eq!(
            ApiKey::parse(&format!("kg-live_{body}")),
            Err(KeyFormatError::BadPrefix)
        );
        assert_eq!(
            ApiKey::parse(&format!("_{body}")),
            Err(KeyFormatError::BadPrefix)
        );
        let with_space = format!("kg_live_{} {}", &body[..10], &body[11..]);
        assert_eq!(
            ApiKey::parse(&with_space),
            Err(KeyFormatError::BadCharacter)
        );
        let unicode = format!("kg_live_é{}", &body[2..]);
        assert_eq!(ApiKey::parse(&unicode), Err(KeyFormatError::BadCharacter));
        let long = format!("kg_live_{}", "a".repeat(MAX_RANDOM_LEN + CHECKSUM_LEN + 1));
        assert_eq!(ApiKey::parse(&long), Err(KeyFormatError::BadLength));
    }

    #[test]
    fn keys_under_another_prefix_still_parse() {
        let other: KeyPrefix = "acme_test".parse().unwrap();
        let key = ApiKey::generate(&other).unwrap();
        assert_eq!(
            ApiKey::parse(key.expose_secret()).unwrap().prefix(),
            "acme_test"
        );
    }

    #[test]
    fn prefixes_are_validated() {
        for bad in [
            "",
            "_kg",
            "kg_",
            "kg-live",
            "kg live",
            "ké",
            &"a".repeat(33),
        ] {
            assert!(bad.parse::<KeyPrefix>().is_err(), "{bad:?}");
        }
        for good in ["kg", "kg_live", "Z8", &"a".repeat(32)] {
            assert!(good.parse::<KeyPrefix>().is_ok(), "{good:?}");
        }
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let key = key_from_seed(9);
        let secret = key.expose_secret();
        for shown in [format!("{key:?}"), format!("{key}")] {
            assert!(!shown.contains(&secret["kg_live_".len()..]), "{shown}");
            assert!(shown.contains(&key.start()));
        }
    }

    proptest! {
        #[test]
        fn every_generated_key_parses(seed in any::<u8>(), p in "[A-Za-z0-9]{1,8}(_[A-Za-z0-9]{1,8}){0,2}") {
            let prefix: KeyPrefix = p.parse().unwrap();
            let mut n = seed;
            let key = ApiKey::generate_with(&prefix, |buf: &mut [u8]| {
                for b in buf.iter_mut() { n = n.wrapping_mul(167).wrapping_add(13); *b = n; }
                Ok::<_, ()>(())
            }).unwrap();
            prop_assert_eq!(ApiKey::parse(key.expose_secret()), Ok(key));
        }

        #[test]
        fn every_single_character_change_is_refused(seed in any::<u8>(), pos in 0usize..46, c in proptest::sample::select(BASE62.to_vec())) {
            let key = key_from_seed(seed);
            let mut bytes = key.expose_secret().as_bytes().to_vec();
            let pos = pos % bytes.len();
            prop_assume!(bytes[pos] != c && bytes[pos] != b'_');
            bytes[pos] = c;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(ApiKey::parse(&changed).is_err(), "{changed} accepted");
        }

        #[test]
        fn the_mask_reveals_at_most_four_random_characters(seed in any::<u8>()) {
            let key = key_from_seed(seed);
            let mask = key.start();
            let random = &key.expose_secret()["kg_live_".len()..];
            let shown = mask.trim_start_matches("kg_live_").trim_end_matches('…');
            prop_assert_eq!(shown.len(), START_VISIBLE);
            prop_assert!(random.starts_with(shown));
            // No five consecutive secret characters appear anywhere in the start.
            for w in random.as_bytes().windows(START_VISIBLE + 1) {
                prop_assert!(!mask.contains(std::str::from_utf8(w).unwrap()));
            }
        }
    }
}
