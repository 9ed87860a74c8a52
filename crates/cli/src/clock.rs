//! Whose clock a command runs on. `edgekv serve --clock manual` starts a manual clock (the store's,
//! so every path and the guests follow it) and shares its time through `<data-dir>/clock.json`,
//! so `edgekv kv` on the same data dir tells time as the server does while the server runs.
//! `edgekv clock show|advance|set` reads and moves a running server's clock through its admin API.

use crate::serve_lock;
use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::{Args, Subcommand, ValueEnum};
use edgekv_store::clock::{format_time, parse_time};
use edgekv_store::{Clock, ClockError, ClockMove, ManualClock, SystemClock};
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file a manual clock's time is shared through, in the data dir.
const FILE: &str = "clock.json";

/// Which clock `edgekv serve` runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ClockChoice {
    /// Real time.
    #[default]
    System,
    /// Stands still from --start-time (or the start) until moved through the admin API or
    /// `edgekv clock`; never moves back.
    Manual,
}

/// What the shared file holds.
#[derive(Serialize, Deserialize)]
struct Shared {
    now_ms: i64,
    now: String,
}

/// The server's clock: the system clock, or a manual one starting at `start_ms` (default: now)
/// whose time every move writes to the data dir. A system clock removes what a manual one left.
pub fn for_server(
    choice: ClockChoice,
    start_ms: Option<i64>,
    data_dir: &Path,
) -> Result<Arc<dyn Clock>> {
    let file = data_dir.join(FILE);
    match choice {
        ClockChoice::System => {
            forget(data_dir);
            Ok(Arc::new(SystemClock))
        }
        ClockChoice::Manual => {
            let start = start_ms.unwrap_or_else(|| SystemClock.now_ms());
            let clock = SharedClock {
                clock: ManualClock::new(start),
                file,
            };
            clock.save(start)?;
            Ok(Arc::new(clock))
        }
    }
}

/// Removes the shared time, as a server on the manual clock stops.
pub fn forget(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(FILE));
}

/// The clock of a command on `data_dir`: the running server's manual clock's time when it has one,
/// else the system clock. A file that a stopped server left is ignored.
pub fn of_data_dir(data_dir: &Path) -> Result<Arc<dyn Clock>> {
    let file = data_dir.join(FILE);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::new(SystemClock)),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    if !serve_lock::server_running(data_dir)? {
        return Ok(Arc::new(SystemClock));
    }
    let shared: Shared = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a clock file", file.display()))?;
    Ok(Arc::new(ManualClock::new(shared.now_ms)))
}

/// Parses `--start-time`.
pub fn parse_start(text: &str) -> Result<i64, String> {
    parse_time(text).map_err(|e| e.to_string())
}

/// A manual clock whose every move is written to the data dir.
struct SharedClock {
    clock: ManualClock,
    file: PathBuf,
}

impl SharedClock {
    /// Writes the time to the file whole (a new file renamed over the old).
    fn save(&self, now_ms: i64) -> Result<()> {
        let shared = Shared {
            now_ms,
            now: format_time(now_ms),
        };
        let partial = self.file.with_extension("json.partial");
        std::fs::write(&partial, serde_json::to_vec(&shared)?)
            .and_then(|()| std::fs::rename(&partial, &self.file))
            .with_context(|| format!("writing {}", self.file.display()))
    }
}

impl Clock for SharedClock {
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn is_manual(&self) -> bool {
        true
    }

    fn advance(&self, to: ClockMove) -> Result<i64, ClockError> {
        let now = self.clock.advance(to)?;
        if let Err(e) = self.save(now) {
            tracing::warn!("the clock moved, but `edgekv kv` will not see it: {e:#}");
        }
        Ok(now)
    }
}

/// `edgekv clock`.
#[derive(Debug, Args)]
pub struct ClockArgs {
    /// The server whose clock it is (its main or admin listener).
    #[arg(
        long,
        global = true,
        env = "EDGEKV_SERVER",
        default_value = "http://127.0.0.1:8787",
        value_name = "URL"
    )]
    pub server: String,
    /// The server's API token [default: the data dir's credentials.json].
    #[arg(long, global = true, env = "EDGEKV_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Where to find the token when none is given [default: .edgekv].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ClockCommand,
}

/// What to do with the clock.
#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Print the server's time and whether its clock is manual.
    #[command(after_help = "Example:\n  edgekv clock show --server http://127.0.0.1:8787")]
    Show,
    /// Move a manual clock on, e.g. `90s`, `5m`, `1h 30m`, `2days`.
    #[command(after_help = "Example:\n  edgekv clock advance 90s")]
    Advance {
        /// How far.
        duration: String,
    },
    /// Move a manual clock to an RFC 3339 time (not earlier than its own).
    #[command(after_help = "Example:\n  edgekv clock set 2030-06-01T00:00:00Z")]
    Set {
        /// When, e.g. `2030-01-01T00:00:00Z`.
        time: String,
    },
}

/// Runs `edgekv clock`: prints the server's time after the command.
pub fn run(args: ClockArgs) -> Result<()> {
    let token = match args.token.filter(|t| !t.trim().is_empty()) {
        Some(token) => token,
        None => {
            let data_dir = args.data_dir.unwrap_or_else(|| ".edgekv".into());
            crate::credentials::saved_api_token(&data_dir)?
        }
    };
    let body = match &args.command {
        ClockCommand::Show => None,
        ClockCommand::Advance { duration } => Some(serde_json::json!({ "advance": duration })),
        ClockCommand::Set { time } => Some(serde_json::json!({ "set": time })),
    };
    let url = format!("{}/_edgekv/api/clock", args.server.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reading = runtime.block_on(call(&url, &token, body))?;
    println!("{} ({} clock)", reading.now, reading.mode);
    Ok(())
}

/// What the admin API answers.
#[derive(Deserialize)]
struct Reading {
    mode: String,
    now: String,
}

async fn call(url: &str, token: &str, body: Option<serde_json::Value>) -> Result<Reading> {
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(req)
        .await
        .map_err(|e| anyhow!("cannot reach {url}: {e}; is `edgekv serve` running there?"))?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        bail!("{status}: {message}");
    }
    serde_json::from_slice(&bytes).with_context(|| format!("{url} answered no clock"))
}
