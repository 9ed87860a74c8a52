//! What the two wasi:keyvalue test guests (keyvalue-draft, keyvalue-draft2) have in common, written
//! against the names each one imports from its own `wasi:keyvalue` version: `Bucket`, `Error` and
//! `batch` (the same shapes in both versions). Included by both through `#[path]`.

use super::{batch, Bucket, Error, ROUTES};
use crate::http::{json_string, Reply, Request};

pub fn ok() -> Reply {
    Reply::json(200, "{\"ok\":true}".into())
}

pub fn get(bucket: &Bucket, key: &str) -> Result<Reply, Error> {
    Ok(match bucket.get(key)? {
        Some(value) => Reply::new(200, value).header("content-type", "application/octet-stream"),
        None => Reply::json(404, "{\"error\":\"not-found\"}".into()),
    })
}

pub fn batch_route(bucket: &Bucket, req: &Request, op: &str) -> Result<Reply, Error> {
    let text = String::from_utf8_lossy(&req.body);
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    match op {
        "get" => {
            let keys: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let found = batch::get_many(bucket, &keys)?;
            let items: Vec<String> = found
                .iter()
                .map(|pair| match pair {
                    Some((key, value)) => format!("{{\"key\":{},\"value\":{}}}", json_string(key), json_value(Some(value))),
                    None => "null".into(),
                })
                .collect();
            Ok(Reply::json(200, format!("[{}]", items.join(","))))
        }
        "set" => {
            let mut pairs = Vec::new();
            for line in lines {
                let Some((key, value)) = line.split_once('\t') else {
                    return Ok(Reply::text(400, "batch/set lines are key<TAB>value"));
                };
                pairs.push((key.to_string(), value.as_bytes().to_vec()));
            }
            batch::set_many(bucket, &pairs).map(|()| ok())
        }
        "delete" => {
            let keys: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            batch::delete_many(bucket, &keys).map(|()| ok())
        }
        _ => Ok(Reply::text(404, ROUTES)),
    }
}

/// A store error as a 4xx whose body names the variant; for `other`, also the rule variant the host
/// put before the first `": "`.
pub fn error_reply(e: Error) -> Reply {
    match e {
        Error::NoSuchStore => Reply::json(404, "{\"error\":\"no-such-store\"}".into()),
        Error::AccessDenied => Reply::json(403, "{\"error\":\"access-denied\"}".into()),
        Error::Other(message) => {
            let variant = message.split_once(": ").map_or("", |(variant, _)| variant);
            let body = format!(
                "{{\"error\":\"other\",\"variant\":{},\"message\":{}}}",
                json_string(variant),
                json_string(&message)
            );
            Reply::json(400, body)
        }
    }
}

pub fn json_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| json_string(s)).collect::<Vec<_>>().join(","))
}

pub fn json_value(value: Option<&[u8]>) -> String {
    value.map_or("null".into(), |v| json_string(&String::from_utf8_lossy(v)))
}
