//! `edgekv kv`: read and write namespaces and keys directly in the data dir, the same SQLite file a
//! running server uses (safe alongside it: WAL, one writer at a time, the same rules), plus import and
//! export in Cloudflare's bulk JSON format (what `wrangler kv bulk put` takes), and a verified copy of
//! every namespace into another store (`copy --to URL`, in `crate::copy`), and snapshots of the
//! whole store (`snapshot FILE`, taken beside a running server; `restore FILE`, refused while one
//! runs on the data dir: `crate::serve_lock`). `namespace reset` and `namespace fork` give a test
//! suite a clean or a private copy of a fixture namespace; with `--config edgekv.toml` the data dir
//! and store come from that file, and so do the seeds that `namespace reset --reseed` writes again.
//! A write (`put`, `import`) to a namespace `edgekv serve` makes at start (the config's, with its
//! seed; without `--config`, the one-app `default`) makes it first if missing, as serve would.
//! Exit codes: 0 ok, 1 not found, 2 usage, 3 a rule was broken (named on stderr).

use crate::clock;
use crate::config::Config;
use crate::copy;
use crate::serve;
use crate::serve_lock;
use crate::store::{StoreArgs, StoreChoice};
use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::{Args, Subcommand};
use edgekv_api::bulk_json::{self, Item};
use edgekv_store::{
    Delete, Interface, ListQuery, NamespaceQuery, NamespaceUpdate, NewNamespace, Precondition,
    Profile, Put, RuleViolation, SeedError, Store, StoreError, StoreOptions, Uuid,
};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct KvArgs {
    /// The data dir (the one `edgekv serve` uses) [default: .edgekv]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The edgekv.toml `edgekv serve` uses: its data dir and store (unless given here) and its
    /// namespaces' seeds (for `namespace reset --reseed`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: KvCommand,
}

#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Create, list, rename, delete, reset or fork namespaces.
    #[command(
        subcommand,
        after_help = "Examples:\n  edgekv kv namespace create my-kv --profile telnyx --no-ttl\n  edgekv kv namespace list --json\n  edgekv kv namespace fork users users-test-1\n  edgekv kv --config edgekv.toml namespace reset users --reseed"
    )]
    Namespace(NamespaceCommand),
    /// Write a value: from the argument, --file, or stdin.
    #[command(
        after_help = "Examples:\n  edgekv kv put -n default greeting hello --ttl 3600\n  edgekv kv put -n default config --file config.json --content-type application/json --metadata '{\"v\":2}'\n  echo -n hi | edgekv kv put -n default greeting --if-match \"$ETAG\""
    )]
    Put(PutArgs),
    /// Print a value (raw bytes), or with --json its metadata, expiry and ETag too.
    #[command(
        after_help = "Examples:\n  edgekv kv get -n default greeting\n  edgekv kv get -n default greeting --json"
    )]
    Get(KeyArgs),
    /// Delete a key.
    #[command(
        after_help = "Example:\n  edgekv kv delete -n default greeting --if-match \"$ETAG\""
    )]
    Delete(DeleteArgs),
    /// List keys (all pages).
    #[command(after_help = "Example:\n  edgekv kv list -n default --prefix user/ --json")]
    List(ListArgs),
    /// Import a Cloudflare bulk JSON file ([{"key","value","base64"?,"metadata"?,"expiration"?,"expiration_ttl"?}]), all or nothing.
    #[command(
        after_help = "Example:\n  edgekv kv import -n default seed.json      (the file `wrangler kv bulk put` takes)"
    )]
    Import(ImportArgs),
    /// Export a namespace as Cloudflare bulk JSON (binary values base64-encoded).
    #[command(after_help = "Example:\n  edgekv kv export -n default -o seed.json")]
    Export(ExportArgs),
    /// Copy every namespace of this store into another store, then verify the copy.
    #[command(long_about = COPY_ABOUT, after_help = COPY_EXAMPLES)]
    Copy(CopyArgs),
    /// Write a consistent copy of the whole store to FILE, while a server keeps serving.
    #[command(long_about = SNAPSHOT_ABOUT, after_help = SNAPSHOT_EXAMPLES)]
    Snapshot(SnapshotArgs),
    /// Replace every namespace and key of the store with a snapshot's (no server may be running).
    #[command(long_about = RESTORE_ABOUT, after_help = RESTORE_EXAMPLES)]
    Restore(SnapshotArgs),
}

const SNAPSHOT_ABOUT: &str =
    "Write a consistent copy of the whole store (the data dir's, or --store URL's) \
to FILE, while a server keeps serving and writing.

The copy is the store as one commit left it: on SQLite, SQLite's online backup in one step (never \
a file copy); on PostgreSQL, every namespace and live entry read in one REPEATABLE READ snapshot. \
It is written to a temporary file beside FILE and renamed into place, so a failed snapshot leaves \
no partial file. FILE is a normal edgekv SQLite store: `edgekv kv --store FILE list ...` reads it, \
and `edgekv kv restore FILE` brings it back.

A running server takes named snapshots itself: POST /_edgekv/api/snapshots {\"name\": \"s1\"}.";

const SNAPSHOT_EXAMPLES: &str = "Examples:
  edgekv kv snapshot before-tests.sqlite3
  edgekv kv --store postgres://edgekv@db.internal/kv snapshot nightly.sqlite3";

const RESTORE_ABOUT: &str =
    "Replace every namespace and key of the store (the data dir's, or --store \
URL's) with those of the snapshot FILE, in one transaction.

Versions only grow: every restored namespace and entry gets a version above any the store held, so \
an ETag read before the restore no longer matches and cannot overwrite restored data. Entries that \
have expired by now are left out. FILE is left as it was.

Refused while a server uses the data dir (it holds <data-dir>/serve.lock): restore through the \
server instead, with POST /_edgekv/api/snapshots/NAME/restore (a snapshot file copied to \
<data-dir>/snapshots/NAME.sqlite3 is the server's snapshot NAME).";

const RESTORE_EXAMPLES: &str = "Examples:
  edgekv kv restore before-tests.sqlite3
  edgekv kv --data-dir .edgekv restore .edgekv/snapshots/s1.sqlite3";

const COPY_ABOUT: &str = "Copy every namespace of this store (the data dir's, or --store URL's) into the store \
at --to URL, then read the copy back and verify it.

What is copied: every namespace with the same id, name, profile, TTL support, status, comment, limit \
overrides, version and times; every live entry with the same key, value bytes, metadata, content \
type, expiry, version and time. So every namespace ETag and entry ETag stays the same. Entries \
already expired when the copy starts are not copied. Rules are not checked again: the rows are \
written as they are.

What is refused, before anything is written: a destination that is the source itself, and a \
destination that already holds a namespace with the id or the name of one being copied. Each \
namespace is written in one transaction, so a copy that fails or is interrupted leaves whole \
namespaces, never part of one.

What is printed: a line on stderr per namespace copied, then on stdout the counts and the checksum \
(SHA-256 over every copied namespace and its entries, the same on SQLite and PostgreSQL), read from \
the source as it was copied and from the destination afterwards:
  copied 3 namespaces, 100000 keys; checksum sha256:<hex> (source and destination agree)
URLs are shown without their password.

Exit codes: 0 copied and verified; 1 refused, failed, or the destination does not match the source.";

const COPY_EXAMPLES: &str = "Examples:
  edgekv kv copy --to postgres://edgekv@db.internal/kv          the data dir's SQLite file into PostgreSQL
  edgekv kv --store postgres://edgekv@db.internal/kv copy --to sqlite://backup.sqlite3
                                                                PostgreSQL into a new SQLite file";

#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// Create a namespace that follows one service's rules.
    #[command(
        after_help = "Example:\n  edgekv kv namespace create my-kv --profile telnyx --no-ttl"
    )]
    Create {
        /// The new namespace's name (unique).
        name: String,
        /// cloudflare, cloudfront or telnyx: whose rules the namespace follows.
        #[arg(long, default_value = "cloudflare")]
        profile: Profile,
        /// Refuse writes with an expiry (Telnyx namespaces without TTL support).
        #[arg(long)]
        no_ttl: bool,
    },
    /// List namespaces with their item counts and sizes.
    #[command(after_help = "Example:\n  edgekv kv namespace list --json")]
    List {
        /// Print JSON (id, name, profile, counts, version) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Rename a namespace.
    #[command(after_help = "Example:\n  edgekv kv namespace rename old-name new-name")]
    Rename {
        /// The namespace's name or id.
        namespace: String,
        /// Its new name.
        new_name: String,
    },
    /// Delete a namespace and all its keys.
    #[command(after_help = "Example:\n  edgekv kv namespace delete my-kv")]
    Delete {
        /// The namespace's name or id.
        namespace: String,
    },
    /// Empty a namespace in one transaction, or refill it from its seed (--reseed).
    #[command(long_about = RESET_ABOUT, after_help = RESET_EXAMPLES)]
    Reset {
        /// The namespace's name or id.
        namespace: String,
        /// Refill it from the seed its [[namespaces]] entry names in the --config file.
        #[arg(long)]
        reseed: bool,
    },
    /// Copy a namespace (keys, values, metadata, content types, expiry, profile, limits) to a new one.
    #[command(long_about = FORK_ABOUT, after_help = FORK_EXAMPLES)]
    Fork {
        /// The namespace's name or id.
        namespace: String,
        /// The new namespace's name (free, and valid for the profile).
        new_name: String,
    },
}

const RESET_ABOUT: &str =
    "Empty a namespace in one transaction: every key goes, the namespace stays \
(same id, name, profile, TTL setting and limits) and its version rises, so no ETag read before \
the reset matches afterwards. Safe while `edgekv serve` runs on the same data dir.

--reseed refills it, in the same transaction, from the seed file (Cloudflare bulk JSON) that \
its [[namespaces]] entry of the --config file names (`seed = \"fixtures/users.json\"`); every \
key is checked by the namespace's rules, and a key that breaks one is named and nothing is \
written. The running server's equivalent: POST /_edgekv/api/namespaces/NAME/reset with \
{\"reseed\": true}.";

const RESET_EXAMPLES: &str = "Examples:
  edgekv kv namespace reset sessions
  edgekv kv --config edgekv.toml namespace reset users --reseed";

const FORK_ABOUT: &str = "Copy a namespace to a new namespace, in one transaction: every live key \
with its value, metadata, content type and expiry, and the namespace's profile, TTL setting and \
limit overrides. The new namespace has its own id; expired keys are not copied; later writes to \
either do not show in the other. The new name must be free and follow the profile's naming \
rule. Prints the new namespace's id. Point an app's binding at the fork in edgekv.toml \
([[namespaces]] binding = \"default\", name = \"NEW_NAME\") to give a test its own copy. The \
running server's equivalent: POST /_edgekv/api/namespaces/NAME/fork with {\"name\": \"NEW_NAME\"}.";

const FORK_EXAMPLES: &str = "Example:
  edgekv kv namespace fork users users-test-1";

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Namespace name or id.
    #[arg(long, short)]
    pub namespace: String,
    /// The key.
    pub key: String,
    /// Print JSON with metadata, expiry and ETag (the value as text, or base64 if binary).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Namespace name or id.
    #[arg(long, short)]
    pub namespace: String,
    /// The key.
    pub key: String,
    /// The value; read from --file or stdin when absent.
    pub value: Option<String>,
    /// Read the value from this file.
    #[arg(long, conflicts_with = "value")]
    pub file: Option<PathBuf>,
    /// JSON metadata.
    #[arg(long)]
    pub metadata: Option<String>,
    /// The value's content type (served back by the REST APIs and the binding).
    #[arg(long)]
    pub content_type: Option<String>,
    /// Seconds until the key expires.
    #[arg(long, conflicts_with = "expiration")]
    pub ttl: Option<u64>,
    /// Unix time (seconds) at which the key expires.
    #[arg(long)]
    pub expiration: Option<u64>,
    /// Write only if the key's current ETag is this one.
    #[arg(long)]
    pub if_match: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Namespace name or id.
    #[arg(long, short)]
    pub namespace: String,
    /// The key.
    pub key: String,
    /// Delete only if the key's current ETag is this one.
    #[arg(long)]
    pub if_match: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Namespace name or id.
    #[arg(long, short)]
    pub namespace: String,
    /// Only keys that start with this.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Print JSON (name, size, expiry, metadata) instead of one key per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Namespace name or id.
    #[arg(long, short)]
    pub namespace: String,
    /// The bulk JSON file: an array of {"key", "value", ...} objects.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The destination store: `postgres://USER:PASSWORD@HOST/DB` (libpq's URL form), `sqlite://PATH`
    /// or the path of a SQLite file (created if missing).
    #[arg(long, value_name = "URL")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The snapshot file (a SQLite edgekv store).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Namespace name or id.
    #[arg(long, short)]
    pub namespace: String,
    /// Write here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs a kv command; returns the process exit code.
pub fn run(args: KvArgs) -> Result<i32> {
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let server = config.as_ref().map(|c| &c.server);
    let data_dir = (args.data_dir)
        .or_else(|| server.and_then(|s| s.data_dir.clone()))
        .unwrap_or_else(|| ".edgekv".into());
    let section = config.as_ref().map(|c| &c.store);
    let choice = StoreChoice::resolve(
        args.store,
        section.and_then(|s| s.url.clone()),
        section.and_then(|s| s.pool),
    );
    let clock = clock::of_data_dir(&data_dir)?;
    let (store, shown) = choice.open(&data_dir, StoreOptions::default().durability, None, clock)?;
    let store = store.via(Interface::Cli);
    let source = Source {
        data_dir: &data_dir,
        store: &store,
        shown: &shown,
        pool: choice.pool,
        config: config.as_ref(),
    };
    match execute(&source, args.command) {
        Ok(()) => Ok(0),
        Err(e) => match e.downcast_ref::<StoreError>() {
            Some(StoreError::NamespaceNotFound(_) | StoreError::KeyNotFound(_)) => {
                eprintln!("edgekv: {e}");
                Ok(1)
            }
            Some(StoreError::Rule(violation)) => {
                eprintln!("edgekv: {}", broken(&e, violation));
                Ok(3)
            }
            Some(StoreError::Conflict { .. }) => {
                eprintln!("edgekv: {e}");
                Ok(3)
            }
            _ => Err(e),
        },
    }
}

/// A broken rule as a person reads it: what was being done, what broke and the rule's name, e.g.
/// "importing seed.json: The key is 600 bytes long, over the limit of 512 bytes (rule key_too_large)".
fn broken(e: &anyhow::Error, violation: &RuleViolation) -> String {
    let doing: Vec<String> = e
        .chain()
        .take_while(|cause| cause.downcast_ref::<StoreError>().is_none())
        .map(ToString::to_string)
        .collect();
    let what = format!("{} (rule {})", violation.describe(), violation.rule.name());
    match doing.is_empty() {
        true => what,
        false => format!("{}: {what}", doing.join(": ")),
    }
}

/// The store a kv command runs on, and how it was opened.
struct Source<'s> {
    /// The data dir, whose server lock `restore` checks.
    data_dir: &'s Path,
    store: &'s Store,
    /// Where it is, as it may be shown.
    shown: &'s str,
    /// PostgreSQL's read pool size, for any other store the command opens.
    pool: u32,
    /// The config file, if one was given.
    config: Option<&'s Config>,
}

fn execute(source: &Source<'_>, command: KvCommand) -> Result<()> {
    let store = source.store;
    match command {
        KvCommand::Namespace(command) => namespace(store, source.config, command),
        KvCommand::Put(args) => put(store, source.config, args),
        KvCommand::Get(args) => get(store, args),
        KvCommand::Delete(args) => {
            let id = namespace_id(store, &args.namespace)?;
            let precondition = args
                .if_match
                .map_or(Precondition::None, Precondition::EntryEtag);
            let out = store.delete(
                &id,
                Delete {
                    key: args.key.clone(),
                    precondition,
                },
            )?;
            if !out.existed {
                return Err(StoreError::KeyNotFound(args.key).into());
            }
            Ok(())
        }
        KvCommand::List(args) => list(store, args),
        KvCommand::Import(args) => import(store, source.config, args),
        KvCommand::Export(args) => export(store, args),
        KvCommand::Copy(args) => copy::run(store, source.shown, &args.to, source.pool),
        KvCommand::Snapshot(args) => snapshot(store, &args.file),
        KvCommand::Restore(args) => restore(store, source.data_dir, &args.file),
    }
}

fn snapshot(store: &Store, file: &Path) -> Result<()> {
    store.snapshot_to(file)?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!("snapshot written to {} ({size} bytes)", file.display());
    Ok(())
}

fn restore(store: &Store, data_dir: &Path, file: &Path) -> Result<()> {
    // Held until the restore ends, so no server starts on the data dir meanwhile.
    let Some(_alone) = serve_lock::hold_alone(data_dir)? else {
        anyhow::bail!(
            "a server is using the data dir {dir} (it holds {lock}); restore through it instead: \
             copy the file to {dir}/snapshots/NAME.sqlite3 and POST \
             /_edgekv/api/snapshots/NAME/restore, or stop the server first",
            dir = data_dir.display(),
            lock = serve_lock::path(data_dir).display(),
        );
    };
    let restored = store.restore_from(file)?;
    println!(
        "restored {} namespaces, {} keys from {}",
        restored.namespaces,
        restored.keys,
        file.display()
    );
    Ok(())
}

fn namespace_id(store: &Store, name_or_id: &str) -> Result<Uuid> {
    Ok(store.namespace(name_or_id)?.id)
}

/// The namespace a write names. One that `edgekv serve` makes at start (the config's, with its
/// seed; without `--config`, the one-app `default`) is made now if missing, as serve would make it,
/// so data can be written before the first start.
fn namespace_to_write(store: &Store, config: Option<&Config>, name_or_id: &str) -> Result<Uuid> {
    let declared = match config {
        Some(config) => config.namespaces.clone(),
        None => Config::single_app(PathBuf::new()).namespaces,
    };
    match store.namespace(name_or_id) {
        Err(StoreError::NamespaceNotFound(_)) => {
            match declared.iter().find(|n| n.name() == name_or_id) {
                Some(namespace) => match serve::create_namespace(store, namespace) {
                    Err(e)
                        if e.downcast_ref::<StoreError>()
                            .is_some_and(|e| matches!(e, StoreError::NamespaceExists(_))) =>
                    {
                        namespace_id(store, name_or_id)
                    }
                    created => created,
                },
                None => Err(StoreError::NamespaceNotFound(name_or_id.to_string()).into()),
            }
        }
        found => Ok(found?.id),
    }
}

fn namespace(store: &Store, config: Option<&Config>, command: NamespaceCommand) -> Result<()> {
    match command {
        NamespaceCommand::Create {
            name,
            profile,
            no_ttl,
        } => {
            let namespace = store.create_namespace(NewNamespace {
                ttl_enabled: !no_ttl,
                ..NewNamespace::new(name, profile)
            })?;
            println!("{}", namespace.id);
        }
        NamespaceCommand::List { json } => {
            let page = store.list_namespaces(&NamespaceQuery {
                limit: u64::MAX >> 1,
                ..NamespaceQuery::default()
            })?;
            for namespace in page.namespaces {
                if json {
                    let row = json!({"id": namespace.id.to_string(), "name": namespace.name, "profile": namespace.profile.as_str(), "ttl": namespace.ttl_enabled, "items": namespace.item_count, "bytes": namespace.total_bytes, "version": namespace.version, "etag": namespace.etag().as_str()});
                    println!("{row}");
                } else {
                    println!(
                        "{}\t{}\t{}\t{} keys\t{} bytes",
                        namespace.id,
                        namespace.name,
                        namespace.profile,
                        namespace.item_count,
                        namespace.total_bytes
                    );
                }
            }
        }
        NamespaceCommand::Rename {
            namespace,
            new_name,
        } => {
            let id = namespace_id(store, &namespace)?;
            store.update_namespace(
                &id,
                NamespaceUpdate {
                    name: Some(new_name),
                    ..NamespaceUpdate::default()
                },
            )?;
        }
        NamespaceCommand::Delete { namespace } => {
            let id = namespace_id(store, &namespace)?;
            store.delete_namespace(&id, None)?;
        }
        NamespaceCommand::Reset { namespace, reseed } => {
            let found = store.namespace(&namespace)?;
            let content = match reseed {
                true => {
                    let seed = seed_of(config, &found.name)?;
                    bulk_json::read_file(&seed)?
                }
                false => Vec::new(),
            };
            let reset = store
                .reset_namespace(&found.id, content)
                .map_err(|e| match e {
                    SeedError::Entry { key, source } => {
                        anyhow::Error::new(source).context(format!("seed key {key:?}"))
                    }
                    SeedError::Store(e) => e.into(),
                })?;
            eprintln!("reset {:?}: {} keys", reset.name, reset.item_count);
        }
        NamespaceCommand::Fork {
            namespace,
            new_name,
        } => {
            let id = namespace_id(store, &namespace)?;
            println!("{}", store.fork_namespace(&id, &new_name)?.id);
        }
    }
    Ok(())
}

/// The seed file the config gives the namespace named `name`.
fn seed_of(config: Option<&Config>, name: &str) -> Result<PathBuf> {
    let Some(config) = config else {
        bail!(
            "--reseed needs the seed from the config file: pass --config edgekv.toml (the one \
             whose [[namespaces]] entry names `seed = \"...\"` for {name:?})"
        );
    };
    let entry = config.namespaces.iter().find(|n| n.name() == name);
    match entry.and_then(|n| n.seed.clone()) {
        Some(seed) => Ok(seed),
        None => bail!("namespace {name:?} has no seed in the config file: give its [[namespaces]] entry `seed = \"FILE.json\"`"),
    }
}

fn put(store: &Store, config: Option<&Config>, args: PutArgs) -> Result<()> {
    let id = namespace_to_write(store, config, &args.namespace)?;
    let value = match (args.value, &args.file) {
        (Some(value), _) => value.into_bytes(),
        (None, Some(file)) => {
            std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
        }
        (None, None) => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading the value from stdin")?;
            bytes
        }
    };
    let expiry = bulk_json::expiry(args.ttl, args.expiration);
    let precondition = args
        .if_match
        .map_or(Precondition::None, Precondition::EntryEtag);
    let put = Put {
        key: args.key,
        value,
        metadata: args.metadata,
        content_type: args.content_type,
        expiry,
        precondition,
    };
    let out = store.put(&id, put)?;
    eprintln!(
        "etag {}",
        out.etag.map(|e| e.to_string()).unwrap_or_default()
    );
    Ok(())
}

fn get(store: &Store, args: KeyArgs) -> Result<()> {
    let id = namespace_id(store, &args.namespace)?;
    let entry = store.get(&id, &args.key)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let (value, base64) = text_or_base64(&entry.value);
        let metadata: Value = entry
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(Value::Null);
        let row = json!({"key": entry.key, "value": value, "base64": base64, "metadata": metadata,
            "content_type": entry.content_type, "expires_at_ms": entry.expires_at_ms, "etag": entry.etag.as_str()});
        writeln!(out, "{row}")?;
    } else {
        out.write_all(&entry.value)?;
    }
    Ok(())
}

fn text_or_base64(value: &[u8]) -> (String, bool) {
    match std::str::from_utf8(value) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(value),
            true,
        ),
    }
}

/// Every live key of a namespace, page by page.
fn each_page(
    store: &Store,
    id: &Uuid,
    prefix: &str,
    mut f: impl FnMut(Vec<edgekv_store::KeyInfo>) -> Result<()>,
) -> Result<()> {
    let mut cursor = None;
    loop {
        let page = store.list(
            id,
            &ListQuery {
                prefix: prefix.to_string(),
                cursor,
                limit: None,
            },
        )?;
        f(page.keys)?;
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

fn list(store: &Store, args: ListArgs) -> Result<()> {
    let id = namespace_id(store, &args.namespace)?;
    let mut out = std::io::stdout().lock();
    each_page(store, &id, &args.prefix, |keys| {
        for k in keys {
            if args.json {
                writeln!(
                    out,
                    "{}",
                    json!({"name": k.key, "expires_at_ms": k.expires_at_ms, "size": k.size})
                )?;
            } else {
                writeln!(out, "{}", k.key)?;
            }
        }
        Ok(())
    })
}

fn import(store: &Store, config: Option<&Config>, args: ImportArgs) -> Result<()> {
    let id = namespace_to_write(store, config, &args.namespace)?;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    // A progress bar over the bytes read, drawn only when stderr is a terminal.
    let progress = indicatif::ProgressBar::new(file.metadata().map_or(0, |m| m.len()));
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let reader = progress.wrap_read(std::io::BufReader::new(file));
    let puts = bulk_json::read(reader).with_context(|| args.file.display().to_string())?;
    progress.set_message("writing");
    let count = puts.len();
    let written = store.import(&id, puts);
    progress.finish_and_clear();
    written?;
    eprintln!("imported {count} keys");
    Ok(())
}

fn export(store: &Store, args: ExportArgs) -> Result<()> {
    let id = namespace_id(store, &args.namespace)?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    out.write_all(b"[")?;
    let mut first = true;
    // Entries are read in the namespace's own bulk-get bound (a whole page where it has none).
    let chunk = store.limits(&id)?.max_bulk_get.unwrap_or(u64::MAX).max(1);
    each_page(store, &id, "", |keys| {
        let names: Vec<String> = keys.into_iter().map(|k| k.key).collect();
        let entries = names
            .chunks(usize::try_from(chunk).unwrap_or(usize::MAX))
            .map(|chunk| store.get_many(&id, chunk))
            .collect::<Result<Vec<_>, _>>()?;
        for entry in entries.into_iter().flatten().flatten() {
            out.write_all(if first { b"\n" } else { b",\n" })?;
            serde_json::to_writer(&mut out, &Item::from_entry(entry))?;
            first = false;
        }
        Ok(())
    })?;
    out.write_all(b"\n]\n")?;
    out.flush()?;
    Ok(())
}
