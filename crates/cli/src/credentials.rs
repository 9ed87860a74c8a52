//! The management credentials: read once at start from flags or the environment; whatever is unset
//! is taken from `<data-dir>/credentials.json`, or generated there (mode 0600) on first start.

use anyhow::{Context, Result};
use clap::Args;
use edgekv_api::Credentials;
use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;
use std::path::Path;

/// Credentials given on the command line or in the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct CredentialArgs {
    /// Bearer token for the Cloudflare and Telnyx APIs (Cloudflare's X-Auth-Key too).
    #[arg(long, env = "EDGEKV_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// The Cloudflare account id accepted in API paths (32 hex digits).
    #[arg(long, env = "EDGEKV_CLOUDFLARE_ACCOUNT_ID")]
    pub cloudflare_account_id: Option<String>,
    /// AWS access key id that CloudFront requests must be signed with.
    #[arg(long, env = "EDGEKV_AWS_ACCESS_KEY_ID")]
    pub aws_access_key_id: Option<String>,
    /// AWS secret access key that CloudFront requests must be signed with.
    #[arg(long, env = "EDGEKV_AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub aws_secret_access_key: Option<String>,
    /// AWS account id used in key value store ARNs (12 digits).
    #[arg(long, env = "EDGEKV_AWS_ACCOUNT_ID")]
    pub aws_account_id: Option<String>,
}

/// Resolves the credentials: flags and environment win; anything unset comes from
/// `<data-dir>/credentials.json`, which the first start fills with generated values (mode 0600).
/// Returns them and whether the file was generated now.
pub fn resolve(args: &CredentialArgs, data_dir: &Path) -> Result<(Credentials, bool)> {
    let file = data_dir.join("credentials.json");
    let (saved, generated) = match std::fs::read_to_string(&file) {
        Ok(text) => (
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?,
            false,
        ),
        Err(_) => {
            let fresh = generate();
            save(&file, &fresh)?;
            (fresh, true)
        }
    };
    let pick = |given: &Option<String>, saved: String| given.clone().unwrap_or(saved);
    let Credentials {
        api_token,
        cloudflare_account_id,
        aws_access_key_id,
        aws_secret_access_key,
        aws_account_id,
    } = saved;
    let credentials = Credentials {
        api_token: pick(&args.api_token, api_token),
        cloudflare_account_id: pick(&args.cloudflare_account_id, cloudflare_account_id),
        aws_access_key_id: pick(&args.aws_access_key_id, aws_access_key_id),
        aws_secret_access_key: pick(&args.aws_secret_access_key, aws_secret_access_key),
        aws_account_id: pick(&args.aws_account_id, aws_account_id),
    };
    Ok((credentials, generated))
}

fn generate() -> Credentials {
    let mut rng = rand::rng();
    let hex = |rng: &mut rand::rngs::ThreadRng, n: usize| {
        (0..n)
            .map(|_| format!("{:x}", rng.random_range(0..16u8)))
            .collect::<String>()
    };
    let upper = |rng: &mut rand::rngs::ThreadRng, n: usize| {
        Alphanumeric.sample_string(rng, n).to_ascii_uppercase()
    };
    Credentials {
        api_token: Alphanumeric.sample_string(&mut rng, 40),
        cloudflare_account_id: hex(&mut rng, 32),
        aws_access_key_id: format!("AKIA{}", upper(&mut rng, 16)),
        aws_secret_access_key: Alphanumeric.sample_string(&mut rng, 40),
        aws_account_id: (0..12)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect(),
    }
}

fn save(file: &Path, credentials: &Credentials) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut out = options
        .open(file)
        .with_context(|| format!("writing {}", file.display()))?;
    out.write_all(serde_json::to_string_pretty(credentials)?.as_bytes())?;
    Ok(())
}

/// The lines printed at start so clients can be configured by pasting them.
pub fn client_settings(c: &Credentials, url: &str) -> String {
    format!(
        "  Cloudflare: CLOUDFLARE_API_BASE_URL={url}/client/v4 CLOUDFLARE_API_TOKEN={} CLOUDFLARE_ACCOUNT_ID={}\n  \
         Telnyx:     base_url={url}/v2 api_key={}\n  \
         AWS:        endpoint_url={url} AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} (account {})",
        c.api_token, c.cloudflare_account_id, c.api_token, c.aws_access_key_id, c.aws_secret_access_key, c.aws_account_id
    )
}
