//! Flags that say where the desired state comes from, turned into [`crate::desired`] calls.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::config;
use crate::desired::{self, GitOptions};
use crate::diff::report::SourceInfo;
use crate::git::{self, Remote};
use crate::model::Manifest;

/// Flags that read the desired state from Git.
#[derive(Debug, Args, Clone)]
pub struct GitArgs {
    /// Read PATH inside this repository: a URL (https, http, git, file) or a local repository.
    #[arg(long)]
    pub repo: Option<String>,
    /// Branch, tag or commit to read (with --repo).
    #[arg(long, default_value = "HEAD", requires = "repo")]
    pub revision: String,
    /// Where bare mirrors of remote repositories are kept.
    #[arg(long, env = "DRIFTGATE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Give up on a fetch after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub git_timeout: u64,
    /// Environment variable holding an HTTPS token for --repo.
    #[arg(long)]
    pub token_env: Option<String>,
}

impl GitArgs {
    /// The options for [`crate::desired`].
    pub fn options(&self) -> GitOptions {
        GitOptions {
            cache_dir: self.cache_dir.clone().unwrap_or_else(git::default_cache_dir),
            timeout: Duration::from_secs(self.git_timeout),
        }
    }
}

/// Renders `path`, from disk or from `--repo` at `--revision`; reports where it came from.
pub fn render_path(path: &Path, namespace: Option<&str>, g: &GitArgs) -> anyhow::Result<(Vec<Manifest>, SourceInfo)> {
    let remote = match &g.repo {
        Some(url) => {
            let token = match &g.token_env {
                Some(var) => {
                    Some(std::env::var(var).with_context(|| format!("--token-env {var}: the variable is not set"))?)
                }
                None => None,
            };
            Some(Remote { url: url.clone(), token })
        }
        None => None,
    };
    Ok(desired::render_path(path, namespace, remote.as_ref().map(|r| (r, g.revision.as_str())), &g.options())?)
}

/// Renders a config source: its local path, or its path inside its Git repository.
pub fn render_source(
    src: &config::Source,
    namespace: Option<&str>,
    g: &GitArgs,
) -> anyhow::Result<(Vec<Manifest>, SourceInfo)> {
    desired::render_source(src, namespace, &g.options()).with_context(|| format!("source {}", src.name))
}
