//! Shared set-up for the store's integration tests: a store in a temporary directory on a manual clock.

#![allow(dead_code)]

use edgekv_store::{ManualClock, Namespace, NewNamespace, Profile, Store, StoreOptions, Uuid};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z, so tests never depend on the real time.
pub const T0: i64 = 1_767_225_600_000;

pub struct TestStore {
    pub store: Store,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
}

pub fn open() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let options = StoreOptions {
        sweep_interval: None,
        ..StoreOptions::default()
    };
    let store = Store::open_with_clock(
        &dir.path().join("kv.sqlite3"),
        options,
        Arc::new(clock.clone()),
    )
    .expect("open store");
    TestStore { store, clock, dir }
}

impl TestStore {
    pub fn namespace(&self, name: &str, profile: Profile) -> Uuid {
        self.create(NewNamespace::new(name, profile)).id
    }

    pub fn create(&self, new: NewNamespace) -> Namespace {
        self.store.create_namespace(new).expect("create namespace")
    }
}
