//! The guard and the transports: internal identity and trace context cross
//! both the in-process and the network path the same way.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use smez_kit::grpc::{ClientFactory, Guarded, Transport};
use smez_kit::identity::{Caller, InternalAuth, OnBehalfOf, generate_key};
use smez_kit::metrics::Metrics;
use tonic::body::Body;
use tower::ServiceExt;

/// What the inner service saw of its request.
#[derive(Clone, Default)]
struct Seen {
    callers: Arc<Mutex<Vec<Caller>>>,
    trace_ids: Arc<Mutex<Vec<Option<String>>>>,
}

/// A gRPC "service" that records the verified caller and the active trace, then answers OK.
#[derive(Clone)]
struct Recorder(Seen);

impl tonic::server::NamedService for Recorder {
    const NAME: &'static str = "smez.test.v1.Recorder";
}

impl tower::Service<http::Request<Body>> for Recorder {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if let Some(caller) = request.extensions().get::<Caller>() {
            self.0.callers.lock().unwrap().push(caller.clone());
        }
        self.0
            .trace_ids
            .lock()
            .unwrap()
            .push(smez_kit::telemetry::trace_id(&tracing::Span::current()));
        std::future::ready(Ok(tonic::Status::ok("").into_http()))
    }
}

fn grpc_request(on_behalf_of: Option<OnBehalfOf>) -> http::Request<Body> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri("http://smez.local/smez.test.v1.Recorder/Record")
        .header("content-type", "application/grpc")
        .body(Body::empty())
        .unwrap();
    if let Some(who) = on_behalf_of {
        request.extensions_mut().insert(who);
    }
    request
}

async fn grpc_status(transport: Transport, request: http::Request<Body>) -> tonic::Code {
    let response = transport.oneshot(request).await.expect("transport works");
    let headers = response.headers();
    headers
        .get("grpc-status")
        .map(|v| tonic::Code::from(v.to_str().unwrap().parse::<i32>().unwrap()))
        .unwrap_or(tonic::Code::Ok)
}

fn keys() -> Arc<InternalAuth> {
    Arc::new(InternalAuth::new(&generate_key().signing_key, &[], 60).unwrap())
}

#[tokio::test]
async fn in_process_calls_are_signed_and_verified_like_remote_ones() {
    let auth = keys();
    let seen = Seen::default();
    let guarded = Guarded::new(Recorder(seen.clone()), "media", auth.clone(), Metrics::new());
    let factory = ClientFactory::new(auth.clone(), "gateway");

    let user = OnBehalfOf {
        user_id: "u1".into(),
        workspace_id: Some("w1".into()),
        role: Some("viewer".into()),
    };
    let ok = grpc_status(
        factory.local("media", guarded.clone()),
        grpc_request(Some(user.clone())),
    )
    .await;
    assert_eq!(ok, tonic::Code::Ok);
    let callers = seen.callers.lock().unwrap().clone();
    assert_eq!(callers.len(), 1);
    assert_eq!(callers[0].service, "gateway");
    assert_eq!(callers[0].on_behalf_of, Some(user));

    // Signed for another audience: refused before the service runs.
    let wrong = grpc_status(factory.local("vault", guarded.clone()), grpc_request(None)).await;
    assert_eq!(wrong, tonic::Code::Unauthenticated);
    // Not signed at all (a raw call on the server): refused.
    let unsigned = guarded.clone().oneshot(grpc_request(None)).await.unwrap();
    assert_eq!(unsigned.headers()["grpc-status"], "16");
    // Signed with a key this service does not trust: refused.
    let stranger = ClientFactory::new(keys(), "gateway");
    assert_eq!(
        grpc_status(stranger.local("media", guarded), grpc_request(None)).await,
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        seen.callers.lock().unwrap().len(),
        1,
        "refused calls never reach the service"
    );
}

#[tokio::test]
async fn network_calls_carry_identity_and_the_trace() {
    smez_kit::telemetry::init_for_tests();
    let auth = keys();
    let seen = Seen::default();
    let mut server = smez_kit::grpc::GrpcServer::new();
    server.add(Guarded::new(
        Recorder(seen.clone()),
        "media",
        auth.clone(),
        Metrics::new(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(server.serve(listener, stop.clone().cancelled_owned()));

    let factory = ClientFactory::new(auth, "gateway");
    let transport = factory.remote("media", &format!("http://{addr}")).unwrap();
    let span = tracing::info_span!("frontend.click");
    let sent_trace = smez_kit::telemetry::trace_id(&span).expect("the OpenTelemetry layer is installed");
    let code = {
        use tracing::Instrument;
        grpc_status(transport, grpc_request(None)).instrument(span).await
    };
    assert_eq!(code, tonic::Code::Ok);
    assert_eq!(seen.callers.lock().unwrap()[0].service, "gateway");
    assert_eq!(
        seen.trace_ids.lock().unwrap()[0].as_deref(),
        Some(sent_trace.as_str()),
        "the server's span continues the caller's trace"
    );
    stop.cancel();
    serving.await.unwrap().unwrap();
}
