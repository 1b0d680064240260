//! The publish worker: takes `publish.run` jobs, claims the target (a lease
//! it renews; a worker that dies is taken over once the lease lapses), and
//! publishes it:
//!
//! 1. the connection must be active, and a limit known in advance must
//!    leave room (else the target waits for its window, no attempt spent);
//! 2. a usable token from the single-flight refresh;
//! 3. the package's video fetched from the render service to a work file;
//! 4. the adapter's publish, each irreversible step recorded on the target
//!    before the next, resuming what an earlier attempt recorded;
//! 5. the platform's processing watched until it is live, refused, or
//!    unconfirmed (handed back for a later check after a while).
//!
//! The outcome and its event are written in one transaction; events and
//! notifications go out from the outbox, after the publish and apart from
//! it, so they can never cause a second one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use smez_bus::Job;
use smez_bus::worker::{JobError, WorkerOptions, run_worker};
use smez_kit::config::PublishingSettings;
use smez_kit::metrics::Metrics;
use smez_platforms::{
    ErrorClass, Platform, PlatformAdapter, PlatformError, PublishHandle, PublishJournal, PublishProgress,
    PublishStatus, VideoFile,
};
use smez_proto::jobs::v1::PublishRun;
use smez_proto::publisher::v1::{UsableAccessToken, UsableAccessTokenRequest};
use smez_service::ServiceContext;
use tokio_util::sync::CancellationToken;

use super::{PUBLISH_RUN, limits, outcome_event};
use crate::core::Core;
use crate::posts::packages;
use crate::posts::repo::{PostRepo, Settlement, TargetRow};
use crate::repo::{ConnectionRow, now_ms};

/// The longest wait between transient retries.
const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;
/// When a rate limit names no wait.
const DEFAULT_RATE_LIMIT_WAIT_MS: i64 = 60 * 1000;
/// When a used-up quota names no reset.
const DEFAULT_QUOTA_WAIT_MS: i64 = 60 * 60 * 1000;
/// Work files older than this belong to workers that died.
const STALE_WORK_FILE: Duration = Duration::from_secs(6 * 3600);

pub struct Worker {
    core: Arc<Core>,
    repo: PostRepo,
    work_root: PathBuf,
}

/// How one attempt ended.
#[derive(Debug)]
enum Verdict {
    Published {
        post_id: String,
        url: Option<String>,
    },
    Failed {
        error: String,
        class: &'static str,
        field: Option<String>,
        retryable: bool,
        /// The platform refused the object this target made: a retry starts anew.
        refused_object: bool,
    },
    /// The platform may have published it; Smez could not confirm.
    Unconfirmed(String),
    /// Go again later: wait in `state` until `at_ms`. `counts`: whether
    /// this attempt counts towards the cap (a known wait does not).
    Later {
        state: &'static str,
        at_ms: i64,
        why: String,
        counts: bool,
    },
    /// Another worker holds the target now: it records the outcome.
    LeaseLost,
}

pub async fn start(ctx: Arc<ServiceContext>, metrics: Metrics) -> anyhow::Result<()> {
    let work_root = ctx.settings.data_dir.join("publish-work");
    tokio::fs::create_dir_all(&work_root).await?;
    sweep(&work_root).await;
    let worker = Arc::new(Worker {
        core: Arc::new(Core::new(ctx.clone())?),
        repo: PostRepo::new(ctx.store.clone()),
        work_root,
    });
    let options = WorkerOptions {
        concurrency: u16::try_from(ctx.settings.publishing.worker_concurrency).unwrap_or(u16::MAX),
        grace: ctx.settings.shutdown_grace(),
    };
    let (bus, shutdown) = (ctx.bus.clone(), ctx.shutdown.clone());
    tokio::spawn(async move {
        let handler = move |job: Job| worker.clone().handle(job);
        if let Err(e) = run_worker(bus, PUBLISH_RUN.to_owned(), options, metrics, shutdown, handler).await {
            tracing::error!(error = %e, "the publish worker stopped");
        }
    });
    Ok(())
}

/// Removes work files a dead worker left behind.
async fn sweep(root: &std::path::Path) {
    let Ok(mut entries) = tokio::fs::read_dir(root).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let stale = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_WORK_FILE);
        if stale {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

/// Removes a work file however the attempt ends.
struct WorkFile(PathBuf);

impl Drop for WorkFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Worker {
    fn settings(&self) -> &PublishingSettings {
        &self.core.ctx.settings.publishing
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.settings().lease_secs * 1000).unwrap_or(i64::MAX)
    }

    async fn handle(self: Arc<Self>, job: Job) -> Result<(), JobError> {
        let run = PublishRun::decode(job.payload.as_ref())
            .map_err(|e| JobError::Permanent(format!("not a publish.run payload: {e}")))?;
        let owner = uuid::Uuid::now_v7().simple().to_string();
        let now = now_ms();
        let claimed = self
            .repo
            .claim(&run.workspace_id, &run.target_id, &owner, now, now + self.lease_ms())
            .await
            .map_err(|e| JobError::Retry(format!("claiming the target: {e}")))?;
        let Some(target) = claimed else {
            tracing::debug!(target_id = %run.target_id, "target taken, waiting, or ended: nothing to do");
            return Ok(());
        };
        tracing::info!(target_id = %target.target_id, platform = %target.platform, attempt = target.attempts, state = %target.state, "publishing");
        let lost = CancellationToken::new();
        let done = CancellationToken::new();
        let _stop_heartbeat = done.clone().drop_guard();
        tokio::spawn(
            self.clone()
                .heartbeat(target.clone(), owner.clone(), lost.clone(), done.clone()),
        );
        let verdict = tokio::select! {
            verdict = self.attempt(&target, &owner) => verdict,
            () = lost.cancelled() => Verdict::LeaseLost,
        };
        self.settle(&target, &owner, verdict)
            .await
            .map_err(|e| JobError::Retry(format!("recording the outcome: {e}")))
    }

    async fn heartbeat(
        self: Arc<Self>,
        target: TargetRow,
        owner: String,
        lost: CancellationToken,
        done: CancellationToken,
    ) {
        let every = Duration::from_millis(u64::try_from(self.lease_ms() / 3).unwrap_or(1000).max(100));
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        // Unrenewed this long, the lease may lapse before the next beat: stop
        // before another worker can take the target over.
        let patience = Duration::from_millis(u64::try_from(self.lease_ms() * 2 / 3).unwrap_or(0));
        let mut renewed = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = done.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match self
                .repo
                .renew(
                    &target.workspace_id,
                    &target.target_id,
                    &owner,
                    now_ms() + self.lease_ms(),
                )
                .await
            {
                Ok(true) => renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::warn!(target_id = %target.target_id, "publish lease lost: another worker has the target");
                    lost.cancel();
                    return;
                }
                Err(e) if renewed.elapsed() >= patience => {
                    tracing::warn!(target_id = %target.target_id, error = %e, "publish lease not renewed in time: stopping");
                    lost.cancel();
                    return;
                }
                Err(e) => {
                    tracing::warn!(target_id = %target.target_id, error = %e, "publish lease not renewed this beat")
                }
            }
        }
    }

    async fn attempt(&self, target: &TargetRow, owner: &str) -> Verdict {
        let platform: Platform = match target.platform.parse() {
            Ok(platform) => platform,
            Err(_) => {
                return failed(
                    format!("unknown platform `{}`", target.platform),
                    "permanent",
                    None,
                    false,
                );
            }
        };
        let connection = match self
            .core
            .repo
            .connection(&target.workspace_id, &target.connection_id)
            .await
        {
            Ok(Some(connection)) => connection,
            Ok(None) => {
                return failed(
                    "the connection was removed; connect the account again and post anew".into(),
                    "auth_revoked",
                    None,
                    false,
                );
            }
            Err(e) => return self.transient(target, format!("reading the connection: {e}")),
        };
        if connection.status != "active" {
            return reconnect(&connection);
        }
        let adapter = match self.core.adapter(platform) {
            Ok(adapter) => adapter,
            Err(e) => return failed(e.message, "permanent", None, true),
        };
        let mut token = match self.token(target, None).await {
            Ok(token) => token,
            Err(verdict) => return verdict,
        };
        let handle = match &target.handle_id {
            // Uploaded by an earlier attempt: only the processing is left to watch.
            Some(id) => PublishHandle {
                id: id.clone(),
                account_id: connection.account_id.clone(),
            },
            None => match self
                .upload(target, owner, platform, &connection, adapter.as_ref(), &mut token)
                .await
            {
                Ok(handle) => handle,
                Err(verdict) => return verdict,
            },
        };
        self.watch(target, &connection, adapter.as_ref(), &mut token, &handle)
            .await
    }

    /// A token for the connection: `refused` is the version a platform
    /// refused as expired (refresh, single-flight, unless already newer).
    async fn token(&self, target: &TargetRow, refused: Option<i64>) -> Result<UsableAccessToken, Verdict> {
        let request = UsableAccessTokenRequest {
            workspace_id: target.workspace_id.clone(),
            connection_id: target.connection_id.clone(),
            purpose: "publish".into(),
            refused_version: refused,
        };
        match self.core.usable_token(&request).await {
            Ok(token) => Ok(token),
            Err(e) if e.code == smez_kit::ErrorCode::Conflict || e.code == smez_kit::ErrorCode::NotFound => Err(
                match self
                    .core
                    .repo
                    .connection(&target.workspace_id, &target.connection_id)
                    .await
                {
                    Ok(Some(connection)) => reconnect(&connection),
                    _ => failed(e.message, "auth_revoked", None, true),
                },
            ),
            Err(e) => Err(self.transient(target, format!("getting an access token: {}", e.message))),
        }
    }

    /// Steps 1 to 4: returns the platform's handle once it holds the video.
    async fn upload(
        &self,
        target: &TargetRow,
        owner: &str,
        platform: Platform,
        connection: &ConnectionRow,
        adapter: &dyn PlatformAdapter,
        token: &mut UsableAccessToken,
    ) -> Result<PublishHandle, Verdict> {
        // Unreadable progress must not pass for "nothing done": starting over
        // could post a second time.
        let progress: PublishProgress = serde_json::from_str(&target.progress).map_err(|e| {
            Verdict::Unconfirmed(format!(
                "the publish's recorded progress cannot be read ({e}): the platform may hold it; check the account"
            ))
        })?;
        // A publish already begun at the platform is resumed whatever the
        // limits say: it was counted when it began.
        if progress == PublishProgress::default() {
            let wait = limits::wait_until(
                &self.repo,
                self.settings(),
                &target.workspace_id,
                &target.connection_id,
                platform,
                chrono::Utc::now(),
            )
            .await
            .map_err(|e| self.transient(target, format!("counting recent publishes: {e}")))?;
            if let Some((at_ms, why)) = wait {
                return Err(Verdict::Later {
                    state: "queued",
                    at_ms,
                    why,
                    counts: false,
                });
            }
        }
        let peers = &self.core.ctx.peers;
        // Once the platform may hold part of the post, a missing package
        // cannot fail it: the platform could still publish what it has.
        let begun = progress != PublishProgress::default();
        let gone = |why: String| {
            if begun {
                Verdict::Unconfirmed(format!(
                    "{why}, after the platform was sent part of the post: it may still publish it; check the account"
                ))
            } else {
                failed(why, "invalid_media", Some("package_id".into()), false)
            }
        };
        let package = match packages::package(peers, &target.workspace_id, &target.package_id).await {
            Ok(Some(package)) if package.status == "ready" => package,
            Ok(Some(package)) => {
                return Err(gone(format!(
                    "the package is {}: only a ready package can be published",
                    package.status
                )));
            }
            Ok(None) => return Err(gone("the package was deleted".to_owned())),
            Err(status) => return Err(self.transient(target, format!("reading the package: {}", status.message()))),
        };
        let metadata = packages::post_metadata(&package)
            .map_err(|why| failed(why, "invalid_metadata", Some("package_id".into()), false))?;
        let work = WorkFile(self.work_root.join(format!("{}-{owner}.mp4", target.target_id)));
        if let Err(status) = packages::fetch_video(peers, &target.workspace_id, &target.package_id, &work.0).await {
            return Err(self.transient(target, format!("fetching the video: {}", status.message())));
        }
        let video = VideoFile::open(&work.0, "video/mp4")
            .await
            .map_err(|e| self.transient(target, format!("opening the fetched video: {e}")))?;
        self.repo
            .mark_platform_call(&target.workspace_id, owner, now_ms())
            .await
            .map_err(|e| self.transient(target, format!("recording the call: {e}")))?;
        let journal = Journal {
            repo: self.repo.clone(),
            platform,
            workspace_id: target.workspace_id.clone(),
            target_id: target.target_id.clone(),
            owner: owner.to_owned(),
            latest: Mutex::new(progress),
            lost: AtomicBool::new(false),
        };
        let mut refreshed = false;
        loop {
            let progress = journal.latest.lock().expect("not poisoned").clone();
            let outcome = adapter
                .publish_resumable(
                    &token.access_token,
                    &connection.account_id,
                    &video,
                    &metadata,
                    progress,
                    &journal,
                )
                .await;
            if journal.lost.load(Ordering::SeqCst) {
                return Err(Verdict::LeaseLost);
            }
            match outcome {
                Ok(handle) => {
                    return match self
                        .repo
                        .to_processing(&target.workspace_id, &target.target_id, owner, &handle.id, now_ms())
                        .await
                    {
                        Ok(true) => Ok(handle),
                        Ok(false) => Err(Verdict::LeaseLost),
                        // The handle is also in the recorded progress: a retry resumes it.
                        Err(e) => Err(self.transient(target, format!("recording the upload: {e}"))),
                    };
                }
                Err(e) if e.class == ErrorClass::AuthExpired && !refreshed => {
                    refreshed = true;
                    *token = self.token(target, Some(token.version)).await?;
                }
                Err(e) => return Err(self.classify(target, connection, e).await),
            }
        }
    }

    /// Step 5: until the platform says live, refused or unknown, or the
    /// window ends (then a later job looks again; the upload is never redone).
    async fn watch(
        &self,
        target: &TargetRow,
        connection: &ConnectionRow,
        adapter: &dyn PlatformAdapter,
        token: &mut UsableAccessToken,
        handle: &PublishHandle,
    ) -> Verdict {
        let settings = self.settings();
        let poll = Duration::from_millis(settings.poll_interval_ms);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(settings.poll_window_secs);
        loop {
            match adapter.publish_status(&token.access_token, handle).await {
                Ok(PublishStatus::Published { post_id, url }) => return Verdict::Published { post_id, url },
                Ok(PublishStatus::Failed { error, class }) => {
                    return Verdict::Failed {
                        error,
                        class: class_name(class),
                        field: None,
                        retryable: matches!(class, ErrorClass::Transient),
                        refused_object: true,
                    };
                }
                Ok(PublishStatus::Unconfirmed { detail }) => return Verdict::Unconfirmed(detail),
                Ok(PublishStatus::Processing { detail }) => {
                    tracing::debug!(target_id = %target.target_id, detail, "processing at the platform");
                }
                Err(e) if e.class == ErrorClass::AuthExpired => match self.token(target, Some(token.version)).await {
                    Ok(fresh) => *token = fresh,
                    Err(verdict) => return verdict,
                },
                Err(e) if e.class == ErrorClass::AuthRevoked => {
                    self.core.needs_reauthorization(connection, &e.message).await;
                    return Verdict::Unconfirmed(format!(
                        "the platform holds the video, but the account's authorization was withdrawn while it was \
                         processed ({}); it may still go live: check the account",
                        e.message
                    ));
                }
                // Asking again at once would only spend more of the limit.
                Err(e) if matches!(e.class, ErrorClass::RateLimited | ErrorClass::QuotaExhausted) => {
                    let now = now_ms();
                    let at_ms = e
                        .reset_at
                        .map(|at| at.timestamp_millis())
                        .or_else(|| {
                            e.retry_after
                                .map(|d| now + i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                        })
                        .unwrap_or(now + DEFAULT_RATE_LIMIT_WAIT_MS)
                        .max(now + 1000);
                    return Verdict::Later {
                        state: "processing",
                        at_ms,
                        why: format!("the status waits for {}'s limit: {}", target.platform, e.message),
                        counts: true,
                    };
                }
                // The platform holds the video but will not say how it went:
                // asking forever would not help, and publishing again could post twice.
                Err(e)
                    if matches!(
                        e.class,
                        ErrorClass::Permanent | ErrorClass::InvalidMedia | ErrorClass::InvalidMetadata
                    ) =>
                {
                    return Verdict::Unconfirmed(format!(
                        "the platform holds the video, but its status cannot be read ({}): check the account",
                        e.message
                    ));
                }
                Err(e) => {
                    tracing::warn!(target_id = %target.target_id, error = %e, "publish status not read; asking again")
                }
            }
            if tokio::time::Instant::now() + poll > deadline {
                return Verdict::Later {
                    state: "processing",
                    at_ms: now_ms() + i64::try_from(poll.as_millis()).unwrap_or(i64::MAX),
                    why: "still processing at the platform".into(),
                    counts: true,
                };
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// What a platform's refusal of the publish means for the target.
    async fn classify(&self, target: &TargetRow, connection: &ConnectionRow, e: PlatformError) -> Verdict {
        if e.platform_code.as_deref() == Some(smez_platforms::youtube::UPLOAD_UNCONFIRMED) {
            return Verdict::Unconfirmed(e.message);
        }
        let now = now_ms();
        match e.class {
            ErrorClass::AuthExpired | ErrorClass::Transient => self.transient(target, e.message),
            ErrorClass::RateLimited => Verdict::Later {
                state: "queued",
                at_ms: now
                    + e.retry_after.map_or(DEFAULT_RATE_LIMIT_WAIT_MS, |d| {
                        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
                    }),
                why: format!("rate limited by {}: {}", target.platform, e.message),
                counts: false,
            },
            ErrorClass::QuotaExhausted => Verdict::Later {
                state: "queued",
                at_ms: e
                    .reset_at
                    .map_or(now + DEFAULT_QUOTA_WAIT_MS, |at| at.timestamp_millis())
                    .max(now + 1000),
                why: format!("{} quota used up until it resets: {}", target.platform, e.message),
                counts: false,
            },
            ErrorClass::AuthRevoked => {
                self.core.needs_reauthorization(connection, &e.message).await;
                let mut verdict = reconnect(connection);
                if let Verdict::Failed { error, .. } = &mut verdict {
                    error.push_str(&format!(" ({})", e.message));
                }
                verdict
            }
            ErrorClass::InvalidMedia | ErrorClass::InvalidMetadata | ErrorClass::Permanent => {
                failed(e.message, class_name(e.class), e.field, false)
            }
        }
    }

    /// A failure worth retrying: again after a growing wait, until the cap.
    fn transient(&self, target: &TargetRow, why: String) -> Verdict {
        let settings = self.settings();
        if target.attempts >= i64::from(settings.max_attempts) {
            return failed(
                format!("gave up after {} attempts: {why}", target.attempts),
                "transient",
                None,
                true,
            );
        }
        let exponent = u32::try_from(target.attempts.saturating_sub(1)).unwrap_or(0).min(20);
        let wait = i64::try_from(settings.retry_base_ms)
            .unwrap_or(i64::MAX)
            .saturating_mul(1i64 << exponent)
            .min(MAX_BACKOFF_MS);
        Verdict::Later {
            state: "queued",
            at_ms: now_ms() + wait,
            why,
            counts: true,
        }
    }

    /// Records the outcome (with its event) if this worker still holds the target.
    async fn settle(&self, target: &TargetRow, owner: &str, verdict: Verdict) -> anyhow::Result<()> {
        let now = now_ms();
        let mut settled = target.clone();
        let (settlement, event_type) = match &verdict {
            Verdict::LeaseLost => return Ok(()),
            Verdict::Published { post_id, url } => (
                Settlement {
                    platform_post_id: Some(post_id),
                    public_url: url.as_deref(),
                    published_at_ms: Some(now),
                    ..Settlement::ended("published", "published", url.as_deref().unwrap_or(post_id))
                },
                Some("post.published"),
            ),
            Verdict::Failed {
                error,
                class,
                field,
                retryable,
                refused_object,
            } => (
                Settlement {
                    error,
                    error_class: Some(class),
                    error_field: field.as_deref(),
                    retryable: *retryable,
                    refused_object: *refused_object,
                    ..Settlement::ended("failed", "failed", error)
                },
                Some("post.failed"),
            ),
            Verdict::Unconfirmed(detail) => (
                Settlement {
                    error: detail,
                    error_class: Some("unconfirmed"),
                    ..Settlement::ended("unconfirmed", "unconfirmed", detail)
                },
                Some("post.unconfirmed"),
            ),
            Verdict::Later {
                state,
                at_ms,
                why,
                counts,
            } => {
                let outcome = match (*state, *counts) {
                    ("processing", _) => "processing",
                    (_, true) => "retry",
                    (_, false) => "waiting",
                };
                let settlement = Settlement {
                    dispatch_at_ms: Some(*at_ms),
                    error: if *state == "processing" { "" } else { why },
                    counts: *counts,
                    ..Settlement::ended(state, outcome, why)
                };
                (settlement, None)
            }
        };
        settled.state = settlement.state.to_owned();
        let event = event_type.map(|kind| {
            outcome_event(kind, &settled, |outcome| {
                outcome.platform_post_id = settlement.platform_post_id.unwrap_or_default().to_owned();
                outcome.public_url = settlement.public_url.unwrap_or_default().to_owned();
                outcome.published_at_ms = settlement.published_at_ms.unwrap_or_default();
                outcome.error = settlement.error.to_owned();
                outcome.error_class = settlement.error_class.unwrap_or_default().to_owned();
                outcome.error_field = settlement.error_field.unwrap_or_default().to_owned();
                outcome.retryable = settlement.retryable;
            })
        });
        let recorded = self
            .repo
            .settle(
                &target.workspace_id,
                &target.target_id,
                owner,
                &settlement,
                now,
                event.as_ref(),
            )
            .await?;
        if recorded {
            tracing::info!(target_id = %target.target_id, state = settlement.state, detail = settlement.detail, "publish attempt ended");
        }
        Ok(())
    }
}

/// A failure that leaves whatever the platform holds as it is (a retry resumes it).
fn failed(error: String, class: &'static str, field: Option<String>, retryable: bool) -> Verdict {
    Verdict::Failed {
        error,
        class,
        field,
        retryable,
        refused_object: false,
    }
}

/// The account must be connected again; the target can be retried after.
fn reconnect(connection: &ConnectionRow) -> Verdict {
    let state = if connection.status == "revoked" {
        "was disconnected"
    } else {
        "needs to be reconnected (its authorization was withdrawn or has expired)"
    };
    failed(
        format!(
            "the {} account @{} {state}: reconnect it under Integrations, then retry this target",
            connection.platform, connection.username
        ),
        "auth_revoked",
        None,
        true,
    )
}

fn class_name(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::AuthExpired => "auth_expired",
        ErrorClass::AuthRevoked => "auth_revoked",
        ErrorClass::RateLimited => "rate_limited",
        ErrorClass::QuotaExhausted => "quota_exhausted",
        ErrorClass::InvalidMedia => "invalid_media",
        ErrorClass::InvalidMetadata => "invalid_metadata",
        ErrorClass::Transient => "transient",
        ErrorClass::Permanent => "permanent",
    }
}

/// Keeps the adapter's progress on the target row, while this worker holds it.
struct Journal {
    repo: PostRepo,
    platform: Platform,
    workspace_id: String,
    target_id: String,
    owner: String,
    latest: Mutex<PublishProgress>,
    lost: AtomicBool,
}

#[async_trait::async_trait]
impl PublishJournal for Journal {
    async fn record(&self, progress: &PublishProgress) -> Result<(), PlatformError> {
        let json = serde_json::to_string(progress)
            .map_err(|e| PlatformError::new(self.platform, ErrorClass::Permanent, format!("progress: {e}")))?;
        match self
            .repo
            .record_progress(&self.workspace_id, &self.target_id, &self.owner, &json, now_ms())
            .await
        {
            Ok(true) => {
                *self.latest.lock().expect("not poisoned") = progress.clone();
                Ok(())
            }
            Ok(false) => {
                self.lost.store(true, Ordering::SeqCst);
                Err(PlatformError::new(
                    self.platform,
                    ErrorClass::Permanent,
                    "another worker took this publish over: stopping here",
                ))
            }
            // Not recorded, so not taken: the next step waits for a retry.
            Err(e) => Err(PlatformError::new(
                self.platform,
                ErrorClass::Transient,
                format!("recording the publish's progress failed: {e}"),
            )),
        }
    }
}
