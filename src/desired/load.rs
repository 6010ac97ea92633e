//! Rendering one source: a local path, or a path inside a Git repository at a revision.

use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::config;
use crate::diff::report::SourceInfo;
use crate::git::{self, GitError, Remote};
use crate::model::Manifest;
use crate::render::{self, RenderError};

/// Why a source could not be loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DesiredError {
    /// Reading Git failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A token could not be read.
    #[error("{0}")]
    Token(String),
}

/// How Git is reached.
#[derive(Debug, Clone)]
pub struct GitOptions {
    /// Where mirrors are kept.
    pub cache_dir: PathBuf,
    /// Limit for one fetch.
    pub timeout: Duration,
}

impl Default for GitOptions {
    fn default() -> Self {
        Self { cache_dir: git::default_cache_dir(), timeout: Duration::from_secs(60) }
    }
}

/// Renders `path` from disk, or from `remote` at `revision` when given.
pub fn render_path(
    path: &Path,
    namespace: Option<&str>,
    remote: Option<(&Remote, &str)>,
    options: &GitOptions,
) -> Result<(Vec<Manifest>, SourceInfo), DesiredError> {
    let mut info =
        SourceInfo { name: None, path: path.display().to_string(), repo: None, revision: None, commit: None };
    let Some((remote, revision)) = remote else {
        return Ok((render::render(path, namespace)?, info));
    };
    let checkout = git::checkout(remote, revision, &options.cache_dir, options.timeout)?;
    let inside = inside_repo(path);
    checkout.require(&inside)?;
    let manifests = render::render_in(&checkout, &inside, namespace)?;
    info.repo = Some(remote.url.clone());
    info.revision = Some(revision.to_owned());
    info.commit = Some(checkout.commit());
    Ok((manifests, info))
}

/// Renders a config source.
pub fn render_source(
    src: &config::Source,
    namespace: Option<&str>,
    options: &GitOptions,
) -> Result<(Vec<Manifest>, SourceInfo), DesiredError> {
    let ns = src.namespace.as_deref().or(namespace);
    let (manifests, mut info) = match &src.git {
        None => render_path(&src.path, ns, None, options)?,
        Some(g) => {
            let remote = Remote { url: g.url.clone(), token: token(src, g)? };
            render_path(&src.path, ns, Some((&remote, &g.revision)), options)?
        }
    };
    info.name = Some(src.name.clone());
    Ok((manifests, info))
}

fn token(src: &config::Source, g: &config::GitSource) -> Result<Option<String>, DesiredError> {
    match (&g.token_env, &g.token_file) {
        (Some(var), _) => std::env::var(var)
            .map(Some)
            .map_err(|_| DesiredError::Token(format!("source {}: git.tokenEnv {var} is not set", src.name))),
        (None, Some(file)) => std::fs::read_to_string(file)
            .map(|t| Some(t.trim().to_owned()))
            .map_err(|e| DesiredError::Token(format!("source {}: git.tokenFile {}: {e}", src.name, file.display()))),
        (None, None) => Ok(None),
    }
}

/// A path inside a repository: relative, without `./`; `.` is the root.
fn inside_repo(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect()
}
