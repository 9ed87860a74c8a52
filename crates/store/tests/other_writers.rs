//! Two stores on one file, as a running server and `edgekv kv` are: whatever one commits, the
//! other's next read returns, although reads of unchanged data are served from its cache.

mod common;

use common::{open, T0};
use edgekv_store::*;
use std::sync::Arc;

fn second_store(t: &common::TestStore) -> Store {
    let options = StoreOptions {
        sweep_interval: None,
        ..StoreOptions::default()
    };
    Store::open_with_clock(
        &t.dir.path().join("kv.sqlite3"),
        options,
        Arc::new(ManualClock::new(T0)),
    )
    .expect("open the same file again")
}

fn value(store: &Store, ns: &Uuid, key: &str) -> Option<String> {
    match store.get(ns, key) {
        Ok(e) => Some(String::from_utf8(e.value).unwrap()),
        Err(StoreError::KeyNotFound(_)) => None,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_read_after_another_store_commits_sees_the_commit() {
    let t = open();
    let ns = t.namespace("shared", Profile::Cloudflare);
    let other = second_store(&t);
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

#[test]
fn reads_racing_another_stores_writes_never_go_back() {
    const WRITES: u64 = 400;
    let t = open();
    let ns = t.namespace("race", Profile::Cloudflare);
    let other = second_store(&t);
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
