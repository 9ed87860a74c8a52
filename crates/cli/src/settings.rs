//! What `edgekv serve` is told to do: its flags ([`ServeArgs`]), the config file's `[server]`
//! table, and the defaults, resolved once into [`Settings`]. A flag wins over the config file, the
//! config file over the default. Each default is written once, as a constant here, and `--help`
//! quotes that constant.

use crate::clock::{self, ClockChoice};
use crate::config::{self, AppConfig, Config, NamespaceConfig};
use crate::credentials::CredentialArgs;
use crate::store::{StoreArgs, StoreChoice};
use crate::telemetry::LogFormat;
use crate::tls::TlsFiles;
use anyhow::{bail, Result};
use clap::Args;
use edgekv_store::Durability;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

/// Where guests and the management APIs are served.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8787));
/// Where the data lives, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = ".edgekv";
/// The compiled-component cache's directory inside the data dir.
pub const CACHE_DIR_NAME: &str = "cache";
/// How hard each commit works to survive a crash, as `--durability` and the config file spell it.
pub const DEFAULT_DURABILITY: &str = "normal";
/// The connections the main listener serves at once, and the admin listener as many again.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The connections the browser's own listener serves at once: a person or two and their tabs.
pub const BROWSER_CONNECTIONS: usize = 64;
/// Guest instances that may run at once.
pub const DEFAULT_MAX_INSTANCES: u32 = 128;
/// Seconds a client may take to send a request's headers.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 30;
/// Seconds from a request's headers to the start of its response.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;
/// Seconds a response may wait for its client to read more of it.
pub const DEFAULT_WRITE_TIMEOUT_SECS: u64 = 10;

/// The command line of `edgekv serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A wasi:http component to serve at `/`, with one cloudflare namespace bound as `default`.
    pub app: Option<PathBuf>,
    /// A config file declaring namespaces, apps and listeners (format below).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    #[arg(long, env = "EDGEKV_LISTEN", help = format!(
        "Address for guests and the management APIs [default: {DEFAULT_LISTEN}]"
    ))]
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
    #[arg(long, help = format!(
        "Where the data lives (kv.sqlite3, compiled-component cache, credentials) \
         [default: {DEFAULT_DATA_DIR}]"
    ))]
    pub data_dir: Option<PathBuf>,
    #[arg(long, env = "EDGEKV_CACHE_DIR", value_name = "DIR", help = format!(
        "Where compiled components are cached, by content hash \
         [default: <data-dir>/{CACHE_DIR_NAME}]. Several servers may share one"
    ))]
    pub cache_dir: Option<PathBuf>,
    /// Let guests call this server's own management APIs through outgoing HTTP (refused by default:
    /// guest routes are public, the management APIs hold the operator's credentials).
    #[arg(long)]
    pub allow_guest_management: bool,
    /// Reload an app when its component file changes (in-flight requests finish on the old one;
    /// a component that fails to load leaves the old one serving).
    #[arg(long)]
    pub watch: bool,
    #[arg(long, help = format!(
        "`normal` survives the process being killed; `full` also survives power loss (fsync per \
         commit) [default: {DEFAULT_DURABILITY}]"
    ))]
    pub durability: Option<Durability>,
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_name = "N", help = format!(
        "The most connections the main listener serves at once, and the admin listener as many \
         again (a budget of its own); more wait to be accepted. The browser's listener has its \
         own budget of {BROWSER_CONNECTIONS}"
    ))]
    pub max_connections: usize,
    /// Guest instances that may run at once (their memory, tables and stacks are reserved at
    /// start-up); more requests wait for one to finish.
    #[arg(long, default_value_t = DEFAULT_MAX_INSTANCES, value_name = "N")]
    pub max_instances: u32,
    /// Serve up to N requests, one at a time, from one instance of APP.wasm before discarding it,
    /// as Workers reuse an isolate: the guest's globals survive between requests on the same
    /// instance, never across instances. A trap, a deadline or memory exhaustion discards the
    /// instance at once. [default: 1, a fresh instance per request] (with --config:
    /// `instance_reuse` of each [[apps]])
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub instance_reuse: Option<u32>,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, default_value_t = DEFAULT_HEADER_TIMEOUT_SECS, value_name = "SECS")]
    pub header_timeout: u64,
    /// Seconds a request may take from its headers to the start of its response, receiving its
    /// body included; past it the client gets 408 and the connection closes.
    #[arg(long, default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS, value_name = "SECS")]
    pub request_timeout: u64,
    /// Seconds a response may wait for its client to read more of it; past it the connection
    /// closes and a guest still writing the response is cancelled (its instance freed).
    #[arg(long, default_value_t = DEFAULT_WRITE_TIMEOUT_SECS, value_name = "SECS")]
    pub write_timeout: u64,
    /// `manual`: time stands still from --start-time until moved (`edgekv clock`, or POST
    /// /_edgekv/api/clock), for expiry, the times the APIs report and the guests' wall clock.
    #[arg(long, value_enum, default_value_t = ClockChoice::System)]
    pub clock: ClockChoice,
    /// Where a manual clock starts, in RFC 3339 (e.g. 2030-01-01T00:00:00Z) [default: now].
    #[arg(long, value_name = "TIME", value_parser = clock::parse_start)]
    pub start_time: Option<i64>,
    /// Prometheus metrics at GET /_edgekv/metrics (bearer token) and /metrics on the admin
    /// listener; `off` counts nothing.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub metrics: Switch,
    #[command(flatten)]
    pub tls: Box<TlsArgs>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// How log lines go to stderr: `text` for people (coloured on a terminal), `json` for
    /// machines (one object per line, fields at the top level).
    #[arg(long, env = "EDGEKV_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// A feature turned on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// `edgekv serve`'s TLS flags (boxed in [`ServeArgs`]: four paths would make it the largest
/// command's arguments by far).
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// Serve the main listener over TLS (HTTP/2 or HTTP/1.1, as the client offers) with this
    /// certificate chain (PEM, the server's own certificate first); needs --tls-key.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve the admin listener (--admin-listen) over TLS with this certificate chain (PEM), on
    /// its own: either listener may be TLS without the other; needs --admin-tls-key.
    #[arg(long, value_name = "FILE")]
    pub admin_tls_cert: Option<PathBuf>,
    /// The private key of --admin-tls-cert (PEM).
    #[arg(long, value_name = "FILE")]
    pub admin_tls_key: Option<PathBuf>,
}

/// What `edgekv serve` runs with, every choice made.
#[derive(Debug)]
pub struct Settings {
    /// The namespaces to make sure exist, with their profiles and limits.
    pub namespaces: Vec<NamespaceConfig>,
    /// The apps to serve.
    pub apps: Vec<AppConfig>,
    /// Where the data lives.
    pub data_dir: PathBuf,
    /// Where compiled components are cached.
    pub cache_dir: PathBuf,
    /// How hard each commit works to survive a crash.
    pub durability: Durability,
    /// The store to open: a URL, else the data dir's SQLite file.
    pub store: StoreChoice,
    /// The main listener's address: guests, and the management APIs without an admin listener.
    pub listen: SocketAddr,
    /// The admin listener's address, if any: the management APIs and (by default) the browser.
    pub admin_listen: Option<SocketAddr>,
    /// The browser's own listener's address, if one was asked for.
    pub browser_listen: Option<SocketAddr>,
    /// Whether guests may call this server's management APIs.
    pub allow_guest_management: bool,
    /// Whether apps reload when their component file changes.
    pub watch: bool,
    /// Connections the main listener serves at once (the admin listener as many again); at least 1.
    pub max_connections: usize,
    /// Guest instances that may run at once; at least 1.
    pub max_instances: u32,
    /// How long a client may take to send a request's headers; at least a second.
    pub header_timeout: Duration,
    /// How long a request may take to the start of its response; at least a second.
    pub request_timeout: Duration,
    /// How long a response may wait for its client to read; at least a second.
    pub write_timeout: Duration,
    /// The management credentials given (flags or variables); the rest are made or read later.
    pub credentials: CredentialArgs,
    /// Which clock the store and the guests run on.
    pub clock: ClockChoice,
    /// Where a manual clock starts, in unix milliseconds; `None`: now.
    pub start_time_ms: Option<i64>,
    /// Whether the server counts and serves its metrics.
    pub metrics: bool,
    /// The main listener's certificate and key, if it serves TLS (the browser's own listener
    /// too, when there is no admin listener).
    pub tls: Option<TlsFiles>,
    /// The admin listener's certificate and key, if it serves TLS (the browser's own listener
    /// too, when there is an admin listener).
    pub admin_tls: Option<TlsFiles>,
}

impl Settings {
    /// Reads the config file the flags name (or makes the config of the one app they name) and
    /// resolves the settings from both.
    pub fn resolve(args: ServeArgs) -> Result<Settings> {
        let mut config = match (&args.config, &args.app) {
            (Some(path), None) => Config::load(path)?,
            (Some(_), Some(_)) => bail!("give either APP.wasm or --config, not both"),
            (None, Some(app)) => Config::single_app(app.clone()),
            (None, None) => Config::default(),
        };
        if let Some(reuse) = args.instance_reuse {
            match (&args.app, config.apps.as_mut_slice()) {
                (Some(_), [app]) => app.instance_reuse = reuse,
                _ => bail!(
                    "--instance-reuse is for the one-app form (edgekv serve APP.wasm); with \
                     --config, set instance_reuse in each [[apps]]"
                ),
            }
        }
        Settings::from_sources(args, config)
    }

    /// Each setting from the flag, else the config file, else its default.
    fn from_sources(args: ServeArgs, config: Config) -> Result<Settings> {
        let server = config.server;
        let data_dir = args
            .data_dir
            .or(server.data_dir)
            .unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        let durability = match args.durability {
            Some(durability) => durability,
            None => server
                .durability
                .as_deref()
                .unwrap_or(DEFAULT_DURABILITY)
                .parse()
                .map_err(anyhow::Error::msg)?,
        };
        if args.start_time.is_some() && args.clock != ClockChoice::Manual {
            bail!("--start-time sets where a manual clock starts: give --clock manual with it");
        }
        let seconds = |secs: u64| Duration::from_secs(secs.max(1));
        let tls = TlsFiles::pair(
            args.tls.tls_cert.or(server.tls_cert),
            args.tls.tls_key.or(server.tls_key),
            ("--tls-cert", "--tls-key"),
        )?;
        let admin_tls = TlsFiles::pair(
            args.tls.admin_tls_cert.or(server.admin_tls_cert),
            args.tls.admin_tls_key.or(server.admin_tls_key),
            ("--admin-tls-cert", "--admin-tls-key"),
        )?;
        let admin_listen = args.admin_listen.or(server.admin_listen);
        if admin_tls.is_some() && admin_listen.is_none() {
            bail!("--admin-tls-cert is the admin listener's: give --admin-listen with it");
        }
        Ok(Settings {
            namespaces: config.namespaces,
            apps: config.apps,
            cache_dir: args
                .cache_dir
                .unwrap_or_else(|| data_dir.join(CACHE_DIR_NAME)),
            data_dir,
            durability,
            store: StoreChoice::resolve(args.store, config.store.url, config.store.pool),
            listen: args.listen.or(server.listen).unwrap_or(DEFAULT_LISTEN),
            admin_listen,
            browser_listen: args.browser_listen.or(server.browser_listen),
            allow_guest_management: args.allow_guest_management,
            watch: args.watch,
            max_connections: args.max_connections.max(1),
            max_instances: args.max_instances.max(1),
            header_timeout: seconds(args.header_timeout),
            request_timeout: seconds(args.request_timeout),
            write_timeout: seconds(args.write_timeout),
            credentials: args.credentials,
            clock: args.clock,
            start_time_ms: args.start_time,
            metrics: args.metrics == Switch::On,
            tls,
            admin_tls,
        })
    }
}

/// Shown after `edgekv serve --help`.
pub fn serve_help() -> String {
    let deadline = config::DEFAULT_DEADLINE_SECS;
    let memory = config::DEFAULT_MEMORY_MB;
    format!(
        "Examples:
  edgekv serve app.wasm
  edgekv serve --config edgekv.toml --data-dir /tmp/kv
  EDGEKV_API_TOKEN=secret edgekv serve app.wasm --admin-listen 127.0.0.1:8788
  edgekv serve app.wasm --tls-cert server.pem --tls-key server.key   # https://127.0.0.1:8787

Listeners: --listen serves the guests, and the management APIs unless --admin-listen gives them
their own. The data browser (sign in with the API token as the password) is never served where
guests are: it is on the admin listener when there is one, else on --browser-listen (by default
the port after --listen's). On a listener that serves guests, /_edgekv/api/ takes only
`Authorization: Bearer <token>`. Health checks answer without credentials: /_edgekv/livez (the
process serves) and /_edgekv/readyz (the store answers; 503 with the reason otherwise), also at
/livez and /readyz on the admin listener. Each listener has a connection budget of its own, so clients of
one cannot lock out another: --max-connections each for the main and admin listeners, {BROWSER_CONNECTIONS} for the
browser's.

TLS: --tls-cert and --tls-key (PEM files) serve the main listener over TLS, --admin-tls-cert and
--admin-tls-key the admin listener, each on its own. A TLS listener speaks HTTP/2 to clients that
offer it (ALPN), else HTTP/1.1; its handshake must end within --header-timeout. The browser's own
listener (--browser-listen) has the admin listener's TLS when there is an admin listener, else the
main one's. A certificate or key that cannot be read, is not PEM, or a key that does not match its
certificate stops the start.

Config file (edgekv.toml):
  [server]
  listen = \"{DEFAULT_LISTEN}\"
  # admin_listen = \"127.0.0.1:8788\"    # management APIs and the data browser, no guests
  # browser_listen = \"127.0.0.1:8789\"  # the data browser alone [default: admin_listen, if
                                      # set, else the port after listen's]
  data_dir = \"{DEFAULT_DATA_DIR}\"
  durability = \"{DEFAULT_DURABILITY}\"      # or \"full\"
  # tls_cert = \"server.pem\"           # TLS on listen (PEM, relative to this file)
  # tls_key = \"server.key\"
  # admin_tls_cert = \"admin.pem\"      # TLS on admin_listen, on its own
  # admin_tls_key = \"admin.key\"
  [[namespaces]]
  binding = \"default\"        # the name apps open it by
  profile = \"cloudflare\"     # cloudflare | cloudfront | telnyx
  ttl = true                 # false: writes with an expiry are refused
  limits = {{ max_value_bytes = 1048576 }}
  # seed = \"fixtures/users.json\"  # first content, relative to this file (Cloudflare bulk
                                  # JSON, as `edgekv kv import` reads): written when the
                                  # namespace is created, rule-checked; a bad seed stops the start
  [[apps]]
  route = \"/\"
  component = \"app.wasm\"
  bindings = [\"default\"]     # granted namespaces; others are access-denied
  deadline_secs = {deadline}
  memory_mb = {memory}
  instance_reuse = 1         # requests one instance serves, one at a time (1: a fresh
                             # instance per request; more: globals survive between them)

Admin API for test suites (same token as the data browser's API):
  POST /_edgekv/api/namespaces/NAME/reset              empty a namespace ({{\"reseed\": true}}: refill it
                                                       from its seed)
  POST /_edgekv/api/namespaces/NAME/fork {{\"name\": \"NEW\"}}  copy it to a new namespace (201); point
                                                       a binding at it with [[namespaces]] name = \"NEW\"

Management credentials come from the flags or EDGEKV_* variables above. A blank one (set but empty,
as when a CI secret did not expand) is refused at start, never taken as \"no credential\". Unset
ones are generated when first needed into <data-dir>/credentials.json (mode 0600) and printed
once; a secret that was given is never printed. A credentials file that cannot be read or parsed
stops the start (move it away to generate new credentials). The data dir and its database are
created readable by their owner only (0700, 0600)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `edgekv serve`'s flags alone.
    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn settings(flags: &[&str], config_file: &str) -> Result<Settings> {
        let args = Serve::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))
            .expect("the flags parse")
            .args;
        let config: Config = toml::from_str(config_file).expect("the config file parses");
        Settings::from_sources(args, config)
    }

    const SERVER_TABLE: &str = r#"
        [server]
        listen = "127.0.0.1:9000"
        admin_listen = "127.0.0.1:9001"
        browser_listen = "127.0.0.1:9002"
        data_dir = "from-config"
        durability = "full"
    "#;

    #[test]
    fn a_flag_wins_over_the_config_file() {
        let flags = [
            "--listen=127.0.0.1:7000",
            "--admin-listen=127.0.0.1:7001",
            "--browser-listen=127.0.0.1:7002",
            "--data-dir=from-flag",
            "--durability=normal",
        ];
        let settings = settings(&flags, SERVER_TABLE).expect("settings");
        assert_eq!(settings.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(
            settings.admin_listen,
            Some("127.0.0.1:7001".parse().unwrap())
        );
        assert_eq!(
            settings.browser_listen,
            Some("127.0.0.1:7002".parse().unwrap())
        );
        assert_eq!(settings.data_dir, PathBuf::from("from-flag"));
        assert_eq!(settings.durability, Durability::Normal);
    }

    #[test]
    fn the_config_file_wins_over_the_default() {
        let settings = settings(&[], SERVER_TABLE).expect("settings");
        assert_eq!(settings.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(
            settings.admin_listen,
            Some("127.0.0.1:9001".parse().unwrap())
        );
        assert_eq!(
            settings.browser_listen,
            Some("127.0.0.1:9002".parse().unwrap())
        );
        assert_eq!(settings.data_dir, PathBuf::from("from-config"));
        assert_eq!(settings.durability, Durability::Full);
    }

    #[test]
    fn without_flag_or_config_the_default_applies() {
        let settings = settings(&[], "").expect("settings");
        assert_eq!(settings.listen, DEFAULT_LISTEN);
        assert_eq!(settings.admin_listen, None);
        assert_eq!(settings.browser_listen, None);
        assert_eq!(settings.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(settings.durability, Durability::Normal);
        assert_eq!(settings.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(
            settings.header_timeout,
            Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS)
        );
    }

    #[test]
    fn the_cache_follows_the_data_dir_unless_given() {
        let settings_of = |flags: &[&str]| settings(flags, SERVER_TABLE).expect("settings");
        let from_config = PathBuf::from("from-config").join(CACHE_DIR_NAME);
        assert_eq!(settings_of(&[]).cache_dir, from_config);
        let from_flag = PathBuf::from("from-flag").join(CACHE_DIR_NAME);
        assert_eq!(settings_of(&["--data-dir=from-flag"]).cache_dir, from_flag);
        let given = settings_of(&["--cache-dir=elsewhere"]).cache_dir;
        assert_eq!(given, PathBuf::from("elsewhere"));
    }

    #[test]
    fn a_durability_the_config_file_misspells_stops_the_start() {
        let file = "[server]\ndurability = \"fsync\"";
        assert!(settings(&[], file).is_err());
        let settings = settings(&["--durability=full"], file).expect("the flag wins");
        assert_eq!(settings.durability, Durability::Full);
    }

    #[test]
    fn zero_budgets_and_timeouts_are_raised_to_one() {
        let flags = [
            "--max-connections=0",
            "--max-instances=0",
            "--header-timeout=0",
        ];
        let settings = settings(&flags, "").expect("settings");
        assert_eq!(settings.max_connections, 1);
        assert_eq!(settings.max_instances, 1);
        assert_eq!(settings.header_timeout, Duration::from_secs(1));
    }

    const TLS_TABLE: &str = r#"
        [server]
        admin_listen = "127.0.0.1:9001"
        tls_cert = "config.pem"
        tls_key = "config.key"
        admin_tls_cert = "admin.pem"
        admin_tls_key = "admin.key"
    "#;

    fn files(cert: &str, key: &str) -> Option<TlsFiles> {
        Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        })
    }

    #[test]
    fn tls_comes_from_the_flags_else_the_config_file() {
        let from_config = settings(&[], TLS_TABLE).expect("settings");
        assert_eq!(from_config.tls, files("config.pem", "config.key"));
        assert_eq!(from_config.admin_tls, files("admin.pem", "admin.key"));
        let flags = ["--tls-cert=flag.pem", "--tls-key=flag.key"];
        let from_flags = settings(&flags, TLS_TABLE).expect("settings");
        assert_eq!(from_flags.tls, files("flag.pem", "flag.key"));
        assert_eq!(from_flags.admin_tls, files("admin.pem", "admin.key"));
        let plain = settings(&[], "").expect("settings");
        assert_eq!((plain.tls, plain.admin_tls), (None, None));
    }

    #[test]
    fn the_admin_listener_may_serve_tls_without_the_main_one() {
        let flags = [
            "--admin-listen=127.0.0.1:7001",
            "--admin-tls-cert=a.pem",
            "--admin-tls-key=a.key",
        ];
        let settings = settings(&flags, "").expect("settings");
        assert_eq!(settings.tls, None);
        assert_eq!(settings.admin_tls, files("a.pem", "a.key"));
    }

    #[test]
    fn half_a_tls_pair_or_admin_tls_without_admin_listener_stops_the_start() {
        for flags in [
            &["--tls-cert=c.pem"][..],
            &["--tls-key=c.key"],
            &["--admin-listen=127.0.0.1:7001", "--admin-tls-key=a.key"],
            &["--admin-tls-cert=a.pem", "--admin-tls-key=a.key"],
        ] {
            assert!(settings(flags, "").is_err(), "{flags:?} was accepted");
        }
    }

    /// `--help` quotes the defaults the settings apply.
    #[test]
    fn the_help_quotes_the_defaults() {
        use clap::CommandFactory;
        let help = Serve::command().render_help().to_string();
        for default in [
            format!("[default: {DEFAULT_LISTEN}]"),
            format!("[default: {DEFAULT_DATA_DIR}]"),
            format!("[default: <data-dir>/{CACHE_DIR_NAME}]"),
            format!("[default: {DEFAULT_DURABILITY}]"),
            format!("[default: {DEFAULT_MAX_CONNECTIONS}]"),
            format!("[default: {DEFAULT_MAX_INSTANCES}]"),
            format!("[default: {DEFAULT_REQUEST_TIMEOUT_SECS}]"),
        ] {
            assert!(help.contains(&default), "{default} is not in:\n{help}");
        }
        let parsed: Durability = DEFAULT_DURABILITY.parse().expect("a durability");
        assert_eq!(parsed, Durability::Normal);
    }
}
