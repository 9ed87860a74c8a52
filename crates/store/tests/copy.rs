//! Copying every namespace of one store into another (`Store::copy_to`): SQLite to the backend
//! under test and back to a new SQLite file keeps every id, name, profile, version and ETag, leaves
//! out expired entries, and agrees on the checksum; a destination that is the source or holds a
//! clashing namespace is refused with nothing written; a copy that fails midway leaves whole
//! namespaces only.

mod common;

use common::{open_on, Backend, TestStore, T0};
use edgekv_store::copy::{CopyError, CopyReport};
use edgekv_store::storage::{self, EntryRow, KeyRange, NamespaceKey, NamespaceRow, ReadTx};
use edgekv_store::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

on_both_backends!(
    every_namespace_and_entry_round_trips_through_the_backend,
    a_destination_holding_a_copied_id_or_name_is_refused_and_untouched,
    the_same_store_is_refused,
    a_copy_that_fails_midway_leaves_whole_namespaces_only,
);

/// The namespaces and live entries of a store, as its readers see them.
fn contents(store: &Store) -> BTreeMap<Uuid, (Namespace, Vec<Entry>)> {
    let page = store
        .list_namespaces(&NamespaceQuery {
            limit: 1000,
            ..NamespaceQuery::default()
        })
        .unwrap();
    page.namespaces
        .into_iter()
        .map(|ns| {
            let entries = match ns.status {
                NamespaceStatus::Ready => every_entry(store, &ns.id),
                _ => Vec::new(),
            };
            (ns.id, (ns, entries))
        })
        .collect()
}

fn every_entry(store: &Store, id: &Uuid) -> Vec<Entry> {
    let (mut entries, mut cursor) = (Vec::new(), None);
    loop {
        let page = store
            .list(
                id,
                &ListQuery {
                    cursor,
                    limit: Some(store.limits(id).unwrap().max_list_limit),
                    ..ListQuery::default()
                },
            )
            .unwrap();
        for key in page.keys {
            entries.push(store.get(id, &key.key).unwrap());
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return entries,
        }
    }
}

fn put(key: &str, value: &[u8]) -> Put {
    Put::new(key, value.to_vec())
}

/// A store with a namespace of each profile, metadata, content types, expiries (one of them
/// expired by the time of the copy), limit overrides, a comment, a status other than ready,
/// keys that sort differently bytewise than by characters, a value larger than a copy's page and
/// more keys than one page holds. Returns the key that has expired.
fn seed(t: &TestStore) -> (Uuid, &'static str) {
    let s = &t.store;
    let mut cf = NewNamespace::new("cloudflare-ns", Profile::Cloudflare);
    cf.overrides.max_value_bytes = Some(8 << 20);
    let cf = t.create(cf).id;
    s.put(
        &cf,
        Put {
            metadata: Some(r#"{"lang":"en","n":1}"#.into()),
            expiry: Expiry::TtlSecs(3600),
            ..put("greeting", b"hello")
        },
    )
    .unwrap();
    s.put(
        &cf,
        Put {
            expiry: Expiry::TtlSecs(60),
            ..put("short-lived", b"gone soon")
        },
    )
    .unwrap();
    s.put(&cf, put("big", &vec![7u8; 5 << 20])).unwrap();
    for key in ["a", "a\u{ff}", "B", "\u{e9}", "a/b", "z"] {
        s.put(&cf, put(key, key.as_bytes())).unwrap();
    }
    // A key written twice and one deleted then written again: entry versions differ from the
    // namespace's.
    s.put(&cf, put("twice", b"1")).unwrap();
    s.put(&cf, put("twice", b"2")).unwrap();
    s.delete(&cf, Delete::new("a")).unwrap();
    s.put(&cf, put("a", &[0, 255, 1])).unwrap();
    let many = (0..2500)
        .map(|i| Put {
            metadata: (i % 3 == 0).then(|| format!(r#"{{"i":{i}}}"#)),
            ..put(&format!("many/{i:05}"), format!("value {i}").as_bytes())
        })
        .collect();
    s.import(&cf, many).unwrap();

    let cloudfront = t.create(NewNamespace {
        comment: Some("a CloudFront store".into()),
        ..NewNamespace::new("cloudfront-ns", Profile::Cloudfront)
    });
    s.put(&cloudfront.id, put("cf-key", b"small")).unwrap();

    let telnyx = t.namespace("telnyx-ns", Profile::Telnyx);
    s.put(
        &telnyx,
        Put {
            content_type: Some("application/json".into()),
            expiry: Expiry::TtlSecs(86_400),
            ..put("config.json", br#"{"a":1}"#)
        },
    )
    .unwrap();
    let no_ttl = t.create(NewNamespace {
        ttl_enabled: false,
        ..NewNamespace::new("telnyx-no-ttl", Profile::Telnyx)
    });
    s.put(&no_ttl.id, put("k", b"v")).unwrap();
    let pending = t.namespace("telnyx-pending", Profile::Telnyx);
    s.put(&pending, put("kept", b"while pending")).unwrap();
    s.update_namespace(
        &pending,
        NamespaceUpdate {
            status: Some(NamespaceStatus::Pending),
            ..NamespaceUpdate::default()
        },
    )
    .unwrap();
    t.namespace("empty", Profile::Cloudflare);
    t.clock.advance_ms(61_000);
    (cf, "short-lived")
}

fn copy(from: &Store, to: &Store) -> CopyReport {
    let mut told = Vec::new();
    let report = from
        .copy_to(to, &mut |copied| told.push(copied.name.clone()))
        .expect("copy");
    assert_eq!(told.len() as u64, report.source.namespaces, "{told:?}");
    report
}

fn every_namespace_and_entry_round_trips_through_the_backend(middle: Backend) {
    let source = open_on(Backend::Sqlite);
    let (cf, expired) = seed(&source);
    let original = contents(&source.store);
    assert!(matches!(
        source.store.get(&cf, expired),
        Err(StoreError::KeyNotFound(_))
    ));

    let there = open_on(middle);
    let first = copy(&source.store, &there.store);
    let back = open_on(Backend::Sqlite);
    let second = copy(&there.store, &back.store);

    assert!(first.verified(), "{first:?}");
    assert!(second.verified(), "{second:?}");
    assert_eq!(
        first.source, second.source,
        "the same data, the same checksum"
    );
    assert_eq!(first.source.namespaces, 6);
    let keys: usize = original.values().map(|(_, entries)| entries.len()).sum();
    // The pending namespace's key is copied too, though no reader sees it until it is ready.
    assert_eq!(first.source.keys, keys as u64 + 1);

    for copy in [&there.store, &back.store] {
        let copied = contents(copy);
        assert_eq!(copied.len(), original.len());
        for (id, (namespace, entries)) in &original {
            let (got, got_entries) = &copied[id];
            assert_eq!(got, namespace, "namespace {}", namespace.name);
            assert_eq!(got.etag(), namespace.etag());
            assert_eq!(got_entries.len(), entries.len(), "{}", namespace.name);
            for (got, want) in got_entries.iter().zip(entries) {
                assert_eq!(got, want, "{}: {:?}", namespace.name, want.key);
            }
        }
        // Expired at the copy, not copied: these stores' clocks are still before its expiry.
        assert!(matches!(
            copy.get(&cf, expired),
            Err(StoreError::KeyNotFound(_))
        ));
    }
    let pending = original
        .values()
        .find(|(ns, _)| ns.name == "telnyx-pending")
        .unwrap()
        .0
        .id;
    back.store
        .update_namespace(
            &pending,
            NamespaceUpdate {
                status: Some(NamespaceStatus::Ready),
                ..NamespaceUpdate::default()
            },
        )
        .unwrap();
    assert_eq!(
        back.store.get(&pending, "kept").unwrap().value,
        b"while pending"
    );
    // The copy's counters are its own: a write goes on from them.
    back.store.put(&cf, put("one-more", b"x")).unwrap();
    let after = back.store.namespace(&cf.to_string()).unwrap();
    assert_eq!(after.item_count, original[&cf].0.item_count + 1);
    assert_eq!(after.version, original[&cf].0.version + 1);
}

fn a_destination_holding_a_copied_id_or_name_is_refused_and_untouched(backend: Backend) {
    let source = open_on(Backend::Sqlite);
    let a = source.namespace("a", Profile::Cloudflare);
    source.store.put(&a, put("k", b"v")).unwrap();
    source.namespace("b", Profile::Telnyx);

    // The same name, another id.
    let named = open_on(backend);
    let theirs = named.namespace("b", Profile::Cloudflare);
    named.store.put(&theirs, put("mine", b"keep")).unwrap();
    let before = contents(&named.store);
    match source
        .store
        .copy_to(&named.store, &mut |c| panic!("copied {c:?}"))
    {
        Err(CopyError::Clash(clashes)) => {
            assert_eq!(clashes.len(), 1, "{clashes:?}");
            assert_eq!(clashes[0].existing, (theirs, "b".to_string()));
        }
        other => panic!("expected a clash, got {:?}", other.map(|_| ())),
    }
    assert_eq!(contents(&named.store), before, "nothing written");

    // The same id under another name: a copy that was renamed since.
    let copied = open_on(backend);
    copy(&source.store, &copied.store);
    copied
        .store
        .update_namespace(
            &a,
            NamespaceUpdate {
                name: Some("renamed".into()),
                ..NamespaceUpdate::default()
            },
        )
        .unwrap();
    let b = contents(&copied.store)
        .into_values()
        .find(|(ns, _)| ns.name == "b")
        .unwrap()
        .0
        .id;
    copied.store.delete_namespace(&b, None).unwrap();
    let before = contents(&copied.store);
    match source
        .store
        .copy_to(&copied.store, &mut |c| panic!("copied {c:?}"))
    {
        Err(CopyError::Clash(clashes)) => {
            assert_eq!(clashes.len(), 1, "{clashes:?}");
            assert_eq!(clashes[0].existing, (a, "renamed".to_string()));
            assert!(
                clashes[0].to_string().contains("with the id of"),
                "{}",
                clashes[0]
            );
        }
        other => panic!("expected a clash, got {:?}", other.map(|_| ())),
    }
    assert_eq!(
        contents(&copied.store),
        before,
        "nothing written, not even b"
    );
}

fn the_same_store_is_refused(backend: Backend) {
    let t = open_on(backend);
    t.namespace("a", Profile::Cloudflare);
    let again = t.another();
    for to in [&t.store, &again] {
        assert!(matches!(
            t.store.copy_to(to, &mut |c| panic!("copied {c:?}")),
            Err(CopyError::SameStore)
        ));
    }
    // An empty store, too, though nothing would clash.
    let empty = open_on(backend);
    assert!(matches!(
        empty.store.copy_to(&empty.another(), &mut |_| ()),
        Err(CopyError::SameStore)
    ));
    assert_eq!(contents(&t.store).len(), 1);
}

fn a_copy_that_fails_midway_leaves_whole_namespaces_only(backend: Backend) {
    let seeded = open_on(Backend::Sqlite);
    let ids: Vec<Uuid> = ["first", "second"]
        .into_iter()
        .map(|name| seeded.namespace(name, Profile::Cloudflare))
        .collect();
    for id in &ids {
        let puts = (0..2500).map(|i| put(&format!("k{i:05}"), b"v")).collect();
        seeded.store.import(id, puts).unwrap();
    }
    let (first, second) = match ids[0] < ids[1] {
        true => (ids[0], ids[1]),
        false => (ids[1], ids[0]),
    };
    // The source's reads fail at the second namespace's second page (the fifth in all).
    let reads = Arc::new(AtomicU32::new(0));
    let failing = FailingPages {
        inner: edgekv_store::sqlite::SqliteStorage::open(
            std::path::Path::new(&seeded.url),
            Durability::Normal,
        )
        .unwrap(),
        pages: reads.clone(),
        fail_at: 5,
    };
    let source = Store::with_storage(Box::new(failing), Arc::new(ManualClock::new(T0)));
    let destination = open_on(backend);
    let mut told = Vec::new();
    let failed = source.copy_to(&destination.store, &mut |c| told.push(c.id));
    assert!(
        matches!(
            failed,
            Err(CopyError::Store(StoreError::Storage(
                StorageError::Corrupt(_)
            )))
        ),
        "{:?}",
        failed.map(|_| ())
    );
    assert_eq!(told, vec![first]);
    let left = contents(&destination.store);
    assert_eq!(left.keys().collect::<Vec<_>>(), vec![&first]);
    assert_eq!(left[&first].1.len(), 2500);
    assert_eq!(left[&first].0.item_count, 2500);
    assert!(matches!(
        destination.store.namespace(&second.to_string()),
        Err(StoreError::NamespaceNotFound(_))
    ));
}

/// A SQLite storage whose copy reads fail at the `fail_at`th page of entries.
struct FailingPages {
    inner: edgekv_store::sqlite::SqliteStorage,
    pages: Arc<AtomicU32>,
    fail_at: u32,
}

impl storage::Storage for FailingPages {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.inner.read(f)
    }
    fn submit(&self, job: Box<dyn storage::WriteJob>) -> Result<()> {
        self.inner.submit(job)
    }
    fn snapshot(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.inner.snapshot(&mut |tx| f(&Failing { tx, of: self }))
    }
    fn identity(&self) -> Result<String> {
        self.inner.identity()
    }
}

struct Failing<'a> {
    tx: &'a dyn ReadTx,
    of: &'a FailingPages,
}

impl ReadTx for Failing<'_> {
    fn namespace(&self, key: NamespaceKey<'_>) -> storage::StorageResult<Option<NamespaceRow>> {
        self.tx.namespace(key)
    }
    fn namespaces(
        &self,
        query: &NamespaceQuery,
    ) -> storage::StorageResult<(Vec<NamespaceRow>, u64)> {
        self.tx.namespaces(query)
    }
    fn entry(
        &self,
        ns: i64,
        key: &str,
        now_ms: i64,
    ) -> storage::StorageResult<Option<storage::EntryLookup>> {
        self.tx.entry(ns, key, now_ms)
    }
    fn keys(
        &self,
        ns: i64,
        range: KeyRange<'_>,
        limit: u64,
        now_ms: i64,
    ) -> storage::StorageResult<Vec<KeyInfo>> {
        self.tx.keys(ns, range, limit, now_ms)
    }
    fn expired_stats(&self, ns: i64, now_ms: i64) -> storage::StorageResult<(u64, u64)> {
        self.tx.expired_stats(ns, now_ms)
    }
    fn entry_rows(
        &self,
        ns: i64,
        after: Option<&[u8]>,
        limit: u64,
        now_ms: i64,
    ) -> storage::StorageResult<Vec<EntryRow>> {
        if self.of.pages.fetch_add(1, Ordering::SeqCst) + 1 == self.of.fail_at {
            return Err(StorageError::Corrupt("a page that cannot be read".into()));
        }
        self.tx.entry_rows(ns, after, limit, now_ms)
    }
}
