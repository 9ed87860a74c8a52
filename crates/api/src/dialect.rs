//! Which management API a raw request target belongs to: each dialect says where it is mounted,
//! and the target's raw path (before any decoding) is matched against those mounts.

use crate::rest::route::{raw_path, Mount};
use crate::{browser, cloudflare, cloudfront, operations, telnyx};
use edgekv_store::Interface;

/// A management API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/client/v4/accounts/{account}/storage/kv/namespaces...` (and the same without `/client/v4`).
    Cloudflare,
    /// `/key-value-stores/...` (rest-json data plane).
    CloudfrontData,
    /// `/2020-05-31/key-value-store...` (rest-xml control plane).
    CloudfrontControl,
    /// `/v2/storage/kvs...`.
    Telnyx,
    /// `/_edgekv/livez`, `/_edgekv/readyz`, `/_edgekv/metrics`: the operations endpoints.
    Operations,
    /// `/_edgekv...`: edgekv's own data browser and admin API.
    Browser,
}

impl Dialect {
    /// Every dialect, in the order a target is matched: the operations endpoints before the
    /// browser, whose mount holds theirs.
    pub const ALL: [Dialect; 6] = [
        Dialect::Cloudflare,
        Dialect::CloudfrontData,
        Dialect::CloudfrontControl,
        Dialect::Telnyx,
        Dialect::Operations,
        Dialect::Browser,
    ];

    /// The API's product name, as messages to operators and guests name it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Cloudflare => "Cloudflare Workers KV",
            Dialect::CloudfrontData => "CloudFront KeyValueStore",
            Dialect::CloudfrontControl => "CloudFront (key value store control plane)",
            Dialect::Telnyx => "Telnyx Edge Compute KV",
            Dialect::Operations => "edgekv operations endpoints",
            Dialect::Browser => "edgekv data browser",
        }
    }

    /// Where the dialect's routes are.
    pub fn mount(self) -> &'static Mount {
        match self {
            Dialect::Cloudflare => &cloudflare::MOUNT,
            Dialect::CloudfrontData => &cloudfront::data_plane::MOUNT,
            Dialect::CloudfrontControl => &cloudfront::control_plane::MOUNT,
            Dialect::Telnyx => &telnyx::MOUNT,
            Dialect::Operations => &operations::MOUNT,
            Dialect::Browser => &browser::MOUNT,
        }
    }

    /// The access path the store counts this dialect's operations as.
    pub fn interface(self) -> Interface {
        match self {
            Dialect::Cloudflare => Interface::Cloudflare,
            Dialect::CloudfrontData | Dialect::CloudfrontControl => Interface::Cloudfront,
            Dialect::Telnyx => Interface::Telnyx,
            Dialect::Operations => Interface::Internal,
            Dialect::Browser => Interface::Browser,
        }
    }

    /// The dialect a raw request target (path and query as received) is for, if any.
    pub fn of(raw_target: &str) -> Option<Dialect> {
        let path = raw_path(raw_target);
        Dialect::ALL
            .into_iter()
            .find(|dialect| dialect.mount().claims(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_raw_prefix() {
        let cf = "/client/v4/accounts/abc/storage/kv/namespaces/ns/values/a%2Fb";
        assert_eq!(Dialect::of(cf), Some(Dialect::Cloudflare));
        assert_eq!(
            Dialect::of("/accounts/abc/storage/kv/namespaces"),
            Some(Dialect::Cloudflare)
        );
        assert_eq!(Dialect::of("/accounts//storage/kv/namespaces"), None);
        assert_eq!(Dialect::of("/accounts/abc/storage/kv"), None);
        assert_eq!(
            Dialect::of("/v2/storage/kvs?page[number]=1"),
            Some(Dialect::Telnyx)
        );
        assert_eq!(Dialect::of("/v2/storage/kvsx"), None);
        assert_eq!(
            Dialect::of("/key-value-stores/arn%3Aaws/keys"),
            Some(Dialect::CloudfrontData)
        );
        assert_eq!(
            Dialect::of("/2020-05-31/key-value-store/x"),
            Some(Dialect::CloudfrontControl)
        );
        assert_eq!(
            Dialect::of("http://127.0.0.1:9/v2/storage/kvs/x"),
            Some(Dialect::Telnyx)
        );
        assert_eq!(Dialect::of("/_edgekv/"), Some(Dialect::Browser));
        assert_eq!(Dialect::of("/_edgekv?x"), Some(Dialect::Browser));
        assert_eq!(Dialect::of("/_edgekvx"), None);
        assert_eq!(Dialect::of("/kv/hello"), None);
        assert_eq!(Dialect::of("/"), None);
        assert_eq!(Dialect::of("?x://y/v2/storage/kvs"), None);
    }
}
