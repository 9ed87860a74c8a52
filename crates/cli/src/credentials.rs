//! The management credentials: read once at start from flags or the environment; whatever is unset
//! is taken from `<data-dir>/credentials.json`, or generated into it (mode 0600) and announced once.
//! A blank value is refused wherever it comes from, and a credentials file that cannot be read or
//! parsed stops the start rather than being replaced. The file holds only generated credentials.

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use edgekv_api::credentials::check;
use edgekv_api::{Credentials, InvalidCredential, Secret};
use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The file in the data dir that holds generated credentials.
const FILE: &str = "credentials.json";

/// Credentials given on the command line or in the environment. A blank value is refused.
#[derive(Clone, Default, Args)]
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

/// Shows which credentials were given, and the values of those that are not secret.
impl std::fmt::Debug for CredentialArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("CredentialArgs");
        for field in Field::ALL {
            match (field.given(self), field.is_secret()) {
                (Some(_), true) => out.field(field.key(), &"(given)"),
                (value, _) => out.field(field.key(), &value),
            };
        }
        out.finish()
    }
}

/// One credential: its flag, variable and key in the credentials file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ApiToken,
    CloudflareAccountId,
    AwsAccessKeyId,
    AwsSecretAccessKey,
    AwsAccountId,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::ApiToken,
        Field::CloudflareAccountId,
        Field::AwsAccessKeyId,
        Field::AwsSecretAccessKey,
        Field::AwsAccountId,
    ];

    fn key(self) -> &'static str {
        match self {
            Field::ApiToken => "api_token",
            Field::CloudflareAccountId => "cloudflare_account_id",
            Field::AwsAccessKeyId => "aws_access_key_id",
            Field::AwsSecretAccessKey => "aws_secret_access_key",
            Field::AwsAccountId => "aws_account_id",
        }
    }

    fn var(self) -> String {
        format!("EDGEKV_{}", self.key().to_ascii_uppercase())
    }

    fn flag(self) -> String {
        format!("--{}", self.key().replace('_', "-"))
    }

    fn is_secret(self) -> bool {
        matches!(self, Field::ApiToken | Field::AwsSecretAccessKey)
    }

    fn given(self, args: &CredentialArgs) -> Option<&str> {
        match self {
            Field::ApiToken => args.api_token.as_deref(),
            Field::CloudflareAccountId => args.cloudflare_account_id.as_deref(),
            Field::AwsAccessKeyId => args.aws_access_key_id.as_deref(),
            Field::AwsSecretAccessKey => args.aws_secret_access_key.as_deref(),
            Field::AwsAccountId => args.aws_account_id.as_deref(),
        }
    }

    fn generate(self) -> String {
        let mut rng = rand::rng();
        let mut from = |alphabet: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
                .collect()
        };
        match self {
            Field::ApiToken | Field::AwsSecretAccessKey => {
                Alphanumeric.sample_string(&mut rand::rng(), 40)
            }
            Field::CloudflareAccountId => from(b"0123456789abcdef", 32),
            Field::AwsAccessKeyId => {
                format!("AKIA{}", from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
            }
            Field::AwsAccountId => from(b"0123456789", 12),
        }
    }
}

/// `credentials.json`: the credentials generated so far, by field.
#[derive(Default, Serialize)]
struct Saved {
    #[serde(skip_serializing_if = "Option::is_none")]
    api_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudflare_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_secret_access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_account_id: Option<String>,
}

impl Saved {
    fn slot(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::ApiToken => &mut self.api_token,
            Field::CloudflareAccountId => &mut self.cloudflare_account_id,
            Field::AwsAccessKeyId => &mut self.aws_access_key_id,
            Field::AwsSecretAccessKey => &mut self.aws_secret_access_key,
            Field::AwsAccountId => &mut self.aws_account_id,
        }
    }
}

/// The credentials in effect, and which of them this start generated.
#[derive(Debug)]
pub struct Resolved {
    pub credentials: Credentials,
    generated: Vec<Field>,
    file: PathBuf,
}

/// Resolves the credentials: flags and environment win; anything unset comes from
/// `<data-dir>/credentials.json`, where a value is generated the first time it is needed.
pub fn resolve(args: &CredentialArgs, data_dir: &Path) -> Result<Resolved> {
    for field in Field::ALL {
        if let Some(value) = field.given(args) {
            check(value).map_err(|e| given_error(field, e, data_dir))?;
        }
    }
    let file = data_dir.join(FILE);
    let everything_given = Field::ALL.iter().all(|f| f.given(args).is_some());
    let mut saved = match everything_given {
        true => Saved::default(),
        false => load(&file)?,
    };
    let mut generated = Vec::new();
    let mut values: [String; 5] = Default::default();
    for field in Field::ALL {
        values[field as usize] = match (field.given(args), saved.slot(field)) {
            (Some(given), _) => given.to_string(),
            (None, Some(stored)) => {
                check(stored).map_err(|e| {
                    anyhow!(
                        "{}: {:?} {e}; fix it, or move the file away to generate new credentials",
                        file.display(),
                        field.key()
                    )
                })?;
                stored.clone()
            }
            (None, slot @ None) => {
                generated.push(field);
                slot.insert(field.generate()).clone()
            }
        };
    }
    if !generated.is_empty() {
        save(&file, &saved)?;
    }
    let mut take = |field: Field| std::mem::take(&mut values[field as usize]);
    let credentials = Credentials {
        api_token: Secret::new(take(Field::ApiToken))?,
        cloudflare_account_id: take(Field::CloudflareAccountId),
        aws_access_key_id: take(Field::AwsAccessKeyId),
        aws_secret_access_key: Secret::new(take(Field::AwsSecretAccessKey))?,
        aws_account_id: take(Field::AwsAccountId),
    };
    Ok(Resolved {
        credentials,
        generated,
        file,
    })
}

/// The API token a server on `data_dir` saved, for a command that calls that server.
pub fn saved_api_token(data_dir: &Path) -> Result<String> {
    let file = data_dir.join(FILE);
    load(&file)?
        .api_token
        .filter(|token| check(token).is_ok())
        .ok_or_else(|| {
            anyhow!(
                "no API token in {}: give --token or EDGEKV_API_TOKEN (the server's token)",
                file.display()
            )
        })
}

fn given_error(field: Field, e: InvalidCredential, data_dir: &Path) -> anyhow::Error {
    anyhow!(
        "{} ({}) {e}: give it a non-blank value, or unset it to have one generated into {}",
        field.var(),
        field.flag(),
        data_dir.join(FILE).display()
    )
}

/// Reads the credentials file; a missing one is empty. One that cannot be read or parsed is an
/// error: replacing it would lose the credentials clients were given.
fn load(file: &Path) -> Result<Saved> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(e) => bail!(
            "cannot read {}: {e}; edgekv does not replace it (clients may hold the credentials in \
             it): make it readable, or move it away to generate new credentials",
            file.display()
        ),
    };
    parse(&bytes).map_err(|problem| {
        anyhow!(
            "{} is not a valid credentials file ({problem}); fix it, or move it away to generate \
             new credentials",
            file.display()
        )
    })
}

/// Parses the file: one JSON object of credential fields, each a string. What is wrong is
/// described without quoting any value.
fn parse(bytes: &[u8]) -> Result<Saved, String> {
    let object: Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => "it is not a JSON object".to_string(),
            _ => e.to_string(),
        })?;
    let mut saved = Saved::default();
    for (key, value) in object {
        let field = Field::ALL
            .into_iter()
            .find(|f| f.key() == key)
            .ok_or_else(|| format!("unknown field {key:?}"))?;
        let Value::String(value) = value else {
            return Err(format!("{key:?} is not a string"));
        };
        *saved.slot(field) = Some(value);
    }
    Ok(saved)
}

/// Writes the file whole (a temporary file renamed over it), mode 0600 from its creation.
fn save(file: &Path, saved: &Saved) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = file.with_extension("json.tmp");
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", tmp.display()))
        }
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = || -> std::io::Result<()> {
        let mut out = options.open(&tmp)?;
        out.write_all(serde_json::to_string_pretty(saved)?.as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&tmp, file)
    };
    write().with_context(|| format!("writing {}", file.display()))
}

impl Resolved {
    /// What to print at start when this start generated credentials: which ones, where, and
    /// ready-to-paste client settings for the management APIs at `url`. A secret that was given is
    /// shown as its variable, never as its value.
    pub fn announcement(&self, url: &str) -> Option<String> {
        if self.generated.is_empty() {
            return None;
        }
        let names: Vec<String> = self.generated.iter().map(|f| f.var()).collect();
        let c = &self.credentials;
        let token = self.shown(Field::ApiToken, c.api_token.expose());
        let secret = self.shown(Field::AwsSecretAccessKey, c.aws_secret_access_key.expose());
        Some(format!(
            "generated {} into {} (mode 0600); client settings:\n  \
             Cloudflare: CLOUDFLARE_API_BASE_URL={url}/client/v4 CLOUDFLARE_API_TOKEN={token} CLOUDFLARE_ACCOUNT_ID={}\n  \
             Telnyx:     base_url={url}/v2 api_key={token}\n  \
             AWS:        endpoint_url={url} AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={secret} (account {})",
            names.join(", "),
            self.file.display(),
            c.cloudflare_account_id,
            c.aws_access_key_id,
            c.aws_account_id,
        ))
    }

    fn shown(&self, field: Field, value: &str) -> String {
        match !field.is_secret() || self.generated.contains(&field) {
            true => value.to_string(),
            false => format!("${}", field.var()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_given() -> CredentialArgs {
        CredentialArgs {
            api_token: Some("given-token".into()),
            cloudflare_account_id: Some("0123456789abcdef0123456789abcdef".into()),
            aws_access_key_id: Some("AKIAGIVEN".into()),
            aws_secret_access_key: Some("given-secret".into()),
            aws_account_id: Some("123456789012".into()),
        }
    }

    fn set(args: &mut CredentialArgs, field: Field, value: Option<&str>) {
        let slot = match field {
            Field::ApiToken => &mut args.api_token,
            Field::CloudflareAccountId => &mut args.cloudflare_account_id,
            Field::AwsAccessKeyId => &mut args.aws_access_key_id,
            Field::AwsSecretAccessKey => &mut args.aws_secret_access_key,
            Field::AwsAccountId => &mut args.aws_account_id,
        };
        *slot = value.map(str::to_string);
    }

    #[test]
    fn a_blank_given_value_is_refused_and_named() {
        for field in Field::ALL {
            for blank in ["", " ", "\t", "\n"] {
                let dir = tempfile::tempdir().unwrap();
                let data = dir.path().join("data");
                let mut args = all_given();
                set(&mut args, field, Some(blank));
                let message = resolve(&args, &data).unwrap_err().to_string();
                assert!(message.contains(&field.var()), "{message}");
                assert!(message.contains(&field.flag()), "{message}");
                assert!(!data.exists(), "nothing is written before refusing");
            }
        }
    }

    #[test]
    fn all_given_generates_nothing_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let resolved = resolve(&all_given(), dir.path()).unwrap();
        assert!(resolved.announcement("http://h").is_none());
        assert!(!dir.path().join(FILE).exists());
        assert!(resolved.credentials.api_token.matches(b"given-token"));
        assert!(resolved
            .credentials
            .aws_secret_access_key
            .matches(b"given-secret"));
    }

    #[test]
    fn only_what_is_missing_is_generated_saved_and_announced() {
        for field in Field::ALL {
            let dir = tempfile::tempdir().unwrap();
            let mut args = all_given();
            set(&mut args, field, None);
            let resolved = resolve(&args, dir.path()).unwrap();
            let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
            let saved: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&text).unwrap();
            assert_eq!(saved.keys().collect::<Vec<_>>(), [field.key()]);
            let announced = resolved.announcement("http://admin:1").unwrap();
            assert!(announced.contains(&field.var()), "{announced}");
            for other in Field::ALL.into_iter().filter(|f| *f != field) {
                assert!(!announced.contains(&format!("generated {}", other.var())));
            }
            for secret in ["given-token", "given-secret"] {
                assert!(!announced.contains(secret), "{announced}");
            }
            assert!(announced.contains(saved[field.key()].as_str().unwrap()));
            assert!(!announced.contains("http://h"), "{announced}");

            // The next start reads it back and generates nothing.
            let again = resolve(&args, dir.path()).unwrap();
            assert!(again.announcement("http://h").is_none());
            assert_eq!(
                std::fs::read_to_string(dir.path().join(FILE)).unwrap(),
                text
            );
        }
    }

    #[test]
    fn a_given_secret_is_announced_as_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = all_given();
        set(&mut args, Field::AwsAccountId, None);
        let announced = resolve(&args, dir.path())
            .unwrap()
            .announcement("http://h:1")
            .unwrap();
        assert!(announced.contains("CLOUDFLARE_API_TOKEN=$EDGEKV_API_TOKEN"));
        assert!(announced.contains("AWS_SECRET_ACCESS_KEY=$EDGEKV_AWS_SECRET_ACCESS_KEY"));
        assert!(announced.contains("CLOUDFLARE_API_BASE_URL=http://h:1/client/v4"));
    }

    #[test]
    fn an_unparsable_or_blank_file_stops_the_start_and_is_kept() {
        let cases = [
            "",
            "{",
            "not json",
            "[]",
            r#"{"api_token": 5}"#,
            r#"{"api_token": "tok", "extra": "x"}"#,
            r#"{"api_token": ""}"#,
            r#"{"api_token": "   "}"#,
            r#"{"aws_secret_access_key": " padded-secret "}"#,
        ];
        for text in cases {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(FILE);
            std::fs::write(&file, text).unwrap();
            let message = resolve(&CredentialArgs::default(), dir.path())
                .unwrap_err()
                .to_string();
            assert!(message.contains(FILE), "{text:?}: {message}");
            assert!(!message.contains("padded-secret"), "{message}");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        }
    }

    #[test]
    fn an_unreadable_file_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(FILE)).unwrap();
        let message = resolve(&CredentialArgs::default(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(message.contains("cannot read"), "{message}");
        assert!(dir.path().join(FILE).is_dir());
    }

    #[test]
    fn a_file_of_the_old_format_with_every_field_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"api_token":"saved-token","cloudflare_account_id":"0123456789abcdef0123456789abcdef",
            "aws_access_key_id":"AKIASAVED","aws_secret_access_key":"saved-secret","aws_account_id":"123456789012"}"#;
        std::fs::write(dir.path().join(FILE), old).unwrap();
        let resolved = resolve(&CredentialArgs::default(), dir.path()).unwrap();
        assert!(resolved.announcement("http://h").is_none());
        assert!(resolved.credentials.api_token.matches(b"saved-token"));
    }

    #[test]
    fn debug_does_not_show_a_given_secret() {
        let shown = format!("{:?}", all_given());
        assert!(!shown.contains("given-token") && !shown.contains("given-secret"));
        assert!(shown.contains("AKIAGIVEN"), "{shown}");
    }

    #[test]
    fn generated_values_have_their_documented_shapes() {
        for _ in 0..100 {
            let hex = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            };
            let account = Field::CloudflareAccountId.generate();
            assert!(account.len() == 32 && hex(&account), "{account}");
            let aws_account = Field::AwsAccountId.generate();
            assert!(aws_account.len() == 12 && aws_account.bytes().all(|b| b.is_ascii_digit()));
            let key_id = Field::AwsAccessKeyId.generate();
            assert!(key_id.len() == 20 && key_id.starts_with("AKIA"), "{key_id}");
            for field in Field::ALL {
                assert_eq!(check(&field.generate()), Ok(()));
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_file_and_a_new_data_dir_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a").join("data");
        resolve(&CredentialArgs::default(), &data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data.join(FILE)), 0o600);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
    }
}
