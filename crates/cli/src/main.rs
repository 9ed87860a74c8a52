//! edgekv: run edge functions locally. `edgekv serve` serves wasi:http components with a KV binding
//! persisted to SQLite under the rules of the real edge KV services, and the management REST APIs of
//! Cloudflare Workers KV, AWS CloudFront KeyValueStore and Telnyx Edge Compute KV on the same port.

mod config;
mod credentials;
mod front_door;
mod serve;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;

#[derive(Parser)]
#[command(name = "edgekv", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  edgekv serve app.wasm                      serve app.wasm at http://127.0.0.1:8787 with a `default` namespace
  edgekv serve --config edgekv.toml          namespaces, apps and listeners from a config file
  edgekv serve --listen 127.0.0.1:0          management APIs only, on a free port";

#[derive(Subcommand)]
enum Command {
    /// Serve a guest component (or the apps of a config file) and the management APIs.
    #[command(after_help = serve::SERVE_HELP)]
    Serve(serve::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args)),
    }
}
