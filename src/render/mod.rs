//! Rendering a source folder into the desired state.
//!
//! A folder holding a kustomization renders natively with kustomize's semantics ([`kustomize`]);
//! any other folder renders as Argo CD's directory source does: every YAML and JSON file below it.

pub mod fs;
pub mod kustomize;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::model::load::{self, LoadError};
use crate::model::{Manifest, ResourceKey};

/// Why a source could not be rendered.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RenderError {
    /// Loading the manifests failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The kustomization does not render.
    #[error(transparent)]
    Kustomize(#[from] kustomize::KustomizeError),
    /// The path cannot be resolved.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Renders `path` (a file or folder) into manifests, filling in `namespace` where missing.
///
/// A folder holding a kustomization renders with kustomize build semantics; any other folder
/// contributes every manifest below it, as Argo CD's directory source does.
pub fn render(path: &Path, namespace: Option<&str>) -> Result<Vec<Manifest>, RenderError> {
    if path.is_dir() && kustomize::FILE_NAMES.iter().any(|f| path.join(f).is_file()) {
        let (disk, dir) =
            fs::DiskFs::for_dir(path).map_err(|source| RenderError::Io { path: path.to_owned(), source })?;
        let docs = kustomize::build(&disk, &dir)?;
        return Ok(load::into_manifests(docs, namespace)?);
    }
    let docs = load::load_path(path)?;
    Ok(load::into_manifests(docs, namespace)?)
}

/// Renders `path` inside any [`fs::SourceFs`] (a Git checkout): a kustomization renders with
/// kustomize semantics, a folder contributes every manifest below it, a file its objects.
pub fn render_in(
    source: &dyn fs::SourceFs,
    path: &Path,
    namespace: Option<&str>,
) -> Result<Vec<Manifest>, RenderError> {
    let docs = if source.is_dir(path) && kustomize::find(source, path).is_some() {
        kustomize::build(source, path)?
    } else if source.is_dir(path) {
        let mut docs = Vec::new();
        for file in manifest_files(source, path)? {
            docs.extend(parse_file(source, &file)?);
        }
        docs
    } else {
        parse_file(source, path)?
    };
    Ok(load::into_manifests(docs, namespace)?)
}

fn io(source: &dyn fs::SourceFs, path: &Path, e: std::io::Error) -> RenderError {
    RenderError::Io { path: PathBuf::from(source.display(path)), source: e }
}

/// Manifest files below a folder of a [`fs::SourceFs`], in path order, as the disk walk does.
fn manifest_files(source: &dyn fs::SourceFs, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in source.list(&d).map_err(|e| io(source, &d, e))? {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if source.is_dir(&p) {
                stack.push(p);
            } else if load::is_manifest_name(&name) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn parse_file(
    source: &dyn fs::SourceFs,
    path: &Path,
) -> Result<Vec<(serde_json::Value, crate::model::Origin)>, RenderError> {
    let bytes = source.read(path).map_err(|e| io(source, path, e))?;
    let shown = PathBuf::from(source.display(path));
    let text = String::from_utf8(bytes)
        .map_err(|_| io(source, path, std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8")))?;
    let is_json = path.extension().and_then(|e| e.to_str()) == Some("json");
    Ok(if is_json { load::parse_json(&text, &shown)? } else { load::parse_yaml(&text, &shown)? })
}

/// Renders and indexes by key; a key defined twice is an error naming both places.
pub fn render_set(path: &Path, namespace: Option<&str>) -> Result<BTreeMap<ResourceKey, Manifest>, RenderError> {
    Ok(load::index(render(path, namespace)?)?)
}
