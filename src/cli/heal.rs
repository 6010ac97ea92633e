//! `driftgate heal --once`: one self-heal pass from the command line. Computes the drift as
//! `status` does, plans each drifted object as `serve` would, and carries the plans out (or, with
//! `--dry-run`, only prints them).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::{live, source, status};
use crate::cluster::heal::execute;
use crate::cluster::healer::{Identities, plan_one, resource_of};
use crate::config::Config;
use crate::heal::plan::Action;

/// Arguments of `heal`.
#[derive(Debug, Args)]
pub struct HealArgs {
    /// Run one pass and exit (the continuous healer runs inside `serve`).
    #[arg(long, required = true)]
    pub once: bool,
    /// Print the planned actions; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The config file.
    #[arg(long, env = "DRIFTGATE_CONFIG")]
    pub config: PathBuf,
    /// Heal only this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// How the cluster is reached.
    #[command(flatten)]
    pub cluster: live::ClusterArgs,
    /// Git flags (cache folder, timeout).
    #[command(flatten)]
    pub git: source::GitArgs,
}

/// Output formats of `heal`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// One line per object.
    Text,
    /// One JSON object per line.
    Json,
}

/// Runs `heal --once`. Exit 0 when every drifted object was healed (or, with --dry-run,
/// planned), 2 when a heal failed.
pub fn run(args: &HealArgs) -> anyhow::Result<u8> {
    if !args.once {
        bail!("heal runs one pass (--once); the continuous healer runs inside `driftgate serve`");
    }
    let config = Config::load(&args.config)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let lines = runtime.block_on(async {
        let (conn, engine) = status::engine_once(&config, args.source.as_deref(), &args.cluster, &args.git).await?;
        let reconcilers = engine.reconcilers().to_vec();
        let who = Identities { reconcilers: &reconcilers, instance_label: engine.instance_label() };
        let mut drifted = engine.drifted();
        drifted.sort_by_key(|d| d.status == crate::detect::State::Extra);
        let mut lines = Vec::new();
        for d in drifted.into_iter().filter(crate::detect::Drifted::wants_heal) {
            let Some((ar, namespaced)) = resource_of(&conn, &d.key, d.api_version.as_deref()).await else {
                let error = format!("the cluster does not serve {} at {}", d.key.kind, d.api_version.as_deref().unwrap_or("any version"));
                lines.push((false, json!({"object": d.key, "human": d.key.human(), "source": d.source, "error": error})));
                continue;
            };
            let action = plan_one(&conn, &ar, namespaced, &d, who, config.self_heal.prune)
                .await
                .with_context(|| format!("reading {}", d.key.human()))?;
            let what = match &action {
                Action::Revert { paths, actors, .. } => json!({"action": "revert", "paths": paths, "actors": actors}),
                Action::Create { .. } => json!({"action": "create"}),
                Action::Prune => json!({"action": "prune"}),
                Action::Nothing => json!({"action": "none"}),
            };
            let mut line = json!({"object": d.key, "human": d.key.human(), "source": d.source, "status": d.status, "dryRun": args.dry_run});
            if let (Some(l), Some(w)) = (line.as_object_mut(), what.as_object()) {
                l.extend(w.clone());
            }
            if args.dry_run || action == Action::Nothing {
                lines.push((true, line));
                continue;
            }
            match execute(&conn, &ar, namespaced, &d.key, &action).await {
                Ok(done) => {
                    line["calls"] = json!(done.calls);
                    lines.push((true, line));
                }
                Err(e) => {
                    line["error"] = json!(e.to_string());
                    lines.push((false, line));
                }
            }
        }
        anyhow::Ok(lines)
    })?;
    let mut out = std::io::stdout().lock();
    for (_, line) in &lines {
        match args.output {
            Output::Json => writeln!(out, "{line}")?,
            Output::Text => {
                let verb = match (line["action"].as_str(), args.dry_run) {
                    (Some("revert"), false) => "reverted",
                    (Some("create"), false) => "recreated",
                    (Some("prune"), false) => "pruned",
                    (Some("revert"), true) => "would revert",
                    (Some("create"), true) => "would recreate",
                    (Some("prune"), true) => "would prune",
                    _ => "left",
                };
                let verb = if line.get("error").is_some() { "failed to heal" } else { verb };
                let mut text = format!("{verb} {}", line["human"].as_str().unwrap_or_default());
                if let Some(paths) = line["paths"].as_array().filter(|p| !p.is_empty()) {
                    let paths: Vec<&str> = paths.iter().filter_map(|p| p.as_str()).collect();
                    text = text + ": " + &paths.join(", ");
                }
                if let Some(by) = line["actors"].as_array().filter(|a| !a.is_empty()) {
                    let by: Vec<&str> = by.iter().filter_map(|a| a["manager"].as_str()).collect();
                    text = text + " (by " + &by.join(", ") + ")";
                }
                if let Some(e) = line["error"].as_str() {
                    text = text + ": " + e;
                }
                writeln!(out, "{text}")?;
            }
        }
    }
    Ok(if lines.iter().all(|(ok, _)| *ok) { super::EXIT_OK } else { super::EXIT_ERROR })
}
