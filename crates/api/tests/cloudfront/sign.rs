//! A SigV4 (`AWS4-HMAC-SHA256`) signer for in-process CloudFront requests: any method, path,
//! query, headers and body, signed as AWS SDKs sign them (the path percent-encoded again, the
//! query's pairs encoded and sorted, the body's SHA-256), written apart from the server's own
//! canonicalisation so that a test signed here checks it. Requests are signed at the current UTC
//! time, since the server checks `X-Amz-Date` against its clock.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The `Host` the test harness sends every request with; it is always signed.
pub const HOST: &str = "127.0.0.1";
/// The region in the credential scope (SigV4 names one; the server accepts any).
const REGION: &str = "us-east-1";

/// The service a CloudFront target is signed for: the data plane's or the control plane's.
pub fn service_of(target: &str) -> &'static str {
    if target.starts_with("/key-value-stores") {
        "cloudfront-keyvaluestore"
    } else {
        "cloudfront"
    }
}

/// `headers` with `X-Amz-Date` and the `Authorization` that signs them, `Host`, `method`,
/// `target` (raw path and query) and `body` for `service` with this key pair, at `now`.
pub fn sign(
    method: &str,
    target: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
    service: &str,
    (access_key_id, secret): (&str, &str),
    now: time::OffsetDateTime,
) -> Vec<(&'static str, String)> {
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut signed: Vec<(&'static str, String)> = headers.to_vec();
    signed.push(("x-amz-date", amz_date.clone()));
    let mut canonical_headers: Vec<(String, String)> = signed
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .chain([("host".to_string(), HOST.to_string())])
        .collect();
    canonical_headers.sort();
    let names: Vec<&str> = canonical_headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed_headers = names.join(";");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let canonical = format!(
        "{method}\n{}\n{}\n{}\n{signed_headers}\n{}",
        encode(path.as_bytes(), true),
        canonical_query(query),
        canonical_headers
            .iter()
            .map(|(n, v)| format!("{n}:{v}\n"))
            .collect::<String>(),
        hex::encode(Sha256::digest(body))
    );
    let date = &amz_date[..8];
    let scope = format!("{date}/{REGION}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = [REGION, service, "aws4_request"].iter().fold(
        hmac(format!("AWS4{secret}").as_bytes(), date),
        |key, part| hmac(&key, part),
    );
    let signature = hex::encode(hmac(&key, &string_to_sign));
    signed.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, \
             SignedHeaders={signed_headers}, Signature={signature}"
        ),
    ));
    signed
}

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The query's pairs, each part decoded and encoded again, sorted by name, then value.
fn canonical_query(query: &str) -> String {
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(&decode(k), false), encode(&decode(v), false))
        })
        .collect();
    pairs.sort();
    let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

/// Every byte but the unreserved set (and `/` in a path) percent-encoded.
fn encode(bytes: &[u8], keep_slash: bool) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b'/' if keep_slash => "/".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
