//! The HTTPS client of commands that read a running `serve` (`status --server`, `events`).

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

/// A client trusting `ca` (besides the system roots), or trusting anything when `insecure`.
/// `timeout` bounds a whole request; `None` leaves streams open.
pub(super) fn https_client(
    ca: Option<&Path>,
    insecure: bool,
    timeout: Option<Duration>,
) -> anyhow::Result<reqwest::blocking::Client> {
    let mut builder = reqwest::blocking::Client::builder().timeout(timeout).connect_timeout(Duration::from_secs(10));
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| format!("--ca {}", ca.display()))?;
        builder = builder.add_root_certificate(
            reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("--ca {}: not a PEM certificate", ca.display()))?,
        );
    }
    if insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    Ok(builder.build()?)
}
