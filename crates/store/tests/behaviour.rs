//! Namespaces, preconditions, ETags, expiry and listing through the store's public API.

mod common;

use common::{open_on, Backend, T0};
use edgekv_store::*;

fn conflict<T: std::fmt::Debug>(result: Result<T>) -> Option<Etag> {
    match result {
        Err(StoreError::Conflict { current }) => current,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn keys(page: &KeyPage) -> Vec<&str> {
    page.keys.iter().map(|k| k.key.as_str()).collect()
}

fn namespaces_create_get_list_rename_delete(backend: Backend) {
    let t = open_on(backend);
    let a = t.namespace("alpha", Profile::Cloudflare);
    let b = t.namespace("beta", Profile::Telnyx);
    assert!(matches!(
        t.store
            .create_namespace(NewNamespace::new("alpha", Profile::Cloudflare)),
        Err(StoreError::NamespaceExists(_))
    ));
    assert_eq!(t.store.namespace("alpha").unwrap().id, a);
    assert_eq!(t.store.namespace(&a.to_string()).unwrap().name, "alpha");
    assert_eq!(
        t.store.namespace(&a.simple().to_string()).unwrap().name,
        "alpha"
    );
    assert!(matches!(
        t.store.namespace("gamma"),
        Err(StoreError::NamespaceNotFound(_))
    ));

    let page = t
        .store
        .list_namespaces(&NamespaceQuery {
            limit: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((page.total, page.namespaces[0].name.as_str()), (2, "alpha"));
    let page = t
        .store
        .list_namespaces(&NamespaceQuery {
            limit: 1,
            offset: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.namespaces[0].name, "beta");
    let only_telnyx = NamespaceQuery {
        limit: 10,
        profile: Some(Profile::Telnyx),
        ..Default::default()
    };
    assert_eq!(t.store.list_namespaces(&only_telnyx).unwrap().total, 1);

    let before = t.store.namespace("alpha").unwrap();
    let renamed = t
        .store
        .update_namespace(
            &a,
            NamespaceUpdate {
                name: Some("alpha2".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(renamed.name, "alpha2");
    assert_ne!(renamed.etag(), before.etag());
    let clash = NamespaceUpdate {
        name: Some("beta".into()),
        ..Default::default()
    };
    assert!(matches!(
        t.store.update_namespace(&a, clash),
        Err(StoreError::NamespaceExists(_))
    ));

    t.store.put(&a, Put::new("k", "v")).unwrap();
    t.store.delete_namespace(&a, None).unwrap();
    assert!(matches!(
        t.store.get(&a, "k"),
        Err(StoreError::NamespaceNotFound(_))
    ));
    assert!(matches!(
        t.store.put(&a, Put::new("k", "v")),
        Err(StoreError::NamespaceNotFound(_))
    ));
    // A new namespace with the old name starts empty.
    let a2 = t.namespace("alpha2", Profile::Cloudflare);
    assert!(matches!(
        t.store.get(&a2, "k"),
        Err(StoreError::KeyNotFound(_))
    ));
    assert_eq!(t.store.namespace(&b.to_string()).unwrap().item_count, 0);
}

fn describe_counts_live_key_and_value_bytes(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Cloudflare);
    let first = t.store.put(&ns, Put::new("ab", "xyz")).unwrap();
    assert!(!first.existed);
    assert_eq!(
        first.stats,
        Stats {
            item_count: 1,
            total_bytes: 5
        }
    );
    let second = t.store.put(&ns, Put::new("ab", "x")).unwrap();
    assert!(second.existed);
    assert_eq!(
        second.stats,
        Stats {
            item_count: 1,
            total_bytes: 3
        }
    );
    t.store
        .put(
            &ns,
            Put {
                expiry: Expiry::TtlSecs(60),
                ..Put::new("tmp", "1234")
            },
        )
        .unwrap();
    let d = t.store.namespace("n").unwrap();
    assert_eq!((d.item_count, d.total_bytes), (2, 10));
    assert_eq!(d.created_at_ms, T0);
    t.clock.advance_ms(60_000);
    let d = t.store.namespace("n").unwrap();
    assert_eq!((d.item_count, d.total_bytes), (1, 3));
}

fn namespace_etag_precondition(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Cloudfront);
    let etag0 = t.store.namespace("n").unwrap().etag();
    let put = |etag: &Etag, v: &str| Put {
        precondition: Precondition::NamespaceEtag(etag.to_string()),
        ..Put::new("k", v)
    };
    let out = t.store.put(&ns, put(&etag0, "1")).unwrap();
    assert_ne!(out.namespace_etag, etag0);
    // The stale ETag fails, reports the current one and changes nothing.
    assert_eq!(
        conflict(t.store.put(&ns, put(&etag0, "2"))),
        Some(out.namespace_etag.clone())
    );
    assert_eq!(t.store.get(&ns, "k").unwrap().value, b"1");
    // Quoted, as HTTP sends it, also matches.
    let quoted = format!("\"{}\"", out.namespace_etag);
    t.store
        .put(
            &ns,
            Put {
                precondition: Precondition::NamespaceEtag(quoted),
                ..Put::new("k", "3")
            },
        )
        .unwrap();
    let del = Delete {
        key: "k".into(),
        precondition: Precondition::NamespaceEtag(etag0.to_string()),
    };
    conflict(t.store.delete(&ns, del));
    assert_eq!(t.store.get(&ns, "k").unwrap().value, b"3");
}

fn entry_etag_and_absent_preconditions(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Cloudflare);
    let create = |v: &str| Put {
        precondition: Precondition::Absent,
        ..Put::new("k", v)
    };
    let first = t.store.put(&ns, create("1")).unwrap();
    let etag1 = first.etag.unwrap();
    assert_eq!(t.store.get(&ns, "k").unwrap().etag, etag1);
    assert_eq!(conflict(t.store.put(&ns, create("x"))), Some(etag1.clone()));

    let swap = |etag: &Etag, v: &str| Put {
        precondition: Precondition::EntryEtag(etag.to_string()),
        ..Put::new("k", v)
    };
    let etag2 = t.store.put(&ns, swap(&etag1, "2")).unwrap().etag.unwrap();
    assert_eq!(
        conflict(t.store.put(&ns, swap(&etag1, "3"))),
        Some(etag2.clone())
    );
    assert_eq!(t.store.get(&ns, "k").unwrap().value, b"2");

    // If-Match on a missing key fails (HTTP's 412), reporting no current ETag.
    let missing = Put {
        precondition: Precondition::EntryEtag(etag2.to_string()),
        ..Put::new("other", "v")
    };
    assert_eq!(conflict(t.store.put(&ns, missing)), None);

    // Delete with a stale ETag fails; with the current one succeeds.
    let del = |etag: &Etag| Delete {
        key: "k".into(),
        precondition: Precondition::EntryEtag(etag.to_string()),
    };
    conflict(t.store.delete(&ns, del(&etag1)));
    assert!(t.store.delete(&ns, del(&etag2)).unwrap().existed);
    // Recreated: never an old ETag (no ABA).
    let etag3 = t.store.put(&ns, create("again")).unwrap().etag.unwrap();
    assert!(etag3 != etag1 && etag3 != etag2);
    conflict(t.store.put(&ns, swap(&etag1, "aba")));
}

fn etags_differ_between_namespaces(backend: Backend) {
    let t = open_on(backend);
    let a = t.namespace("a", Profile::Cloudflare);
    let b = t.namespace("b", Profile::Cloudflare);
    let ea = t.store.put(&a, Put::new("k", "v")).unwrap();
    let eb = t.store.put(&b, Put::new("k", "v")).unwrap();
    assert_ne!(ea.etag, eb.etag);
    assert_ne!(ea.namespace_etag, eb.namespace_etag);
}

fn delete_missing_key_changes_nothing(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Cloudflare);
    let before = t.store.namespace("n").unwrap().etag();
    let out = t
        .store
        .delete(
            &ns,
            Delete {
                key: "nope".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(!out.existed);
    assert_eq!(out.namespace_etag, before);
}

fn batch_is_all_or_nothing_and_raises_version_once(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Cloudfront);
    t.store.put(&ns, Put::new("keep", "1")).unwrap();
    let v0 = t.store.namespace("n").unwrap().version;
    let ops = vec![
        BatchOp::Put(Put::new("a", "1")),
        BatchOp::Put(Put::new("b", "2")),
        BatchOp::Delete(Delete {
            key: "keep".into(),
            ..Default::default()
        }),
    ];
    let out = t
        .store
        .apply(
            &ns,
            Batch {
                ops,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(out.stats.item_count, 2);
    assert_eq!(t.store.namespace("n").unwrap().version, v0 + 1);

    // A failing op (missing key to delete, in Fail mode) applies nothing.
    let ops = vec![
        BatchOp::Put(Put::new("c", "3")),
        BatchOp::Delete(Delete {
            key: "missing".into(),
            ..Default::default()
        }),
    ];
    let batch = Batch {
        ops,
        missing_keys: MissingKeys::Fail,
        ..Default::default()
    };
    assert!(matches!(t.store.apply(&ns, batch), Err(StoreError::KeyNotFound(k)) if k == "missing"));
    assert!(matches!(
        t.store.get(&ns, "c"),
        Err(StoreError::KeyNotFound(_))
    ));
    // A rule broken by a later op applies nothing either.
    let ops = vec![
        BatchOp::Put(Put::new("d", "4")),
        BatchOp::Put(Put::new("e", vec![0; 2000])),
    ];
    assert!(t
        .store
        .apply(
            &ns,
            Batch {
                ops,
                ..Default::default()
            }
        )
        .is_err());
    assert!(t.store.get(&ns, "d").is_err());
    // A stale batch If-Match applies nothing and reports the current ETag.
    let current = t.store.namespace("n").unwrap().etag();
    let stale = Batch {
        ops: vec![BatchOp::Put(Put::new("f", "5"))],
        if_match: Some("old".into()),
        ..Default::default()
    };
    assert_eq!(conflict(t.store.apply(&ns, stale)), Some(current));
    assert_eq!(t.store.namespace("n").unwrap().version, v0 + 1);
}

fn expiry_is_exact(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Cloudflare);
    t.store
        .put(
            &ns,
            Put {
                expiry: Expiry::TtlSecs(60),
                ..Put::new("k", "v")
            },
        )
        .unwrap();
    t.store.put(&ns, Put::new("forever", "v")).unwrap();
    t.clock.advance_ms(59_999);
    assert_eq!(
        t.store.get(&ns, "k").unwrap().expires_at_ms,
        Some(T0 + 60_000)
    );
    assert_eq!(
        keys(&t.store.list(&ns, &ListQuery::default()).unwrap()),
        ["forever", "k"]
    );
    t.clock.advance_ms(1);
    assert!(matches!(
        t.store.get(&ns, "k"),
        Err(StoreError::KeyNotFound(_))
    ));
    assert_eq!(
        keys(&t.store.list(&ns, &ListQuery::default()).unwrap()),
        ["forever"]
    );
    assert!(t.store.get_many(&ns, &["k".into()]).unwrap()[0].is_none());
    // An expired key counts as absent for preconditions and for `existed`.
    let create = Put {
        precondition: Precondition::Absent,
        ..Put::new("k", "new")
    };
    assert!(!t.store.put(&ns, create).unwrap().existed);
}

fn sweep_removes_expired_rows(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Telnyx);
    for i in 0..10 {
        t.store
            .put(
                &ns,
                Put {
                    expiry: Expiry::TtlSecs(1 + i % 2),
                    ..Put::new(format!("k{i}"), "v")
                },
            )
            .unwrap();
    }
    t.clock.advance_ms(1_000);
    assert_eq!(t.store.sweep().unwrap(), 5);
    assert_eq!(t.store.namespace("n").unwrap().item_count, 5);
    t.clock.advance_ms(1_000);
    assert_eq!(t.store.sweep().unwrap(), 5);
    assert_eq!(t.store.sweep().unwrap(), 0);
    let d = t.store.namespace("n").unwrap();
    assert_eq!((d.item_count, d.total_bytes), (0, 0));
}

fn listing_is_bytewise_with_prefix_ranges(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Cloudflare);
    let all = [
        "a",
        "a/b",
        "a/c",
        "a\u{7f}",
        "aa",
        "b",
        "é",
        "é/x",
        "\u{10ffff}",
        "Z",
    ];
    for k in all {
        t.store
            .put(
                &ns,
                Put {
                    metadata: Some("{\"k\":1}".into()),
                    ..Put::new(k, k)
                },
            )
            .unwrap();
    }
    let mut sorted = all.to_vec();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let list = |prefix: &str| {
        t.store
            .list(
                &ns,
                &ListQuery {
                    prefix: prefix.into(),
                    ..Default::default()
                },
            )
            .unwrap()
    };
    assert_eq!(keys(&list("")), sorted);
    assert_eq!(keys(&list("a/")), ["a/b", "a/c"]);
    assert_eq!(keys(&list("a")), ["a", "a/b", "a/c", "aa", "a\u{7f}"]);
    assert_eq!(keys(&list("é")), ["é", "é/x"]);
    assert_eq!(keys(&list("%")), Vec::<&str>::new());
    let page = list("a/");
    assert_eq!(page.keys[0].metadata.as_deref(), Some("{\"k\":1}"));
    assert_eq!(page.keys[0].size, 3);
    assert_eq!(page.cursor, None);
}

fn cursor_pages_never_repeat_or_skip_under_writes(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Cloudflare);
    let stable: Vec<String> = (0..100).map(|i| format!("s{i:03}")).collect();
    for k in &stable {
        t.store.put(&ns, Put::new(k.clone(), "v")).unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut round = 0;
    loop {
        let page = t
            .store
            .list(
                &ns,
                &ListQuery {
                    cursor: cursor.clone(),
                    limit: Some(7),
                    ..Default::default()
                },
            )
            .unwrap();
        seen.extend(page.keys.iter().map(|k| k.key.clone()));
        // Between pages: insert keys before and after the cursor, delete and rewrite others.
        round += 1;
        t.store
            .put(&ns, Put::new(format!("s{:03}x", round * 3), "new"))
            .unwrap();
        t.store
            .put(&ns, Put::new(format!("a{round}"), "new"))
            .unwrap();
        t.store
            .put(&ns, Put::new(format!("t{round}"), "new"))
            .unwrap();
        t.store
            .put(
                &ns,
                Put::new(stable[(round * 13) % 100].clone(), "rewritten"),
            )
            .unwrap();
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut deduped = seen.clone();
    deduped.dedup();
    assert_eq!(deduped, seen, "a key was repeated");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "keys out of order");
    for k in &stable {
        assert!(seen.contains(k), "{k} was skipped");
    }
    assert!(matches!(
        t.store.list(
            &ns,
            &ListQuery {
                cursor: Some("***".into()),
                ..Default::default()
            }
        ),
        Err(StoreError::InvalidCursor)
    ));
}

fn key_operations_need_a_ready_namespace(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Telnyx);
    t.store.put(&ns, Put::new("k", "v")).unwrap();
    let pending = NamespaceUpdate {
        status: Some(NamespaceStatus::Pending),
        ..Default::default()
    };
    t.store.update_namespace(&ns, pending).unwrap();
    let not_ready = |r: Result<()>| matches!(r, Err(StoreError::NamespaceNotReady { .. }));
    assert!(not_ready(t.store.get(&ns, "k").map(drop)));
    assert!(not_ready(t.store.put(&ns, Put::new("k", "v")).map(drop)));
    assert!(not_ready(
        t.store.list(&ns, &ListQuery::default()).map(drop)
    ));
    let ready = NamespaceUpdate {
        status: Some(NamespaceStatus::Ready),
        ..Default::default()
    };
    t.store.update_namespace(&ns, ready).unwrap();
    assert_eq!(t.store.get(&ns, "k").unwrap().value, b"v");
}

fn content_type_and_metadata_round_trip(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("n", Profile::Telnyx);
    let put = Put {
        content_type: Some("application/json".into()),
        ..Put::new("k", "{}")
    };
    t.store.put(&ns, put).unwrap();
    let e = t.store.get(&ns, "k").unwrap();
    assert_eq!(
        (e.content_type.as_deref(), e.modified_at_ms),
        (Some("application/json"), T0)
    );
}

/// Async code waits for a call through `Store::run`: the result is the call's, its error the
/// caller's type, and a call that panicked panics in the caller's task, not as a store error.
fn async_code_waits_through_run(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("async", Profile::Cloudflare);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let written = t.store.run(move |s| s.put(&ns, Put::new("k", "v"))).await;
        let read = t.store.run(move |s| s.get(&ns, "k")).await.unwrap();
        assert_eq!(
            (read.value.as_slice(), Some(read.etag)),
            (&b"v"[..], written.unwrap().etag)
        );
        let missing = t.store.run(move |s| s.get(&ns, "absent")).await;
        assert!(matches!(missing, Err(StoreError::KeyNotFound(_))));
        let store = t.store.clone();
        let panicked = tokio::spawn(async move {
            store
                .run(|_| -> Result<()> { panic!("a bug in a store call") })
                .await
        });
        assert!(panicked.await.unwrap_err().is_panic());
    });
}

/// Says, once per run, whether the PostgreSQL halves of these suites ran.
#[test]
fn postgres_backend() {
    common::Backend::report();
}

on_both_backends!(
    namespaces_create_get_list_rename_delete,
    describe_counts_live_key_and_value_bytes,
    namespace_etag_precondition,
    entry_etag_and_absent_preconditions,
    etags_differ_between_namespaces,
    delete_missing_key_changes_nothing,
    batch_is_all_or_nothing_and_raises_version_once,
    expiry_is_exact,
    sweep_removes_expired_rows,
    listing_is_bytewise_with_prefix_ranges,
    cursor_pages_never_repeat_or_skip_under_writes,
    key_operations_need_a_ready_namespace,
    content_type_and_metadata_round_trip,
    async_code_waits_through_run,
);
