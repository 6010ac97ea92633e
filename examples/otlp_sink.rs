//! A minimal OTLP/HTTP trace receiver for `benches/tracing.sh`: decodes each export (as a
//! collector would) and counts the spans, printing the count when stopped with SIGTERM or when
//! `GET /count` is asked.
//! Usage: cargo run --release --example otlp_sink ADDR
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let addr = std::env::args().nth(1).expect("usage: otlp_sink ADDR");
    let spans = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(n): State<Arc<AtomicU64>>, body: Bytes| async move {
                let req = ExportTraceServiceRequest::decode(body).unwrap();
                let count: usize = req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
                n.fetch_add(count as u64, Ordering::Relaxed);
                ""
            }),
        )
        .route("/count", get(|State(n): State<Arc<AtomicU64>>| async move { n.load(Ordering::Relaxed).to_string() }))
        .with_state(spans);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
