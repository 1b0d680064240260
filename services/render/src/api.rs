//! The gRPC API: who is calling (the gateway acting for a member), then the
//! operation on [`Plans`].

use std::sync::Arc;

use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::common::v1::{GetServiceInfoRequest, ServiceInfo};
use smez_proto::render::v1::create_edit_plan_request::Source as Given;
use smez_proto::render::v1::render_service_server::RenderService;
use smez_proto::render::v1::{
    CreateEditPlanRequest, CreatePackageRequest, CreateRenderRequest, EditPlan, EditPlanRef, GenerateEditPlanRequest,
    ListPackagesRequest, ListPackagesResponse, OtioDocument, Package, PackageForPublishRequest, PackageRef,
    ReadRenderContentRequest, Render, RenderRef, UpdateEditPlanRequest,
};
use smez_service::ServiceContext;
use smez_service::member::{acting_member, only_from};
use tonic::{Request, Response, Status};

use crate::generate::Generator;
use crate::packages::Packages;
use crate::plans::{Plans, Source};
use crate::renders::Renders;

pub struct RenderApi {
    ctx: Arc<ServiceContext>,
    plans: Arc<Plans>,
    renders: Arc<Renders>,
    generator: Arc<Generator>,
    packages: Arc<Packages>,
}

impl RenderApi {
    pub fn new(
        ctx: Arc<ServiceContext>,
        plans: Arc<Plans>,
        renders: Arc<Renders>,
        generator: Arc<Generator>,
        packages: Arc<Packages>,
    ) -> Self {
        Self {
            ctx,
            plans,
            renders,
            generator,
            packages,
        }
    }
}

use smez_media::content::ContentStream;

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

    async fn generate_edit_plan(
        &self,
        request: Request<GenerateEditPlanRequest>,
    ) -> Result<Response<EditPlan>, Status> {
        let member = acting_member(&request, "GenerateEditPlan", Permission::ContentWrite)?;
        respond(self.generator.generate(&member, &request.get_ref().request_json).await)
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

    async fn create_render(&self, request: Request<CreateRenderRequest>) -> Result<Response<Render>, Status> {
        let member = acting_member(&request, "CreateRender", Permission::ContentWrite)?;
        respond(self.renders.create(&member, &request.get_ref().plan_id).await)
    }

    async fn get_render(&self, request: Request<RenderRef>) -> Result<Response<Render>, Status> {
        let member = acting_member(&request, "GetRender", Permission::ContentRead)?;
        respond(self.renders.get(&member, &request.get_ref().render_id).await)
    }

    async fn cancel_render(&self, request: Request<RenderRef>) -> Result<Response<Render>, Status> {
        let member = acting_member(&request, "CancelRender", Permission::ContentWrite)?;
        respond(self.renders.cancel(&member, &request.get_ref().render_id).await)
    }

    async fn create_package(&self, request: Request<CreatePackageRequest>) -> Result<Response<Package>, Status> {
        let member = acting_member(&request, "CreatePackage", Permission::ContentWrite)?;
        respond(self.packages.create(&member, &request.get_ref().request_json).await)
    }

    async fn get_package(&self, request: Request<PackageRef>) -> Result<Response<Package>, Status> {
        let member = acting_member(&request, "GetPackage", Permission::ContentRead)?;
        respond(self.packages.get(&member, &request.get_ref().package_id).await)
    }

    async fn list_packages(
        &self,
        request: Request<ListPackagesRequest>,
    ) -> Result<Response<ListPackagesResponse>, Status> {
        let member = acting_member(&request, "ListPackages", Permission::ContentRead)?;
        respond(self.packages.list(&member, request.get_ref()).await)
    }

    type ReadRenderContentStream = ContentStream;

    async fn read_render_content(
        &self,
        request: Request<ReadRenderContentRequest>,
    ) -> Result<Response<ContentStream>, Status> {
        let member = acting_member(&request, "ReadRenderContent", Permission::ContentRead)?;
        let read = request.into_inner();
        let content = self
            .renders
            .content(&member, &read.render_id, &read.variant, read.offset, read.length)
            .await?;
        Ok(Response::new(smez_media::content::stream(content)))
    }

    async fn get_package_for_publish(
        &self,
        request: Request<PackageForPublishRequest>,
    ) -> Result<Response<Package>, Status> {
        only_from(&request, PUBLISHER, "GetPackageForPublish")?;
        let wanted = request.get_ref();
        respond(
            self.packages
                .for_publish(&wanted.workspace_id, &wanted.package_id)
                .await,
        )
    }

    type ReadPackageForPublishStream = ContentStream;

    async fn read_package_for_publish(
        &self,
        request: Request<PackageForPublishRequest>,
    ) -> Result<Response<ContentStream>, Status> {
        only_from(&request, PUBLISHER, "ReadPackageForPublish")?;
        let wanted = request.get_ref();
        let (key, file_name) = self
            .packages
            .video_key(&wanted.workspace_id, &wanted.package_id)
            .await?;
        let content = self.renders.read_whole(&key, file_name).await?;
        Ok(Response::new(smez_media::content::stream(content)))
    }
}

/// The service that publishes packages.
const PUBLISHER: &str = "publisher";
