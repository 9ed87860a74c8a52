//! edgekv-runtime: runs guest components. It owns the wasmtime engine (pooling allocator, epoch
//! deadlines, memory caps), loading and caching compiled components, linking WASI 0.2, `wasi:http`
//! and the host side of `edgekv:kv/store` and of `wasi:keyvalue` (0.2.0-draft and 0.2.0-draft2), and
//! serving each HTTP request in a fresh instance (or, for an app that chose it, in one kept from its
//! earlier requests).
//! The spans of a guest call and of each KV operation, for traces, are opened here too.
//! The KV rules are not here: the binding calls the store, which enforces them.

mod abandon;
mod cache;
mod egress;
mod engine;
mod guest_log;
mod instance;
mod keyvalue;
mod kv;
mod metrics;
mod request;
mod spans;
mod warm;

pub use abandon::Abandoned;
pub use egress::{destinations, EgressPolicy};
pub use engine::{Runtime, RuntimeOptions};
pub use kv::Grants;
pub use metrics::RuntimeMetrics;
pub use request::{App, AppLimits, GuestFailure, RequestFailure};
pub use spans::TRACE_TARGET;

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The component file could not be read.
    #[error("cannot read component {path}: {source}")]
    Read {
        /// The component file's path, as given.
        path: String,
        /// The I/O error reading it.
        source: std::io::Error,
    },
    /// wasmtime refused to compile the file: it is not a valid component for this engine.
    #[error("cannot compile component {path}: {reason}")]
    Compile {
        /// The component file's path, as given.
        path: String,
        /// wasmtime's error, with its causes.
        reason: String,
    },
    /// The component imports something the host does not provide, or is not a `wasi:http` proxy.
    #[error("component {path} cannot be linked: {reason}")]
    Link {
        /// The component file's path, as given.
        path: String,
        /// wasmtime's error, with its causes.
        reason: String,
    },
    /// wasmtime could not build the engine, even with on-demand allocation; holds its error.
    #[error("cannot create the wasmtime engine: {0}")]
    Engine(String),
}
