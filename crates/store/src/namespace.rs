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
    Pending,
    Ready,
    Deleting,
    Failed,
}

impl NamespaceStatus {
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
    pub name: String,
    pub profile: Profile,
    /// Whether entries may carry an expiry (Telnyx's per-namespace TTL support). Default on.
    pub ttl_enabled: bool,
    pub comment: Option<String>,
    pub overrides: LimitOverrides,
}

impl NewNamespace {
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
    pub id: Uuid,
    pub name: String,
    pub profile: Profile,
    pub ttl_enabled: bool,
    pub status: NamespaceStatus,
    pub comment: Option<String>,
    pub overrides: LimitOverrides,
    pub version: i64,
    pub created_at_ms: i64,
    pub modified_at_ms: i64,
    pub item_count: u64,
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
    #[default]
    Name,
    Id,
    Created,
}

/// An offset page of namespaces (namespace lists are small; the APIs page them by number).
#[derive(Debug, Clone, Default)]
pub struct NamespaceQuery {
    pub profile: Option<Profile>,
    pub order: NamespaceOrder,
    pub descending: bool,
    pub offset: u64,
    pub limit: u64,
}

/// One page of namespaces and the total number that match.
#[derive(Debug, Clone)]
pub struct NamespacePage {
    pub namespaces: Vec<Namespace>,
    pub total: u64,
}

/// What a namespace update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct NamespaceUpdate {
    pub name: Option<String>,
    pub comment: Option<Option<String>>,
    pub status: Option<NamespaceStatus>,
    /// Turn expiry support on or off.
    pub ttl_enabled: Option<bool>,
    /// Replace the per-namespace limit overrides.
    pub overrides: Option<LimitOverrides>,
    /// Apply only if the namespace ETag still matches.
    pub if_match: Option<String>,
}
