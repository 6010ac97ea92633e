//! Webhook certificates: a CA and a serving certificate for the webhook's Service, for
//! development clusters and for bootstrapping without cert-manager.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use thiserror::Error;

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
}

/// PEM texts of a fresh CA and a serving certificate signed by it.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The CA certificate (what the webhook configuration's `caBundle` holds).
    pub ca_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// The serving key (PKCS #8).
    pub key_pem: String,
}

/// The DNS names a Service is reached by from the API server, plus `extra`.
pub fn service_names(service: &str, namespace: &str, extra: &[String]) -> Vec<String> {
    let mut names = vec![
        service.to_owned(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ];
    for d in extra {
        if !names.contains(d) {
            names.push(d.clone());
        }
    }
    names
}

/// Makes a CA valid for ten years and a serving certificate valid for one, for `dns` and `ips`.
pub fn generate(common_name: &str, dns: &[String], ips: &[IpAddr]) -> Result<Bundle, CertError> {
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name.push(DnType::CommonName, format!("{common_name} CA"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca_params.not_before = now - time::Duration::hours(1);
    ca_params.not_after = now + time::Duration::days(3650);
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, common_name);
    for d in dns {
        let name = rcgen::string::Ia5String::try_from(d.as_str()).map_err(|_| CertError::DnsName(d.clone()))?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    for ip in ips {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(365);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Bundle { ca_pem: ca.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_dns_names() {
        let n = service_names("driftgate", "driftgate-system", &["webhook.example.com".into()]);
        assert_eq!(
            n,
            [
                "driftgate",
                "driftgate.driftgate-system",
                "driftgate.driftgate-system.svc",
                "driftgate.driftgate-system.svc.cluster.local",
                "webhook.example.com"
            ]
        );
    }
}
