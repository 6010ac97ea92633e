//! `driftgate status`: each source's drift as a table, like `flux get` or `argocd app list`.
//! From a running `serve` (`--server URL`), or computed once from the config and the cluster.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

use super::{live, source};
use crate::cluster::{self, Connection, Resolved};
use crate::config::Config;
use crate::detect::{Engine, KindState, Projection, SourceSpec, SourceStatus, State};
use crate::model::{ResourceKey, declared, load};

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A running `driftgate serve`, e.g. `https://driftgate.driftgate.svc:8443`. Without it, the
    /// status is computed once from --config and the cluster.
    #[arg(long, env = "DRIFTGATE_SERVER")]
    pub server: Option<String>,
    /// CA certificate (PEM) that signed the server's certificate.
    #[arg(long, requires = "server")]
    pub ca: Option<PathBuf>,
    /// Skip verifying the server's certificate.
    #[arg(long, requires = "server")]
    pub insecure_skip_tls_verify: bool,
    /// The config file (without --server).
    #[arg(long, env = "DRIFTGATE_CONFIG", required_unless_present = "server")]
    pub config: Option<PathBuf>,
    /// Show only this source.
    #[arg(long)]
    pub source: Option<String>,
    /// `table`, `wide` (adds each drifted resource and who drifted it), or `json`.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// How the cluster is reached (without --server); with it, whose token is sent.
    #[command(flatten)]
    pub cluster: live::ClusterArgs,
    /// The token sent to --server, instead of the kubeconfig user's.
    #[command(flatten)]
    pub credentials: super::server_client::CredentialArgs,
    /// Git flags (cache folder, timeout).
    #[command(flatten)]
    pub git: source::GitArgs,
}

/// Output formats of `status`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// One line per source.
    Table,
    /// The table, then one line per drifted resource.
    Wide,
    /// The status API's JSON.
    Json,
}

/// Runs `status`.
pub fn run(args: &StatusArgs) -> anyhow::Result<u8> {
    let mut sources = match &args.server {
        Some(url) => fetch(args, url)?,
        None => compute(args)?,
    };
    if let Some(name) = &args.source {
        sources.retain(|s| &s.name == name);
        if sources.is_empty() {
            bail!("no source named {name:?}");
        }
    }
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut out, &sources)?;
            out.write_all(b"\n")?;
        }
        Output::Table | Output::Wide => out.write_all(table(&sources, args.output == Output::Wide).as_bytes())?,
    }
    Ok(super::EXIT_OK)
}

/// Reads the status API of a running server.
fn fetch(args: &StatusArgs, url: &str) -> anyhow::Result<Vec<SourceStatus>> {
    let client = super::server_client::ServerClient::new(
        args.ca.as_deref(),
        args.insecure_skip_tls_verify,
        Some(std::time::Duration::from_secs(30)),
        &args.credentials,
        &args.cluster,
    )?;
    let base = url.trim_end_matches('/');
    let get = |path: &str| -> anyhow::Result<serde_json::Value> {
        let resp = client.get(&format!("{base}{path}")).send().with_context(|| format!("GET {base}{path}"))?;
        let code = resp.status();
        let body = resp.bytes()?;
        let json: serde_json::Value = serde_json::from_slice(&body)
            .with_context(|| format!("GET {base}{path}: {code}, not the status API's JSON"))?;
        if !code.is_success() {
            let error = json["error"].as_str().unwrap_or("(no message)");
            bail!("GET {base}{path}: {code}: {error}{}", client.hint(code));
        }
        Ok(json)
    };
    let list = get("/api/v1/sources")?;
    let mut out = Vec::new();
    for s in list["sources"].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or_default();
        if args.source.as_deref().is_some_and(|want| want != name) {
            continue;
        }
        // the list leaves resources out; wide and json need them
        let full = if args.output == Output::Table { s.clone() } else { get(&format!("/api/v1/sources/{name}"))? };
        out.push(serde_json::from_value(full).context("the status API answered an unexpected shape")?);
    }
    Ok(out)
}

/// Computes the status once: renders the sources, lists the cluster, and runs the detector's
/// engine over what it found.
fn compute(args: &StatusArgs) -> anyhow::Result<Vec<SourceStatus>> {
    let path = args.config.as_ref().context("--config is needed without --server")?;
    let config = Config::load(path)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (_, engine) = runtime.block_on(engine_once(&config, args.source.as_deref(), &args.cluster, &args.git))?;
    Ok(config.sources.iter().filter_map(|s| engine.source(&s.name)).collect())
}

/// The detector's engine, run once over the config's sources (or one of them) and the cluster:
/// what `status` prints and `heal --once` acts on.
pub(super) async fn engine_once(
    config: &Config,
    only: Option<&str>,
    cluster_args: &live::ClusterArgs,
    git: &source::GitArgs,
) -> anyhow::Result<(Connection, Engine)> {
    let mut specs = Vec::new();
    for src in config.sources.iter().filter(|s| only.is_none_or(|n| n == s.name)) {
        let (manifests, info) = source::render_source(src, None, git)?;
        specs.push(SourceSpec {
            name: src.name.clone(),
            info,
            rules: Arc::from(config.rules(Some(&src.name))?),
            objects: Arc::new(declared::declare(load::index(manifests)?)),
            error: None,
            owner: src.owner.clone(),
        });
    }
    let now = crate::audit::now_rfc3339();
    let mut engine = Engine::new(config.reconcilers.all_field_managers(), config.ownership.instance_label);
    let targets = cluster::targets(specs.iter().flat_map(|s| s.objects.values()).map(|d| (&d.key, &*d.api_version)));
    engine.set_sources(specs, &now);
    let conn = cluster_args.connect().await?;
    for (target, resolved) in cluster::resolve(&conn, &targets).await {
        let ar = match resolved {
            Resolved::Served(ar, _) => ar,
            Resolved::Unserved => {
                engine.set_kind(&target.group, &target.kind, KindState::Unserved, &now);
                continue;
            }
            Resolved::Failed(m) => {
                engine.set_kind(&target.group, &target.kind, KindState::Failed(m), &now);
                continue;
            }
        };
        let mut objects = Vec::new();
        let instance_label = engine.instance_label();
        let listed = cluster::list_live(&conn, &target, &ar, &mut |v| {
            if let Ok(key) = ResourceKey::of(&v) {
                let p = Projection::of(v, &key, instance_label);
                objects.push((key, p));
            }
            Ok(())
        })
        .await;
        match listed {
            Ok(()) => {
                engine.relist(&target.group, &target.kind, target.namespace.as_deref(), objects, &now);
            }
            Err(e) => {
                engine.set_kind(&target.group, &target.kind, KindState::Failed(e.to_string()), &now);
            }
        }
    }
    Ok((conn, engine))
}

fn revision(s: &SourceStatus) -> String {
    let short = s.info.commit.as_deref().map(|c| &c[..c.len().min(8)]);
    match (s.info.revision.as_deref(), short) {
        (Some(r), Some(c)) if r != c => format!("{r}@{c}"),
        (_, Some(c)) => c.to_owned(),
        (Some(r), None) => r.to_owned(),
        (None, None) => "(local)".to_owned(),
    }
}

/// The table: one line per source; with `wide`, one per resource that is not Synced.
pub fn table(sources: &[SourceStatus], wide: bool) -> String {
    let mut rows = vec![
        ["SOURCE", "REVISION", "SYNCED", "OUT-OF-SYNC", "MISSING", "EXTRA", "UNKNOWN", "LAST CHANGE", "MESSAGE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for s in sources {
        let c = &s.summary;
        let mut message: Vec<String> = s.error.iter().cloned().collect();
        for k in &s.kinds {
            let kind = if k.group.is_empty() { k.kind.clone() } else { format!("{}.{}", k.kind, k.group) };
            message.push(match &k.state {
                KindState::Unserved => format!("{kind} not served"),
                KindState::Failed(m) => format!("{kind}: {m}"),
                KindState::Watching => continue,
            });
        }
        if !s.quarantined.is_empty() {
            message.push(format!("{} quarantined", s.quarantined.len()));
        }
        rows.push(vec![
            s.name.clone(),
            revision(s),
            c.synced.to_string(),
            c.out_of_sync.to_string(),
            c.missing.to_string(),
            c.extra.to_string(),
            c.unknown.to_string(),
            s.last_change.clone().unwrap_or_else(|| "-".into()),
            message.join("; "),
        ]);
    }
    let mut out = columns(&rows);
    if wide {
        let mut rows =
            vec![["SOURCE", "RESOURCE", "STATUS", "CAUSE", "SINCE", "DRIFTED BY", "PATHS"].map(str::to_owned).to_vec()];
        for s in sources {
            for r in s.resources.iter().flatten().filter(|r| r.status != State::Synced) {
                let by: Vec<String> = r.actors.iter().map(ToString::to_string).collect();
                let mut paths: Vec<String> = r.differences.iter().map(|d| d.path.clone()).collect();
                if paths.is_empty()
                    && let Some(reason) = &r.reason
                {
                    paths.push(reason.clone());
                }
                rows.push(vec![
                    s.name.clone(),
                    r.key.human(),
                    format!("{:?}", r.status),
                    r.cause
                        .map_or("-", |c| match c {
                            crate::diff::compare::Cause::Drift => "drift",
                            crate::diff::compare::Cause::PendingSync => "pending-sync",
                        })
                        .to_owned(),
                    r.since.clone(),
                    if by.is_empty() { "-".into() } else { by.join("; ") },
                    paths.join(", "),
                ]);
            }
        }
        for s in sources {
            for q in &s.quarantined {
                rows.push(vec![
                    s.name.clone(),
                    q.key.human(),
                    "Quarantined".into(),
                    "drift".into(),
                    "-".into(),
                    q.quarantine.competitor.clone().unwrap_or_else(|| "-".into()),
                    format!(
                        "{} ({} reverts; set {} to resume)",
                        q.quarantine.path,
                        q.quarantine.reverts,
                        crate::heal::quarantine::CLEAR_ANNOTATION
                    ),
                ]);
            }
        }
        out.push('\n');
        out.push_str(&columns(&rows));
    }
    out
}

fn columns(rows: &[Vec<String>]) -> String {
    let mut widths: BTreeMap<usize, usize> = BTreeMap::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = widths.entry(i).or_default();
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}   ", w = widths[&i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
