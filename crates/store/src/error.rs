//! Typed errors of the store. Each names what went wrong precisely enough for a dialect to pick its own
//! status code and message without re-deriving the rule.

use crate::etag::Etag;
use std::fmt;

/// A KV rule of a namespace's profile. Every size or shape check the store makes is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The key is empty.
    KeyEmpty,
    /// The key is `.` or `..` (Cloudflare).
    KeyDotSegment,
    /// The key has more characters than allowed (`limit`/`actual` in chars).
    KeyTooLong,
    /// The key has more UTF-8 bytes than allowed (`limit`/`actual` in bytes).
    KeyTooLarge,
    /// The key has a character outside the profile's alphabet (Telnyx).
    KeyCharset,
    /// The key starts with a reserved prefix (Telnyx: `_`).
    KeyReserved,
    /// The value is larger than allowed (bytes).
    ValueTooLarge,
    /// The metadata is larger than allowed as compact JSON (bytes).
    MetadataTooLarge,
    /// The metadata is not valid JSON.
    MetadataNotJson,
    /// The namespace keeps no expiry: the profile has none, or TTL support is off for it.
    ExpiryUnsupported,
    /// A relative TTL is below the minimum (seconds).
    TtlTooShort,
    /// A relative TTL is above the maximum (seconds).
    TtlTooLong,
    /// An absolute expiration is not after now (`limit`: now, `actual`: the expiration; unix seconds).
    ExpirationInPast,
    /// An absolute expiration is after now but less than the minimum TTL ahead (`limit`: that minimum
    /// in seconds, `actual`: the expiration in unix seconds).
    ExpirationTooSoon,
    /// An absolute expiration is later than the maximum TTL allows, or than can be represented
    /// (`limit`/`actual` in unix seconds).
    ExpirationTooLate,
    /// The write would take the namespace over its total size (key + value bytes).
    StoreFull,
    /// A batch has more items than allowed.
    BatchTooManyItems,
    /// A batch carries more bytes than allowed.
    BatchTooLarge,
    /// A bulk get asks for more keys than allowed.
    BulkGetTooManyKeys,
    /// A list page limit is outside 1..=limit.
    ListLimit,
    /// A namespace name breaks the profile's naming rule (length in `actual`).
    NamespaceName,
    /// A content type is not a valid HTTP header value (visible ASCII, spaces and tabs) of at most
    /// `limit` bytes (`actual`: its length): it is sent back as a `Content-Type` header.
    ContentType,
}

/// What part of a request a rule constrains; dialects that report rules coarsely map these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleFamily {
    /// The key: its size, length, alphabet or reserved prefix.
    Key,
    /// The value's size.
    Value,
    /// The metadata's size.
    Metadata,
    /// Expiry: whether the namespace allows it, TTL bounds, absolute expiration times.
    Expiry,
    /// Namespace and batch sizes.
    Quota,
    /// The shape of a request itself: list limits, namespace names, metadata that is not JSON,
    /// content types that are not header values.
    Request,
}

impl Rule {
    /// Every rule, in the order they are declared: what a dialect's tests iterate to check that
    /// each rule has its answer in that API.
    pub const ALL: [Rule; 22] = [
        Rule::KeyEmpty,
        Rule::KeyDotSegment,
        Rule::KeyTooLong,
        Rule::KeyTooLarge,
        Rule::KeyCharset,
        Rule::KeyReserved,
        Rule::ValueTooLarge,
        Rule::MetadataTooLarge,
        Rule::MetadataNotJson,
        Rule::ExpiryUnsupported,
        Rule::TtlTooShort,
        Rule::TtlTooLong,
        Rule::ExpirationInPast,
        Rule::ExpirationTooSoon,
        Rule::ExpirationTooLate,
        Rule::StoreFull,
        Rule::BatchTooManyItems,
        Rule::BatchTooLarge,
        Rule::BulkGetTooManyKeys,
        Rule::ListLimit,
        Rule::NamespaceName,
        Rule::ContentType,
    ];

    /// The family this rule belongs to.
    pub fn family(self) -> RuleFamily {
        match self {
            Rule::KeyEmpty
            | Rule::KeyDotSegment
            | Rule::KeyTooLong
            | Rule::KeyTooLarge
            | Rule::KeyCharset
            | Rule::KeyReserved => RuleFamily::Key,
            Rule::ValueTooLarge => RuleFamily::Value,
            Rule::MetadataTooLarge => RuleFamily::Metadata,
            Rule::ExpiryUnsupported
            | Rule::TtlTooShort
            | Rule::TtlTooLong
            | Rule::ExpirationInPast
            | Rule::ExpirationTooSoon
            | Rule::ExpirationTooLate => RuleFamily::Expiry,
            Rule::StoreFull
            | Rule::BatchTooManyItems
            | Rule::BatchTooLarge
            | Rule::BulkGetTooManyKeys => RuleFamily::Quota,
            Rule::MetadataNotJson | Rule::ListLimit | Rule::NamespaceName | Rule::ContentType => {
                RuleFamily::Request
            }
        }
    }

    /// A stable snake_case name, for logs and the guest binding's messages (clients of the REST
    /// dialects get words instead: `RuleViolation::describe` or the dialect's own).
    pub fn name(self) -> &'static str {
        match self {
            Rule::KeyEmpty => "key_empty",
            Rule::KeyDotSegment => "key_dot_segment",
            Rule::KeyTooLong => "key_too_long",
            Rule::KeyTooLarge => "key_too_large",
            Rule::KeyCharset => "key_charset",
            Rule::KeyReserved => "key_reserved",
            Rule::ValueTooLarge => "value_too_large",
            Rule::MetadataTooLarge => "metadata_too_large",
            Rule::MetadataNotJson => "metadata_not_json",
            Rule::ExpiryUnsupported => "expiry_unsupported",
            Rule::TtlTooShort => "ttl_too_short",
            Rule::TtlTooLong => "ttl_too_long",
            Rule::ExpirationInPast => "expiration_in_past",
            Rule::ExpirationTooSoon => "expiration_too_soon",
            Rule::ExpirationTooLate => "expiration_too_late",
            Rule::StoreFull => "store_full",
            Rule::BatchTooManyItems => "batch_too_many_items",
            Rule::BatchTooLarge => "batch_too_large",
            Rule::BulkGetTooManyKeys => "bulk_get_too_many_keys",
            Rule::ListLimit => "list_limit",
            Rule::NamespaceName => "namespace_name",
            Rule::ContentType => "content_type",
        }
    }
}

/// A broken rule, with the limit it enforces and the size (or value) that broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// The rule broken.
    pub rule: Rule,
    /// The bound the rule enforces, in the unit its [`Rule`] variant names; 0 where it has none.
    pub limit: u64,
    /// The size or value that broke it, in the same unit; 0 where there is none.
    pub actual: u64,
}

impl RuleViolation {
    /// What broke, as a sentence (no full stop) that names the thing constrained, its size and its
    /// limit, without the rule's name: for clients of edgekv's own APIs, and for dialects whose
    /// service has no words of its own for a rule.
    pub fn describe(&self) -> String {
        let (limit, actual) = (self.limit, self.actual);
        match self.rule {
            Rule::KeyEmpty => "The key is empty".into(),
            Rule::KeyDotSegment => "The key may not be `.` or `..`".into(),
            Rule::KeyTooLong => {
                format!("The key is {actual} characters long, over the limit of {limit}")
            }
            Rule::KeyTooLarge => {
                format!("The key is {actual} bytes long, over the limit of {limit} bytes")
            }
            Rule::KeyCharset => "The key has a character outside [-/_=.a-zA-Z0-9]".into(),
            Rule::KeyReserved => "Keys starting with `_` are reserved".into(),
            Rule::ValueTooLarge => {
                format!("The value is {actual} bytes, over the limit of {limit} bytes")
            }
            Rule::MetadataTooLarge if limit == 0 => "This namespace keeps no metadata".into(),
            Rule::MetadataTooLarge => format!(
                "The metadata is {actual} bytes as compact JSON, over the limit of {limit} bytes"
            ),
            Rule::MetadataNotJson => "The metadata is not valid JSON".into(),
            Rule::ExpiryUnsupported => "This namespace does not support expiry".into(),
            Rule::TtlTooShort => {
                format!("The TTL of {actual} seconds is below the minimum of {limit} seconds")
            }
            Rule::TtlTooLong => {
                format!("The TTL of {actual} seconds is above the maximum of {limit} seconds")
            }
            Rule::ExpirationInPast => format!(
                "The expiration {actual} (unix seconds) is not after the current time, {limit}"
            ),
            Rule::ExpirationTooSoon => format!(
                "The expiration {actual} (unix seconds) is less than {limit} seconds in the future"
            ),
            Rule::ExpirationTooLate => format!(
                "The expiration {actual} (unix seconds) is after the latest allowed, {limit}"
            ),
            Rule::StoreFull => format!(
                "The write would bring the namespace to {actual} bytes of keys and values, over its limit of {limit} bytes"
            ),
            Rule::BatchTooManyItems => {
                format!("The batch has {actual} items, over the limit of {limit}")
            }
            Rule::BatchTooLarge => {
                format!("The batch is {actual} bytes, over the limit of {limit} bytes")
            }
            Rule::BulkGetTooManyKeys => {
                format!("The request asks for {actual} keys, over the limit of {limit}")
            }
            Rule::ListLimit => format!("The list limit {actual} is outside 1 to {limit}"),
            Rule::NamespaceName => format!(
                "The namespace name is {actual} bytes; a name is 1 to {limit} bytes of the allowed characters"
            ),
            Rule::ContentType => format!(
                "The content type is not a header value of at most {limit} bytes of visible ASCII (it is {actual} bytes)"
            ),
        }
    }
}

/// `<rule name>: <what broke>`, the form logs and the guest binding carry: sizes read
/// `<actual> is over the limit of <limit>`.
impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (rule, limit, actual) = (self.rule.name(), self.limit, self.actual);
        match self.rule {
            Rule::KeyEmpty => write!(f, "{rule}: the key is empty"),
            Rule::KeyDotSegment => write!(f, "{rule}: the key may not be `.` or `..`"),
            Rule::KeyCharset => write!(
                f,
                "{rule}: the key has a character outside [-/_=.a-zA-Z0-9]"
            ),
            Rule::KeyReserved => write!(f, "{rule}: keys starting with `_` are reserved"),
            Rule::MetadataNotJson => write!(f, "{rule}: the metadata is not valid JSON"),
            Rule::ExpiryUnsupported => write!(f, "{rule}: this namespace does not support expiry"),
            Rule::TtlTooShort => {
                write!(f, "{rule}: TTL {actual}s is below the minimum of {limit}s")
            }
            Rule::TtlTooLong => write!(f, "{rule}: TTL {actual}s is above the maximum of {limit}s"),
            Rule::ExpirationInPast => {
                write!(f, "{rule}: expiration {actual} is not after now ({limit})")
            }
            Rule::ExpirationTooSoon => write!(
                f,
                "{rule}: expiration {actual} is less than {limit}s in the future"
            ),
            Rule::ExpirationTooLate => {
                write!(
                    f,
                    "{rule}: expiration {actual} is after the latest allowed {limit}"
                )
            }
            Rule::ListLimit => write!(f, "{rule}: limit {actual} is outside 1..={limit}"),
            Rule::ContentType => write!(
                f,
                "{rule}: not a header value of at most {limit} bytes of visible ASCII"
            ),
            _ => write!(f, "{rule}: {actual} is over the limit of {limit}"),
        }
    }
}

/// Everything a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No namespace has this id (or name, for lookups that take one), as the caller gave it.
    #[error("namespace not found: {0}")]
    NamespaceNotFound(String),
    /// Another namespace already has this name (on create or rename).
    #[error("a namespace named {0:?} already exists")]
    NamespaceExists(String),
    /// The namespace's status is not `ready`, so its entries cannot be read, listed or written.
    #[error("namespace {id} is {status}, not ready")]
    NamespaceNotReady {
        /// The namespace's UUID.
        id: String,
        /// Its current status: `pending`, `deleting` or `failed`.
        status: String,
    },
    /// No live entry has this key: on a get, or on a batch delete under [`MissingKeys::Fail`].
    ///
    /// [`MissingKeys::Fail`]: crate::MissingKeys::Fail
    #[error("key not found: {0:?}")]
    KeyNotFound(String),
    /// A precondition failed; nothing was changed. `current` is the ETag the precondition was checked
    /// against (the entry's, or the namespace's), `None` when the entry does not exist.
    #[error("precondition failed (current ETag: {})", .current.as_ref().map(Etag::as_str).unwrap_or("none"))]
    Conflict {
        /// The ETag the precondition was checked against, `None` when the entry does not exist.
        current: Option<Etag>,
    },
    /// The request breaks a rule of the namespace's profile; nothing was changed.
    #[error("{0}")]
    Rule(RuleViolation),
    /// A list cursor is not one this store hands out (it does not decode).
    #[error("invalid cursor")]
    InvalidCursor,
    /// The backend gave no answer: its writer has shut down, or a write job ended without
    /// reporting (it panicked, or its commit group failed before running it).
    #[error("the store is closed")]
    Closed,
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

impl StoreError {
    pub(crate) fn rule(rule: Rule, limit: u64, actual: u64) -> Self {
        StoreError::Rule(RuleViolation {
            rule,
            limit,
            actual,
        })
    }

    /// Whether the backend failed for now rather than for good: the database cannot be reached,
    /// a commit group failed (a lock held past the lock timeout, a connection lost mid-commit), or
    /// the writer is shutting down. Nothing was written; the same call may succeed later, so the
    /// APIs answer it 503, which their clients retry.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Closed => true,
            StoreError::Storage(e) => e.is_transient(),
            _ => false,
        }
    }

    /// The broken rule, when this is a rule violation.
    pub fn violation(&self) -> Option<&RuleViolation> {
        match self {
            StoreError::Rule(v) => Some(v),
            _ => None,
        }
    }
}

/// A failure of the storage backend itself (I/O, corruption, a bad schema).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// SQLite reported an error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL (or the connection to it) reported an error.
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// No connection to the database could be had: it is unreachable, or every pooled connection
    /// stayed busy past the wait; holds why.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A store URL or its TLS settings are not usable; holds what is wrong.
    #[error("store URL: {0}")]
    Url(String),
    /// The database was written by a newer edgekv: its schema version is above this build's.
    #[error("schema version {found} is newer than this edgekv understands ({supported})")]
    SchemaTooNew {
        /// The database's schema version (SQLite's `PRAGMA user_version`; PostgreSQL's highest
        /// row of `edgekv_schema`).
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A stored row cannot be parsed (a key that is not UTF-8, an unknown profile or status, bad
    /// overrides JSON); holds what is wrong.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A namespace name another transaction took first; the store reports it as
    /// [`StoreError::NamespaceExists`].
    #[error("the namespace name {0:?} is taken")]
    NameTaken(String),
    /// The transaction of this write's commit group failed after the write ran, and was rolled
    /// back; holds the cause.
    #[error("commit failed: {0}")]
    Commit(String),
    /// Creating the database file or the directories above it failed.
    #[error("could not create the data directory: {0}")]
    Io(#[from] std::io::Error),
}

/// SQLSTATEs of a transaction failed for another's sake: serialization_failure, deadlock_detected.
const TRY_AGAIN: [&str; 2] = ["40001", "40P01"];

/// A PostgreSQL error with what the server said (the client's own text is only "db error").
pub(crate) fn postgres_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl StorageError {
    /// Whether a retry may succeed: the database cannot be reached, a commit group failed,
    /// PostgreSQL lost the connection or is shutting down, restarting or not yet accepting
    /// connections (SQLSTATE classes 08 and 57P), or it chose this transaction to fail so that
    /// another could go on (a deadlock, a serialization failure).
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Unavailable(_) | StorageError::Commit(_) => true,
            StorageError::Postgres(e) => {
                e.is_closed()
                    || e.code().is_some_and(|c| {
                        let code = c.code();
                        code.starts_with("08")
                            || code.starts_with("57P")
                            || TRY_AGAIN.contains(&code)
                    })
                    || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            _ => false,
        }
    }
}

/// The result of a store call: [`StoreError`] unless another error type is given.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a reset or a seeded create wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The put of this key was refused (a rule it breaks, in `source`).
    #[error("key {key:?}: {source}")]
    Entry {
        /// The key of the refused put.
        key: String,
        /// Why it was refused.
        source: StoreError,
    },
    /// The namespace could not be reset or created.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SeedError {
    /// The store's error, whichever put it belongs to.
    pub fn store_error(&self) -> &StoreError {
        match self {
            SeedError::Entry { source, .. } => source,
            SeedError::Store(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The position of a rule in `Rule::ALL`. Its `match` has no wildcard, so a rule added to the
    /// enum does not compile until it is placed here, and then this test fails until `ALL` has it.
    fn position(rule: Rule) -> usize {
        match rule {
            Rule::KeyEmpty => 0,
            Rule::KeyDotSegment => 1,
            Rule::KeyTooLong => 2,
            Rule::KeyTooLarge => 3,
            Rule::KeyCharset => 4,
            Rule::KeyReserved => 5,
            Rule::ValueTooLarge => 6,
            Rule::MetadataTooLarge => 7,
            Rule::MetadataNotJson => 8,
            Rule::ExpiryUnsupported => 9,
            Rule::TtlTooShort => 10,
            Rule::TtlTooLong => 11,
            Rule::ExpirationInPast => 12,
            Rule::ExpirationTooSoon => 13,
            Rule::ExpirationTooLate => 14,
            Rule::StoreFull => 15,
            Rule::BatchTooManyItems => 16,
            Rule::BatchTooLarge => 17,
            Rule::BulkGetTooManyKeys => 18,
            Rule::ListLimit => 19,
            Rule::NamespaceName => 20,
            Rule::ContentType => 21,
        }
    }

    #[test]
    fn all_lists_every_rule_once_in_order() {
        for (i, rule) in Rule::ALL.into_iter().enumerate() {
            assert_eq!(position(rule), i, "{rule:?}");
        }
    }
}
