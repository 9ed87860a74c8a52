//! What guests may not reach with outgoing HTTP: this server's own management APIs and data
//! browser (every path on the admin and browser listeners; the management prefixes on the main
//! one). Otherwise a guest, whose routes are public, could act with the operator's credentials
//! whenever a client hands them to it. `--allow-guest-management` lifts the rule.
//!
//! The decision is on an address the request would connect to, as resolved (the runtime resolves
//! once and connects only to addresses decided on), so no spelling gets past it: `127.1`,
//! `0x7f000001`, `[::ffff:127.0.0.1]` and a name that resolves to loopback are all 127.0.0.1 by
//! then. An address reaches a listener when its port is the listener's and it is this host's:
//! loopback (127/8, ::1), unspecified or in 0.0.0.0/8 (which Linux delivers locally), the listening
//! address, or, for a listener bound to an unspecified address, any address of this host's network
//! interfaces (enumerated on each decision, so an address gained since start counts). An IPv4-mapped
//! or -compatible IPv6 address counts as its IPv4 address.

use edgekv_api::Dialect;
use edgekv_runtime::EgressPolicy;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The policy for a server listening on `main`, with `private` listeners (admin, browser) that
/// serve no guest content and are closed to guests whole.
pub fn policy(main: SocketAddr, private: Vec<SocketAddr>) -> EgressPolicy {
    Arc::new(move |dest: SocketAddr, target: &str| {
        if private.iter().any(|&listener| reaches(dest, listener)) {
            return Some("the edgekv admin and browser listeners are closed to guests".to_string());
        }
        let dialect = Dialect::of(target)?;
        reaches(dest, main).then(|| {
            format!(
                "the {} API of this edgekv is closed to guests (--allow-guest-management opens it)",
                dialect.name()
            )
        })
    })
}

/// Whether a connection to `dest` may arrive at the listener bound to `listening`.
fn reaches(dest: SocketAddr, listening: SocketAddr) -> bool {
    dest.port() == listening.port() && is_this_host(dest.ip(), listening.ip())
}

/// Whether `dest` names this host for a listener bound to `listening`.
fn is_this_host(dest: IpAddr, listening: IpAddr) -> bool {
    let listening = listening.to_canonical();
    let forms = [Some(dest), ipv4_form(dest)];
    let mut forms = forms.into_iter().flatten();
    if forms.clone().any(|ip| is_local(ip) || ip == listening) {
        return true;
    }
    if !listening.is_unspecified() {
        return false;
    }
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => forms.any(|ip| interfaces.iter().any(|i| i.ip() == ip)),
        Err(e) => {
            // Without the list, any address may be ours: refuse rather than guess.
            tracing::warn!("cannot list this host's network addresses: {e}");
            true
        }
    }
}

/// The IPv4 address an IPv4-mapped (`::ffff:a.b.c.d`) or -compatible (`::a.b.c.d`) IPv6 address
/// stands for.
fn ipv4_form(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    }
}

/// Addresses that always mean this host, whatever it listens on.
fn is_local(ip: IpAddr) -> bool {
    let this_network = matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 0);
    ip.is_loopback() || ip.is_unspecified() || this_network
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MANAGEMENT: &str = "/client/v4/accounts/a/storage/kv/namespaces";

    fn resolved(url: &str) -> Vec<SocketAddr> {
        let uri: http::Uri = url.parse().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(edgekv_runtime::destinations(&uri))
            .unwrap_or_else(|e| panic!("{url} does not resolve: {e}"))
    }

    /// Whether `policy` refuses `url` (as the runtime asks it: on every resolved address).
    fn refused(policy: &EgressPolicy, url: &str) -> bool {
        let uri: http::Uri = url.parse().unwrap();
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        resolved(url)
            .into_iter()
            .any(|addr| policy(addr, target).is_some())
    }

    /// Spellings of the loopback address 127.a.b.c that the URL parser and the resolver accept.
    fn loopback_spellings(a: u8, b: u8, c: u8) -> Vec<String> {
        let n = u32::from_be_bytes([127, a, b, c]);
        let low = u16::from_be_bytes([b, c]);
        vec![
            format!("127.{a}.{b}.{c}"),
            format!("127.{a}.{low}"),
            format!("127.{}", n & 0xff_ffff),
            format!("{n}"),
            format!("{n:#x}"),
            format!("{n:#X}"),
            format!("0{n:o}"),
            format!("0177.0{a:o}.0{b:o}.0{c:o}"),
            format!("0x7f.{a:#x}.{b:#x}.{c:#x}"),
            format!("0x7f.{a}.0{b:o}.{c:#x}"),
            format!("[::ffff:127.{a}.{b}.{c}]"),
            format!("[::ffff:7f{a:02x}:{low:x}]"),
            format!("[0:0:0:0:0:ffff:127.{a}.{b}.{c}]"),
            format!("[0000:0000:0000:0000:0000:FFFF:7F{a:02X}:{low:04X}]"),
            format!("[::127.{a}.{b}.{c}]"),
        ]
    }

    #[test]
    fn every_spelling_of_this_host_is_refused_on_the_management_apis() {
        let main: SocketAddr = "127.0.0.1:8787".parse().unwrap();
        let p = policy(main, vec![]);
        let mut hosts: Vec<String> = [
            "127.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "0x7f.0.0.1",
            "0177.0.0.01",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[0:0:0:0:0:ffff:127.0.0.1]",
            "[::127.0.0.1]",
            "127.0.0.2",
            "127.255.255.254",
            "[::1]",
            "[0:0:0:0:0:0:0:1]",
            "localhost",
            "LocalHost",
            "0",
            "0.0.0.0",
            "0.1.2.3",
            "[::]",
            "[::ffff:0.0.0.0]",
        ]
        .map(String::from)
        .to_vec();
        hosts.extend(loopback_spellings(0, 0, 1));
        for host in hosts {
            for path in [MANAGEMENT, "/v2/storage/kvs", "/_edgekv/api/namespaces"] {
                let url = format!("http://{host}:8787{path}");
                assert!(refused(&p, &url), "{url} was let through");
            }
            let app = format!("http://{host}:8787/kv/key");
            assert!(!refused(&p, &app), "{app} is a guest route");
            let elsewhere = format!("http://{host}:9999{MANAGEMENT}");
            assert!(!refused(&p, &elsewhere), "{elsewhere} is not this server");
        }
    }

    #[test]
    fn other_hosts_are_not_this_server() {
        let p = policy("127.0.0.1:8787".parse().unwrap(), vec![]);
        for host in [
            "192.0.2.1",
            "[2001:db8::1]",
            "[::ffff:192.0.2.1]",
            "198.51.100.7",
        ] {
            let url = format!("http://{host}:8787{MANAGEMENT}");
            assert!(!refused(&p, &url), "{url}");
        }
    }

    #[test]
    fn the_admin_and_browser_listeners_are_refused_whatever_the_path() {
        let p = policy(
            "127.0.0.1:8787".parse().unwrap(),
            vec![
                "127.0.0.1:8788".parse().unwrap(),
                "127.0.0.1:8789".parse().unwrap(),
            ],
        );
        for url in [
            "http://127.1:8788/anything",
            "http://[::ffff:7f00:1]:8788/",
            "http://localhost:8788/v2/storage/kvs",
            "http://localhost:8789/_edgekv/api/namespaces",
            "http://0x7f000001:8789/",
        ] {
            assert!(refused(&p, url), "{url}");
        }
        assert!(!refused(&p, "http://127.0.0.1:8787/anything"));
    }

    #[test]
    fn a_listener_on_every_address_owns_every_address_of_this_host() {
        let p = policy("0.0.0.0:8787".parse().unwrap(), vec![]);
        let interfaces = if_addrs::get_if_addrs().unwrap();
        assert!(!interfaces.is_empty());
        let elsewhere: SocketAddr = "198.51.100.7:8787".parse().unwrap();
        assert!(interfaces.iter().all(|i| i.ip() != elsewhere.ip()));
        for interface in interfaces {
            let dest = SocketAddr::new(interface.ip(), 8787);
            assert!(p(dest, MANAGEMENT).is_some(), "{dest}");
            if let IpAddr::V4(v4) = interface.ip() {
                let mapped = SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), 8787);
                assert!(p(mapped, MANAGEMENT).is_some(), "{mapped}");
            }
            assert!(p(dest, "/kv/key").is_none(), "{dest}");
        }
        assert!(p(elsewhere, MANAGEMENT).is_none());
    }

    #[test]
    fn a_listener_on_one_address_owns_it_and_loopback() {
        let p = policy("192.0.2.10:8787".parse().unwrap(), vec![]);
        for dest in [
            "192.0.2.10:8787",
            "[::ffff:192.0.2.10]:8787",
            "127.0.0.1:8787",
        ] {
            assert!(p(dest.parse().unwrap(), MANAGEMENT).is_some(), "{dest}");
        }
        assert!(p("192.0.2.11:8787".parse().unwrap(), MANAGEMENT).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_spelling_of_any_loopback_address_is_refused(a: u8, b: u8, c: u8, pick: prop::sample::Index) {
            let p = policy("127.0.0.1:8787".parse().unwrap(), vec![]);
            let spellings = loopback_spellings(a, b, c);
            let host = &spellings[pick.index(spellings.len())];
            let url = format!("http://{host}:8787/v2/storage/kvs");
            prop_assert!(refused(&p, &url), "{} was let through", url);
        }
    }
}
