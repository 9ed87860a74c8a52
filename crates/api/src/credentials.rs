//! The management credentials every dialect checks: a bearer token (Cloudflare, Telnyx), the
//! Cloudflare account id in paths, and an AWS access key pair and account id (CloudFront).

use hyper::header::{HeaderMap, AUTHORIZATION};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// `EDGEKV_API_TOKEN`: `Authorization: Bearer` for Cloudflare and Telnyx; Cloudflare's `X-Auth-Key`.
    pub api_token: String,
    /// `EDGEKV_CLOUDFLARE_ACCOUNT_ID`: the only account id accepted in Cloudflare paths.
    pub cloudflare_account_id: String,
    /// `EDGEKV_AWS_ACCESS_KEY_ID`.
    pub aws_access_key_id: String,
    /// `EDGEKV_AWS_SECRET_ACCESS_KEY`.
    pub aws_secret_access_key: String,
    /// `EDGEKV_AWS_ACCOUNT_ID`: the account in CloudFront ARNs.
    pub aws_account_id: String,
}

impl Credentials {
    /// Whether the headers carry `Authorization: Bearer <api_token>`.
    pub fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .is_some_and(|token| {
                constant_time_eq(token.trim().as_bytes(), self.api_token.as_bytes())
            })
    }
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
