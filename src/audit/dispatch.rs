//! The auditor: every event is encoded once, then handed to each configured sink's queue and
//! to the live stream. Each sink drains its queue on its own thread, so a slow disk or a down
//! endpoint never holds up the code that emits; a full queue (65,536 events) applies
//! back-pressure rather than dropping. An admission handler asks for a [`Confirmation`] and
//! answers once every sink that can hold the event has it: written (stdout, file), synced where
//! the policy says so (file with `fsync: always`), or synced into the HTTP spool.

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::file::AuditFile;
use super::http::{self, Delivery, Endpoint};
use super::live::Live;
use super::spool::Spool;
use super::{CloudEvent, Encoded};
use crate::config::{Audit, Sink as SinkConfig, SinkType};

const QUEUE: usize = 65_536;

/// Most events a sink thread takes from its queue in one go (one write, one fsync).
const GROUP: usize = 4096;

/// Counters of one sink, read by the metrics endpoint.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Events handed to the sink and not yet taken by its thread.
    pub queued: AtomicU64,
    /// Events the sink holds but has not delivered (the HTTP spool).
    pub spooled: AtomicU64,
    /// Events written or delivered.
    pub written: AtomicU64,
    /// Events lost: the sink's thread gone. Kept at 0 in a healthy setup.
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

/// A sink's word that it holds an event.
type Ack = tokio::sync::oneshot::Sender<()>;

enum Msg {
    Event(Arc<Encoded>, Option<Ack>),
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
    enabled: AtomicBool,
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

/// The acknowledgements one event is owed by the sinks that hold events (stdout, file, HTTP);
/// the Kubernetes Events sink and the live stream owe none.
#[derive(Debug, Default)]
pub struct Confirmation {
    waits: Vec<(String, tokio::sync::oneshot::Receiver<()>)>,
}

impl Confirmation {
    /// Waits at most `budget` for every sink to confirm, without blocking the runtime; the names
    /// of the sinks that did not (their thread still holds the event and writes it later).
    pub async fn wait(self, budget: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + budget;
        let mut late = Vec::new();
        for (name, ack) in self.waits {
            if !matches!(tokio::time::timeout_at(deadline, ack).await, Ok(Ok(()))) {
                late.push(name);
            }
        }
        late
    }

    /// Sinks still owed an acknowledgement.
    pub fn len(&self) -> usize {
        self.waits.len()
    }

    /// Whether no sink owes one.
    pub fn is_empty(&self) -> bool {
        self.waits.is_empty()
    }
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
                            let shared = Arc::new(Spooled::new(spool));
                            stats.spooled.store(shared.lock().pending(), Ordering::Relaxed);
                            let (sh, st, batch) = (Arc::clone(&shared), Arc::clone(&stats), c.batch_size.max(1));
                            threads.push(
                                std::thread::Builder::new()
                                    .name(format!("audit-deliver-{i}"))
                                    .spawn(move || run_delivery(&sh, &endpoint, batch, &st))?,
                            );
                            (
                                // the name is a metric label and appears in logs
                                format!("http:{}", crate::redact::url(c.url.as_deref().unwrap_or_default())),
                                Box::new(move |rx, st| run_spooler(&shared, &rx, &st)),
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
            sinks.push(SinkHandle { name, queue, stats, enabled: AtomicBool::new(true) });
        }
        Ok(Self { sinks, _threads: threads, live: Live::default(), kube: Mutex::new(kube) })
    }

    /// Hands an event to every sink and the live stream. Blocks only when a sink's queue is
    /// full, so nothing is dropped.
    pub fn emit(&self, event: CloudEvent) {
        let _ = self.hand_out(event, false);
    }

    /// Hands an event to every sink like [`Auditor::emit`], and returns the acknowledgements to
    /// await before acting on it. Never blocks inside an async runtime: a full queue is waited
    /// for on the runtime's blocking threads, and the wait shows in the confirmation.
    pub fn emit_confirmed(&self, event: CloudEvent) -> Confirmation {
        self.hand_out(event, true)
    }

    fn hand_out(&self, event: CloudEvent, confirm: bool) -> Confirmation {
        let mut confirmation = Confirmation::default();
        let line = match serde_json::to_vec(&event) {
            Ok(l) => l.into_boxed_slice(),
            Err(e) => {
                eprintln!("driftgate: audit event {} cannot be encoded: {e}", event.id);
                return confirmation;
            }
        };
        let encoded = Arc::new(Encoded { event, line });
        for sink in self.sinks.iter().filter(|s| s.enabled.load(Ordering::Relaxed)) {
            sink.stats.queued.fetch_add(1, Ordering::Relaxed);
            let sent = match &sink.queue {
                Queue::Thread(tx) => {
                    let ack = confirm.then(|| {
                        let (ack, wait) = tokio::sync::oneshot::channel();
                        confirmation.waits.push((sink.name.clone(), wait));
                        ack
                    });
                    match tx.try_send(Msg::Event(Arc::clone(&encoded), ack)) {
                        Ok(()) => true,
                        Err(TrySendError::Full(m)) => match tokio::runtime::Handle::try_current() {
                            Ok(rt) if confirm => {
                                let (tx, stats, name) = (tx.clone(), Arc::clone(&sink.stats), sink.name.clone());
                                rt.spawn_blocking(move || {
                                    if tx.send(m).is_err() {
                                        lost(&stats, &name);
                                    }
                                });
                                true
                            }
                            _ => tx.send(m).is_ok(),
                        },
                        Err(TrySendError::Disconnected(_)) => false,
                    }
                }
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
                lost(&sink.stats, &sink.name);
            }
        }
        self.live.publish(&encoded);
        confirmation
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

/// An event the sink's thread can no longer take.
fn lost(stats: &SinkStats, name: &str) {
    stats.queued.fetch_sub(1, Ordering::Relaxed);
    stats.dropped.fetch_add(1, Ordering::Relaxed);
    eprintln!("driftgate: audit sink {name} cannot take an event: its thread is gone");
}

/// What a sink thread took from its queue in one go, and who waits for it.
#[derive(Default)]
struct Taken {
    events: Vec<Arc<Encoded>>,
    acks: Vec<Ack>,
    flushes: Vec<SyncSender<()>>,
}

impl Taken {
    /// Takes `first` and what else is queued, up to a group, stopping after a flush so the
    /// flush is answered once what came before it is held.
    fn take(&mut self, first: Msg, rx: &Receiver<Msg>) {
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                Msg::Event(e, ack) => {
                    self.events.push(e);
                    self.acks.extend(ack);
                }
                Msg::Flush(ack) => {
                    self.flushes.push(ack);
                    return;
                }
            }
            if self.events.len() >= GROUP {
                return;
            }
            next = rx.try_recv().ok();
        }
    }

    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.events.iter().map(|e| &*e.line)
    }

    /// The events are held: tells everyone waiting, and empties for the next group.
    fn held(&mut self) {
        self.events.clear();
        for a in self.acks.drain(..) {
            let _ = a.send(());
        }
        for f in self.flushes.drain(..) {
            let _ = f.send(());
        }
    }
}

fn taken(stats: &SinkStats, n: usize) {
    stats.queued.fetch_sub(n as u64, Ordering::Relaxed);
}

fn run_stdout(rx: &Receiver<Msg>, stats: &SinkStats) {
    let mut group = Taken::default();
    while let Ok(first) = rx.recv() {
        group.take(first, rx);
        let mut out = io::stdout().lock();
        for line in group.lines() {
            let _ = out.write_all(line).and_then(|()| out.write_all(b"\n"));
        }
        let _ = out.flush();
        drop(out);
        taken(stats, group.events.len());
        stats.written.fetch_add(group.events.len() as u64, Ordering::Relaxed);
        group.held();
    }
}

/// Group commit: everything queued is written at once and, with `fsync: always`, synced once;
/// then every event of the group is acknowledged.
fn run_file(mut file: AuditFile, rx: &Receiver<Msg>, stats: &SinkStats) {
    let mut group = Taken::default();
    loop {
        let wait = file.sync_due().map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(Instant::now()));
        match rx.recv_timeout(wait) {
            Ok(first) => group.take(first, rx),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        // a failing disk is retried, holding what is not written yet: events wait (and the
        // queue pushes back) rather than vanish
        let mut done = 0;
        let mut failures = 0;
        loop {
            let flush = !group.flushes.is_empty();
            match file.append(group.lines().skip(done), flush) {
                Ok(()) => break,
                Err(e) => {
                    done += e.written;
                    failures += 1;
                    eprintln!("driftgate: audit file write failed (attempt {failures}); retrying: {}", e.error);
                    std::thread::sleep(http::backoff(failures));
                }
            }
        }
        taken(stats, group.events.len());
        stats.written.fetch_add(group.events.len() as u64, Ordering::Relaxed);
        group.held();
    }
    let _ = file.sync();
}

/// The HTTP sink's spool, shared by the thread that appends to it and the one that delivers
/// from it; `changed` wakes either when the other has moved it.
struct Spooled {
    spool: Mutex<Spool>,
    changed: Condvar,
    closed: AtomicBool,
}

impl Spooled {
    fn new(spool: Spool) -> Self {
        Self { spool: Mutex::new(spool), changed: Condvar::new(), closed: AtomicBool::new(false) }
    }

    fn lock(&self) -> MutexGuard<'_, Spool> {
        // the spool's state lives on disk; a panic elsewhere leaves nothing half-done in memory
        self.spool.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a change or `until`, whichever comes first.
    fn wait<'a>(&self, guard: MutexGuard<'a, Spool>, until: Instant) -> MutexGuard<'a, Spool> {
        let left = until.saturating_duration_since(Instant::now());
        match self.changed.wait_timeout(guard, left) {
            Ok((g, _)) => g,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}

/// Appends what is queued to the spool (synced) and acknowledges it; never touches the network,
/// so a hanging endpoint cannot hold up admission answers or the shutdown flush. A full spool is
/// waited out, like a failing disk: the events stay queued until delivery frees room.
fn run_spooler(shared: &Spooled, rx: &Receiver<Msg>, stats: &SinkStats) {
    let mut group = Taken::default();
    while let Ok(first) = rx.recv() {
        group.take(first, rx);
        let mut done = 0;
        let mut failures = 0;
        let mut full_logged = false;
        while done < group.events.len() {
            let mut spool = shared.lock();
            match spool.push(group.lines().skip(done)) {
                Ok(n) => {
                    done += n;
                    taken(stats, n);
                    stats.spooled.store(spool.pending(), Ordering::Relaxed);
                    shared.changed.notify_all();
                    if done < group.events.len() {
                        if !full_logged {
                            full_logged = true;
                            eprintln!(
                                "driftgate: audit spool {} is full ({} bytes): {} events wait for delivery to make room",
                                spool.dir().display(),
                                spool.bytes(),
                                group.events.len() - done
                            );
                        }
                        drop(shared.wait(spool, Instant::now() + Duration::from_secs(1)));
                    }
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("driftgate: audit spool {} (attempt {failures}); retrying: {e}", spool.dir().display());
                    drop(spool);
                    std::thread::sleep(http::backoff(failures));
                }
            }
        }
        group.held();
    }
    shared.closed.store(true, Ordering::SeqCst);
    shared.changed.notify_all();
}

/// Delivers the spool in order, batch by batch, holding the lock only to read and to move the
/// cursor. A failure keeps the batch and backs off; a batch refused for good is set aside.
fn run_delivery(shared: &Spooled, endpoint: &Endpoint, batch_size: usize, stats: &SinkStats) {
    let mut failures = 0u32;
    let mut next_try = Instant::now();
    loop {
        let batch = {
            let mut spool = shared.lock();
            loop {
                let closed = shared.closed.load(Ordering::SeqCst);
                if Instant::now() >= next_try && spool.pending() > 0 {
                    match spool.peek(batch_size) {
                        Ok(b) if !b.lines.is_empty() => break b,
                        Ok(_) => {}
                        Err(e) => {
                            failures += 1;
                            let delay = http::backoff(failures);
                            next_try = Instant::now() + delay;
                            eprintln!("driftgate: audit spool {}: {e}; retrying in {delay:?}", spool.dir().display());
                        }
                    }
                }
                // once the sink is closed, what is left is delivered after the next start
                if closed && (failures > 0 || spool.pending() == 0) {
                    return;
                }
                let until = if spool.pending() > 0 {
                    next_try.max(Instant::now() + Duration::from_millis(10))
                } else {
                    Instant::now() + Duration::from_secs(3600)
                };
                spool = shared.wait(spool, until);
            }
        };
        let outcome = endpoint.post(&batch);
        let mut spool = shared.lock();
        match outcome {
            Delivery::Delivered => match spool.commit(&batch) {
                Ok(()) => {
                    failures = 0;
                    stats.written.fetch_add(batch.lines.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    // the cursor stays: the batch is sent again (receivers dedup on the id)
                    failures += 1;
                    next_try = Instant::now() + http::backoff(failures);
                    eprintln!(
                        "driftgate: audit spool {}: {e}; the delivered batch stays spooled",
                        spool.dir().display()
                    );
                }
            },
            Delivery::Rejected(why) => {
                eprintln!(
                    "driftgate: audit endpoint refused {} events ({why}); kept in rejected.jsonl",
                    batch.lines.len()
                );
                match http::reject(&mut spool, &batch) {
                    Ok(()) => {
                        stats.rejected.fetch_add(batch.lines.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("driftgate: audit spool {}: {e}; the batch stays spooled", spool.dir().display());
                        failures += 1;
                        next_try = Instant::now() + http::backoff(failures);
                    }
                }
            }
            Delivery::Retry(why) => {
                failures += 1;
                let delay = http::backoff(failures);
                if failures == 1 || failures.is_power_of_two() {
                    eprintln!("driftgate: audit delivery failed ({why}); retrying in {delay:?}, events stay spooled");
                }
                next_try = Instant::now() + delay;
            }
        }
        stats.spooled.store(spool.pending(), Ordering::Relaxed);
        shared.changed.notify_all();
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
        // a summary owes no acknowledgement
        assert!(auditor.emit_confirmed(event(5001)).is_empty());
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_confirmed_event_is_in_the_file_when_the_confirmation_comes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut sink = SinkConfig::new(SinkType::File);
        sink.path = Some(path.clone());
        sink.fsync = crate::config::Fsync::Always;
        let auditor =
            Arc::new(Auditor::open(&Audit { sinks: vec![sink, SinkConfig::new(SinkType::KubernetesEvents)] }).unwrap());
        // many at once share fsyncs, and each is in the file once it is confirmed
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let (auditor, path) = (Arc::clone(&auditor), path.clone());
                tokio::spawn(async move {
                    let c = auditor.emit_confirmed(event(i));
                    assert_eq!(c.len(), 1, "the file owes one; Kubernetes Events none");
                    assert!(c.wait(Duration::from_secs(10)).await.is_empty());
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert!(text.contains(&format!("\"id\":\"e{i}\"")), "e{i} confirmed but not in the file");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[test]
    fn spooling_never_waits_for_a_hanging_endpoint() {
        // the HTTP client blocks, so the auditor lives outside the runtime, as in `serve`
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        // an endpoint that takes connections and never answers
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let held = std::thread::spawn(move || {
            let conns: Vec<_> = listener.incoming().take(1).collect();
            std::thread::sleep(Duration::from_secs(3));
            drop(conns);
        });
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SinkConfig::new(SinkType::Http);
        sink.url = Some(url);
        sink.spool_dir = Some(dir.path().join("spool"));
        sink.timeout = Duration::from_secs(30);
        let auditor = Auditor::open(&Audit { sinks: vec![sink] }).unwrap();
        auditor.emit(event(0));
        // the first POST now hangs; later events are spooled and confirmed all the same
        std::thread::sleep(Duration::from_millis(200));
        for i in 1..50 {
            let c = rt.block_on(async { auditor.emit_confirmed(event(i)) });
            assert!(rt.block_on(c.wait(Duration::from_secs(1))).is_empty(), "e{i} not spooled within 1 s");
        }
        assert!(auditor.flush(Duration::from_secs(1)), "the shutdown flush does not wait for the endpoint");
        let (_, stats) = auditor.stats().next().unwrap();
        assert_eq!(stats.spooled.load(Ordering::Relaxed), 50);
        drop(auditor);
        held.join().unwrap();
    }

    /// An endpoint on 127.0.0.1:`port` that takes every batch, until `stop` is sent; the ids it
    /// got, in order.
    fn endpoint(port: u16) -> (Arc<Mutex<Vec<String>>>, tokio::sync::oneshot::Sender<()>, JoinHandle<()>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let ids = Arc::clone(&got);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
                let app = axum::Router::new().route(
                    "/events",
                    axum::routing::post(move |body: axum::body::Bytes| async move {
                        let batch: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
                        ids.lock().unwrap().extend(batch.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
                        axum::http::StatusCode::OK
                    }),
                );
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        (got, stop, thread)
    }

    #[test]
    fn a_full_spool_holds_events_until_delivery_makes_room_and_answers_are_told() {
        // nothing listens on the port yet: connections are refused
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SinkConfig::new(SinkType::Http);
        sink.url = Some(format!("http://127.0.0.1:{port}/events"));
        sink.spool_dir = Some(dir.path().join("spool"));
        sink.max_spool_bytes = 4096; // a dozen events
        sink.batch_size = 10;
        let auditor = Auditor::open(&Audit { sinks: vec![sink] }).unwrap();
        for i in 0..100 {
            auditor.emit(event(i));
        }
        // an admission answer cannot have its event confirmed now: it is told so within its budget
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let confirmation = rt.block_on(async { auditor.emit_confirmed(event(100)) });
        let late = rt.block_on(confirmation.wait(Duration::from_millis(300)));
        assert_eq!(late, [format!("http:http://127.0.0.1:{port}/events")]);
        {
            let (_, stats) = auditor.stats().next().unwrap();
            assert!(stats.queued.load(Ordering::Relaxed) > 0, "what does not fit waits in the queue");
            assert_eq!((stats.backlog(), stats.dropped.load(Ordering::Relaxed)), (101, 0));
        }
        let (got, stop, thread) = endpoint(port);
        let start = Instant::now();
        while got.lock().unwrap().len() < 101 {
            assert!(start.elapsed() < Duration::from_secs(20), "{} of 101 delivered", got.lock().unwrap().len());
            std::thread::sleep(Duration::from_millis(20));
        }
        let want: Vec<String> = (0..=100).map(|i| format!("e{i}")).collect();
        assert_eq!(*got.lock().unwrap(), want, "every event, once, in order, the unconfirmed one too");
        // the endpoint has them before its answers reach the sink
        let (_, stats) = auditor.stats().next().unwrap();
        while stats.written.load(Ordering::Relaxed) < 101 || stats.backlog() > 0 {
            assert!(start.elapsed() < Duration::from_secs(20), "answers never came back");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 0);
        drop(auditor);
        let _ = stop.send(());
        thread.join().unwrap();
    }
}
