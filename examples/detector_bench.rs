//! The detector's figures, side by side in one run against one in-process fake API server
//! holding N Deployments (`benches/fleet_gen.rs`, every tenth drifted):
//! - RSS of `driftgate serve` watching them, against a kube-rs reflector that keeps them whole
//!   (`examples/reflector_baseline.rs`);
//! - watch event to updated status: a `kubectl edit` written to the API server until the
//!   `drift.detected` audit event leaves driftgate, and the revert until `drift.resolved`.
//!
//! `cargo build --release --bin driftgate --example reflector_baseline --example detector_bench`
//! then `target/release/examples/detector_bench [N] [EDITS]`; `benches/detector.sh` does both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]

#[path = "../tests/support/apiserver.rs"]
mod apiserver;
#[path = "../benches/fleet_gen.rs"]
mod fleet_gen;

use std::io::{BufRead as _, BufReader, Write as _};

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(10_000, |s| s.parse().unwrap());
    let edits: usize = args.next().map_or(200, |s| s.parse().unwrap());
    // `heal`: self-heal on, with an HPA's ignore rule; measures edit-to-revert and an HPA's churn
    let heal = args.next().is_some_and(|m| m == "heal");
    let bin = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("driftgate");
    let baseline = std::env::current_exe().unwrap().parent().unwrap().join("reflector_baseline");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let desired = dir.join("desired");
    std::fs::create_dir_all(&desired).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(desired.join("fleet.yaml")).unwrap());
    for i in 0..n {
        writeln!(f, "---\n{}", serde_saphyr::to_string(&fleet_gen::desired(i)).unwrap()).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let config = dir.join("driftgate.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n  - name: fleet\n    path: {}\naudit:\n  sinks:\n    - type: stdout\n{}",
            desired.display(),
            if heal {
                "selfHeal: {enabled: true}\nignoreDifferences:\n  - {group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}\n"
            } else {
                ""
            }
        ),
    )
    .unwrap();

    let api = apiserver::FakeApiServer::start();
    let live: Vec<Value> = (0..n).map(fleet_gen::live).collect();
    let live_bytes: usize = live.iter().map(|v| serde_json::to_vec(v).unwrap().len()).sum();
    api.load(live);
    let kubeconfig = api.kubeconfig(dir);
    let certs = Command::new(&bin)
        .args(["certs", "--service", "driftgate", "--namespace", "bench", "--ip", "127.0.0.1", "--out"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(certs.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let started = Instant::now();
    let mut child = Command::new(&bin)
        .arg("serve")
        .arg(format!("--config={}", config.display()))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--tls-cert={}", dir.join("tls.crt").display()))
        .arg(format!("--tls-key={}", dir.join("tls.key").display()))
        .args(["--lease-namespace=fleet", "--lease-duration=2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<(Instant, String, String, Value)>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let at = Instant::now();
            if let Ok(e) = serde_json::from_str::<Value>(&line) {
                let t = e["type"].as_str().unwrap_or_default().to_owned();
                let subject = e["subject"].as_str().unwrap_or_default().to_owned();
                if tx.send((at, t, subject, e["data"].clone())).is_err() {
                    return;
                }
            }
        }
    });

    let client = reqwest::blocking::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let url = format!("https://127.0.0.1:{port}/api/v1/sources");
    loop {
        assert!(started.elapsed() < Duration::from_secs(120), "the detector never listed the fleet");
        std::thread::sleep(Duration::from_millis(100));
        let Ok(resp) = client.get(&url).send() else { continue };
        let Ok(v) = serde_json::from_slice::<Value>(&resp.bytes().unwrap()) else { continue };
        let s = &v["sources"][0]["summary"];
        let total: u64 = ["synced", "outOfSync", "missing", "extra"].iter().filter_map(|k| s[k].as_u64()).sum();
        if total == n as u64 && s["unknown"] == 0 {
            break;
        }
    }
    let listed = started.elapsed();
    let status: Value = serde_json::from_slice(&client.get(&url).send().unwrap().bytes().unwrap()).unwrap();
    let projection_kib = status["live"]["projectionBytes"].as_u64().unwrap_or(0) / 1024;
    let startup_cpu = cpu_secs(pid);
    // drain the start-up events (every tenth object is drifted)
    std::thread::sleep(Duration::from_secs(1));
    while rx.try_recv().is_ok() {}
    let (rss, hwm) = rss_kib(pid);

    let mut detect = Vec::new();
    let mut resolve = Vec::new();
    let wait = |kind: &str, name: &str| -> (Instant, Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (at, t, subject, data) =
                rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("no event");
            if t == kind && subject.ends_with(&format!("/{name}")) {
                return (at, data);
            }
        }
    };
    if heal {
        heal_figures(&api, n, edits, &wait, &rx);
        let _ = child.kill();
        let _ = child.wait();
        return;
    }
    for e in 0..edits {
        let i = (e * 7919 + 1) % n;
        let i = if i.is_multiple_of(10) { i + 1 } else { i };
        let name = format!("app-{i}");
        let mut obj = api.get("Deployment", Some("fleet"), &name).unwrap();
        let before = obj.clone();
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = json!("registry.example.com/app:edited");
        api.write(obj, "kubectl-edit");
        let t0 = Instant::now();
        detect.push(wait("dev.driftgate.drift.detected", &name).0 - t0);
        api.write(before, "argocd-controller");
        let t0 = Instant::now();
        resolve.push(wait("dev.driftgate.drift.resolved", &name).0 - t0);
    }
    let (rss_after, _) = rss_kib(pid);
    let _ = child.kill();
    let _ = child.wait();

    let base = Command::new(&baseline).args(["fleet", &n.to_string()]).env("KUBECONFIG", &kubeconfig).output().unwrap();
    let base_kib: u64 = String::from_utf8_lossy(&base.stdout).trim().parse().unwrap_or(0);

    detect.sort();
    resolve.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "objects: {n} Deployments, {:.1} KiB each as served (JSON), {} edits",
        live_bytes as f64 / n as f64 / 1024.0,
        edits
    );
    println!(
        "first full status after start: {:.2} s wall, {:.2} s CPU (render, list, project, evaluate)",
        listed.as_secs_f64(),
        startup_cpu
    );
    println!("live projections: {projection_kib} KiB held for {n} objects");
    println!(
        "RSS driftgate serve (watching):   {:>7.1} MB  (peak {:.1} MB, after the edits {:.1} MB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    if base_kib > 0 {
        println!(
            "RSS kube-rs reflector (baseline): {:>7.1} MB  -> driftgate is {:.2}x the baseline",
            base_kib as f64 / 1024.0,
            rss as f64 / base_kib as f64
        );
    }
    println!(
        "edit -> drift.detected: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&detect, 0.5)),
        ms(percentile(&detect, 0.99)),
        ms(*detect.last().unwrap())
    );
    println!(
        "revert -> drift.resolved: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&resolve, 0.5)),
        ms(percentile(&resolve, 0.99)),
        ms(*resolve.last().unwrap())
    );
}

type Events = mpsc::Receiver<(Instant, String, String, Value)>;

/// Self-heal's figures: edit to revert, API calls per heal, and heals during an HPA's churn.
fn heal_figures(
    api: &apiserver::FakeApiServer,
    n: usize,
    edits: usize,
    wait: &dyn Fn(&str, &str) -> (Instant, Value),
    rx: &Events,
) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    // the start-up heals of the drifted tenth are done before measuring
    std::thread::sleep(Duration::from_secs(8));
    let mut startup: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    while let Ok((_, t, _, _)) = rx.recv_timeout(Duration::from_millis(500)) {
        *startup.entry(t).or_default() += 1;
    }
    let mut revert = Vec::new();
    let mut calls: Vec<u64> = Vec::new();
    for e in 0..edits {
        let i = (e * 7919 + 1) % n;
        let i = if i.is_multiple_of(10) { i + 1 } else { i };
        let name = format!("app-{i}");
        let mut obj = api.get("Deployment", Some("fleet"), &name).unwrap();
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = json!("registry.example.com/app:edited");
        obj["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "DEBUG", "value": "1"}));
        api.write(obj, "kubectl-edit");
        let t0 = Instant::now();
        let (at, data) = wait("dev.driftgate.heal.applied", &name);
        revert.push(at - t0);
        calls.push(data["calls"].as_u64().unwrap_or(0));
        // edits a tenth of a second apart: latency, not the global rate limit (20 heals/s)
        std::thread::sleep(Duration::from_millis(100));
    }
    // an HPA's ten minutes, one scale decision a second, replayed at 100 a second
    let before = api.requests().iter().filter(|r| r.contains("fieldManager=driftgate")).count();
    for tick in 0..600 {
        let name = format!("app-{}", (tick * 13 + 1) % n);
        let mut obj = api.get("Deployment", Some("fleet"), &name).unwrap();
        obj["spec"]["replicas"] = json!(3 + tick % 7);
        api.write(obj, "kube-controller-manager");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(2));
    let mut churn_heals = 0;
    while let Ok((_, t, _, _)) = rx.try_recv() {
        if t.starts_with("dev.driftgate.heal.") {
            churn_heals += 1;
        }
    }
    let churn_writes = api.requests().iter().filter(|r| r.contains("fieldManager=driftgate")).count() - before;
    revert.sort();
    println!("objects: {n} Deployments, {edits} kubectl edits (image + an added env var), self-heal on");
    println!("start-up events after the first second (the drifted tenth being healed): {startup:?}");
    println!(
        "edit -> revert (heal.applied): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&revert, 0.5)),
        ms(percentile(&revert, 0.99)),
        ms(*revert.last().unwrap())
    );
    let max_calls = calls.iter().max().copied().unwrap_or(0);
    let mean = calls.iter().sum::<u64>() as f64 / calls.len().max(1) as f64;
    println!("API calls per heal: mean {mean:.2}, max {max_calls} (one guarded patch for the env var, one apply)");
    println!(
        "HPA churn (600 replica changes, ignoreDifferences /spec/replicas): {churn_heals} heal events, {churn_writes} writes by driftgate"
    );
}
