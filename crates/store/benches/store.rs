//! Store benchmark: each figure is measured for the store and for raw rusqlite doing the same row
//! operation on the same machine in the same run, and printed as a ratio (store / raw throughput).
//! One figure is the store against itself: reads of a large cached value by two threads against
//! one, which should scale with the cores.
//!
//! Run: `cargo bench -p edgekv-store` (set `BENCH_SCALE=0.1` for a quick run).

use edgekv_store::*;
use rusqlite::{params, Connection};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The allocator the server runs with, so copies and buffers cost here what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: u64 = 100_000;

fn scale(n: u64) -> u64 {
    let s: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * s) as u64).max(1)
}

fn key(i: u64) -> String {
    format!("key/{i:08}")
}

/// A cheap deterministic sequence of key indexes.
fn spread(i: u64) -> u64 {
    i.wrapping_mul(2_654_435_761) % KEYS
}

fn rate(ops: u64, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    ops as f64 / start.elapsed().as_secs_f64()
}

fn raw_open(path: &Path, durability: Durability) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    let sync = if durability == Durability::Full {
        "FULL"
    } else {
        "NORMAL"
    };
    conn.pragma_update(None, "synchronous", sync).unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS kv (key BLOB NOT NULL, value BLOB NOT NULL, metadata TEXT, \
         expires_at INTEGER, UNIQUE (key))",
    )
    .unwrap();
    conn
}

fn raw_put(conn: &Connection, k: &str, v: &[u8]) {
    conn.prepare_cached(
        "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .unwrap()
    .execute(params![k.as_bytes(), v])
    .unwrap();
}

fn raw_get(conn: &Connection, k: &str) -> Vec<u8> {
    conn.prepare_cached("SELECT value FROM kv WHERE key = ?1")
        .unwrap()
        .query_row([k.as_bytes()], |r| r.get(0))
        .unwrap()
}

fn raw_list(conn: &Connection, after: &str) -> usize {
    let mut stmt = conn
        .prepare_cached(
            "SELECT key, expires_at, metadata, length(value) FROM kv WHERE key > ?1 ORDER BY key LIMIT 1001",
        )
        .unwrap();
    let rows = stmt
        .query_map([after.as_bytes()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .unwrap();
    rows.map(|r| String::from_utf8(r.unwrap().0).unwrap())
        .take(1000)
        .count()
}

/// Throughput of 64 threads each autocommitting on its own raw connection (SQLite's busy handler
/// serialises them).
fn raw_concurrent_puts(path: &Path, durability: Durability, total: u64, value: &[u8]) -> f64 {
    let next = AtomicU64::new(0);
    rate(total, || {
        std::thread::scope(|s| {
            for _ in 0..64 {
                s.spawn(|| {
                    let conn = raw_open(path, durability);
                    conn.busy_timeout(std::time::Duration::from_secs(60))
                        .unwrap();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            return;
                        }
                        raw_put(&conn, &key(spread(i)), value);
                    }
                });
            }
        })
    })
}

/// Throughput of 64 threads putting `total` values between them.
fn concurrent_puts(store: &Store, ns: &Uuid, total: u64, value: &[u8]) -> f64 {
    let next = AtomicU64::new(0);
    rate(total, || {
        std::thread::scope(|s| {
            for _ in 0..64 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return;
                    }
                    store
                        .put(ns, Put::new(key(spread(i)), value.to_vec()))
                        .unwrap();
                });
            }
        })
    })
}

/// Gets of one cached 512 KiB value by two threads against one: a hit copies the value out after
/// the cache's lock is released, so a large value does not serialise its readers.
fn large_get_scaling(store: &Store, ns: &Uuid) -> Figure {
    const SIZE: usize = 512 << 10;
    store.put(ns, Put::new("large", vec![0x5a; SIZE])).unwrap();
    let gets = scale(20_000);
    // Every reader is a spawned thread (the single one too), so both runs allocate alike.
    let readers = |n: u64| {
        rate(n * gets, || {
            std::thread::scope(|s| {
                for _ in 0..n {
                    s.spawn(|| {
                        for _ in 0..gets {
                            assert_eq!(store.get(ns, "large").unwrap().value.len(), SIZE);
                        }
                    });
                }
            })
        })
    };
    readers(1); // warm-up: the first get reads the value from SQLite into the cache
    let one = readers(1);
    Figure {
        name: "cached 512 KiB get, 2 readers vs 1 (store)",
        store: readers(2),
        raw: one,
        target: "~2 on 2 cores",
    }
}

struct Figure {
    name: &'static str,
    store: f64,
    raw: f64,
    target: &'static str,
}

/// `Store::import` (what `edgekv kv import` calls once the file is parsed: all or nothing, every
/// rule checked) of 100k 1 KiB values into an empty namespace, vs raw rusqlite inserting the same
/// rows in one transaction. Both on fresh files.
fn import_figure(dir: &Path, value: &[u8]) -> Figure {
    let n = scale(KEYS);
    let raw = raw_open(&dir.join("raw-import.sqlite3"), Durability::Normal);
    let raw_rate = rate(n, || {
        raw.execute_batch("BEGIN").unwrap();
        for i in 0..n {
            raw.prepare_cached("INSERT INTO kv (key, value) VALUES (?1, ?2)")
                .unwrap()
                .execute(params![key(i).as_bytes(), value])
                .unwrap();
        }
        raw.execute_batch("COMMIT").unwrap();
    });
    let options = StoreOptions {
        sweep_interval: None,
        ..StoreOptions::default()
    };
    let store = Store::open(&dir.join("store-import.sqlite3"), options).unwrap();
    let ns = store
        .create_namespace(NewNamespace::new("import", Profile::Cloudflare))
        .unwrap()
        .id;
    let puts: Vec<Put> = (0..n).map(|i| Put::new(key(i), value.to_vec())).collect();
    let store_rate = rate(n, || drop(store.import(&ns, puts).unwrap()));
    Figure {
        name: "import 100k x 1 KiB vs raw one transaction",
        store: store_rate,
        raw: raw_rate,
        target: ">= 0.5",
    }
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let dir = tempfile::tempdir().unwrap();
    let value = vec![0x5a; 1024];
    let options = StoreOptions {
        sweep_interval: None,
        ..StoreOptions::default()
    };
    let store = Store::open(&dir.path().join("store.sqlite3"), options).unwrap();
    let ns = store
        .create_namespace(NewNamespace::new("bench", Profile::Cloudflare))
        .unwrap()
        .id;
    let raw = raw_open(&dir.path().join("raw.sqlite3"), Durability::Normal);

    eprintln!("loading {KEYS} keys of 1 KiB into both ...");
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(10_000) {
        let ops = chunk
            .iter()
            .map(|i| BatchOp::Put(Put::new(key(*i), value.clone())))
            .collect();
        store
            .apply(
                &ns,
                Batch {
                    ops,
                    ..Batch::default()
                },
            )
            .unwrap();
    }
    raw.execute_batch("BEGIN").unwrap();
    for i in 0..KEYS {
        raw_put(&raw, &key(i), &value);
    }
    raw.execute_batch("COMMIT").unwrap();

    let mut figures = Vec::new();
    figures.push(import_figure(dir.path(), &value));
    if std::env::var("BENCH_SIZES").is_ok() {
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let e = e.unwrap();
            eprintln!("{:?} {}", e.file_name(), e.metadata().unwrap().len());
        }
    }

    let gets = scale(200_000);
    let raw_rate = rate(gets, || {
        (0..gets).for_each(|i| assert_eq!(raw_get(&raw, &key(spread(i))).len(), 1024))
    });
    let store_rate = rate(gets, || {
        (0..gets)
            .for_each(|i| assert_eq!(store.get(&ns, &key(spread(i))).unwrap().value.len(), 1024))
    });
    figures.push(Figure {
        name: "point get, 1 KiB among 100k",
        store: store_rate,
        raw: raw_rate,
        target: ">= 0.7",
    });

    let puts = scale(20_000);
    let raw_single = rate(puts, || {
        (0..puts).for_each(|i| raw_put(&raw, &key(spread(i)), &value))
    });
    let store_single = rate(puts, || {
        (0..puts).for_each(|i| {
            drop(
                store
                    .put(&ns, Put::new(key(spread(i)), value.clone()))
                    .unwrap(),
            )
        })
    });
    figures.push(Figure {
        name: "single put (1 writer)",
        store: store_single,
        raw: raw_single,
        target: "-",
    });

    let store_64 = concurrent_puts(&store, &ns, scale(100_000), &value);
    figures.push(Figure {
        name: "64 concurrent putters vs raw autocommit",
        store: store_64,
        raw: raw_single,
        target: ">= 3",
    });

    let raw_64 = raw_concurrent_puts(
        &dir.path().join("raw.sqlite3"),
        Durability::Normal,
        scale(20_000),
        &value,
    );
    figures.push(Figure {
        name: "64 concurrent putters vs raw 64 connections",
        store: store_64,
        raw: raw_64,
        target: "-",
    });

    // The same at `full` durability (an fsync per commit), on fresh files.
    let full = StoreOptions {
        durability: Durability::Full,
        sweep_interval: None,
        ..StoreOptions::default()
    };
    let store_full = Store::open(&dir.path().join("store-full.sqlite3"), full).unwrap();
    let ns_full = store_full
        .create_namespace(NewNamespace::new("bench", Profile::Cloudflare))
        .unwrap()
        .id;
    let raw_full = raw_open(&dir.path().join("raw-full.sqlite3"), Durability::Full);
    let puts = scale(2_000);
    let raw_full_rate = rate(puts, || {
        (0..puts).for_each(|i| raw_put(&raw_full, &key(spread(i)), &value))
    });
    let store_full_rate = rate(puts, || {
        (0..puts).for_each(|i| {
            drop(
                store_full
                    .put(&ns_full, Put::new(key(spread(i)), value.clone()))
                    .unwrap(),
            )
        })
    });
    figures.push(Figure {
        name: "single put, full durability",
        store: store_full_rate,
        raw: raw_full_rate,
        target: "-",
    });
    let store_full_64 = concurrent_puts(&store_full, &ns_full, scale(20_000), &value);
    figures.push(Figure {
        name: "64 putters vs raw autocommit, full",
        store: store_full_64,
        raw: raw_full_rate,
        target: ">= 3",
    });

    let pages = scale(2_000);
    let after = |i: u64| key(spread(i).min(KEYS - 1001));
    let raw_pages = rate(pages, || {
        (0..pages).for_each(|i| assert_eq!(raw_list(&raw, &after(i)), 1000))
    });
    let store_pages = rate(pages, || {
        (0..pages).for_each(|i| {
            let cursor = Some(cursor::encode(&after(i)));
            let page = store
                .list(
                    &ns,
                    &ListQuery {
                        cursor,
                        limit: Some(1000),
                        ..ListQuery::default()
                    },
                )
                .unwrap();
            assert_eq!(page.keys.len(), 1000);
        })
    });
    figures.push(Figure {
        name: "list a 1000-key page",
        store: store_pages,
        raw: raw_pages,
        target: ">= 0.5 (<= 2x time)",
    });

    figures.push(large_get_scaling(&store, &ns));

    println!(
        "{:<42} {:>14} {:>14} {:>8}  target",
        "operation", "store ops/s", "raw ops/s", "ratio"
    );
    for f in &figures {
        println!(
            "{:<42} {:>14.0} {:>14.0} {:>8.2}  {}",
            f.name,
            f.store,
            f.raw,
            f.store / f.raw,
            f.target
        );
    }
}
