//! edgekv's admin API under /_edgekv/api/: the operations a test suite drives (named snapshots of
//! the whole store). Routed, authenticated and answered in the browser API's error format by
//! `crate::browser::api`; each operation's handlers live in a module of their own here.

pub(crate) mod snapshots;
