//! Namespaces: what a namespace is (id, unique name, profile, TTL support, lifecycle status, version)
//! and what describing one reports (live item count and size, ETag, times).

use crate::etag::Etag;
use crate::profile::{LimitOverrides, Limits, Profile};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Lifecycle status. Namespaces are provisioned at once; Telnyx's asynchronous states exist so a dialect
/// can report them and key operations can refuse a namespace that is not `Ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamespaceStatus {
    /// Being provisioned (Telnyx `pending`); only an update sets it, as creation is immediate.
    Pending,
    /// Usable: set at creation, and the only status whose entries can be read, listed or written.
    Ready,
    /// Being deleted (Telnyx `deleting`); only an update sets it, as deletion is immediate.
    Deleting,
    /// Provisioning failed (Telnyx `provision_failed`); only an update sets it.
    Failed,
}

impl NamespaceStatus {
    /// The status as stored: `pending`, `ready`, `deleting` or `failed` (what `FromStr` parses).
    pub fn as_str(self) -> &'static str {
        match self {
            NamespaceStatus::Pending => "pending",
            NamespaceStatus::Ready => "ready",
            NamespaceStatus::Deleting => "deleting",
            NamespaceStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for NamespaceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NamespaceStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(NamespaceStatus::Pending),
            "ready" => Ok(NamespaceStatus::Ready),
            "deleting" => Ok(NamespaceStatus::Deleting),
            "failed" => Ok(NamespaceStatus::Failed),
            other => Err(format!("unknown namespace status {other:?}")),
        }
    }
}

/// What creating a namespace takes.
#[derive(Debug, Clone)]
pub struct NewNamespace {
    /// The name: unique in the store, and it must follow the profile's naming rule.
    pub name: String,
    /// The service whose rules the namespace obeys; it cannot be changed later.
    pub profile: Profile,
    /// Whether entries may carry an expiry (Telnyx's per-namespace TTL support). Default on.
    pub ttl_enabled: bool,
    /// A free-text comment (CloudFront's `Comment`), if any.
    pub comment: Option<String>,
    /// Per-namespace overrides of the profile's limits.
    pub overrides: LimitOverrides,
}

impl NewNamespace {
    /// A namespace request with TTL support on, no comment and no limit overrides.
    pub fn new(name: impl Into<String>, profile: Profile) -> Self {
        NewNamespace {
            name: name.into(),
            profile,
            ttl_enabled: true,
            comment: None,
            overrides: LimitOverrides::default(),
        }
    }
}

/// A described namespace. `item_count` and `total_bytes` count live entries only (key + value bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// The namespace's UUID, chosen at creation; its ETags and its entries' ETags derive from it.
    pub id: Uuid,
    /// The name (Cloudflare's title), unique in the store.
    pub name: String,
    /// The service whose rules the namespace obeys; fixed at creation.
    pub profile: Profile,
    /// Whether entries may carry an expiry; when off, [`Namespace::limits`] allows none.
    pub ttl_enabled: bool,
    /// The lifecycle status; entries can be used only while it is `Ready`.
    pub status: NamespaceStatus,
    /// The free-text comment (CloudFront's `Comment`), if any.
    pub comment: Option<String>,
    /// Per-namespace overrides of the profile's limits.
    pub overrides: LimitOverrides,
    /// Starts at 1 and is raised once by every mutation of the namespace or its entries (not by
    /// expiry); the namespace ETag is derived from it.
    pub version: i64,
    /// When the namespace was created, in unix milliseconds.
    pub created_at_ms: i64,
    /// When the namespace or one of its entries last changed, in unix milliseconds.
    pub modified_at_ms: i64,
    /// Live entries in the namespace.
    pub item_count: u64,
    /// Key + value bytes of the live entries.
    pub total_bytes: u64,
}

impl Namespace {
    /// The namespace ETag; it changes on every mutation.
    pub fn etag(&self) -> Etag {
        Etag::namespace(&self.id, self.version)
    }

    /// The effective limits: the profile's, with this namespace's overrides.
    pub fn limits(&self) -> Limits {
        effective_limits(self.profile, self.ttl_enabled, &self.overrides)
    }
}

pub(crate) fn effective_limits(profile: Profile, ttl_enabled: bool, o: &LimitOverrides) -> Limits {
    let mut limits = profile.limits().with(o);
    if !ttl_enabled {
        limits.expiry = crate::profile::ExpiryLimits::None;
    }
    limits
}

/// The order of a namespace listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamespaceOrder {
    /// By name, in byte order (the default).
    #[default]
    Name,
    /// By UUID.
    Id,
    /// In creation order.
    Created,
}

/// An offset page of namespaces (namespace lists are small; the APIs page them by number).
#[derive(Debug, Clone, Default)]
pub struct NamespaceQuery {
    /// Only namespaces of this profile; `None` matches every namespace.
    pub profile: Option<Profile>,
    /// What the namespaces are sorted by.
    pub order: NamespaceOrder,
    /// Sort from highest to lowest instead of lowest to highest.
    pub descending: bool,
    /// How many matching namespaces to skip before the page starts.
    pub offset: u64,
    /// The most namespaces the page holds; 0 (the default) gives an empty page.
    pub limit: u64,
}

/// One page of namespaces and the total number that match.
#[derive(Debug, Clone)]
pub struct NamespacePage {
    /// The namespaces of this page, in the query's order.
    pub namespaces: Vec<Namespace>,
    /// How many namespaces match the query's profile filter, over all pages.
    pub total: u64,
}

/// What a namespace update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct NamespaceUpdate {
    /// A new name; it must be unique in the store and follow the profile's naming rule.
    pub name: Option<String>,
    /// A new comment; `Some(None)` removes it.
    pub comment: Option<Option<String>>,
    /// A new lifecycle status.
    pub status: Option<NamespaceStatus>,
    /// Turn expiry support on or off.
    pub ttl_enabled: Option<bool>,
    /// Replace the per-namespace limit overrides.
    pub overrides: Option<LimitOverrides>,
    /// Apply only if the namespace ETag still matches.
    pub if_match: Option<String>,
}
