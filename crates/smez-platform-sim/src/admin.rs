//! The admin API tests drive the simulators with:
//!
//! - `POST /admin/clock/advance {"secs": N}`: time jumps forward.
//! - `POST /admin/faults {"endpoint", "fault": {"kind": "status"|"delay"|"drop", …}, "times"}`.
//! - `DELETE /admin/faults`: disarm everything.
//! - `POST /admin/faults/lost-answers {"path_contains", "method", "skip", "times", "hold_ms"}`:
//!   the next matching requests are handled in full, then their answers hang
//!   for `hold_ms` (default 0) and break off (the platform did the work; the
//!   client never heard).
//! - `POST /admin/limits {"scale": N}`: every rate limit, posting cap and
//!   quota multiplied by N (1, the platforms' own figures, by default).
//! - `POST /admin/consent/{platform}` with a [`crate::consent::NextConsent`].
//! - `GET /admin/records`: every request, every code and token issued and PKCE verifier shown, every accepted post.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::Shared;
use crate::consent::NextConsent;
use crate::faults::{Fault, LostAnswer};

#[derive(Deserialize)]
struct Advance {
    secs: i64,
}

#[derive(Deserialize)]
struct Limits {
    scale: usize,
}

pub fn router(core: Shared) -> Router {
    Router::new()
        .route(
            "/clock/advance",
            post(|State(core): State<Shared>, Json(body): Json<Advance>| async move {
                core.clock.advance(body.secs);
                Json(serde_json::json!({"now": core.clock.now().to_rfc3339()}))
            }),
        )
        .route(
            "/limits",
            post(|State(core): State<Shared>, Json(body): Json<Limits>| async move {
                let scale = body.scale.max(1);
                core.limit_scale.store(scale, std::sync::atomic::Ordering::Relaxed);
                Json(serde_json::json!({"scale": scale}))
            }),
        )
        .route(
            "/faults",
            post(|State(core): State<Shared>, Json(fault): Json<Fault>| async move {
                core.faults.add(fault);
                Json(serde_json::json!({"armed": true}))
            })
            .delete(|State(core): State<Shared>| async move {
                core.faults.clear();
                Json(serde_json::json!({"cleared": true}))
            }),
        )
        .route(
            "/faults/lost-answers",
            post(|State(core): State<Shared>, Json(lost): Json<LostAnswer>| async move {
                core.faults.lose_answers(lost);
                Json(serde_json::json!({"armed": true}))
            }),
        )
        .route(
            "/consent/{platform}",
            post(
                |State(core): State<Shared>, Path(platform): Path<String>, Json(next): Json<NextConsent>| async move {
                    core.consent.set(&platform, next);
                    Json(serde_json::json!({"set": true}))
                },
            ),
        )
        .route(
            "/records",
            get(|State(core): State<Shared>| async move { Json(core.records.snapshot()) }),
        )
        .with_state(core)
}
