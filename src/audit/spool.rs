//! The HTTP sink's on-disk spool: events wait here, synced, until the endpoint has them, so an
//! endpoint outage or a restart (or a crash: events are acknowledged once synced here) loses
//! nothing. Segments `SEQ.jsonl` are appended in order; the
//! `cursor` file records how far delivery got (segment and offset), written atomically after
//! each delivered batch. A crash between delivery and cursor write re-sends that batch: delivery
//! is at-least-once and receivers dedup on the event id.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// A position in the spool: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The segment's sequence number.
    pub segment: u64,
    /// Bytes into it.
    pub offset: u64,
}

/// Events read from the spool, not yet delivered.
#[derive(Debug, Default)]
pub struct Batch {
    /// The events, each a JSON object without its newline.
    pub lines: Vec<Vec<u8>>,
    /// Where delivery stands once this batch is delivered.
    pub end: Option<Position>,
}

/// The spool folder.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// (sequence, size) of every segment, oldest first; the last one is appended to.
    segments: VecDeque<(u64, u64)>,
    active: File,
    cursor: Position,
    total: u64,
    pending: u64,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.jsonl"))
}

impl Spool {
    /// Opens (creating) the spool in `dir`, resuming after the last delivered event. Appends go to
    /// a new segment, so a line torn by a crash is never continued.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut seqs: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".jsonl")?.parse().ok())
            .collect();
        seqs.sort_unstable();
        let cursor = match std::fs::read_to_string(dir.join("cursor")) {
            Ok(text) => parse_cursor(&text).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: not a spool cursor", dir.join("cursor").display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Position { segment: seqs.first().copied().unwrap_or(1), offset: 0 }
            }
            Err(e) => return Err(e),
        };
        let mut segments = VecDeque::new();
        for seq in seqs {
            if seq < cursor.segment {
                std::fs::remove_file(segment_path(dir, seq))?;
            } else {
                segments.push_back((seq, std::fs::metadata(segment_path(dir, seq))?.len()));
            }
        }
        let next = segments.back().map_or(cursor.segment, |(s, _)| s + 1).max(cursor.segment);
        let active = OpenOptions::new().create(true).append(true).open(segment_path(dir, next))?;
        segments.push_back((next, 0));
        sync_dir(dir)?;
        let mut spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes: (max_bytes / 4).clamp(4096, 8 * 1024 * 1024),
            segments,
            active,
            cursor,
            total: 0,
            pending: 0,
        };
        spool.total = spool.segments.iter().map(|(_, s)| s).sum::<u64>().saturating_sub(cursor.offset);
        spool.pending = spool.count_pending()?;
        Ok(spool)
    }

    fn count_pending(&self) -> io::Result<u64> {
        let mut n = 0;
        let mut pos = Some(self.cursor);
        while let Some(p) = pos {
            let batch = self.read_from(p, usize::MAX)?;
            n += batch.lines.len() as u64;
            pos = batch.end.filter(|e| *e != p);
        }
        Ok(n)
    }

    /// Appends events and syncs them. Returns how many fitted: the rest would take the spool past
    /// its size limit, and wait until delivery makes room. An empty spool takes one event of any
    /// size, so no event waits forever. A failed write or sync is cut off again, so a retry
    /// neither continues half a line nor repeats one.
    pub fn push<'a>(&mut self, lines: impl IntoIterator<Item = &'a [u8]>) -> io::Result<usize> {
        let mut buf = Vec::new();
        let mut accepted = 0;
        for line in lines {
            let len = line.len() as u64 + 1;
            if self.total + buf.len() as u64 + len > self.max_bytes && (self.total > 0 || accepted > 0) {
                break;
            }
            buf.extend_from_slice(line);
            buf.push(b'\n');
            accepted += 1;
        }
        if buf.is_empty() {
            return Ok(accepted);
        }
        let size = self.segments.back().map_or(0, |(_, s)| *s);
        if let Err(e) = self.active.write_all(&buf).and_then(|()| self.active.sync_data()) {
            if let Err(cut) = self.active.set_len(size) {
                return Err(io::Error::new(e.kind(), format!("{e}; cutting the failed write off: {cut}")));
            }
            return Err(e);
        }
        let n = buf.len() as u64;
        self.total += n;
        self.pending += accepted as u64;
        if let Some(last) = self.segments.back_mut() {
            last.1 += n;
            if last.1 >= self.segment_bytes {
                let next = last.0 + 1;
                self.active = OpenOptions::new().create(true).append(true).open(segment_path(&self.dir, next))?;
                self.segments.push_back((next, 0));
                sync_dir(&self.dir)?;
            }
        }
        Ok(accepted)
    }

    /// Up to `max` undelivered events, oldest first.
    pub fn peek(&self, max: usize) -> io::Result<Batch> {
        self.read_from(self.cursor, max)
    }

    fn read_from(&self, from: Position, max: usize) -> io::Result<Batch> {
        let mut batch = Batch::default();
        let mut pos = from;
        let active = self.segments.back().map(|(s, _)| *s);
        while batch.lines.len() < max {
            let Some(&(seq, _)) = self.segments.iter().find(|(s, _)| *s >= pos.segment) else { break };
            if seq != pos.segment {
                pos = Position { segment: seq, offset: 0 };
            }
            let mut reader = BufReader::new(File::open(segment_path(&self.dir, seq))?);
            reader.seek(SeekFrom::Start(pos.offset))?;
            let mut line = Vec::new();
            while batch.lines.len() < max {
                line.clear();
                let n = reader.read_until(b'\n', &mut line)? as u64;
                if n == 0 || line.last() != Some(&b'\n') {
                    break; // the end, or a line torn by a crash (only ever at a segment's end)
                }
                pos.offset += n;
                line.pop();
                batch.lines.push(std::mem::take(&mut line));
            }
            if batch.lines.len() >= max || Some(seq) == active {
                break;
            }
            pos = Position { segment: seq + 1, offset: 0 };
        }
        if pos != from {
            batch.end = Some(pos);
        }
        Ok(batch)
    }

    /// Records a batch as delivered: moves the cursor (atomically, synced) and deletes
    /// segments wholly delivered.
    pub fn commit(&mut self, batch: &Batch) -> io::Result<()> {
        let Some(end) = batch.end else { return Ok(()) };
        let tmp = self.dir.join("cursor.tmp");
        let mut f = File::create(&tmp)?;
        writeln!(f, "{} {}", end.segment, end.offset)?;
        f.sync_all()?;
        std::fs::rename(&tmp, self.dir.join("cursor"))?;
        sync_dir(&self.dir)?;
        let released: u64 = batch.lines.iter().map(|l| l.len() as u64 + 1).sum();
        self.total = self.total.saturating_sub(released);
        self.pending = self.pending.saturating_sub(batch.lines.len() as u64);
        self.cursor = end;
        while self.segments.len() > 1 && self.segments.front().is_some_and(|(s, _)| *s < end.segment) {
            if let Some((seq, _)) = self.segments.pop_front() {
                std::fs::remove_file(segment_path(&self.dir, seq))?;
            }
        }
        Ok(())
    }

    /// Events not yet delivered.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Bytes not yet delivered.
    pub fn bytes(&self) -> u64 {
        self.total
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn parse_cursor(text: &str) -> Option<Position> {
    let (segment, offset) = text.trim().split_once(' ')?;
    Some(Position { segment: segment.parse().ok()?, offset: offset.parse().ok()? })
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(b: &Batch) -> Vec<String> {
        b.lines.iter().map(|l| String::from_utf8(l.clone()).unwrap()).collect()
    }

    #[test]
    fn delivers_in_order_and_resumes_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let events: Vec<String> = (0..10).map(|i| format!("{{\"id\":\"{i}\"}}")).collect();
        assert_eq!(s.push(events.iter().map(String::as_bytes)).unwrap(), 10);
        let b = s.peek(4).unwrap();
        assert_eq!(lines(&b), events[..4]);
        s.commit(&b).unwrap();
        assert_eq!(s.pending(), 6);
        // a batch read but not committed is read again after a restart
        let _unacknowledged = s.peek(3).unwrap();
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.pending(), 6);
        s.push([&b"{\"id\":\"10\"}"[..]]).unwrap();
        let b = s.peek(100).unwrap();
        assert_eq!(lines(&b)[0], events[4]);
        assert_eq!(lines(&b).len(), 7, "reads across the old segment into the new one");
        s.commit(&b).unwrap();
        assert_eq!((s.pending(), s.bytes()), (0, 0));
        assert!(s.peek(10).unwrap().lines.is_empty());
    }

    #[test]
    fn segments_roll_and_delivered_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 16 * 1024).unwrap(); // 4 KiB segments
        let line = vec![b'x'; 999];
        for _ in 0..12 {
            s.push([&line[..]]).unwrap();
        }
        let files = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "jsonl"))
                .count()
        };
        assert!(files() >= 3, "{}", files());
        let b = s.peek(12).unwrap();
        assert_eq!(b.lines.len(), 12);
        s.commit(&b).unwrap();
        assert_eq!(files(), 1);
    }

    #[test]
    fn a_full_spool_takes_what_fits_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 30).unwrap();
        assert_eq!(s.push([&b"0123456789"[..], b"0123456789", b"0123456789"]).unwrap(), 2);
        assert_eq!(s.push([&b"0123456789"[..]]).unwrap(), 0, "full: the caller waits");
        drop(s);
        // a crash mid-write leaves half a line at the end of the segment
        let seg = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .unwrap();
        OpenOptions::new().append(true).open(&seg).unwrap().write_all(b"{\"torn").unwrap();
        let s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.pending(), 2);
        assert_eq!(s.peek(10).unwrap().lines.len(), 2);
    }

    #[test]
    fn an_empty_spool_takes_one_event_larger_than_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 10).unwrap();
        let big = [b'x'; 50];
        assert_eq!(s.push([&big[..], &big[..]]).unwrap(), 1);
        assert_eq!(s.push([&big[..]]).unwrap(), 0);
        let b = s.peek(10).unwrap();
        s.commit(&b).unwrap();
        assert_eq!(s.push([&big[..]]).unwrap(), 1, "room again once delivered");
    }
}
