//! `driftgate events`: reads the audit stream of a running `serve` (`GET /api/v1/events`), the
//! recent events and, with `--follow`, every new one as it happens.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::audit::sse::SseReader;

/// Arguments of `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The running `driftgate serve`, e.g. `https://driftgate.driftgate.svc:8443`.
    #[arg(long, env = "DRIFTGATE_SERVER")]
    pub server: String,
    /// CA certificate (PEM) that signed the server's certificate.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Skip verifying the server's certificate.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Keep reading: print new events as they happen, until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Only this source's events.
    #[arg(long)]
    pub source: Option<String>,
    /// Only events about this kind of object, e.g. `Deployment`.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only these event types, comma-separated prefixes: `drift`, `heal.applied`, `admission.denied`.
    #[arg(long = "type")]
    pub types: Option<String>,
    /// `text` (a line per event) or `json` (the CloudEvents, a JSON line each).
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// The kubeconfig whose user's token is sent.
    #[command(flatten)]
    pub cluster: super::live::ClusterArgs,
    /// The token to send instead.
    #[command(flatten)]
    pub credentials: super::server_client::CredentialArgs,
}

/// Output formats of `events`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Time, type, object, actor and paths.
    Text,
    /// The events as the server sends them.
    Json,
}

/// Runs `events`.
pub fn run(args: &EventsArgs) -> anyhow::Result<u8> {
    let client = super::server_client::ServerClient::new(
        args.ca.as_deref(),
        args.insecure_skip_tls_verify,
        None,
        &args.credentials,
        &args.cluster,
    )?;
    let base = args.server.trim_end_matches('/');
    let mut query = vec![("follow", args.follow.to_string())];
    for (k, v) in [("source", &args.source), ("kind", &args.kind), ("type", &args.types)] {
        if let Some(v) = v {
            query.push((k, v.clone()));
        }
    }
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let url = format!("{base}/api/v1/events?{}", query.join("&"));
    let resp = client.get(&url).header("accept", "text/event-stream").send().with_context(|| format!("GET {url}"))?;
    if !resp.status().is_success() {
        let code = resp.status();
        let body = resp.text().unwrap_or_default();
        let error = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["error"].as_str().map(str::to_owned));
        bail!("GET {url}: {code}: {}{}", error.as_deref().unwrap_or(body.trim()), client.hint(code));
    }
    let mut out = std::io::stdout().lock();
    let mut reader = SseReader::default();
    for line in BufReader::new(resp).lines() {
        let line = line.with_context(|| format!("reading {url}"))?;
        if let Some((event, data)) = reader.line(&line) {
            show(&mut out, &event, &data, args.output)?;
        }
    }
    Ok(super::EXIT_OK)
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&crate::encoding::hex(&[b]).to_uppercase());
        }
    }
    out
}

fn show(out: &mut impl std::io::Write, event: &str, data: &str, format: Format) -> anyhow::Result<()> {
    if event == "lagged" {
        eprintln!("driftgate: this reader fell behind the stream: {data}");
        return Ok(());
    }
    match format {
        Format::Json => writeln!(out, "{data}")?,
        Format::Text => {
            let e: Value = serde_json::from_str(data).with_context(|| "the server sent an event that is not JSON")?;
            writeln!(out, "{}", line(&e))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One event as a line: time, type (without `dev.driftgate.`), object, actor, verdict or action,
/// and paths.
pub fn line(e: &Value) -> String {
    let d = &e["data"];
    let short = e["type"].as_str().unwrap_or("").trim_start_matches("dev.driftgate.");
    let object = e["subject"].as_str().or_else(|| d["source"].as_str()).unwrap_or("-");
    let actor = match (d["actor"]["username"].as_str(), d["actor"]["fieldManager"].as_str()) {
        (Some(u), Some(m)) => format!("{u} ({m})"),
        (Some(u), None) => u.to_owned(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => "-".to_owned(),
    };
    let paths: Vec<&str> = d["paths"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut text = format!("{}  {short}  {object}  {actor}", e["time"].as_str().unwrap_or("-"));
    if !paths.is_empty() {
        text.push_str("  ");
        text.push_str(&paths.join(","));
    }
    if let Some(err) = d["error"].as_str() {
        text.push_str("  error: ");
        text.push_str(err);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("drift,heal.applied"), "drift%2Cheal.applied");
    }

    #[test]
    fn a_line_per_event() {
        let e = serde_json::json!({"type": "dev.driftgate.drift.detected", "time": "2026-11-29T00:00:00Z",
            "subject": "apps/Deployment/demo/web",
            "data": {"actor": {"username": "alice", "fieldManager": "kubectl-edit"}, "paths": ["spec.replicas"]}});
        assert_eq!(
            line(&e),
            "2026-11-29T00:00:00Z  drift.detected  apps/Deployment/demo/web  alice (kubectl-edit)  spec.replicas"
        );
    }
}
