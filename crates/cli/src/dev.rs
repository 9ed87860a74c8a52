//! `edgekv dev`: the inner loop of an app made with `edgekv new`. Builds the app from source with
//! its `build.sh` (which installs its language's tools the first time), serves the component like
//! `edgekv serve APP --watch` with the data dir `.edgekv/` inside the app folder, and rebuilds when
//! a source file changes. A build writes the component under a temporary name and renames it into
//! place, so the server's watcher ([`crate::reload`]) only ever sees whole components; a failed
//! build changes nothing and the last good version keeps serving.

use crate::new::{AppMarker, Lang};
use crate::settings::{ServeArgs, DEFAULT_DATA_DIR, DEFAULT_LISTEN};
use anyhow::{Context, Result};
use clap::{Args, Parser};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(300);
/// The component's file in the app's data dir.
const COMPONENT: &str = "app.wasm";

/// The command line of `edgekv dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// The app folder (made by `edgekv new`).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[arg(long, env = "EDGEKV_LISTEN", help = format!("Address to serve the app and the management APIs on [default: {DEFAULT_LISTEN}]"))]
    pub listen: Option<SocketAddr>,
}

/// `edgekv serve`'s own command line, to build its arguments the way a user would type them.
#[derive(Parser)]
struct ServeCommand {
    #[command(flatten)]
    args: ServeArgs,
}

/// Builds the app until a build succeeds, then serves it and rebuilds on every change.
pub fn run(args: DevArgs) -> Result<()> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("app folder {}", args.dir.display()))?;
    let app = AppMarker::read(&dir)?;
    let data_dir = dir.join(DEFAULT_DATA_DIR);
    std::fs::create_dir_all(&data_dir).with_context(|| format!("create {}", data_dir.display()))?;
    let component = data_dir.join(COMPONENT);
    let mut seen = Sources::scan(&dir, app.lang);
    println!(
        "edgekv dev: building {} ({}) in {}",
        app.name,
        app.lang.name(),
        dir.display()
    );
    while !build(&dir, &component) {
        println!("edgekv dev: waiting for a change to the sources to build again");
        seen = seen.wait_for_change(&dir, app.lang);
    }
    let serve = serve_args(&component, &data_dir, args.listen)?;
    std::thread::Builder::new()
        .name("dev-watch".into())
        .spawn(move || loop {
            seen = seen.wait_for_change(&dir, app.lang);
            if !build(&dir, &component) {
                println!("edgekv dev: the last good version keeps serving");
            }
        })
        .context("start the source watcher")?;
    crate::serve::run_with_telemetry(serve)
}

/// `edgekv serve COMPONENT --watch --data-dir DATA [--listen ADDR]`.
fn serve_args(component: &Path, data_dir: &Path, listen: Option<SocketAddr>) -> Result<ServeArgs> {
    let mut argv = vec![
        "serve".into(),
        component.as_os_str().to_owned(),
        "--watch".into(),
        "--data-dir".into(),
    ];
    argv.push(data_dir.as_os_str().to_owned());
    if let Some(listen) = listen {
        argv.push("--listen".into());
        argv.push(listen.to_string().into());
    }
    Ok(ServeCommand::try_parse_from(argv)?.args)
}

/// Runs the app's `build.sh` into `component`, its output shown as it comes. True on success.
fn build(dir: &Path, component: &Path) -> bool {
    let started = Instant::now();
    let status = Command::new("bash")
        .arg(dir.join("build.sh"))
        .arg(component)
        .current_dir(dir)
        .status();
    match status {
        Ok(status) if status.success() => {
            println!(
                "edgekv dev: built in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            true
        }
        Ok(status) => {
            println!("edgekv dev: build failed ({status}); see the errors above");
            false
        }
        Err(e) => {
            println!("edgekv dev: could not run build.sh: {e}");
            false
        }
    }
}

/// What the sources looked like: every file's path, size and modification time.
#[derive(PartialEq, Eq)]
struct Sources(Vec<(PathBuf, u64, Option<SystemTime>)>);

impl Sources {
    fn scan(dir: &Path, lang: Lang) -> Sources {
        let mut files = Vec::new();
        for source in lang.sources() {
            walk(&dir.join(source), &mut files);
        }
        files.sort();
        Sources(files)
    }

    /// Polls until the sources differ from `self` and have stopped changing (an editor may write
    /// a file in several steps); returns what they are then.
    fn wait_for_change(self, dir: &Path, lang: Lang) -> Sources {
        let mut current = loop {
            std::thread::sleep(POLL);
            let now = Sources::scan(dir, lang);
            if now != self {
                break now;
            }
        };
        loop {
            std::thread::sleep(POLL);
            let now = Sources::scan(dir, lang);
            if now == current {
                println!("edgekv dev: sources changed, rebuilding");
                return now;
            }
            current = now;
        }
    }
}

fn walk(path: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            walk(&entry.path(), out);
        }
    } else {
        out.push((path.to_path_buf(), meta.len(), meta.modified().ok()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_component_with_watch_and_the_apps_data_dir() {
        let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let args = serve_args(
            Path::new("/app/.edgekv/app.wasm"),
            Path::new("/app/.edgekv"),
            Some(listen),
        )
        .expect("parsed");
        assert!(args.watch);
        assert_eq!(
            args.app.as_deref(),
            Some(Path::new("/app/.edgekv/app.wasm"))
        );
        assert_eq!(args.data_dir.as_deref(), Some(Path::new("/app/.edgekv")));
        assert_eq!(args.listen, Some(listen));
        assert_eq!(
            serve_args(Path::new("a.wasm"), Path::new("d"), None)
                .expect("parsed")
                .listen,
            None
        );
    }

    #[test]
    fn a_source_edit_is_a_change_and_build_output_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("src/lib.rs"), "fn a() {}").expect("write");
        let before = Sources::scan(dir.path(), Lang::Rust);
        std::fs::create_dir_all(dir.path().join("target")).expect("mkdir");
        std::fs::write(dir.path().join("target/out"), "x").expect("write");
        assert!(Sources::scan(dir.path(), Lang::Rust) == before);
        std::fs::write(dir.path().join("src/lib.rs"), "fn ab() {}").expect("write");
        let after = Sources::scan(dir.path(), Lang::Rust);
        assert!(after != before);
        assert!(before.wait_for_change(dir.path(), Lang::Rust) == after);
    }
}
