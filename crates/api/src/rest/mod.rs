//! The HTTP toolkit every dialect shares, so each reads a request and writes a response the same
//! way: `route` (where a dialect is mounted, and which operation of its route table a request
//! names), `body` (a request body read whole under a limit, refused early when declared too
//! large) and `reply` (JSON, XML and raw responses; one that cannot be built is a 500, never an
//! empty 200). The dialects keep only what is theirs: their routes, their limits' wording, their
//! error format.

pub mod body;
pub mod reply;
pub mod route;
