//! Rendering a source folder into manifests.
