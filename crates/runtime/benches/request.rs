//! One request through `App::handle`, in process: a fresh instance, the guest, its host calls and
//! the store, without sockets, hyper or the kernel. Each case runs in batches alternated with the
//! baseline (the plain hello component), and the report gives per-request time and the ratio to
//! hello, batch by batch, so a slower or faster machine moves both sides alike. It runs on the
//! server's allocator, so per-request allocations cost here what they cost in `edgekv serve`.
//!
//! `cargo bench -p edgekv-runtime --bench request [-- ROUNDS]`, after `guest-examples/build.sh`
//! (components are read from `EDGEKV_GUESTS_DIR`, default `target/guests`).

use bytes::Bytes;
use edgekv_runtime::{Abandoned, App, AppLimits, Grants, Runtime, RuntimeOptions};
use edgekv_store::{NewNamespace, Profile, Put, Store, StoreOptions};
use http_body_util::{BodyExt, Empty};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::Instant;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Requests per case in one batch.
const BATCH: usize = 300;

struct Case {
    name: &'static str,
    component: &'static str,
    path: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "hello (baseline)",
        component: "hello",
        path: "/",
    },
    // hello plus one `get`: what the binding adds; rust-kv-api adds an HTTP router as well.
    Case {
        name: "KV GET 1 KiB, kv-hello",
        component: "kv-hello",
        path: "/kv/bench",
    },
    Case {
        name: "KV GET 1 KiB, rust-kv-api",
        component: "rust-kv-api",
        path: "/kv/bench",
    },
    Case {
        name: "KV GET missing key, rust-kv-api",
        component: "rust-kv-api",
        path: "/kv/missing",
    },
    Case {
        name: "KV GET 1 KiB, c-kv-api",
        component: "c-kv-api",
        path: "/kv/bench",
    },
];

fn main() {
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(30);
    let guests = guests_dir();
    let data = tempfile::tempdir().expect("temporary data dir");
    let (store, grants) = seeded_store(data.path());
    let runtime = Runtime::new(RuntimeOptions::default()).expect("engine");
    let cases: Vec<(&Case, App)> = CASES
        .iter()
        .filter_map(|case| {
            let path = guests.join(format!("{}.wasm", case.component));
            if !path.exists() {
                eprintln!("skipped {}: {} is not built", case.name, path.display());
                return None;
            }
            let app = App::load(
                &runtime,
                "/",
                &path,
                store.clone(),
                grants.clone(),
                AppLimits::default(),
            )
            .expect("load component");
            Some((case, app))
        })
        .collect();
    if cases.first().map(|(case, _)| case.component) != Some("hello") {
        eprintln!(
            "the baseline (hello) is not built in {}: run guest-examples/build.sh",
            guests.display()
        );
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let times = rt.block_on(measure(&cases, rounds));
    report(&cases, &times, rounds);
}

fn guests_dir() -> PathBuf {
    match std::env::var_os("EDGEKV_GUESTS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guests"),
    }
}

/// A store with one Cloudflare namespace bound as `default`, holding a 1 KiB value at `bench`.
fn seeded_store(dir: &Path) -> (Store, Grants) {
    let store = Store::open(&dir.join("kv.sqlite3"), StoreOptions::default()).expect("store");
    let namespace = store
        .create_namespace(NewNamespace::new("default", Profile::Cloudflare))
        .expect("namespace");
    store
        .put(&namespace.id, Put::new("bench", vec![b'x'; 1024]))
        .expect("seed value");
    let mut grants = Grants::new();
    grants.grant("default", Some(namespace.id));
    (store, grants)
}

/// Per-request microseconds of each case, one figure per round (after one warm-up round).
async fn measure(cases: &[(&Case, App)], rounds: usize) -> Vec<Vec<f64>> {
    let mut times = vec![Vec::with_capacity(rounds); cases.len()];
    for round in 0..=rounds {
        for (i, (case, app)) in cases.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..BATCH {
                request(app, case.path).await;
            }
            if round > 0 {
                times[i].push(start.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
            }
        }
    }
    times
}

/// One GET, its whole response body read.
async fn request(app: &App, path: &str) {
    let never = |e: Infallible| -> ErrorCode { match e {} };
    let req = hyper::Request::get(format!("http://localhost{path}"))
        .header("host", "localhost")
        .body(Empty::<Bytes>::new().map_err(never))
        .expect("request");
    let response = app
        .handle(req, "bench".into(), Abandoned::default())
        .await
        .expect("guest answered");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert!(
        status.is_success() || status == 404,
        "{path}: {status} {body:?}"
    );
}

fn report(cases: &[(&Case, App)], times: &[Vec<f64>], rounds: usize) {
    println!(
        "one request in process ({rounds} rounds of {BATCH}, alternated; median and quartiles)"
    );
    println!("{:34} {:>9} {:>24}", "case", "µs/req", "cost vs hello");
    for (i, (case, _)) in cases.iter().enumerate() {
        let ratios: Vec<f64> = times[i].iter().zip(&times[0]).map(|(t, h)| t / h).collect();
        let (q1, median, q3) = quartiles(ratios);
        let (_, us, _) = quartiles(times[i].clone());
        println!(
            "{:34} {us:>9.1} {median:>9.2}x ({q1:.2}-{q3:.2})",
            case.name
        );
    }
}

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: usize| v[(v.len() - 1) * q / 4];
    (at(1), at(2), at(3))
}
