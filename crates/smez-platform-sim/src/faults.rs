//! Fault injection: "the next N calls to endpoint E fail like this".
//! Endpoints are named `<platform>.<name>`, e.g. `tiktok.upload`,
//! `youtube.upload`, `instagram.publish` (each simulator documents its names).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultKind {
    /// Answer with this status and JSON body (the platform's own error shape).
    Status { status: u16, body: serde_json::Value },
    /// Answer only after this long (past the client's timeout).
    Delay { millis: u64 },
    /// Start an answer and break the connection (an upload cut mid-way).
    Drop,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fault {
    pub endpoint: String,
    pub fault: FaultKind,
    /// How many calls it applies to.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

#[derive(Default)]
pub struct Faults {
    pending: Mutex<HashMap<String, Vec<(FaultKind, u32)>>>,
    /// Lost answers: the request is handled in full, then its answer breaks
    /// off (the platform did the work; the client never heard). By path.
    lost_answers: Mutex<Vec<LostAnswer>>,
}

/// "After `skip` matching requests, the next `times` answers to requests
/// with this method whose path contains `path_contains` are lost."
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LostAnswer {
    pub path_contains: String,
    /// Any method when absent.
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub skip: u32,
    #[serde(default = "one")]
    pub times: u32,
    /// How long the answer hangs before it breaks off: a platform that did
    /// the work but answers slowly, past the client's patience (or its life).
    #[serde(default)]
    pub hold_ms: u64,
}

impl Faults {
    pub fn add(&self, fault: Fault) {
        self.pending
            .lock()
            .expect("faults lock")
            .entry(fault.endpoint)
            .or_default()
            .push((fault.fault, fault.times.max(1)));
    }

    /// The fault for this call to `endpoint`, if one is armed (using it up).
    pub fn take(&self, endpoint: &str) -> Option<FaultKind> {
        let mut pending = self.pending.lock().expect("faults lock");
        let queue = pending.get_mut(endpoint)?;
        let (kind, times) = queue.first_mut()?;
        let fault = kind.clone();
        *times -= 1;
        if *times == 0 {
            queue.remove(0);
        }
        Some(fault)
    }

    pub fn clear(&self) {
        self.pending.lock().expect("faults lock").clear();
        self.lost_answers.lock().expect("faults lock").clear();
    }

    pub fn lose_answers(&self, lost: LostAnswer) {
        self.lost_answers.lock().expect("faults lock").push(lost);
    }

    /// Whether the answer to this request (already handled) is to be lost
    /// (using it up), and if so how long it hangs first.
    pub fn take_lost_answer(&self, method: &str, path: &str) -> Option<Duration> {
        let mut lost = self.lost_answers.lock().expect("faults lock");
        let index = lost
            .iter()
            .position(|l| path.contains(&l.path_contains) && l.method.as_deref().is_none_or(|m| m == method))?;
        if lost[index].skip > 0 {
            lost[index].skip -= 1;
            return None;
        }
        let hold = Duration::from_millis(lost[index].hold_ms);
        lost[index].times -= 1;
        if lost[index].times == 0 {
            lost.remove(index);
        }
        Some(hold)
    }
}

/// The response a fault produces.
pub async fn respond(fault: FaultKind) -> Response {
    match fault {
        FaultKind::Status { status, body } => (
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(body),
        )
            .into_response(),
        FaultKind::Delay { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            (http::StatusCode::GATEWAY_TIMEOUT, "simulated delay").into_response()
        }
        FaultKind::Drop => broken_answer(),
    }
}

/// A body that promises more than it sends, then fails: the client sees the
/// connection close mid-answer.
pub fn broken_answer() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::other("simulated dropped connection"))
    });
    Response::builder()
        .header(http::header::CONTENT_LENGTH, "1048576")
        .body(Body::from_stream(stream))
        .expect("a response")
}

/// Returns early from a handler with the armed fault of `endpoint`, if any.
#[macro_export]
macro_rules! inject {
    ($core:expr, $endpoint:expr) => {
        if let Some(fault) = $core.faults.take($endpoint) {
            return $crate::faults::respond(fault).await;
        }
    };
}
