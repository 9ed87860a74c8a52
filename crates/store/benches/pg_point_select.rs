//! The baseline of the PostgreSQL guest-read benchmark (`tests/bench/postgres.sh`): CLIENTS
//! concurrent tokio-postgres connections, each running, one after the other for SECONDS, the point
//! SELECT the store's PostgreSQL backend makes for an entry read (the namespace row joined with
//! the entry, expiry checked), prepared once per connection, on the entry KEY of an edgekv
//! database. Prints `requests/s p99-ms`.
//!
//! Run: `cargo bench --workspace --bench pg_point_select -- URL KEY [SECONDS] [CLIENTS]`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_postgres::NoTls;

/// The store's entry read (`postgres::queries`, `ReadTx::entry`).
const ENTRY: &str =
    "SELECT n.status, e.value, e.metadata, e.content_type, e.expires_at, e.version, \
     e.modified_at, n.profile, n.ttl_enabled, n.overrides FROM namespaces n \
     LEFT JOIN entries e ON e.ns = n.seq AND e.key = $2 \
     AND (e.expires_at IS NULL OR e.expires_at > $3) WHERE n.seq = $1";

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // `cargo bench` passes `--bench`; the arguments are the ones that are not flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [url, key, rest @ ..] = args.as_slice() else {
        return Err("usage: pg_point_select URL KEY [SECONDS] [CLIENTS]".into());
    };
    let seconds: u64 = rest.first().map_or(Ok(10), |s| s.parse())?;
    let clients: usize = rest.get(1).map_or(Ok(16), |s| s.parse())?;

    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    let ns: i64 = client
        .query_one(
            "SELECT ns FROM entries WHERE key = $1 LIMIT 1",
            &[&key.as_bytes()],
        )
        .await?
        .get(0);

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, key) = (url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            run_client(&url, ns, key.as_bytes(), deadline).await
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let p99 = latencies
        .get(latencies.len() * 99 / 100)
        .copied()
        .unwrap_or_default();
    println!(
        "{:.0} {:.2}",
        latencies.len() as f64 / elapsed,
        p99.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// One client's loop; returns each request's latency.
async fn run_client(
    url: &str,
    ns: i64,
    key: &[u8],
    deadline: Instant,
) -> Result<Vec<Duration>, Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    let statement = client.prepare(ENTRY).await?;
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let start = Instant::now();
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
        let row = client.query_one(&statement, &[&ns, &key, &now_ms]).await?;
        let value: Option<Vec<u8>> = row.try_get(1)?;
        if value.is_none() {
            return Err("the entry is missing".into());
        }
        latencies.push(start.elapsed());
    }
    Ok(latencies)
}
