//! The file sink: JSON lines appended by one writer thread. Writes are batched (everything
//! queued is written at once), forced to disk per the fsync policy, and the file is rotated by
//! size to `PATH.1` .. `PATH.N`. A write or fsync that fails is cut off again, so a retry never
//! leaves half a line or a line twice.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Fsync;

/// An append that did not finish: the first `written` lines are in the file (synced as the
/// policy asks) and the rest are not, so the caller appends the rest again.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct AppendError {
    /// Lines, from the front, that must not be appended again.
    pub written: usize,
    /// What failed.
    pub error: io::Error,
}

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
    /// Opens (creating) `path` for appending. A partial last line, left by a crash in the middle
    /// of a write, is cut off first: it was never acknowledged, and appending after it would
    /// spoil the next line too.
    pub fn open(path: &Path, policy: Fsync, interval: Duration, max_bytes: u64, max_files: usize) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).read(true).open(path)?;
        let mut size = file.metadata()?.len();
        let complete = complete_length(&file, size)?;
        if complete < size {
            file.set_len(complete)?;
            file.sync_all()?;
            eprintln!(
                "driftgate: audit file {}: cut off {} bytes of a line a crash left unfinished (never acknowledged)",
                path.display(),
                size - complete
            );
            size = complete;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // a file just created survives a power loss only once its folder entry is synced
            File::open(dir)?.sync_all()?;
        }
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
    /// line would take the file past its size. Synced when the policy says so, or at once with
    /// `sync_now` (a flush).
    pub fn append<'a>(&mut self, lines: impl IntoIterator<Item = &'a [u8]>, sync_now: bool) -> Result<(), AppendError> {
        self.buffer.clear();
        let (mut written, mut pending) = (0, 0);
        for line in lines {
            let len = line.len() as u64 + 1;
            if self.size + self.buffer.len() as u64 + len > self.max_bytes && self.size + self.buffer.len() as u64 > 0 {
                let start = self.size;
                if let Err(error) = self.write_buffer().and_then(|()| self.file.sync_data()) {
                    return Err(self.cut(start, written, error));
                }
                // synced in the file about to become PATH.1: not to be written again
                written += pending;
                pending = 0;
                self.rotate().map_err(|error| AppendError { written, error })?;
            }
            self.buffer.extend_from_slice(line);
            self.buffer.push(b'\n');
            pending += 1;
        }
        let start = self.size;
        if let Err(error) = self.write_buffer() {
            return Err(self.cut(start, written, error));
        }
        let due = match self.policy {
            Fsync::Always => true,
            Fsync::Batch => sync_now || self.dirty_since.is_some_and(|s| s.elapsed() >= self.interval),
            Fsync::Never => false,
        };
        if due && let Err(error) = self.sync() {
            // after a failed fsync the written pages may be gone; under `always` this group was
            // never acknowledged, so it is cut off and written again. Earlier groups of `batch`
            // were acknowledged as written: their sync is retried, they cannot be rewritten.
            return Err(if self.policy == Fsync::Always {
                self.cut(start, written, error)
            } else {
                self.dirty_since.get_or_insert_with(Instant::now);
                AppendError { written: written + pending, error }
            });
        }
        Ok(())
    }

    /// Cuts the file back to `size` after a failed write or fsync, so the retry neither continues
    /// half a line nor repeats one.
    fn cut(&mut self, size: u64, written: usize, error: io::Error) -> AppendError {
        if let Err(e) = self.file.set_len(size) {
            eprintln!("driftgate: audit file {}: cannot cut off a failed write: {e}", self.path.display());
        }
        self.size = size;
        self.buffer.clear();
        AppendError { written, error }
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
        if self.policy != Fsync::Never {
            self.dirty_since.get_or_insert_with(Instant::now);
        }
        self.file.write_all(&self.buffer)?;
        self.size += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// `PATH.N-1` → `PATH.N` .. `PATH` → `PATH.1`, dropping the oldest; the current file is
    /// synced before, so a rotated file is complete on disk.
    fn rotate(&mut self) -> io::Result<()> {
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

/// The length of `file` up to and including its last newline: what a crash cannot have torn.
fn complete_length(mut file: &File, size: u64) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = size;
    let mut chunk = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        chunk.resize(usize::try_from(end - start).unwrap_or(0), 0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
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
            f.append([&line[..]], false).unwrap();
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
        f.append(std::iter::repeat_n(&line[..], 5), false).unwrap();
        assert!(f.sync_due().is_some());
        f.sync().unwrap();
        assert!(f.sync_due().is_none());
        let text = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(text("a.jsonl").lines().count(), 1);
        assert_eq!(text("a.jsonl.1").lines().count(), 2);
        assert_eq!(text("a.jsonl.2").lines().count(), 2);
    }

    #[test]
    fn a_line_torn_by_a_crash_is_cut_off_and_the_next_lines_are_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"tor").unwrap();
        let mut f = AuditFile::open(&path, Fsync::Always, Duration::ZERO, 1 << 20, 2).unwrap();
        f.append([&b"{\"id\":\"c\"}"[..]], false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n");
        // no newline at all: nothing is complete; a long torn line spans several chunks
        std::fs::write(&path, vec![b'x'; 200_000]).unwrap();
        drop(AuditFile::open(&path, Fsync::Batch, Duration::ZERO, 1 << 20, 2).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        let mut long = vec![b'y'; 150_000];
        long.push(b'\n');
        long.extend(std::iter::repeat_n(b'z', 100_000));
        std::fs::write(&path, &long).unwrap();
        drop(AuditFile::open(&path, Fsync::Batch, Duration::ZERO, 1 << 20, 2).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 150_001);
    }

    #[test]
    fn a_flush_syncs_at_once_under_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut f =
            AuditFile::open(&dir.path().join("a.jsonl"), Fsync::Batch, Duration::from_secs(60), 1 << 20, 2).unwrap();
        f.append([&b"{}"[..]], false).unwrap();
        assert!(f.sync_due().is_some(), "written, not yet synced");
        f.append(std::iter::empty(), true).unwrap();
        assert!(f.sync_due().is_none());
    }
}
