//! `edgekv.toml`: the namespaces an instance serves (binding name, profile, TTL support, limit
//! overrides, seed), the apps (route, component, granted bindings, limits) and the listeners
//! (addresses, TLS certificates).
//!
//! A namespace's `seed` names a Cloudflare bulk JSON file (what `edgekv kv import` reads),
//! relative to the config file: `edgekv serve` writes it when it creates the namespace, the first
//! time (a namespace that exists is left as it is), rule-checked like any write; a seed that cannot
//! be read or breaks a rule stops the start, naming the file, the key and the rule, with nothing of
//! it written. `POST /_edgekv/api/namespaces/{name}/reset {"reseed": true}` and
//! `edgekv kv --config edgekv.toml namespace reset NAME --reseed` write it again.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8787"        # guests and management APIs
//! admin_listen = "127.0.0.1:8788"  # optional: management APIs and the data browser, no guests
//! browser_listen = "127.0.0.1:8789"  # optional: the data browser [default: port after listen's]
//! data_dir = ".edgekv"
//! durability = "normal"            # or "full" (fsync every commit)
//! tls_cert = "certs/server.pem"    # optional: TLS on listen (PEM, relative to this file)
//! tls_key = "certs/server.key"
//! admin_tls_cert = "certs/admin.pem"  # optional: TLS on admin_listen, on its own
//! admin_tls_key = "certs/admin.key"
//!
//! [store]                          # optional: a database instead of <data_dir>/kv.sqlite3
//! url = "postgres://edgekv@db.internal/edgekv"  # several nodes may share it
//! pool = 16                        # read connections per node
//!
//! [[namespaces]]
//! binding = "default"              # the name apps open it by
//! name = "my-kv"                   # its unique name (defaults to the binding)
//! profile = "cloudflare"           # cloudflare | cloudfront | telnyx
//! ttl = true                       # whether entries may expire
//! limits = { max_value_bytes = 1048576 }
//! seed = "fixtures/users.json"     # optional: its first content (Cloudflare bulk JSON)
//!
//! [[apps]]
//! route = "/"                      # path prefix this app serves
//! component = "app.wasm"           # relative to this file
//! bindings = ["default"]           # namespaces it may open
//! deadline_secs = 30
//! memory_mb = 128
//! instance_reuse = 1               # requests per instance (1: a fresh instance per request)
//! ```

use anyhow::{bail, Context, Result};
use edgekv_store::{LimitOverrides, Profile};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub namespaces: Vec<NamespaceConfig>,
    #[serde(default)]
    pub apps: Vec<AppConfig>,
    #[serde(default)]
    pub store: StoreSection,
}

/// The `[store]` table: the store to use instead of the data dir's SQLite file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A store URL (`postgres://...`), as `--store` takes it.
    pub url: Option<String>,
    /// PostgreSQL's read pool size, as `--store-pool` takes it.
    pub pool: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub browser_listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub durability: Option<String>,
    /// The main listener's TLS certificate chain and key (PEM), relative to the config file once
    /// loaded.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The admin listener's, likewise.
    pub admin_tls_cert: Option<PathBuf>,
    pub admin_tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceConfig {
    pub binding: String,
    pub name: Option<String>,
    #[serde(default = "default_profile")]
    pub profile: Profile,
    #[serde(default = "yes")]
    pub ttl: bool,
    #[serde(default)]
    pub limits: LimitOverrides,
    /// A Cloudflare bulk JSON file: the namespace's content when it is created (and on a reseed);
    /// relative to the config file once loaded.
    pub seed: Option<PathBuf>,
}

impl NamespaceConfig {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.binding)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    #[serde(default = "root_route")]
    pub route: String,
    pub component: PathBuf,
    #[serde(default)]
    pub bindings: Vec<String>,
    #[serde(default = "default_deadline")]
    pub deadline_secs: u64,
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
    /// Requests one instance serves, one at a time, before it is discarded.
    #[serde(default = "one")]
    pub instance_reuse: u32,
}

fn default_profile() -> Profile {
    Profile::Cloudflare
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn root_route() -> String {
    "/".into()
}
/// An app's deadline per request when the config gives none.
pub const DEFAULT_DEADLINE_SECS: u64 = 30;
/// An app's memory cap when the config gives none.
pub const DEFAULT_MEMORY_MB: u64 = 128;

fn default_deadline() -> u64 {
    DEFAULT_DEADLINE_SECS
}
fn default_memory() -> u64 {
    DEFAULT_MEMORY_MB
}

impl Config {
    /// Reads a config file; component paths become relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for app in &mut config.apps {
            app.component = base.join(&app.component);
        }
        for namespace in &mut config.namespaces {
            namespace.seed = namespace.seed.as_ref().map(|seed| base.join(seed));
        }
        let server = &mut config.server;
        for file in [
            &mut server.tls_cert,
            &mut server.tls_key,
            &mut server.admin_tls_cert,
            &mut server.admin_tls_key,
        ] {
            *file = file.as_ref().map(|file| base.join(file));
        }
        config.check()?;
        Ok(config)
    }

    /// The config of `edgekv serve app.wasm`: the app at `/` with one cloudflare namespace bound as
    /// `default`.
    pub fn single_app(component: PathBuf) -> Config {
        Config {
            server: Server::default(),
            store: StoreSection::default(),
            namespaces: vec![NamespaceConfig {
                binding: "default".into(),
                name: None,
                profile: Profile::Cloudflare,
                ttl: true,
                limits: LimitOverrides::default(),
                seed: None,
            }],
            apps: vec![AppConfig {
                route: "/".into(),
                component,
                bindings: vec!["default".into()],
                deadline_secs: DEFAULT_DEADLINE_SECS,
                memory_mb: DEFAULT_MEMORY_MB,
                instance_reuse: 1,
            }],
        }
    }

    fn check(&self) -> Result<()> {
        for (i, namespace) in self.namespaces.iter().enumerate() {
            if self.namespaces[..i]
                .iter()
                .any(|other| other.binding == namespace.binding)
            {
                bail!(
                    "namespace binding {:?} is declared twice",
                    namespace.binding
                );
            }
        }
        for app in &self.apps {
            if !app.route.starts_with('/') {
                bail!("app route {:?} must start with /", app.route);
            }
            if app.deadline_secs == 0 || app.memory_mb == 0 || app.instance_reuse == 0 {
                bail!(
                    "app {:?}: deadline_secs, memory_mb and instance_reuse must be positive",
                    app.route
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    fn parses_and_passes_checks(toml_text: &str) {
        assert!(
            toml_text.contains("[[apps]]"),
            "no config found: {toml_text:?}"
        );
        let config: Config = toml::from_str(toml_text).expect("the example parses");
        config.check().expect("the example passes the checks");
        assert!(!config.namespaces.is_empty() && !config.apps.is_empty());
        assert!(config.server.durability.is_some());
    }

    /// The config file `edgekv serve --help` shows is one `edgekv serve` accepts.
    #[test]
    fn the_help_shows_a_valid_config_file() {
        let help = crate::settings::serve_help();
        let block: Vec<&str> = help
            .lines()
            .skip_while(|l| *l != "Config file (edgekv.toml):")
            .skip(1)
            .map_while(|l| l.strip_prefix("  "))
            .collect();
        parses_and_passes_checks(&block.join("\n"));
    }

    /// Certificate and key paths are the config file's, as component and seed paths are.
    #[test]
    fn tls_files_are_relative_to_the_config_file() {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let path = dir.path().join("edgekv.toml");
        let text = "[server]\ntls_cert = \"c.pem\"\ntls_key = \"/abs/k.pem\"\nadmin_tls_cert = \"a/c.pem\"";
        std::fs::write(&path, text).expect("written");
        let server = Config::load(&path).expect("loads").server;
        assert_eq!(server.tls_cert, Some(dir.path().join("c.pem")));
        assert_eq!(server.tls_key, Some("/abs/k.pem".into()));
        assert_eq!(server.admin_tls_cert, Some(dir.path().join("a/c.pem")));
        assert_eq!(server.admin_tls_key, None);
    }

    /// So is the one this module's documentation shows.
    #[test]
    fn the_module_doc_shows_a_valid_config_file() {
        let block: Vec<&str> = include_str!("config.rs")
            .lines()
            .map_while(|l| l.strip_prefix("//!"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .skip_while(|l| *l != "```toml")
            .skip(1)
            .take_while(|l| *l != "```")
            .collect();
        parses_and_passes_checks(&block.join("\n"));
    }
}
