//! The store's spans for traces: every write of a commit group gets a `store.commit` span that is
//! a child of the span its caller had when it queued the write, also when the call went through
//! `Store::run` to the blocking pool and the commit ran on the writer thread in a group of many.

mod common;

use edgekv_store::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tracing::span::{Attributes, Id};
use tracing::Instrument;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A span made: its id, name and parent's id.
type Made = (u64, String, Option<u64>);

/// Every span made.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Made>>>);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, _: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("a new span");
        let parent = span.parent().map(|p| p.id().into_u64());
        let entry = (id.into_u64(), span.name().to_string(), parent);
        self.0.lock().unwrap().push(entry);
    }
}

#[test]
fn each_write_commits_under_the_span_of_its_caller() {
    let recorder = Recorder::default();
    // Global: the writes run on the blocking pool and the writer thread.
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(recorder.clone()))
        .expect("the only subscriber of this test binary");
    let t = common::open();
    let ns = t
        .store
        .create_namespace(NewNamespace::new("traced", Profile::Cloudflare))
        .unwrap()
        .id;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    const WRITERS: usize = 32;
    runtime.block_on(async {
        let writes: Vec<_> = (0..WRITERS)
            .map(|i| {
                let store = t.store.clone();
                let span = tracing::info_span!(target: "edgekv::trace", "caller", i);
                tokio::spawn(
                    async move {
                        let put = Put::new(format!("k{i}"), "v");
                        store.run(move |s| s.put(&ns, put)).await
                    }
                    .instrument(span),
                )
            })
            .collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
    });
    let spans = recorder.0.lock().unwrap().clone();
    let names: HashMap<u64, &str> = spans.iter().map(|(id, n, _)| (*id, n.as_str())).collect();
    let commits: Vec<_> = spans
        .iter()
        .filter(|(_, n, _)| n == "store.commit")
        .collect();
    assert_eq!(commits.len(), WRITERS, "{spans:?}");
    let mut parents: Vec<u64> = commits
        .iter()
        .map(|(_, _, p)| p.expect("a parent"))
        .collect();
    assert!(parents.iter().all(|p| names[p] == "caller"), "{spans:?}");
    parents.sort();
    parents.dedup();
    assert_eq!(
        parents.len(),
        WRITERS,
        "one commit span per caller: {spans:?}"
    );
}
