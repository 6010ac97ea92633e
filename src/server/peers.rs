//! Following the other replicas' audit streams, so that the replica that detects and heals a drift
//! knows who let the change in even when another replica's webhook admitted it. Each peer's
//! `GET /api/v1/events` is read for admitted hand changes (`warned`, `audited`, `breakglass`),
//! which become trails ([`crate::telemetry::trails`]): the drift and heal events name the user,
//! and their spans link to the admission span. Peers are fixed URLs, or the addresses of a
//! (headless) Service, resolved every 30 s. Best effort: a change detected before its admission
//! event arrives is attributed to its field manager only. Each connection sends a bearer token
//! (by default the pod's service account token, re-read every time, as the kubelet rotates it),
//! which the peer checks like any reader's: `get` on `events.driftgate.dev`.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::AppState;
use crate::access::Token;
use crate::audit::CloudEvent;
use crate::audit::sse::SseReader;

/// Where the peers are.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    /// Fixed peer URLs, e.g. `https://driftgate-1.example:8443`.
    pub urls: Vec<String>,
    /// `HOST:PORT` of a Service whose addresses are the replicas, re-resolved every 30 s.
    pub service: Option<String>,
    /// The name the replicas' certificate is for, used as the TLS server name for `service`.
    pub tls_name: Option<String>,
    /// The CA that signed the replicas' certificate.
    pub ca: Option<PathBuf>,
    /// The file holding the bearer token sent to peers.
    pub token_file: Option<PathBuf>,
}

/// Where the kubelet mounts a pod's service account token.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The admitted hand changes of a peer's stream.
const QUERY: &str = "/api/v1/events?type=admission.warned,admission.audited,admission.breakglass";

/// Starts following the peers; nothing to do without any.
pub fn spawn(state: &Arc<AppState>, peers: &Peers) -> std::io::Result<()> {
    let ca = match &peers.ca {
        Some(path) => Some(
            std::fs::read(path)
                .and_then(|pem| reqwest::Certificate::from_pem(&pem).map_err(std::io::Error::other))
                .map_err(|e| std::io::Error::other(format!("--peer-ca {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let client = move |resolve: Option<(&str, SocketAddr)>| {
        // a stream has no end, so no overall timeout; keep-alive probes find a peer that vanished
        let mut b = reqwest::blocking::Client::builder()
            .timeout(None)
            .connect_timeout(Duration::from_secs(5))
            .tcp_keepalive(Duration::from_secs(30));
        if let Some(ca) = &ca {
            b = b.add_root_certificate(ca.clone());
        }
        if let Some((name, addr)) = resolve {
            b = b.resolve(name, addr);
        }
        b.build().map_err(std::io::Error::other)
    };
    for url in &peers.urls {
        let (state, client, base) = (Arc::clone(state), client(None)?, url.trim_end_matches('/').to_owned());
        let token = peers.token_file.clone();
        std::thread::Builder::new()
            .name("peer".into())
            .spawn(move || follow(&base, &client, token.as_deref(), &state, &AtomicBool::new(false)))?;
    }
    let Some(service) = peers.service.clone() else { return Ok(()) };
    let name = peers
        .tls_name
        .clone()
        .unwrap_or_else(|| service.rsplit_once(':').map_or(service.clone(), |(h, _)| h.to_owned()));
    let port = service.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).unwrap_or(8443);
    let state = Arc::clone(state);
    let token_file = peers.token_file.clone();
    let build = move |addr: SocketAddr| client(Some((&name, addr))).map(|c| (c, format!("https://{name}:{port}")));
    std::thread::Builder::new().name("peer-discovery".into()).spawn(move || {
        let mut following: HashMap<SocketAddr, Arc<AtomicBool>> = HashMap::new();
        loop {
            match service.to_socket_addrs() {
                Ok(addrs) => {
                    let now: Vec<SocketAddr> = addrs.collect();
                    following.retain(|addr, stop| {
                        let keep = now.contains(addr);
                        if !keep {
                            stop.store(true, Ordering::Relaxed);
                        }
                        keep
                    });
                    for addr in now {
                        if following.contains_key(&addr) {
                            continue;
                        }
                        let Ok((client, base)) = build(addr) else { continue };
                        let stop = Arc::new(AtomicBool::new(false));
                        let (st, flag, token) = (Arc::clone(&state), Arc::clone(&stop), token_file.clone());
                        let spawned = std::thread::Builder::new()
                            .name("peer".into())
                            .spawn(move || follow(&base, &client, token.as_deref(), &st, &flag));
                        if spawned.is_ok() {
                            following.insert(addr, stop);
                        }
                    }
                }
                Err(e) => eprintln!("driftgate: peers: cannot resolve {service}: {e}"),
            }
            std::thread::sleep(Duration::from_secs(30));
        }
    })?;
    Ok(())
}

/// The token in `path`; a file that cannot be read or holds no token is reported (once per
/// run of failures, through `quiet`) and the request goes without one.
fn token(path: Option<&Path>, quiet: bool) -> Option<Token> {
    let path = path?;
    let found = std::fs::read_to_string(path).map(|t| Token::new(&t));
    match found {
        Ok(Some(t)) => return Some(t),
        Ok(None) if !quiet => eprintln!("driftgate: peers: {} holds no token", path.display()),
        Err(e) if !quiet => eprintln!("driftgate: peers: cannot read the token {}: {e}", path.display()),
        _ => {}
    }
    None
}

/// Reads one peer's stream until `stop`, reconnecting with backoff (250 ms doubling to 30 s).
fn follow(
    base: &str,
    client: &reqwest::blocking::Client,
    token_file: Option<&Path>,
    state: &AppState,
    stop: &AtomicBool,
) {
    let url = format!("{base}{QUERY}");
    let mut failures = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let mut request = client.get(&url).header("accept", "text/event-stream");
        if let Some(t) = token(token_file, failures > 0) {
            request = request.bearer_auth(t.expose());
        }
        match request.send() {
            Ok(resp) if resp.status().is_success() => {
                failures = 0;
                let mut reader = SseReader::default();
                for line in BufReader::new(resp).lines() {
                    let Ok(line) = line else { break };
                    if let Some((_, data)) = reader.line(&line)
                        && let Ok(event) = serde_json::from_str::<CloudEvent>(&data)
                    {
                        state.import_admission(&event);
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
            }
            Ok(resp) => {
                failures += 1;
                if failures == 1 {
                    // a 401 or 403 says which user lacks which permission (docs/deploy.md, RBAC)
                    let code = resp.status();
                    let error = resp
                        .bytes()
                        .ok()
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                        .and_then(|b| b.get("error").and_then(|e| e.as_str()).map(str::to_owned));
                    eprintln!(
                        "driftgate: peer {base}: HTTP {code}{}",
                        error.map(|e| format!(": {e}")).unwrap_or_default()
                    );
                }
            }
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    eprintln!("driftgate: peer {base}: {e}; retrying");
                }
            }
        }
        std::thread::sleep(crate::audit::http::backoff(failures.max(1)));
    }
}
