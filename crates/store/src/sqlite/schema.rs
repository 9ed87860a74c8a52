//! The SQLite schema and its `user_version` migrations. Documented in the crate docs; keep them in step.

use crate::error::StorageError;
use rusqlite::Connection;

/// Each migration takes the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE namespaces (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL UNIQUE,
    profile       TEXT NOT NULL,
    ttl_enabled   INTEGER NOT NULL,
    status        TEXT NOT NULL,
    comment       TEXT,
    overrides     TEXT NOT NULL DEFAULT '{}',
    version       INTEGER NOT NULL,
    item_count    INTEGER NOT NULL DEFAULT 0,
    total_bytes   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL
);
CREATE TABLE entries (
    ns            INTEGER NOT NULL REFERENCES namespaces(seq),
    key           BLOB NOT NULL,
    value         BLOB NOT NULL,
    metadata      TEXT,
    content_type  TEXT,
    expires_at    INTEGER,
    version       INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL,
    UNIQUE (ns, key)
);
CREATE INDEX entries_expiry ON entries (ns, expires_at) WHERE expires_at IS NOT NULL;
"#];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to `VERSION`, one migration per transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > VERSION {
        return Err(StorageError::SchemaTooNew {
            found,
            supported: VERSION,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now > from as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
