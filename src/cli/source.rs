//! Reading the desired state for a command: a local path, or a path inside a Git repository.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::config;
use crate::diff::report::SourceInfo;
use crate::git::{self, Remote};
use crate::model::Manifest;
use crate::render;

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
    fn cache(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(git::default_cache_dir)
    }
}

/// Renders `path`, from disk or from `--repo` at `--revision`; reports where it came from.
pub fn render_path(path: &Path, namespace: Option<&str>, g: &GitArgs) -> anyhow::Result<(Vec<Manifest>, SourceInfo)> {
    let mut info =
        SourceInfo { name: None, path: path.display().to_string(), repo: None, revision: None, commit: None };
    let Some(url) = &g.repo else {
        return Ok((render::render(path, namespace)?, info));
    };
    let token = match &g.token_env {
        Some(var) => Some(std::env::var(var).with_context(|| format!("--token-env {var}: the variable is not set"))?),
        None => None,
    };
    let remote = Remote { url: url.clone(), token };
    let checkout = git::checkout(&remote, &g.revision, &g.cache(), Duration::from_secs(g.git_timeout))?;
    let inside = normalise_inside(path);
    checkout.require(&inside)?;
    let manifests = render::render_in(&checkout, &inside, namespace)?;
    info.repo = Some(url.clone());
    info.revision = Some(g.revision.clone());
    info.commit = Some(checkout.commit());
    Ok((manifests, info))
}

/// Renders a config source: its local path, or its path inside its Git repository.
pub fn render_source(
    src: &config::Source,
    namespace: Option<&str>,
    g: &GitArgs,
) -> anyhow::Result<(Vec<Manifest>, SourceInfo)> {
    let ns = src.namespace.as_deref().or(namespace);
    let (manifests, mut info) = match &src.git {
        None => render_path(&src.path, ns, &GitArgs { repo: None, ..g.clone() })?,
        Some(git_src) => {
            let token = match (&git_src.token_env, &git_src.token_file) {
                (Some(var), _) => Some(
                    std::env::var(var)
                        .with_context(|| format!("source {}: git.tokenEnv {var} is not set", src.name))?,
                ),
                (None, Some(file)) => Some(
                    std::fs::read_to_string(file)
                        .with_context(|| format!("source {}: git.tokenFile {}", src.name, file.display()))?
                        .trim()
                        .to_owned(),
                ),
                (None, None) => None,
            };
            let remote = Remote { url: git_src.url.clone(), token };
            let checkout = git::checkout(&remote, &git_src.revision, &g.cache(), Duration::from_secs(g.git_timeout))
                .with_context(|| format!("source {}", src.name))?;
            let inside = normalise_inside(&src.path);
            checkout.require(&inside)?;
            let manifests =
                render::render_in(&checkout, &inside, ns).with_context(|| format!("source {}", src.name))?;
            let info = SourceInfo {
                name: None,
                path: src.path.display().to_string(),
                repo: Some(git_src.url.clone()),
                revision: Some(git_src.revision.clone()),
                commit: Some(checkout.commit()),
            };
            (manifests, info)
        }
    };
    info.name = Some(src.name.clone());
    Ok((manifests, info))
}

/// A path inside a repository: relative, without `./`; `.` is the root.
fn normalise_inside(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect()
}
