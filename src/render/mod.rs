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

/// Renders and indexes by key; a key defined twice is an error naming both places.
pub fn render_set(path: &Path, namespace: Option<&str>) -> Result<BTreeMap<ResourceKey, Manifest>, RenderError> {
    Ok(load::index(render(path, namespace)?)?)
}
