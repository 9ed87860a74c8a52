//! edgekv's admin API under `/_edgekv/api/`: the operations a test suite drives (namespace reset
//! and fork). Its routes are in the browser API's table (`crate::browser::api::ROUTES`), so they
//! take the same sign-in and answer errors in the same JSON format; the handlers live here, one
//! module per concept, each a translation of HTTP to one store call.

pub(crate) mod namespaces;
