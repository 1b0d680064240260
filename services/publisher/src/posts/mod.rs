//! Posts: one video going to one or more connected accounts, each a target
//! with its own state, now or at a scheduled time ([`schedule`]). Created,
//! listed, rescheduled or edited before publishing starts, canceled, and
//! retried where a retry can help; the scheduler and the workers
//! ([`crate::publish`]) do the publishing.

pub mod packages;
pub mod repo;
pub mod schedule;
pub mod view;

use std::sync::Arc;

use serde::Deserialize;
use smez_kit::{Error, ErrorCode, FieldViolation};
use smez_proto::publisher::v1::{ListPostsRequest, PostList};
use smez_service::member::Member;

use crate::core::{Core, storage, upstream};
use crate::repo::now_ms;
use repo::{NewTarget, PostFilter, PostRepo, PostRow};
use schedule::When;

/// The most accounts one post goes to.
const MAX_TARGETS: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetRequest {
    connection_id: String,
    package_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostRequest {
    #[serde(default)]
    targets: Option<Vec<TargetRequest>>,
    #[serde(default)]
    publish_at: Option<String>,
    #[serde(default)]
    local_time: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

impl PostRequest {
    fn parse(json: &str) -> Result<Self, Error> {
        serde_json::from_str(json).map_err(|e| Error::invalid_field("body", format!("not a post request: {e}")))
    }

    fn when(&self) -> When {
        When {
            publish_at: self.publish_at.clone(),
            local_time: self.local_time.clone(),
            time_zone: self.time_zone.clone(),
        }
    }
}

pub struct Posts {
    core: Arc<Core>,
    pub repo: PostRepo,
}

impl Posts {
    pub fn new(core: Arc<Core>) -> Self {
        Self {
            repo: PostRepo::new(core.ctx.store.clone()),
            core,
        }
    }

    pub async fn create(&self, member: &Member, json: &str) -> Result<String, Error> {
        let request = PostRequest::parse(json)?;
        let now = now_ms();
        let schedule = request.when().resolve(chrono::Utc::now())?;
        let targets = self
            .checked_targets(&member.workspace_id, request.targets.as_deref())
            .await?;
        let post = PostRow {
            post_id: uuid::Uuid::now_v7().to_string(),
            workspace_id: member.workspace_id.clone(),
            publish_at_ms: schedule.publish_at.timestamp_millis(),
            schedule_kind: schedule.kind.to_owned(),
            time_zone: schedule.time_zone,
            local_time: schedule.local_time,
            resolution: schedule.resolution.to_owned(),
            created_by: Some(member.user_id.clone()),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.repo.insert(&post, &targets).await.map_err(storage)?;
        tracing::info!(post_id = %post.post_id, targets = targets.len(), publish_at = %schedule.publish_at, "post scheduled");
        self.document(&member.workspace_id, &post.post_id).await
    }

    /// Reschedules, or replaces the targets, while no target has started.
    pub async fn update(&self, member: &Member, post_id: &str, json: &str) -> Result<String, Error> {
        let request = PostRequest::parse(json)?;
        let mut post = self.post(&member.workspace_id, post_id).await?;
        let when = request.when();
        if when.is_empty() && request.targets.is_none() {
            return Err(Error::invalid_field(
                "body",
                "nothing to change: give publish_at (or local_time and time_zone) and/or targets",
            ));
        }
        if !when.is_empty() {
            let schedule = when.resolve(chrono::Utc::now())?;
            post.publish_at_ms = schedule.publish_at.timestamp_millis();
            post.schedule_kind = schedule.kind.to_owned();
            post.time_zone = schedule.time_zone;
            post.local_time = schedule.local_time;
            post.resolution = schedule.resolution.to_owned();
        }
        let targets = match request.targets.as_deref() {
            Some(targets) => Some(self.checked_targets(&member.workspace_id, Some(targets)).await?),
            None => None,
        };
        let updated = self
            .repo
            .update(&post, targets.as_deref(), now_ms())
            .await
            .map_err(storage)?;
        if !updated {
            return Err(Error::new(
                ErrorCode::Conflict,
                "publishing has started for this post: it can no longer be rescheduled or edited (cancel what has \
                 not started, or retry a failed target)",
            ));
        }
        self.document(&member.workspace_id, post_id).await
    }

    pub async fn cancel(&self, member: &Member, post_id: &str) -> Result<String, Error> {
        self.post(&member.workspace_id, post_id).await?;
        let canceled = self
            .repo
            .cancel(&member.workspace_id, post_id, now_ms())
            .await
            .map_err(storage)?;
        if canceled == 0 {
            return Err(Error::new(
                ErrorCode::Conflict,
                "nothing left to cancel: every target has started publishing or has ended",
            ));
        }
        self.document(&member.workspace_id, post_id).await
    }

    pub async fn retry(&self, member: &Member, post_id: &str, target_id: &str) -> Result<String, Error> {
        self.post(&member.workspace_id, post_id).await?;
        let target = self
            .repo
            .target(&member.workspace_id, target_id)
            .await
            .map_err(storage)?
            .filter(|t| t.post_id == post_id)
            .ok_or_else(|| Error::not_found("no such target in this post"))?;
        let retried = self
            .repo
            .retry(&member.workspace_id, post_id, target_id, now_ms())
            .await
            .map_err(storage)?;
        if !retried {
            let why = match target.state.as_str() {
                "failed" => "its failure is not one a retry can help (fix the cause: see its error)".to_owned(),
                "unconfirmed" => "the platform may have published it: check the account; Smez never retries \
                                  an unconfirmed publish"
                    .to_owned(),
                state => format!("it is {state}, not failed"),
            };
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("the target cannot be retried: {why}"),
            ));
        }
        self.document(&member.workspace_id, post_id).await
    }

    pub async fn get(&self, member: &Member, post_id: &str) -> Result<String, Error> {
        self.document(&member.workspace_id, post_id).await
    }

    pub async fn list(&self, member: &Member, request: &ListPostsRequest) -> Result<PostList, Error> {
        let limit = if request.limit == 0 { 50 } else { request.limit.min(200) };
        let before = if request.cursor.is_empty() {
            None
        } else {
            let parsed = request
                .cursor
                .split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())));
            Some(parsed.ok_or_else(|| Error::invalid_field("cursor", "not a cursor this API gave"))?)
        };
        let state = (!request.state.is_empty()).then_some(request.state.as_str());
        if let Some(state) = state
            && ![
                "scheduled",
                "publishing",
                "published",
                "partially_published",
                "failed",
                "canceled",
            ]
            .contains(&state)
        {
            return Err(Error::invalid_field(
                "state",
                format!(
                    "`{state}` is not a post state (scheduled, publishing, published, partially_published, failed, \
                     canceled)"
                ),
            ));
        }
        if !request.platform.is_empty() {
            crate::core::parse_platform(&request.platform)?;
        }
        let mut filter = PostFilter {
            platform: (!request.platform.is_empty()).then_some(request.platform.as_str()),
            connection_id: (!request.connection_id.is_empty()).then_some(request.connection_id.as_str()),
            from_ms: (request.from_ms != 0).then_some(request.from_ms),
            until_ms: (request.until_ms != 0).then_some(request.until_ms),
            before,
        };
        // The overall state is computed from the targets: read pages until
        // this one is full (or the posts run out).
        let mut posts = Vec::new();
        let mut next_cursor = String::new();
        loop {
            let rows = self
                .repo
                .posts(&member.workspace_id, &filter, limit + 1)
                .await
                .map_err(storage)?;
            let ids: Vec<String> = rows.iter().map(|p| p.post_id.clone()).collect();
            let targets = self.repo.targets(&member.workspace_id, &ids).await.map_err(storage)?;
            let exhausted = rows.len() <= limit as usize;
            for row in rows.iter().take(limit as usize) {
                filter.before = Some((row.publish_at_ms, row.post_id.clone()));
                let own: Vec<_> = targets.iter().filter(|t| t.post_id == row.post_id).cloned().collect();
                if state.is_none_or(|s| view::overall_state(&own) == s) {
                    posts.push(view::post(row, &own, &[]).to_string());
                    if posts.len() == limit as usize {
                        break;
                    }
                }
            }
            if posts.len() == limit as usize {
                if let Some((at, id)) = &filter.before
                    && !(exhausted && rows.last().is_some_and(|last| &last.post_id == id))
                {
                    next_cursor = format!("{at}.{id}");
                }
                break;
            }
            if exhausted {
                break;
            }
        }
        Ok(PostList { posts, next_cursor })
    }

    async fn post(&self, workspace_id: &str, post_id: &str) -> Result<PostRow, Error> {
        self.repo
            .post(workspace_id, post_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::not_found("no such post"))
    }

    /// The post with its targets and their attempt histories, as JSON.
    async fn document(&self, workspace_id: &str, post_id: &str) -> Result<String, Error> {
        let post = self.post(workspace_id, post_id).await?;
        let targets = self
            .repo
            .targets(workspace_id, std::slice::from_ref(&post.post_id))
            .await
            .map_err(storage)?;
        let attempts = self.repo.attempts(workspace_id, post_id).await.map_err(storage)?;
        Ok(view::post(&post, &targets, &attempts).to_string())
    }

    /// Every target checked: the connection is this workspace's and can
    /// publish, the package is this workspace's, ready, and made for that
    /// connection's platform; one target per account.
    async fn checked_targets(
        &self,
        workspace_id: &str,
        requested: Option<&[TargetRequest]>,
    ) -> Result<Vec<NewTarget>, Error> {
        let requested = requested.unwrap_or_default();
        if requested.is_empty() || requested.len() > MAX_TARGETS {
            return Err(Error::invalid_field(
                "targets",
                format!("a post goes to 1 to {MAX_TARGETS} connected accounts"),
            ));
        }
        let mut violations = Vec::new();
        let mut targets: Vec<NewTarget> = Vec::new();
        for (i, wanted) in requested.iter().enumerate() {
            let mut refuse = |field: &str, message: String| {
                violations.push(FieldViolation {
                    field: format!("targets[{i}].{field}"),
                    message,
                })
            };
            if targets.iter().any(|t| t.connection_id == wanted.connection_id) {
                refuse(
                    "connection_id",
                    "this account is already a target of the post (one target per account)".into(),
                );
                continue;
            }
            let connection = self
                .core
                .repo
                .connection(workspace_id, &wanted.connection_id)
                .await
                .map_err(storage)?;
            let Some(connection) = connection else {
                refuse("connection_id", "no such connection in this workspace".into());
                continue;
            };
            if connection.status != "active" {
                refuse(
                    "connection_id",
                    format!(
                        "the {} account @{} is {}: reconnect it before publishing",
                        connection.platform, connection.username, connection.status
                    ),
                );
                continue;
            }
            let package = packages::package(&self.core.ctx.peers, workspace_id, &wanted.package_id)
                .await
                .map_err(upstream)?;
            let Some(package) = package else {
                refuse("package_id", "no such package in this workspace".into());
                continue;
            };
            if package.platform != connection.platform {
                refuse(
                    "package_id",
                    format!(
                        "this package is made for {}, the connection is a {} account",
                        package.platform, connection.platform
                    ),
                );
                continue;
            }
            if package.status != "ready" {
                refuse(
                    "package_id",
                    format!(
                        "the package is {}: only a ready package can be published",
                        package.status
                    ),
                );
                continue;
            }
            targets.push(NewTarget {
                target_id: uuid::Uuid::now_v7().to_string(),
                connection_id: connection.connection_id,
                platform: connection.platform,
                package_id: package.id,
            });
        }
        if !violations.is_empty() {
            let first = format!("{}: {}", violations[0].field, violations[0].message);
            return Err(Error::invalid_fields(
                format!("the post's targets cannot be published: {first}"),
                violations,
            ));
        }
        Ok(targets)
    }
}
