//! Snapshots (`Store::snapshot_to`, `Store::restore_from`): a snapshot is a store file holding
//! the data as it was; a restore brings every namespace and entry back in one transaction, leaves
//! out what was written since, raises every version above those issued before (an old ETag fails
//! its precondition), reads the restored data at once on ids whose internal seq changed, and
//! refuses a file that is not a store with the store untouched. A snapshot under concurrent
//! batches holds each batch whole or not at all; a failed snapshot leaves no file.

mod common;

use common::{open_on, options, Backend, TestStore};
use edgekv_store::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

on_both_backends!(
    a_restore_brings_back_the_snapshot_and_drops_what_came_after,
    an_etag_issued_before_a_restore_fails_its_precondition,
    a_restored_namespace_under_a_new_seq_is_read_at_once,
    a_file_that_is_not_a_store_is_refused_and_the_store_untouched,
    a_failed_snapshot_leaves_no_file,
    a_snapshot_under_concurrent_batches_holds_each_batch_whole_or_not_at_all,
);

/// Every namespace (by name) with its live entries: key -> (value, metadata, content type,
/// expiry); versions left out, since a restore raises them.
type Contents = BTreeMap<
    String,
    (
        Uuid,
        BTreeMap<String, (Vec<u8>, Option<String>, Option<String>, Option<i64>)>,
    ),
>;

fn contents(store: &Store) -> Contents {
    let page = store
        .list_namespaces(&NamespaceQuery {
            limit: 1000,
            ..NamespaceQuery::default()
        })
        .unwrap();
    page.namespaces
        .into_iter()
        .map(|ns| {
            let mut entries = BTreeMap::new();
            let mut cursor = None;
            loop {
                let query = ListQuery {
                    cursor,
                    limit: Some(1000),
                    ..ListQuery::default()
                };
                let page = store.list(&ns.id, &query).unwrap();
                for key in page.keys {
                    let e = store.get(&ns.id, &key.key).unwrap();
                    entries.insert(
                        e.key,
                        (e.value, e.metadata, e.content_type, e.expires_at_ms),
                    );
                }
                cursor = page.cursor;
                if cursor.is_none() {
                    break;
                }
            }
            (ns.name, (ns.id, entries))
        })
        .collect()
}

fn put(t: &TestStore, id: &Uuid, key: &str, value: &str) -> WriteOutcome {
    t.store.put(id, Put::new(key, value.as_bytes())).unwrap()
}

fn a_restore_brings_back_the_snapshot_and_drops_what_came_after(backend: Backend) {
    let t = open_on(backend);
    let users = t.namespace("users", Profile::Cloudflare);
    let orders = t.namespace("orders", Profile::Telnyx);
    put(&t, &users, "alice", "1");
    t.store
        .put(
            &users,
            Put {
                metadata: Some(r#"{"role":"admin"}"#.into()),
                content_type: Some("text/plain".into()),
                expiry: Expiry::TtlSecs(3600),
                ..Put::new("bob", b"2".to_vec())
            },
        )
        .unwrap();
    put(&t, &orders, "o1", "x");
    let before = contents(&t.store);
    let file = t.dir.path().join("s1.sqlite3");
    t.store.snapshot_to(&file).unwrap();

    put(&t, &users, "carol", "3");
    put(&t, &users, "alice", "changed");
    t.store.delete(&orders, Delete::new("o1")).unwrap();
    t.namespace("later", Profile::Cloudflare);
    t.store.delete_namespace(&orders, None).unwrap();
    assert_ne!(contents(&t.store), before);

    let restored = t.store.restore_from(&file).unwrap();
    assert_eq!((restored.namespaces, restored.keys), (2, 3));
    assert_eq!(contents(&t.store), before);
    // The counters are those of the restored entries.
    let users_ns = t.store.namespace("users").unwrap();
    assert_eq!(users_ns.item_count, 2);
    // The file is left as it was: restoring it again gives the same data.
    put(&t, &users, "dave", "4");
    t.store.restore_from(&file).unwrap();
    assert_eq!(contents(&t.store), before);
    // The snapshot is a store of its own.
    let copy = Store::open_with_clock(&file, options(), Arc::new(t.clock.clone())).unwrap();
    assert_eq!(contents(&copy), before);
}

fn an_etag_issued_before_a_restore_fails_its_precondition(backend: Backend) {
    let t = open_on(backend);
    let id = t.namespace("users", Profile::Cloudflare);
    put(&t, &id, "k", "snapshot");
    let file = t.dir.path().join("s.sqlite3");
    t.store.snapshot_to(&file).unwrap();
    let old = put(&t, &id, "k", "after");
    let version_before = t.store.namespace("users").unwrap().version;
    let old_entry = old.etag.unwrap().into_string();
    let old_namespace = old.namespace_etag.into_string();

    t.store.restore_from(&file).unwrap();
    let ns = t.store.namespace("users").unwrap();
    assert!(
        ns.version > version_before,
        "{} > {version_before}",
        ns.version
    );
    let entry_cas = Put {
        precondition: Precondition::EntryEtag(old_entry),
        ..Put::new("k", b"overwrite".to_vec())
    };
    assert!(matches!(
        t.store.put(&id, entry_cas),
        Err(StoreError::Conflict { .. })
    ));
    let namespace_cas = Put {
        precondition: Precondition::NamespaceEtag(old_namespace),
        ..Put::new("k", b"overwrite".to_vec())
    };
    assert!(matches!(
        t.store.put(&id, namespace_cas),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(t.store.get(&id, "k").unwrap().value, b"snapshot");
    // The restored ETags are new ones, and work.
    let fresh = t.store.get(&id, "k").unwrap().etag;
    let cas = Put {
        precondition: Precondition::EntryEtag(fresh.into_string()),
        ..Put::new("k", b"next".to_vec())
    };
    t.store.put(&id, cas).unwrap();
}

fn a_restored_namespace_under_a_new_seq_is_read_at_once(backend: Backend) {
    let t = open_on(backend);
    let id = t.namespace("users", Profile::Cloudflare);
    put(&t, &id, "k", "snapshot");
    let file = t.dir.path().join("s.sqlite3");
    t.store.snapshot_to(&file).unwrap();
    // The file's namespace differs from the store's in its creation time: the restore replaces
    // the row, under a new internal seq, rather than writing into it.
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute("UPDATE namespaces SET created_at = created_at - 1", [])
        .unwrap();
    drop(conn);
    put(&t, &id, "k", "after");
    assert_eq!(t.store.get(&id, "k").unwrap().value, b"after");

    // Another store on the same data (another node, another process) has the old seq cached.
    let other = t.another();
    assert_eq!(other.get(&id, "k").unwrap().value, b"after");

    t.store.restore_from(&file).unwrap();
    assert_eq!(t.store.get(&id, "k").unwrap().value, b"snapshot");
    assert_eq!(other.get(&id, "k").unwrap().value, b"snapshot");
    put(&t, &id, "k2", "v");
    assert_eq!(
        t.store.list(&id, &ListQuery::default()).unwrap().keys.len(),
        2
    );
}

fn a_file_that_is_not_a_store_is_refused_and_the_store_untouched(backend: Backend) {
    let t = open_on(backend);
    let id = t.namespace("users", Profile::Cloudflare);
    put(&t, &id, "k", "v");
    let before = contents(&t.store);
    let garbage = t.dir.path().join("garbage");
    std::fs::write(&garbage, vec![7u8; 8192]).unwrap();
    let missing = t.dir.path().join("missing");
    for file in [&garbage, &missing] {
        match t.store.restore_from(file) {
            Err(SnapshotError::NotAStore { path, .. }) => assert_eq!(&path, file),
            other => panic!("{}: {other:?}", file.display()),
        }
    }
    assert!(!missing.exists(), "a refused restore creates no file");
    assert_eq!(contents(&t.store), before);
}

fn a_failed_snapshot_leaves_no_file(backend: Backend) {
    let t = open_on(backend);
    let id = t.namespace("users", Profile::Cloudflare);
    put(&t, &id, "k", "v");
    // The rename onto a non-empty directory fails once the copy is whole.
    let dir = t.dir.path().join("snaps");
    let target = dir.join("taken");
    std::fs::create_dir_all(target.join("inside")).unwrap();
    assert!(t.store.snapshot_to(&target).is_err());
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("taken")]);
    // An existing snapshot file is replaced whole.
    let file = dir.join("s.sqlite3");
    t.store.snapshot_to(&file).unwrap();
    put(&t, &id, "k", "newer");
    t.store.snapshot_to(&file).unwrap();
    let copy = Store::open(&file, options()).unwrap();
    assert_eq!(copy.get(&id, "k").unwrap().value, b"newer");
}

fn a_snapshot_under_concurrent_batches_holds_each_batch_whole_or_not_at_all(backend: Backend) {
    const KEYS: usize = 20;
    let t = open_on(backend);
    let id = t.namespace("batches", Profile::Cloudflare);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (store, stop) = (t.store.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut round = 0u32;
                while !stop.load(Ordering::Relaxed) && round < 5000 {
                    let value = format!("{w}-{round}");
                    let ops = (0..KEYS)
                        .map(|k| BatchOp::Put(Put::new(format!("w{w}/{k}"), value.clone())))
                        .collect();
                    store
                        .apply(
                            &id,
                            Batch {
                                ops,
                                ..Batch::default()
                            },
                        )
                        .unwrap();
                    round += 1;
                }
            })
        })
        .collect();
    let mut files = Vec::new();
    for n in 0..5 {
        let file = t.dir.path().join(format!("s{n}.sqlite3"));
        t.store.snapshot_to(&file).unwrap();
        files.push(file);
    }
    stop.store(true, Ordering::Relaxed);
    writers.into_iter().for_each(|w| w.join().unwrap());
    for file in &files {
        check_batches_whole(file, &id, KEYS);
    }
    // And restoring one gives a store of whole batches too.
    t.store.restore_from(&files[2]).unwrap();
    let now = contents(&t.store);
    let entries = &now["batches"].1;
    for w in 0..3 {
        let values: std::collections::BTreeSet<_> = (0..KEYS)
            .filter_map(|k| entries.get(&format!("w{w}/{k}")).map(|e| e.0.clone()))
            .collect();
        assert!(values.len() <= 1, "writer {w}: {values:?}");
    }
}

fn check_batches_whole(file: &Path, id: &Uuid, keys: usize) {
    let copy = Store::open(file, options()).unwrap();
    for w in 0..3 {
        let values: Vec<Option<Vec<u8>>> = (0..keys)
            .map(|k| copy.get(id, &format!("w{w}/{k}")).ok().map(|e| e.value))
            .collect();
        assert!(
            values.windows(2).all(|p| p[0] == p[1]),
            "{}: writer {w}'s batch is torn: {values:?}",
            file.display()
        );
    }
}
