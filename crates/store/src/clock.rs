//! The store's clock: where every "now" of edgekv comes from (expiry on every path, the times the
//! APIs report, the sweep, and the guests' `wasi:clocks/wall-clock` when the clock is manual). The
//! system clock tells real time; a manual clock, for tests, stands still until it is moved, and only
//! forwards: ETags, versions and expiry are ordered by it, so time never runs back.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A source of "now" in unix milliseconds. Injected so tests move time instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current time, in unix milliseconds.
    fn now_ms(&self) -> i64;

    /// Whether the clock moves only when told to ([`Clock::advance`]).
    fn is_manual(&self) -> bool {
        false
    }

    /// Moves a manual clock as `to` says and returns the new time; refused by the system clock and
    /// for a move back.
    fn advance(&self, to: ClockMove) -> Result<i64, ClockError> {
        let _ = to;
        Err(ClockError::NotManual)
    }
}

/// How a manual clock is moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMove {
    /// On by this long.
    By(Duration),
    /// To this time, in unix milliseconds: now or later.
    To(i64),
}

impl ClockMove {
    /// A move on by a duration as people write one: `90s`, `5m`, `1h 30m`, `2days`, `250ms`.
    pub fn by(text: &str) -> Result<ClockMove, ClockError> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err(ClockError::Backwards(format!(
                "{text:?} would move the clock back"
            )));
        }
        humantime::parse_duration(text)
            .map(ClockMove::By)
            .map_err(|e| {
                ClockError::BadDuration(format!("{text:?}: {e} (e.g. \"90s\", \"1h 30m\")"))
            })
    }

    /// A move to an RFC 3339 time (`2030-01-01T00:00:00Z`).
    pub fn to(text: &str) -> Result<ClockMove, ClockError> {
        parse_time(text).map(ClockMove::To)
    }
}

/// The latest time a manual clock shows: the last millisecond of year 9999, the latest RFC 3339
/// can write.
pub const LATEST_MS: i64 = 253_402_300_799_999;

/// Why a clock was not moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The clock is the system clock, which only real time moves.
    #[error("the clock is the system clock; start `edgekv serve --clock manual` to move it")]
    NotManual,
    /// The move would take the clock back.
    #[error("the clock never moves back: {0}")]
    Backwards(String),
    /// A duration that does not parse.
    #[error("not a duration: {0}")]
    BadDuration(String),
    /// A time that does not parse, or is out of range.
    #[error("not an RFC 3339 time: {0}")]
    BadTime(String),
    /// The move would take the clock past the year 9999.
    #[error("the clock goes no later than 9999-12-31T23:59:59.999Z: {0}")]
    TooLate(String),
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to, and only forwards. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `now_ms`, in unix milliseconds.
    pub fn new(now_ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(now_ms)))
    }

    /// Moves the time on by `ms` milliseconds, for every clone, stopping at [`LATEST_MS`].
    pub fn advance_ms(&self, ms: u64) {
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(ms).min(LATEST_MS))
            });
    }

    /// Moves the time on by `by`, for every clone, unless that passes [`LATEST_MS`].
    fn advance_by(&self, by: Duration) -> Result<(), ClockError> {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                now.checked_add(ms).filter(|to| *to <= LATEST_MS)
            })
            .map(drop)
            .map_err(|now| ClockError::TooLate(format!("{by:?} on from {}", format_time(now))))
    }

    /// Sets the time to `now_ms`, in unix milliseconds, for every clone, unless that is earlier
    /// than the time it shows.
    pub fn set_ms(&self, now_ms: i64) -> Result<(), ClockError> {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                (now_ms >= now && now_ms <= LATEST_MS).then_some(now_ms)
            })
            .map(drop)
            .map_err(|now| match now_ms > LATEST_MS {
                true => ClockError::TooLate(format!("{now_ms} ms after 1970")),
                false => ClockError::Backwards(format!(
                    "{} is before the clock's {}",
                    format_time(now_ms),
                    format_time(now)
                )),
            })
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    fn is_manual(&self) -> bool {
        true
    }

    fn advance(&self, to: ClockMove) -> Result<i64, ClockError> {
        match to {
            ClockMove::By(by) => self.advance_by(by)?,
            ClockMove::To(at) => self.set_ms(at)?,
        }
        Ok(self.now_ms())
    }
}

/// Unix milliseconds as RFC 3339 in UTC, with milliseconds when there are any
/// (`2030-01-01T00:00:00Z`, `2030-01-01T00:00:00.25Z`).
pub fn format_time(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms after 1970"))
}

/// An RFC 3339 time (`2030-01-01T00:00:00Z`, `2030-01-01T02:00:00+02:00`) in unix milliseconds.
pub fn parse_time(text: &str) -> Result<i64, ClockError> {
    let text = text.trim();
    let at = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| ClockError::BadTime(format!("{text:?}: {e}")))?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ClockError::BadTime(format!("{text:?} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_forwards() {
        let clock = ManualClock::new(1_000);
        assert_eq!(
            clock.advance(ClockMove::By(Duration::from_secs(90))),
            Ok(91_000)
        );
        assert_eq!(clock.advance(ClockMove::To(100_000)), Ok(100_000));
        assert_eq!(clock.advance(ClockMove::To(100_000)), Ok(100_000));
        assert!(matches!(
            clock.advance(ClockMove::To(99_999)),
            Err(ClockError::Backwards(_))
        ));
        assert_eq!(clock.now_ms(), 100_000, "a refused move changes nothing");
    }

    #[test]
    fn a_manual_clock_stops_at_the_end_of_year_9999() {
        let clock = ManualClock::new(LATEST_MS - 1_000);
        let far = ClockMove::by("100000000000years").expect("a duration");
        assert!(matches!(clock.advance(far), Err(ClockError::TooLate(_))));
        assert!(matches!(
            clock.advance(ClockMove::To(LATEST_MS + 1)),
            Err(ClockError::TooLate(_))
        ));
        assert_eq!(
            clock.now_ms(),
            LATEST_MS - 1_000,
            "a refused move changes nothing"
        );
        assert_eq!(
            clock.advance(ClockMove::By(Duration::from_secs(1))),
            Ok(LATEST_MS)
        );
        assert_eq!(format_time(LATEST_MS), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let moved = SystemClock.advance(ClockMove::By(Duration::from_secs(1)));
        assert_eq!(moved, Err(ClockError::NotManual));
        assert!(!SystemClock.is_manual());
    }

    #[test]
    fn moves_parse_as_people_write_them() {
        assert_eq!(
            ClockMove::by("90s"),
            Ok(ClockMove::By(Duration::from_secs(90)))
        );
        assert_eq!(
            ClockMove::by("1h 30m"),
            Ok(ClockMove::By(Duration::from_secs(5400)))
        );
        assert!(matches!(
            ClockMove::by("-5s"),
            Err(ClockError::Backwards(_))
        ));
        assert!(matches!(
            ClockMove::by("soon"),
            Err(ClockError::BadDuration(_))
        ));
        assert_eq!(
            ClockMove::to("2030-01-01T02:00:00+02:00"),
            Ok(ClockMove::To(1_893_456_000_000))
        );
        assert!(matches!(
            ClockMove::to("2030-01-01"),
            Err(ClockError::BadTime(_))
        ));
    }

    #[test]
    fn times_round_trip_through_rfc_3339() {
        for ms in [0, 1_893_456_000_000, 1_893_456_000_250] {
            assert_eq!(parse_time(&format_time(ms)), Ok(ms));
        }
        assert_eq!(format_time(1_893_456_000_000), "2030-01-01T00:00:00Z");
    }
}
