//! HTTPS on the server's own port: the certificate chain and key from
//! PEM files, offered by a resolver that rereads the files when their
//! content changes (a renewal, `tls init` run again, certbot's deploy),
//! so no restart and no live session is cut. A file that fails to load
//! leaves the previous certificate in service and says why once.
//! `authority` makes the town's own certificate authority for a network
//! with no public name.

pub mod authority;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// How often the files are compared with what is in service.
pub const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// The certificate chain and private key files.
#[derive(Debug, Clone)]
pub struct CertificateFiles {
    pub chain: PathBuf,
    pub key: PathBuf,
}

/// The files' bytes, to tell a change.
type Contents = (Vec<u8>, Vec<u8>);

impl CertificateFiles {
    fn read(&self) -> anyhow::Result<Contents> {
        let read = |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
        Ok((read(&self.chain)?, read(&self.key)?))
    }

    /// Parses the files' contents into what rustls serves: the chain's
    /// certificates, and the key, which must be the first certificate's.
    fn certified_key(&self, (chain, key): &Contents) -> anyhow::Result<Arc<CertifiedKey>> {
        let certificates = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not a PEM certificate chain", self.chain.display()))?;
        anyhow::ensure!(!certificates.is_empty(), "{} holds no certificate", self.chain.display());
        let key = PrivateKeyDer::from_pem_slice(key)
            .with_context(|| format!("{} is not a PEM private key", self.key.display()))?;
        let certified = CertifiedKey::from_der(certificates, key, &rustls::crypto::ring::default_provider())
            .with_context(|| format!("{} is not the key of {}", self.key.display(), self.chain.display()))?;
        Ok(Arc::new(certified))
    }
}

/// The certificate in service, replaced when the files change.
#[derive(Debug)]
struct ReloadingCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
    }
}

/// Loads the files (an error names the file and what is wrong with it) and
/// makes the acceptor for `--listen`, HTTP/1.1 over TLS 1.2 or 1.3. A task
/// checks the files every `RELOAD_CHECK` for as long as the acceptor lives.
pub fn acceptor(files: CertificateFiles) -> anyhow::Result<TlsAcceptor> {
    let contents = files.read()?;
    let resolver = Arc::new(ReloadingCertificate { current: RwLock::new(files.certified_key(&contents)?) });
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("the TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio::spawn(reload_when_changed(files, contents, Arc::downgrade(&resolver)));
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn reload_when_changed(files: CertificateFiles, mut in_service: Contents, resolver: Weak<ReloadingCertificate>) {
    let mut refused: Option<Contents> = None;
    loop {
        tokio::time::sleep(RELOAD_CHECK).await;
        let Some(resolver) = resolver.upgrade() else { return };
        let contents = match files.read() {
            Ok(contents) => contents,
            Err(error) => {
                tracing::debug!(error = format!("{error:#}"), "the certificate files cannot be read now");
                continue;
            }
        };
        if contents == in_service || refused.as_ref() == Some(&contents) {
            continue;
        }
        match files.certified_key(&contents) {
            Ok(certified) => {
                *resolver.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = certified;
                tracing::info!(chain = %files.chain.display(), "a new certificate is in service");
                in_service = contents;
                refused = None;
            }
            Err(error) => {
                // Often a renewal half written (the chain before the key):
                // the next check sees it whole.
                tracing::warn!(
                    error = format!("{error:#}"),
                    "the changed certificate files were not taken; the previous certificate stays in service"
                );
                refused = Some(contents);
            }
        }
    }
}
