//! Traces: `tracing` spans bridged to OpenTelemetry and exported over OTLP (gRPC or
//! HTTP/protobuf). The tracer is installed even when nothing is exported, so every span has a
//! trace id: audit events carry it, and an incoming W3C `traceparent` is honoured either way.
//! Only `OTEL_SDK_DISABLED=true` leaves it out (no trace ids then).
//! [`trails`] remembers, per object, the spans a later span should link to.

pub mod trails;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use thiserror::Error;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::audit::TraceRef;
use crate::config::{OtlpProtocol, Telemetry as Settings};

/// Why tracing could not start.
#[derive(Debug, Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built (bad endpoint, TLS).
    #[error("telemetry: OTLP exporter for {endpoint}: {message}")]
    Exporter {
        /// The endpoint, or where it was to come from.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// A global subscriber was already installed.
    #[error("telemetry: {0}")]
    Subscriber(String),
}

/// Where traces go, when they go anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The transport.
    pub protocol: OtlpProtocol,
    /// The endpoint from the config; `None` leaves it to the `OTEL_*` variables.
    pub endpoint: Option<String>,
}

/// Decides the export from the config and the environment (`env` looks a variable up): the
/// config's `otlpEndpoint`, else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_ENDPOINT`; none of them, or `OTEL_SDK_DISABLED=true`, or
/// `OTEL_TRACES_EXPORTER=none`, means no export. The protocol: the config's `otlpProtocol`, else
/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf` (the
/// OpenTelemetry default).
pub fn export(settings: &Settings, env: impl Fn(&str) -> Option<String>) -> Option<Export> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if disabled(&env) || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none")) {
        return None;
    }
    let from_env = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"));
    if settings.otlp_endpoint.is_none() && from_env.is_none() {
        return None;
    }
    let protocol = settings.otlp_protocol.unwrap_or_else(|| {
        match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL")).as_deref() {
            Some("grpc") => OtlpProtocol::Grpc,
            _ => OtlpProtocol::HttpProtobuf,
        }
    });
    let endpoint = settings.otlp_endpoint.as_ref().map(|e| match protocol {
        // the OTLP convention: a bare HTTP endpoint gets the signal's path
        OtlpProtocol::HttpProtobuf if !e.trim_end_matches('/').ends_with("/v1/traces") && path_is_empty(e) => {
            format!("{}/v1/traces", e.trim_end_matches('/'))
        }
        _ => e.clone(),
    });
    Some(Export { protocol, endpoint })
}

/// `OTEL_SDK_DISABLED=true`: no tracer at all.
pub fn disabled(env: impl Fn(&str) -> Option<String>) -> bool {
    env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn path_is_empty(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split_once('/').is_none_or(|(_, p)| p.is_empty())
}

/// The installed tracer; shut it down before exit so the last spans are exported.
#[derive(Debug)]
pub struct Tracing {
    provider: SdkTracerProvider,
    /// Where spans are exported, for the start-up log.
    pub export: Option<Export>,
    /// No tracer is installed (`OTEL_SDK_DISABLED=true`).
    pub disabled: bool,
}

impl Tracing {
    /// Exports what is buffered and stops. Blocks: call it off the async threads.
    pub fn shutdown(&self) {
        if self.export.is_some()
            && let Err(e) = self.provider.shutdown()
        {
            eprintln!("driftgate: telemetry shutdown: {e}");
        }
    }

    /// Exports what is buffered now. Blocks.
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}

/// Installs the global subscriber: the OpenTelemetry layer for driftgate's spans, and log lines
/// on stderr filtered by `RUST_LOG` (default `warn`). Call it inside the tokio runtime: the gRPC
/// exporter's channel is spawned on it.
pub fn init(settings: &Settings) -> Result<Tracing, TelemetryError> {
    let export = export(settings, |k| std::env::var(k).ok());
    let mut builder = SdkTracerProvider::builder().with_resource(resource(settings));
    if let Some(e) = &export {
        let where_ = e.endpoint.as_deref().map_or_else(|| "OTEL_EXPORTER_OTLP_*".to_owned(), crate::redact::url);
        let fail = |m: String| TelemetryError::Exporter { endpoint: where_.clone(), message: crate::redact::text(&m) };
        let exporter = match e.protocol {
            OtlpProtocol::Grpc => {
                let mut b = SpanExporter::builder().with_tonic();
                if let Some(url) = &e.endpoint {
                    b = b.with_endpoint(url.clone());
                }
                if e.endpoint.as_deref().is_some_and(|u| u.starts_with("https://")) {
                    use opentelemetry_otlp::WithTonicConfig as _;
                    b = b.with_tls_config(
                        opentelemetry_otlp::tonic_types::transport::ClientTlsConfig::new().with_enabled_roots(),
                    );
                }
                b.build().map_err(|x| fail(x.to_string()))?
            }
            OtlpProtocol::HttpProtobuf => {
                let mut b = SpanExporter::builder().with_http().with_protocol(Protocol::HttpBinary);
                if let Some(url) = &e.endpoint {
                    b = b.with_endpoint(url.clone());
                }
                b.build().map_err(|x| fail(x.to_string()))?
            }
        };
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")));
    let disabled = disabled(|k| std::env::var(k).ok());
    let otel = (!disabled).then(|| {
        // source locations, thread names and busy/idle timings would be three to six more
        // attributes on every span, measured at several percent of an admission review's cost
        tracing_opentelemetry::layer()
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            // spans are nested through tracing's own parents; no OpenTelemetry context needs to
            // be current while a span is entered
            .with_context_activation(false)
            .with_tracer(provider.tracer("driftgate"))
            .with_filter(EnvFilter::new("driftgate=info"))
    });
    tracing_subscriber::registry()
        .with(otel)
        .with(logs)
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    Ok(Tracing { provider, export, disabled })
}

fn resource(settings: &Settings) -> Resource {
    let mut b = Resource::builder();
    let from_env = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty());
    match &settings.service_name {
        Some(name) => b = b.with_service_name(name.clone()),
        None if !from_env => b = b.with_service_name("driftgate"),
        None => {}
    }
    b.with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))).build()
}

/// The span's OpenTelemetry context, when it is valid (the layer is installed). Starts the span.
pub fn span_context(span: &tracing::Span) -> Option<SpanContext> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// The span's trace and span ids, for audit events.
pub fn trace_ref(span: &tracing::Span) -> Option<TraceRef> {
    span_context(span).as_ref().map(trace_ref_of)
}

/// A span context's ids as audit events carry them.
pub fn trace_ref_of(cx: &SpanContext) -> TraceRef {
    TraceRef { trace_id: cx.trace_id().to_string(), span_id: cx.span_id().to_string() }
}

/// Makes `span` a child of the W3C `traceparent` in `headers`, when there is a valid one. Call it
/// before the span is entered.
pub fn adopt_parent(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Links `span` to an earlier span (of another trace, usually).
pub fn link(span: &tracing::Span, to: &SpanContext) {
    span.add_link(to.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn export_comes_from_config_then_environment() {
        let none = Settings::default();
        assert_eq!(export(&none, env(&[])), None);
        let e = export(
            &none,
            env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
        );
        assert_eq!(e, Some(Export { protocol: OtlpProtocol::Grpc, endpoint: None }));
        let e = export(&none, env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")]));
        assert_eq!(e.unwrap().protocol, OtlpProtocol::HttpProtobuf, "the OpenTelemetry default");
        let cfg = Settings { otlp_endpoint: Some("http://c:4318".into()), otlp_protocol: None, service_name: None };
        assert_eq!(export(&cfg, env(&[])).unwrap().endpoint.as_deref(), Some("http://c:4318/v1/traces"));
        let cfg = Settings { otlp_protocol: Some(OtlpProtocol::Grpc), ..cfg };
        assert_eq!(
            export(&cfg, env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")])).unwrap(),
            Export { protocol: OtlpProtocol::Grpc, endpoint: Some("http://c:4318".into()) }
        );
        assert_eq!(export(&cfg, env(&[("OTEL_SDK_DISABLED", "true")])), None);
        assert_eq!(export(&cfg, env(&[("OTEL_TRACES_EXPORTER", "none")])), None);
    }
}
