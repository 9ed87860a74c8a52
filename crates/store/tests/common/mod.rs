//! Shared set-up for the store's integration tests: a store on a manual clock, on SQLite in a
//! temporary directory or on PostgreSQL in a schema of its own, and [`on_both_backends!`], which
//! runs a test on each backend.
//!
//! PostgreSQL tests run when `EDGEKV_TEST_POSTGRES_URL` names a database (`tests/run.sh` starts a
//! throwaway server and sets it; `tests/postgres.sh start` does it by hand). Without it they pass
//! without running, and the `postgres_backend` test says so in a line nextest shows (see
//! `.config/nextest.toml`).

#![allow(dead_code)]

use edgekv_store::{ManualClock, Namespace, NewNamespace, Profile, Store, StoreOptions, Uuid};
use std::io::Write;
use std::sync::Arc;

/// 2026-01-01T00:00:00Z, so tests never depend on the real time.
pub const T0: i64 = 1_767_225_600_000;

/// The variable that names the PostgreSQL database the tests may use.
pub const POSTGRES_URL_VAR: &str = "EDGEKV_TEST_POSTGRES_URL";

/// Where a test's store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// PostgreSQL, if the tests have a database.
    pub fn postgres() -> Option<Backend> {
        std::env::var_os(POSTGRES_URL_VAR).map(|_| Backend::Postgres)
    }

    /// Says which backends the store's suites run on (straight to stderr, past the test
    /// harness's capture).
    pub fn report() {
        let line = match Backend::postgres() {
            Some(_) => "the store's suites run on SQLite and PostgreSQL".to_string(),
            None => format!(
                "SKIPPED PostgreSQL: {POSTGRES_URL_VAR} is not set, so the store's suites ran on \
                 SQLite only (start a server with tests/postgres.sh start)"
            ),
        };
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// Generates, for each named `fn(Backend)`, a `sqlite::name` test and a `postgres::name` test.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name($crate::common::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(backend) = $crate::common::Backend::postgres() {
                    super::$name(backend)
                }
            })*
        }
    };
}

pub struct TestStore {
    pub store: Store,
    pub clock: ManualClock,
    /// The URL the store was opened from: another store opened on it shares its data.
    pub url: String,
    pub dir: tempfile::TempDir,
    /// Dropped after `store`, which must be closed before its schema goes.
    _schema: Option<Schema>,
}

/// A PostgreSQL schema of one test, dropped with it.
struct Schema {
    base_url: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.base_url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
        }
    }
}

/// Options without the background sweeper, which would race the tests' own sweeps.
pub fn options() -> StoreOptions {
    StoreOptions {
        sweep_interval: None,
        ..StoreOptions::default()
    }
}

/// A store on SQLite.
pub fn open() -> TestStore {
    open_on(Backend::Sqlite)
}

/// A fresh, empty store on `backend`.
pub fn open_on(backend: Backend) -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, schema) = match backend {
        Backend::Sqlite => (dir.path().join("kv.sqlite3").display().to_string(), None),
        Backend::Postgres => {
            let schema = fresh_schema();
            (schema_url(&schema), Some(schema))
        }
    };
    let clock = ManualClock::new(T0);
    let store =
        Store::open_url_with_clock(&url, options(), Arc::new(clock.clone())).expect("open store");
    TestStore {
        store,
        clock,
        url,
        dir,
        _schema: schema,
    }
}

fn fresh_schema() -> Schema {
    let base_url = std::env::var(POSTGRES_URL_VAR).expect("a PostgreSQL URL");
    let name = format!("test_{}", Uuid::new_v4().simple());
    let mut client = postgres::Client::connect(&base_url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}: {e}"));
    client
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .expect("create a schema");
    Schema { base_url, name }
}

/// The base URL with the schema as every connection's search path.
fn schema_url(schema: &Schema) -> String {
    let joiner = if schema.base_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{joiner}options=-csearch_path%3D{}",
        schema.base_url, schema.name
    )
}

impl TestStore {
    pub fn namespace(&self, name: &str, profile: Profile) -> Uuid {
        self.create(NewNamespace::new(name, profile)).id
    }

    pub fn create(&self, new: NewNamespace) -> Namespace {
        self.store.create_namespace(new).expect("create namespace")
    }

    /// Runs SQL on a PostgreSQL store's schema, beside the store.
    pub fn sql(&self, sql: &str) {
        let mut client = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
        client.batch_execute(sql).expect("run SQL");
    }

    /// Another store on the same data, as a second process or node opens it, on its own clock.
    pub fn another(&self) -> Store {
        Store::open_url_with_clock(&self.url, options(), Arc::new(ManualClock::new(T0)))
            .expect("open the same store again")
    }
}
