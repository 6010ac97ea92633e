//! `driftgate webhook-config`: print the ValidatingWebhookConfiguration that sends driftgate
//! exactly what the config's sources declare (docs/admission.md, "What the API server sends").

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::admission::registration;
use crate::config::Config;
use crate::model::Declared;

/// Arguments of `webhook-config`.
#[derive(Debug, Args)]
pub struct WebhookConfigArgs {
    /// The config file.
    #[arg(long, env = "DRIFTGATE_CONFIG")]
    pub config: PathBuf,
    /// The CA (PEM) that signed the serving certificate, written into `caBundle`; without it the
    /// field is left for cert-manager's CA injector or a later patch.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = super::render::Format::Yaml)]
    pub output: super::render::Format,
    /// Git flags (cache folder, timeout).
    #[command(flatten)]
    pub git: super::source::GitArgs,
}

/// Runs `webhook-config`.
pub fn run(args: &WebhookConfigArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config)?;
    let mut declared = Vec::new();
    for src in &config.sources {
        let (manifests, _) = super::source::render_source(src, None, &args.git)?;
        declared.extend(manifests.iter().map(Declared::of));
    }
    let ca = match &args.ca {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("--ca {}", path.display()))?;
            Some(crate::encoding::base64(&pem))
        }
        None => None,
    };
    let scope = registration::scope(&declared, &registration::excluded_namespaces(&config.admission));
    for (key, why) in &scope.left_out {
        eprintln!("driftgate: {} is not guarded: {why}", key.human());
    }
    let vwc = registration::configuration(&config.admission, &config.reconcilers, &scope, ca.as_deref());
    let mut out = std::io::stdout().lock();
    match args.output {
        super::render::Format::Yaml => {
            out.write_all(serde_saphyr::to_string(&vwc).context("rendering YAML")?.as_bytes())?;
        }
        super::render::Format::Json => {
            serde_json::to_writer_pretty(&mut out, &vwc)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(super::EXIT_OK)
}
