//! Whole-namespace operations (`Store::reset_namespace`, `Store::fork_namespace`,
//! `Store::create_namespace_seeded`): a reset empties a namespace in place, or replaces its
//! content with puts checked by every rule, the refused one named by its key, nothing written
//! then; a fork copies entries and settings to a new, independent namespace, leaving out expired
//! entries, under the profile's naming rule; versions only grow across a reset.

mod common;

use common::{open_on, Backend};
use edgekv_store::*;

on_both_backends!(
    a_reset_empties_the_namespace_in_place_and_old_etags_never_match_again,
    a_reset_with_content_writes_it_under_the_rules_or_nothing,
    a_fork_copies_entries_and_settings_and_then_is_independent,
    a_fork_name_must_be_free_and_follow_the_profile,
    a_seeded_create_writes_its_seed_or_creates_nothing,
);

fn keys(store: &Store, id: &Uuid) -> Vec<String> {
    store
        .list(id, &ListQuery::default())
        .unwrap()
        .keys
        .into_iter()
        .map(|k| k.key)
        .collect()
}

fn rule_of(e: &StoreError) -> Option<Rule> {
    match e {
        StoreError::Rule(v) => Some(v.rule),
        _ => None,
    }
}

fn a_reset_empties_the_namespace_in_place_and_old_etags_never_match_again(backend: Backend) {
    let t = open_on(backend);
    let overrides = LimitOverrides {
        max_value_bytes: Some(10),
        ..LimitOverrides::default()
    };
    let ns = t.create(NewNamespace {
        overrides: overrides.clone(),
        ..NewNamespace::new("fixture", Profile::Telnyx)
    });
    let other = t.namespace("other", Profile::Telnyx);
    let old = t.store.put(&ns.id, Put::new("a", "1")).unwrap();
    t.store.put(&ns.id, Put::new("b", "2")).unwrap();
    t.store.put(&other, Put::new("a", "kept")).unwrap();
    let before = t.store.namespace("fixture").unwrap();

    let after = t.store.reset_namespace(&ns.id, Vec::new()).unwrap();

    assert_eq!(
        (&after.id, &after.name, after.profile, &after.overrides),
        (&ns.id, &ns.name, Profile::Telnyx, &overrides)
    );
    assert!(after.version > before.version, "{after:?}");
    assert_eq!((after.item_count, after.total_bytes), (0, 0));
    assert_eq!(t.store.namespace("fixture").unwrap(), after);
    assert!(keys(&t.store, &ns.id).is_empty());
    assert_eq!(t.store.get(&other, "a").unwrap().value, b"kept");
    // A key written again after the reset gets an ETag no earlier write had.
    let again = t.store.put(&ns.id, Put::new("a", "1")).unwrap();
    assert_ne!(again.etag, old.etag);
    let stale = Put {
        precondition: Precondition::EntryEtag(old.etag.unwrap().as_str().to_string()),
        ..Put::new("a", "x")
    };
    assert!(matches!(
        t.store.put(&ns.id, stale),
        Err(StoreError::Conflict { .. })
    ));
    // The overrides still apply.
    let big = t.store.put(&ns.id, Put::new("big", vec![b'x'; 11]));
    assert_eq!(rule_of(&big.unwrap_err()), Some(Rule::ValueTooLarge));
    assert!(matches!(
        t.store.reset_namespace(&Uuid::new_v4(), Vec::new()),
        Err(SeedError::Store(StoreError::NamespaceNotFound(_)))
    ));
}

fn a_reset_with_content_writes_it_under_the_rules_or_nothing(backend: Backend) {
    let t = open_on(backend);
    let id = t.namespace("users", Profile::Telnyx);
    t.store.put(&id, Put::new("old", "1")).unwrap();
    let version = t.store.namespace("users").unwrap().version;

    let bad = vec![Put::new("alice", "a"), Put::new("bad key", "b")];
    let refused = t.store.reset_namespace(&id, bad).unwrap_err();
    match &refused {
        SeedError::Entry { key, source } => {
            assert_eq!(key, "bad key");
            assert_eq!(rule_of(source), Some(Rule::KeyCharset));
        }
        other => panic!("{other:?}"),
    }
    assert!(refused.to_string().contains("bad key") && refused.to_string().contains("key_charset"));
    assert_eq!(
        keys(&t.store, &id),
        ["old"],
        "nothing of the reset was written"
    );
    assert_eq!(t.store.namespace("users").unwrap().version, version);

    let seed = vec![
        Put {
            content_type: Some("application/json".into()),
            expiry: Expiry::TtlSecs(3600),
            ..Put::new("alice", "{}")
        },
        Put::new("bob", "b"),
    ];
    let after = t.store.reset_namespace(&id, seed).unwrap();
    assert_eq!(keys(&t.store, &id), ["alice", "bob"]);
    assert_eq!((after.item_count, after.version), (2, version + 1));
    let alice = t.store.get(&id, "alice").unwrap();
    assert_eq!(alice.content_type.as_deref(), Some("application/json"));
    assert_eq!(alice.expires_at_ms, Some(common::T0 + 3_600_000));
}

fn a_fork_copies_entries_and_settings_and_then_is_independent(backend: Backend) {
    let t = open_on(backend);
    let source = t.create(NewNamespace {
        comment: Some("fixture".into()),
        overrides: LimitOverrides {
            max_value_bytes: Some(100),
            ..LimitOverrides::default()
        },
        ..NewNamespace::new("source", Profile::Cloudflare)
    });
    let full = Put {
        metadata: Some(r#"{"role":"admin"}"#.into()),
        content_type: Some("text/plain".into()),
        expiry: Expiry::TtlSecs(600),
        ..Put::new("user/1", "alice")
    };
    t.store.put(&source.id, full).unwrap();
    t.store
        .put(&source.id, Put::new("user/2", vec![0u8, 255]))
        .unwrap();
    let soon = Put {
        expiry: Expiry::TtlSecs(60),
        ..Put::new("expiring", "gone")
    };
    t.store.put(&source.id, soon).unwrap();
    t.clock.advance_ms(61_000);
    let before = t.store.namespace("source").unwrap();

    let fork = t.store.fork_namespace(&source.id, "source-copy").unwrap();

    assert_ne!(fork.id, source.id);
    assert_eq!(fork.name, "source-copy");
    assert_eq!(
        (
            fork.profile,
            fork.ttl_enabled,
            &fork.comment,
            &fork.overrides
        ),
        (
            Profile::Cloudflare,
            true,
            &source.comment,
            &source.overrides
        )
    );
    assert_eq!((fork.item_count, fork.total_bytes), (2, 6 + 5 + 6 + 2));
    assert_eq!(t.store.namespace(&fork.id.to_string()).unwrap(), fork);
    assert_eq!(
        keys(&t.store, &fork.id),
        ["user/1", "user/2"],
        "expired left out"
    );
    let (a, b) = (
        t.store.get(&source.id, "user/1").unwrap(),
        t.store.get(&fork.id, "user/1").unwrap(),
    );
    assert_eq!(
        (&b.value, &b.metadata, &b.content_type, b.expires_at_ms),
        (&a.value, &a.metadata, &a.content_type, a.expires_at_ms)
    );
    assert_eq!(t.store.get(&fork.id, "user/2").unwrap().value, [0u8, 255]);
    assert_eq!(
        t.store.namespace("source").unwrap(),
        before,
        "the source is as it was"
    );
    // The limits came along.
    let big = t.store.put(&fork.id, Put::new("big", vec![b'x'; 101]));
    assert_eq!(rule_of(&big.unwrap_err()), Some(Rule::ValueTooLarge));
    // Independent both ways; a write to the fork outranks every copied version.
    let written = t
        .store
        .put(&fork.id, Put::new("user/1", "changed"))
        .unwrap();
    t.store
        .delete(
            &source.id,
            Delete {
                key: "user/2".into(),
                precondition: Precondition::None,
            },
        )
        .unwrap();
    t.store.put(&source.id, Put::new("user/3", "new")).unwrap();
    assert_eq!(t.store.get(&source.id, "user/1").unwrap().value, b"alice");
    assert_eq!(keys(&t.store, &fork.id), ["user/1", "user/2"]);
    assert_eq!(
        t.store.get(&fork.id, "user/1").unwrap().etag,
        written.etag.unwrap()
    );
    assert!(t.store.namespace("source-copy").unwrap().version > before.version);
}

fn a_fork_name_must_be_free_and_follow_the_profile(backend: Backend) {
    let t = open_on(backend);
    let source = t.namespace("kvs", Profile::Cloudfront);
    t.namespace("taken", Profile::Cloudflare);
    t.store.put(&source, Put::new("k", "v")).unwrap();
    assert!(matches!(
        t.store.fork_namespace(&source, "taken"),
        Err(StoreError::NamespaceExists(name)) if name == "taken"
    ));
    // CloudFront store names are letters, digits, `-` and `_`.
    let bad = t.store.fork_namespace(&source, "no spaces").unwrap_err();
    assert_eq!(rule_of(&bad), Some(Rule::NamespaceName));
    let all = t
        .store
        .list_namespaces(&NamespaceQuery {
            limit: 10,
            ..NamespaceQuery::default()
        })
        .unwrap();
    assert_eq!(all.total, 2, "no namespace was created");
    assert!(matches!(
        t.store.fork_namespace(&Uuid::new_v4(), "x"),
        Err(StoreError::NamespaceNotFound(_))
    ));
}

fn a_seeded_create_writes_its_seed_or_creates_nothing(backend: Backend) {
    let t = open_on(backend);
    let bad = vec![Put::new("ok", "1"), Put::new("big", vec![b'x'; 2000])];
    let refused = t
        .store
        .create_namespace_seeded(NewNamespace::new("seeded", Profile::Cloudfront), bad)
        .unwrap_err();
    match &refused {
        SeedError::Entry { key, source } => {
            assert_eq!(key, "big");
            assert_eq!(rule_of(source), Some(Rule::ValueTooLarge));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        t.store.namespace("seeded"),
        Err(StoreError::NamespaceNotFound(_))
    ));
    let ns = t
        .store
        .create_namespace_seeded(
            NewNamespace::new("seeded", Profile::Cloudfront),
            vec![Put::new("a", "1"), Put::new("b", "2")],
        )
        .unwrap();
    assert_eq!(ns.item_count, 2);
    assert_eq!(keys(&t.store, &ns.id), ["a", "b"]);
}
