//! `edgekv serve`: opens the store, makes sure every configured namespace exists with its profile
//! and limits, loads the apps, binds the listeners, prints where everything is, and serves until
//! Ctrl-C or SIGTERM.
//!
//! Listeners: the main one serves guests (and the management APIs unless `--admin-listen` moves
//! them); the data browser's page never shares an origin with guest content, so it lives on the
//! admin listener when there is one, else on a listener of its own (`--browser-listen`, by default
//! the port after the main one). Each listener has its own connection budget.

use crate::config::{Config, NamespaceConfig};
use crate::credentials::{self, CredentialArgs};
use crate::egress;
use crate::front_door::{self, ClientLimits, FrontDoor};
use crate::reload::{self, AppSource, LiveApp};
use anyhow::{bail, Context, Result};
use clap::Args;
use edgekv_api::{Management, Surfaces};
use edgekv_runtime::{App, AppLimits, EgressPolicy, Grants, Runtime, RuntimeOptions};
use edgekv_store::{
    Durability, NamespaceUpdate, NewNamespace, Store, StoreError, StoreOptions, Uuid,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Shown after `edgekv serve --help`.
pub const SERVE_HELP: &str = "Examples:
  edgekv serve app.wasm
  edgekv serve --config edgekv.toml --data-dir /tmp/kv
  EDGEKV_API_TOKEN=secret edgekv serve app.wasm --admin-listen 127.0.0.1:8788

Listeners: --listen serves the guests, and the management APIs unless --admin-listen gives them
their own. The data browser (sign in with the API token as the password) is never served where
guests are: it is on the admin listener when there is one, else on --browser-listen (by default
the port after --listen's). On a listener that serves guests, /_edgekv/api/ takes only
`Authorization: Bearer <token>`. Each listener has a connection budget of its own, so clients of
one cannot lock out another: --max-connections each for the main and admin listeners, 64 for the
browser's.

Config file (edgekv.toml):
  [server]
  listen = \"127.0.0.1:8787\"
  # admin_listen = \"127.0.0.1:8788\"    # management APIs and the data browser, no guests
  # browser_listen = \"127.0.0.1:8789\"  # the data browser alone [default: admin_listen, if
                                      # set, else the port after listen's]
  data_dir = \".edgekv\"
  durability = \"normal\"      # or \"full\"
  [[namespaces]]
  binding = \"default\"        # the name apps open it by
  profile = \"cloudflare\"     # cloudflare | cloudfront | telnyx
  ttl = true                 # false: writes with an expiry are refused
  limits = { max_value_bytes = 1048576 }
  [[apps]]
  route = \"/\"
  component = \"app.wasm\"
  bindings = [\"default\"]     # granted namespaces; others are access-denied
  deadline_secs = 30
  memory_mb = 128

Management credentials come from the flags or EDGEKV_* variables above. A blank one (set but empty,
as when a CI secret did not expand) is refused at start, never taken as \"no credential\". Unset
ones are generated when first needed into <data-dir>/credentials.json (mode 0600) and printed
once; a secret that was given is never printed. A credentials file that cannot be read or parsed
stops the start (move it away to generate new credentials). The data dir and its database are
created readable by their owner only (0700, 0600).";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A wasi:http component to serve at `/`, with one cloudflare namespace bound as `default`.
    pub app: Option<PathBuf>,
    /// A config file declaring namespaces, apps and listeners (format below).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Address for guests and the management APIs [default: 127.0.0.1:8787].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Serve the management APIs on this address instead of the main one, with the data browser
    /// unless --browser-listen names another; no guest is served there.
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// Serve the data browser on this address, which serves nothing else [default: the admin
    /// listener with --admin-listen, else the port after --listen's (a free one when that is
    /// taken or --listen's port is 0)].
    #[arg(long, value_name = "ADDR")]
    pub browser_listen: Option<SocketAddr>,
    /// Where the data lives (kv.sqlite3, compiled-component cache, credentials) [default: .edgekv].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where compiled components are cached, by content hash [default: <data-dir>/cache]. Several
    /// servers may share one.
    #[arg(long, env = "EDGEKV_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Let guests call this server's own management APIs through outgoing HTTP (refused by default:
    /// guest routes are public, the management APIs hold the operator's credentials).
    #[arg(long)]
    pub allow_guest_management: bool,
    /// Reload an app when its component file changes (in-flight requests finish on the old one;
    /// a component that fails to load leaves the old one serving).
    #[arg(long)]
    pub watch: bool,
    /// `normal` survives the process being killed; `full` also survives power loss (fsync per
    /// commit) [default: normal].
    #[arg(long)]
    pub durability: Option<Durability>,
    /// The most connections the main listener serves at once, and the admin listener as many
    /// again (a budget of its own); more wait to be accepted. The browser's listener has its own
    /// budget of 64.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// Guest instances that may run at once (their memory, tables and stacks are reserved at
    /// start-up); more requests wait for one to finish.
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub max_instances: u32,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub header_timeout: u64,
    /// Seconds a request may take from its headers to the start of its response, receiving its
    /// body included; past it the client gets 408 and the connection closes.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub request_timeout: u64,
    /// Seconds a response may wait for its client to read more of it; past it the connection
    /// closes and a guest still writing the response is cancelled (its instance freed).
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub write_timeout: u64,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let config = load_config(&args)?;
    let data_dir = args
        .data_dir
        .clone()
        .or(config.server.data_dir.clone())
        .unwrap_or_else(|| ".edgekv".into());
    let durability = match (args.durability, &config.server.durability) {
        (Some(d), _) => d,
        (None, Some(text)) => text.parse().map_err(anyhow::Error::msg)?,
        (None, None) => Durability::Normal,
    };
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("cache"));
    let credentials = credentials::resolve(&args.credentials, &data_dir)?;
    // Reserving the engine's instance pools (a mapping and a guard page per stack, one per
    // instance slot) takes about as long as opening the store; do both at once.
    let engine = start_engine(&config, &cache_dir, args.max_instances);
    let db = data_dir.join("kv.sqlite3");
    let store = Store::open(
        &db,
        StoreOptions {
            durability,
            ..StoreOptions::default()
        },
    )
    .with_context(|| format!("opening {}", db.display()))?;
    let bindings = ensure_namespaces(&store, &config.namespaces)?;
    let listen = args
        .listen
        .or(config.server.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8787)));
    let admin_listen = args.admin_listen.or(config.server.admin_listen);
    let browser_listen = args.browser_listen.or(config.server.browser_listen);
    let management = Management::new(store.clone(), credentials.credentials.clone());
    let main = bind(listen).await?;
    let admin = match admin_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let browser = place_browser(listen, browser_listen, admin.as_ref()).await?;
    // Guests are loaded once the listeners are bound: their egress policy names them.
    let egress = (!args.allow_guest_management).then(|| {
        let closed = admin
            .iter()
            .chain(browser.own())
            .filter_map(|l| l.local_addr().ok())
            .collect();
        main.local_addr().map(|m| egress::policy(m, closed))
    });
    let egress = egress.transpose()?;
    let apps = load_apps(&config, engine, &store, &bindings, egress)?;
    let live: Vec<(String, Arc<LiveApp>)> = apps
        .into_iter()
        .map(|(route, source, app)| {
            let live = LiveApp::new(app);
            if args.watch {
                reload::watch(source, live.clone());
            }
            (route, live)
        })
        .collect();
    let url = format!("http://{}", main.local_addr()?);
    let management_url = match &admin {
        Some(admin) => format!("http://{}", admin.local_addr()?),
        None => url.clone(),
    };
    let browser_url = match browser.own() {
        Some(own) => format!("http://{}", own.local_addr()?),
        None => management_url.clone(),
    };
    println!("edgekv listening on {url}");
    print_summary(&config, &db, &management_url, &browser_url);
    if let Some(announcement) = credentials.announcement(&management_url) {
        println!("{announcement}");
    }

    let (stop, stopped) = watch::channel(false);
    // Every listener has a connection budget of its own.
    let budget = |connections: usize| ClientLimits {
        connections: Arc::new(Semaphore::new(connections.max(1))),
        header_timeout: Duration::from_secs(args.header_timeout.max(1)),
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        write_timeout: Duration::from_secs(args.write_timeout.max(1)),
    };
    let main_door = FrontDoor::public(
        admin.is_none().then(|| management.clone()),
        live,
        budget(args.max_connections),
    );
    let mut servers = vec![tokio::spawn(front_door::serve(
        main,
        Arc::new(main_door),
        wait(stopped.clone()),
    ))];
    if let Some(admin) = admin {
        let surfaces = match browser {
            BrowserPlace::Admin => Surfaces::ApisAndBrowser,
            BrowserPlace::Own(_) => Surfaces::Apis,
        };
        let door = FrontDoor::private(
            management.clone().serving(surfaces),
            budget(args.max_connections),
        );
        servers.push(tokio::spawn(front_door::serve(
            admin,
            Arc::new(door),
            wait(stopped.clone()),
        )));
    }
    if let BrowserPlace::Own(listener) = browser {
        let door = FrontDoor::private(
            management.serving(Surfaces::Browser),
            budget(BROWSER_CONNECTIONS),
        );
        servers.push(tokio::spawn(front_door::serve(
            listener,
            Arc::new(door),
            wait(stopped),
        )));
    }
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop.send(true);
    for server in servers {
        let _ = server.await;
    }
    Ok(())
}

/// The connections the browser's own listener serves at once: a person or two and their tabs.
const BROWSER_CONNECTIONS: usize = 64;

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

fn load_config(args: &ServeArgs) -> Result<Config> {
    match (&args.config, &args.app) {
        (Some(path), None) => Config::load(path),
        (Some(_), Some(_)) => bail!("give either APP.wasm or --config, not both"),
        (None, Some(app)) => Ok(Config::single_app(app.clone())),
        (None, None) => Ok(Config::default()),
    }
}

/// Creates each configured namespace that does not exist yet and brings existing ones in line with
/// the config (TTL support, limits). Returns binding name -> namespace id.
fn ensure_namespaces(
    store: &Store,
    namespaces: &[NamespaceConfig],
) -> Result<HashMap<String, Uuid>> {
    let mut bindings = HashMap::new();
    for ns in namespaces {
        let id = match store.namespace(ns.name()) {
            Ok(existing) => {
                if existing.profile != ns.profile {
                    tracing::warn!(
                        "namespace {:?} exists with profile {}, not {}; keeping {}",
                        ns.name(),
                        existing.profile,
                        ns.profile,
                        existing.profile
                    );
                }
                if existing.ttl_enabled != ns.ttl || existing.overrides != ns.limits {
                    let update = NamespaceUpdate {
                        ttl_enabled: Some(ns.ttl),
                        overrides: Some(ns.limits.clone()),
                        ..NamespaceUpdate::default()
                    };
                    store.update_namespace(&existing.id, update)?;
                }
                existing.id
            }
            Err(StoreError::NamespaceNotFound(_)) => {
                let new = NewNamespace {
                    ttl_enabled: ns.ttl,
                    overrides: ns.limits.clone(),
                    ..NewNamespace::new(ns.name(), ns.profile)
                };
                store
                    .create_namespace(new)
                    .with_context(|| format!("creating namespace {:?}", ns.name()))?
                    .id
            }
            Err(e) => return Err(e).with_context(|| format!("opening namespace {:?}", ns.name())),
        };
        bindings.insert(ns.binding.clone(), id);
    }
    Ok(bindings)
}

type EngineStart = std::thread::JoinHandle<Result<Runtime, edgekv_runtime::LoadError>>;

/// Builds the guest runtime on its own thread, if any app is configured.
fn start_engine(
    config: &Config,
    cache_dir: &std::path::Path,
    max_instances: u32,
) -> Option<EngineStart> {
    if config.apps.is_empty() {
        return None;
    }
    let max_memory = config.apps.iter().map(|a| a.memory_mb).max().unwrap_or(128);
    let options = RuntimeOptions {
        max_instances: max_instances.max(1),
        max_memory_bytes: (max_memory << 20) as usize,
        cache_dir: Some(cache_dir.to_path_buf()),
        ..RuntimeOptions::default()
    };
    Some(std::thread::spawn(move || Runtime::new(options)))
}

fn load_apps(
    config: &Config,
    engine: Option<EngineStart>,
    store: &Store,
    bindings: &HashMap<String, Uuid>,
    egress: Option<EgressPolicy>,
) -> Result<Vec<(String, AppSource, App)>> {
    let Some(engine) = engine else {
        return Ok(Vec::new());
    };
    let runtime = engine
        .join()
        .map_err(|_| anyhow::anyhow!("building the guest runtime panicked"))??
        .with_egress(egress);
    let mut apps = Vec::new();
    for app in &config.apps {
        let mut grants = Grants::new();
        for binding in &app.bindings {
            let id = bindings.get(binding).copied();
            if id.is_none() {
                tracing::warn!(
                    "app {:?} is granted binding {binding:?}, which no namespace declares",
                    app.route
                );
            }
            grants.grant(binding.clone(), id);
        }
        let limits = AppLimits {
            deadline: Duration::from_secs(app.deadline_secs),
            memory_bytes: (app.memory_mb << 20) as usize,
        };
        let source = AppSource {
            runtime: runtime.clone(),
            component: app.component.clone(),
            store: store.clone(),
            grants,
            limits,
        };
        let loaded = source.load()?;
        apps.push((app.route.clone(), source, loaded));
    }
    Ok(apps)
}

fn print_summary(config: &Config, db: &std::path::Path, management: &str, browser: &str) {
    println!("  data: {}", db.display());
    for ns in &config.namespaces {
        println!(
            "  namespace {:?} ({}, ttl {}) bound as {:?}",
            ns.name(),
            ns.profile,
            if ns.ttl { "on" } else { "off" },
            ns.binding
        );
    }
    for app in &config.apps {
        println!(
            "  app {} -> {} (bindings: {})",
            app.route,
            app.component.display(),
            app.bindings.join(", ")
        );
    }
    if config.apps.is_empty() {
        println!("  no app: serving the management APIs only");
    }
    println!("  management APIs: {management}/client/v4 (Cloudflare), {management}/v2/storage/kvs (Telnyx), {management} (CloudFront)");
    println!("  data browser: {browser}/_edgekv/ (sign in with the API token as the password)");
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
