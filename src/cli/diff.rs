//! `driftgate diff`: compare live objects with the desired state.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

use crate::config::Config;
use crate::diff::report::{self, DriftReport, Settings};
use crate::diff::text::{self, Style};
use crate::model::{Manifest, ResourceKey, load};
use crate::render;

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
    /// Live objects: what `kubectl get -o yaml|json` prints, a file of objects, or a folder.
    #[arg(long)]
    pub live: String,
    /// Namespace for namespaced objects that have none.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Colour for text output.
    #[arg(long, value_enum, default_value_t = super::ColorChoice::Auto)]
    pub color: super::ColorChoice,
}

/// Output formats of `diff`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// For people: summaries and unified YAML diffs.
    Text,
    /// For machines: the full report.
    Json,
}

/// Runs `diff`.
pub fn run(args: &DiffArgs) -> anyhow::Result<u8> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::empty(),
    };
    let reconcilers = config.reconcilers.all_field_managers();
    let ns = args.namespace.as_deref();

    // (source name, rules, desired set)
    let mut sources = Vec::new();
    if let Some(path) = &args.desired {
        sources.push((None, config.rules(None)?, render::render_set(path, ns)?));
    } else {
        let selected: Vec<_> = match &args.source {
            Some(name) => vec![
                config
                    .source(name)
                    .with_context(|| format!("no source named {name:?} in the config"))?,
            ],
            None => config.sources.iter().collect(),
        };
        if selected.is_empty() {
            bail!("the config has no sources; give --desired PATH or add sources");
        }
        for src in selected {
            if src.git.is_some() {
                bail!(
                    "source {:?}: Git sources are not supported by this build; use a local path",
                    src.name
                );
            }
            let set = render::render_set(&src.path, src.namespace.as_deref().or(ns))?;
            sources.push((Some(src.name.clone()), config.rules(Some(&src.name))?, set));
        }
    }

    let live = load_live(&args.live, ns)?;
    let declared: BTreeSet<ResourceKey> = sources
        .iter()
        .flat_map(|(_, _, set)| set.keys().cloned())
        .collect();
    let mut report = DriftReport::default();
    for (name, rules, desired) in &sources {
        let settings = Settings {
            rules,
            reconcilers: &reconcilers,
            instance_label: config.ownership.instance_label,
        };
        let start = report.resources.len();
        report::diff_sets(desired, &live, settings, &mut report);
        for r in &mut report.resources[start..] {
            r.source.clone_from(name);
        }
    }
    let base_rules = config.rules(None)?;
    let settings = Settings {
        rules: &base_rules,
        reconcilers: &reconcilers,
        instance_label: config.ownership.instance_label,
    };
    report::extras(&live, &declared, settings, &mut report);

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
    Ok(if report.summary.in_sync() {
        super::EXIT_OK
    } else {
        super::EXIT_DRIFT
    })
}

fn load_live(live: &str, ns: Option<&str>) -> anyhow::Result<BTreeMap<ResourceKey, Manifest>> {
    if live == "cluster" {
        bail!(
            "--live cluster needs the cluster connection, which this build does not have yet; give a file or folder"
        );
    }
    let docs = if live == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        load::parse_yaml(&text, Path::new("<stdin>"))?
    } else {
        load::load_path(Path::new(live))?
    };
    Ok(load::index(load::into_manifests(docs, ns)?)?)
}
