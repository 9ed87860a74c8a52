//! Expiry: the two ways a write asks for expiry (TTL or absolute time), and the resolution of
//! either into an exact `expires_at` under a namespace's limits, at the store clock's now. An entry is live iff it
//! has no `expires_at` or `expires_at > now`.

use crate::error::{Result, Rule, StoreError};
use crate::profile::ExpiryLimits;

/// When a written entry expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// The entry does not expire.
    #[default]
    Never,
    /// Seconds from now.
    TtlSecs(u64),
    /// An absolute time in unix seconds.
    AtUnixSecs(u64),
}

impl Expiry {
    /// The exact expiry time in unix milliseconds, checked against `limits`.
    pub fn resolve(self, limits: ExpiryLimits, now_ms: i64) -> Result<Option<i64>> {
        if self == Expiry::Never {
            return Ok(None);
        }
        let ExpiryLimits::Allowed {
            min_ttl_secs,
            max_ttl_secs,
        } = limits
        else {
            return Err(StoreError::rule(Rule::ExpiryUnsupported, 0, 0));
        };
        let now_secs = now_ms.div_euclid(1000).max(0) as u64;
        let ttl_secs = match self {
            Expiry::TtlSecs(ttl) => {
                if ttl < min_ttl_secs {
                    return Err(StoreError::rule(Rule::TtlTooShort, min_ttl_secs, ttl));
                }
                ttl
            }
            Expiry::AtUnixSecs(at) => {
                if at < now_secs.saturating_add(min_ttl_secs) {
                    return Err(match at <= now_secs {
                        true => StoreError::rule(Rule::ExpirationInPast, now_secs, at),
                        false => StoreError::rule(Rule::ExpirationTooSoon, min_ttl_secs, at),
                    });
                }
                at - now_secs
            }
            Expiry::Never => unreachable!("handled above"),
        };
        if let Some(max) = max_ttl_secs {
            if ttl_secs > max {
                return Err(match self {
                    Expiry::AtUnixSecs(at) => {
                        StoreError::rule(Rule::ExpirationTooLate, now_secs.saturating_add(max), at)
                    }
                    _ => StoreError::rule(Rule::TtlTooLong, max, ttl_secs),
                });
            }
        }
        let at_ms = match self {
            Expiry::AtUnixSecs(at) => at.checked_mul(1000).and_then(|ms| i64::try_from(ms).ok()),
            _ => ttl_secs
                .checked_mul(1000)
                .and_then(|ms| i64::try_from(ms).ok())
                .and_then(|ms| ms.checked_add(now_ms)),
        };
        at_ms.map(Some).ok_or_else(|| match self {
            Expiry::AtUnixSecs(at) => {
                StoreError::rule(Rule::ExpirationTooLate, i64::MAX as u64 / 1000, at)
            }
            _ => StoreError::rule(Rule::TtlTooLong, i64::MAX as u64 / 1000, ttl_secs),
        })
    }
}

/// Whether an entry with this expiry is live at `now_ms`.
pub fn is_live(expires_at: Option<i64>, now_ms: i64) -> bool {
    expires_at.is_none_or(|at| at > now_ms)
}
