//! edgekv's admin API under `/_edgekv/api/`: the operations a test suite drives against a running
//! server (the clock, named snapshots of the whole store, a namespace's reset and fork), beside the
//! browser's data routes and behind the same sign-in (the routes are in
//! [`crate::browser::api::ROUTES`]). Each module owns one concept and answers in the browser API's
//! JSON and error format.

pub(crate) mod clock;
pub(crate) mod namespaces;
pub(crate) mod snapshots;
