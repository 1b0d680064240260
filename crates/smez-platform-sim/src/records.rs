//! What the simulators saw and did, for tests to assert on.

use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::Shared;

#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    pub method: String,
    /// Path only (query strings may carry tokens, as on the real platforms).
    pub path: String,
    pub status: u16,
}

/// A secret the simulator issued (a code or a token) or was shown (the
/// PKCE verifier a client proves its code with).
#[derive(Clone, Debug, Serialize)]
pub struct Issued {
    pub platform: String,
    /// `code`, `access_token`, `refresh_token` or `code_verifier`.
    pub kind: String,
    pub value: String,
}

/// A post the platform accepted (went live or private).
#[derive(Clone, Debug, Serialize)]
pub struct AcceptedPost {
    pub platform: String,
    pub post_id: String,
    pub account_id: String,
    pub caption: String,
    pub bytes: u64,
}

/// Requests remembered at most (the oldest go first): a simulator running
/// inside `smez serve` for days must not grow without bound.
const MAX_REQUESTS: usize = 10_000;

#[derive(Default)]
pub struct Records {
    requests: Mutex<Vec<RequestRecord>>,
    issued: Mutex<Vec<Issued>>,
    posts: Mutex<Vec<AcceptedPost>>,
}

#[derive(Serialize)]
pub struct Snapshot {
    pub requests: Vec<RequestRecord>,
    pub issued: Vec<Issued>,
    pub posts: Vec<AcceptedPost>,
}

impl Records {
    pub fn issued(&self, platform: &str, kind: &str, value: &str) {
        self.issued.lock().expect("records lock").push(Issued {
            platform: platform.to_owned(),
            kind: kind.to_owned(),
            value: value.to_owned(),
        });
    }

    fn request(&self, request: RequestRecord) {
        let mut requests = self.requests.lock().expect("records lock");
        if requests.len() >= MAX_REQUESTS {
            requests.drain(..MAX_REQUESTS / 10);
        }
        requests.push(request);
    }

    pub fn post(&self, post: AcceptedPost) {
        self.posts.lock().expect("records lock").push(post);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            requests: self.requests.lock().expect("records lock").clone(),
            issued: self.issued.lock().expect("records lock").clone(),
            posts: self.posts.lock().expect("records lock").clone(),
        }
    }
}

pub async fn record_request(State(core): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if !path.starts_with("/admin") {
        core.records.request(RequestRecord {
            method: method.clone(),
            path: path.clone(),
            status: response.status().as_u16(),
        });
        let lost = core.faults.take_lost_answer(&method, &path);
        if let Some(hold) = lost {
            tokio::time::sleep(hold).await;
            return crate::faults::broken_answer();
        }
    }
    response
}
