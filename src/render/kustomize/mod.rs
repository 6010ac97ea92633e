//! A native kustomize (v5) renderer: `kustomize build` semantics, in process.
//!
//! The pipeline follows kustomize's `accumulateTarget`: resources (recursively), components,
//! generators, then the built-in transformers in kustomize's order; at the top level, hash
//! suffixes for generated objects, name references, and the legacy output order.
//! Reading goes through [`SourceFs`], so a Git tree renders exactly like a folder.

mod fieldspec;
mod generate;
mod hash;
mod name_refs;
mod order;
mod patch;
mod replacements;
pub mod resource;
pub mod spec;
mod transform;

use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use super::fs::{self, SourceFs};
use crate::model::load;
use resource::Resource;
use spec::Kustomization;

/// Names kustomize accepts for its file, in the order it looks for them.
pub const FILE_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Why a kustomization could not be rendered. Every variant names the file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KustomizeError {
    /// A file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A kustomization or resource does not parse, or says something invalid.
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A resource file does not load.
    #[error(transparent)]
    Load(#[from] crate::model::LoadError),
    /// A field driftgate does not render.
    #[error("{file}: `{field}` is not supported by driftgate's kustomize renderer")]
    Unsupported {
        /// The kustomization.
        file: String,
        /// The field.
        field: String,
    },
}

fn invalid(file: &str, message: impl Into<String>) -> KustomizeError {
    KustomizeError::Invalid { file: file.to_owned(), message: message.into() }
}

/// The kustomization file in `dir`, if there is one.
pub fn find(fs: &dyn SourceFs, dir: &Path) -> Option<PathBuf> {
    FILE_NAMES.iter().map(|n| dir.join(n)).find(|p| fs.is_file(p))
}

/// Renders the kustomization in `dir` into objects with their origins, in kustomize's output order.
pub fn build(fs: &dyn SourceFs, dir: &Path) -> Result<Vec<(Value, crate::model::Origin)>, KustomizeError> {
    let mut stack = Vec::new();
    let (mut resources, top) = accumulate(fs, dir, Vec::new(), Mode::Kustomization, &mut stack)?;
    for r in &mut resources {
        if r.needs_hash {
            let name = format!("{}-{}", r.name(), hash::suffix(&r.object));
            r.set_name(&name);
        }
    }
    name_refs::fix(&mut resources);
    // objects marked local-config are inputs to the build, never part of its output
    resources
        .retain(|r| r.annotations().get("config.kubernetes.io/local-config").and_then(Value::as_str) != Some("true"));
    order::sort(&mut resources, top.sort_options.as_ref());
    Ok(resources
        .into_iter()
        .map(|r| {
            let mut o = r.object;
            resource::sort_keys(&mut o);
            (o, r.origin)
        })
        .collect())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Kustomization,
    Component,
}

fn read_text(fs: &dyn SourceFs, path: &Path) -> Result<String, KustomizeError> {
    let bytes = fs.read(path).map_err(|source| KustomizeError::Read { file: fs.display(path), source })?;
    String::from_utf8(bytes).map_err(|_| invalid(&fs.display(path), "not valid UTF-8"))
}

fn parse_kustomization(fs: &dyn SourceFs, file: &Path) -> Result<Kustomization, KustomizeError> {
    let text = read_text(fs, file)?;
    let k: Kustomization = serde_saphyr::from_str_with_options(&text, serde_saphyr::options! { strict_booleans: true })
        .map_err(|e| invalid(&fs.display(file), e.to_string().trim_start_matches("error: ")))?;
    Ok(k)
}

/// True for resource entries kustomize would fetch over the network.
fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
}

fn accumulate(
    fs: &dyn SourceFs,
    dir: &Path,
    mut acc: Vec<Resource>,
    mode: Mode,
    stack: &mut Vec<PathBuf>,
) -> Result<(Vec<Resource>, Kustomization), KustomizeError> {
    let Some(file) = find(fs, dir) else {
        return Err(invalid(&fs.display(dir), "no kustomization.yaml, kustomization.yml or Kustomization here"));
    };
    let shown = fs.display(&file);
    if stack.contains(&dir.to_path_buf()) {
        return Err(invalid(&shown, "cycle: this kustomization includes itself"));
    }
    let k = parse_kustomization(fs, &file)?;
    if let Some(field) = k.unsupported() {
        return Err(KustomizeError::Unsupported { file: shown, field: field.to_owned() });
    }
    let is_component = k.kind.as_deref() == Some("Component");
    match mode {
        Mode::Component if !is_component => {
            return Err(invalid(&shown, "listed under `components`, but its kind is not Component"));
        }
        Mode::Kustomization if is_component => {
            return Err(invalid(&shown, "a Component can only be listed under `components`"));
        }
        _ => {}
    }
    stack.push(dir.to_path_buf());

    for entry in k.resources.iter().chain(&k.bases) {
        if is_remote(entry) {
            return Err(KustomizeError::Unsupported {
                file: shown,
                field: format!("resources: {entry} (remote resources)"),
            });
        }
        let Some(path) = fs::join(dir, entry) else {
            return Err(invalid(&shown, format!("resources: {entry} climbs above the root")));
        };
        if fs.is_dir(&path) {
            let (sub, _) = accumulate(fs, &path, Vec::new(), Mode::Kustomization, stack)?;
            add_all(&mut acc, sub, &shown)?;
        } else if fs.is_file(&path) {
            if !path.starts_with(dir) {
                return Err(invalid(
                    &shown,
                    format!(
                        "resources: {entry} is a file outside this kustomization's folder (kustomize's load restrictor forbids it)"
                    ),
                ));
            }
            add_all(&mut acc, load_file(fs, &path)?, &shown)?;
        } else {
            return Err(invalid(&shown, format!("resources: {entry} does not exist")));
        }
    }
    // since kustomize v5.1 generators run before components
    generate::run(fs, dir, &shown, &k, &mut acc)?;
    for entry in &k.components {
        let Some(path) = fs::join(dir, entry) else {
            return Err(invalid(&shown, format!("components: {entry} climbs above the root")));
        };
        if !fs.is_dir(&path) {
            return Err(invalid(&shown, format!("components: {entry} is not a folder")));
        }
        let (with_component, _) = accumulate(fs, &path, acc, Mode::Component, stack)?;
        acc = with_component;
    }
    transform::run(fs, dir, &shown, &k, &mut acc)?;
    stack.pop();
    Ok((acc, k))
}

/// Adds resources, refusing a second object with the same identity.
fn add_all(acc: &mut Vec<Resource>, new: Vec<Resource>, file: &str) -> Result<(), KustomizeError> {
    let mut seen: std::collections::HashMap<_, usize> = acc.iter().enumerate().map(|(i, r)| (r.id(), i)).collect();
    for r in new {
        let id = r.id();
        if let Some(&i) = seen.get(&id) {
            let prev = &acc[i];
            return Err(invalid(
                file,
                format!("{} is defined twice (in {} and in {})", r.describe(), prev.origin, r.origin),
            ));
        }
        seen.insert(id, acc.len());
        acc.push(r);
    }
    Ok(())
}

/// Loads the objects of one resource file.
fn load_file(fs: &dyn SourceFs, path: &Path) -> Result<Vec<Resource>, KustomizeError> {
    let text = read_text(fs, path)?;
    let shown = fs.display(path);
    let docs = load::parse_yaml(&text, Path::new(&shown))?;
    docs.into_iter()
        .map(|(obj, origin)| {
            if obj.get("kind").and_then(Value::as_str).is_none() {
                return Err(invalid(&origin.to_string(), "object has no kind"));
            }
            Ok(Resource::new(obj, origin))
        })
        .collect()
}
