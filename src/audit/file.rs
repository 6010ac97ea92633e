//! The file sink: JSON lines appended by one writer thread. Writes are batched (everything
//! queued is written at once), forced to disk per the fsync policy, and the file is rotated by
//! size to `PATH.1` .. `PATH.N`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Fsync;

/// An append-only JSON-lines file with size-based rotation.
#[derive(Debug)]
pub struct AuditFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    max_files: usize,
    policy: Fsync,
    interval: Duration,
    dirty_since: Option<Instant>,
    buffer: Vec<u8>,
}

impl AuditFile {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path, policy: Fsync, interval: Duration, max_bytes: u64, max_files: usize) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            file,
            size,
            max_bytes: max_bytes.max(1),
            max_files: max_files.max(1),
            policy,
            interval,
            dirty_since: None,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    /// Appends lines (each without its newline) in one write per file, rotating first when a
    /// line would take the file past its size. Synced when the policy says so.
    pub fn append<'a>(&mut self, lines: impl IntoIterator<Item = &'a [u8]>) -> io::Result<()> {
        self.buffer.clear();
        for line in lines {
            let len = line.len() as u64 + 1;
            if self.size + self.buffer.len() as u64 + len > self.max_bytes && self.size + self.buffer.len() as u64 > 0 {
                self.write_buffer()?;
                self.rotate()?;
            }
            self.buffer.extend_from_slice(line);
            self.buffer.push(b'\n');
        }
        self.write_buffer()?;
        match self.policy {
            Fsync::Always => self.sync(),
            Fsync::Batch => {
                let since = *self.dirty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.interval { self.sync() } else { Ok(()) }
            }
            Fsync::Never => Ok(()),
        }
    }

    /// When the next sync is due, for the writer's wait.
    pub fn sync_due(&self) -> Option<Instant> {
        match self.policy {
            Fsync::Batch => self.dirty_since.map(|s| s + self.interval),
            _ => None,
        }
    }

    /// Forces written events to disk.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty_since.take().is_some() || self.policy == Fsync::Always {
            self.file.sync_data()?;
        }
        Ok(())
    }

    fn write_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buffer)?;
        self.size += self.buffer.len() as u64;
        self.buffer.clear();
        if self.policy != Fsync::Never {
            self.dirty_since.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// `PATH.N-1` → `PATH.N` .. `PATH` → `PATH.1`, dropping the oldest; the current file is
    /// synced first so a rotated file is complete on disk.
    fn rotate(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.dirty_since = None;
        let numbered = |n: usize| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        for n in (1..self.max_files).rev() {
            let from = numbered(n);
            if from.exists() {
                std::fs::rename(&from, numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(1))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // the renames are durable only once the folder is synced
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_keeping_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut f = AuditFile::open(&path, Fsync::Always, Duration::ZERO, 100, 2).unwrap();
        let line = [b'x'; 39]; // 40 bytes with the newline: two lines per file
        for _ in 0..7 {
            f.append([&line[..]]).unwrap();
        }
        let size = |p: &str| std::fs::metadata(dir.path().join(p)).map(|m| m.len()).ok();
        assert_eq!(size("audit.jsonl"), Some(40));
        assert_eq!(size("audit.jsonl.1"), Some(80));
        assert_eq!(size("audit.jsonl.2"), Some(80));
        assert_eq!(size("audit.jsonl.3"), None);
    }

    #[test]
    fn a_batch_is_split_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let mut f = AuditFile::open(&path, Fsync::Batch, Duration::from_secs(60), 100, 5).unwrap();
        let line = [b'y'; 39];
        f.append(std::iter::repeat_n(&line[..], 5)).unwrap();
        assert!(f.sync_due().is_some());
        f.sync().unwrap();
        assert!(f.sync_due().is_none());
        let text = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(text("a.jsonl").lines().count(), 1);
        assert_eq!(text("a.jsonl.1").lines().count(), 2);
        assert_eq!(text("a.jsonl.2").lines().count(), 2);
    }
}
