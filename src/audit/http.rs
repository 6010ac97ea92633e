//! The HTTP sink: events are spooled on disk first, then POSTed in batches as a CloudEvents
//! batch (`application/cloudevents-batch+json`). Failures retry with exponential backoff; a batch
//! the endpoint refuses for good (a 4xx other than 408 and 429) is set aside in
//! `SPOOL/rejected.jsonl`, never deleted. Redirects are not followed: a 301, 302 or 303 would
//! turn the POST into a GET without its body, and a 2xx to that GET would pass for delivery.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use super::spool::{Batch, Spool};
use crate::config::Sink as SinkConfig;

/// How one POST ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// 2xx: the batch is delivered.
    Delivered,
    /// Try again later: a connection failure, timeout, 408, 429 or 5xx.
    Retry(String),
    /// The endpoint will never take this batch.
    Rejected(String),
}

/// The endpoint and its client.
pub struct Endpoint {
    url: String,
    /// The URL with its credentials masked, for messages.
    shown: String,
    client: reqwest::blocking::Client,
    token_file: Option<PathBuf>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.shown)
            .field("token_file", &self.token_file)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A client for the configured endpoint.
    pub fn new(config: &SinkConfig) -> io::Result<Self> {
        let url = config.url.clone().ok_or_else(|| io::Error::other("audit http sink: url is required"))?;
        match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(_) | Err(_) => {
                let shown = crate::redact::url(&url);
                return Err(io::Error::other(format!("audit http sink url {shown:?}: not an http(s) URL")));
            }
        }
        let mut builder =
            reqwest::blocking::Client::builder().timeout(config.timeout).redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| io::Error::other(format!("audit http sink caFile {}: {e}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| io::Error::other(format!("audit http sink caFile {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(io::Error::other)?;
        Ok(Self { shown: crate::redact::url(&url), url, client, token_file: config.bearer_token_file.clone() })
    }

    /// POSTs one batch.
    pub fn post(&self, batch: &Batch) -> Delivery {
        let mut body = Vec::with_capacity(batch.lines.iter().map(|l| l.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, line) in batch.lines.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(line);
        }
        body.push(b']');
        let mut request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/cloudevents-batch+json")
            .body(body);
        if let Some(file) = &self.token_file {
            match std::fs::read_to_string(file) {
                Ok(token) => request = request.bearer_auth(token.trim()),
                Err(e) => return Delivery::Retry(format!("bearerTokenFile {}: {e}", file.display())),
            }
        }
        match request.send() {
            Ok(r) => classify(r.status().as_u16(), || format!("POST {}: HTTP {}", self.shown, r.status())),
            // reqwest's errors quote the URL as given, userinfo included
            Err(e) => Delivery::Retry(format!("POST {}: {}", self.shown, crate::redact::text(&e.to_string()))),
        }
    }
}

/// What an answer's status means for the batch. Only a 2xx delivers; only a 4xx that says the
/// request itself is wrong (not 408 Request Timeout or 429 Too Many Requests) refuses it for
/// good. Everything else (5xx, 3xx, 1xx, anything unknown) is the endpoint not taking it now.
pub fn classify(code: u16, why: impl FnOnce() -> String) -> Delivery {
    match code {
        200..=299 => Delivery::Delivered,
        408 | 429 => Delivery::Retry(why()),
        400..=499 => Delivery::Rejected(why()),
        _ => Delivery::Retry(why()),
    }
}

/// The wait before retry number `failures` (1-based): 250 ms doubling, at most 30 s.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    Duration::from_millis(250u64.saturating_mul(1 << exp)).min(Duration::from_secs(30))
}

/// Sets a refused batch aside in `rejected.jsonl` beside the spool, synced, and marks it done.
pub fn reject(spool: &mut Spool, batch: &Batch) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(spool.dir().join("rejected.jsonl"))?;
    for line in &batch.lines {
        f.write_all(line)?;
        f.write_all(b"\n")?;
    }
    f.sync_data()?;
    spool.commit(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_at_start() {
        let mut c = SinkConfig::new(crate::config::SinkType::Http);
        c.url = Some("audit.example.com/events".into());
        let err = Endpoint::new(&c).unwrap_err().to_string();
        assert!(err.contains("not an http(s) URL"), "{err}");
        c.url = Some("https://audit.example.com/events".into());
        assert!(Endpoint::new(&c).is_ok());
    }

    #[test]
    fn only_a_2xx_delivers_and_only_a_request_error_refuses() {
        let why = || "why".to_owned();
        for code in [200, 202, 204] {
            assert_eq!(classify(code, why), Delivery::Delivered, "{code}");
        }
        for code in [500, 502, 503, 504, 408, 429, 301, 302, 303, 307, 308, 100, 600] {
            assert_eq!(classify(code, why), Delivery::Retry("why".into()), "{code}");
        }
        for code in [400, 401, 403, 404, 413, 422] {
            assert_eq!(classify(code, why), Delivery::Rejected("why".into()), "{code}");
        }
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(3), Duration::from_secs(1));
        assert_eq!(backoff(40), Duration::from_secs(30));
    }
}
