//! The data dir's server lock, `<data-dir>/serve.lock`: `edgekv serve` holds it shared for its
//! whole life ([`hold`]), so a command that must not run beside a server (`edgekv kv restore`)
//! tells whether one is running by trying it exclusively ([`server_running`], [`hold_alone`]).
//! The operating system drops a lock with its process, so a crashed server holds none.

use anyhow::{Context, Result};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// The lock file of `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("serve.lock")
}

/// Takes the shared lock a server holds while it runs (several servers on one data dir may), and
/// returns the file that holds it: the lock lasts until it is dropped. Waits while a command
/// holds it exclusively (a restore finishing).
pub fn hold(data_dir: &Path) -> Result<File> {
    let file = open(data_dir)?;
    match file.try_lock_shared() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!(
                "edgekv: waiting for the command holding {} (a restore) to finish",
                path(data_dir).display()
            );
            file.lock_shared().with_context(|| lock_failed(data_dir))?;
        }
        Err(TryLockError::Error(e)) => return Err(e).with_context(|| lock_failed(data_dir)),
    }
    Ok(file)
}

/// The lock held exclusively, or `None` when a server holds it: what a command that must not
/// run beside a server holds while it runs, so no server starts meanwhile.
pub fn hold_alone(data_dir: &Path) -> Result<Option<File>> {
    let file = open(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| lock_failed(data_dir)),
    }
}

/// Whether a server is using `data_dir` now: for a command that only needs to know, not to keep
/// servers out while it runs.
pub fn server_running(data_dir: &Path) -> Result<bool> {
    Ok(hold_alone(data_dir)?.is_none())
}

/// Opens (creating) the lock file, and the data dir (owner only) if it does not exist yet.
fn open(data_dir: &Path) -> Result<File> {
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let lock = path(data_dir);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .with_context(|| format!("opening {}", lock.display()))
}

fn lock_failed(data_dir: &Path) -> String {
    format!("locking {}", path(data_dir).display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_shared_lock_means_a_server_is_running_and_keeps_others_out() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!server_running(dir.path()).unwrap());
        let server = hold(dir.path()).unwrap();
        let another_server = hold(dir.path()).unwrap();
        assert!(server_running(dir.path()).unwrap());
        assert!(hold_alone(dir.path()).unwrap().is_none());
        drop((server, another_server));
        let alone = hold_alone(dir.path()).unwrap();
        assert!(alone.is_some());
        assert!(server_running(dir.path()).unwrap(), "held alone by another");
    }
}
