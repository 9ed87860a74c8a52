//! What guests may not reach with outgoing HTTP: this server's own management APIs and data
//! browser (every path on the admin and browser listeners; the management prefixes on the main
//! one), by any loopback or listening address. Otherwise a guest, whose routes are public, could act with the operator's credentials
//! whenever a client hands them to it. `--allow-guest-management` lifts the rule.

use edgekv_api::Dialect;
use edgekv_runtime::EgressPolicy;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The policy for a server listening on `main`, with `private` listeners (admin, browser) that
/// serve no guest content and are closed to guests whole.
pub fn policy(main: SocketAddr, private: Vec<SocketAddr>) -> EgressPolicy {
    Arc::new(move |uri: &http::Uri| {
        let host = uri.host()?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let ours = |addr: SocketAddr| addr.port() == port && names_this_host(host, addr.ip());
        if private.iter().copied().any(ours) {
            return Some("the edgekv admin and browser listeners are closed to guests".to_string());
        }
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        match Dialect::of(target) {
            Some(dialect) if ours(main) => Some(format!(
                "the {} API of this edgekv is closed to guests (--allow-guest-management opens it)",
                dialect.name()
            )),
            _ => None,
        }
    })
}

/// Whether `host` (from a URL) may name this machine's listener on `listening`.
fn names_this_host(host: &str, listening: IpAddr) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified() || ip == listening)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &EgressPolicy, url: &str) -> bool {
        policy(&url.parse().unwrap()).is_some()
    }

    #[test]
    fn management_on_our_listeners_is_refused() {
        let main: SocketAddr = "127.0.0.1:8787".parse().unwrap();
        let admin: SocketAddr = "127.0.0.1:8788".parse().unwrap();
        let browser: SocketAddr = "127.0.0.1:8789".parse().unwrap();
        let p = policy(main, vec![admin, browser]);
        assert!(refused(
            &p,
            "http://127.0.0.1:8787/client/v4/accounts/a/storage/kv/namespaces"
        ));
        assert!(refused(&p, "http://localhost:8787/v2/storage/kvs"));
        assert!(refused(&p, "http://[::1]:8787/_edgekv/api/namespaces"));
        assert!(refused(&p, "http://127.0.0.2:8787/key-value-stores/x"));
        assert!(refused(&p, "http://127.0.0.1:8788/anything"));
        assert!(refused(&p, "http://localhost:8789/_edgekv/api/namespaces"));
        assert!(refused(&p, "http://127.0.0.1:8789/"));
        assert!(!refused(&p, "http://127.0.0.1:8787/kv/key"));
        assert!(!refused(&p, "http://127.0.0.1:9999/v2/storage/kvs"));
        assert!(!refused(&p, "http://example.test:8787/v2/storage/kvs"));
    }
}
