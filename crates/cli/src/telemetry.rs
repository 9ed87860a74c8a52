//! Where the server's log lines go: stderr, as text for people or as one JSON object per line for
//! machines, filtered by `RUST_LOG` (default: info, wasmtime and cranelift at warn).

use clap::ValueEnum;
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The filter when `RUST_LOG` is unset or unreadable.
const DEFAULT_FILTER: &str = "info,wasmtime=warn,cranelift=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, coloured when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per event: `timestamp`, `level`, `target`, `message` and the event's
    /// fields, all at the top level.
    Json,
}

/// Installs the process's log subscriber.
pub fn init_logs(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    };
    tracing_subscriber::registry().with(fmt).init();
}
