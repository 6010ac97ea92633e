//! The filesystem the renderer reads through: a folder on disk, or (with Git sources) the tree
//! of a commit. Paths are relative to the filesystem's root and use `/`.

use std::path::{Component, Path, PathBuf};

/// Read-only access to a tree of files.
pub trait SourceFs {
    /// The bytes of a file.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// True for a folder.
    fn is_dir(&self, path: &Path) -> bool;
    /// True for a file.
    fn is_file(&self, path: &Path) -> bool;
    /// The entries of a folder, as paths, sorted.
    fn list(&self, path: &Path) -> std::io::Result<Vec<PathBuf>>;
    /// How a path is shown in messages.
    fn display(&self, path: &Path) -> String;
}

/// A folder on disk.
#[derive(Debug, Clone)]
pub struct DiskFs {
    root: PathBuf,
    /// Messages show paths relative to this folder (the working directory) where they can.
    shown_from: Option<PathBuf>,
}

impl DiskFs {
    /// A filesystem rooted at `root`; relative paths resolve against it.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), shown_from: None }
    }

    fn full(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }

    /// A filesystem for rendering `dir`: rooted at `/`, with `dir` as a relative path, so that
    /// kustomizations may reach `../base` as kustomize allows.
    pub fn for_dir(dir: &Path) -> std::io::Result<(Self, PathBuf)> {
        let abs = std::fs::canonicalize(dir)?;
        let rel = abs.strip_prefix("/").map(Path::to_path_buf).unwrap_or(abs.clone());
        let cwd = std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok());
        Ok((Self { root: PathBuf::from("/"), shown_from: cwd }, rel))
    }
}

impl SourceFs for DiskFs {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.full(path))
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.full(path).is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        self.full(path).is_file()
    }

    fn list(&self, path: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.full(path))? {
            out.push(path.join(entry?.file_name()));
        }
        out.sort();
        Ok(out)
    }

    fn display(&self, path: &Path) -> String {
        let full = self.full(path);
        match &self.shown_from {
            Some(base) => full.strip_prefix(base).unwrap_or(&full).display().to_string(),
            None => full.display().to_string(),
        }
    }
}

/// Joins `rel` onto `base` and folds `.` and `..` lexically, as kustomize does; `None` when the
/// result would climb above the filesystem's root.
pub fn join(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out: Vec<String> = Vec::new();
    let joined = base.join(rel);
    for c in joined.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(out.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_join() {
        assert_eq!(join(Path::new("a/b"), "../c/d.yaml"), Some(PathBuf::from("a/c/d.yaml")));
        assert_eq!(join(Path::new("a"), "./x"), Some(PathBuf::from("a/x")));
        assert_eq!(join(Path::new("a"), "../../x"), None);
        assert_eq!(join(Path::new(""), "x"), Some(PathBuf::from("x")));
    }
}
