//! The `posts`, `post_targets` and `publish_attempts` tables. Every change
//! of a target's state is one conditional update (the row is the truth; a
//! `publish.run` job only wakes a worker), and an outcome's event is written
//! in the same transaction (outbox).

use smez_proto::events::v1::Event;
use smez_store::sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use smez_store::{Backend, Scope, Store, statement};

/// A target's states before it starts (the SQL spells out the others:
/// queued, publishing, processing, published, failed, unconfirmed).
pub const SCHEDULED: &str = "scheduled";
pub const CANCELED: &str = "canceled";

#[derive(Clone, Debug)]
pub struct PostRow {
    pub post_id: String,
    pub workspace_id: String,
    pub publish_at_ms: i64,
    pub schedule_kind: String,
    pub time_zone: Option<String>,
    pub local_time: Option<String>,
    pub resolution: String,
    pub created_by: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const POST_COLUMNS: &str = "post_id, workspace_id, publish_at_ms, schedule_kind, time_zone, local_time, resolution, \
     created_by, created_at_ms, updated_at_ms";

fn post_at(row: &QueryResult) -> Result<PostRow, DbErr> {
    Ok(PostRow {
        post_id: row.try_get_by_index(0)?,
        workspace_id: row.try_get_by_index(1)?,
        publish_at_ms: row.try_get_by_index(2)?,
        schedule_kind: row.try_get_by_index(3)?,
        time_zone: row.try_get_by_index(4)?,
        local_time: row.try_get_by_index(5)?,
        resolution: row.try_get_by_index(6)?,
        created_by: row.try_get_by_index(7)?,
        created_at_ms: row.try_get_by_index(8)?,
        updated_at_ms: row.try_get_by_index(9)?,
    })
}

#[derive(Clone, Debug)]
pub struct TargetRow {
    pub target_id: String,
    pub post_id: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub platform: String,
    pub package_id: String,
    pub state: String,
    pub dispatch_at_ms: Option<i64>,
    pub attempts: i64,
    pub progress: String,
    pub handle_id: Option<String>,
    pub error: String,
    pub error_class: Option<String>,
    pub error_field: Option<String>,
    pub retryable: bool,
    pub platform_post_id: Option<String>,
    pub public_url: Option<String>,
    pub published_at_ms: Option<i64>,
    pub lease_owner: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const TARGET_COLUMNS: &str = "target_id, post_id, workspace_id, connection_id, platform, package_id, state, \
     dispatch_at_ms, attempts, progress, handle_id, error, error_class, error_field, retryable, platform_post_id, \
     public_url, published_at_ms, lease_owner, created_at_ms, updated_at_ms";

fn target_at(row: &QueryResult) -> Result<TargetRow, DbErr> {
    let retryable: i64 = row.try_get_by_index(14)?;
    Ok(TargetRow {
        target_id: row.try_get_by_index(0)?,
        post_id: row.try_get_by_index(1)?,
        workspace_id: row.try_get_by_index(2)?,
        connection_id: row.try_get_by_index(3)?,
        platform: row.try_get_by_index(4)?,
        package_id: row.try_get_by_index(5)?,
        state: row.try_get_by_index(6)?,
        dispatch_at_ms: row.try_get_by_index(7)?,
        attempts: row.try_get_by_index(8)?,
        progress: row.try_get_by_index(9)?,
        handle_id: row.try_get_by_index(10)?,
        error: row.try_get_by_index(11)?,
        error_class: row.try_get_by_index(12)?,
        error_field: row.try_get_by_index(13)?,
        retryable: retryable != 0,
        platform_post_id: row.try_get_by_index(15)?,
        public_url: row.try_get_by_index(16)?,
        published_at_ms: row.try_get_by_index(17)?,
        lease_owner: row.try_get_by_index(18)?,
        created_at_ms: row.try_get_by_index(19)?,
        updated_at_ms: row.try_get_by_index(20)?,
    })
}

#[derive(Clone, Debug)]
pub struct AttemptRow {
    pub target_id: String,
    pub number: i64,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub outcome: String,
    pub detail: String,
}

/// A new target, as created with its post.
pub struct NewTarget {
    pub target_id: String,
    pub connection_id: String,
    pub platform: String,
    pub package_id: String,
}

/// How a worker's attempt ended, for [`PostRepo::settle`].
pub struct Settlement<'a> {
    pub state: &'a str,
    /// When the scheduler sends it again (waiting states), or `None`.
    pub dispatch_at_ms: Option<i64>,
    pub error: &'a str,
    pub error_class: Option<&'a str>,
    pub error_field: Option<&'a str>,
    pub retryable: bool,
    /// Published: the platform's post id, URL and when it went live.
    pub platform_post_id: Option<&'a str>,
    pub public_url: Option<&'a str>,
    pub published_at_ms: Option<i64>,
    /// The attempt's outcome and detail, for its history.
    pub outcome: &'a str,
    pub detail: &'a str,
    /// Whether the attempt counts (a wait for a known limit does not).
    pub counts: bool,
    /// The platform refused the object this target made (an upload it
    /// would not publish): the recorded progress is dropped, so a retry
    /// starts a new one. Any other failure keeps it, so a retry resumes it.
    pub refused_object: bool,
}

impl<'a> Settlement<'a> {
    /// An attempt that ended in `state` with this history entry: no error,
    /// no platform post, counted, progress kept. Callers fill in the rest.
    pub fn ended(state: &'a str, outcome: &'a str, detail: &'a str) -> Self {
        Self {
            state,
            dispatch_at_ms: None,
            error: "",
            error_class: None,
            error_field: None,
            retryable: false,
            platform_post_id: None,
            public_url: None,
            published_at_ms: None,
            outcome,
            detail,
            counts: true,
            refused_object: false,
        }
    }
}

/// A page of posts' filters.
pub struct PostFilter<'a> {
    pub platform: Option<&'a str>,
    pub connection_id: Option<&'a str>,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// `(publish_at_ms, post_id)` of the last post of the previous page.
    pub before: Option<(i64, String)>,
}

#[derive(Clone)]
pub struct PostRepo {
    store: Store,
}

impl PostRepo {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn execute<const N: usize>(&self, workspace_id: &str, sql: &str, values: [Value; N]) -> Result<u64, DbErr> {
        self.store
            .execute_scoped(Scope::Workspace(workspace_id), sql, values)
            .await
    }

    // --- posts --------------------------------------------------------------

    /// The post and its targets, together.
    pub async fn insert(&self, post: &PostRow, targets: &[NewTarget]) -> Result<(), DbErr> {
        let txn = self.store.begin_in_workspace(&post.workspace_id).await?;
        let backend = txn.get_database_backend();
        txn.execute_raw(statement(
            backend,
            &format!("INSERT INTO posts ({POST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            [
                post.post_id.clone().into(),
                post.workspace_id.clone().into(),
                post.publish_at_ms.into(),
                post.schedule_kind.clone().into(),
                post.time_zone.clone().into(),
                post.local_time.clone().into(),
                post.resolution.clone().into(),
                post.created_by.clone().into(),
                post.created_at_ms.into(),
                post.updated_at_ms.into(),
            ],
        ))
        .await?;
        for target in targets {
            insert_target(&txn, post, target, post.created_at_ms).await?;
        }
        txn.commit().await
    }

    pub async fn post(&self, workspace_id: &str, post_id: &str) -> Result<Option<PostRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!("SELECT {POST_COLUMNS} FROM posts WHERE workspace_id = ? AND post_id = ?"),
                [workspace_id.into(), post_id.into()],
            )
            .await?;
        rows.first().map(post_at).transpose()
    }

    /// Posts newest due first, by the filters.
    pub async fn posts(&self, workspace_id: &str, filter: &PostFilter<'_>, limit: u32) -> Result<Vec<PostRow>, DbErr> {
        let mut sql = format!("SELECT {POST_COLUMNS} FROM posts p WHERE workspace_id = ?");
        let mut values: Vec<Value> = vec![workspace_id.into()];
        if let Some(platform) = filter.platform {
            sql.push_str(" AND EXISTS (SELECT 1 FROM post_targets t WHERE t.post_id = p.post_id AND t.platform = ?)");
            values.push(platform.into());
        }
        if let Some(connection_id) = filter.connection_id {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM post_targets t WHERE t.post_id = p.post_id AND t.connection_id = ?)",
            );
            values.push(connection_id.into());
        }
        if let Some(from) = filter.from_ms {
            sql.push_str(" AND publish_at_ms >= ?");
            values.push(from.into());
        }
        if let Some(until) = filter.until_ms {
            sql.push_str(" AND publish_at_ms < ?");
            values.push(until.into());
        }
        if let Some((at, id)) = &filter.before {
            sql.push_str(" AND (publish_at_ms < ? OR (publish_at_ms = ? AND post_id < ?))");
            values.extend([(*at).into(), (*at).into(), id.clone().into()]);
        }
        sql.push_str(" ORDER BY publish_at_ms DESC, post_id DESC LIMIT ?");
        values.push(i64::from(limit).into());
        let rows = self
            .store
            .query_scoped(Scope::Workspace(workspace_id), &sql, values)
            .await?;
        rows.iter().map(post_at).collect()
    }

    /// The targets of some posts.
    pub async fn targets(&self, workspace_id: &str, post_ids: &[String]) -> Result<Vec<TargetRow>, DbErr> {
        if post_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; post_ids.len()].join(", ");
        let mut values: Vec<Value> = vec![workspace_id.into()];
        values.extend(post_ids.iter().map(|id| Value::from(id.clone())));
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!(
                    "SELECT {TARGET_COLUMNS} FROM post_targets WHERE workspace_id = ? AND post_id IN ({marks}) \
                     ORDER BY created_at_ms, target_id"
                ),
                values,
            )
            .await?;
        rows.iter().map(target_at).collect()
    }

    pub async fn target(&self, workspace_id: &str, target_id: &str) -> Result<Option<TargetRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!("SELECT {TARGET_COLUMNS} FROM post_targets WHERE workspace_id = ? AND target_id = ?"),
                [workspace_id.into(), target_id.into()],
            )
            .await?;
        rows.first().map(target_at).transpose()
    }

    pub async fn attempts(&self, workspace_id: &str, post_id: &str) -> Result<Vec<AttemptRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                "SELECT a.target_id, a.number, a.started_at_ms, a.finished_at_ms, a.outcome, a.detail \
                 FROM publish_attempts a JOIN post_targets t ON t.target_id = a.target_id \
                 WHERE a.workspace_id = ? AND t.post_id = ? ORDER BY a.target_id, a.number, a.started_at_ms",
                [workspace_id.into(), post_id.into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AttemptRow {
                    target_id: row.try_get_by_index(0)?,
                    number: row.try_get_by_index(1)?,
                    started_at_ms: row.try_get_by_index(2)?,
                    finished_at_ms: row.try_get_by_index(3)?,
                    outcome: row.try_get_by_index(4)?,
                    detail: row.try_get_by_index(5)?,
                })
            })
            .collect()
    }

    /// Moves a post whose targets have not started to its new
    /// `publish_at_ms`, and replaces its targets when `targets` are given.
    /// False when a target has started (it is too late): nothing changes.
    pub async fn update(&self, post: &PostRow, targets: Option<&[NewTarget]>, now: i64) -> Result<bool, DbErr> {
        let txn = self.store.begin_in_workspace(&post.workspace_id).await?;
        let backend = txn.get_database_backend();
        let ids = || -> Vec<Value> { vec![post.workspace_id.clone().into(), post.post_id.clone().into()] };
        let scheduled = txn
            .query_all_raw(statement(
                backend,
                "SELECT state FROM post_targets WHERE workspace_id = ? AND post_id = ?",
                ids(),
            ))
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<Vec<_>, _>>()?;
        if scheduled.iter().any(|state| state != SCHEDULED && state != CANCELED) {
            return Ok(false);
        }
        txn.execute_raw(statement(
            backend,
            "UPDATE posts SET publish_at_ms = ?, schedule_kind = ?, time_zone = ?, local_time = ?, resolution = ?, \
             updated_at_ms = ? WHERE workspace_id = ? AND post_id = ?",
            [
                post.publish_at_ms.into(),
                post.schedule_kind.clone().into(),
                post.time_zone.clone().into(),
                post.local_time.clone().into(),
                post.resolution.clone().into(),
                now.into(),
                post.workspace_id.clone().into(),
                post.post_id.clone().into(),
            ],
        ))
        .await?;
        // Conditional on the state: a scheduler claiming a target meanwhile
        // makes the counts differ, and nothing is committed.
        let touched = match targets {
            Some(_) => {
                txn.execute_raw(statement(
                    backend,
                    "DELETE FROM post_targets WHERE workspace_id = ? AND post_id = ? \
                     AND state IN ('scheduled', 'canceled')",
                    ids(),
                ))
                .await?
            }
            None => {
                txn.execute_raw(statement(
                    backend,
                    "UPDATE post_targets SET dispatch_at_ms = ?, updated_at_ms = ? \
                     WHERE workspace_id = ? AND post_id = ? AND state = 'scheduled'",
                    [
                        post.publish_at_ms.into(),
                        now.into(),
                        post.workspace_id.clone().into(),
                        post.post_id.clone().into(),
                    ],
                ))
                .await?
            }
        }
        .rows_affected();
        let expected = match targets {
            Some(_) => scheduled.len(),
            None => scheduled.iter().filter(|state| *state == SCHEDULED).count(),
        };
        if touched as usize != expected {
            return Ok(false);
        }
        if let Some(targets) = targets {
            for target in targets {
                insert_target(&txn, post, target, now).await?;
            }
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Cancels a post's targets that have not started (nothing irreversible
    /// done). Returns how many were canceled.
    pub async fn cancel(&self, workspace_id: &str, post_id: &str, now: i64) -> Result<u64, DbErr> {
        self.execute(
            workspace_id,
            "UPDATE post_targets SET state = 'canceled', dispatch_at_ms = NULL, updated_at_ms = ? \
             WHERE workspace_id = ? AND post_id = ? AND lease_owner IS NULL \
             AND (state = 'scheduled' OR (state = 'queued' AND progress = '{}' AND handle_id IS NULL))",
            [now.into(), workspace_id.into(), post_id.into()],
        )
        .await
    }

    /// Queues a failed target whose failure a retry can help, now.
    pub async fn retry(&self, workspace_id: &str, post_id: &str, target_id: &str, now: i64) -> Result<bool, DbErr> {
        Ok(self
            .execute(
                workspace_id,
                // What was recorded is resumed: a platform's refusal of the
                // object dropped it when that failure was settled.
                "UPDATE post_targets SET state = 'queued', dispatch_at_ms = ?, error = '', error_class = NULL, \
                 error_field = NULL, retryable = 0, attempts = 0, alerted_at_ms = NULL, updated_at_ms = ? \
                 WHERE workspace_id = ? AND post_id = ? AND target_id = ? AND state = 'failed' AND retryable = 1",
                [
                    now.into(),
                    now.into(),
                    workspace_id.into(),
                    post_id.into(),
                    target_id.into(),
                ],
            )
            .await?
            == 1)
    }

    // --- the scheduler -------------------------------------------------------

    /// Claims up to `limit` targets due by `now` for dispatch: each leaves
    /// the scheduler's hands (`dispatch_at_ms` cleared) exactly once, however
    /// many schedulers run. Cross-tenant by nature.
    pub async fn claim_due(&self, now: i64, limit: u32) -> Result<Vec<(String, String)>, DbErr> {
        // PostgreSQL: concurrent schedulers skip each other's rows instead
        // of waiting; SQLite runs one writer at a time anyway.
        let lock = match self.store.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                &format!(
                    "UPDATE post_targets SET dispatch_at_ms = NULL, enqueued_at_ms = ?, \
                     state = CASE WHEN state = 'scheduled' THEN 'queued' ELSE state END \
                     WHERE target_id IN (SELECT target_id FROM post_targets WHERE dispatch_at_ms <= ? \
                     ORDER BY dispatch_at_ms LIMIT ?{lock}) AND dispatch_at_ms <= ? \
                     RETURNING workspace_id, target_id"
                ),
                [now.into(), now.into(), i64::from(limit).into(), now.into()],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
            .collect()
    }

    /// Targets whose job should be sent again, not held by a live worker:
    /// sent before `queued_before` and still not done (the job was lost), or
    /// held on a lease that ran out before `now` and not sent since (the
    /// worker died: at once, not after the patience). Marked as sent now, so
    /// the next rounds leave them to this job for `queued_before`'s patience.
    pub async fn stranded(&self, queued_before: i64, now: i64, limit: u32) -> Result<Vec<(String, String)>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                "UPDATE post_targets SET enqueued_at_ms = ? WHERE target_id IN (SELECT target_id FROM post_targets \
                 WHERE dispatch_at_ms IS NULL AND state IN ('queued', 'publishing', 'processing') \
                 AND (lease_owner IS NULL OR lease_until_ms < ?) \
                 AND (enqueued_at_ms < ? OR (lease_owner IS NOT NULL AND enqueued_at_ms < lease_until_ms)) LIMIT ?) \
                 RETURNING workspace_id, target_id",
                [now.into(), now.into(), queued_before.into(), i64::from(limit).into()],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
            .collect()
    }

    /// Targets not yet started though due before `due_before`, not yet
    /// alerted on; marked alerted.
    pub async fn overdue(&self, due_before: i64, now: i64, limit: u32) -> Result<Vec<TargetRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                &format!(
                    "UPDATE post_targets SET alerted_at_ms = ? WHERE target_id IN (SELECT t.target_id \
                     FROM post_targets t JOIN posts p ON p.post_id = t.post_id \
                     WHERE t.state IN ('scheduled', 'queued') AND t.alerted_at_ms IS NULL AND t.attempts = 0 \
                     AND p.publish_at_ms < ? LIMIT ?) RETURNING {TARGET_COLUMNS}"
                ),
                [now.into(), due_before.into(), i64::from(limit).into()],
            )
            .await?;
        rows.iter().map(target_at).collect()
    }

    // --- the worker ------------------------------------------------------------

    /// Takes a target for `owner` until `until_ms`: a queued one (publishing
    /// starts), one being processed at the platform (polling goes on), or
    /// one whose worker's lease ran out. Returns the attempt number, or
    /// `None` when someone else has it or it is over.
    pub async fn claim(
        &self,
        workspace_id: &str,
        target_id: &str,
        owner: &str,
        now: i64,
        until_ms: i64,
    ) -> Result<Option<TargetRow>, DbErr> {
        let txn = self.store.begin_in_workspace(workspace_id).await?;
        let backend = txn.get_database_backend();
        let claimed = txn
            .execute_raw(statement(
                backend,
                "UPDATE post_targets SET lease_owner = ?, lease_until_ms = ?, updated_at_ms = ?, \
                 attempts = attempts + CASE WHEN state = 'processing' THEN 0 ELSE 1 END, \
                 state = CASE WHEN state = 'processing' THEN 'processing' ELSE 'publishing' END \
                 WHERE workspace_id = ? AND target_id = ? AND dispatch_at_ms IS NULL \
                 AND state IN ('queued', 'publishing', 'processing') \
                 AND (lease_owner IS NULL OR lease_until_ms < ?)",
                [
                    owner.into(),
                    until_ms.into(),
                    now.into(),
                    workspace_id.into(),
                    target_id.into(),
                    now.into(),
                ],
            ))
            .await?
            .rows_affected();
        if claimed != 1 {
            return Ok(None);
        }
        let rows = txn
            .query_all_raw(statement(
                backend,
                &format!("SELECT {TARGET_COLUMNS} FROM post_targets WHERE workspace_id = ? AND target_id = ?"),
                [workspace_id.into(), target_id.into()],
            ))
            .await?;
        let Some(target) = rows.first().map(target_at).transpose()? else {
            return Ok(None);
        };
        // An attempt a dead worker left open is closed as abandoned.
        txn.execute_raw(statement(
            backend,
            "UPDATE publish_attempts SET outcome = 'abandoned', finished_at_ms = ?, \
             detail = 'the worker stopped (died or lost its lease); taken over' \
             WHERE workspace_id = ? AND target_id = ? AND outcome = 'running'",
            [now.into(), workspace_id.into(), target_id.into()],
        ))
        .await?;
        txn.execute_raw(statement(
            backend,
            "INSERT INTO publish_attempts (attempt_id, target_id, workspace_id, connection_id, platform, number, \
             started_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                owner.into(),
                target_id.into(),
                workspace_id.into(),
                target.connection_id.clone().into(),
                target.platform.clone().into(),
                target.attempts.into(),
                now.into(),
            ],
        ))
        .await?;
        txn.commit().await?;
        Ok(Some(target))
    }

    /// Extends `owner`'s lease. False: the lease was lost.
    pub async fn renew(&self, workspace_id: &str, target_id: &str, owner: &str, until_ms: i64) -> Result<bool, DbErr> {
        Ok(self
            .execute(
                workspace_id,
                "UPDATE post_targets SET lease_until_ms = ? WHERE workspace_id = ? AND target_id = ? \
                 AND lease_owner = ?",
                [until_ms.into(), workspace_id.into(), target_id.into(), owner.into()],
            )
            .await?
            == 1)
    }

    /// Records what the platform accepted so far, while `owner` holds the
    /// target. False: the lease was lost (another worker took over).
    pub async fn record_progress(
        &self,
        workspace_id: &str,
        target_id: &str,
        owner: &str,
        progress: &str,
        now: i64,
    ) -> Result<bool, DbErr> {
        Ok(self
            .execute(
                workspace_id,
                "UPDATE post_targets SET progress = ?, updated_at_ms = ? WHERE workspace_id = ? AND target_id = ? \
                 AND lease_owner = ?",
                [
                    progress.into(),
                    now.into(),
                    workspace_id.into(),
                    target_id.into(),
                    owner.into(),
                ],
            )
            .await?
            == 1)
    }

    /// Marks the attempt as having called the platform (the known limits count these).
    pub async fn mark_platform_call(&self, workspace_id: &str, owner: &str, now: i64) -> Result<(), DbErr> {
        self.execute(
            workspace_id,
            "UPDATE publish_attempts SET platform_call_at_ms = ? WHERE workspace_id = ? AND attempt_id = ?",
            [now.into(), workspace_id.into(), owner.into()],
        )
        .await
        .map(drop)
    }

    /// The upload is done: the platform processes it under `handle_id`.
    pub async fn to_processing(
        &self,
        workspace_id: &str,
        target_id: &str,
        owner: &str,
        handle_id: &str,
        now: i64,
    ) -> Result<bool, DbErr> {
        Ok(self
            .execute(
                workspace_id,
                "UPDATE post_targets SET state = 'processing', handle_id = ?, updated_at_ms = ? \
                 WHERE workspace_id = ? AND target_id = ? AND lease_owner = ?",
                [
                    handle_id.into(),
                    now.into(),
                    workspace_id.into(),
                    target_id.into(),
                    owner.into(),
                ],
            )
            .await?
            == 1)
    }

    /// Ends `owner`'s attempt as `settlement` says, releasing the target;
    /// `event` (if any) goes out with it. False: the lease was lost.
    pub async fn settle(
        &self,
        workspace_id: &str,
        target_id: &str,
        owner: &str,
        settlement: &Settlement<'_>,
        now: i64,
        event: Option<&Event>,
    ) -> Result<bool, DbErr> {
        let txn = self.store.begin_in_workspace(workspace_id).await?;
        let backend = txn.get_database_backend();
        let changed = txn
            .execute_raw(statement(
                backend,
                "UPDATE post_targets SET state = ?, dispatch_at_ms = ?, error = ?, error_class = ?, error_field = ?, \
                 retryable = ?, platform_post_id = COALESCE(?, platform_post_id), \
                 public_url = COALESCE(?, public_url), published_at_ms = COALESCE(?, published_at_ms), \
                 attempts = attempts - ?, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?, \
                 progress = CASE WHEN ? = 1 THEN '{}' ELSE progress END, \
                 handle_id = CASE WHEN ? = 1 THEN NULL ELSE handle_id END \
                 WHERE workspace_id = ? AND target_id = ? AND lease_owner = ?",
                [
                    settlement.state.into(),
                    settlement.dispatch_at_ms.into(),
                    settlement.error.into(),
                    settlement.error_class.map(str::to_owned).into(),
                    settlement.error_field.map(str::to_owned).into(),
                    i64::from(settlement.retryable).into(),
                    settlement.platform_post_id.map(str::to_owned).into(),
                    settlement.public_url.map(str::to_owned).into(),
                    settlement.published_at_ms.into(),
                    i64::from(!settlement.counts).into(),
                    now.into(),
                    i64::from(settlement.refused_object).into(),
                    i64::from(settlement.refused_object).into(),
                    workspace_id.into(),
                    target_id.into(),
                    owner.into(),
                ],
            ))
            .await?
            .rows_affected()
            == 1;
        if !changed {
            return Ok(false);
        }
        txn.execute_raw(statement(
            backend,
            "UPDATE publish_attempts SET outcome = ?, detail = ?, finished_at_ms = ? \
             WHERE workspace_id = ? AND attempt_id = ?",
            [
                settlement.outcome.into(),
                settlement.detail.into(),
                now.into(),
                workspace_id.into(),
                owner.into(),
            ],
        ))
        .await?;
        if let Some(event) = event {
            smez_service::events::publish_in(&txn, event).await?;
        }
        txn.commit().await?;
        if event.is_some() {
            self.store.outbox_written();
        }
        Ok(true)
    }

    /// Platform calls that started a publish since `since_ms`, for one
    /// connection or (`connection_id` `None`) for the whole platform.
    pub async fn platform_calls_since(
        &self,
        workspace_id: &str,
        platform: &str,
        connection_id: Option<&str>,
        since_ms: i64,
    ) -> Result<Vec<i64>, DbErr> {
        let (sql, values, scope) = match connection_id {
            Some(connection_id) => (
                "SELECT platform_call_at_ms FROM publish_attempts WHERE workspace_id = ? AND connection_id = ? \
                 AND platform_call_at_ms >= ? ORDER BY platform_call_at_ms",
                vec![workspace_id.into(), connection_id.into(), since_ms.into()],
                Scope::Workspace(workspace_id),
            ),
            // A platform-wide bucket (YouTube uploads per project) counts every workspace.
            None => (
                "SELECT platform_call_at_ms FROM publish_attempts WHERE platform = ? \
                 AND platform_call_at_ms >= ? ORDER BY platform_call_at_ms",
                vec![platform.into(), since_ms.into()],
                Scope::CrossTenant,
            ),
        };
        let rows = self.store.query_scoped(scope, sql, values).await?;
        rows.iter().map(|row| row.try_get_by_index(0)).collect()
    }
}

async fn insert_target(
    txn: &smez_store::sea_orm::DatabaseTransaction,
    post: &PostRow,
    target: &NewTarget,
    now: i64,
) -> Result<(), DbErr> {
    txn.execute_raw(statement(
        txn.get_database_backend(),
        "INSERT INTO post_targets (target_id, post_id, workspace_id, connection_id, platform, package_id, \
         state, dispatch_at_ms, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?)",
        [
            target.target_id.clone().into(),
            post.post_id.clone().into(),
            post.workspace_id.clone().into(),
            target.connection_id.clone().into(),
            target.platform.clone().into(),
            target.package_id.clone().into(),
            post.publish_at_ms.into(),
            now.into(),
            now.into(),
        ],
    ))
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite publisher database holding one post with one target, due now.
    async fn one_target() -> (PostRepo, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("smez-posts-repo-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let location = smez_store::Location::SqliteFile(dir.join("publisher.sqlite"));
        let store = Store::open(&location, 1, "publisher", crate::MIGRATIONS).await.unwrap();
        let repo = PostRepo::new(store);
        let post = PostRow {
            post_id: "p".into(),
            workspace_id: "ws".into(),
            publish_at_ms: 1,
            schedule_kind: "now".into(),
            time_zone: None,
            local_time: None,
            resolution: "exact".into(),
            created_by: None,
            created_at_ms: 1,
            updated_at_ms: 1,
        };
        let target = NewTarget {
            target_id: "t".into(),
            connection_id: "c".into(),
            platform: "youtube".into(),
            package_id: "k".into(),
        };
        repo.insert(&post, &[target]).await.unwrap();
        (repo, dir)
    }

    fn failure(refused_object: bool) -> Settlement<'static> {
        let why = "reconnect the account, then retry";
        Settlement {
            error: why,
            error_class: Some("auth_revoked"),
            retryable: true,
            refused_object,
            ..Settlement::ended("failed", "failed", why)
        }
    }

    /// Claims the target, records an upload the platform holds, then fails it.
    async fn uploaded_then_failed(repo: &PostRepo, refused_object: bool) {
        assert_eq!(repo.claim_due(10, 10).await.unwrap().len(), 1);
        assert!(repo.claim("ws", "t", "w1", 20, 1000).await.unwrap().is_some());
        let progress = r#"{"upload_url":"https://upload/session","uploaded":true,"video_id":"v1"}"#;
        assert!(repo.record_progress("ws", "t", "w1", progress, 30).await.unwrap());
        assert!(repo.to_processing("ws", "t", "w1", "v1", 40).await.unwrap());
        let settled = repo
            .settle("ws", "t", "w1", &failure(refused_object), 50, None)
            .await
            .unwrap();
        assert!(settled);
        assert!(
            repo.retry("ws", "p", "t", 60).await.unwrap(),
            "a retryable failure is retried"
        );
    }

    #[tokio::test]
    async fn a_retry_resumes_what_the_platform_holds() {
        let (repo, dir) = one_target().await;
        uploaded_then_failed(&repo, false).await;
        let target = repo.target("ws", "t").await.unwrap().unwrap();
        assert_eq!(target.state, "queued");
        assert_eq!(
            target.handle_id.as_deref(),
            Some("v1"),
            "the upload is watched, not sent again"
        );
        assert!(target.progress.contains("v1"), "{}", target.progress);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_retry_after_the_platform_refused_the_upload_starts_anew() {
        let (repo, dir) = one_target().await;
        uploaded_then_failed(&repo, true).await;
        let target = repo.target("ws", "t").await.unwrap().unwrap();
        assert_eq!(target.state, "queued");
        assert_eq!(target.handle_id, None);
        assert_eq!(target.progress, "{}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
