//! The management credentials every dialect checks: a bearer token (Cloudflare, Telnyx), the
//! Cloudflare account id in paths, and an AWS access key pair and account id (CloudFront); and the
//! one comparison they are checked with, which never accepts an empty credential.

use hyper::header::{HeaderMap, AUTHORIZATION};

/// The management credentials of one server: each given by flag or environment, or generated
/// once into `<data-dir>/credentials.json`.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `EDGEKV_API_TOKEN`: `Authorization: Bearer` for Cloudflare and Telnyx; Cloudflare's `X-Auth-Key`.
    pub api_token: Secret,
    /// `EDGEKV_CLOUDFLARE_ACCOUNT_ID`: the only account id accepted in Cloudflare paths.
    pub cloudflare_account_id: String,
    /// `EDGEKV_AWS_ACCESS_KEY_ID`.
    pub aws_access_key_id: String,
    /// `EDGEKV_AWS_SECRET_ACCESS_KEY`.
    pub aws_secret_access_key: Secret,
    /// `EDGEKV_AWS_ACCOUNT_ID`: the account in CloudFront ARNs.
    pub aws_account_id: String,
}

impl Credentials {
    /// Whether the headers carry `Authorization: Bearer <api_token>`.
    pub fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        authorization(headers).is_some_and(|(scheme, token)| {
            scheme == "bearer" && self.api_token.matches(token.as_bytes())
        })
    }
}

/// The scheme (lower-cased: schemes are case-insensitive) and the credentials (trimmed) of a
/// request's `Authorization` header, when it has one that is text.
pub fn authorization(headers: &HeaderMap) -> Option<(String, &str)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    Some((scheme.to_ascii_lowercase(), credentials.trim()))
}

/// A secret credential that a client can present: never empty, so no check can pass on an empty
/// value. Its `Debug` does not show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret, if [`check`] accepts it.
    pub fn new(value: impl Into<String>) -> Result<Secret, InvalidCredential> {
        let value = value.into();
        check(&value)?;
        Ok(Secret(value))
    }

    /// Whether `presented` is this secret, compared in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(presented, self.0.as_bytes())
    }

    /// The secret itself, to derive a signing key from or to show an operator who just generated it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Why a value cannot be a credential. The messages never include the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCredential {
    /// The value has no characters at all.
    #[error("is empty")]
    Empty,
    /// The value has characters, but only whitespace ones.
    #[error("is only whitespace")]
    Blank,
    /// The value starts or ends with whitespace.
    #[error("starts or ends with whitespace, which HTTP strips, so no client could present it")]
    Padded,
    /// The value holds a byte outside printable ASCII (space to `~`).
    #[error("holds a character other than printable ASCII, which an HTTP header cannot carry")]
    NotPrintable,
}

/// Whether `value` can be a credential: not empty or blank, printable ASCII (what an HTTP header
/// carries), and no whitespace at either end (which header parsing strips).
pub fn check(value: &str) -> Result<(), InvalidCredential> {
    if value.is_empty() {
        return Err(InvalidCredential::Empty);
    }
    if value.trim().is_empty() {
        return Err(InvalidCredential::Blank);
    }
    if value.trim() != value {
        return Err(InvalidCredential::Padded);
    }
    if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(InvalidCredential::NotPrintable);
    }
    Ok(())
}

/// Compares a presented credential with the expected one without an early exit on the first
/// differing byte. An empty `expected` matches nothing, not even an empty `presented`.
pub fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    !expected.is_empty()
        && presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn an_empty_expected_value_matches_nothing() {
        assert!(!constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"x", b""));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"x", b"x"));
        assert!(!constant_time_eq(b"x", b"y"));
        assert!(!constant_time_eq(b"xx", b"x"));
    }

    #[test]
    fn secrets_are_never_empty_blank_padded_or_unprintable() {
        assert_eq!(Secret::new("").err(), Some(InvalidCredential::Empty));
        for blank in [" ", "   ", "\t", "\n", " \r\n "] {
            assert_eq!(
                Secret::new(blank).err(),
                Some(InvalidCredential::Blank),
                "{blank:?}"
            );
        }
        for padded in [" tok", "tok ", "tok\n", "\ttok"] {
            assert_eq!(
                Secret::new(padded).err(),
                Some(InvalidCredential::Padded),
                "{padded:?}"
            );
        }
        for odd in ["to\u{0}k", "tök", "to\tk"] {
            assert_eq!(
                Secret::new(odd).err(),
                Some(InvalidCredential::NotPrintable),
                "{odd:?}"
            );
        }
        assert!(Secret::new("a b").is_ok());
        assert!(Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").is_ok());
    }

    #[test]
    fn debug_does_not_show_a_secret() {
        let secret = Secret::new("hunter2").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        let credentials = Credentials {
            api_token: secret.clone(),
            cloudflare_account_id: "0123456789abcdef0123456789abcdef".into(),
            aws_access_key_id: "AKIDEXAMPLE".into(),
            aws_secret_access_key: Secret::new("aws-hunter3").unwrap(),
            aws_account_id: "123456789012".into(),
        };
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("aws-hunter3"));
    }

    /// Every presented value, empty and blank ones included, matches a secret only if it is the
    /// secret.
    #[test]
    fn a_secret_matches_only_itself() {
        let candidates = ["", " ", "t", "to", "tok", "tok ", "tokk", "Tok", "\u{0}"];
        for expected in candidates {
            let Ok(secret) = Secret::new(expected) else {
                continue;
            };
            for presented in candidates {
                assert_eq!(
                    secret.matches(presented.as_bytes()),
                    presented == expected,
                    "{presented:?} against {expected:?}"
                );
            }
        }
    }

    /// Credentials whose API token is `token`.
    fn with_token(token: &str) -> Credentials {
        Credentials {
            api_token: Secret::new(token).unwrap(),
            cloudflare_account_id: String::new(),
            aws_access_key_id: String::new(),
            aws_secret_access_key: Secret::new("s").unwrap(),
            aws_account_id: String::new(),
        }
    }

    /// Headers with this `Authorization` value.
    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn an_empty_bearer_is_refused() {
        let credentials = with_token("tok");
        assert!(credentials.bearer_ok(&with("Bearer tok")));
        assert!(!credentials.bearer_ok(&with("Bearer ")));
        assert!(!credentials.bearer_ok(&with("Bearer  ")));
        assert!(!credentials.bearer_ok(&with("Bearer")));
        assert!(!credentials.bearer_ok(&HeaderMap::new()));
    }

    /// Authentication schemes are case-insensitive (RFC 9110, 11.1): every spelling of Bearer is
    /// read the same way, and only the scheme is; the token is compared exactly.
    #[test]
    fn the_scheme_is_read_in_any_case_and_the_token_exactly() {
        let credentials = with_token("Tok");
        for accepted in ["Bearer Tok", "bearer Tok", "BEARER Tok", "Bearer  Tok "] {
            assert!(credentials.bearer_ok(&with(accepted)), "{accepted:?}");
        }
        for refused in ["Bearer tok", "Basic Tok", "BearerTok", "Tok"] {
            assert!(!credentials.bearer_ok(&with(refused)), "{refused:?}");
        }
    }
}
