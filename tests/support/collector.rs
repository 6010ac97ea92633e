//! In-process receivers for what `serve` sends out, each on its own runtime thread and bound to
//! 127.0.0.1: an audit endpoint (CloudEvents batches, able to fail on demand) and OTLP trace
//! collectors over HTTP/protobuf and gRPC that decode the protobuf with opentelemetry-proto.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::format_collect,
    clippy::struct_field_names
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message as _;
use serde_json::Value;

/// A server on its own runtime, stopped when dropped.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn axum(app: Router) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Self { addr: addr_rx.recv().unwrap(), stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Default)]
struct AuditState {
    failing: AtomicBool,
    refused: AtomicUsize,
    bodies: Mutex<Vec<Vec<u8>>>,
    events: Mutex<Vec<Value>>,
}

/// An audit endpoint: `POST /events` takes a JSON array of CloudEvents, or answers 503 while
/// failing.
pub struct AuditReceiver {
    state: Arc<AuditState>,
    server: Running,
}

impl AuditReceiver {
    /// Starts it, answering 503 while `failing`.
    pub fn start(failing: bool) -> Self {
        let state = Arc::new(AuditState::default());
        state.failing.store(failing, Ordering::SeqCst);
        let app = Router::new()
            .route(
                "/events",
                post(|State(st): State<Arc<AuditState>>, body: Bytes| async move {
                    if st.failing.load(Ordering::SeqCst) {
                        st.refused.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let batch: Vec<Value> = serde_json::from_slice(&body).unwrap();
                    st.bodies.lock().unwrap().push(body.to_vec());
                    st.events.lock().unwrap().extend(batch);
                    StatusCode::ACCEPTED
                }),
            )
            .with_state(Arc::clone(&state));
        Self { server: Running::axum(app), state }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> String {
        format!("http://{}/events", self.server.addr)
    }

    /// Fail (503) or take events.
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// POSTs refused so far.
    pub fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }

    /// Every event received (duplicates included).
    pub fn events(&self) -> Vec<Value> {
        self.state.events.lock().unwrap().clone()
    }

    /// Every body received, as text.
    pub fn raw(&self) -> String {
        self.state.bodies.lock().unwrap().iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
    }

    /// Waits (at most `limit`) until `check` holds for the events received.
    pub fn until(&self, what: &str, limit: Duration, check: impl Fn(&[Value]) -> bool) {
        let start = Instant::now();
        while !check(&self.events()) {
            assert!(start.elapsed() < limit, "{what}: not within {limit:?}; received {:?}", self.events().len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A span as exported, with ids in hex.
#[derive(Debug, Clone)]
pub struct Span {
    /// The span name.
    pub name: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// (trace id, span id) of each link.
    pub links: Vec<(String, String)>,
    /// String and integer attributes, as text.
    pub attributes: Vec<(String, String)>,
}

impl Span {
    /// An attribute's value, as text.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

type Spans = Arc<Mutex<Vec<Span>>>;

fn collect(spans: &Spans, req: &ExportTraceServiceRequest) {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    let mut out = spans.lock().unwrap();
    for rs in &req.resource_spans {
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                out.push(Span {
                    name: s.name.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    links: s.links.iter().map(|l| (hex(&l.trace_id), hex(&l.span_id))).collect(),
                    attributes: s
                        .attributes
                        .iter()
                        .filter_map(|kv| {
                            let v = match kv.value.as_ref()?.value.as_ref()? {
                                V::StringValue(s) => s.clone(),
                                V::IntValue(i) => i.to_string(),
                                V::BoolValue(b) => b.to_string(),
                                V::DoubleValue(d) => d.to_string(),
                                _ => return None,
                            };
                            Some((kv.key.clone(), v))
                        })
                        .collect(),
                });
            }
        }
    }
}

/// An OTLP trace collector.
pub struct Collector {
    spans: Spans,
    addr: SocketAddr,
    _server: Running,
}

#[derive(Clone)]
struct Grpc(Spans);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        collect(&self.0, req.get_ref());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Collector {
    /// OTLP over HTTP/protobuf: `POST /v1/traces`.
    pub fn http() -> Self {
        let spans = Spans::default();
        let app = Router::new()
            .route(
                "/v1/traces",
                post(|State(s): State<Spans>, body: Bytes| async move {
                    collect(&s, &ExportTraceServiceRequest::decode(body).unwrap());
                    StatusCode::OK
                }),
            )
            .with_state(Arc::clone(&spans));
        let server = Running::axum(app);
        Self { addr: server.addr, spans, _server: server }
    }

    /// OTLP over gRPC (h2c).
    pub fn grpc() -> Self {
        let spans = Spans::default();
        let router = tonic::service::Routes::new(TraceServiceServer::new(Grpc(Arc::clone(&spans)))).into_axum_router();
        let server = Running::axum(router);
        Self { addr: server.addr, spans, _server: server }
    }

    /// The endpoint: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment that makes `serve` export here over HTTP/protobuf, every 100 ms.
    pub fn http_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        ]
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) for a span that passes `check`.
    pub fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&Span) -> bool) -> Span {
        let start = Instant::now();
        loop {
            if let Some(s) = self.spans().into_iter().find(|s| check(s)) {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "{what}: no such span within {limit:?}; got {:?}",
                self.spans().iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Borrows an owned environment as `serve` takes it.
pub fn env<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
