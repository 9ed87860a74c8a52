//! Several stores on one PostgreSQL database, as several edgekv nodes run: migrations when they
//! start at once, a schema newer than they know, preconditions and sweeps across nodes, and a
//! database that cannot be reached, and how a store URL names its backend. Those that need a
//! server run only when `EDGEKV_TEST_POSTGRES_URL` is set.

mod common;

use common::{open_on, Backend, TestStore, T0};
use edgekv_store::*;
use std::sync::Arc;

fn on_postgres() -> Option<TestStore> {
    Backend::postgres().map(open_on)
}

#[test]
fn nodes_starting_at_once_migrate_the_schema_once() {
    let Some(t) = on_postgres() else { return };
    // A fresh schema of its own, empty: the first store migrated `t`'s.
    let racing = format!("racing_{}", Uuid::new_v4().simple());
    t.sql(&format!("CREATE SCHEMA {racing}"));
    let at = t.url.find("search_path%3D").unwrap();
    let url = format!("{}search_path%3D{racing}", &t.url[..at]);
    let opened: Vec<Result<Store>> = std::thread::scope(|s| {
        let nodes: Vec<_> = (0..6)
            .map(|_| s.spawn(|| Store::open_url(&url, common::options())))
            .collect();
        nodes.into_iter().map(|n| n.join().unwrap()).collect()
    });
    let stores: Vec<Store> = opened.into_iter().map(|r| r.expect("open")).collect();
    let ns = stores[0]
        .create_namespace(NewNamespace::new("shared", Profile::Cloudflare))
        .unwrap()
        .id;
    stores[5].put(&ns, Put::new("k", "v")).unwrap();
    assert_eq!(stores[2].get(&ns, "k").unwrap().value, b"v");
    drop(stores);
    t.sql(&format!(
        "DO $$ BEGIN IF (SELECT count(*) FROM {racing}.edgekv_schema) <> 1 THEN \
         RAISE EXCEPTION 'migrated more than once'; END IF; END $$; DROP SCHEMA {racing} CASCADE"
    ));
}

#[test]
fn a_schema_newer_than_this_build_is_refused() {
    let Some(t) = on_postgres() else { return };
    t.sql("INSERT INTO edgekv_schema (version) VALUES (999)");
    match Store::open_url(&t.url, common::options()) {
        Err(StoreError::Storage(e @ StorageError::SchemaTooNew { found: 999, .. })) => {
            assert!(e.to_string().contains("newer than this edgekv"), "{e}")
        }
        other => panic!("expected SchemaTooNew, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn compare_and_swap_across_nodes_loses_no_update() {
    const PER_THREAD: u32 = 12;
    let Some(t) = on_postgres() else { return };
    let ns = t.namespace("counter", Profile::Cloudflare);
    let other = t.another();
    t.store.put(&ns, Put::new("n", "0")).unwrap();
    std::thread::scope(|s| {
        for node in [&t.store, &other, &t.store, &other] {
            s.spawn(move || {
                for _ in 0..PER_THREAD {
                    increment(node, &ns);
                }
            });
        }
    });
    let n = String::from_utf8(other.get(&ns, "n").unwrap().value).unwrap();
    assert_eq!(n, (4 * PER_THREAD).to_string());
}

fn increment(store: &Store, ns: &Uuid) {
    loop {
        let entry = store.get(ns, "n").unwrap();
        let n: u32 = String::from_utf8(entry.value).unwrap().parse().unwrap();
        let put = Put {
            precondition: Precondition::EntryEtag(entry.etag.to_string()),
            ..Put::new("n", (n + 1).to_string())
        };
        match store.put(ns, put) {
            Ok(_) => return,
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn sweeps_from_two_nodes_count_each_expired_row_once() {
    let Some(t) = on_postgres() else { return };
    let ns = t.namespace("expiring", Profile::Cloudflare);
    let clock = ManualClock::new(T0);
    let other = Store::open_url_with_clock(&t.url, common::options(), Arc::new(clock.clone()))
        .expect("a second node");
    for i in 0..40 {
        let put = Put {
            expiry: Expiry::TtlSecs(60),
            ..Put::new(format!("k{i}"), "v")
        };
        t.store.put(&ns, put).unwrap();
    }
    t.store.put(&ns, Put::new("stays", "v")).unwrap();
    t.clock.advance_ms(61_000);
    clock.advance_ms(61_000);
    let swept: u64 = std::thread::scope(|s| {
        let a = s.spawn(|| t.store.sweep().unwrap());
        let b = s.spawn(|| other.sweep().unwrap());
        a.join().unwrap() + b.join().unwrap()
    });
    assert_eq!(swept, 40);
    let described = other.namespace(&ns.to_string()).unwrap();
    assert_eq!(described.item_count, 1);
    assert_eq!(described.total_bytes, "stays".len() as u64 + 1);
}

#[test]
fn a_store_whose_connections_were_cut_serves_again_by_itself() {
    let Some(t) = on_postgres() else { return };
    let node = format!("edgekv-cut-{}", Uuid::new_v4().simple());
    let store = Store::open_url(
        &format!("{}&application_name={node}", t.url),
        common::options(),
    )
    .unwrap();
    let ns = store
        .create_namespace(NewNamespace::new("cut", Profile::Cloudflare))
        .unwrap()
        .id;
    store.put(&ns, Put::new("before", "v")).unwrap();
    store.get(&ns, "before").unwrap();
    // As a database restart does to this node: every connection it holds is closed.
    t.sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{node}'"
    ));
    // A call that finds its connection gone fails with the cause, never as a closed store; the
    // next one runs on a new connection.
    let failed_or_wrote = store.put(&ns, Put::new("after", "v"));
    if let Err(e) = &failed_or_wrote {
        assert!(matches!(e, StoreError::Storage(_)), "{e:?}");
        store.put(&ns, Put::new("after", "v")).unwrap();
    }
    if let Err(e) = store.get(&ns, "before") {
        assert!(matches!(e, StoreError::Storage(_)), "{e:?}");
    }
    assert_eq!(store.get(&ns, "after").unwrap().value, b"v");
    assert_eq!(store.get(&ns, "before").unwrap().value, b"v");
}

#[test]
fn an_unreachable_database_fails_to_open_as_unavailable() {
    // Nothing listens on port 1 of the loopback address: refused at once.
    match Store::open_url("postgres://edgekv@127.0.0.1:1/edgekv", common::options()) {
        Err(StoreError::Storage(StorageError::Unavailable(_))) => {}
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_store_url_names_its_backend() {
    assert_eq!(
        StoreUrl::parse("postgres://u@h/db?sslmode=require").unwrap(),
        StoreUrl::Postgres("postgres://u@h/db?sslmode=require")
    );
    assert!(matches!(
        StoreUrl::parse("postgresql://h/db").unwrap(),
        StoreUrl::Postgres(_)
    ));
    assert_eq!(
        StoreUrl::parse("sqlite:///var/kv.sqlite3").unwrap(),
        StoreUrl::Sqlite("/var/kv.sqlite3")
    );
    assert_eq!(
        StoreUrl::parse(".edgekv/kv.sqlite3").unwrap(),
        StoreUrl::Sqlite(".edgekv/kv.sqlite3")
    );
    match StoreUrl::parse("mysql://h/db") {
        Err(StoreError::Storage(StorageError::Url(why))) => assert!(why.contains("mysql"), "{why}"),
        other => panic!("expected a URL error, got {other:?}"),
    }
}

/// A connection the database ended (a restart, an administrator), or a transaction it failed to
/// break a deadlock, fails a call for now, not for good: the APIs answer it 503, so clients retry.
/// A broken statement is not transient; each says what the server said.
#[test]
fn a_connection_the_database_ended_is_a_transient_failure() {
    let Some(t) = on_postgres() else { return };
    let connect = || ::postgres::Client::connect(&t.url, ::postgres::NoTls).expect("connect");
    let mut victim = connect();
    let pid: i32 = victim
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    connect()
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let ended = victim
        .simple_query("SELECT 1")
        .expect_err("the connection was ended");
    assert!(StoreError::from(StorageError::Postgres(ended)).is_transient());

    let broken = connect().simple_query("SELECT FROM nowhere").unwrap_err();
    let broken = StoreError::from(StorageError::Postgres(broken));
    assert!(!broken.is_transient());
    // What the server said, not only the client's "db error".
    assert!(
        broken
            .to_string()
            .contains("\"nowhere\" does not exist (SQLSTATE 42P01)"),
        "{broken}"
    );

    // Two sessions each waiting for the other's lock: PostgreSQL fails one (deadlock_detected).
    let sessions = [(1, 2), (2, 1)].map(|(held, wanted)| {
        let mut session = connect();
        session
            .batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({held})"))
            .unwrap();
        (session, wanted)
    });
    let waits: Vec<_> = sessions
        .into_iter()
        .map(|(mut session, wanted)| {
            std::thread::spawn(move || {
                let wait =
                    session.batch_execute(&format!("SELECT pg_advisory_xact_lock({wanted})"));
                session.batch_execute("ROLLBACK").unwrap();
                wait
            })
        })
        .collect();
    let failed: Vec<_> = waits
        .into_iter()
        .filter_map(|w| w.join().unwrap().err())
        .collect();
    assert_eq!(failed.len(), 1);
    let victim = StoreError::from(StorageError::Postgres(failed.into_iter().next().unwrap()));
    assert!(victim.is_transient(), "{victim}");
}

/// Nodes racing to create the same name: one namespace is made, every other node is told the
/// name exists (as on one node), never a storage error.
#[test]
fn nodes_racing_to_create_one_name_make_one_namespace() {
    const NODES: usize = 4;
    let Some(t) = on_postgres() else { return };
    let nodes: Vec<Store> = (0..NODES).map(|_| t.another()).collect();
    for round in 0..20 {
        let name = format!("raced-{round}");
        let start = std::sync::Barrier::new(NODES);
        let outcomes: Vec<Result<Namespace>> = std::thread::scope(|s| {
            let racers: Vec<_> = nodes
                .iter()
                .map(|node| {
                    let (name, start) = (name.clone(), &start);
                    s.spawn(move || {
                        start.wait();
                        node.create_namespace(NewNamespace::new(name, Profile::Telnyx))
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let made = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(made, 1, "round {round}: {outcomes:?}");
        for outcome in outcomes.into_iter().filter_map(|o| o.err()) {
            assert!(
                matches!(&outcome, StoreError::NamespaceExists(n) if *n == name),
                "round {round}: {outcome}"
            );
        }
    }
}

/// A node whose pooled read connections the database dropped reads again at once.
#[test]
fn a_read_after_the_database_dropped_the_pooled_connections_succeeds() {
    let Some(t) = on_postgres() else { return };
    let ns = t.namespace("reads", Profile::Cloudflare);
    t.store.put(&ns, Put::new("k", "v")).unwrap();
    // A node of its own name, so only its connections are dropped.
    let name = format!("edgekv_{}", Uuid::new_v4().simple());
    let url = format!("{}&application_name={name}", t.url);
    let node = Store::open_url(&url, common::options()).unwrap();
    let reads = |node: &Store| {
        std::thread::scope(|s| {
            let readers: Vec<_> = (0..4)
                .map(|_| s.spawn(|| node.get(&ns, "k").map(|e| e.value)))
                .collect();
            readers
                .into_iter()
                .map(|r| r.join().unwrap())
                .collect::<Vec<_>>()
        })
    };
    assert!(reads(&node).iter().all(|r| matches!(r, Ok(v) if v == b"v")));
    // As a database restart or an idle timeout drops them.
    t.sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'"
    ));
    for read in reads(&node) {
        assert_eq!(read.expect("a read once the database is back"), b"v");
    }
    assert_eq!(node.namespace(&ns.to_string()).unwrap().name, "reads");
}

/// Groups on two nodes writing the same namespaces in different orders: each group takes its
/// namespaces' row locks in one order, so no two groups wait for each other (PostgreSQL would
/// break such a deadlock by failing a whole group).
#[test]
fn groups_on_two_nodes_writing_several_namespaces_never_deadlock() {
    const THREADS: usize = 16;
    let Some(t) = on_postgres() else { return };
    let namespaces: Vec<Uuid> = (0..4)
        .map(|i| t.namespace(&format!("ns{i}"), Profile::Cloudflare))
        .collect();
    let nodes = [t.store.clone(), t.another()];
    let failures: Vec<String> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (node, namespaces) = (&nodes[thread % 2], &namespaces);
                s.spawn(move || {
                    let mut failures = Vec::new();
                    for i in 0..60 {
                        let ns = namespaces[(thread * 7 + i * 3) % namespaces.len()];
                        let put = Put::new(format!("k{}", (thread + i) % 5), "v");
                        if let Err(e) = node.put(&ns, put) {
                            failures.push(e.to_string());
                        }
                    }
                    failures
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}

/// Nodes racing to rename their namespaces to one name: one rename lands, every other node is
/// told the name exists and its namespace keeps its old name.
#[test]
fn nodes_racing_to_rename_to_one_name_rename_one_namespace() {
    const NODES: usize = 4;
    let Some(t) = on_postgres() else { return };
    let nodes: Vec<Store> = (0..NODES).map(|_| t.another()).collect();
    for round in 0..20 {
        let name = format!("renamed-{round}");
        let ids: Vec<Uuid> = (0..NODES)
            .map(|n| t.namespace(&format!("r{round}-{n}"), Profile::Telnyx))
            .collect();
        let start = std::sync::Barrier::new(NODES);
        let outcomes: Vec<Result<Namespace>> = std::thread::scope(|s| {
            let racers: Vec<_> = nodes
                .iter()
                .zip(&ids)
                .map(|(node, id)| {
                    let (name, start) = (name.clone(), &start);
                    s.spawn(move || {
                        let rename = NamespaceUpdate {
                            name: Some(name),
                            ..Default::default()
                        };
                        start.wait();
                        node.update_namespace(id, rename)
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "round {round}: {outcomes:?}"
        );
        for (n, outcome) in outcomes.iter().enumerate() {
            if let Err(e) = outcome {
                assert!(
                    matches!(e, StoreError::NamespaceExists(x) if *x == name),
                    "round {round}: {e}"
                );
                assert_eq!(
                    t.store.namespace(&ids[n].to_string()).unwrap().name,
                    format!("r{round}-{n}")
                );
            }
        }
    }
}
