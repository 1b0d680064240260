//! Prometheus metrics shared by every module of a process, served at `/metrics`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    pub service: String,
    pub method: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
    pub outcome: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The process's metrics. Cheap to clone; every clone records into the same registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    pub grpc_requests: Family<GrpcLabels, Counter>,
    pub grpc_duration: Family<GrpcLabels, Histogram, fn() -> Histogram>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pub jobs: Family<JobLabels, Counter>,
    pub job_duration: Family<JobLabels, Histogram, fn() -> Histogram>,
    /// Publish targets still not started minutes after their due time (an alert).
    pub publish_overdue: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("smez");
        let metrics = Self {
            registry: Arc::default(),
            grpc_requests: Family::default(),
            grpc_duration: Family::new_with_constructor(latency_histogram),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            jobs: Family::default(),
            job_duration: Family::new_with_constructor(latency_histogram),
            publish_overdue: Counter::default(),
        };
        registry.register("grpc_requests", "gRPC requests served", metrics.grpc_requests.clone());
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC request latency",
            metrics.grpc_duration.clone(),
        );
        registry.register("http_requests", "HTTP requests served", metrics.http_requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            metrics.http_duration.clone(),
        );
        registry.register("jobs", "Jobs handled, by outcome", metrics.jobs.clone());
        registry.register(
            "job_duration_seconds",
            "Job handling time",
            metrics.job_duration.clone(),
        );
        registry.register(
            "publish_overdue",
            "Publish targets not started minutes after their due time",
            metrics.publish_overdue.clone(),
        );
        *metrics.registry.lock().expect("fresh lock") = registry;
        metrics
    }

    pub fn observe_grpc(&self, labels: GrpcLabels, elapsed: Duration) {
        self.grpc_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.grpc_requests.get_or_create(&labels).inc();
    }

    pub fn observe_http(&self, labels: HttpLabels, elapsed: Duration) {
        self.http_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    pub fn observe_job(&self, kind: &str, outcome: &str, elapsed: Duration) {
        let labels = JobLabels {
            kind: kind.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.job_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.jobs.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().expect("metrics registry lock");
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("writing to a String");
        out
    }
}
