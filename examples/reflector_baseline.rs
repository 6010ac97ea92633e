//! The baseline for the detector's memory figure: a kube-rs reflector that keeps every watched
//! Deployment whole, as `DynamicObject`s in its store. Lists and watches `NAMESPACE` with the
//! kubeconfig in `KUBECONFIG` until the store holds `N` objects, then prints its RSS in KiB.
//! Run by `benches/detector.sh` beside `driftgate serve`, against the same fake API server.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt as _, reflector, watcher};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let namespace = args.next().expect("usage: reflector_baseline NAMESPACE N");
    let n: usize = args.next().expect("usage: reflector_baseline NAMESPACE N").parse().unwrap();
    let client = kube::Client::try_default().await.unwrap();
    let ar = ApiResource {
        group: "apps".into(),
        version: "v1".into(),
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        plural: "deployments".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client, &namespace, &ar);
    let writer = reflector::store::Writer::new(ar);
    let reader = writer.as_reader();
    let stream = reflector(writer, watcher(api, watcher::Config::default())).applied_objects();
    tokio::spawn(stream.for_each(|_| async {}));
    while reader.state().len() < n {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    println!("{}", rss.split_whitespace().nth(1).unwrap());
}
