//! Rendering a source folder into the desired state.
//!
//! A folder of plain manifests renders as Argo CD's directory source does: every YAML and JSON
//! file below it. Kustomize overlays are recognised and refused clearly until the native
//! renderer lands.

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
    /// The folder holds a kustomization, which this build cannot render yet.
    #[error("{}: kustomize rendering is not supported by this build; point at a folder of plain manifests (e.g. the output of `kubectl kustomize`)", path.display())]
    KustomizeUnsupported {
        /// The kustomization file.
        path: PathBuf,
    },
}

/// Names kustomize accepts for its configuration file.
pub const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Renders `path` (a file or folder) into manifests, filling in `namespace` where missing.
pub fn render(path: &Path, namespace: Option<&str>) -> Result<Vec<Manifest>, RenderError> {
    if path.is_dir()
        && let Some(k) = KUSTOMIZATION_FILES
            .iter()
            .map(|f| path.join(f))
            .find(|p| p.is_file())
    {
        return Err(RenderError::KustomizeUnsupported { path: k });
    }
    let docs = load::load_path(path)?;
    Ok(load::into_manifests(docs, namespace)?)
}

/// Renders and indexes by key; a key defined twice is an error naming both places.
pub fn render_set(
    path: &Path,
    namespace: Option<&str>,
) -> Result<BTreeMap<ResourceKey, Manifest>, RenderError> {
    Ok(load::index(render(path, namespace)?)?)
}
