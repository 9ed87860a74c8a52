//! edgekv-runtime: runs guest components. It owns the wasmtime engine (pooling allocator, epoch
//! deadlines, memory caps), loading and caching compiled components, linking WASI 0.2, `wasi:http`
//! and the host side of `edgekv:kv/store` and of `wasi:keyvalue` (0.2.0-draft and 0.2.0-draft2), and
//! serving each HTTP request in a fresh instance.
//! The KV rules are not here: the binding calls the store, which enforces them.

mod abandon;
mod cache;
mod egress;
mod engine;
mod guest_log;
mod instance;
mod keyvalue;
mod kv;
mod request;

pub use abandon::Abandoned;
pub use egress::{destinations, EgressPolicy};
pub use engine::{Runtime, RuntimeOptions};
pub use kv::Grants;
pub use request::{App, AppLimits, GuestFailure, RequestFailure};

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read component {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot compile component {path}: {reason}")]
    Compile { path: String, reason: String },
    #[error("component {path} cannot be linked: {reason}")]
    Link { path: String, reason: String },
    #[error("cannot create the wasmtime engine: {0}")]
    Engine(String),
}
