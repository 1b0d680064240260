//! The gRPC API: who is calling (always the gateway acting for a member),
//! then the operation on [`Core`].

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::common::v1::{GetServiceInfoRequest, ServiceInfo};
use smez_proto::media::v1::attach_transcript_request::Source;
use smez_proto::media::v1::media_service_server::MediaService;
use smez_proto::media::v1::upload_part::Part;
use smez_proto::media::v1::{
    AttachTranscriptRequest, CreateResumableUploadRequest, ListMediaRequest, ListMediaResponse, Media, MediaBatch,
    MediaForRenderContentRequest, MediaForRenderRequest, MediaRef, ReadContentRequest, ResumableUpload,
    ResumableUploadRef, Transcript, UploadPart,
};
use smez_service::member::acting_member;
use tonic::{Request, Response, Status, Streaming};

use crate::content::{self, ContentStream};
use crate::core::Core;
use crate::view;

pub struct MediaApi {
    core: Arc<Core>,
}

impl MediaApi {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }
}

fn respond<T>(outcome: Result<T, Error>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

/// The chunks after the first part of an upload stream. It must close with
/// `end` naming the bytes sent: a stream that stops short was interrupted
/// (whatever the transport did with the cancellation).
fn chunks(stream: Streaming<UploadPart>) -> Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>> {
    let interrupted = |why: String| Error::invalid_field("body", format!("the upload was interrupted: {why}"));
    Box::pin(futures_util::stream::unfold(
        (stream, 0u64, false),
        move |(mut stream, counted, done)| async move {
            if done {
                return None;
            }
            match stream.message().await {
                Ok(Some(UploadPart {
                    part: Some(Part::Chunk(bytes)),
                })) => {
                    let counted = counted + bytes.len() as u64;
                    Some((Ok(bytes), (stream, counted, false)))
                }
                Ok(Some(UploadPart {
                    part: Some(Part::End(end)),
                })) if end.size == counted => None,
                Ok(Some(UploadPart {
                    part: Some(Part::End(end)),
                })) => Some((
                    Err(interrupted(format!("{} bytes announced, {counted} arrived", end.size))),
                    (stream, counted, true),
                )),
                Ok(Some(_)) => Some((
                    Err(Error::invalid_field(
                        "part",
                        "only chunks and the end may follow the first part",
                    )),
                    (stream, counted, true),
                )),
                Ok(None) => Some((
                    Err(interrupted("the stream stopped before its end".into())),
                    (stream, counted, true),
                )),
                Err(status) => Some((Err(interrupted(status.message().to_owned())), (stream, counted, true))),
            }
        },
    ))
}

async fn first_part(stream: &mut Streaming<UploadPart>) -> Result<Part, Status> {
    stream
        .message()
        .await?
        .and_then(|p| p.part)
        .ok_or_else(|| Error::invalid_field("part", "an upload starts with its start part").into())
}

#[tonic::async_trait]
impl MediaService for MediaApi {
    type ReadContentStream = ContentStream;

    async fn get_service_info(&self, request: Request<GetServiceInfoRequest>) -> Result<Response<ServiceInfo>, Status> {
        self.core.ctx.service_info(&request).await
    }

    async fn upload(&self, request: Request<Streaming<UploadPart>>) -> Result<Response<Media>, Status> {
        let member = acting_member(&request, "Upload", Permission::ContentWrite)?;
        let mut stream = request.into_inner();
        let Part::Start(start) = first_part(&mut stream).await? else {
            return Err(Error::invalid_field("part", "an upload starts with `start`").into());
        };
        let mut chunks = chunks(stream);
        let core = self.core.clone();
        // On its own task: a caller that goes away does not cut the work
        // (and its cleanup) in the middle.
        let outcome = tokio::spawn(async move {
            let (temp, arrived) = core.receive(&mut chunks, start.declared_size).await?;
            core.accept(&member, temp, arrived, &start.file_name, None).await
        })
        .await
        .map_err(|e| Error::internal(format!("an upload task failed: {e}")))?;
        respond(outcome.map(|row| view::media(&row)))
    }

    async fn create_resumable_upload(
        &self,
        request: Request<CreateResumableUploadRequest>,
    ) -> Result<Response<ResumableUpload>, Status> {
        let member = acting_member(&request, "CreateResumableUpload", Permission::ContentWrite)?;
        let create = request.get_ref();
        respond(
            self.core
                .create_upload(&member, create.length, &create.file_name)
                .await
                .map(|row| view::upload(&row, None)),
        )
    }

    async fn get_resumable_upload(
        &self,
        request: Request<ResumableUploadRef>,
    ) -> Result<Response<ResumableUpload>, Status> {
        let member = acting_member(&request, "GetResumableUpload", Permission::ContentWrite)?;
        respond(
            self.core
                .upload(&member, &request.get_ref().upload_id)
                .await
                .map(|row| view::upload(&row, None)),
        )
    }

    async fn append_resumable_upload(
        &self,
        request: Request<Streaming<UploadPart>>,
    ) -> Result<Response<ResumableUpload>, Status> {
        let member = acting_member(&request, "AppendResumableUpload", Permission::ContentWrite)?;
        let mut stream = request.into_inner();
        let Part::Append(append) = first_part(&mut stream).await? else {
            return Err(Error::invalid_field("part", "an append starts with `append`").into());
        };
        let mut chunks = chunks(stream);
        let core = self.core.clone();
        // On its own task: the offset reached is recorded even when the caller goes away.
        let outcome = tokio::spawn(async move {
            core.append(&member, &append.upload_id, append.offset, &mut chunks)
                .await
                .map(|done| view::upload(&done.upload, done.media.as_ref().map(view::media)))
        })
        .await
        .map_err(|e| Error::internal(format!("an upload task failed: {e}")))?;
        respond(outcome)
    }

    async fn cancel_resumable_upload(
        &self,
        request: Request<ResumableUploadRef>,
    ) -> Result<Response<ResumableUpload>, Status> {
        let member = acting_member(&request, "CancelResumableUpload", Permission::ContentWrite)?;
        let upload_id = &request.get_ref().upload_id;
        let row = self.core.upload(&member, upload_id).await?;
        respond(
            self.core
                .drop_upload(&member, upload_id)
                .await
                .map(|()| view::upload(&row, None)),
        )
    }

    async fn list_media(&self, request: Request<ListMediaRequest>) -> Result<Response<ListMediaResponse>, Status> {
        let member = acting_member(&request, "ListMedia", Permission::ContentRead)?;
        respond(
            self.core
                .list(&member, request.get_ref())
                .await
                .map(|(rows, next_cursor)| ListMediaResponse {
                    media: rows.iter().map(view::media).collect(),
                    next_cursor,
                }),
        )
    }

    async fn get_media(&self, request: Request<MediaRef>) -> Result<Response<Media>, Status> {
        let member = acting_member(&request, "GetMedia", Permission::ContentRead)?;
        respond(
            self.core
                .get(&member, &request.get_ref().media_id)
                .await
                .map(|row| view::media(&row)),
        )
    }

    async fn read_content(&self, request: Request<ReadContentRequest>) -> Result<Response<ContentStream>, Status> {
        let member = acting_member(&request, "ReadContent", Permission::ContentRead)?;
        let read = request.into_inner();
        let content = self
            .core
            .read(
                &member.workspace_id,
                &read.media_id,
                &read.variant,
                read.offset,
                read.length,
            )
            .await?;
        Ok(Response::new(content::stream(content)))
    }

    async fn delete_media(&self, request: Request<MediaRef>) -> Result<Response<Media>, Status> {
        let member = acting_member(&request, "DeleteMedia", Permission::ContentWrite)?;
        respond(
            self.core
                .delete(&member, &request.get_ref().media_id)
                .await
                .map(|row| view::media(&row)),
        )
    }

    async fn attach_transcript(&self, request: Request<AttachTranscriptRequest>) -> Result<Response<Media>, Status> {
        let member = acting_member(&request, "AttachTranscript", Permission::ContentWrite)?;
        let attach = request.into_inner();
        let (transcript_id, text) = match attach.source {
            Some(Source::TranscriptId(id)) => (Some(id), None),
            Some(Source::Text(text)) => (None, Some(text)),
            None => (None, None),
        };
        respond(
            self.core
                .attach_transcript(
                    &member,
                    &attach.media_id,
                    transcript_id.as_deref(),
                    text.as_ref().map(|t| (t.content.clone(), t.file_name.as_str())),
                )
                .await
                .map(|row| view::media(&row)),
        )
    }

    async fn get_transcript(&self, request: Request<MediaRef>) -> Result<Response<Transcript>, Status> {
        let member = acting_member(&request, "GetTranscript", Permission::ContentRead)?;
        respond(
            self.core
                .transcript(&member.workspace_id, &request.get_ref().media_id)
                .await,
        )
    }

    async fn get_media_for_render(
        &self,
        request: Request<MediaForRenderRequest>,
    ) -> Result<Response<MediaBatch>, Status> {
        render_only(&request, "GetMediaForRender")?;
        let wanted = request.get_ref();
        respond(
            self.core
                .media_for_render(&wanted.workspace_id, &wanted.media_ids)
                .await
                .map(|rows| MediaBatch {
                    media: rows.iter().map(view::media).collect(),
                }),
        )
    }

    async fn get_transcript_for_render(
        &self,
        request: Request<MediaForRenderContentRequest>,
    ) -> Result<Response<Transcript>, Status> {
        render_only(&request, "GetTranscriptForRender")?;
        let wanted = request.get_ref();
        respond(self.core.transcript(&wanted.workspace_id, &wanted.media_id).await)
    }

    type ReadContentForRenderStream = ContentStream;

    async fn read_content_for_render(
        &self,
        request: Request<MediaForRenderContentRequest>,
    ) -> Result<Response<ContentStream>, Status> {
        render_only(&request, "ReadContentForRender")?;
        let wanted = request.get_ref();
        if wanted.workspace_id.is_empty() {
            return Err(Error::invalid_field("workspace_id", "workspace_id is required").into());
        }
        let content = self
            .core
            .read(&wanted.workspace_id, &wanted.media_id, "original", 0, None)
            .await?;
        Ok(Response::new(content::stream(content)))
    }
}

/// The service that plans and renders with the workspace's media.
const RENDER: &str = "render";

/// Only the render service may use the render-only queries.
fn render_only<T>(request: &Request<T>, rpc: &str) -> Result<(), Status> {
    smez_service::member::only_from(request, RENDER, rpc)
}
