//! `driftgate diff`: compare live objects with the desired state.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

use super::{live, source};
use crate::config::Config;
use crate::diff::report::{Comparison, SourceSet};
use crate::diff::text::{self, Style};
use crate::model::ownership::Owner;
use crate::model::scope::Scopes;
use crate::model::{ResourceKey, load};

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The desired state: a folder of manifests. Without it, the config's sources are used.
    #[arg(long, required_unless_present = "config")]
    pub desired: Option<PathBuf>,
    /// The config file: sources (without --desired), system-wide rules and identities.
    #[arg(long, env = "DRIFTGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Compare only this config source.
    #[arg(long, conflicts_with = "desired")]
    pub source: Option<String>,
    /// With --desired: the GitOps identity that reconciles it (`argocd:APP`,
    /// `flux-kustomization:NAMESPACE/NAME`, `flux-helmrelease:NAMESPACE/NAME`); live objects
    /// carrying its marker that Git does not declare are Extra. Without it none are reported.
    #[arg(long, requires = "desired", value_parser = parse_owner)]
    pub owner: Option<Owner>,
    /// Live objects: what `kubectl get -o yaml|json` prints, a file of objects, or a folder.
    #[arg(long)]
    pub live: String,
    /// Namespace for namespaced objects that have none.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Read --desired from Git.
    #[command(flatten)]
    pub git: source::GitArgs,
    /// Colour for text output.
    #[arg(long, value_enum, default_value_t = super::ColorChoice::Auto)]
    pub color: super::ColorChoice,
    /// With `--live cluster`: how the cluster is reached.
    #[command(flatten)]
    pub cluster: live::ClusterArgs,
    /// With `--live cluster`: `ssa` compares Git as a server-side-apply dry run predicts it.
    #[arg(long, value_enum, default_value_t = live::DiffMode::Declared)]
    pub diff_mode: live::DiffMode,
}

/// Output formats of `diff`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// For people: summaries and unified YAML diffs.
    Text,
    /// For machines: the full report.
    Json,
}

/// Parses `--owner`: `argocd:APP`, `flux-kustomization:NS/NAME` or `flux-helmrelease:NS/NAME`.
fn parse_owner(s: &str) -> Result<Owner, String> {
    let (tool, id) =
        s.split_once(':').ok_or("expected argocd:APP, flux-kustomization:NS/NAME or flux-helmrelease:NS/NAME")?;
    let owner = match tool {
        "argocd" => Owner { argocd_application: Some(id.to_owned()), ..Owner::default() },
        "flux-kustomization" => Owner { flux_kustomization: Some(id.to_owned()), ..Owner::default() },
        "flux-helmrelease" => Owner { flux_helm_release: Some(id.to_owned()), ..Owner::default() },
        other => {
            return Err(format!("unknown owner kind {other:?}: use argocd, flux-kustomization or flux-helmrelease"));
        }
    };
    match owner.problem() {
        Some(p) => Err(p),
        None => Ok(owner),
    }
}

/// Runs `diff`.
pub fn run(args: &DiffArgs) -> anyhow::Result<u8> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::empty(),
    };
    let reconcilers = config.reconcilers.all_field_managers();
    let ns = args.namespace.as_deref();

    // (source name, rules, desired set, owner)
    let mut sources = Vec::new();
    let mut infos = Vec::new();
    if let Some(path) = &args.desired {
        let (manifests, info) = source::render_path(path, ns, &args.git)?;
        sources.push((None, config.rules(None)?, load::index(manifests)?, args.owner.clone()));
        infos.push(info);
    } else {
        let selected: Vec<_> = match &args.source {
            Some(name) => vec![config.source(name).with_context(|| format!("no source named {name:?} in the config"))?],
            None => config.sources.iter().collect(),
        };
        if selected.is_empty() {
            bail!("the config has no sources; give --desired PATH or add sources");
        }
        for src in selected {
            let (manifests, info) = source::render_source(src, ns, &args.git)?;
            sources.push((
                Some(src.name.clone()),
                config.rules(Some(&src.name))?,
                load::index(manifests)?,
                src.owner.clone(),
            ));
            infos.push(info);
        }
    }

    if args.diff_mode == live::DiffMode::Ssa && args.live != "cluster" {
        bail!("--diff-mode ssa needs --live cluster: the dry run is the API server's");
    }
    // the cluster's kinds are resolved (and, for ssa, the desired objects predicted) before the
    // comparison borrows the desired sets; the live objects then stream into it
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cluster = if args.live == "cluster" {
        let mut sets: Vec<_> = sources.iter_mut().map(|(_, _, set, _)| set).collect();
        let found = runtime.block_on(async {
            let conn = args.cluster.connect().await?;
            let kinds = live::discover(&conn, &sets).await;
            if args.diff_mode == live::DiffMode::Ssa {
                live::predict(&conn, &kinds, &mut sets).await?;
            }
            anyhow::Ok((conn, kinds))
        })?;
        Some(found)
    } else {
        None
    };
    let mut findings = live::Findings::default();

    let sets: Vec<SourceSet<'_>> = sources
        .iter()
        .map(|(name, rules, desired, owner)| SourceSet { name: name.as_deref(), rules, desired, owner: owner.as_ref() })
        .collect();
    let mut comparison = Comparison::new(sets, &reconcilers, config.ownership.instance_label);
    // namespaces of live objects follow the same scopes as Git's (CRDs declared there included)
    let scopes = Scopes::learn(sources.iter().flat_map(|(_, _, set, _)| set.values().map(|m| &m.object)));
    let mut observe = |value, origin| comparison.observe(load::manifest(value, origin, ns, &scopes)?);
    match args.live.as_str() {
        "cluster" => {
            let Some((conn, kinds)) = &cluster else { bail!("the cluster was not reached") };
            findings = runtime.block_on(live::read(conn, kinds, &mut |v| {
                let file =
                    PathBuf::from(format!("cluster:{}", ResourceKey::of(&v).map(|k| k.human()).unwrap_or_default()));
                observe(v, load::Origin { file, line: None })?;
                Ok(())
            }))?;
            live::warn(&findings);
        }
        "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            load::stream_yaml(&text, Path::new("<stdin>"), &mut observe)?;
        }
        path => load::stream_path(Path::new(path), &mut observe)?,
    }
    let mut report = comparison.finish();
    report.sources = infos;

    let mut out = std::io::stdout().lock();
    match args.output {
        Format::Text => {
            out.write_all(text::render(&report, Style::new(args.color.enabled())).as_bytes())?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            out.write_all(b"\n")?;
        }
    }
    if !findings.failed.is_empty() {
        // part of the cluster could not be read: the report is incomplete, so neither 0 nor 1
        return Ok(super::EXIT_ERROR);
    }
    Ok(if report.summary.in_sync() { super::EXIT_OK } else { super::EXIT_DRIFT })
}
