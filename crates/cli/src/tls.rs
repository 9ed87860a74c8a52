//! TLS on the listeners: a listener's certificate chain and private key (PEM files) become the
//! rustls server config it accepts connections with (the ring provider, ALPN `h2` then
//! `http/1.1`). Everything is read and checked at start-up, before any listener is bound: a file
//! that cannot be read, holds no PEM certificate or key, or a key that does not match its
//! certificate stops the start with a message naming the file.
//!
//! Which protocol a connection then speaks is its negotiated ALPN ([`negotiated_h2`]); serving it
//! is the front door's job.

use anyhow::{anyhow, bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// ALPN's name for HTTP/2 over TLS (RFC 9113, section 3.2).
const ALPN_H2: &[u8] = b"h2";
/// ALPN's name for HTTP/1.1.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A listener's certificate and key files, as the flags or the config file name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, PEM, the server's own certificate first.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The pair, when both are given; neither: no TLS; one alone is refused, naming the missing
    /// one as `names` spell them (the certificate's, the key's).
    pub fn pair(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        names: (&str, &str),
    ) -> Result<Option<TlsFiles>> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
            (None, None) => Ok(None),
            (Some(_), None) => bail!("{} needs {} with it", names.0, names.1),
            (None, Some(_)) => bail!("{} needs {} with it", names.1, names.0),
        }
    }

    /// Reads and checks both files: the acceptor a listener serves TLS with.
    pub fn acceptor(&self) -> Result<TlsAcceptor> {
        let chain = read_chain(&self.cert)?;
        let key = read_key(&self.key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("the TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| self.refused(e))?;
        config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Why rustls refused the pair, naming the files.
    fn refused(&self, error: rustls::Error) -> anyhow::Error {
        let (cert, key) = (self.cert.display(), self.key.display());
        match error {
            rustls::Error::InconsistentKeys(_) => {
                anyhow!("TLS key {key} does not match the certificate {cert}")
            }
            other => anyhow!("TLS certificate {cert} with key {key}: {other}"),
        }
    }
}

/// The certificates of a PEM file, in order.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(path, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("TLS certificate {}: not PEM: {e}", path.display()))?;
    if chain.is_empty() {
        bail!(
            "TLS certificate {}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(chain)
}

/// The first private key of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read(path, "key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => anyhow!(
            "TLS key {}: no PEM private key in it (PKCS#8, PKCS#1 or SEC1)",
            path.display()
        ),
        other => anyhow!("TLS key {}: not PEM: {other}", path.display()),
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading the TLS {what} {}", path.display()))
}

/// Whether the client and the server agreed on HTTP/2 during the handshake.
pub fn negotiated_h2<IO>(stream: &TlsStream<IO>) -> bool {
    stream.get_ref().1.alpn_protocol() == Some(ALPN_H2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: (&str, &str) = ("--tls-cert", "--tls-key");

    /// Why `files` cannot serve, with its causes.
    fn refusal(files: &TlsFiles) -> String {
        match files.acceptor() {
            Ok(_) => panic!("{files:?} was accepted"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn a_certificate_needs_its_key_and_a_key_its_certificate() {
        let cert = || Some(PathBuf::from("c.pem"));
        let key = || Some(PathBuf::from("k.pem"));
        let alone = TlsFiles::pair(cert(), None, NAMES).expect_err("a certificate alone");
        assert_eq!(alone.to_string(), "--tls-cert needs --tls-key with it");
        let alone = TlsFiles::pair(None, key(), NAMES).expect_err("a key alone");
        assert_eq!(alone.to_string(), "--tls-key needs --tls-cert with it");
        assert_eq!(TlsFiles::pair(None, None, NAMES).expect("none"), None);
        let both = TlsFiles::pair(cert(), key(), NAMES).expect("both");
        assert_eq!(both.map(|f| f.key), key());
    }

    #[test]
    fn a_file_without_pem_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").expect("written");
        let files = TlsFiles {
            cert: garbage.clone(),
            key: garbage.clone(),
        };
        let error = refusal(&files);
        assert!(error.contains("no PEM certificate"), "{error}");
        assert!(error.contains(&garbage.display().to_string()), "{error}");
        let error = read_key(&garbage).expect_err("no key").to_string();
        assert!(error.contains("no PEM private key"), "{error}");
    }

    #[test]
    fn a_missing_file_is_refused_with_its_name() {
        let files = TlsFiles {
            cert: PathBuf::from("/nonexistent/cert.pem"),
            key: PathBuf::from("/nonexistent/key.pem"),
        };
        let error = refusal(&files);
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
    }
}
