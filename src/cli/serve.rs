//! `driftgate serve`: the admission webhook over TLS, with the desired state loaded in the
//! background and kept current by polling Git sources.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use clap::Args;

use crate::audit::Auditor;
use crate::cluster::healer::{self, Healer};
use crate::cluster::lease::{self, LeaseConfig};
use crate::cluster::{self, Detector};
use crate::config::{ApiAuth, Config};
use crate::desired::{self, Event, Store};
use crate::server::{self, AppState, CertWatcher};
use crate::telemetry;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, env = "DRIFTGATE_CONFIG")]
    pub config: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Serving certificate (PEM chain); reloaded when it changes.
    #[arg(long, env = "DRIFTGATE_TLS_CERT")]
    pub tls_cert: PathBuf,
    /// Serving key (PEM); reloaded when it changes.
    #[arg(long, env = "DRIFTGATE_TLS_KEY")]
    pub tls_key: PathBuf,
    /// Kubeconfig for the detector (not needed to decide admissions). Without it, `KUBECONFIG`
    /// or the in-cluster service account; with none of them, the detector is off.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of the current one.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace of the self-heal Lease (driftgate's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "driftgate-system")]
    pub lease_namespace: String,
    /// Name of the self-heal Lease.
    #[arg(long, default_value = "driftgate-self-heal")]
    pub lease_name: String,
    /// Seconds a leader may go without renewing before another replica takes over.
    #[arg(long, default_value_t = 15)]
    pub lease_duration: u64,
    /// This replica's identity in the Lease; the pod name in a cluster.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Close connections that send no complete request headers within this many seconds: the
    /// first request after the handshake, and every later one on a keep-alive connection (so an
    /// idle connection is closed after this long too).
    #[arg(long, default_value_t = 10)]
    pub request_timeout: u64,
    /// Seconds a request body may take to arrive, after its headers (408 beyond it).
    #[arg(long, default_value_t = 10)]
    pub body_timeout: u64,
    /// Connections open at once; one more is closed as soon as it is accepted.
    #[arg(long, default_value_t = server::DEFAULT_LIMITS.max_connections)]
    pub max_connections: usize,
    /// Mebibytes of request bodies being received at once, across connections (503 beyond it).
    #[arg(long, default_value_t = 256)]
    pub body_budget_mib: usize,
    /// On SIGTERM, seconds to keep serving with readiness failing and `Connection: close` on every
    /// response, so clients move to other replicas, before new connections are refused.
    #[arg(long, default_value_t = 5)]
    pub drain_delay: u64,
    /// After the drain delay, seconds in-flight requests may take to finish.
    #[arg(long, default_value_t = 20)]
    pub drain_timeout: u64,
    /// How often to check the certificate files for a rotation, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub cert_poll_ms: u64,
    /// Another replica to follow for the hand changes its webhook lets in, so this replica's
    /// drift and heal events name who made them (repeatable; comma-separated in the variable).
    #[arg(long = "peer", env = "DRIFTGATE_PEERS", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// `HOST:PORT` of a headless Service whose addresses are the replicas, followed like --peer
    /// and re-resolved every 30 s.
    #[arg(long, env = "DRIFTGATE_PEER_SERVICE")]
    pub peer_service: Option<String>,
    /// The name the replicas' certificate is for: the TLS server name for --peer-service addresses.
    #[arg(long, env = "DRIFTGATE_PEER_TLS_NAME")]
    pub peer_tls_name: Option<String>,
    /// The CA (PEM) that signed the replicas' certificate.
    #[arg(long, env = "DRIFTGATE_PEER_CA")]
    pub peer_ca: Option<PathBuf>,
    /// The bearer token sent to the peers' `/api/v1/events`, re-read at every connection.
    /// Default: the pod's service account token, when mounted.
    #[arg(long, env = "DRIFTGATE_PEER_TOKEN_FILE")]
    pub peer_token_file: Option<PathBuf>,
    /// Git flags (cache folder, timeout).
    #[command(flatten)]
    pub git: super::source::GitArgs,
}

fn log_event(e: &Event) {
    if let Ok(line) = serde_json::to_string(e) {
        eprintln!("{line}");
    }
}

/// Runs `serve` until SIGINT or SIGTERM, then drains in-flight reviews.
pub fn run(args: &ServeArgs) -> anyhow::Result<u8> {
    let config = Arc::new(Config::load(&args.config)?);
    let auditor = Arc::new(Auditor::open(&config.audit).context("audit sinks")?);
    let store = Arc::new(Store::new());
    let limits = server::limits::Limits {
        max_connections: args.max_connections.max(1),
        body_budget: args.body_budget_mib.max(1).saturating_mul(1024 * 1024),
        body_timeout: Duration::from_secs(args.body_timeout.max(1)),
    };
    let state =
        Arc::new(AppState::new(Arc::clone(&config), Arc::clone(&store), Arc::clone(&auditor))?.with_limits(limits));
    state.recall();
    let tls = server::load_tls(&args.tls_cert, &args.tls_key)?;
    let peers = server::peers::Peers {
        urls: args.peers.clone(),
        service: args.peer_service.clone(),
        tls_name: args.peer_tls_name.clone(),
        ca: args.peer_ca.clone(),
        token_file: args.peer_token_file.clone().or_else(|| {
            let mounted = PathBuf::from(server::peers::SERVICE_ACCOUNT_TOKEN);
            mounted.is_file().then_some(mounted)
        }),
    };
    if config.server.auth == ApiAuth::None {
        eprintln!("driftgate: server.auth is none: anyone who reaches the port reads /api/v1 (sources, events)");
    }
    server::peers::spawn(&state, &peers).context("peers")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let tracing = runtime.block_on(async { telemetry::init(&config.telemetry) })?;
    match &tracing.export {
        Some(e) => eprintln!(
            "driftgate: exporting traces over OTLP {:?} to {}",
            e.protocol,
            e.endpoint.as_deref().map_or_else(|| "the OTEL_EXPORTER_OTLP_* endpoint".to_owned(), crate::redact::url)
        ),
        None if tracing.disabled => eprintln!("driftgate: tracing is off (OTEL_SDK_DISABLED=true)"),
        None => {
            eprintln!("driftgate: traces are not exported (no telemetry.otlpEndpoint or OTEL_EXPORTER_OTLP_ENDPOINT)");
        }
    }
    let served = runtime.block_on(async {
        let rustls = RustlsConfig::from_config(tls);
        let watcher = CertWatcher::new(&args.tls_cert, &args.tls_key);
        tokio::spawn(watcher.run(rustls.clone(), Duration::from_millis(args.cert_poll_ms)));

        // the desired state loads off the async threads (gix and the renderer block); until every
        // source has loaded once, reviews get the configured failurePolicy
        let (cfg, st, options) = (Arc::clone(&config), Arc::clone(&state), args.git.options());
        tokio::task::spawn_blocking(move || {
            loop {
                let mut all = true;
                for src in &cfg.sources {
                    tracing::info_span!("source.refresh", source = %src.name).in_scope(|| {
                        if let Some(e) = desired::refresh(&cfg, &src.name, &store, &options) {
                            log_event(&e);
                            st.observe_source(&e);
                        }
                    });
                    all &= store.get().sources.get(&src.name).is_some_and(|s| s.error.is_none());
                }
                if all {
                    break;
                }
                std::thread::sleep(Duration::from_secs(5));
            }
            st.set_loaded();
            st.remember();
            eprintln!("driftgate: desired state loaded; deciding reviews");
            let stop = Arc::new(AtomicBool::new(false));
            let observer = Arc::clone(&st);
            if let Err(e) = desired::spawn_poller(cfg, store, options, stop, move |e| {
                log_event(&e);
                observer.observe_source(&e);
                observer.remember();
            }) {
                eprintln!("driftgate: cannot start the source poller: {e}");
            }
        });

        start_detector(args, &config, &state);

        let handle = axum_server::Handle::new();
        let shutdown = handle.clone();
        let live = Arc::clone(&auditor);
        let guard = state.guard();
        let (delay, timeout) = (Duration::from_secs(args.drain_delay), Duration::from_secs(args.drain_timeout));
        tokio::spawn(async move {
            wait_for_signal().await;
            // readiness fails and every response says `Connection: close` while the endpoints
            // drop this replica; only then are new connections refused and the rest drained
            eprintln!("driftgate: shutting down; draining for {delay:?}, then finishing in-flight requests");
            guard.drain();
            live.live().close();
            tokio::time::sleep(delay).await;
            shutdown.graceful_shutdown(Some(timeout));
        });
        let listening = handle.clone();
        tokio::spawn(async move {
            if let Some(addr) = listening.listening().await {
                eprintln!("driftgate: listening on https://{addr}");
            }
        });
        let acceptor = RustlsAcceptor::new(rustls).handshake_timeout(Duration::from_secs(5));
        let mut server = axum_server::bind(args.listen)
            .acceptor(server::limits::Limited::new(acceptor, state.guard()))
            .first_request_timeout(Duration::from_secs(args.request_timeout))
            .handle(handle)
            // HTTP/1.1 only, on purpose: the API server's webhook client speaks it, and HTTP/2's
            // many streams per connection would need limits of their own (rapid reset and the like)
            .http1_only();
        server.http_builder().http1().header_read_timeout(Some(Duration::from_secs(args.request_timeout.max(1))));
        server.serve(server::router(state).into_make_service()).await
    });
    // what was emitted is written, synced or spooled before exit; the last spans are exported
    if !auditor.flush(Duration::from_secs(10)) {
        eprintln!("driftgate: an audit sink did not finish within 10s");
    }
    runtime.block_on(async { tokio::task::spawn_blocking(move || tracing.shutdown()).await })?;
    // a source still loading (a Git fetch that hangs, a repository that never answers) must not
    // keep the process alive: its blocking thread is left behind
    runtime.shutdown_timeout(Duration::from_secs(1));
    served?;
    Ok(super::EXIT_OK)
}

/// Starts the drift detector when a cluster is configured; the webhook never waits for it.
fn start_detector(args: &ServeArgs, config: &Arc<Config>, state: &Arc<AppState>) {
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if args.kubeconfig.is_none() && args.context.is_none() && !in_cluster {
        eprintln!(
            "driftgate: no cluster configuration (--kubeconfig, KUBECONFIG or in-cluster); the drift detector is off"
        );
        if state.auditor().disable_kubernetes() {
            eprintln!("driftgate: the kubernetesEvents audit sink needs a cluster; it writes nothing");
        }
        if config.admission.manage_webhook_configuration {
            eprintln!(
                "driftgate: admission.manageWebhookConfiguration needs a cluster; the configuration is left as it is"
            );
        }
        if config.server.auth == ApiAuth::Kubernetes {
            eprintln!(
                "driftgate: API readers are checked with the cluster (server.auth: kubernetes); without one, /api/v1 answers 503"
            );
        }
        return;
    }
    let (kubeconfig, context) = (args.kubeconfig.clone(), args.context.clone());
    let reporter = args.identity.clone().unwrap_or_else(default_identity);
    let lease = LeaseConfig {
        namespace: args.lease_namespace.clone(),
        name: args.lease_name.clone(),
        identity: reporter.clone(),
        duration: Duration::from_secs(args.lease_duration.max(1)),
    };
    let (config, state, store) = (Arc::clone(config), Arc::clone(state), state.store());
    tokio::spawn(async move {
        let conn = match cluster::connect(kubeconfig.as_deref(), context.as_deref()).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("driftgate: the drift detector is off: {e}");
                return;
            }
        };
        // set first: once the line below is logged, the APIs check tokens rather than answer 503
        if config.server.auth == ApiAuth::Kubernetes {
            state.set_access_reviewer(cluster::AccessReviewer::new(conn.clone()));
        }
        eprintln!("driftgate: drift detector watching {}", conn.server);
        if config.admission.manage_webhook_configuration {
            let (conn, config, store, state) =
                (conn.clone(), Arc::clone(&config), Arc::clone(&store), Arc::clone(&state));
            tokio::spawn(cluster::webhook_config::run(conn, config, store, move || state.is_loaded()));
        }
        if let Some(queue) = state.auditor().take_kubernetes() {
            tokio::spawn(cluster::events::run(conn.clone(), queue, reporter.clone()));
        }
        let detector = Detector::new(conn.clone(), Arc::clone(&config), Arc::clone(&store));
        state.set_detector(detector.handle());
        let wake = Arc::new(tokio::sync::Notify::new());
        if config.self_heal.enabled {
            let leader = lease::spawn(conn.clone(), lease);
            let reporter = Arc::clone(&state);
            let report: healer::Report =
                Box::new(move |kind, key, data, dry_run| reporter.record_heal(kind, key, data, dry_run));
            let healer = Healer::new(
                conn,
                config.self_heal.clone(),
                detector.handle(),
                leader,
                Arc::clone(&wake),
                report,
                state.quarantines(),
            );
            tokio::spawn(healer.run(store.subscribe()));
            eprintln!(
                "driftgate: self-heal on{}",
                if config.self_heal.dry_run { " (dry run: planned actions are only reported)" } else { "" }
            );
        }
        let observer = Arc::clone(&state);
        detector
            .run(Box::new(move |engine, transitions| {
                observer.observe_drift(engine, transitions);
                if !transitions.is_empty() {
                    wake.notify_one();
                }
            }))
            .await;
    });
}

/// The host name and process id: unique among replicas outside a cluster too.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    format!("{}-{}", if host.is_empty() { "driftgate" } else { &host }, std::process::id())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}
