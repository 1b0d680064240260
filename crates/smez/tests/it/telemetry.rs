//! One trace from the frontend's request through the gateway to every
//! service, exported over OTLP to a collector (here, a fake one that keeps
//! what it receives).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};

use crate::process::{SERVICES, Smez, temp_dir};

/// (span name, trace id) of every span received.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Collector(Received);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource in &request.get_ref().resource_spans {
            for scope in &resource.scope_spans {
                for span in &scope.spans {
                    spans.push((span.name.clone(), span.trace_id.clone()));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test]
async fn a_request_is_one_trace_across_the_gateway_and_every_service() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream_listener(listener)),
    );

    let dir = temp_dir("telemetry");
    let env = HashMap::from([
        ("SMEZ_TELEMETRY__OTLP_ENDPOINT".to_owned(), endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
    ]);
    let mut smez = Smez::start("all", &["serve", "all", "--data-dir", "data"], &env, &dir);
    smez.wait_ready().await;

    // The frontend started a trace; the gateway and every service continue it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = crate::process::http()
        .get(smez.url("/v1/status"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let wanted = hex(trace_id);
    let started = Instant::now();
    let names = loop {
        let names: HashSet<String> = collector
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, id)| *id == wanted)
            .map(|(name, _)| name.clone())
            .collect();
        let grpc_spans = collector
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, id)| n == "grpc.server" && *id == wanted)
            .count();
        if names.contains("http.request") && grpc_spans >= SERVICES.len() {
            break names;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "spans of the trace so far: {names:?} ({grpc_spans} gRPC)\n{}",
            smez.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        names.contains("http.request") && names.contains("grpc.server"),
        "{names:?}"
    );
    assert!(smez.terminate().success());
    serving.abort();
    let _ = std::fs::remove_dir_all(dir);
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn tokio_stream_listener(
    listener: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}
