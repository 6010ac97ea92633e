//! `driftgate certs` makes certificates that a real TLS handshake accepts for the Service names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// One TLS handshake against a server using `dir`'s certificate, as `name`; true if it succeeds.
fn handshake(dir: &Path, name: &str) -> bool {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("tls.crt")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("tls.key")).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Arc::new(server);
    let accept = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(server).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, stream);
        let mut buf = [0u8; 5];
        if tls.read_exact(&mut buf).is_ok() {
            let _ = tls.write_all(b"pong!");
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(client), ServerName::try_from(name.to_owned()).unwrap()).unwrap();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let ok = tls.write_all(b"ping!").is_ok() && {
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).is_ok() && &buf == b"pong!"
    };
    drop(tls);
    let _ = accept.join();
    ok
}

#[test]
fn certs_for_the_service_pass_a_real_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(support::bin())
        .args([
            "certs",
            "--service",
            "driftgate",
            "--namespace",
            "driftgate-system",
            "--dns",
            "webhook.example.com",
            "--ip",
            "127.0.0.1",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle = String::from_utf8(out.stdout).unwrap();
    let ca = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    assert_eq!(bundle.trim(), driftgate::encoding::base64(ca.as_bytes()), "stdout is the caBundle");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("tls.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key is private");
    }
    for name in [
        "driftgate",
        "driftgate.driftgate-system",
        "driftgate.driftgate-system.svc",
        "driftgate.driftgate-system.svc.cluster.local",
        "webhook.example.com",
        "127.0.0.1",
    ] {
        assert!(handshake(dir.path(), name), "{name} should be accepted");
    }
    assert!(!handshake(dir.path(), "other.example.com"), "other names are refused");
}
