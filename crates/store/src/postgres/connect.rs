//! From a store URL to connections: the URL's settings (libpq's URL form, as tokio-postgres reads
//! it), TLS through rustls as its `sslmode` asks, each connection's statement cache, and the pool's
//! connection manager.
//!
//! `sslmode`: `disable` never encrypts; `prefer` (the default, as in libpq) and `require` encrypt
//! when the server offers it (`require` insists) without verifying its certificate, as libpq does
//! without a root certificate; `verify-ca` and `verify-full` verify the certificate chain and the
//! host name (both do the full check), against `sslrootcert=PATH` (PEM) when given, else the Mozilla
//! roots. A connection's lock wait is bounded by the store's lock timeout (`lock_timeout`).

use crate::error::{postgres_message, StorageError};
use ::postgres::{Client, Config, Statement};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long a connection attempt waits when the URL says nothing (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a failed connection attempt makes reads that would need a new connection fail at
/// once, rather than each waiting for the pool's checkout timeout while the database is down.
const REFUSAL_HOLDS: Duration = Duration::from_secs(1);

/// Where and how to connect: the parsed URL and its TLS set-up.
pub struct Target {
    config: Config,
    tls: MakeRustlsConnect,
    /// The last connection attempt's failure, until an attempt succeeds.
    refusal: Mutex<Option<(Instant, String)>>,
}

/// One connection and the statements prepared on it, so each query is parsed once per connection.
pub struct PgConn {
    /// The client.
    pub client: Client,
    statements: HashMap<String, Statement>,
    /// Set once the connection is found gone, so the pool drops it.
    lost: bool,
}

impl PgConn {
    /// The statement for `sql`, prepared on first use.
    pub fn statement(&mut self, sql: &str) -> Result<Statement, ::postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Whether the connection is gone (after a statement failed on it): closed, or the database
    /// ended its session (a restart, an administrator) and it fails an empty query.
    pub fn is_lost(&mut self) -> bool {
        self.lost = self.lost || self.client.is_closed() || self.client.check_connection().is_err();
        self.lost
    }
}

/// Whether the server's certificate is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verify {
    No,
    Full,
}

impl Target {
    /// Parses `url` (`postgres://` or `postgresql://`); every connection waits at most
    /// `lock_timeout` for a lock.
    pub fn parse(url: &str, lock_timeout: Duration) -> Result<Target, StorageError> {
        let (rest, verify, root) = tls_settings(url)?;
        let mut config = Config::from_str(&rest).map_err(|e| StorageError::Url(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let options = format!(
            "{} -c lock_timeout={}",
            config.get_options().unwrap_or_default(),
            lock_timeout.as_millis().max(1)
        );
        config.options(options.trim_start());
        if config.get_application_name().is_none() {
            config.application_name("edgekv");
        }
        let tls = MakeRustlsConnect::new(tls_config(verify, root.as_deref())?);
        Ok(Target {
            config,
            tls,
            refusal: Mutex::new(None),
        })
    }

    /// Opens a connection.
    pub fn connect(&self) -> Result<PgConn, StorageError> {
        let connected = self.config.connect(self.tls.clone());
        let mut refusal = self.refusal.lock().unwrap_or_else(|e| e.into_inner());
        match connected {
            Ok(client) => {
                *refusal = None;
                Ok(PgConn {
                    client,
                    statements: HashMap::new(),
                    lost: false,
                })
            }
            Err(e) => {
                // With its cause: "error performing TLS handshake" alone does not say which check.
                let why = postgres_message(&e);
                *refusal = Some((Instant::now(), why.clone()));
                Err(StorageError::Unavailable(why))
            }
        }
    }

    /// Why the database refused a connection, if an attempt failed less than a second ago and
    /// none has succeeded since: a new connection would most likely be refused too.
    pub fn refused_recently(&self) -> Option<String> {
        let refusal = self.refusal.lock().unwrap_or_else(|e| e.into_inner());
        refusal
            .as_ref()
            .filter(|(when, _)| when.elapsed() < REFUSAL_HOLDS)
            .map(|(_, why)| why.clone())
    }
}

/// The URL without the TLS settings tokio-postgres does not read (`sslmode=verify-*`,
/// `sslrootcert`), and what they asked for.
fn tls_settings(url: &str) -> Result<(String, Verify, Option<String>), StorageError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Verify::No, None));
    };
    let (mut verify, mut root, mut kept) = (Verify::No, None, Vec::new());
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslmode", "verify-ca" | "verify-full")) => {
                verify = Verify::Full;
                kept.push("sslmode=require".to_string());
            }
            Some(("sslrootcert", path)) => root = Some(percent_decoded(path)?),
            _ => kept.push(pair.to_string()),
        }
    }
    let rest = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((rest, verify, root))
}

fn percent_decoded(text: &str) -> Result<String, StorageError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| StorageError::Url("a bad %-escape in sslrootcert".into()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| StorageError::Url("sslrootcert is not UTF-8".into()))
}

fn tls_config(verify: Verify, root: Option<&str>) -> Result<ClientConfig, StorageError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StorageError::Url(format!("TLS: {e}")))?;
    let config = match verify {
        Verify::No => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth(),
        Verify::Full => builder
            .with_root_certificates(roots(root)?)
            .with_no_client_auth(),
    };
    Ok(config)
}

fn roots(path: Option<&str>) -> Result<RootCertStore, StorageError> {
    let Some(path) = path else {
        return Ok(RootCertStore::from_iter(
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
        ));
    };
    let bad = |e: &dyn std::fmt::Display| StorageError::Url(format!("sslrootcert {path}: {e}"));
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    Ok(roots)
}

/// `sslmode=prefer`/`require`: the connection is encrypted, the certificate not checked (libpq's
/// meaning of these modes); the handshake's signatures still are.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The pool's connection manager.
pub struct Manager(pub Arc<Target>);

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = StorageError;

    fn connect(&self) -> Result<PgConn, StorageError> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), StorageError> {
        Ok(conn.client.simple_query("")?).map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.lost || conn.client.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_become_require_and_the_root_is_read_apart() {
        let (rest, verify, root) =
            tls_settings("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fca.pem&x=1")
                .unwrap();
        assert_eq!(rest, "postgres://u@h/db?sslmode=require&x=1");
        assert!(verify == Verify::Full);
        assert_eq!(root.as_deref(), Some("/ca.pem"));
        let (rest, verify, _) = tls_settings("postgres://h/db?sslmode=require").unwrap();
        assert_eq!(rest, "postgres://h/db?sslmode=require");
        assert!(verify == Verify::No);
    }

    #[test]
    fn the_lock_timeout_joins_the_urls_own_options() {
        let target = Target::parse(
            "postgres://h/db?options=-csearch_path%3Dt1",
            Duration::from_millis(250),
        )
        .unwrap();
        assert_eq!(
            target.config.get_options(),
            Some("-csearch_path=t1 -c lock_timeout=250")
        );
    }
}
