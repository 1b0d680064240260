//! One trace from the frontend's request through the gateway to every
//! service, exported over OTLP to a collector (here, a fake one that keeps
//! what it receives).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::collector::{Collector, exporter_env};
use crate::process::{SERVICES, Smez, temp_dir};

#[tokio::test]
async fn a_request_is_one_trace_across_the_gateway_and_every_service() {
    let collector = Collector::start().await;
    let dir = temp_dir("telemetry");
    let env: HashMap<String, String> = exporter_env(&collector)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
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
        let spans = collector.spans();
        let of_trace = spans.iter().filter(|span| span.trace_id == wanted);
        let names: HashSet<String> = of_trace.clone().map(|span| span.name.clone()).collect();
        let grpc_spans = of_trace.filter(|span| span.name == "grpc.server").count();
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
    let _ = std::fs::remove_dir_all(dir);
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
