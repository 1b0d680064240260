//! TLS material from configuration: PEM files read and checked once, at start.
//!
//! Every error names the configuration key and says what is wrong with its
//! file, so a bad certificate stops the process before it listens (exit code
//! 2), not at the first handshake. Smez uses the `ring` crypto provider only.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConfigError, HttpSettings};

/// The crypto provider of every TLS configuration Smez builds.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes `ring` the process-wide rustls provider, for libraries that build
/// their TLS configuration from the process default. Call once, early;
/// calling again is harmless.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An error about the file configured under `key`.
pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn read(key: &str, path: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| invalid(key, format!("cannot read `{path}`: {e}")))
}

/// A PEM file of one or more certificates, as configured under `key`.
#[derive(Clone)]
pub struct PemCerts {
    pub pem: Vec<u8>,
    pub certs: Vec<CertificateDer<'static>>,
}

impl PemCerts {
    pub fn load(key: &str, path: &str) -> Result<Self, ConfigError> {
        let pem = read(key, path)?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(key, format!("`{path}` is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(invalid(
                key,
                format!("`{path}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
            ));
        }
        Ok(Self { pem, certs })
    }
}

/// A PEM private key (PKCS#8, PKCS#1 or SEC1), as configured under `key`.
pub struct PemKey {
    pub pem: zeroize::Zeroizing<Vec<u8>>,
    pub key: PrivateKeyDer<'static>,
}

impl PemKey {
    pub fn load(key: &str, path: &str) -> Result<Self, ConfigError> {
        let pem = zeroize::Zeroizing::new(read(key, path)?);
        let parsed = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => invalid(
                key,
                format!("`{path}` holds no PEM private key (PKCS#8, PKCS#1 or SEC1)"),
            ),
            e => invalid(key, format!("`{path}` is not a valid PEM private key: {e}")),
        })?;
        Ok(Self { pem, key: parsed })
    }
}

impl std::fmt::Debug for PemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PemKey([redacted])")
    }
}

/// A server configuration for `certs` and `key`, refused with the key at fault
/// when the key is unusable or does not belong to the first certificate.
pub fn server_config(
    (cert_key, certs): (&str, &PemCerts),
    (key_key, key): (&str, &PemKey),
    client_auth: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<rustls::ServerConfig, ConfigError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let builder = match client_auth {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(certs.certs.clone(), key.key.clone_key())
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => invalid(
                key_key,
                format!("this key does not belong to the certificate in {cert_key}"),
            ),
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
                invalid(cert_key, format!("unusable certificate: {e}"))
            }
            e => invalid(key_key, format!("unusable private key: {e}")),
        })
}

/// The HTTPS configuration of the HTTP listener (`http.tls_cert_file`,
/// `http.tls_key_file`), or `None` for plain HTTP. HTTP/1.1 only.
pub fn http_server_config(http: &HttpSettings) -> Result<Option<Arc<rustls::ServerConfig>>, ConfigError> {
    if http.tls_cert_file.is_empty() {
        return Ok(None);
    }
    let certs = PemCerts::load("http.tls_cert_file", &http.tls_cert_file)?;
    let key = PemKey::load("http.tls_key_file", &http.tls_key_file)?;
    let mut config = server_config(("http.tls_cert_file", &certs), ("http.tls_key_file", &key), None)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}
