//! Which store a command opens: the database a URL names (`--store`, `EDGEKV_STORE_URL`, or
//! `[store] url` in edgekv.toml: `postgres://...` for a database several nodes share), else the
//! embedded SQLite file in the data dir. A URL is shown only without its password and query, which
//! may carry credentials.

use anyhow::{Context, Result};
use clap::Args;
use edgekv_store::{Clock, Durability, Store, StoreOptions};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The read connections a PostgreSQL store opens at most, unless told otherwise.
pub const DEFAULT_POOL: u32 = 16;

/// The store flags `edgekv serve` and `edgekv kv` share.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// The store to use instead of the data dir's SQLite file: `postgres://USER:PASSWORD@HOST/DB`
    /// (libpq's URL form; `?sslmode=require` or `verify-full` for TLS) for a database several
    /// edgekv nodes share, or `sqlite://PATH`.
    #[arg(
        long = "store",
        env = "EDGEKV_STORE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub url: Option<String>,
    #[arg(long = "store-pool", value_name = "N", help = format!(
        "PostgreSQL: the most read connections this process opens (its writer has one more) \
         [default: {DEFAULT_POOL}]"
    ))]
    pub pool: Option<u32>,
}

/// A store to open, every choice made.
#[derive(Debug, Clone)]
pub struct StoreChoice {
    /// The URL, if one was given; else the data dir's SQLite file.
    pub url: Option<String>,
    /// PostgreSQL's read pool size; at least 1.
    pub pool: u32,
}

impl StoreChoice {
    /// The choice from the flags, else the config file's `[store]` table, else the defaults.
    pub fn resolve(args: StoreArgs, url: Option<String>, pool: Option<u32>) -> StoreChoice {
        StoreChoice {
            url: args.url.or(url).filter(|u| !u.trim().is_empty()),
            pool: args.pool.or(pool).unwrap_or(DEFAULT_POOL).max(1),
        }
    }

    /// Opens the store on `clock`; returns it and how to show where it is.
    pub fn open(
        &self,
        data_dir: &Path,
        durability: Durability,
        sweep_interval: Option<Duration>,
        clock: Arc<dyn Clock>,
    ) -> Result<(Store, String)> {
        let options = StoreOptions {
            durability,
            sweep_interval,
            pool_size: self.pool,
            ..StoreOptions::default()
        };
        match &self.url {
            Some(url) => {
                let shown = shown(url);
                let store = Store::open_url_with_clock(url, options, clock)
                    .with_context(|| format!("opening the store at {shown}"))?;
                Ok((store, shown))
            }
            None => {
                let db = data_dir.join("kv.sqlite3");
                let store = Store::open_with_clock(&db, options, clock)
                    .with_context(|| format!("opening {}", db.display()))?;
                Ok((store, db.display().to_string()))
            }
        }
    }
}

/// A store URL as it may be shown: no password, no query.
pub fn shown(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_url_has_no_password_and_no_query() {
        assert_eq!(
            shown("postgres://edgekv:s3cret@db.internal:5432/kv?sslmode=require&password=x"),
            "postgres://edgekv@db.internal:5432/kv"
        );
        assert_eq!(shown("postgres://db/kv"), "postgres://db/kv");
        assert_eq!(shown("postgres://u:p@h"), "postgres://u@h");
        assert_eq!(
            shown("sqlite:///tmp/kv.sqlite3"),
            "sqlite:///tmp/kv.sqlite3"
        );
    }

    #[test]
    fn the_flag_wins_over_the_config_file() {
        let flag = StoreArgs {
            url: Some("postgres://flag/kv".into()),
            pool: Some(4),
        };
        let choice = StoreChoice::resolve(flag, Some("postgres://file/kv".into()), Some(8));
        assert_eq!(
            (choice.url.as_deref(), choice.pool),
            (Some("postgres://flag/kv"), 4)
        );
        let choice = StoreChoice::resolve(
            StoreArgs::default(),
            Some("postgres://file/kv".into()),
            None,
        );
        assert_eq!(
            (choice.url.as_deref(), choice.pool),
            (Some("postgres://file/kv"), DEFAULT_POOL)
        );
        let choice = StoreChoice::resolve(StoreArgs::default(), None, Some(0));
        assert_eq!((choice.url, choice.pool), (None, 1));
    }
}
