//! `driftgate certs` makes certificates that a real TLS handshake (and OpenSSL, when installed)
//! accepts for the Service names and localhost, never replaces files unasked, and keeps its CA so
//! that serving certificates are re-issued under it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read as _, Write as _};
use std::net::IpAddr;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// One TLS handshake against a server using `dir`'s certificate, trusting `dir`'s CA, as `name`;
/// true if it succeeds.
fn handshake(dir: &Path, name: &str) -> bool {
    handshake_trusting(&dir.join("ca.crt"), dir, name)
}

/// One TLS handshake against a server using `dir`'s certificate, trusting the CAs in `ca`.
fn handshake_trusting(ca: &Path, dir: &Path, name: &str) -> bool {
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
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
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

/// Runs `driftgate certs` for Service driftgate in driftgate-system into `dir`, with `extra`.
fn certs(dir: &Path, extra: &[&str]) -> Output {
    Command::new(support::bin())
        .args(["certs", "--service", "driftgate", "--namespace", "driftgate-system", "--out"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failed(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "no caBundle on failure");
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// All four files of `dir`, to compare before and after a run.
fn snapshot(dir: &Path) -> Vec<Vec<u8>> {
    ["ca.crt", "ca.key", "tls.crt", "tls.key"].iter().map(|f| read(&dir.join(f))).collect()
}

/// What the tests check of a certificate.
#[derive(Debug)]
struct Facts {
    subject: String,
    issuer: String,
    serial: Vec<u8>,
    ski: Option<Vec<u8>>,
    aki: Option<Vec<u8>>,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
}

fn facts(path: &Path) -> Facts {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    let pem_text = read(path);
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem_text).unwrap();
    let cert = pem.parse_x509().unwrap();
    let mut facts = Facts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial().to_vec(),
        ski: None,
        aki: None,
        dns: vec![],
        ips: vec![],
    };
    for ext in cert.iter_extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => facts.ski = Some(k.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => facts.aki = a.key_identifier.as_ref().map(|k| k.0.to_vec()),
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => facts.dns.push((*d).to_owned()),
                        GeneralName::IPAddress(b) => facts.ips.push(match b.len() {
                            4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()),
                            _ => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()),
                        }),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    facts
}

#[test]
fn certs_for_the_service_pass_a_real_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = ok(&certs(dir.path(), &["--dns", "webhook.example.com", "--ip", "10.1.2.3"]));
    let ca = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    assert_eq!(bundle.trim(), driftgate::encoding::base64(ca.as_bytes()), "stdout is the caBundle");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for (file, want) in [("tls.key", 0o600), ("ca.key", 0o600), ("tls.crt", 0o644), ("ca.crt", 0o644)] {
            let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & want, mode, "{file} is at most {want:o}, is {mode:o}");
        }
        let mode = std::fs::metadata(dir.path().join("ca.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the CA key is private");
    }
    let leaf = facts(&dir.path().join("tls.crt"));
    assert!(leaf.dns.iter().any(|d| d == "localhost"), "{leaf:?}");
    assert!(leaf.ips.contains(&"127.0.0.1".parse().unwrap()), "{leaf:?}");
    for name in [
        "driftgate",
        "driftgate.driftgate-system",
        "driftgate.driftgate-system.svc",
        "driftgate.driftgate-system.svc.cluster.local",
        "webhook.example.com",
        "10.1.2.3",
        "localhost",
        "127.0.0.1",
        "::1",
    ] {
        assert!(handshake(dir.path(), name), "{name} should be accepted");
    }
    assert!(!handshake(dir.path(), "other.example.com"), "other names are refused");
}

#[test]
fn no_localhost_leaves_the_loopback_names_out() {
    let dir = tempfile::tempdir().unwrap();
    ok(&certs(dir.path(), &["--no-localhost"]));
    let leaf = facts(&dir.path().join("tls.crt"));
    assert!(!leaf.dns.iter().any(|d| d == "localhost") && leaf.ips.is_empty(), "{leaf:?}");
    assert!(handshake(dir.path(), "driftgate.driftgate-system.svc"));
    assert!(!handshake(dir.path(), "localhost"), "localhost is refused");
}

#[test]
fn a_second_run_refuses_to_replace_anything_without_force() {
    let dir = tempfile::tempdir().unwrap();
    ok(&certs(dir.path(), &[]));
    let before = snapshot(dir.path());
    let err = failed(&certs(dir.path(), &[]));
    let ca = dir.path().join("ca.crt");
    assert!(err.contains(&format!("{} already exists", ca.display())), "{err}");
    assert!(err.contains("--force") && err.contains("--renew"), "{err}");
    assert_eq!(snapshot(dir.path()), before, "nothing changed");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 4, "no temporary files left: {names:?}");

    // a folder holding only serving files from elsewhere is not overwritten either
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("tls.key"), "mine").unwrap();
    let err = failed(&certs(other.path(), &[]));
    assert!(err.contains(&format!("{} already exists", other.path().join("tls.key").display())), "{err}");
    assert_eq!(read(&other.path().join("tls.key")), b"mine");
    assert!(!other.path().join("ca.crt").exists(), "nothing written before the refusal");
}

#[test]
fn force_replaces_everything_with_a_new_ca() {
    let dir = tempfile::tempdir().unwrap();
    let first = ok(&certs(dir.path(), &[]));
    let before = snapshot(dir.path());
    let second = ok(&certs(dir.path(), &["--force"]));
    let after = snapshot(dir.path());
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_ne!(b, a, "file {i} replaced");
    }
    assert_ne!(first, second, "a new caBundle");
    assert!(handshake(dir.path(), "driftgate.driftgate-system.svc"));
    let err = failed(&certs(dir.path(), &["--force", "--renew"]));
    assert!(err.contains("--renew"), "{err}");
}

#[test]
fn renew_keeps_the_ca_byte_identical_and_reissues_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = ok(&certs(dir.path(), &[]));
    let before = snapshot(dir.path());
    let old_leaf = facts(&dir.path().join("tls.crt"));
    let renewed = certs(dir.path(), &["--renew", "--dns", "webhook.example.com"]);
    assert_eq!(ok(&renewed), bundle, "the caBundle does not change");
    assert!(String::from_utf8_lossy(&renewed.stderr).contains("unchanged"));
    let after = snapshot(dir.path());
    assert_eq!(after[0], before[0], "ca.crt byte-identical");
    assert_eq!(after[1], before[1], "ca.key byte-identical");
    assert_ne!(after[2], before[2], "new tls.crt");
    assert_ne!(after[3], before[3], "new tls.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("tls.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the renewed key is private");
    }
    let ca = facts(&dir.path().join("ca.crt"));
    let leaf = facts(&dir.path().join("tls.crt"));
    assert_eq!(leaf.issuer, ca.subject);
    assert_eq!(leaf.aki, ca.ski, "the authority key identifier is the kept CA's");
    assert_ne!(leaf.serial, old_leaf.serial);
    assert!(handshake(dir.path(), "webhook.example.com"), "the new certificate verifies against the kept ca.crt");
    assert!(handshake(dir.path(), "localhost"));
}

#[test]
fn renew_without_a_kept_ca_key_says_which_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    ok(&certs(dir.path(), &[]));
    std::fs::remove_file(dir.path().join("ca.key")).unwrap();
    let before = read(&dir.path().join("tls.crt"));
    let err = failed(&certs(dir.path(), &["--renew"]));
    assert!(err.contains(&dir.path().join("ca.key").display().to_string()), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(read(&dir.path().join("tls.crt")), before);
}

#[test]
fn two_cas_differ_in_subject_serial_and_key_identifiers() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ok(&certs(a.path(), &[]));
    ok(&certs(b.path(), &[]));
    let (ca_a, ca_b) = (facts(&a.path().join("ca.crt")), facts(&b.path().join("ca.crt")));
    assert_ne!(ca_a.subject, ca_b.subject);
    assert!(
        ca_a.subject.contains("driftgate CA ") && ca_a.subject.contains("driftgate.driftgate-system.svc"),
        "{ca_a:?}"
    );
    assert_ne!(ca_a.serial, ca_b.serial);
    assert!(ca_a.serial.len() >= 16, "random serials: {:?}", ca_a.serial);
    let (ski_a, ski_b) = (ca_a.ski.clone().unwrap(), ca_b.ski.clone().unwrap());
    assert_ne!(ski_a, ski_b);
    for (dir, ca) in [(a.path(), &ca_a), (b.path(), &ca_b)] {
        let leaf = facts(&dir.join("tls.crt"));
        assert!(leaf.ski.is_some(), "the serving certificate has a subject key identifier");
        assert_ne!(leaf.ski, ca.ski);
        assert_eq!(leaf.aki, ca.ski, "the serving certificate names its CA's key");
        assert_eq!(leaf.issuer, ca.subject);
    }
}

#[test]
fn a_given_ca_issues_without_its_key_being_copied() {
    let (ca_dir, out, stranger) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bundle = ok(&certs(ca_dir.path(), &[]));
    let (cert, key) = (ca_dir.path().join("ca.crt"), ca_dir.path().join("ca.key"));
    let given = ["--ca-cert", cert.to_str().unwrap(), "--ca-key", key.to_str().unwrap()];
    assert_eq!(ok(&certs(out.path(), &given)), bundle);
    assert_eq!(read(&out.path().join("ca.crt")), read(&cert), "ca.crt is a copy");
    assert!(!out.path().join("ca.key").exists(), "the CA key stays where it was");
    assert!(handshake(out.path(), "driftgate.driftgate-system.svc"));
    // renewing under the given CA leaves the identical ca.crt alone
    let renewed: Vec<&str> = given.iter().copied().chain(["--renew"]).collect();
    ok(&certs(out.path(), &renewed));
    assert!(handshake(out.path(), "localhost"));

    ok(&certs(stranger.path(), &[]));
    let mixed = stranger.path().join("ca.key");
    let err = failed(&certs(
        tempfile::tempdir().unwrap().path(),
        &["--ca-cert", cert.to_str().unwrap(), "--ca-key", mixed.to_str().unwrap()],
    ));
    assert!(err.contains("the CA key is not the key of the CA certificate"), "{err}");
    assert!(err.contains(&mixed.display().to_string()), "{err}");
}

/// OpenSSL picks a trust anchor by subject and key identifier; with both unique, a client given
/// a bundle of an old and a new CA verifies certificates from either (the rotation window).
#[test]
fn openssl_verifies_against_a_bundle_of_old_and_new_ca() {
    let Ok(found) = Command::new("openssl").arg("version").output() else {
        eprintln!("note: openssl is not installed; skipping the OpenSSL bundle check");
        return;
    };
    if !found.status.success() {
        eprintln!("note: openssl does not run; skipping the OpenSSL bundle check");
        return;
    }
    let (old, new, stranger, work) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    ok(&certs(old.path(), &[]));
    ok(&certs(new.path(), &[]));
    ok(&certs(stranger.path(), &[]));
    let old_ca = read(&old.path().join("ca.crt"));
    let new_ca = read(&new.path().join("ca.crt"));
    let old_first = work.path().join("old-new.pem");
    let new_first = work.path().join("new-old.pem");
    std::fs::write(&old_first, [old_ca.as_slice(), new_ca.as_slice()].concat()).unwrap();
    std::fs::write(&new_first, [new_ca.as_slice(), old_ca.as_slice()].concat()).unwrap();
    let first_old = work.path().join("first-old.crt");
    std::fs::copy(old.path().join("tls.crt"), &first_old).unwrap();
    let renewed_old = work.path().join("renewed-old.crt");
    ok(&certs(old.path(), &["--renew"]));
    std::fs::copy(old.path().join("tls.crt"), &renewed_old).unwrap();
    let verify = |bundle: &Path, cert: &Path, host: &str| -> Output {
        Command::new("openssl")
            .args(["verify", "-purpose", "sslserver", "-verify_hostname", host, "-CAfile"])
            .arg(bundle)
            .arg(cert)
            .output()
            .unwrap()
    };
    for bundle in [&old_first, &new_first] {
        for cert in [new.path().join("tls.crt"), first_old.clone(), renewed_old.clone()] {
            for host in ["localhost", "driftgate.driftgate-system.svc"] {
                let out = verify(bundle, &cert, host);
                assert!(
                    out.status.success(),
                    "{} against {} as {host}: {}{}",
                    cert.display(),
                    bundle.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let out = verify(bundle, &stranger.path().join("tls.crt"), "localhost");
        assert!(!out.status.success(), "a third CA's certificate is refused");
    }
    assert!(handshake_trusting(&old_first, new.path(), "localhost"), "rustls agrees");
    assert!(handshake_trusting(&new_first, old.path(), "localhost"), "rustls agrees");
}
