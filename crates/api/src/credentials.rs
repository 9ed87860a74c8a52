//! The management credentials every dialect checks: a bearer token (Cloudflare, Telnyx), the
//! Cloudflare account id in paths, and an AWS access key pair and account id (CloudFront).

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
