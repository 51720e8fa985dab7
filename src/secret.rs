//! Secrets that must never be printed: the venue API key and bearer tokens.
//!
//! [`ApiKey`] wraps the key so that `Debug`, `Display` and serialization all print a fixed
//! redaction marker. The only way to read the key is [`ApiKey::expose`], which callers use
//! exactly where the key goes onto the wire (the `Authorization` header) or is compared.
//!
//! # Invariants
//! - No formatting or serialization path reveals the key, so a config dump, an error or a
//!   `Debug`-logged struct that holds an `ApiKey` is safe to print.
//! - Comparison runs over every byte, so timing does not reveal a matching prefix.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What every printing path shows instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// Environment variable that carries the venue API key.
pub const API_KEY_ENV: &str = "PURPLE_FLEA_API_KEY";

/// A venue API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; empty or whitespace-only keys are treated as absent.
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            None
        } else {
            Some(Self(trimmed.to_owned()))
        }
    }

    /// Reads the key from [`API_KEY_ENV`], if set and non-empty.
    pub fn from_env() -> Option<Self> {
        std::env::var(API_KEY_ENV).ok().and_then(Self::new)
    }

    /// The key itself, for the `Authorization` header. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks a presented bearer token against this key, touching every byte.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, byte) in a.iter().enumerate() {
            diff |= usize::from(byte ^ b.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for ApiKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for ApiKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::new(raw).ok_or_else(|| serde::de::Error::custom("api key is empty"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: &str = "sk-SENTINEL-0123456789";

    #[test]
    fn no_printing_path_reveals_the_key() {
        let key = ApiKey::new(SENTINEL).expect("non-empty");
        for printed in [
            format!("{key:?}"),
            format!("{key}"),
            format!("{:?}", Some(key.clone())),
            serde_json::to_string(&key).expect("serializes"),
        ] {
            assert!(!printed.contains("SENTINEL"), "leaked in {printed}");
            assert!(printed.contains(REDACTED));
        }
        assert_eq!(key.expose(), SENTINEL);
    }

    #[test]
    fn matching_is_exact() {
        struct TestCase {
            presented: &'static str,
            expected: bool,
        }
        let key = ApiKey::new(SENTINEL).expect("non-empty");
        let cases = [
            // TC0: the key itself.
            TestCase {
                presented: SENTINEL,
                expected: true,
            },
            // TC1: a prefix.
            TestCase {
                presented: "sk-SENTINEL",
                expected: false,
            },
            // TC2: the key plus a suffix.
            TestCase {
                presented: "sk-SENTINEL-0123456789x",
                expected: false,
            },
            // TC3: empty.
            TestCase {
                presented: "",
                expected: false,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(key.matches(case.presented), case.expected, "TC{i}");
        }
    }

    #[test]
    fn blank_keys_are_absent() {
        assert!(ApiKey::new("   ").is_none());
        assert!(ApiKey::new("").is_none());
    }
}
