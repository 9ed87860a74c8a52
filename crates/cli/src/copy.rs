//! `edgekv kv copy --to URL`: copies every namespace of the store `edgekv kv` opened into another
//! store (the store's copy, `edgekv_store::copy`, does the work and the checks) and prints what it
//! copied, with the counts and checksum read from both sides. URLs are shown without passwords.

use crate::store::shown;
use anyhow::{bail, Context, Result};
use edgekv_store::copy::{CopiedNamespace, CopyError, CopyReport};
use edgekv_store::{Store, StoreOptions};

/// Copies `source` (shown as `source_shown`) into the store at `to`; fails when the copy is
/// refused or fails, or when the destination does not hold what was read from the source.
pub fn run(source: &Store, source_shown: &str, to: &str, pool: u32) -> Result<()> {
    let to_shown = shown(to);
    let options = StoreOptions {
        sweep_interval: None,
        pool_size: pool,
        ..StoreOptions::default()
    };
    let destination = Store::open_url(to, options)
        .with_context(|| format!("opening the destination {to_shown}"))?;
    eprintln!("copying {source_shown} to {to_shown}");
    let report = match source.copy_to(&destination, &mut progress) {
        Ok(report) => report,
        Err(e @ (CopyError::SameStore | CopyError::Clash(_))) => {
            bail!("refused, nothing was written: {e}")
        }
        Err(CopyError::Store(e)) => {
            return Err(e).with_context(|| format!("copying {source_shown} to {to_shown}"))
        }
    };
    let line = summary(&report);
    if !report.verified() {
        bail!("{line}");
    }
    println!("{line}");
    Ok(())
}

fn progress(copied: &CopiedNamespace) {
    eprintln!(
        "copied namespace {:?} ({}): {} keys, {} bytes",
        copied.name, copied.id, copied.keys, copied.bytes
    );
}

/// The counts and checksum of the copy, and whether the destination agrees.
fn summary(report: &CopyReport) -> String {
    let (source, destination) = (&report.source, &report.destination);
    let counts = |s: &edgekv_store::copy::Summary| {
        format!(
            "{} namespaces, {} keys; checksum {}",
            s.namespaces, s.keys, s.checksum
        )
    };
    if report.verified() {
        format!("copied {} (source and destination agree)", counts(source))
    } else {
        format!(
            "the destination does not match the source: copied {}, but the destination holds {}",
            counts(source),
            counts(destination)
        )
    }
}
