//! The storage trait's row operations as SQL over one rusqlite connection. Keys are BLOBs so every
//! comparison is a byte comparison: listing order and prefix ranges are exact.

use crate::entry::KeyInfo;
use crate::error::StorageError;
use crate::namespace::{NamespaceOrder, NamespaceQuery};
use crate::storage::{
    decode_lookup, decode_namespace, encode_overrides, EntryHead, EntryLookup, EntryRow, KeyRange,
    NamespaceKey, NamespaceRow, ReadTx, StorageResult, WriteTx,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::sync::Arc;

const NS_COLUMNS: &str =
    "seq, id, name, profile, ttl_enabled, status, comment, overrides, version, \
                          item_count, total_bytes, created_at, modified_at";

/// A namespace row as read, its typed columns still text: decoded by [`RawNamespace::decode`]
/// outside rusqlite's row callback, so a bad one is [`StorageError::Corrupt`].
struct RawNamespace {
    seq: i64,
    id: String,
    name: String,
    profile: String,
    ttl_enabled: bool,
    status: String,
    comment: Option<String>,
    overrides: String,
    version: i64,
    item_count: u64,
    total_bytes: u64,
    created_at_ms: i64,
    modified_at_ms: i64,
}

fn namespace_row(r: &Row<'_>) -> rusqlite::Result<RawNamespace> {
    Ok(RawNamespace {
        seq: r.get(0)?,
        id: r.get(1)?,
        name: r.get(2)?,
        profile: r.get(3)?,
        ttl_enabled: r.get(4)?,
        status: r.get(5)?,
        comment: r.get(6)?,
        overrides: r.get(7)?,
        version: r.get(8)?,
        item_count: r.get(9)?,
        total_bytes: r.get(10)?,
        created_at_ms: r.get(11)?,
        modified_at_ms: r.get(12)?,
    })
}

impl RawNamespace {
    fn decode(self) -> StorageResult<NamespaceRow> {
        let (id, profile, status, overrides) =
            decode_namespace(&self.id, &self.profile, &self.status, &self.overrides)?;
        Ok(NamespaceRow {
            seq: self.seq,
            id,
            name: self.name,
            profile,
            ttl_enabled: self.ttl_enabled,
            status,
            comment: self.comment,
            overrides,
            version: self.version,
            item_count: self.item_count,
            total_bytes: self.total_bytes,
            created_at_ms: self.created_at_ms,
            modified_at_ms: self.modified_at_ms,
        })
    }
}

fn key_string(bytes: Vec<u8>) -> StorageResult<String> {
    String::from_utf8(bytes).map_err(|_| StorageError::Corrupt("a key is not UTF-8".into()))
}

impl ReadTx for Connection {
    fn namespace(&self, key: NamespaceKey<'_>) -> StorageResult<Option<NamespaceRow>> {
        let (column, value): (&str, rusqlite::types::Value) = match key {
            NamespaceKey::Seq(seq) => ("seq", seq.into()),
            NamespaceKey::Id(id) => ("id", id.to_string().into()),
            NamespaceKey::Name(name) => ("name", name.to_string().into()),
        };
        let sql = format!("SELECT {NS_COLUMNS} FROM namespaces WHERE {column} = ?1");
        self.prepare_cached(&sql)?
            .query_row([value], namespace_row)
            .optional()?
            .map(RawNamespace::decode)
            .transpose()
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
            "SELECT {NS_COLUMNS} FROM namespaces WHERE ?1 IS NULL OR profile = ?1 \
             ORDER BY {order} {dir} LIMIT ?2 OFFSET ?3"
        );
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        let rows = self
            .prepare_cached(&sql)?
            .query_map(params![profile, limit, offset], namespace_row)?
            .map(|raw| raw?.decode())
            .collect::<StorageResult<Vec<_>>>()?;
        let total: u64 = self
            .prepare_cached("SELECT count(*) FROM namespaces WHERE ?1 IS NULL OR profile = ?1")?
            .query_row([profile], |r| r.get(0))?;
        Ok((rows, total))
    }

    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> StorageResult<Option<EntryLookup>> {
        let found = self
            .prepare_cached(
                "SELECT n.status, e.value, e.metadata, e.content_type, e.expires_at, e.version, \
                 e.modified_at, n.profile, n.ttl_enabled, n.overrides FROM namespaces n \
                 LEFT JOIN entries e ON e.ns = n.seq AND e.key = ?2 \
                 AND (e.expires_at IS NULL OR e.expires_at > ?3) WHERE n.seq = ?1",
            )?
            .query_row(params![ns, key.as_bytes(), now_ms], |r| {
                let version: Option<i64> = r.get(5)?;
                let entry = match version {
                    None => None,
                    Some(version) => Some(EntryRow {
                        key: key.to_string(),
                        value: r.get(1)?,
                        metadata: r.get(2)?,
                        content_type: r.get(3)?,
                        expires_at_ms: r.get(4)?,
                        version,
                        modified_at_ms: r.get(6)?,
                    }),
                };
                let rules: (String, String, bool, String) =
                    (r.get(7)?, r.get(0)?, r.get(8)?, r.get(9)?);
                Ok((entry, rules))
            })
            .optional()?;
        let Some((entry, (profile, status, ttl_enabled, overrides))) = found else {
            return Ok(None);
        };
        let namespace = decode_lookup(ns, &profile, &status, ttl_enabled, &overrides)?;
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
        // One plain range per query (no `?x IS NULL OR ...`), so SQLite seeks the (ns, key) index.
        let (lower, op) = range.lower();
        let upper = if range.end.is_some() {
            "AND key < ?3"
        } else {
            "AND ?3 IS NULL"
        };
        let sql = format!(
            "SELECT key, expires_at, metadata, length(value), modified_at FROM entries \
             WHERE ns = ?1 AND key {op} ?2 {upper} AND (expires_at IS NULL OR expires_at > ?4) \
             ORDER BY key LIMIT ?5"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![ns, lower, range.end, now_ms, limit], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })?;
        let mut keys = Vec::new();
        for row in rows {
            let (key, expires_at_ms, metadata, size, modified_at_ms) = row?;
            keys.push(KeyInfo {
                key: key_string(key)?,
                expires_at_ms,
                metadata,
                size,
                modified_at_ms,
            });
        }
        Ok(keys)
    }

    fn expired_stats(&self, ns: i64, now_ms: i64) -> StorageResult<(u64, u64)> {
        Ok(self
            .prepare_cached(
                "SELECT count(*), coalesce(sum(length(key) + length(value)), 0) FROM entries \
                 WHERE ns = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
            )?
            .query_row(params![ns, now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?)
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
             FROM entries WHERE ns = ?1 AND key {op} ?2 \
             AND (expires_at IS NULL OR expires_at > ?3) ORDER BY key LIMIT ?4"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![ns, after, now_ms, limit], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        let mut entries = Vec::new();
        for row in rows {
            let (key, value, metadata, content_type, expires_at_ms, version, modified_at_ms) = row?;
            entries.push(EntryRow {
                key: key_string(key)?,
                value,
                metadata,
                content_type,
                expires_at_ms,
                version,
                modified_at_ms,
            });
        }
        Ok(entries)
    }
}

impl WriteTx for Connection {
    fn entry_head(&self, ns: i64, key: &str) -> StorageResult<Option<EntryHead>> {
        Ok(self
            .prepare_cached(
                "SELECT version, length(key) + length(value), expires_at FROM entries \
                 WHERE ns = ?1 AND key = ?2",
            )?
            .query_row(params![ns, key.as_bytes()], |r| {
                Ok(EntryHead {
                    version: r.get(0)?,
                    size: r.get(1)?,
                    expires_at_ms: r.get(2)?,
                })
            })
            .optional()?)
    }

    fn insert_namespace(&mut self, n: &NamespaceRow) -> StorageResult<Option<i64>> {
        let inserted = self
            .prepare_cached(
                "INSERT INTO namespaces (id, name, profile, ttl_enabled, status, comment, overrides, \
                 version, item_count, total_bytes, created_at, modified_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                 ON CONFLICT (name) DO NOTHING",
            )?
        .execute(params![
            n.id.to_string(),
            n.name,
            n.profile.as_str(),
            n.ttl_enabled,
            n.status.as_str(),
            n.comment,
            encode_overrides(&n.overrides),
            n.version,
            n.item_count,
            n.total_bytes,
            n.created_at_ms,
            n.modified_at_ms
        ])?;
        Ok((inserted == 1).then(|| self.last_insert_rowid()))
    }

    fn update_namespace(&mut self, n: &NamespaceRow) -> StorageResult<()> {
        self.prepare_cached(
            "UPDATE namespaces SET name = ?2, status = ?3, comment = ?4, overrides = ?5, version = ?6, \
             item_count = ?7, total_bytes = ?8, modified_at = ?9, ttl_enabled = ?10 WHERE seq = ?1",
        )?
        .execute(params![
            n.seq,
            n.name,
            n.status.as_str(),
            n.comment,
            encode_overrides(&n.overrides),
            n.version,
            n.item_count,
            n.total_bytes,
            n.modified_at_ms,
            n.ttl_enabled
        ])?;
        Ok(())
    }

    fn delete_namespace(&mut self, seq: i64) -> StorageResult<()> {
        self.prepare_cached("DELETE FROM entries WHERE ns = ?1")?
            .execute([seq])?;
        self.prepare_cached("DELETE FROM namespaces WHERE seq = ?1")?
            .execute([seq])?;
        Ok(())
    }

    fn upsert_entry(&mut self, ns: i64, e: &EntryRow) -> StorageResult<()> {
        self.prepare_cached(
            "INSERT INTO entries (ns, key, value, metadata, content_type, expires_at, version, modified_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata, \
             content_type = excluded.content_type, expires_at = excluded.expires_at, \
             version = excluded.version, modified_at = excluded.modified_at",
        )?
        .execute(params![
            ns,
            e.key.as_bytes(),
            e.value,
            e.metadata,
            e.content_type,
            e.expires_at_ms,
            e.version,
            e.modified_at_ms
        ])?;
        Ok(())
    }

    fn insert_entries(&mut self, ns: i64, rows: &[EntryRow]) -> StorageResult<()> {
        let mut stmt = self.prepare_cached(
            "INSERT INTO entries (ns, key, value, metadata, content_type, expires_at, version, \
             modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for e in rows {
            stmt.execute(params![
                ns,
                e.key.as_bytes(),
                e.value,
                e.metadata,
                e.content_type,
                e.expires_at_ms,
                e.version,
                e.modified_at_ms
            ])?;
        }
        Ok(())
    }

    fn delete_entry(&mut self, ns: i64, key: &str) -> StorageResult<()> {
        self.prepare_cached("DELETE FROM entries WHERE ns = ?1 AND key = ?2")?
            .execute(params![ns, key.as_bytes()])?;
        Ok(())
    }

    fn purge_expired(&mut self, ns: i64, now_ms: i64) -> StorageResult<(u64, u64)> {
        let stats = self.expired_stats(ns, now_ms)?;
        if stats.0 > 0 {
            self.prepare_cached(
                "DELETE FROM entries WHERE ns = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
            )?
            .execute(params![ns, now_ms])?;
        }
        Ok(stats)
    }

    fn namespaces_with_expired(&self, now_ms: i64) -> StorageResult<Vec<i64>> {
        let mut stmt = self.prepare_cached(
            "SELECT seq FROM namespaces n WHERE EXISTS (SELECT 1 FROM entries e \
             WHERE e.ns = n.seq AND e.expires_at IS NOT NULL AND e.expires_at <= ?1)",
        )?;
        let seqs = stmt
            .query_map([now_ms], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok(seqs)
    }

    fn delete_entries(&mut self, ns: i64) -> StorageResult<()> {
        self.prepare_cached("DELETE FROM entries WHERE ns = ?1")?
            .execute([ns])?;
        Ok(())
    }
}
