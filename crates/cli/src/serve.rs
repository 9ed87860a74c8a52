//! `edgekv serve`: starts what its [`Settings`] say. Opens the store, makes sure every configured
//! namespace exists with its profile and limits (a namespace created now gets its seed, if the
//! config names one, in the same transaction), loads the apps, binds the listeners, prints where
//! everything is, and serves until Ctrl-C or SIGTERM. It holds the data dir's server lock
//! (`crate::serve_lock`) while it runs, and keeps the admin API's named snapshots in
//! `<data-dir>/snapshots/`.
//!
//! Listeners: the main one serves guests (and the management APIs unless `--admin-listen` moves
//! them); the data browser's page never shares an origin with guest content, so it lives on the
//! admin listener when there is one, else on a listener of its own (`--browser-listen`, by default
//! the port after the main one). Each listener has its own connection budget, and TLS if its
//! certificate was given (the browser's own listener: as the admin listener, else as the main one).

use crate::clock::{self, ClockChoice};
use crate::config::NamespaceConfig;
use crate::credentials;
use crate::egress;
use crate::front_door::{self, ClientLimits, FrontDoor};
use crate::metrics::ServerMetrics;
use crate::reload::{self, AppSource, LiveApp, Routes};
use crate::serve_lock;
use crate::settings::{ServeArgs, Settings, BROWSER_CONNECTIONS};
use crate::tls::TlsFiles;
use anyhow::{Context, Result};
use edgekv_api::{Management, Surfaces};
use edgekv_runtime::{AppLimits, EgressPolicy, Grants, Runtime, RuntimeOptions};
use edgekv_store::{Clock, NamespaceUpdate, NewNamespace, Store, StoreError, StoreOptions, Uuid};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// Where in the data dir the admin API keeps named snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Runs `edgekv serve` on a runtime of its own, with its logs (and traces, when an OTLP endpoint
/// is set) on; flushes the traces when it stops.
pub fn run_with_telemetry(args: ServeArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let telemetry = crate::telemetry::init(args.log_format, runtime.handle())?;
    let served = runtime.block_on(run(args));
    telemetry.shutdown();
    served
}

/// Runs `edgekv serve`: resolves its settings, then starts what they say.
pub async fn run(args: ServeArgs) -> Result<()> {
    let settings = Settings::resolve(args)?;
    // Certificates are read and checked first: a bad one stops the start before anything else.
    let tls = ListenerTls::load(&settings)?;
    // Held until the server stops: `kv restore` refuses to run beside it.
    let _serving = serve_lock::hold(&settings.data_dir)?;
    let credentials = credentials::resolve(&settings.credentials, &settings.data_dir)?;
    // Reserving the engine's instance pools (a mapping and a guard page per stack, one per
    // instance slot) takes about as long as opening the store; do both at once.
    let engine = start_engine(&settings);
    let clock = clock::for_server(settings.clock, settings.start_time_ms, &settings.data_dir)?;
    let (store, db) = open_store(&settings, clock)?;
    let (bindings, seeds) = ensure_namespaces(&store, &settings.namespaces)?;
    let listeners = Listeners::bind(&settings, tls).await?;
    // Guests are loaded once the listeners are bound: their egress policy names them.
    let egress = listeners.egress_policy(settings.allow_guest_management)?;
    let (runtime, apps) = load_apps(&settings, engine, &store, &bindings, egress)?;
    let metrics = settings
        .metrics
        .then(|| ServerMetrics::new(&store, runtime.as_ref()));
    let urls = listeners.urls()?;
    println!("edgekv listening on {}", urls.main);
    print_summary(&settings, &db, &urls);
    if let Some(announcement) = credentials.announcement(&urls.management) {
        println!("{announcement}");
    }
    let mut management = Management::new(store, credentials.credentials.clone())
        .with_snapshot_dir(settings.data_dir.join(SNAPSHOT_DIR))
        .with_seeds(seeds);
    if let Some(metrics) = metrics.clone() {
        management = management.with_metrics(Arc::new(move || metrics.encode()));
    }
    listeners.serve(management, apps, &settings, metrics).await;
    if settings.clock == ClockChoice::Manual {
        clock::forget(&settings.data_dir);
    }
    Ok(())
}

/// Opens the store the settings name, on `clock`; returns it and how to show where it is.
fn open_store(settings: &Settings, clock: Arc<dyn Clock>) -> Result<(Store, String)> {
    let sweep = StoreOptions::default().sweep_interval;
    settings
        .store
        .open(&settings.data_dir, settings.durability, sweep, clock)
}

/// The listeners bound: the main one, the admin one if asked for, and where the browser is.
struct Listeners {
    main: TcpListener,
    admin: Option<TcpListener>,
    browser: BrowserPlace,
    tls: ListenerTls,
}

/// The TLS of the listeners that serve it. The browser's own listener, a management surface, is
/// served as the admin listener is when there is one, else as the main one.
struct ListenerTls {
    main: Option<TlsAcceptor>,
    admin: Option<TlsAcceptor>,
}

impl ListenerTls {
    fn load(settings: &Settings) -> Result<ListenerTls> {
        let acceptor =
            |files: &Option<TlsFiles>| files.as_ref().map(TlsFiles::acceptor).transpose();
        Ok(ListenerTls {
            main: acceptor(&settings.tls)?,
            admin: acceptor(&settings.admin_tls)?,
        })
    }

    /// The browser's own listener's, given whether there is an admin listener.
    fn browser(&self, admin_listener: bool) -> Option<TlsAcceptor> {
        if admin_listener {
            self.admin.clone()
        } else {
            self.main.clone()
        }
    }
}

/// Where a person finds what the listeners serve.
struct Urls {
    main: String,
    management: String,
    browser: String,
}

impl Listeners {
    async fn bind(settings: &Settings, tls: ListenerTls) -> Result<Listeners> {
        let main = bind(settings.listen).await?;
        let admin = match settings.admin_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let browser =
            place_browser(settings.listen, settings.browser_listen, admin.as_ref()).await?;
        Ok(Listeners {
            main,
            admin,
            browser,
            tls,
        })
    }

    /// What guests may reach through outgoing HTTP: not this server's listeners that serve no
    /// guest, unless guests are allowed the management APIs.
    fn egress_policy(&self, allow_guest_management: bool) -> Result<Option<EgressPolicy>> {
        if allow_guest_management {
            return Ok(None);
        }
        let closed = self
            .admin
            .iter()
            .chain(self.browser.own())
            .filter_map(|l| l.local_addr().ok())
            .collect();
        Ok(Some(egress::policy(self.main.local_addr()?, closed)))
    }

    fn urls(&self) -> Result<Urls> {
        let url = |listener: &TcpListener, tls: Option<&TlsAcceptor>| -> Result<String> {
            let scheme = if tls.is_some() { "https" } else { "http" };
            Ok(format!("{scheme}://{}", listener.local_addr()?))
        };
        let main = url(&self.main, self.tls.main.as_ref())?;
        let management = match &self.admin {
            Some(admin) => url(admin, self.tls.admin.as_ref())?,
            None => main.clone(),
        };
        let browser = match self.browser.own() {
            Some(own) => url(own, self.tls.browser(self.admin.is_some()).as_ref())?,
            None => management.clone(),
        };
        Ok(Urls {
            main,
            management,
            browser,
        })
    }

    /// Serves every listener, each with a connection budget of its own, until Ctrl-C or SIGTERM;
    /// then lets in-flight requests finish.
    async fn serve(
        self,
        management: Management,
        apps: Routes,
        settings: &Settings,
        metrics: Option<Arc<ServerMetrics>>,
    ) {
        let budget = |listener: &'static str, connections: usize| {
            let cap = Arc::new(Semaphore::new(connections));
            let capped = metrics
                .as_ref()
                .map(|m| m.listener(listener, cap.clone(), connections));
            ClientLimits {
                connections: cap,
                capped,
                header_timeout: settings.header_timeout,
                request_timeout: settings.request_timeout,
                write_timeout: settings.write_timeout,
                metrics: metrics.clone(),
            }
        };
        let Listeners {
            main,
            admin,
            browser,
            tls,
        } = self;
        let main_apis = admin.is_none().then(|| management.clone());
        let main_door =
            FrontDoor::public(main_apis, apps, budget("main", settings.max_connections));
        let browser_tls = tls.browser(admin.is_some());
        let mut doors = vec![(main, main_door, tls.main)];
        if let Some(admin) = admin {
            let surfaces = match browser {
                BrowserPlace::Admin => Surfaces::ApisAndBrowser,
                BrowserPlace::Own(_) => Surfaces::Apis,
            };
            let apis = management.clone().serving(surfaces);
            doors.push((
                admin,
                FrontDoor::private(apis, budget("admin", settings.max_connections)),
                tls.admin,
            ));
        }
        if let BrowserPlace::Own(listener) = browser {
            let page = management.serving(Surfaces::Browser);
            doors.push((
                listener,
                FrontDoor::private(page, budget("browser", BROWSER_CONNECTIONS)),
                browser_tls,
            ));
        }
        let (stop, stopped) = watch::channel(false);
        let servers: Vec<_> = doors
            .into_iter()
            .map(|(listener, door, tls)| {
                let door = Arc::new(door);
                tokio::spawn(front_door::serve(
                    listener,
                    door,
                    tls,
                    wait(stopped.clone()),
                ))
            })
            .collect();
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop.send(true);
        for server in servers {
            let _ = server.await;
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// Where the data browser's page is served: never on a listener that serves guests.
enum BrowserPlace {
    /// A listener of its own.
    Own(TcpListener),
    /// The admin listener (which serves no guest content).
    Admin,
}

impl BrowserPlace {
    fn own(&self) -> Option<&TcpListener> {
        match self {
            BrowserPlace::Own(listener) => Some(listener),
            BrowserPlace::Admin => None,
        }
    }
}

/// Binds the browser's listener: `requested` if given (the admin listener when it names the
/// same address), else the admin listener if there is one, else the port after `main`'s, or a
/// free one on the same address when that is taken or `main` asked for any port.
async fn place_browser(
    main: SocketAddr,
    requested: Option<SocketAddr>,
    admin: Option<&TcpListener>,
) -> Result<BrowserPlace> {
    let admin_addr = admin.and_then(|a| a.local_addr().ok());
    match (requested, admin_addr) {
        (Some(addr), Some(admin)) if addr.port() != 0 && addr == admin => Ok(BrowserPlace::Admin),
        (Some(addr), _) => Ok(BrowserPlace::Own(bind(addr).await?)),
        (None, Some(_)) => Ok(BrowserPlace::Admin),
        (None, None) => {
            let next = (main.port() != 0)
                .then(|| main.port().checked_add(1))
                .flatten();
            if let Some(port) = next {
                match TcpListener::bind(SocketAddr::new(main.ip(), port)).await {
                    Ok(listener) => return Ok(BrowserPlace::Own(listener)),
                    Err(e) => tracing::warn!(
                        "the data browser cannot have port {port} ({e}); it takes a free one"
                    ),
                }
            }
            Ok(BrowserPlace::Own(
                bind(SocketAddr::new(main.ip(), 0)).await?,
            ))
        }
    }
}

/// Creates each configured namespace that does not exist yet, with its seed if it has one, and
/// brings existing ones in line with the config (TTL support, limits). Returns binding name ->
/// namespace id, and namespace id -> seed file.
fn ensure_namespaces(
    store: &Store,
    namespaces: &[NamespaceConfig],
) -> Result<(HashMap<String, Uuid>, HashMap<Uuid, PathBuf>)> {
    let mut bindings = HashMap::new();
    let mut seeds = HashMap::new();
    for namespace in namespaces {
        let name = namespace.name();
        let namespace_id = match store.namespace(name) {
            Ok(existing) => {
                if existing.profile != namespace.profile {
                    tracing::warn!(
                        "namespace {name:?} exists with profile {}, not {}; keeping {}",
                        existing.profile,
                        namespace.profile,
                        existing.profile
                    );
                }
                if existing.ttl_enabled != namespace.ttl || existing.overrides != namespace.limits {
                    let update = NamespaceUpdate {
                        ttl_enabled: Some(namespace.ttl),
                        overrides: Some(namespace.limits.clone()),
                        ..NamespaceUpdate::default()
                    };
                    store.update_namespace(&existing.id, update)?;
                }
                existing.id
            }
            Err(StoreError::NamespaceNotFound(_)) => create_namespace(store, namespace)?,
            Err(e) => return Err(e).with_context(|| format!("opening namespace {name:?}")),
        };
        bindings.insert(namespace.binding.clone(), namespace_id);
        if let Some(seed) = &namespace.seed {
            seeds.insert(namespace_id, seed.clone());
        }
    }
    Ok((bindings, seeds))
}

/// Creates a configured namespace, holding its seed if it has one: all of it, or (when the seed
/// cannot be read or a key of it breaks a rule) no namespace and an error naming the file, the
/// key and the rule.
pub fn create_namespace(store: &Store, namespace: &NamespaceConfig) -> Result<Uuid> {
    let name = namespace.name();
    let new = NewNamespace {
        ttl_enabled: namespace.ttl,
        overrides: namespace.limits.clone(),
        ..NewNamespace::new(name, namespace.profile)
    };
    let Some(seed) = &namespace.seed else {
        return Ok(store
            .create_namespace(new)
            .with_context(|| format!("creating namespace {name:?}"))?
            .id);
    };
    let content = edgekv_api::bulk_json::read_file(seed)
        .with_context(|| format!("the seed of namespace {name:?}"))?;
    let created = store.create_namespace_seeded(new, content).map_err(|e| {
        anyhow::anyhow!(
            "creating namespace {name:?} with its seed {}: {e}",
            seed.display()
        )
    })?;
    Ok(created.id)
}

type EngineStart = std::thread::JoinHandle<Result<Runtime, edgekv_runtime::LoadError>>;

/// Builds the guest runtime on its own thread, if any app is configured.
fn start_engine(settings: &Settings) -> Option<EngineStart> {
    let max_memory = settings.apps.iter().map(|a| a.memory_mb).max()?;
    let options = RuntimeOptions {
        max_instances: settings.max_instances,
        max_memory_bytes: (max_memory << 20) as usize,
        cache_dir: Some(settings.cache_dir.clone()),
        ..RuntimeOptions::default()
    };
    Some(std::thread::spawn(move || Runtime::new(options)))
}

/// Loads every app with the namespaces it is granted, watching its component file with
/// `--watch`; returns each app's route and its live handle.
fn load_apps(
    settings: &Settings,
    engine: Option<EngineStart>,
    store: &Store,
    bindings: &HashMap<String, Uuid>,
    egress: Option<EgressPolicy>,
) -> Result<(Option<Runtime>, Routes)> {
    let Some(engine) = engine else {
        return Ok((None, Vec::new()));
    };
    let runtime = engine
        .join()
        .map_err(|_| anyhow::anyhow!("building the guest runtime panicked"))??
        .with_egress(egress);
    if settings.metrics {
        // On before the apps load: each resolves its counters as it loads.
        runtime.metrics();
    }
    let mut apps = Vec::new();
    for app in &settings.apps {
        let mut grants = Grants::new();
        for binding in &app.bindings {
            let namespace_id = bindings.get(binding).copied();
            if namespace_id.is_none() {
                tracing::warn!(
                    "app {:?} is granted binding {binding:?}, which no namespace declares",
                    app.route
                );
            }
            grants.grant(binding.clone(), namespace_id);
        }
        let limits = AppLimits {
            deadline: Duration::from_secs(app.deadline_secs),
            memory_bytes: (app.memory_mb << 20) as usize,
            instance_reuse: app.instance_reuse,
        };
        let source = AppSource {
            runtime: runtime.clone(),
            route: app.route.clone(),
            component: app.component.clone(),
            store: store.clone(),
            grants,
            limits,
        };
        let live = LiveApp::new(source.load()?);
        if settings.watch {
            reload::watch(source, live.clone());
        }
        apps.push((app.route.clone(), live));
    }
    Ok((Some(runtime), apps))
}

fn print_summary(settings: &Settings, store: &str, urls: &Urls) {
    println!("  data: {store}");
    for namespace in &settings.namespaces {
        println!(
            "  namespace {:?} ({}, ttl {}) bound as {:?}",
            namespace.name(),
            namespace.profile,
            if namespace.ttl { "on" } else { "off" },
            namespace.binding
        );
    }
    for app in &settings.apps {
        println!(
            "  app {} -> {} (bindings: {})",
            app.route,
            app.component.display(),
            app.bindings.join(", ")
        );
    }
    if settings.apps.is_empty() {
        println!("  no app: serving the management APIs only");
    }
    let management = &urls.management;
    println!("  management APIs: {management}/client/v4 (Cloudflare), {management}/v2/storage/kvs (Telnyx), {management} (CloudFront)");
    println!(
        "  data browser: {}/_edgekv/ (sign in with the API token as the password)",
        urls.browser
    );
}

async fn wait(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
