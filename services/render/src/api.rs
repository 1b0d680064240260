//! The gRPC API: who is calling (the gateway acting for a member), then the
//! operation on [`Plans`].

use std::sync::Arc;

use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::common::v1::{GetServiceInfoRequest, ServiceInfo};
use smez_proto::render::v1::create_edit_plan_request::Source as Given;
use smez_proto::render::v1::render_service_server::RenderService;
use smez_proto::render::v1::{CreateEditPlanRequest, EditPlan, EditPlanRef, OtioDocument, UpdateEditPlanRequest};
use smez_service::ServiceContext;
use smez_service::member::acting_member;
use tonic::{Request, Response, Status};

use crate::plans::{Plans, Source};

pub struct RenderApi {
    ctx: Arc<ServiceContext>,
    plans: Arc<Plans>,
}

impl RenderApi {
    pub fn new(ctx: Arc<ServiceContext>, plans: Arc<Plans>) -> Self {
        Self { ctx, plans }
    }
}

fn respond<T>(outcome: Result<T, Error>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl RenderService for RenderApi {
    async fn get_service_info(&self, request: Request<GetServiceInfoRequest>) -> Result<Response<ServiceInfo>, Status> {
        self.ctx.service_info(&request).await
    }

    async fn create_edit_plan(&self, request: Request<CreateEditPlanRequest>) -> Result<Response<EditPlan>, Status> {
        let member = acting_member(&request, "CreateEditPlan", Permission::ContentWrite)?;
        let create = request.get_ref();
        let source = match &create.source {
            Some(Given::PlanJson(json)) => Source::Plan(json),
            Some(Given::OtioJson(json)) => Source::Otio(json),
            None => return Err(Error::invalid_field("plan", "a plan or an OpenTimelineIO timeline is needed").into()),
        };
        respond(self.plans.create(&member, &create.name, source).await)
    }

    async fn get_edit_plan(&self, request: Request<EditPlanRef>) -> Result<Response<EditPlan>, Status> {
        let member = acting_member(&request, "GetEditPlan", Permission::ContentRead)?;
        respond(self.plans.get(&member, &request.get_ref().plan_id).await)
    }

    async fn update_edit_plan(&self, request: Request<UpdateEditPlanRequest>) -> Result<Response<EditPlan>, Status> {
        let member = acting_member(&request, "UpdateEditPlan", Permission::ContentWrite)?;
        let update = request.get_ref();
        respond(
            self.plans
                .update(
                    &member,
                    &update.plan_id,
                    update.name.as_deref(),
                    &update.plan_json,
                    update.expected_revision,
                )
                .await,
        )
    }

    async fn export_edit_plan_otio(&self, request: Request<EditPlanRef>) -> Result<Response<OtioDocument>, Status> {
        let member = acting_member(&request, "ExportEditPlanOtio", Permission::ContentRead)?;
        respond(self.plans.export_otio(&member, &request.get_ref().plan_id).await)
    }
}
