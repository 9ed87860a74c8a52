//! Hot reload (`edgekv serve --watch`): each app lives in a slot whose current version requests
//! clone when they start, so a swap never disturbs one in flight. A watcher polls the component
//! file; when it changes (and has stopped changing), the new version is compiled off the executor
//! and swapped in; a component that fails to load leaves the old one serving and logs why.

use edgekv_runtime::{App, AppLimits, Grants, LoadError, Runtime};
use edgekv_store::Store;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How often the watcher looks at the component file.
const POLL: Duration = Duration::from_millis(300);

/// The apps a listener serves, each by its route.
pub type Routes = Vec<(String, Arc<LiveApp>)>;

/// The current version of one app.
pub struct LiveApp {
    current: RwLock<Arc<App>>,
}

impl LiveApp {
    pub fn new(app: App) -> Arc<LiveApp> {
        Arc::new(LiveApp {
            current: RwLock::new(Arc::new(app)),
        })
    }

    /// The version a new request runs on.
    pub fn get(&self) -> Arc<App> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn swap(&self, app: App) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(app);
    }
}

/// Everything needed to load an app again.
#[derive(Clone)]
pub struct AppSource {
    pub runtime: Runtime,
    /// Where the app is served: its name in logs and metrics.
    pub route: String,
    pub component: PathBuf,
    pub store: Store,
    pub grants: Grants,
    pub limits: AppLimits,
}

impl AppSource {
    pub fn load(&self) -> Result<App, LoadError> {
        App::load(
            &self.runtime,
            &self.route,
            &self.component,
            self.store.clone(),
            self.grants.clone(),
            self.limits,
        )
    }
}

/// Watches `source.component` and swaps new versions into `live` until the process ends.
pub fn watch(source: AppSource, live: Arc<LiveApp>) {
    tokio::spawn(async move {
        let mut seen = stamp(&source.component);
        loop {
            tokio::time::sleep(POLL).await;
            let now = stamp(&source.component);
            if now == seen || now.is_none() {
                continue;
            }
            // Wait until the file stops changing, so a half-written file is not loaded.
            tokio::time::sleep(POLL).await;
            if stamp(&source.component) != now {
                continue;
            }
            seen = now;
            let loader = source.clone();
            match tokio::task::spawn_blocking(move || loader.load()).await {
                Ok(Ok(app)) => {
                    live.swap(app);
                    tracing::info!("reloaded {}", source.component.display());
                }
                Ok(Err(e)) => tracing::warn!("kept the running version: {e}"),
                Err(e) => tracing::warn!("kept the running version: reload failed: {e}"),
            }
        }
    });
}

/// The modification time and size of a file, if it exists.
fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
