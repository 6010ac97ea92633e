//! `driftgate review FILE|- --config FILE`: decide one AdmissionReview offline and print the
//! AdmissionReview response, exactly as the webhook would answer it.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::admission::decide::{self, Policy, SourceView};
use crate::admission::review;
use crate::config::Config;
use crate::model::load;

/// Arguments of `review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The AdmissionReview (JSON), or `-` for stdin.
    pub file: String,
    /// The config: sources (the desired state), identities, modes and rules.
    #[arg(long, env = "DRIFTGATE_CONFIG")]
    pub config: PathBuf,
    /// Git flags (cache folder, timeout), for Git sources.
    #[command(flatten)]
    pub git: super::source::GitArgs,
}

/// Runs `review`.
pub fn run(args: &ReviewArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config)?;
    let mut body = Vec::new();
    if args.file == "-" {
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(&args.file).with_context(|| args.file.clone())?;
    }
    let parsed = review::parse(&body).with_context(|| args.file.clone())?;

    let mut loaded = Vec::new();
    for src in &config.sources {
        let (manifests, info) = super::source::render_source(src, None, &args.git)?;
        loaded.push((
            src,
            config.rules(Some(&src.name))?,
            crate::model::declared::declare(load::index(manifests)?),
            info,
        ));
    }
    let views: Vec<SourceView<'_>> = loaded
        .iter()
        .map(|(src, rules, objects, info)| SourceView { name: &src.name, mode: src.mode, rules, objects, info })
        .collect();
    let field_managers = config.reconcilers.all_field_managers();
    let base_rules = config.rules(None)?;
    let policy = Policy {
        reconciler_usernames: &config.reconcilers.usernames,
        reconciler_groups: &config.reconcilers.groups,
        field_managers: &field_managers,
        break_glass_groups: &config.admission.break_glass.groups,
        break_glass_max: config.admission.break_glass.max_duration,
        now: time::OffsetDateTime::now_utc(),
        mode: config.admission.mode,
        instance_label: config.ownership.instance_label,
        allow_rollout_restart: config.admission.allow_rollout_restart,
        rules: &base_rules,
        live: None,
    };
    let verdict = decide::decide(&policy, &views, &parsed.request);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &review::respond(&parsed.api_version, &verdict.response))?;
    out.write_all(b"\n")?;
    Ok(super::EXIT_OK)
}
