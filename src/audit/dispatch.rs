//! The auditor: every event is encoded once, then handed to each configured sink's queue and
//! to the live stream. Each sink drains its queue on its own thread, so a slow disk or a down
//! endpoint never holds up an admission review; a full queue (65,536 events) applies
//! back-pressure rather than dropping.

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::file::AuditFile;
use super::http::{self, Delivery, Endpoint};
use super::live::Live;
use super::spool::Spool;
use super::{CloudEvent, Encoded};
use crate::config::{Audit, Sink as SinkConfig, SinkType};

const QUEUE: usize = 65_536;

/// Counters of one sink, read by the metrics endpoint.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Events handed to the sink and not yet taken by its thread.
    pub queued: AtomicU64,
    /// Events the sink holds but has not delivered (the HTTP spool).
    pub spooled: AtomicU64,
    /// Events written or delivered.
    pub written: AtomicU64,
    /// Events lost: spool full, or the sink's thread gone. Kept at 0 in a healthy setup.
    pub dropped: AtomicU64,
    /// Events the endpoint refused for good, set aside in `rejected.jsonl`.
    pub rejected: AtomicU64,
    /// Events a summary sink (Kubernetes Events) left out by design: its queue was full, or more
    /// distinct events waited than it aggregates. Not lost: every other sink has them.
    pub skipped: AtomicU64,
}

impl SinkStats {
    /// Events not yet written or delivered.
    pub fn backlog(&self) -> u64 {
        self.queued.load(Ordering::Relaxed) + self.spooled.load(Ordering::Relaxed)
    }
}

enum Msg {
    Event(Arc<Encoded>),
    Flush(SyncSender<()>),
}

enum Queue {
    Thread(SyncSender<Msg>),
    Cluster(tokio::sync::mpsc::Sender<Arc<Encoded>>),
}

/// A sink's thread body.
type Runner = Box<dyn FnOnce(Receiver<Msg>, Arc<SinkStats>) + Send>;

struct SinkHandle {
    name: String,
    queue: Queue,
    stats: Arc<SinkStats>,
    enabled: std::sync::atomic::AtomicBool,
}

/// The Kubernetes Events sink's queue, taken by the cluster shell once it has a connection.
#[derive(Debug)]
pub struct KubeQueue {
    /// The events.
    pub rx: tokio::sync::mpsc::Receiver<Arc<Encoded>>,
    /// The sink's settings.
    pub config: SinkConfig,
    /// Its counters.
    pub stats: Arc<SinkStats>,
}

/// The configured sinks and the live stream.
pub struct Auditor {
    sinks: Vec<SinkHandle>,
    /// The sink threads; they end when the auditor is dropped and their queues close.
    _threads: Vec<JoinHandle<()>>,
    live: Live,
    kube: Mutex<Option<KubeQueue>>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("sinks", &self.sinks.iter().map(|s| &s.name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Auditor {
    /// Opens the configured sinks (none configured: stdout) and starts their threads.
    pub fn open(config: &Audit) -> io::Result<Self> {
        let default = [SinkConfig::new(SinkType::Stdout)];
        let configs = if config.sinks.is_empty() { &default[..] } else { &config.sinks[..] };
        let mut sinks = Vec::new();
        let mut threads = Vec::new();
        let mut kube = None;
        for (i, c) in configs.iter().enumerate() {
            let stats = Arc::new(SinkStats::default());
            let (name, queue) = match c.sink_type {
                SinkType::KubernetesEvents => {
                    let (tx, rx) = tokio::sync::mpsc::channel(4096);
                    kube = Some(KubeQueue { rx, config: c.clone(), stats: Arc::clone(&stats) });
                    ("kubernetesEvents".to_owned(), Queue::Cluster(tx))
                }
                kind => {
                    let (tx, rx) = mpsc::sync_channel(QUEUE);
                    let (name, run): (String, Runner) = match kind {
                        SinkType::File => {
                            let path = c.path.clone().unwrap_or_default();
                            let file = AuditFile::open(&path, c.fsync, c.fsync_interval, c.max_bytes, c.max_files)
                                .map_err(|e| io::Error::new(e.kind(), format!("audit file {}: {e}", path.display())))?;
                            (format!("file:{}", path.display()), Box::new(move |rx, st| run_file(file, &rx, &st)))
                        }
                        SinkType::Http => {
                            let dir = c.spool_dir.clone().unwrap_or_default();
                            let spool = Spool::open(&dir, c.max_spool_bytes)
                                .map_err(|e| io::Error::new(e.kind(), format!("audit spool {}: {e}", dir.display())))?;
                            let endpoint = Endpoint::new(c)?;
                            let batch = c.batch_size.max(1);
                            (
                                // the name is a metric label and appears in logs
                                format!("http:{}", crate::redact::url(c.url.as_deref().unwrap_or_default())),
                                Box::new(move |rx, st| run_http(spool, &endpoint, batch, &rx, &st)),
                            )
                        }
                        _ => ("stdout".to_owned(), Box::new(|rx, st| run_stdout(&rx, &st))),
                    };
                    let st = Arc::clone(&stats);
                    threads
                        .push(std::thread::Builder::new().name(format!("audit-sink-{i}")).spawn(move || run(rx, st))?);
                    (name, Queue::Thread(tx))
                }
            };
            sinks.push(SinkHandle { name, queue, stats, enabled: std::sync::atomic::AtomicBool::new(true) });
        }
        Ok(Self { sinks, _threads: threads, live: Live::default(), kube: Mutex::new(kube) })
    }

    /// Hands an event to every sink and the live stream. Blocks only when a sink's queue is
    /// full, so nothing is dropped.
    pub fn emit(&self, event: CloudEvent) {
        let line = match serde_json::to_vec(&event) {
            Ok(l) => l.into_boxed_slice(),
            Err(e) => {
                eprintln!("driftgate: audit event {} cannot be encoded: {e}", event.id);
                return;
            }
        };
        let encoded = Arc::new(Encoded { event, line });
        for sink in self.sinks.iter().filter(|s| s.enabled.load(Ordering::Relaxed)) {
            sink.stats.queued.fetch_add(1, Ordering::Relaxed);
            let sent = match &sink.queue {
                Queue::Thread(tx) => match tx.try_send(Msg::Event(Arc::clone(&encoded))) {
                    Ok(()) => true,
                    Err(TrySendError::Full(m)) => tx.send(m).is_ok(),
                    Err(TrySendError::Disconnected(_)) => false,
                },
                // Kubernetes Events summarise and are rate-limited by design; what does not fit
                // their queue is skipped (counted), never waited for
                Queue::Cluster(tx) => {
                    if tx.try_send(Arc::clone(&encoded)).is_err() {
                        sink.stats.queued.fetch_sub(1, Ordering::Relaxed);
                        sink.stats.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    true
                }
            };
            if !sent {
                sink.stats.queued.fetch_sub(1, Ordering::Relaxed);
                sink.stats.dropped.fetch_add(1, Ordering::Relaxed);
                eprintln!("driftgate: audit sink {} cannot take event {}", sink.name, encoded.event.id);
            }
        }
        self.live.publish(&encoded);
    }

    /// Waits until every sink has written (file), synced or spooled (HTTP) what it was given,
    /// for at most `timeout`. Returns whether all of them answered.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut waits = Vec::new();
        for sink in &self.sinks {
            if let Queue::Thread(tx) = &sink.queue {
                let (ack, done) = mpsc::sync_channel(1);
                if tx.send(Msg::Flush(ack)).is_ok() {
                    waits.push(done);
                }
            }
        }
        waits.iter().all(|w| w.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok())
    }

    /// The live stream.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// Each sink's name and counters.
    pub fn stats(&self) -> impl Iterator<Item = (&str, &SinkStats)> {
        self.sinks.iter().map(|s| (s.name.as_str(), &*s.stats))
    }

    /// The Kubernetes Events sink's queue, once: the cluster shell runs it.
    pub fn take_kubernetes(&self) -> Option<KubeQueue> {
        self.kube.lock().ok()?.take()
    }

    /// Turns the Kubernetes Events sink off (there is no cluster to write to); whether there was one.
    pub fn disable_kubernetes(&self) -> bool {
        let taken = self.take_kubernetes().is_some();
        for s in self.sinks.iter().filter(|s| matches!(s.queue, Queue::Cluster(_))) {
            s.enabled.store(false, Ordering::Relaxed);
        }
        taken
    }
}

/// Takes what is queued (after `first`), up to a batch, answering flushes once the batch before
/// them is handled.
fn drain(first: Msg, rx: &Receiver<Msg>, batch: &mut Vec<Arc<Encoded>>, flushes: &mut Vec<SyncSender<()>>) {
    let mut next = Some(first);
    while let Some(m) = next {
        match m {
            Msg::Event(e) => batch.push(e),
            Msg::Flush(ack) => {
                flushes.push(ack);
                return;
            }
        }
        if batch.len() >= 4096 {
            return;
        }
        next = rx.try_recv().ok();
    }
}

fn taken(stats: &SinkStats, n: usize) {
    stats.queued.fetch_sub(n as u64, Ordering::Relaxed);
}

fn run_stdout(rx: &Receiver<Msg>, stats: &SinkStats) {
    let mut batch = Vec::new();
    let mut flushes = Vec::new();
    while let Ok(first) = rx.recv() {
        drain(first, rx, &mut batch, &mut flushes);
        let mut out = io::stdout().lock();
        for e in &batch {
            let _ = out.write_all(&e.line).and_then(|()| out.write_all(b"\n"));
        }
        let _ = out.flush();
        taken(stats, batch.len());
        stats.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
    }
}

fn run_file(mut file: AuditFile, rx: &Receiver<Msg>, stats: &SinkStats) {
    let mut batch: Vec<Arc<Encoded>> = Vec::new();
    let mut flushes = Vec::new();
    loop {
        let wait = file.sync_due().map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(Instant::now()));
        match rx.recv_timeout(wait) {
            Ok(first) => drain(first, rx, &mut batch, &mut flushes),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // a failing disk is retried, holding the batch: events wait (and the queue pushes back)
        // rather than vanish
        let mut failures = 0;
        loop {
            let result = file.append(batch.iter().map(|e| &*e.line)).and_then(|()| {
                if flushes.is_empty() && file.sync_due().is_none_or(|d| d > Instant::now()) {
                    Ok(())
                } else {
                    file.sync()
                }
            });
            match result {
                Ok(()) => break,
                Err(e) => {
                    failures += 1;
                    eprintln!("driftgate: audit file write failed (attempt {failures}); retrying: {e}");
                    std::thread::sleep(http::backoff(failures));
                }
            }
        }
        taken(stats, batch.len());
        stats.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
    }
    let _ = file.sync();
}

fn run_http(mut spool: Spool, endpoint: &Endpoint, batch_size: usize, rx: &Receiver<Msg>, stats: &SinkStats) {
    let mut batch: Vec<Arc<Encoded>> = Vec::new();
    let mut flushes = Vec::new();
    let mut failures = 0u32;
    let mut next_try = Instant::now();
    let mut open = true;
    stats.spooled.store(spool.pending(), Ordering::Relaxed);
    while open || spool.pending() > 0 {
        let wait = if spool.pending() > 0 {
            next_try.saturating_duration_since(Instant::now())
        } else {
            Duration::from_secs(3600)
        };
        match rx.recv_timeout(wait) {
            Ok(first) => drain(first, rx, &mut batch, &mut flushes),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        if !batch.is_empty() {
            match spool.push(batch.iter().map(|e| &*e.line)) {
                Ok(n) => {
                    let lost = batch.len() - n;
                    if lost > 0 {
                        stats.dropped.fetch_add(lost as u64, Ordering::Relaxed);
                        eprintln!(
                            "driftgate: audit spool {} is full ({} bytes): {lost} events dropped",
                            spool.dir().display(),
                            spool.bytes()
                        );
                    }
                }
                Err(e) => {
                    stats.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    eprintln!("driftgate: audit spool {}: {e}: {} events dropped", spool.dir().display(), batch.len());
                }
            }
            taken(stats, batch.len());
            batch.clear();
        }
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
        // deliver while the endpoint takes batches; stop at the first failure and wait
        while spool.pending() > 0 && Instant::now() >= next_try {
            let Ok(out) = spool.peek(batch_size) else { break };
            if out.lines.is_empty() {
                break;
            }
            match endpoint.post(&out) {
                Delivery::Delivered => {
                    failures = 0;
                    if let Err(e) = spool.commit(&out) {
                        eprintln!("driftgate: audit spool {}: {e}", spool.dir().display());
                    }
                    stats.written.fetch_add(out.lines.len() as u64, Ordering::Relaxed);
                }
                Delivery::Rejected(why) => {
                    eprintln!(
                        "driftgate: audit endpoint refused {} events ({why}); kept in rejected.jsonl",
                        out.lines.len()
                    );
                    stats.rejected.fetch_add(out.lines.len() as u64, Ordering::Relaxed);
                    if let Err(e) = http::reject(&mut spool, &out) {
                        eprintln!("driftgate: audit spool {}: {e}", spool.dir().display());
                    }
                }
                Delivery::Retry(why) => {
                    failures += 1;
                    let delay = http::backoff(failures);
                    if failures == 1 || failures.is_power_of_two() {
                        eprintln!(
                            "driftgate: audit delivery failed ({why}); retrying in {delay:?}, events stay spooled"
                        );
                    }
                    next_try = Instant::now() + delay;
                    if !open {
                        // shutting down: what is spooled is sent after the restart
                        stats.spooled.store(spool.pending(), Ordering::Relaxed);
                        return;
                    }
                }
            }
            stats.spooled.store(spool.pending(), Ordering::Relaxed);
        }
        stats.spooled.store(spool.pending(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize) -> CloudEvent {
        serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": format!("e{i}"), "source": "driftgate", "type": "dev.driftgate.drift.detected",
            "time": "t", "datacontenttype": "application/json",
            "data": {"actor": {"username": null, "groups": [], "fieldManager": null}, "object": null, "paths": [],
                     "source": null, "revision": null, "commit": null, "traceId": null, "dryRun": false}
        }))
        .unwrap()
    }

    #[test]
    fn the_kubernetes_events_sink_skips_what_does_not_fit_and_never_drops() {
        let auditor = Auditor::open(&Audit { sinks: vec![SinkConfig::new(SinkType::KubernetesEvents)] }).unwrap();
        for i in 0..5000 {
            auditor.emit(event(i));
        }
        let (name, stats) = auditor.stats().next().unwrap();
        assert_eq!(name, "kubernetesEvents");
        assert_eq!(stats.skipped.load(Ordering::Relaxed), 5000 - 4096);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 0);
        // without a cluster the sink is off: nothing is queued, skipped or dropped from then on
        assert!(auditor.disable_kubernetes());
        auditor.emit(event(5000));
        let (_, stats) = auditor.stats().next().unwrap();
        assert_eq!((stats.skipped.load(Ordering::Relaxed), stats.dropped.load(Ordering::Relaxed)), (904, 0));
    }

    #[test]
    fn a_flush_waits_for_the_file_to_have_every_event() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SinkConfig::new(SinkType::File);
        sink.path = Some(dir.path().join("audit.jsonl"));
        let auditor = Auditor::open(&Audit { sinks: vec![sink] }).unwrap();
        for i in 0..1000 {
            auditor.emit(event(i));
        }
        assert!(auditor.flush(Duration::from_secs(10)));
        let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 1000);
        let (_, stats) = auditor.stats().next().unwrap();
        assert_eq!((stats.backlog(), stats.written.load(Ordering::Relaxed)), (0, 1000));
    }
}
