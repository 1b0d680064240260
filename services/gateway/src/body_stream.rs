//! A request body forwarded to an upstream client stream as it arrives
//! (constant memory). If the body breaks off (the client went away), the
//! upstream call is dropped — cancelled, so the service sees an interrupted
//! stream rather than a clean end that would pass for a whole file.

use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use smez_kit::Error;

pub(crate) type Chunks<T> = Pin<Box<dyn Stream<Item = T> + Send + 'static>>;

/// Chunks waiting between the body and the upstream call (a few: memory stays flat).
const IN_FLIGHT: usize = 4;

/// Calls `call` with `first`, the body's chunks (made into messages by
/// `chunk`) and, once the body is complete, `end(bytes sent)`; returns its
/// answer, or the body's failure. A body that breaks off (the client went
/// away) ends the stream without `end`: the service knows it was cut short
/// whatever the transport does, and says what it kept.
pub(crate) async fn forward<T, R, F, Fut>(
    body: Body,
    first: T,
    chunk: fn(Bytes) -> T,
    end: fn(u64) -> T,
    call: F,
) -> Result<R, Error>
where
    T: Send + Sync + 'static,
    F: FnOnce(Chunks<T>) -> Fut,
    Fut: Future<Output = Result<R, tonic::Status>>,
{
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<T>(IN_FLIGHT);
    let rest = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let mut call = Box::pin(call(Box::pin(futures_util::stream::iter([first]).chain(rest))));
    let pump = async move {
        let mut data = body.into_data_stream();
        let mut sent = 0u64;
        while let Some(next) = data.next().await {
            match next {
                Ok(bytes) => {
                    sent += bytes.len() as u64;
                    // The call ended early (it refused the upload): its answer says why.
                    if sender.send(chunk(bytes)).await.is_err() {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let _ = sender.send(end(sent)).await;
        Ok(())
    };
    let pumped = tokio::select! {
        answer = &mut call => return answer.map_err(crate::routes::upstream),
        pumped = pump => pumped,
    };
    let answer = call.await;
    match pumped {
        Ok(()) => answer.map_err(crate::routes::upstream),
        Err(reason) => {
            tracing::info!(%reason, "an upload's body broke off");
            Err(Error::invalid_field(
                "body",
                format!("the upload was interrupted before its end: {reason}"),
            ))
        }
    }
}

/// A client-streaming call on `transport`, made with tonic's `Grpc` directly:
/// the generated client's `impl IntoStreamingRequest` argument keeps the
/// compiler from proving its future `Send` (a projection in the future's
/// state); with the concrete stream type here it can.
pub(crate) fn client_streaming<T, R>(
    transport: smez_kit::grpc::Transport,
    path: &'static str,
    request: tonic::Request<Chunks<T>>,
) -> futures_util::future::BoxFuture<'static, Result<tonic::Response<R>, tonic::Status>>
where
    T: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + 'static,
{
    Box::pin(async move {
        let mut grpc = tonic::client::Grpc::new(transport);
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("{path}: {e}")))?;
        let codec = tonic_prost::ProstCodec::<T, R>::default();
        grpc.client_streaming(request, http::uri::PathAndQuery::from_static(path), codec)
            .await
    })
}
