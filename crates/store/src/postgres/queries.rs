//! The storage trait's row operations as SQL over one PostgreSQL connection, in the same shapes as
//! SQLite's (`crate::sqlite`). Keys are `BYTEA`, so every comparison is a byte comparison: listing
//! order and prefix ranges are exact. Written to the SQL that CockroachDB and YugabyteDB also accept.
//!
//! Inside the writer's transaction a namespace read by its `seq` (how every change begins) takes
//! the row's lock (`FOR UPDATE`): every write to a namespace, from any node, holds it until its
//! commit, so each reads the namespace and its entries as the last commit left them and
//! preconditions are linearizable across nodes.

use super::connect::PgConn;
use crate::entry::KeyInfo;
use crate::error::StorageError;
use crate::namespace::{NamespaceOrder, NamespaceQuery};
use crate::storage::{
    decode_lookup, decode_rules, encode_overrides, EntryHead, EntryLookup, EntryRow, KeyRange,
    NamespaceKey, NamespaceRow, ReadTx, StorageResult, WriteTx,
};
use ::postgres::error::SqlState;
use ::postgres::types::ToSql;
use ::postgres::Row;
use std::cell::RefCell;
use std::sync::Arc;

const NS_COLUMNS: &str =
    "seq, id, name, profile, ttl_enabled, status, comment, overrides, version, \
                          item_count, total_bytes, created_at, modified_at";

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// Statements on one connection: a read (the pool's) or the writer's open transaction.
pub struct PgTx<'c> {
    conn: RefCell<&'c mut PgConn>,
    /// Whether namespace rows read by `seq` are locked for the transaction (the writer's).
    writing: bool,
}

impl<'c> PgTx<'c> {
    /// Statements of a read.
    pub fn reading(conn: &'c mut PgConn) -> PgTx<'c> {
        PgTx {
            conn: RefCell::new(conn),
            writing: false,
        }
    }

    /// Statements of the writer's transaction.
    pub fn writing(conn: &'c mut PgConn) -> PgTx<'c> {
        PgTx {
            conn: RefCell::new(conn),
            writing: true,
        }
    }

    fn rows(&self, sql: &str, params: Params<'_>) -> StorageResult<Vec<Row>> {
        let mut conn = self.conn.borrow_mut();
        let statement = conn.statement(sql)?;
        Ok(conn.client.query(&statement, params)?)
    }

    fn row(&self, sql: &str, params: Params<'_>) -> StorageResult<Option<Row>> {
        let mut conn = self.conn.borrow_mut();
        let statement = conn.statement(sql)?;
        Ok(conn.client.query_opt(&statement, params)?)
    }

    fn one(&self, sql: &str, params: Params<'_>) -> StorageResult<Row> {
        let mut conn = self.conn.borrow_mut();
        let statement = conn.statement(sql)?;
        Ok(conn.client.query_one(&statement, params)?)
    }

    fn execute(&self, sql: &str, params: Params<'_>) -> StorageResult<u64> {
        let mut conn = self.conn.borrow_mut();
        let statement = conn.statement(sql)?;
        Ok(conn.client.execute(&statement, params)?)
    }
}

/// A stored count (never negative) as the store counts.
fn count(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or(0)
}

/// A count as stored.
fn stored(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn namespace_row(r: &Row) -> StorageResult<NamespaceRow> {
    let id: uuid::Uuid = r.try_get(1)?;
    let (profile, status, overrides) =
        decode_rules(&id.to_string(), r.try_get(3)?, r.try_get(5)?, r.try_get(7)?)?;
    Ok(NamespaceRow {
        seq: r.try_get(0)?,
        id,
        name: r.try_get(2)?,
        profile,
        ttl_enabled: r.try_get(4)?,
        status,
        comment: r.try_get(6)?,
        overrides,
        version: r.try_get(8)?,
        item_count: count(r.try_get(9)?),
        total_bytes: count(r.try_get(10)?),
        created_at_ms: r.try_get(11)?,
        modified_at_ms: r.try_get(12)?,
    })
}

fn key_string(bytes: Vec<u8>) -> StorageResult<String> {
    String::from_utf8(bytes).map_err(|_| StorageError::Corrupt("a key is not UTF-8".into()))
}

impl ReadTx for PgTx<'_> {
    fn namespace(&self, key: NamespaceKey<'_>) -> StorageResult<Option<NamespaceRow>> {
        let row = match key {
            NamespaceKey::Seq(seq) if self.writing => self.row(
                &format!("SELECT {NS_COLUMNS} FROM namespaces WHERE seq = $1 FOR UPDATE"),
                &[&seq],
            )?,
            NamespaceKey::Seq(seq) => self.row(
                &format!("SELECT {NS_COLUMNS} FROM namespaces WHERE seq = $1"),
                &[&seq],
            )?,
            NamespaceKey::Id(id) => self.row(
                &format!("SELECT {NS_COLUMNS} FROM namespaces WHERE id = $1"),
                &[id],
            )?,
            NamespaceKey::Name(name) => self.row(
                &format!("SELECT {NS_COLUMNS} FROM namespaces WHERE name = $1"),
                &[&name],
            )?,
        };
        row.as_ref().map(namespace_row).transpose()
    }

    fn namespaces(&self, q: &NamespaceQuery) -> StorageResult<(Vec<NamespaceRow>, u64)> {
        let order = match q.order {
            NamespaceOrder::Name => "name",
            NamespaceOrder::Id => "id",
            NamespaceOrder::Created => "seq",
        };
        let dir = if q.descending { "DESC" } else { "ASC" };
        let profile = q.profile.map(|p| p.as_str());
        let sql = format!(
            "SELECT {NS_COLUMNS} FROM namespaces WHERE $1::TEXT IS NULL OR profile = $1 \
             ORDER BY {order} {dir} LIMIT $2 OFFSET $3"
        );
        let rows = self
            .rows(&sql, &[&profile, &stored(q.limit), &stored(q.offset)])?
            .iter()
            .map(namespace_row)
            .collect::<StorageResult<Vec<_>>>()?;
        let total: i64 = self
            .one(
                "SELECT count(*) FROM namespaces WHERE $1::TEXT IS NULL OR profile = $1",
                &[&profile],
            )?
            .try_get(0)?;
        Ok((rows, count(total)))
    }

    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> StorageResult<Option<EntryLookup>> {
        let Some(r) = self.row(
            "SELECT n.status, e.value, e.metadata, e.content_type, e.expires_at, e.version, \
             e.modified_at, n.profile, n.ttl_enabled, n.overrides FROM namespaces n \
             LEFT JOIN entries e ON e.ns = n.seq AND e.key = $2 \
             AND (e.expires_at IS NULL OR e.expires_at > $3) WHERE n.seq = $1",
            &[&ns, &key.as_bytes(), &now_ms],
        )?
        else {
            return Ok(None);
        };
        let version: Option<i64> = r.try_get(5)?;
        let entry = match version {
            None => None,
            Some(version) => Some(EntryRow {
                key: key.to_string(),
                value: r.try_get(1)?,
                metadata: r.try_get(2)?,
                content_type: r.try_get(3)?,
                expires_at_ms: r.try_get(4)?,
                version,
                modified_at_ms: r.try_get(6)?,
            }),
        };
        let namespace = decode_lookup(
            ns,
            r.try_get(7)?,
            r.try_get(0)?,
            r.try_get(8)?,
            r.try_get(9)?,
        )?;
        Ok(Some(EntryLookup {
            namespace: Arc::new(namespace),
            entry,
        }))
    }

    fn keys(
        &self,
        ns: i64,
        range: KeyRange<'_>,
        limit: u64,
        now_ms: i64,
    ) -> StorageResult<Vec<KeyInfo>> {
        // One plain range per query, so the planner seeks the (ns, key) primary key.
        let (lower, op) = range.lower();
        let upper = if range.end.is_some() {
            "AND key < $3"
        } else {
            "AND $3::BYTEA IS NULL"
        };
        let sql = format!(
            "SELECT key, expires_at, metadata, octet_length(value)::BIGINT, modified_at \
             FROM entries WHERE ns = $1 AND key {op} $2 {upper} \
             AND (expires_at IS NULL OR expires_at > $4) ORDER BY key LIMIT $5"
        );
        let rows = self.rows(&sql, &[&ns, &lower, &range.end, &now_ms, &stored(limit)])?;
        rows.iter()
            .map(|r| {
                Ok(KeyInfo {
                    key: key_string(r.try_get(0)?)?,
                    expires_at_ms: r.try_get(1)?,
                    metadata: r.try_get(2)?,
                    size: count(r.try_get(3)?),
                    modified_at_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    fn expired_stats(&self, ns: i64, now_ms: i64) -> StorageResult<(u64, u64)> {
        let r = self.one(
            "SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value)), 0)::BIGINT \
             FROM entries WHERE ns = $1 AND expires_at IS NOT NULL AND expires_at <= $2",
            &[&ns, &now_ms],
        )?;
        Ok((count(r.try_get(0)?), count(r.try_get(1)?)))
    }

    fn entry_rows(
        &self,
        ns: i64,
        after: Option<&[u8]>,
        limit: u64,
        now_ms: i64,
    ) -> StorageResult<Vec<EntryRow>> {
        let (after, op): (&[u8], &str) = match after {
            Some(after) => (after, ">"),
            None => (&[], ">="),
        };
        let sql = format!(
            "SELECT key, value, metadata, content_type, expires_at, version, modified_at \
             FROM entries WHERE ns = $1 AND key {op} $2 \
             AND (expires_at IS NULL OR expires_at > $3) ORDER BY key LIMIT $4"
        );
        let rows = self.rows(&sql, &[&ns, &after, &now_ms, &stored(limit)])?;
        rows.iter()
            .map(|r| {
                Ok(EntryRow {
                    key: key_string(r.try_get(0)?)?,
                    value: r.try_get(1)?,
                    metadata: r.try_get(2)?,
                    content_type: r.try_get(3)?,
                    expires_at_ms: r.try_get(4)?,
                    version: r.try_get(5)?,
                    modified_at_ms: r.try_get(6)?,
                })
            })
            .collect()
    }
}

impl WriteTx for PgTx<'_> {
    fn entry_head(&self, ns: i64, key: &str) -> StorageResult<Option<EntryHead>> {
        let row = self.row(
            "SELECT version, (octet_length(key) + octet_length(value))::BIGINT, expires_at \
             FROM entries WHERE ns = $1 AND key = $2",
            &[&ns, &key.as_bytes()],
        )?;
        row.map(|r| {
            Ok(EntryHead {
                version: r.try_get(0)?,
                size: count(r.try_get(1)?),
                expires_at_ms: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// `ON CONFLICT DO NOTHING` waits for another node's transaction inserting the same name and
    /// then yields to it, so a race for a name ends as `None`, not as a unique violation.
    fn insert_namespace(&mut self, n: &NamespaceRow) -> StorageResult<Option<i64>> {
        let row = self.row(
            "INSERT INTO namespaces (id, name, profile, ttl_enabled, status, comment, overrides, \
             version, item_count, total_bytes, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (name) DO NOTHING RETURNING seq",
            &[
                &n.id,
                &n.name,
                &n.profile.as_str(),
                &n.ttl_enabled,
                &n.status.as_str(),
                &n.comment,
                &encode_overrides(&n.overrides),
                &n.version,
                &stored(n.item_count),
                &stored(n.total_bytes),
                &n.created_at_ms,
                &n.modified_at_ms,
            ],
        )?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn update_namespace(&mut self, n: &NamespaceRow) -> StorageResult<()> {
        self.execute(
            "UPDATE namespaces SET name = $2, status = $3, comment = $4, overrides = $5, \
             version = $6, item_count = $7, total_bytes = $8, modified_at = $9, ttl_enabled = $10 \
             WHERE seq = $1",
            &[
                &n.seq,
                &n.name,
                &n.status.as_str(),
                &n.comment,
                &encode_overrides(&n.overrides),
                &n.version,
                &stored(n.item_count),
                &stored(n.total_bytes),
                &n.modified_at_ms,
                &n.ttl_enabled,
            ],
        )
        .map_err(|e| match &e {
            // A rename racing another node's create or rename to the same name, which committed
            // after this one looked.
            StorageError::Postgres(pg) if pg.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                StorageError::NameTaken(n.name.clone())
            }
            _ => e,
        })?;
        Ok(())
    }

    fn delete_namespace(&mut self, seq: i64) -> StorageResult<()> {
        self.execute("DELETE FROM entries WHERE ns = $1", &[&seq])?;
        self.execute("DELETE FROM namespaces WHERE seq = $1", &[&seq])?;
        Ok(())
    }

    fn upsert_entry(&mut self, ns: i64, e: &EntryRow) -> StorageResult<()> {
        self.execute(
            "INSERT INTO entries (ns, key, value, metadata, content_type, expires_at, version, \
             modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, \
             metadata = excluded.metadata, content_type = excluded.content_type, \
             expires_at = excluded.expires_at, version = excluded.version, \
             modified_at = excluded.modified_at",
            &[
                &ns,
                &e.key.as_bytes(),
                &e.value,
                &e.metadata,
                &e.content_type,
                &e.expires_at_ms,
                &e.version,
                &e.modified_at_ms,
            ],
        )?;
        Ok(())
    }

    /// One statement for all the rows (arrays, one element per row), not a round trip per row.
    fn insert_entries(&mut self, ns: i64, rows: &[EntryRow]) -> StorageResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<&[u8]> = rows.iter().map(|e| e.key.as_bytes()).collect();
        let values: Vec<&[u8]> = rows.iter().map(|e| e.value.as_slice()).collect();
        let metadata: Vec<Option<&str>> = rows.iter().map(|e| e.metadata.as_deref()).collect();
        let types: Vec<Option<&str>> = rows.iter().map(|e| e.content_type.as_deref()).collect();
        let expiries: Vec<Option<i64>> = rows.iter().map(|e| e.expires_at_ms).collect();
        let versions: Vec<i64> = rows.iter().map(|e| e.version).collect();
        let modified: Vec<i64> = rows.iter().map(|e| e.modified_at_ms).collect();
        self.execute(
            "INSERT INTO entries (ns, key, value, metadata, content_type, expires_at, version, \
             modified_at) SELECT $1, * FROM unnest($2::BYTEA[], $3::BYTEA[], $4::TEXT[], \
             $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[])",
            &[
                &ns, &keys, &values, &metadata, &types, &expiries, &versions, &modified,
            ],
        )?;
        Ok(())
    }

    fn delete_entry(&mut self, ns: i64, key: &str) -> StorageResult<()> {
        self.execute(
            "DELETE FROM entries WHERE ns = $1 AND key = $2",
            &[&ns, &key.as_bytes()],
        )?;
        Ok(())
    }

    fn purge_expired(&mut self, ns: i64, now_ms: i64) -> StorageResult<(u64, u64)> {
        // Counts exactly the rows this statement deleted: a node that swept them first (and held
        // the namespace's lock while it did) leaves none to count again.
        let r = self.one(
            "WITH gone AS (DELETE FROM entries WHERE ns = $1 AND expires_at IS NOT NULL \
             AND expires_at <= $2 RETURNING octet_length(key) + octet_length(value) AS size) \
             SELECT count(*), coalesce(sum(size), 0)::BIGINT FROM gone",
            &[&ns, &now_ms],
        )?;
        Ok((count(r.try_get(0)?), count(r.try_get(1)?)))
    }

    fn namespaces_with_expired(&self, now_ms: i64) -> StorageResult<Vec<i64>> {
        // In `seq` order, so sweeps of several nodes lock namespaces in one order.
        let rows = self.rows(
            "SELECT seq FROM namespaces n WHERE EXISTS (SELECT 1 FROM entries e \
             WHERE e.ns = n.seq AND e.expires_at IS NOT NULL AND e.expires_at <= $1) \
             ORDER BY seq",
            &[&now_ms],
        )?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn delete_entries(&mut self, ns: i64) -> StorageResult<()> {
        self.execute("DELETE FROM entries WHERE ns = $1", &[&ns])?;
        Ok(())
    }
}
