//! Audit throughput to a file, side by side in one run: driftgate's file sink under each fsync
//! policy (one writer thread, group commit) against the naive sink (write and fsync per event,
//! which is what the file sink did before), for the same events emitted from 4 threads.
//! Usage: cargo run --release --example audit_bench [EVENTS]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, clippy::cast_precision_loss)]

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use driftgate::audit::{Auditor, CloudEvent};
use driftgate::config::{Audit, Fsync, Sink, SinkType};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A denied admission event, as serve writes them (~800 bytes).
fn event(i: usize) -> CloudEvent {
    serde_json::from_value(serde_json::json!({
        "specversion": "1.0", "id": format!("3e261f36-e73e-4311-9627-{i:012}"), "source": "driftgate",
        "type": "dev.driftgate.admission.denied", "time": "2026-11-29T04:34:41.930195685Z",
        "datacontenttype": "application/json", "subject": "apps/Deployment/demo/guestbook",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "data": {"actor": {"username": "alice", "groups": ["developers", "system:authenticated"], "fieldManager": "kubectl-edit"},
                 "object": {"group": "apps", "kind": "Deployment", "namespace": "demo", "name": "guestbook"},
                 "paths": ["spec.template.spec.containers[name=web].image"], "verdict": "denied", "source": "guestbook",
                 "revision": "main", "commit": "319867a1c2b9d6e4f0a8b7c6d5e4f3a2b1c0d9e8", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                 "dryRun": false, "operation": "UPDATE", "subResource": null, "allowed": false, "mode": "enforce",
                 "message": "driftgate: Deployment.apps demo/guestbook is managed by Git (source guestbook); this change touches spec.template.spec.containers[name=web].image. Change it in Git, or ask for break-glass."}
    }))
    .unwrap()
}

fn sink(policy: Fsync, path: &std::path::Path) -> Auditor {
    let mut s = Sink::new(SinkType::File);
    s.path = Some(path.to_owned());
    s.fsync = policy;
    s.max_bytes = 1 << 40;
    Auditor::open(&Audit { sinks: vec![s] }).unwrap()
}

/// Emits `n` events from 4 threads and waits until the sink has written (and synced) them all.
fn through_auditor(policy: Fsync, n: usize, dir: &std::path::Path) -> f64 {
    let path = dir.join(format!("{policy:?}.jsonl"));
    let auditor = Arc::new(sink(policy, &path));
    let events: Vec<Vec<CloudEvent>> = (0..4).map(|t| (0..n / 4).map(|i| event(t * n + i)).collect()).collect();
    let start = Instant::now();
    let threads: Vec<_> = events
        .into_iter()
        .map(|batch| {
            let a = Arc::clone(&auditor);
            std::thread::spawn(move || {
                for e in batch {
                    a.emit(e);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(auditor.flush(Duration::from_secs(600)));
    let took = start.elapsed().as_secs_f64();
    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
    assert_eq!(lines, n / 4 * 4, "every event written");
    (n / 4 * 4) as f64 / took
}

/// The naive sink: serialise, write and fsync each event under a lock.
fn naive(n: usize, dir: &std::path::Path) -> f64 {
    let file = std::sync::Mutex::new(
        std::fs::OpenOptions::new().create(true).append(true).open(dir.join("naive.jsonl")).unwrap(),
    );
    let file = Arc::new(file);
    let start = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let f = Arc::clone(&file);
            std::thread::spawn(move || {
                for i in 0..n / 4 {
                    let mut line = serde_json::to_vec(&event(t * n + i)).unwrap();
                    line.push(b'\n');
                    let mut f = f.lock().unwrap();
                    f.write_all(&line).unwrap();
                    f.sync_data().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    (n / 4 * 4) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::args().nth(1).map_or(200_000, |a| a.parse().expect("EVENTS is a number"));
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap();
    // the naive sink is slow (one fsync per event): it gets fewer events, reported per second
    let naive_n = (n / 50).max(400);
    let base = naive(naive_n, dir.path());
    println!("audit events to a file, 4 emitting threads, ~800-byte events, {n} events per run");
    println!("{:<28} {:>12} {:>10}", "sink", "events/s", "vs naive");
    println!("{:<28} {:>12.0} {:>9.1}x", format!("naive (fsync per event, {naive_n})"), base, 1.0);
    for policy in [Fsync::Batch, Fsync::Always, Fsync::Never] {
        let rate = through_auditor(policy, n, dir.path());
        println!("{:<28} {:>12.0} {:>9.1}x", format!("driftgate fsync: {policy:?}"), rate, rate / base);
    }
}
