//! Webhook certificates: a CA (new, or kept from an earlier run) and a serving certificate for
//! the webhook's Service, for development clusters and for bootstrapping without cert-manager.

pub mod files;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, PublicKeyData as _, SanType, SerialNumber,
};
use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use thiserror::Error;
use time::OffsetDateTime;

/// Why certificates could not be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CertError {
    /// rcgen refused the parameters.
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A DNS name is not valid.
    #[error("invalid DNS name {0:?}")]
    DnsName(String),
    /// The serving certificate would have no name to be reached by.
    #[error("the serving certificate needs at least one DNS name or IP address")]
    NoNames,
    /// The CA certificate is not one readable certificate.
    #[error("not a usable CA certificate: {0}")]
    CaCertificate(String),
    /// The CA key is not a private key rcgen can sign with.
    #[error("not a usable CA private key (PKCS #8 PEM expected): {0}")]
    CaKey(rcgen::Error),
    /// The CA key belongs to another certificate.
    #[error("the CA key is not the key of the CA certificate")]
    KeyMismatch,
    /// The CA is not valid at the time of issuing.
    #[error("the CA certificate is valid from {not_before} until {not_after} only; make a new CA and rotate it")]
    CaExpired {
        /// Start of the CA's validity.
        not_before: OffsetDateTime,
        /// End of the CA's validity.
        not_after: OffsetDateTime,
    },
    /// The new serving certificate does not chain to the CA certificate.
    #[error("the new serving certificate does not verify against the CA certificate: {0}")]
    Chain(rustls::Error),
    /// The operating system's random source failed.
    #[error("no randomness available for serial numbers")]
    Random,
}

/// Bytes of randomness in a serial number (RFC 5280 allows up to 20 octets).
pub const SERIAL_LEN: usize = 16;

/// Random bytes that become a certificate's serial number.
pub type Serial = [u8; SERIAL_LEN];

/// Fresh serial randomness from the crypto provider's secure random source.
pub fn random_serial() -> Result<Serial, CertError> {
    let mut serial = [0u8; SERIAL_LEN];
    rustls::crypto::aws_lc_rs::default_provider().secure_random.fill(&mut serial).map_err(|_| CertError::Random)?;
    Ok(serial)
}

/// The DNS names and IP addresses a serving certificate is issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectNames {
    /// DNS names, in order, without repeats.
    pub dns: Vec<String>,
    /// IP addresses, in order, without repeats.
    pub ips: Vec<IpAddr>,
}

/// The names a Service is reached by from the API server, then `dns` and `ips`, then (with
/// `loopback`) `localhost`, 127.0.0.1 and ::1, which `kubectl port-forward` clients dial.
pub fn serving_names(service: &str, namespace: &str, dns: &[String], ips: &[IpAddr], loopback: bool) -> SubjectNames {
    let mut names = SubjectNames {
        dns: vec![
            service.to_owned(),
            format!("{service}.{namespace}"),
            format!("{service}.{namespace}.svc"),
            format!("{service}.{namespace}.svc.cluster.local"),
        ],
        ips: Vec::new(),
    };
    let loopback_dns = loopback.then(|| "localhost".to_owned());
    for d in dns.iter().cloned().chain(loopback_dns) {
        if !names.dns.contains(&d) {
            names.dns.push(d);
        }
    }
    let loopback_ips =
        if loopback { vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)] } else { vec![] };
    for ip in ips.iter().copied().chain(loopback_ips) {
        if !names.ips.contains(&ip) {
            names.ips.push(ip);
        }
    }
    names
}

/// A serving certificate and its key, as PEM.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The serving certificate.
    pub cert_pem: String,
    /// The serving key (PKCS #8).
    pub key_pem: String,
}

/// A CA that signs serving certificates: its certificate exactly as written, and its key.
pub struct Ca {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the key stays out of debug output
        f.debug_struct("Ca").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

impl Ca {
    /// A new CA, valid for ten years from `now`, named uniquely by `now` and `serial` so that
    /// clients holding several driftgate CAs in one bundle tell them apart. `organization`
    /// (dropped if longer than X.520 allows) says what it is for.
    pub fn generate(organization: &str, now: OffsetDateTime, serial: Serial) -> Result<Self, CertError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, ca_common_name(now, &serial));
        if organization.chars().count() <= UB_ORGANIZATION_NAME {
            params.distinguished_name.push(DnType::OrganizationName, organization);
        }
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.key_identifier_method = KeyIdMethod::Sha256;
        params.serial_number = Some(serial_number(serial));
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key)?;
        let (not_before, not_after) = (params.not_before, params.not_after);
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
            not_before,
            not_after,
        })
    }

    /// A CA kept from an earlier run (or made elsewhere): its certificate (PEM, exactly one, with
    /// basic constraints cA) and its private key (PKCS #8 PEM, the certificate's own). Certificates
    /// it issues carry its own subject and key identifier, so they chain to this very certificate.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CertError::CaCertificate(e.to_string()))?;
        let cert_der = match <[_; 1]>::try_from(certs) {
            Ok([one]) => one,
            Err(certs) => {
                return Err(CertError::CaCertificate(format!(
                    "expected exactly one certificate, found {}",
                    certs.len()
                )));
            }
        };
        let key = KeyPair::from_pem(key_pem).map_err(CertError::CaKey)?;
        let (not_before, not_after) = {
            let (_, x509) =
                x509_parser::parse_x509_certificate(&cert_der).map_err(|e| CertError::CaCertificate(e.to_string()))?;
            let is_ca = x509.basic_constraints().ok().flatten().is_some_and(|bc| bc.value.ca);
            if !is_ca {
                return Err(CertError::CaCertificate("it is not a CA (basic constraints without cA)".into()));
            }
            // the key bits alone: algorithm parameters may be encoded differently by another tool
            if x509.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
                return Err(CertError::KeyMismatch);
            }
            let time = |t: &x509_parser::time::ASN1Time| {
                OffsetDateTime::from_unix_timestamp(t.timestamp())
                    .map_err(|e| CertError::CaCertificate(format!("validity out of range: {e}")))
            };
            (time(&x509.validity().not_before)?, time(&x509.validity().not_after)?)
        };
        let issuer = Issuer::from_ca_cert_der(&cert_der, key).map_err(|e| CertError::CaCertificate(e.to_string()))?;
        Ok(Self { cert_pem: cert_pem.to_owned(), cert_der, issuer, not_before, not_after })
    }

    /// The CA certificate as PEM: what the webhook configuration's `caBundle` holds.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA key as PKCS #8 PEM, to keep for re-issuing.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A serving certificate for `names`, valid for one year from `now` but never beyond the CA,
    /// with subject and authority key identifiers, checked to chain to this CA at `now` before it
    /// is returned.
    pub fn issue(
        &self,
        common_name: &str,
        names: &SubjectNames,
        now: OffsetDateTime,
        serial: Serial,
    ) -> Result<Serving, CertError> {
        if now < self.not_before || now >= self.not_after {
            return Err(CertError::CaExpired { not_before: self.not_before, not_after: self.not_after });
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        for d in &names.dns {
            let name = rcgen::string::Ia5String::try_from(d.as_str()).map_err(|_| CertError::DnsName(d.clone()))?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        for ip in &names.ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        // ExplicitNoCa is what makes rcgen write the subject key identifier on a leaf
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_identifier_method = KeyIdMethod::Sha256;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(serial_number(serial));
        params.not_before = now - time::Duration::hours(1);
        params.not_after = (now + time::Duration::days(365)).min(self.not_after);
        let cert = params.signed_by(&key, &self.issuer)?;
        verify_chain(&self.cert_der, cert.der(), names, now)?;
        Ok(Serving { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

/// X.520's upper bound for an organization name.
const UB_ORGANIZATION_NAME: usize = 64;

/// `driftgate CA <UTC time> <16 hex digits of the serial>`: unique per CA, and at most 46
/// characters whatever the Service is called.
pub fn ca_common_name(now: OffsetDateTime, serial: &Serial) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    let hex =
        u64::from_be_bytes([serial[0], serial[1], serial[2], serial[3], serial[4], serial[5], serial[6], serial[7]]);
    format!(
        "driftgate CA {:04}{:02}{:02}T{:02}{:02}{:02}Z {hex:016x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// A positive serial of full length: the top bit cleared keeps DER from reading it as negative,
/// the next one set keeps it from being zero or shortened.
fn serial_number(mut serial: Serial) -> SerialNumber {
    serial[0] = (serial[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&serial)
}

/// Whether `leaf` chains to `ca` for the first of `names` at `now`, as a TLS client checks it:
/// a wrong key or an expired CA is caught here rather than by the API server.
fn verify_chain(
    ca: &CertificateDer<'static>,
    leaf: &CertificateDer<'_>,
    names: &SubjectNames,
    now: OffsetDateTime,
) -> Result<(), CertError> {
    let server_name = match (names.dns.first(), names.ips.first()) {
        (Some(dns), _) => ServerName::try_from(dns.clone()).map_err(|_| CertError::DnsName(dns.clone()))?,
        (None, Some(ip)) => ServerName::IpAddress((*ip).into()),
        (None, None) => return Err(CertError::NoNames),
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| CertError::CaCertificate(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| CertError::CaCertificate(e.to_string()))?;
    let seconds = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    verifier.verify_server_cert(leaf, &[], &server_name, &[], at).map_err(CertError::Chain)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW).unwrap()
    }

    fn names() -> SubjectNames {
        serving_names("driftgate", "driftgate-system", &[], &[], true)
    }

    #[test]
    fn service_dns_names_then_extras_then_loopback() {
        let n = serving_names(
            "driftgate",
            "driftgate-system",
            &["webhook.example.com".into(), "localhost".into()],
            &["10.0.0.1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
            true,
        );
        assert_eq!(
            n.dns,
            [
                "driftgate",
                "driftgate.driftgate-system",
                "driftgate.driftgate-system.svc",
                "driftgate.driftgate-system.svc.cluster.local",
                "webhook.example.com",
                "localhost"
            ]
        );
        let ips: Vec<IpAddr> = ["10.0.0.1", "127.0.0.1", "::1"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(n.ips, ips);
    }

    #[test]
    fn loopback_names_can_be_left_out() {
        let n = serving_names("driftgate", "ns", &[], &[], false);
        assert!(!n.dns.iter().any(|d| d == "localhost"));
        assert!(n.ips.is_empty());
    }

    #[test]
    fn ca_names_carry_time_and_serial() {
        let serial = [0xab; SERIAL_LEN];
        assert_eq!(ca_common_name(now(), &serial), "driftgate CA 20260101T000000Z abababababababab");
        let other = [0xac; SERIAL_LEN];
        assert_ne!(ca_common_name(now(), &serial), ca_common_name(now(), &other));
    }

    #[test]
    fn serials_are_positive_and_full_length() {
        for first in [0x00, 0x7f, 0x80, 0xff] {
            let mut serial = [0u8; SERIAL_LEN];
            serial[0] = first;
            let n = serial_number(serial);
            let bytes = n.as_ref();
            assert_eq!(bytes.len(), SERIAL_LEN);
            assert_eq!(bytes[0] & 0xc0, 0x40, "{first:#x}");
        }
    }

    #[test]
    fn issued_certificates_chain_to_a_new_and_to_a_reloaded_ca() {
        let ca = Ca::generate("driftgate.ns.svc", now(), [1; SERIAL_LEN]).unwrap();
        ca.issue("driftgate.ns.svc", &names(), now(), [2; SERIAL_LEN]).unwrap();
        let kept = Ca::load(ca.cert_pem(), &ca.key_pem()).unwrap();
        assert_eq!(kept.cert_pem(), ca.cert_pem());
        kept.issue("driftgate.ns.svc", &names(), now(), [3; SERIAL_LEN]).unwrap();
    }

    #[test]
    fn a_key_that_is_not_the_cas_is_caught() {
        let a = Ca::generate("a", now(), [1; SERIAL_LEN]).unwrap();
        let b = Ca::generate("b", now(), [2; SERIAL_LEN]).unwrap();
        let err = Ca::load(a.cert_pem(), &b.key_pem()).unwrap_err();
        assert!(matches!(err, CertError::KeyMismatch), "{err}");
    }

    #[test]
    fn a_serving_certificate_is_not_a_ca() {
        let a = Ca::generate("a", now(), [1; SERIAL_LEN]).unwrap();
        let leaf = a.issue("x", &names(), now(), [2; SERIAL_LEN]).unwrap();
        let err = Ca::load(&leaf.cert_pem, &leaf.key_pem).unwrap_err();
        assert!(err.to_string().contains("not a CA"), "{err}");
    }

    #[test]
    fn serving_certificates_end_with_their_ca() {
        let ca = Ca::generate("a", now(), [1; SERIAL_LEN]).unwrap();
        let late = now() + time::Duration::days(3600);
        let leaf = ca.issue("x", &names(), late, [2; SERIAL_LEN]).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(leaf.cert_pem.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert_eq!(cert.validity().not_after.timestamp(), ca.not_after.unix_timestamp());
    }

    #[test]
    fn an_expired_ca_is_caught() {
        let ca = Ca::generate("a", now(), [1; SERIAL_LEN]).unwrap();
        let later = now() + time::Duration::days(3651);
        let err = ca.issue("x", &names(), later, [3; SERIAL_LEN]).unwrap_err();
        assert!(matches!(err, CertError::CaExpired { .. }), "{err}");
    }

    #[test]
    fn a_ca_file_must_hold_one_certificate() {
        let a = Ca::generate("a", now(), [1; SERIAL_LEN]).unwrap();
        let b = Ca::generate("b", now(), [2; SERIAL_LEN]).unwrap();
        let both = format!("{}{}", a.cert_pem(), b.cert_pem());
        let err = Ca::load(&both, &a.key_pem()).unwrap_err();
        assert!(err.to_string().contains("exactly one certificate, found 2"), "{err}");
        let err = Ca::load("", &a.key_pem()).unwrap_err();
        assert!(err.to_string().contains("found 0"), "{err}");
        let err = Ca::load(a.cert_pem(), "not a key").unwrap_err();
        assert!(matches!(err, CertError::CaKey(_)), "{err}");
    }

    #[test]
    fn issuing_needs_a_name() {
        let ca = Ca::generate("a", now(), [1; SERIAL_LEN]).unwrap();
        let none = SubjectNames { dns: vec![], ips: vec![] };
        assert!(matches!(ca.issue("x", &none, now(), [2; SERIAL_LEN]), Err(CertError::NoNames)));
    }
}
