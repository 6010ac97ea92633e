//! Git sources: the only module that imports gix.
//!
//! A remote repository is mirrored into a bare repository in a cache folder (one per URL) and
//! fetched incrementally; a local repository (a path, or a `file://` URL) is opened in place, so
//! no `git` binary is ever needed. Files are read straight from the tree of the resolved commit,
//! without a checkout, through [`SourceFs`].
//!
//! Every URL this module hands out (errors, [`Checkout::url`], `Debug`) has its credentials
//! masked by [`crate::redact`], and every error text from gix is scrubbed of the URL's userinfo
//! and of the token, so no caller can leak them by printing what it got from here.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use thiserror::Error;

use crate::render::fs::SourceFs;

/// Why a Git source could not be read. Messages name the repository (credentials masked) and
/// never a token.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GitError {
    /// The repository could not be opened or mirrored.
    #[error("{url}: cannot open the repository: {message}")]
    Open {
        /// The repository.
        url: String,
        /// Why.
        message: String,
    },
    /// Fetching failed.
    #[error("{url}: fetch failed: {message}")]
    Fetch {
        /// The repository.
        url: String,
        /// Why.
        message: String,
    },
    /// Fetching took longer than allowed.
    #[error("{url}: fetch did not finish within {}s", timeout.as_secs())]
    Timeout {
        /// The repository.
        url: String,
        /// The limit.
        timeout: Duration,
    },
    /// The revision names no commit.
    #[error("{url}: revision {revision:?} not found ({message})")]
    Revision {
        /// The repository.
        url: String,
        /// The revision asked for.
        revision: String,
        /// Why.
        message: String,
    },
    /// The path does not exist at that revision.
    #[error("{url}: path {path:?} does not exist at {revision} (commit {commit})")]
    Path {
        /// The repository.
        url: String,
        /// The path.
        path: String,
        /// The revision asked for.
        revision: String,
        /// The resolved commit.
        commit: String,
    },
}

/// How to reach a repository.
#[derive(Clone, Default)]
pub struct Remote {
    /// A URL (`https://`, `http://`, `git://`, `file://`) or a local path.
    pub url: String,
    /// An HTTPS token, sent as basic auth with user `x-access-token` (GitHub's and Gitea's form;
    /// GitLab accepts it too).
    pub token: Option<String>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &crate::redact::url(&self.url))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A resolved revision of a repository, readable as a filesystem.
pub struct Checkout {
    repo: gix::Repository,
    /// The URL with its credentials masked: the only form that leaves this module.
    url: String,
    revision: String,
    commit: gix::ObjectId,
    tree: gix::ObjectId,
}

impl std::fmt::Debug for Checkout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkout")
            .field("url", &self.url)
            .field("revision", &self.revision)
            .field("commit", &self.commit)
            .finish_non_exhaustive()
    }
}

/// The default cache folder: `$XDG_CACHE_HOME/driftgate/git`, else `~/.cache/driftgate/git`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("driftgate").join("git")
}

/// The local path a URL names, if it is local.
fn local_path(url: &str) -> Option<PathBuf> {
    if let Some(p) = url.strip_prefix("file://") {
        return Some(PathBuf::from(p));
    }
    if url.contains("://") || url.contains('@') && url.contains(':') {
        return None;
    }
    Some(PathBuf::from(url))
}

/// How a remote may be shown: its URL with credentials masked, and what to scrub from the texts
/// of gix errors, which may quote the URL as configured or the token.
struct Shown {
    url: String,
    secrets: Vec<String>,
}

impl Shown {
    fn of(remote: &Remote) -> Self {
        let mut secrets = crate::redact::userinfo_secrets(&remote.url);
        secrets.extend(remote.token.iter().map(|t| t.trim().to_owned()));
        Self { url: crate::redact::url(&remote.url), secrets }
    }

    fn message(&self, e: &dyn std::fmt::Display) -> String {
        crate::redact::secrets(&e.to_string(), &self.secrets)
    }
}

/// Opens (local) or mirrors and fetches (remote) a repository, then resolves `revision`.
pub fn checkout(remote: &Remote, revision: &str, cache: &Path, timeout: Duration) -> Result<Checkout, GitError> {
    let shown = Shown::of(remote);
    let open_err = |e: &dyn std::fmt::Display| GitError::Open { url: shown.url.clone(), message: shown.message(e) };
    let repo = if let Some(path) = local_path(&remote.url) {
        gix::open(&path).map_err(|e| open_err(&e))?
    } else {
        let mirror = mirror_dir(cache, &remote.url);
        fetch(remote, &mirror, timeout)?;
        gix::open(&mirror).map_err(|e| open_err(&e))?
    };
    let commit = resolve(&repo, &shown, revision, local_path(&remote.url).is_none())?;
    let tree = repo.find_commit(commit).and_then(|c| c.tree_id().map(gix::Id::detach)).map_err(|e| {
        GitError::Revision { url: shown.url.clone(), revision: revision.to_owned(), message: shown.message(&e) }
    })?;
    Ok(Checkout { repo, url: shown.url, revision: revision.to_owned(), commit, tree })
}

/// One bare mirror per URL as configured (credentials included, since they may change what is
/// readable), named by a hash of it so that the folder name reveals nothing.
fn mirror_dir(cache: &Path, url: &str) -> PathBuf {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(url.as_bytes());
    let name = crate::encoding::hex(&digest[..12]);
    cache.join(format!("{name}.git"))
}

/// Fetches every branch and tag, forced, so that force-pushed branches are followed. Runs on a
/// worker thread so that a server that never answers cannot hold the caller past `timeout`.
fn fetch(remote: &Remote, mirror: &Path, timeout: Duration) -> Result<(), GitError> {
    let shown = Shown::of(remote);
    let (tx, rx) = mpsc::channel();
    let interrupt = Arc::new(AtomicBool::new(false));
    let worker_interrupt = Arc::clone(&interrupt);
    let remote = remote.clone();
    let mirror = mirror.to_owned();
    let spawned = std::thread::Builder::new().name("git-fetch".into()).spawn(move || {
        let _ = tx.send(fetch_blocking(&remote, &mirror, timeout, &worker_interrupt));
    });
    if let Err(e) = spawned {
        return Err(GitError::Fetch { message: shown.message(&e), url: shown.url });
    }
    if let Ok(result) = rx.recv_timeout(timeout) {
        return result;
    }
    // the worker may be stuck in a connect; it stops at its next interrupt check or I/O error
    interrupt.store(true, std::sync::atomic::Ordering::Relaxed);
    Err(GitError::Timeout { url: shown.url, timeout })
}

fn fetch_blocking(remote: &Remote, mirror: &Path, timeout: Duration, interrupt: &AtomicBool) -> Result<(), GitError> {
    let shown = Shown::of(remote);
    let err = |e: &dyn std::fmt::Display| GitError::Fetch { url: shown.url.clone(), message: shown.message(e) };
    let mut repo = if mirror.join("HEAD").is_file() {
        gix::open(mirror).map_err(|e| err(&e))?
    } else {
        std::fs::create_dir_all(mirror).map_err(|e| err(&e))?;
        gix::init_bare(mirror).map_err(|e| err(&e))?
    };
    {
        let mut config = repo.config_snapshot_mut();
        let ms = timeout.as_millis().to_string();
        config.set_value(&gix::config::tree::gitoxide::Http::CONNECT_TIMEOUT, ms.as_str()).map_err(|e| err(&e))?;
        if let Some(token) = &remote.token {
            let basic = crate::encoding::base64(format!("x-access-token:{token}").as_bytes());
            let header = format!("Authorization: Basic {basic}");
            config.set_value(&gix::config::tree::Http::EXTRA_HEADER, header.as_str()).map_err(|e| err(&e))?;
        }
        config.commit().map_err(|e| err(&e))?;
    }
    let specs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", "+HEAD:refs/remotes/origin/HEAD"];
    let connection = repo
        .remote_at(remote.url.as_str())
        .and_then(|r| r.with_refspecs(specs, gix::remote::Direction::Fetch))
        .map_err(|e| err(&e))?;
    connection
        .connect(gix::remote::Direction::Fetch)
        .map_err(|e| err(&e))?
        .prepare_fetch(gix::progress::Discard, gix::remote::ref_map::Options::default())
        .map_err(|e| err(&e))?
        .receive(gix::progress::Discard, interrupt)
        .map_err(|e| err(&e))?;
    Ok(())
}

/// Resolves a branch, tag, commit (full or abbreviated) or `HEAD` to a commit.
fn resolve(repo: &gix::Repository, shown: &Shown, revision: &str, mirror: bool) -> Result<gix::ObjectId, GitError> {
    let spec = if mirror && revision == "HEAD" { "refs/remotes/origin/HEAD" } else { revision };
    let err = |e: &dyn std::fmt::Display| GitError::Revision {
        url: shown.url.clone(),
        revision: revision.to_owned(),
        message: shown.message(e),
    };
    let id = repo.rev_parse_single(spec).map_err(|e| err(&e))?;
    let commit = id.object().and_then(gix::Object::peel_to_commit).map_err(|e| err(&e))?;
    Ok(commit.id)
}

impl Checkout {
    /// The resolved commit, as hex.
    pub fn commit(&self) -> String {
        self.commit.to_string()
    }

    /// The revision that was asked for.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The repository URL (credentials masked) or path.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Fails unless `path` exists at this commit (`""` is the root).
    pub fn require(&self, path: &Path) -> Result<(), GitError> {
        if path.as_os_str().is_empty() || self.is_dir(path) || self.is_file(path) {
            return Ok(());
        }
        Err(GitError::Path {
            url: self.url.clone(),
            path: path.display().to_string(),
            revision: self.revision.clone(),
            commit: self.commit(),
        })
    }

    fn entry(&self, path: &Path) -> Option<(gix::objs::tree::EntryMode, gix::ObjectId)> {
        let tree = self.repo.find_tree(self.tree).ok()?;
        let entry = tree.lookup_entry_by_path(path).ok()??;
        Some((entry.mode(), entry.object_id()))
    }

    fn tree_at(&self, path: &Path) -> Option<gix::ObjectId> {
        if path.as_os_str().is_empty() {
            return Some(self.tree);
        }
        match self.entry(path) {
            Some((mode, id)) if mode.is_tree() => Some(id),
            _ => None,
        }
    }

    /// Every file below `path`, with its bytes, in path order: for reading whole trees fast.
    pub fn read_all(&self, path: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
        let Some(root) = self.tree_at(path) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such folder", path.display()),
            ));
        };
        let mut out = Vec::new();
        let mut stack = vec![(path.to_path_buf(), root)];
        while let Some((dir, id)) = stack.pop() {
            let tree = self.repo.find_tree(id).map_err(std::io::Error::other)?;
            for entry in tree.iter() {
                let entry = entry.map_err(std::io::Error::other)?;
                let name = dir.join(entry.filename().to_string());
                if entry.mode().is_tree() {
                    stack.push((name, entry.oid().to_owned()));
                } else if entry.mode().is_blob() {
                    let blob = self.repo.find_blob(entry.oid()).map_err(std::io::Error::other)?;
                    out.push((name, blob.data.clone()));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

impl SourceFs for Checkout {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self.entry(path) {
            Some((mode, id)) if mode.is_blob() => {
                let blob = self.repo.find_blob(id).map_err(std::io::Error::other)?;
                Ok(blob.data.clone())
            }
            _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file at this revision")),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.tree_at(path).is_some()
    }

    fn is_file(&self, path: &Path) -> bool {
        self.entry(path).is_some_and(|(mode, _)| mode.is_blob())
    }

    fn list(&self, path: &Path) -> std::io::Result<Vec<PathBuf>> {
        let Some(id) = self.tree_at(path) else {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder at this revision"));
        };
        let tree = self.repo.find_tree(id).map_err(std::io::Error::other)?;
        let mut out = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(std::io::Error::other)?;
            out.push(path.join(entry.filename().to_string()));
        }
        out.sort();
        Ok(out)
    }

    fn display(&self, path: &Path) -> String {
        let short: String = self.commit.to_string().chars().take(12).collect();
        format!("{}@{short}:{}", self.url, path.display())
    }
}
