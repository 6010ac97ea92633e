//! Rendering one source: a local path, or a path inside a Git repository at a revision.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// How long the parts of one load took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Fetching (or opening) the Git mirror and resolving the revision; `None` for a local path.
    pub fetch: Option<Duration>,
    /// Rendering the manifests.
    pub render: Duration,
}

impl DesiredError {
    /// Which step failed: `fetch` (Git, tokens) or `render`.
    pub fn stage(&self) -> &'static str {
        match self {
            Self::Render(_) => "render",
            Self::Git(_) | Self::Token(_) => "fetch",
        }
    }
}

/// Renders `path` from disk, or from `remote` at `revision` when given.
pub fn render_path(
    path: &Path,
    namespace: Option<&str>,
    remote: Option<(&Remote, &str)>,
    options: &GitOptions,
) -> Result<(Vec<Manifest>, SourceInfo), DesiredError> {
    render_path_timed(path, namespace, remote, options, &mut Timings::default())
}

fn render_path_timed(
    path: &Path,
    namespace: Option<&str>,
    remote: Option<(&Remote, &str)>,
    options: &GitOptions,
    timings: &mut Timings,
) -> Result<(Vec<Manifest>, SourceInfo), DesiredError> {
    let mut info =
        SourceInfo { name: None, path: path.display().to_string(), repo: None, revision: None, commit: None };
    let Some((remote, revision)) = remote else {
        let span = tracing::info_span!("render", path = %path.display());
        let start = Instant::now();
        let manifests = span.in_scope(|| render::render(path, namespace));
        timings.render = start.elapsed();
        return Ok((manifests?, info));
    };
    let span = tracing::info_span!(
        "git.fetch",
        repo = %crate::redact::url(&remote.url),
        revision,
        commit = tracing::field::Empty
    );
    let start = Instant::now();
    let checkout = span.in_scope(|| git::checkout(remote, revision, &options.cache_dir, options.timeout));
    timings.fetch = Some(start.elapsed());
    let checkout = checkout?;
    span.record("commit", checkout.commit());
    let inside = inside_repo(path);
    checkout.require(&inside)?;
    let span = tracing::info_span!("render", path = %inside.display(), commit = %checkout.commit());
    let start = Instant::now();
    let manifests = span.in_scope(|| render::render_in(&checkout, &inside, namespace));
    timings.render = start.elapsed();
    let manifests = manifests?;
    // the checkout's URL has its credentials masked: SourceInfo reaches every output
    info.repo = Some(checkout.url().to_owned());
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
    render_source_timed(src, namespace, options, &mut Timings::default())
}

/// Renders a config source, recording how long fetching and rendering took.
pub fn render_source_timed(
    src: &config::Source,
    namespace: Option<&str>,
    options: &GitOptions,
    timings: &mut Timings,
) -> Result<(Vec<Manifest>, SourceInfo), DesiredError> {
    let ns = src.namespace.as_deref().or(namespace);
    let (manifests, mut info) = match &src.git {
        None => render_path_timed(&src.path, ns, None, options, timings)?,
        Some(g) => {
            let remote = Remote { url: g.url.clone(), token: token(src, g)? };
            render_path_timed(&src.path, ns, Some((&remote, &g.revision)), options, timings)?
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
