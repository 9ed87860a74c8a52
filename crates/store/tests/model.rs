//! Property test: random sequences of puts, deletes, batches, conditional writes, list pages and clock
//! moves run against the store and against a plain in-memory model; every result must agree.

mod common;

use common::{open_on, Backend};
use edgekv_store::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};

const KEYS: [&str; 6] = ["a", "ab", "b", "b/c", "é", "ü/x"];
const PREFIXES: [&str; 5] = ["", "a", "b", "b/", "é"];

#[derive(Debug, Clone, Copy)]
enum Cond {
    None,
    Absent,
    CurrentEntry,
    StaleEntry,
    CurrentNamespace,
    StaleNamespace,
}

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: usize,
        value: Vec<u8>,
        ttl: Option<u64>,
        cond: Cond,
    },
    Delete {
        key: usize,
        cond: Cond,
    },
    Batch {
        ops: Vec<(usize, Option<Vec<u8>>)>,
        stale: bool,
    },
    Get {
        key: usize,
    },
    List {
        prefix: usize,
        limit: u64,
    },
    Advance {
        ms: u64,
    },
    /// Moves the clock to exactly the expiry of a key, the boundary where it stops being live.
    AdvanceToExpiry {
        key: usize,
    },
    Sweep,
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        Just(Cond::None),
        Just(Cond::Absent),
        Just(Cond::CurrentEntry),
        Just(Cond::StaleEntry),
        Just(Cond::CurrentNamespace),
        Just(Cond::StaleNamespace),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let value = proptest::collection::vec(any::<u8>(), 0..8);
    prop_oneof![
        4 => (key.clone(), value.clone(), proptest::option::of(60u64..120), cond())
            .prop_map(|(key, value, ttl, cond)| Op::Put { key, value, ttl, cond }),
        2 => (key.clone(), cond()).prop_map(|(key, cond)| Op::Delete { key, cond }),
        1 => (proptest::collection::vec((key.clone(), proptest::option::of(value)), 1..5), any::<bool>())
            .prop_map(|(ops, stale)| Op::Batch { ops, stale }),
        2 => key.prop_map(|key| Op::Get { key }),
        2 => (0..PREFIXES.len(), 1u64..4).prop_map(|(prefix, limit)| Op::List { prefix, limit }),
        2 => (0u64..90_000).prop_map(|ms| Op::Advance { ms }),
        1 => (0..KEYS.len()).prop_map(|key| Op::AdvanceToExpiry { key }),
        1 => Just(Op::Sweep),
    ]
}

#[derive(Debug, Clone)]
struct Live {
    value: Vec<u8>,
    expires_at: Option<i64>,
    etag: Etag,
}

struct Model {
    entries: BTreeMap<Vec<u8>, Live>,
    /// Every ETag each key has had, to pick stale ones from.
    history: HashMap<String, Vec<Etag>>,
    ns_etag: Etag,
    old_ns_etags: Vec<Etag>,
}

impl Model {
    fn live(&self, key: &str, now: i64) -> Option<&Live> {
        self.entries
            .get(key.as_bytes())
            .filter(|e| e.expires_at.is_none_or(|at| at > now))
    }

    fn precondition(&self, key: &str, cond: Cond, now: i64) -> (Precondition, bool) {
        let live = self.live(key, now);
        let stale = |list: Option<&Vec<Etag>>, current: Option<&Etag>| {
            list.and_then(|l| l.iter().find(|e| Some(*e) != current).cloned())
                .map_or("bogus".to_string(), |e| e.to_string())
        };
        match cond {
            Cond::None => (Precondition::None, true),
            Cond::Absent => (Precondition::Absent, live.is_none()),
            Cond::CurrentEntry => match live {
                Some(e) => (Precondition::EntryEtag(e.etag.to_string()), true),
                None => (
                    Precondition::EntryEtag(stale(self.history.get(key), None)),
                    false,
                ),
            },
            Cond::StaleEntry => {
                let current = live.map(|e| &e.etag);
                (
                    Precondition::EntryEtag(stale(self.history.get(key), current)),
                    false,
                )
            }
            Cond::CurrentNamespace => (Precondition::NamespaceEtag(self.ns_etag.to_string()), true),
            Cond::StaleNamespace => (
                Precondition::NamespaceEtag(stale(Some(&self.old_ns_etags), Some(&self.ns_etag))),
                false,
            ),
        }
    }

    fn set_ns_etag(&mut self, etag: Etag) {
        if etag != self.ns_etag {
            let old = std::mem::replace(&mut self.ns_etag, etag);
            self.old_ns_etags.push(old);
        }
    }

    fn put(&mut self, key: &str, value: Vec<u8>, expires_at: Option<i64>, etag: Etag) {
        self.history
            .entry(key.to_string())
            .or_default()
            .push(etag.clone());
        self.entries.insert(
            key.as_bytes().to_vec(),
            Live {
                value,
                expires_at,
                etag,
            },
        );
    }

    fn live_keys(&self, prefix: &str, now: i64) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(k, e)| {
                k.starts_with(prefix.as_bytes()) && e.expires_at.is_none_or(|at| at > now)
            })
            .map(|(k, _)| String::from_utf8(k.clone()).unwrap())
            .collect()
    }

    fn stats(&self, now: i64) -> (u64, u64) {
        self.entries
            .iter()
            .filter(|(_, e)| e.expires_at.is_none_or(|at| at > now))
            .fold((0, 0), |(n, b), (k, e)| {
                (n + 1, b + (k.len() + e.value.len()) as u64)
            })
    }
}

fn is_conflict<T>(r: &Result<T>) -> bool {
    matches!(r, Err(StoreError::Conflict { .. }))
}

fn run(ops: Vec<Op>, backend: Backend) {
    let t = open_on(backend);
    let ns = t.namespace("model", Profile::Cloudflare);
    let mut model = Model {
        entries: BTreeMap::new(),
        history: HashMap::new(),
        ns_etag: t.store.namespace("model").unwrap().etag(),
        old_ns_etags: Vec::new(),
    };
    for op in ops {
        let now = t.clock.now_ms();
        match op {
            Op::Put {
                key,
                value,
                ttl,
                cond,
            } => {
                let key = KEYS[key];
                let (precondition, ok) = model.precondition(key, cond, now);
                let expiry = ttl.map_or(Expiry::Never, Expiry::TtlSecs);
                let put = Put {
                    precondition,
                    expiry,
                    ..Put::new(key, value.clone())
                };
                let result = t.store.put(&ns, put);
                if !ok {
                    assert!(is_conflict(&result), "expected conflict, got {result:?}");
                } else {
                    let out = result.unwrap();
                    assert_eq!(out.existed, model.live(key, now).is_some());
                    assert_ne!(out.namespace_etag, model.ns_etag);
                    model.set_ns_etag(out.namespace_etag);
                    model.put(
                        key,
                        value,
                        ttl.map(|s| now + s as i64 * 1000),
                        out.etag.unwrap(),
                    );
                }
            }
            Op::Delete { key, cond } => {
                let key = KEYS[key];
                let cond = if matches!(cond, Cond::Absent) {
                    Cond::None
                } else {
                    cond
                };
                let (precondition, ok) = model.precondition(key, cond, now);
                let result = t.store.delete(
                    &ns,
                    Delete {
                        key: key.into(),
                        precondition,
                    },
                );
                if !ok {
                    assert!(is_conflict(&result), "expected conflict, got {result:?}");
                } else {
                    let out = result.unwrap();
                    let existed = model.live(key, now).is_some();
                    assert_eq!(out.existed, existed);
                    assert_eq!(out.namespace_etag != model.ns_etag, existed);
                    model.set_ns_etag(out.namespace_etag);
                    model.entries.remove(key.as_bytes());
                }
            }
            Op::Batch { ops, stale } => {
                let if_match = if stale {
                    Some(
                        model
                            .old_ns_etags
                            .last()
                            .map_or("bogus".into(), |e| e.to_string()),
                    )
                } else {
                    Some(model.ns_etag.to_string())
                };
                let batch_ops = ops
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => BatchOp::Put(Put::new(KEYS[*k], v.clone())),
                        None => BatchOp::Delete(Delete {
                            key: KEYS[*k].into(),
                            ..Default::default()
                        }),
                    })
                    .collect();
                let result = t.store.apply(
                    &ns,
                    Batch {
                        ops: batch_ops,
                        if_match,
                        ..Default::default()
                    },
                );
                if stale {
                    assert!(is_conflict(&result), "expected conflict, got {result:?}");
                } else {
                    let out = result.unwrap();
                    model.set_ns_etag(out.namespace_etag.clone());
                    for (k, v) in ops {
                        match v {
                            Some(v) => model.put(KEYS[k], v, None, out.etag.clone().unwrap()),
                            None => drop(model.entries.remove(KEYS[k].as_bytes())),
                        }
                    }
                }
            }
            Op::Get { key } => {
                let key = KEYS[key];
                match (t.store.get(&ns, key), model.live(key, now)) {
                    (Ok(e), Some(m)) => {
                        assert_eq!(
                            (&e.value, e.expires_at_ms, &e.etag),
                            (&m.value, m.expires_at, &m.etag)
                        )
                    }
                    (Err(StoreError::KeyNotFound(_)), None) => {}
                    (got, want) => panic!("get {key}: store {got:?}, model {want:?}"),
                }
            }
            Op::List { prefix, limit } => {
                let prefix = PREFIXES[prefix];
                let mut got = Vec::new();
                let mut cursor = None;
                loop {
                    let q = ListQuery {
                        prefix: prefix.into(),
                        cursor,
                        limit: Some(limit),
                    };
                    let page = t.store.list(&ns, &q).unwrap();
                    assert!(page.keys.len() as u64 <= limit);
                    got.extend(page.keys.into_iter().map(|k| k.key));
                    match page.cursor {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                assert_eq!(got, model.live_keys(prefix, now));
            }
            Op::Advance { ms } => t.clock.advance_ms(ms),
            Op::AdvanceToExpiry { key } => {
                if let Some(at) = model
                    .entries
                    .get(KEYS[key].as_bytes())
                    .and_then(|e| e.expires_at)
                {
                    t.clock.set_ms(at.max(now)).expect("forwards");
                }
            }
            Op::Sweep => drop(t.store.sweep().unwrap()),
        }
        let now = t.clock.now_ms();
        let d = t.store.namespace("model").unwrap();
        assert_eq!((d.item_count, d.total_bytes), model.stats(now));
        assert_eq!(d.etag(), model.ns_etag);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn store_agrees_with_model_on_sqlite(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops, Backend::Sqlite);
    }
}

mod postgres {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn store_agrees_with_model(ops in proptest::collection::vec(op(), 1..60)) {
            match Backend::postgres() {
                Some(backend) => run(ops, backend),
                None => return Ok(()),
            }
        }
    }
}
