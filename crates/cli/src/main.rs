//! edgekv: run edge functions locally. `edgekv serve` serves wasi:http components with a KV binding
//! persisted to SQLite under the rules of the real edge KV services, and the management REST APIs of
//! Cloudflare Workers KV, AWS CloudFront KeyValueStore and Telnyx Edge Compute KV on the same port.
//! `edgekv new` makes a guest app from a template and `edgekv dev` builds, serves and rebuilds it.

mod clock;
mod config;
mod copy;
mod credentials;
mod dev;
mod egress;
mod exchange;
mod front_door;
mod kv;
mod leftover;
mod metrics;
mod new;
mod reload;
mod serve;
mod serve_lock;
mod settings;
mod store;
mod telemetry;
mod tls;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "edgekv", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  edgekv new --lang rust hello               a new guest app in hello/ (rust, js, python or c)
  edgekv dev hello                           build it, serve it, rebuild on every change
  edgekv serve app.wasm                      serve app.wasm at http://127.0.0.1:8787 with a `default` namespace
  edgekv serve --config edgekv.toml          namespaces, apps and listeners from a config file
  edgekv serve --listen 127.0.0.1:0          management APIs only, on a free port
  edgekv kv put -n default greeting hello    write a key in the data dir a server uses
  edgekv kv export -n default -o seed.json   export a namespace as Cloudflare bulk JSON
  edgekv clock advance 90s                   move a `serve --clock manual` server's clock on";

#[derive(Subcommand)]
enum Command {
    /// Serve a guest component (or the apps of a config file) and the management APIs.
    #[command(after_help = settings::serve_help())]
    Serve(settings::ServeArgs),
    /// Create a guest app folder: a small app (a visit counter and a KV API over HTTP), its build
    /// script, the edgekv `wit/` and the language's guest library, a .gitignore and a README.
    #[command(after_help = NEW_EXAMPLES)]
    New(new::NewArgs),
    /// Build an app made by `edgekv new` from source (installing its language's tools the first
    /// time), serve it with its data in `.edgekv/` in the app folder, and rebuild and swap it in
    /// when a source changes (a failed build keeps the last good version serving).
    #[command(after_help = DEV_EXAMPLES)]
    Dev(dev::DevArgs),
    /// Read and write namespaces and keys in the data dir (safe while `edgekv serve` runs). A write
    /// to `default` (or, with --config, to a namespace the config declares) makes it first if
    /// missing, as `edgekv serve` would.
    ///
    /// `kv snapshot FILE` copies the whole store consistently while a server runs; `kv restore
    /// FILE` brings one back and is refused while a server uses the data dir (a running server
    /// restores named snapshots through POST /_edgekv/api/snapshots/NAME/restore).
    /// `namespace reset` empties a namespace (or refills it from its seed: `--config edgekv.toml
    /// namespace reset NAME --reseed`), `namespace fork` copies one to a new name: a clean or a
    /// private fixture per test.
    ///
    /// Exit codes: 0 ok, 1 not found, 2 usage, 3 a rule was broken (named on stderr).
    Kv(kv::KvArgs),
    /// Read or move a running server's clock (`edgekv serve --clock manual`), to test expiry
    /// without waiting.
    #[command(after_help = CLOCK_EXAMPLES)]
    Clock(clock::ClockArgs),
}

const NEW_EXAMPLES: &str = "Examples:
  edgekv new --lang rust hello               Rust, with the edgekv-guest crate
  edgekv new --lang js hello                 JavaScript (componentize-js), Workers KV's API
  edgekv new --lang python hello             Python (componentize-py)
  edgekv new --lang c hello                  C (clang, wasi-libc)
then: cd hello && edgekv dev";

const DEV_EXAMPLES: &str = "Examples:
  edgekv dev                                 the app in the current folder, at http://127.0.0.1:8787
  edgekv dev hello --listen 127.0.0.1:0      the app in hello/, on a free port";

const CLOCK_EXAMPLES: &str = "Examples:
  edgekv serve app.wasm --clock manual --start-time 2030-01-01T00:00:00Z
  edgekv clock show
  edgekv clock advance 90s                   expire what a 60-second TTL wrote
  edgekv clock set 2030-06-01T00:00:00Z --server http://127.0.0.1:8788

A move back is refused: ETags, versions and expiry follow the clock. The same API: GET and POST
/_edgekv/api/clock with {\"advance\": \"90s\"} or {\"set\": \"<RFC 3339>\"}, Bearer token.";

/// mimalloc (its v2 line): the server allocates and frees per request (hyper buffers, wasmtime
/// stores, resource tables), where it is measurably cheaper than glibc malloc; v2 also starts
/// faster than v3, which fills fresh pages' free lists eagerly. `no_thp`: without it, mimalloc's
/// segments are backed by transparent huge pages, and zeroing 2 MiB pages on first touch was a
/// quarter of start-up CPU and measurable per request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run_with_telemetry(args),
        Command::Kv(args) => {
            telemetry::init_logs(telemetry::LogFormat::Text);
            std::process::exit(kv::run(args)?)
        }
        Command::Clock(args) => {
            telemetry::init_logs(telemetry::LogFormat::Text);
            clock::run(args)
        }
        Command::New(args) => {
            telemetry::init_logs(telemetry::LogFormat::Text);
            new::run(args)
        }
        Command::Dev(args) => dev::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every command's `--help` shows an example and explains every flag and argument.
    #[test]
    fn every_command_has_an_example_and_documented_flags() {
        fn walk(cmd: &clap::Command, path: String, missing: &mut Vec<String>) {
            let example = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if cmd.get_subcommands().next().is_none() && !example.contains("Example") {
                missing.push(format!("{path}: no example"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}: no help text"));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "edgekv".into(), &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
        assert!(Cli::command().get_after_help().is_some());
    }
}
