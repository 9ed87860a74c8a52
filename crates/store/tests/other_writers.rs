//! Two stores on one database, as a running server and `edgekv kv` are on one SQLite file, or two
//! nodes on one PostgreSQL database: whatever one commits, the other's next read returns (on SQLite
//! although reads of unchanged data are served from its cache). And a write lock another SQLite
//! connection holds past the lock timeout fails the writes waiting for it with that cause.

mod common;

use common::{open_on, Backend, T0};
use edgekv_store::*;
use std::sync::Arc;

fn value(store: &Store, ns: &Uuid, key: &str) -> Option<String> {
    match store.get(ns, key) {
        Ok(e) => Some(String::from_utf8(e.value).unwrap()),
        Err(StoreError::KeyNotFound(_)) => None,
        Err(e) => panic!("{e}"),
    }
}

fn a_read_after_another_store_commits_sees_the_commit(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("shared", Profile::Cloudflare);
    let other = t.another();
    t.store.put(&ns, Put::new("k", "one")).unwrap();
    for _ in 0..3 {
        assert_eq!(value(&t.store, &ns, "k").as_deref(), Some("one"));
    }
    other.put(&ns, Put::new("k", "two")).unwrap();
    assert_eq!(value(&t.store, &ns, "k").as_deref(), Some("two"));
    assert_eq!(value(&t.store, &ns, "k").as_deref(), Some("two"));
    other
        .delete(
            &ns,
            Delete {
                key: "k".into(),
                precondition: Precondition::None,
            },
        )
        .unwrap();
    assert_eq!(value(&t.store, &ns, "k"), None);
    other.put(&ns, Put::new("k", "three")).unwrap();
    assert_eq!(value(&t.store, &ns, "k").as_deref(), Some("three"));
}

fn reads_racing_another_stores_writes_never_go_back(backend: Backend) {
    const WRITES: u64 = 400;
    let t = open_on(backend);
    let ns = t.namespace("race", Profile::Cloudflare);
    let other = t.another();
    other.put(&ns, Put::new("n", "0")).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut last = 0u64;
            let mut reads = 0u64;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let n: u64 = value(&t.store, &ns, "n").unwrap().parse().unwrap();
                assert!(n >= last, "read {n} after {last}");
                last = n;
                reads += 1;
            }
            reads
        });
        for i in 1..=WRITES {
            other.put(&ns, Put::new("n", i.to_string())).unwrap();
            let seen: u64 = value(&t.store, &ns, "n").unwrap().parse().unwrap();
            assert_eq!(seen, i, "a read after write {i} was acknowledged");
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        assert!(reader.join().unwrap() > 0);
    });
}

#[test]
fn a_write_lock_held_past_the_timeout_fails_every_write_of_the_group_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.sqlite3");
    let options = StoreOptions {
        sweep_interval: None,
        lock_timeout: std::time::Duration::from_millis(50),
        ..StoreOptions::default()
    };
    let store = Store::open_with_clock(&path, options, Arc::new(ManualClock::new(T0))).unwrap();
    let ns = store
        .create_namespace(NewNamespace::new("locked", Profile::Cloudflare))
        .unwrap()
        .id;
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let results: Vec<Result<WriteOutcome>> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|i| {
                let store = &store;
                s.spawn(move || store.put(&ns, Put::new(format!("k{i}"), "v")))
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for result in results {
        match result {
            Err(StoreError::Storage(StorageError::Commit(why))) => {
                assert!(why.contains("locked"), "{why}")
            }
            other => panic!("expected the commit's failure, got {other:?}"),
        }
    }
    other.execute_batch("ROLLBACK").unwrap();
    store.put(&ns, Put::new("k", "v")).unwrap();
    assert_eq!(store.get(&ns, "k").unwrap().value, b"v");
}

on_both_backends!(
    a_read_after_another_store_commits_sees_the_commit,
    reads_racing_another_stores_writes_never_go_back,
);
