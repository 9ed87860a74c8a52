//! Whether a server uses a data dir: `edgekv serve` holds a shared lock on `<data-dir>/serve.lock`
//! for its whole life (several servers may share a data dir), and a command that must not run
//! beside one asks for the lock exclusively. The operating system drops the lock with the process,
//! however it ends.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// The lock file, in the data dir.
const FILE: &str = "serve.lock";

/// Takes the server's shared lock on `data_dir` (made, owner only, if missing); it is held until
/// the file is dropped.
pub fn hold(data_dir: &Path) -> Result<File> {
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let file = open(data_dir)?;
    file.lock_shared()
        .with_context(|| format!("locking {}", data_dir.join(FILE).display()))?;
    Ok(file)
}

/// Whether a server holds `data_dir`'s lock now.
pub fn server_running(data_dir: &Path) -> Result<bool> {
    if !data_dir.join(FILE).exists() {
        return Ok(false);
    }
    let file = open(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", data_dir.join(FILE).display()))
        }
    }
}

fn open(data_dir: &Path) -> Result<File> {
    let path = data_dir.join(FILE);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_shows_a_running_server_until_dropped() {
        let dir = tempfile::tempdir().expect("a temp dir");
        assert!(!server_running(dir.path()).expect("checked"));
        let held = hold(dir.path()).expect("held");
        let second = hold(dir.path()).expect("a second server shares it");
        assert!(server_running(dir.path()).expect("checked"));
        drop((held, second));
        assert!(!server_running(dir.path()).expect("checked"));
    }
}
