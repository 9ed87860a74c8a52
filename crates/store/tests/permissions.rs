//! The data dir and database files a store creates are readable by their owner only, whatever the
//! process umask lets through: they hold every namespace's data.
#![cfg(unix)]

use edgekv_store::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_new_store_is_private_under_a_permissive_umask() {
    // SAFETY: umask only sets the process's file mode mask; each test runs in its own process.
    unsafe { libc::umask(0o022) };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let nested = data.join("nested");
    let db = nested.join("kv.sqlite3");
    let store = Store::open(&db, StoreOptions::default()).unwrap();
    let ns = store
        .create_namespace(NewNamespace::new("private", Profile::Cloudflare))
        .unwrap();
    store.put(&ns.id, Put::new("k", "v")).unwrap();
    assert_eq!(store.get(&ns.id, "k").unwrap().value, b"v");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&nested), 0o700);
    assert_eq!(mode(&db), 0o600);
    for side in ["kv.sqlite3-wal", "kv.sqlite3-shm"] {
        assert_eq!(mode(&nested.join(side)), 0o600, "{side}");
    }
}

#[test]
fn an_existing_directory_and_database_keep_their_modes() {
    // SAFETY: as above.
    unsafe { libc::umask(0o022) };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("kv.sqlite3");
    drop(Store::open(&db, StoreOptions::default()).unwrap());
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    drop(Store::open(&db, StoreOptions::default()).unwrap());
    assert_eq!(mode(tmp.path()), 0o750);
    assert_eq!(mode(&db), 0o640);
}
