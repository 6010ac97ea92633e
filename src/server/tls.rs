//! TLS for the webhook: rustls with TLS 1.2 and 1.3 only, and certificates reloaded without a
//! restart. Kubernetes swaps a mounted Secret by re-pointing a `..data` symlink, so the watcher
//! compares what the paths resolve to (and their contents' size and time), not just the names.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

/// Why TLS could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A PEM file could not be read or parsed.
    #[error("{}: {message}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the certificate and key.
    #[error("certificate and key do not form a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Reads a certificate chain and key into a rustls server configuration.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let pem = |path: &Path, message: String| ServerError::Pem { path: path.to_owned(), message };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What a path currently is: its resolved target, size and modification time.
type Fingerprint = (PathBuf, u64, SystemTime);

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let real = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    Some((real, meta.len(), meta.modified().ok()?))
}

/// Polls the certificate and key and swaps them into the running server when they change.
pub struct CertWatcher {
    cert: PathBuf,
    key: PathBuf,
    seen: Option<(Fingerprint, Fingerprint)>,
}

impl CertWatcher {
    /// A watcher of these two files.
    pub fn new(cert: &Path, key: &Path) -> Self {
        let mut w = Self { cert: cert.to_owned(), key: key.to_owned(), seen: None };
        w.seen = w.now();
        w
    }

    fn now(&self) -> Option<(Fingerprint, Fingerprint)> {
        Some((fingerprint(&self.cert)?, fingerprint(&self.key)?))
    }

    /// Runs forever: every `every`, reloads when the files changed. A broken new pair is
    /// reported and the old one keeps serving; in-flight connections keep their certificate.
    pub async fn run(mut self, config: RustlsConfig, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            let now = self.now();
            if now.is_none() || now == self.seen {
                continue;
            }
            match load_tls(&self.cert, &self.key) {
                Ok(new) => {
                    config.reload_from_config(new);
                    self.seen = now;
                    eprintln!("driftgate: reloaded the TLS certificate from {}", self.cert.display());
                }
                // a half-written pair (certificate updated, key not yet): try again next tick
                Err(e) => eprintln!("driftgate: keeping the current TLS certificate: {e}"),
            }
        }
    }
}
