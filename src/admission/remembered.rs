//! The managed objects driftgate last knew, kept in a file (`admission.managedSnapshot`) so that
//! after a restart, before Git has loaded again, changes to them are still refused, and the
//! refusal names the source that declared them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::ResourceKey;

const API_VERSION: &str = "driftgate.dev/v1alpha1";
const KIND: &str = "ManagedSnapshot";

/// Why the snapshot could not be read or written.
#[derive(Debug, Error)]
pub enum RememberedError {
    /// The file could not be read or written.
    #[error("managed snapshot {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a snapshot this version wrote.
    #[error("managed snapshot {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Managed objects and the source that declared each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remembered {
    by_key: BTreeMap<ResourceKey, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    api_version: String,
    kind: String,
    objects: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    source: String,
    #[serde(flatten)]
    key: ResourceKey,
}

impl Remembered {
    /// The objects each source declares, by source name.
    pub fn of<'a, K>(sources: impl IntoIterator<Item = (&'a str, K)>) -> Self
    where
        K: IntoIterator<Item = &'a ResourceKey>,
    {
        let mut by_key = BTreeMap::new();
        for (source, keys) in sources {
            for k in keys {
                by_key.entry(k.clone()).or_insert_with(|| source.to_owned());
            }
        }
        Self { by_key }
    }

    /// The source that declared `key`, if it was managed.
    pub fn source_of(&self, key: &ResourceKey) -> Option<&str> {
        self.by_key.get(key).map(String::as_str)
    }

    /// How many objects it holds.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let objects =
            self.by_key.iter().map(|(key, source)| Entry { source: source.clone(), key: key.clone() }).collect();
        let file = File { api_version: API_VERSION.into(), kind: KIND.into(), objects };
        serde_json::to_vec(&file).unwrap_or_default()
    }

    /// Reads a snapshot from its bytes; `path` is for messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, RememberedError> {
        let invalid = |message: String| RememberedError::Invalid { path: path.to_owned(), message };
        let file: File = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if file.api_version != API_VERSION || file.kind != KIND {
            return Err(invalid(format!("expected {API_VERSION} {KIND}, found {} {}", file.api_version, file.kind)));
        }
        Ok(Self { by_key: file.objects.into_iter().map(|e| (e.key, e.source)).collect() })
    }

    /// Reads `path`; `None` when there is no file yet.
    pub fn load(path: &Path) -> Result<Option<Self>, RememberedError> {
        match std::fs::read(path) {
            Ok(bytes) => Self::from_bytes(&bytes, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RememberedError::Io { path: path.to_owned(), source }),
        }
    }

    /// Writes `path` whole or not at all: a temporary file, synced, then renamed over it.
    pub fn save(&self, path: &Path) -> Result<(), RememberedError> {
        let io = |source| RememberedError::Io { path: path.to_owned(), source };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&self.to_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_file() {
        let web = ResourceKey::new("apps", "Deployment", Some("shop"), "web");
        let ns = ResourceKey::new("", "Namespace", None, "shop");
        let r = Remembered::of([("shop", [&web]), ("platform", [&ns])]);
        let dir = std::env::temp_dir().join(format!("driftgate-remembered-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("managed.json");
        assert_eq!(Remembered::load(&path).unwrap(), None, "no file yet");
        r.save(&path).unwrap();
        let back = Remembered::load(&path).unwrap().unwrap();
        assert_eq!(back, r);
        assert_eq!(back.source_of(&web), Some("shop"));
        assert_eq!(back.source_of(&ns), Some("platform"));
        std::fs::write(&path, b"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"objects\": []}").unwrap();
        let err = Remembered::load(&path).unwrap_err().to_string();
        assert!(err.contains("managed.json") && err.contains("expected driftgate.dev/v1alpha1"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
