//! Each profile rule at, just under and just over its limit, through the store's public API.

mod common;

use common::{open_on, Backend, T0};
use edgekv_store::*;

fn violation<T: std::fmt::Debug>(result: Result<T>) -> RuleViolation {
    match result {
        Err(StoreError::Rule(v)) => v,
        other => panic!("expected a rule violation, got {other:?}"),
    }
}

fn put(store: &Store, ns: &Uuid, key: &str, value: Vec<u8>) -> Result<WriteOutcome> {
    store.put(ns, Put::new(key, value))
}

/// A batch of `n` small puts.
fn batch(n: usize) -> Batch {
    let ops = (0..n)
        .map(|i| BatchOp::Put(Put::new(format!("k{i}"), "v")))
        .collect();
    Batch {
        ops,
        ..Batch::default()
    }
}

fn assert_rule<T: std::fmt::Debug>(result: Result<T>, rule: Rule, limit: u64, actual: u64) {
    assert_eq!(
        violation(result),
        RuleViolation {
            rule,
            limit,
            actual
        }
    );
}

fn cloudflare_key_bytes(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cf", Profile::Cloudflare);
    put(&t.store, &ns, &"k".repeat(511), vec![]).unwrap();
    put(&t.store, &ns, &"k".repeat(512), vec![]).unwrap();
    put(&t.store, &ns, &"é".repeat(256), vec![]).unwrap();
    assert_rule(
        put(&t.store, &ns, &"k".repeat(513), vec![]),
        Rule::KeyTooLarge,
        512,
        513,
    );
    assert_rule(
        put(&t.store, &ns, &format!("{}k", "é".repeat(256)), vec![]),
        Rule::KeyTooLarge,
        512,
        513,
    );
}

fn reads_of_keys_no_write_could_store_name_the_rule(backend: Backend) {
    let t = open_on(backend);
    let cf = t.namespace("cf", Profile::Cloudflare);
    assert_rule(
        t.store.get(&cf, &"k".repeat(513)),
        Rule::KeyTooLarge,
        512,
        513,
    );
    assert!(matches!(
        t.store.get(&cf, "fine"),
        Err(StoreError::KeyNotFound(_))
    ));
    let cfr = t.namespace("cfr", Profile::Cloudfront);
    assert_rule(
        t.store.get(&cfr, &"k".repeat(1025)),
        Rule::KeyTooLong,
        1024,
        1025,
    );
}

fn a_read_of_a_missing_key_names_the_rule_under_the_namespace_overrides(backend: Backend) {
    let t = open_on(backend);
    let mut new = NewNamespace::new("small-keys", Profile::Cloudflare);
    new.overrides.max_key_bytes = Some(16);
    let ns = t.create(new).id;
    assert_rule(t.store.get(&ns, &"k".repeat(17)), Rule::KeyTooLarge, 16, 17);
    assert!(matches!(
        t.store.get(&ns, &"k".repeat(16)),
        Err(StoreError::KeyNotFound(_))
    ));
}

/// Counts the reads the store makes through [`Storage::read`], beside point lookups.
struct CountingReads {
    inner: edgekv_store::sqlite::SqliteStorage,
    reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl storage::Storage for CountingReads {
    fn read(&self, f: &mut dyn FnMut(&dyn storage::ReadTx) -> Result<()>) -> Result<()> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.read(f)
    }
    fn submit(&self, job: Box<dyn storage::WriteJob>) -> Result<()> {
        self.inner.submit(job)
    }
    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> Result<Option<storage::EntryLookup>> {
        self.inner.entry(ns, key, now_ms)
    }
    fn identity(&self) -> Result<String> {
        self.inner.identity()
    }
}

#[test]
fn a_read_of_a_missing_key_is_one_point_lookup_like_a_hit() {
    let dir = tempfile::tempdir().unwrap();
    let reads = std::sync::Arc::default();
    let storage = CountingReads {
        inner: edgekv_store::sqlite::SqliteStorage::open(
            &dir.path().join("kv.sqlite3"),
            Durability::Normal,
        )
        .unwrap(),
        reads: std::sync::Arc::clone(&reads),
    };
    let store = Store::with_storage(Box::new(storage), std::sync::Arc::new(ManualClock::new(T0)));
    let ns = store
        .create_namespace(NewNamespace::new("ns", Profile::Cloudflare))
        .unwrap()
        .id;
    let _ = store.get(&ns, "warm-up");
    reads.store(0, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        store.get(&ns, "absent"),
        Err(StoreError::KeyNotFound(_))
    ));
    assert_rule(
        store.get(&ns, &"k".repeat(513)),
        Rule::KeyTooLarge,
        512,
        513,
    );
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 0);
}

fn cloudflare_key_shapes(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cf", Profile::Cloudflare);
    assert_eq!(
        violation(put(&t.store, &ns, "", vec![])).rule,
        Rule::KeyEmpty
    );
    assert_eq!(
        violation(put(&t.store, &ns, ".", vec![])).rule,
        Rule::KeyDotSegment
    );
    assert_eq!(
        violation(put(&t.store, &ns, "..", vec![])).rule,
        Rule::KeyDotSegment
    );
    for ok in ["...", "./a", "a b/c?d#e", "+"] {
        put(&t.store, &ns, ok, vec![]).unwrap();
    }
}

fn cloudflare_value_size(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cf", Profile::Cloudflare);
    const MAX: usize = 25 * 1024 * 1024;
    put(&t.store, &ns, "under", vec![1; MAX - 1]).unwrap();
    put(&t.store, &ns, "at", vec![1; MAX]).unwrap();
    assert_rule(
        put(&t.store, &ns, "over", vec![1; MAX + 1]),
        Rule::ValueTooLarge,
        MAX as u64,
        MAX as u64 + 1,
    );
    assert_eq!(t.store.get(&ns, "at").unwrap().value.len(), MAX);
}

fn cloudflare_metadata_size_is_compact_json(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cf", Profile::Cloudflare);
    let meta = |n: usize| format!("{{\"m\":\"{}\"}}", "x".repeat(n - 8)); // compact length n
    let with_meta = |m: String| Put {
        metadata: Some(m),
        ..Put::new("k", "v")
    };
    t.store.put(&ns, with_meta(meta(1023))).unwrap();
    t.store.put(&ns, with_meta(meta(1024))).unwrap();
    assert_rule(
        t.store.put(&ns, with_meta(meta(1025))),
        Rule::MetadataTooLarge,
        1024,
        1025,
    );
    // Whitespace does not count: stored compact.
    let spaced = format!("{{ \"m\" :  \"{}\" }}", "x".repeat(1016));
    t.store.put(&ns, with_meta(spaced)).unwrap();
    assert_eq!(t.store.get(&ns, "k").unwrap().metadata.unwrap().len(), 1024);
    assert_eq!(
        violation(t.store.put(&ns, with_meta("{not json".into()))).rule,
        Rule::MetadataNotJson
    );
}

fn cloudflare_expiry_minimums(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cf", Profile::Cloudflare);
    let now_s = (T0 / 1000) as u64;
    let with = |expiry| Put {
        expiry,
        ..Put::new("k", "v")
    };
    t.store.put(&ns, with(Expiry::TtlSecs(60))).unwrap();
    t.store.put(&ns, with(Expiry::TtlSecs(61))).unwrap();
    assert_rule(
        t.store.put(&ns, with(Expiry::TtlSecs(59))),
        Rule::TtlTooShort,
        60,
        59,
    );
    t.store
        .put(&ns, with(Expiry::AtUnixSecs(now_s + 60)))
        .unwrap();
    assert_eq!(
        t.store.get(&ns, "k").unwrap().expires_at_ms,
        Some(T0 + 60_000)
    );
    assert_rule(
        t.store.put(&ns, with(Expiry::AtUnixSecs(now_s + 59))),
        Rule::ExpirationTooSoon,
        60,
        now_s + 59,
    );
    for past in [now_s, now_s - 1, 0] {
        assert_rule(
            t.store.put(&ns, with(Expiry::AtUnixSecs(past))),
            Rule::ExpirationInPast,
            now_s,
            past,
        );
    }
    // Past what milliseconds since the epoch can hold: an expiration, not a TTL, is what broke.
    let too_late = i64::MAX as u64 / 1000 + 1;
    assert_rule(
        t.store.put(&ns, with(Expiry::AtUnixSecs(too_late))),
        Rule::ExpirationTooLate,
        i64::MAX as u64 / 1000,
        too_late,
    );
}

fn an_overridden_minimum_ttl_bounds_absolute_expirations_too(backend: Backend) {
    let t = open_on(backend);
    let overrides = LimitOverrides {
        min_ttl_secs: Some(300),
        ..Default::default()
    };
    let ns = t.create(NewNamespace {
        overrides,
        ..NewNamespace::new("slow", Profile::Cloudflare)
    });
    let now_s = (T0 / 1000) as u64;
    let at = |secs| Put {
        expiry: Expiry::AtUnixSecs(secs),
        ..Put::new("k", "v")
    };
    t.store.put(&ns.id, at(now_s + 300)).unwrap();
    assert_rule(
        t.store.put(&ns.id, at(now_s + 299)),
        Rule::ExpirationTooSoon,
        300,
        now_s + 299,
    );
    assert_rule(
        t.store.put(&ns.id, at(now_s)),
        Rule::ExpirationInPast,
        now_s,
        now_s,
    );
}

fn cloudflare_batch_and_bulk_get_bounds(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cf", Profile::Cloudflare);
    t.store.apply(&ns, batch(9_999)).unwrap();
    t.store.apply(&ns, batch(10_000)).unwrap();
    assert_rule(
        t.store.apply(&ns, batch(10_001)),
        Rule::BatchTooManyItems,
        10_000,
        10_001,
    );
    let keys = |n: usize| (0..n).map(|i| format!("k{i}")).collect::<Vec<_>>();
    assert_eq!(t.store.get_many(&ns, &keys(100)).unwrap().len(), 100);
    assert!(t
        .store
        .get_many(&ns, &keys(99))
        .unwrap()
        .iter()
        .all(Option::is_some));
    assert_rule(
        t.store.get_many(&ns, &keys(101)),
        Rule::BulkGetTooManyKeys,
        100,
        101,
    );
}

fn list_limits_per_profile(backend: Backend) {
    let t = open_on(backend);
    for (name, profile, max) in [
        ("cf", Profile::Cloudflare, 1000),
        ("cfr", Profile::Cloudfront, 50),
        ("tx", Profile::Telnyx, 1000),
    ] {
        let ns = t.namespace(name, profile);
        let list = |limit| {
            t.store.list(
                &ns,
                &ListQuery {
                    limit: Some(limit),
                    ..ListQuery::default()
                },
            )
        };
        list(max - 1).unwrap();
        list(max).unwrap();
        assert_rule(list(max + 1), Rule::ListLimit, max, max + 1);
        assert_rule(list(0), Rule::ListLimit, max, 0);
    }
}

fn cloudfront_key_chars_and_bytes(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cfr", Profile::Cloudfront);
    put(&t.store, &ns, &"k".repeat(511), vec![]).unwrap();
    put(&t.store, &ns, &"k".repeat(512), vec![]).unwrap();
    // Over 512 bytes is a quota error; over 1024 characters a shape error.
    assert_rule(
        put(&t.store, &ns, &"k".repeat(513), vec![]),
        Rule::KeyTooLarge,
        512,
        513,
    );
    assert_rule(
        put(&t.store, &ns, &"k".repeat(1024), vec![]),
        Rule::KeyTooLarge,
        512,
        1024,
    );
    assert_rule(
        put(&t.store, &ns, &"k".repeat(1025), vec![]),
        Rule::KeyTooLong,
        1024,
        1025,
    );
}

fn cloudfront_value_metadata_expiry(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cfr", Profile::Cloudfront);
    put(&t.store, &ns, "k", vec![0; 1023]).unwrap();
    put(&t.store, &ns, "k", vec![0; 1024]).unwrap();
    assert_rule(
        put(&t.store, &ns, "k", vec![0; 1025]),
        Rule::ValueTooLarge,
        1024,
        1025,
    );
    let meta = Put {
        metadata: Some("{}".into()),
        ..Put::new("k", "v")
    };
    assert_rule(t.store.put(&ns, meta), Rule::MetadataTooLarge, 0, 2);
    let ttl = Put {
        expiry: Expiry::TtlSecs(3600),
        ..Put::new("k", "v")
    };
    assert_eq!(
        violation(t.store.put(&ns, ttl)).rule,
        Rule::ExpiryUnsupported
    );
}

fn cloudfront_store_size_is_five_mib(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cfr", Profile::Cloudfront);
    const MAX: u64 = 5 * 1024 * 1024;
    // 5120 entries of 5 key bytes + 1019 value bytes = exactly 5 MiB.
    for chunk in (0..5120).collect::<Vec<_>>().chunks(50) {
        let ops = chunk
            .iter()
            .map(|i| BatchOp::Put(Put::new(format!("{i:05}"), vec![7; 1019])))
            .collect();
        t.store
            .apply(
                &ns,
                Batch {
                    ops,
                    ..Batch::default()
                },
            )
            .unwrap();
    }
    let described = t.store.namespace(&ns.to_string()).unwrap();
    assert_eq!((described.item_count, described.total_bytes), (5120, MAX));
    assert_rule(
        put(&t.store, &ns, "x", vec![]),
        Rule::StoreFull,
        MAX,
        MAX + 1,
    );
    // Shrinking or replacing with the same size is still allowed at the limit.
    put(&t.store, &ns, "00000", vec![7; 1019]).unwrap();
    put(&t.store, &ns, "00001", vec![7; 1018]).unwrap();
    put(&t.store, &ns, "y", vec![]).unwrap();
    assert_rule(
        put(&t.store, &ns, "z", vec![]),
        Rule::StoreFull,
        MAX,
        MAX + 1,
    );
}

fn cloudfront_batch_bounds(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("cfr", Profile::Cloudfront);
    t.store.apply(&ns, batch(49)).unwrap();
    t.store.apply(&ns, batch(50)).unwrap();
    assert_rule(
        t.store.apply(&ns, batch(51)),
        Rule::BatchTooManyItems,
        50,
        51,
    );
    let limits = Profile::Cloudfront.limits();
    let max = 3 * 1024 * 1024;
    limits.check_batch(50, max).unwrap();
    assert_rule(
        limits.check_batch(50, max + 1),
        Rule::BatchTooLarge,
        max,
        max + 1,
    );
}

fn telnyx_keys(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("tx", Profile::Telnyx);
    put(&t.store, &ns, "a-b/c_d=e.f/ABC123", vec![]).unwrap();
    put(&t.store, &ns, &"k".repeat(255), vec![]).unwrap();
    put(&t.store, &ns, &"k".repeat(256), vec![]).unwrap();
    assert_rule(
        put(&t.store, &ns, &"k".repeat(257), vec![]),
        Rule::KeyTooLong,
        256,
        257,
    );
    for bad in ["a b", "a?b", "é", "a+b", "a%2Fb"] {
        assert_eq!(
            violation(put(&t.store, &ns, bad, vec![])).rule,
            Rule::KeyCharset,
            "{bad}"
        );
    }
    assert_eq!(
        violation(put(&t.store, &ns, "_reserved", vec![])).rule,
        Rule::KeyReserved
    );
    put(&t.store, &ns, "not_reserved", vec![]).unwrap();
}

fn telnyx_value_and_ttl(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("tx", Profile::Telnyx);
    const MAX: usize = 1024 * 1024;
    put(&t.store, &ns, "k", vec![0; MAX - 1]).unwrap();
    put(&t.store, &ns, "k", vec![0; MAX]).unwrap();
    assert_rule(
        put(&t.store, &ns, "k", vec![0; MAX + 1]),
        Rule::ValueTooLarge,
        MAX as u64,
        MAX as u64 + 1,
    );
    let ttl = |secs| Put {
        expiry: Expiry::TtlSecs(secs),
        ..Put::new("k", "v")
    };
    t.store.put(&ns, ttl(1)).unwrap();
    t.store.put(&ns, ttl(2)).unwrap();
    assert_rule(t.store.put(&ns, ttl(0)), Rule::TtlTooShort, 1, 0);
    t.store.put(&ns, ttl(9_223_372_036)).unwrap();
    assert_eq!(
        t.store.get(&ns, "k").unwrap().expires_at_ms,
        Some(T0 + 9_223_372_036_000)
    );
    assert_rule(
        t.store.put(&ns, ttl(9_223_372_037)),
        Rule::TtlTooLong,
        9_223_372_036,
        9_223_372_037,
    );
    assert_eq!(
        violation(t.store.put(&ns, ttl(u64::MAX))).rule,
        Rule::TtlTooLong
    );
}

fn ttl_support_is_a_namespace_flag(backend: Backend) {
    let t = open_on(backend);
    let ns = t
        .create(NewNamespace {
            ttl_enabled: false,
            ..NewNamespace::new("no-ttl", Profile::Telnyx)
        })
        .id;
    let ttl = Put {
        expiry: Expiry::TtlSecs(10),
        ..Put::new("k", "v")
    };
    assert_eq!(
        violation(t.store.put(&ns, ttl)).rule,
        Rule::ExpiryUnsupported
    );
    put(&t.store, &ns, "k", b"v".to_vec()).unwrap();
}

fn namespace_names_per_profile(backend: Backend) {
    let t = open_on(backend);
    let create = |name: &str, profile| t.store.create_namespace(NewNamespace::new(name, profile));
    create("ok-name-1", Profile::Telnyx).unwrap();
    create(&"a".repeat(255), Profile::Telnyx).unwrap();
    assert_rule(
        create(&"b".repeat(256), Profile::Telnyx),
        Rule::NamespaceName,
        255,
        256,
    );
    assert_eq!(
        violation(create("Upper", Profile::Telnyx)).rule,
        Rule::NamespaceName
    );
    create("My_Store-1", Profile::Cloudfront).unwrap();
    assert_eq!(
        violation(create("bad name", Profile::Cloudfront)).rule,
        Rule::NamespaceName
    );
    assert_rule(
        create(&"c".repeat(65), Profile::Cloudfront),
        Rule::NamespaceName,
        64,
        65,
    );
    create("Any title: with spaces", Profile::Cloudflare).unwrap();
    assert_eq!(
        violation(create("", Profile::Cloudflare)).rule,
        Rule::NamespaceName
    );
}

fn limits_are_overridable_per_namespace(backend: Backend) {
    let t = open_on(backend);
    let overrides = LimitOverrides {
        max_value_bytes: Some(10),
        max_store_bytes: Some(40),
        ..Default::default()
    };
    let ns = t.create(NewNamespace {
        overrides,
        ..NewNamespace::new("small", Profile::Cloudflare)
    });
    assert_eq!(ns.limits().max_value_bytes, 10);
    put(&t.store, &ns.id, "a", vec![0; 10]).unwrap();
    assert_rule(
        put(&t.store, &ns.id, "b", vec![0; 11]),
        Rule::ValueTooLarge,
        10,
        11,
    );
    put(&t.store, &ns.id, "b", vec![0; 10]).unwrap();
    put(&t.store, &ns.id, "c", vec![0; 9]).unwrap(); // 11 + 11 + 10 = 32 bytes
    assert_rule(
        put(&t.store, &ns.id, "dd", vec![0; 7]),
        Rule::StoreFull,
        40,
        41,
    );
    // The overrides persist with the namespace.
    assert_eq!(
        t.store.namespace("small").unwrap().limits().max_store_bytes,
        Some(40)
    );
}

#[test]
fn violations_name_rule_limit_and_size() {
    let v = RuleViolation {
        rule: Rule::ValueTooLarge,
        limit: 1024,
        actual: 2000,
    };
    assert_eq!(
        v.to_string(),
        "value_too_large: 2000 is over the limit of 1024"
    );
}

#[test]
fn described_violations_name_what_broke_without_the_rule_name() {
    let rules = [
        (Rule::ValueTooLarge, "value"),
        (Rule::MetadataTooLarge, "metadata"),
        (Rule::KeyTooLarge, "key"),
        (Rule::KeyTooLong, "key"),
        (Rule::StoreFull, "namespace"),
        (Rule::BatchTooManyItems, "batch"),
        (Rule::BatchTooLarge, "batch"),
        (Rule::TtlTooShort, "TTL"),
        (Rule::ExpirationTooSoon, "expiration"),
        (Rule::ExpirationInPast, "expiration"),
        (Rule::ExpirationTooLate, "expiration"),
    ];
    for (rule, subject) in rules {
        let v = RuleViolation {
            rule,
            limit: 1234,
            actual: 98765,
        };
        let words = v.describe();
        assert!(words.contains(subject), "{rule:?}: {words}");
        assert!(
            words.contains("1234") && words.contains("98765"),
            "{rule:?}: {words}"
        );
        assert!(!words.contains(rule.name()), "{rule:?}: {words}");
    }
}

fn content_types_are_header_values_within_their_limit(backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("tx", Profile::Telnyx);
    let with_type = |content_type: &str| {
        t.store.put(
            &ns,
            Put {
                content_type: Some(content_type.to_string()),
                ..Put::new("k", "v")
            },
        )
    };
    with_type("application/json; charset=utf-8").unwrap();
    with_type(&"a".repeat(256)).unwrap();
    assert_rule(with_type(&"a".repeat(257)), Rule::ContentType, 256, 257);
    assert_rule(with_type("text/plain\r\nx: y"), Rule::ContentType, 256, 16);
    assert_rule(with_type("text/é"), Rule::ContentType, 256, 7);
    assert_eq!(
        t.store.get(&ns, "k").unwrap().content_type.as_deref(),
        Some("a".repeat(256).as_str()),
        "a refused content type leaves the entry as it was"
    );
}

fn a_list_prefix_is_bounded_as_a_key_is(backend: Backend) {
    let t = open_on(backend);
    let cf = t.namespace("cf", Profile::Cloudflare);
    let tx = t.namespace("tx", Profile::Telnyx);
    let list = |ns: &Uuid, prefix: String| {
        t.store.list(
            ns,
            &ListQuery {
                prefix,
                ..ListQuery::default()
            },
        )
    };
    list(&cf, "k".repeat(512)).unwrap();
    assert_rule(list(&cf, "k".repeat(513)), Rule::KeyTooLarge, 512, 513);
    list(&tx, "k".repeat(256)).unwrap();
    assert_rule(list(&tx, "k".repeat(257)), Rule::KeyTooLong, 256, 257);
}

fn limits_answers_a_namespace_s_effective_limits(backend: Backend) {
    let t = open_on(backend);
    let raised = t.create(NewNamespace {
        overrides: LimitOverrides {
            max_value_bytes: Some(40 << 20),
            min_ttl_secs: Some(10),
            ..LimitOverrides::default()
        },
        ..NewNamespace::new("raised", Profile::Cloudflare)
    });
    let limits = t.store.limits(&raised.id).unwrap();
    assert_eq!(limits.max_value_bytes, 40 << 20);
    assert_eq!(
        limits.expiry,
        ExpiryLimits::Allowed {
            min_ttl_secs: 10,
            max_ttl_secs: None
        }
    );
    let no_ttl = t.create(NewNamespace {
        ttl_enabled: false,
        ..NewNamespace::new("no-ttl", Profile::Telnyx)
    });
    assert_eq!(
        t.store.limits(&no_ttl.id).unwrap().expiry,
        ExpiryLimits::None
    );
    assert!(matches!(
        t.store.limits(&Uuid::new_v4()),
        Err(StoreError::NamespaceNotFound(_))
    ));
}

on_both_backends!(
    cloudflare_key_bytes,
    reads_of_keys_no_write_could_store_name_the_rule,
    a_read_of_a_missing_key_names_the_rule_under_the_namespace_overrides,
    cloudflare_key_shapes,
    cloudflare_value_size,
    cloudflare_metadata_size_is_compact_json,
    cloudflare_expiry_minimums,
    an_overridden_minimum_ttl_bounds_absolute_expirations_too,
    cloudflare_batch_and_bulk_get_bounds,
    list_limits_per_profile,
    cloudfront_key_chars_and_bytes,
    cloudfront_value_metadata_expiry,
    cloudfront_store_size_is_five_mib,
    cloudfront_batch_bounds,
    telnyx_keys,
    telnyx_value_and_ttl,
    ttl_support_is_a_namespace_flag,
    namespace_names_per_profile,
    limits_are_overridable_per_namespace,
    content_types_are_header_values_within_their_limit,
    a_list_prefix_is_bounded_as_a_key_is,
    limits_answers_a_namespace_s_effective_limits,
);
