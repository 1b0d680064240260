//! Logs and traces. Spans become OpenTelemetry spans, exported over OTLP when
//! `telemetry.otlp_endpoint` is set; W3C trace context is carried across gRPC
//! (metadata) and the job bus (message headers) either way, so one trace spans
//! gateway → service → queue → worker.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetrySettings};

/// Flushes pending spans when dropped at the end of `main`.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("telemetry: flushing spans failed: {e}");
        }
    }
}

/// Installs the global subscriber for this process.
pub fn init(settings: &TelemetrySettings, process_name: &str) -> anyhow::Result<TelemetryGuard> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(format!("smez-{process_name}"))
        .build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if !settings.otlp_endpoint.is_empty() {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(settings.otlp_endpoint.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("telemetry.otlp_endpoint: {e}"))?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let filter = EnvFilter::try_new(&settings.log_level)?;
    let fmt = match settings.log_format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().with_current_span(true).boxed(),
    };
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("smez"));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))?;
    Ok(TelemetryGuard { provider })
}

/// Installs a subscriber that gives spans OpenTelemetry contexts without
/// exporting anything: for tests that check trace propagation. Idempotent.
pub fn init_for_tests() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let provider = SdkTracerProvider::builder().build();
        let _ = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .try_init();
    });
}

/// Writes the current span's W3C trace context into HTTP/2 (gRPC) headers.
pub fn inject_headers(headers: &mut http::HeaderMap) {
    inject(&tracing::Span::current().context(), &mut HeaderCarrier(headers));
}

/// Reads a remote parent from HTTP/2 (gRPC) headers.
pub fn extract_headers(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderReader(headers))
}

/// Trace context as plain key/value pairs, for message headers.
pub fn current_context_fields() -> HashMap<String, String> {
    let mut fields = HashMap::new();
    inject(&tracing::Span::current().context(), &mut fields);
    fields
}

/// Reads a remote parent from message header fields.
pub fn extract_fields(fields: &HashMap<String, String>) -> Context {
    TraceContextPropagator::new().extract(fields)
}

/// Makes `span` a child of `parent` when `parent` carries a remote span.
pub fn set_parent(span: &tracing::Span, parent: Context) {
    use opentelemetry::trace::TraceContextExt;
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The trace id of `span`, hex, or `None` without an OpenTelemetry layer.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

fn inject(context: &Context, carrier: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(context, carrier);
}

struct HeaderCarrier<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderReader<'a>(&'a http::HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
