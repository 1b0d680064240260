//! Edit plans of a workspace: create (from a plan or an OpenTimelineIO
//! import), read, replace, export. A plan is checked whole, against the
//! workspace's media, before anything is written.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use smez_kit::{Error, ErrorCode, FieldViolation};
use smez_proto::render::v1::{EditPlan as PlanMessage, OtioDocument};
use smez_service::ServiceContext;
use smez_service::member::Member;

use crate::media;
use crate::plan::model::EditPlan;
use crate::plan::otio;
use crate::plan::validate::{self, FieldError};
use crate::repo::{PlanRow, Repo, Revision};

/// Names are display text: this long at most.
const MAX_NAME_CHARS: usize = 200;
const DEFAULT_NAME: &str = "Untitled plan";

pub enum Source<'a> {
    Plan(&'a str),
    Otio(&'a str),
}

pub struct Plans {
    ctx: Arc<ServiceContext>,
    pub repo: Repo,
}

impl Plans {
    pub fn new(ctx: Arc<ServiceContext>) -> Self {
        Self {
            repo: Repo::new(ctx.store.clone()),
            ctx,
        }
    }

    pub async fn create(&self, member: &Member, name: &str, source: Source<'_>) -> Result<PlanMessage, Error> {
        let (plan, warnings) = match source {
            Source::Plan(json) => (parse(json)?, Vec::new()),
            Source::Otio(json) => {
                let timeline: serde_json::Value =
                    serde_json::from_str(json).map_err(|e| Error::invalid_field("otio", format!("not JSON: {e}")))?;
                let imported = otio::import(&timeline)
                    .map_err(|errors| invalid("the OpenTimelineIO timeline cannot be imported", "otio", errors))?;
                (imported.plan, imported.warnings)
            }
        };
        let name = display_name(name)?;
        let duration_us = self.check(&member.workspace_id, &plan).await?;
        let now = now_ms();
        let row = PlanRow {
            plan_id: uuid::Uuid::now_v7().to_string(),
            workspace_id: member.workspace_id.clone(),
            name,
            revision: 1,
            plan: serde_json::to_string(&plan).map_err(Error::internal)?,
            duration_us,
            created_by: Some(member.user_id.clone()),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.repo.insert_plan(&row).await.map_err(storage)?;
        tracing::info!(plan_id = %row.plan_id, clips = plan.video.len(), duration_us, "edit plan created");
        Ok(message(&row, warnings))
    }

    pub async fn get(&self, member: &Member, plan_id: &str) -> Result<PlanMessage, Error> {
        Ok(message(&self.row(member, plan_id).await?, Vec::new()))
    }

    pub async fn update(
        &self,
        member: &Member,
        plan_id: &str,
        name: Option<&str>,
        json: &str,
        expected_revision: Option<i64>,
    ) -> Result<PlanMessage, Error> {
        let stored = self.row(member, plan_id).await?;
        if let Some(expected) = expected_revision
            && expected != stored.revision
        {
            return Err(changed(stored.revision));
        }
        let plan = parse(json)?;
        let name = match name {
            Some(name) => display_name(name)?,
            None => stored.name.clone(),
        };
        let duration_us = self.check(&member.workspace_id, &plan).await?;
        let document = serde_json::to_string(&plan).map_err(Error::internal)?;
        let next = Revision {
            name: &name,
            plan: &document,
            duration_us,
            updated_at_ms: now_ms(),
        };
        if !self
            .repo
            .update_plan(&member.workspace_id, plan_id, stored.revision, &next)
            .await
            .map_err(storage)?
        {
            let now = self.row(member, plan_id).await?;
            return Err(changed(now.revision));
        }
        Ok(message(&self.row(member, plan_id).await?, Vec::new()))
    }

    pub async fn export_otio(&self, member: &Member, plan_id: &str) -> Result<OtioDocument, Error> {
        let row = self.row(member, plan_id).await?;
        let plan: EditPlan = serde_json::from_str(&row.plan).map_err(Error::internal)?;
        let timeline = otio::export(&plan, &row.name);
        Ok(OtioDocument {
            name: row.name,
            otio_json: serde_json::to_string_pretty(&timeline).map_err(Error::internal)?,
        })
    }

    pub async fn row(&self, member: &Member, plan_id: &str) -> Result<PlanRow, Error> {
        self.repo
            .plan(&member.workspace_id, plan_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::not_found("no such edit plan"))
    }

    /// Validates against the workspace's media; the timeline's length.
    pub async fn check(&self, workspace_id: &str, plan: &EditPlan) -> Result<i64, Error> {
        let facts = media::facts(&self.ctx.peers, workspace_id, validate::media_ids(plan)).await?;
        validate::validate(plan, &facts)
            .map(|checked| checked.duration_micros)
            .map_err(|errors| invalid("the edit plan is not valid", "plan", errors))
    }
}

/// A plan document, or the parser's precise complaint (with line and column).
fn parse(json: &str) -> Result<EditPlan, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::invalid_field("plan", format!("not a smez.edit_plan/1 document: {e}")))
}

fn display_name(name: &str) -> Result<String, Error> {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid_field(
            "name",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(if name.is_empty() { DEFAULT_NAME } else { name }.to_owned())
}

/// Every problem, each with its field (prefixed with where the document sits in the request).
fn invalid(what: &str, prefix: &str, errors: Vec<FieldError>) -> Error {
    let count = errors.len();
    let violations = errors
        .into_iter()
        .map(|e| FieldViolation {
            field: format!("{prefix}.{}", e.field),
            message: e.message,
        })
        .collect::<Vec<_>>();
    let first = violations
        .first()
        .map(|v| format!("{}: {}", v.field, v.message))
        .unwrap_or_default();
    let more = match count {
        0 | 1 => String::new(),
        n => format!(" (and {} more: see `errors`)", n - 1),
    };
    Error::invalid_fields(format!("{what}: {first}{more}"), violations)
}

fn changed(revision: i64) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!("the plan was changed meanwhile (now revision {revision}): reload it and apply your edit again"),
    )
}

fn message(row: &PlanRow, warnings: Vec<String>) -> PlanMessage {
    PlanMessage {
        id: row.plan_id.clone(),
        name: row.name.clone(),
        revision: row.revision,
        plan_json: row.plan.clone(),
        duration_us: row.duration_us,
        created_by: row.created_by.clone().unwrap_or_default(),
        created_at_ms: row.created_at_ms,
        updated_at_ms: row.updated_at_ms,
        warnings,
    }
}

/// A storage failure of this service, as callers see it.
pub fn storage(error: smez_store::sea_orm::DbErr) -> Error {
    Error::internal(format!("render storage: {error}"))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
