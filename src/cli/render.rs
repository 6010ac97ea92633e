//! `driftgate render PATH`: print the rendered manifests.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

/// Arguments of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A folder of manifests (or a single file).
    pub path: PathBuf,
    /// Namespace for namespaced objects that have none.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
    /// Read PATH from Git.
    #[command(flatten)]
    pub git: super::source::GitArgs,
}

/// Output formats of `render`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Multi-document YAML.
    Yaml,
    /// A `List` in JSON, as `kubectl get -o json` prints.
    Json,
}

/// Runs `render`.
pub fn run(args: &RenderArgs) -> anyhow::Result<u8> {
    let (manifests, info) = super::source::render_path(&args.path, args.namespace.as_deref(), &args.git)?;
    if let (Some(repo), Some(commit)) = (&info.repo, &info.commit) {
        // on stderr, so that stdout stays exactly the manifests
        eprintln!(
            "rendered {} from {repo} at {} (commit {commit})",
            info.path,
            info.revision.as_deref().unwrap_or("HEAD")
        );
    }
    let mut out = std::io::stdout().lock();
    match args.output {
        Format::Yaml => {
            for (i, m) in manifests.iter().enumerate() {
                if i > 0 {
                    out.write_all(b"---\n")?;
                }
                out.write_all(serde_saphyr::to_string(&m.object).context("rendering YAML")?.as_bytes())?;
            }
        }
        Format::Json => {
            let items: Vec<&Value> = manifests.iter().map(|m| &m.object).collect();
            let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
            serde_json::to_writer_pretty(&mut out, &list)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(super::EXIT_OK)
}
