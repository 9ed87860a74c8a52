//! rust-counter: a page-view counter. Every request increments the decimal counter at key `views`
//! (or the key named by the path, `/{key}`) with a compare-and-swap on the entry's ETag, retrying
//! when another request won the race, and answers the new count.

wit_bindgen::generate!({
    world: "edgekv:kv/edge-app",
    path: "../../wit",
    generate_all,
});

use edgekv::kv::store::{Error, Namespace, Precondition, PutOptions};
use exports::wasi::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Counter;

impl Guest for Counter {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let key = match path.trim_start_matches('/') {
            "" => "views".to_string(),
            key => key.to_string(),
        };
        match increment(&key) {
            Ok(count) => respond(out, 200, format!("{count}\n")),
            Err(e) => respond(out, 500, format!("counter failed: {e:?}\n")),
        }
    }
}

export!(Counter);

/// Reads the count, writes count + 1 only if nobody wrote in between; retries until it wins.
fn increment(key: &str) -> Result<u64, Error> {
    let ns = Namespace::open("default")?;
    loop {
        let (count, precondition) = match ns.get(key)? {
            Some(entry) => {
                let count = std::str::from_utf8(&entry.value).ok().and_then(|s| s.trim().parse::<u64>().ok());
                let Some(count) = count else {
                    return Err(Error::Other(format!("{key} does not hold a decimal count")));
                };
                (count, Precondition::IfMatch(entry.etag))
            }
            None => (0, Precondition::IfAbsent),
        };
        let next = count + 1;
        let options = PutOptions { metadata: None, content_type: Some("text/plain".into()), expiration: None, precondition: Some(precondition) };
        match ns.put(key, next.to_string().as_bytes(), &options) {
            Ok(_) => return Ok(next),
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn respond(out: ResponseOutparam, status: u16, body: String) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())]).unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        let _ = stream.blocking_write_and_flush(body.as_bytes());
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
