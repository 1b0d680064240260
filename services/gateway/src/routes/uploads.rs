//! Resumable uploads, speaking tus 1.0.0 (core, creation, termination):
//! `POST` creates one with its `Upload-Length` and answers its URL; `HEAD`
//! tells the offset the server holds; `PATCH` appends at that offset (a
//! connection that drops keeps what arrived); `DELETE` ends it. The last
//! `PATCH` answers with `Smez-Media-Id` once the file is checked and stored,
//! or with the refusal (problem+json), after which the upload is gone.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::media::v1::upload_part::Part;
use smez_proto::media::v1::{
    AppendStart, CreateResumableUploadRequest, ResumableUpload, ResumableUploadRef, UploadPart,
};

use smez_kit::grpc::Transport;

use super::media::{chunk, end};
use super::upstream;
use crate::authn::Authenticated;
use crate::authz::{Member, for_member};
use crate::body_stream::Chunks;
use crate::client::Client;
use crate::state::Gateway;

const TUS_VERSION: &str = "1.0.0";
const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const MEDIA_ID: HeaderName = HeaderName::from_static("smez-media-id");

fn tus(status: StatusCode) -> Response {
    let mut response = status.into_response();
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

/// Every tus request but `OPTIONS` names the protocol version: the refusal
/// (412) when it does not.
fn version_refusal(headers: &HeaderMap) -> Option<Response> {
    if headers.get(&TUS_RESUMABLE).and_then(|v| v.to_str().ok()) == Some(TUS_VERSION) {
        return None;
    }
    let mut response = tus(StatusCode::PRECONDITION_FAILED);
    response
        .headers_mut()
        .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    Some(response)
}

fn number_header(headers: &HeaderMap, name: &HeaderName) -> Result<u64, Error> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::invalid_field(name.as_str(), format!("the {name} header (a byte count) is required")))
}

/// `Upload-Metadata: filename <base64>,…`: the file name, if given.
fn metadata_file_name(headers: &HeaderMap) -> String {
    let Some(value) = headers.get("upload-metadata").and_then(|v| v.to_str().ok()) else {
        return String::new();
    };
    value
        .split(',')
        .filter_map(|pair| pair.trim().split_once(' '))
        .find(|(key, _)| matches!(*key, "filename" | "name"))
        .and_then(|(_, encoded)| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default()
}

/// What the server supports (tus discovery).
#[utoipa::path(options, path = "/v1/media/uploads", tag = "media",
    responses((status = 204, description = "Tus-Version, Tus-Extension, Tus-Max-Size")))]
pub(crate) async fn options(State(gateway): State<Gateway>) -> Response {
    let mut response = tus(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-extension", HeaderValue::from_static("creation,termination"));
    headers.insert(
        "tus-max-size",
        HeaderValue::from(gateway.settings.media.max_upload_bytes),
    );
    response
}

/// Start a resumable upload (content.write): `Upload-Length` (bytes) and
/// optionally `Upload-Metadata: filename <base64>`. Answers 201 with its URL.
#[utoipa::path(post, path = "/v1/media/uploads", tag = "media",
    responses((status = 201, description = "Location: the upload's URL"), (status = 412, description = "Tus-Resumable: 1.0.0 missing"),
        (status = 413, description = "too large, or the workspace's quota is used up")))]
pub(crate) async fn create(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, Error> {
    if let Some(refusal) = version_refusal(&headers) {
        return Ok(refusal);
    }
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    if headers.contains_key("upload-defer-length") {
        return Err(Error::invalid_field(
            "upload-defer-length",
            "deferred lengths are not supported: send Upload-Length",
        ));
    }
    let length = number_header(&headers, &UPLOAD_LENGTH)?;
    let created = gateway
        .media
        .clone()
        .create_resumable_upload(for_member(
            CreateResumableUploadRequest {
                length,
                file_name: metadata_file_name(&headers),
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let mut response = tus(StatusCode::CREATED);
    let location = format!("/v1/media/uploads/{}", created.upload_id);
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).map_err(|e| Error::internal(e.to_string()))?,
    );
    Ok(response)
}

/// Where the upload stands: `Upload-Offset` and `Upload-Length`.
#[utoipa::path(head, path = "/v1/media/uploads/{id}", tag = "media",
    params(("id" = String, Path, description = "upload id")),
    responses((status = 200, description = "Upload-Offset, Upload-Length"), (status = 404)))]
pub(crate) async fn status(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    if let Some(refusal) = version_refusal(&headers) {
        return Ok(refusal);
    }
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let upload = gateway
        .media
        .clone()
        .get_resumable_upload(for_member(ResumableUploadRef { upload_id: id }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    let mut response = tus(StatusCode::OK);
    offsets(&mut response, &upload);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn offsets(response: &mut Response, upload: &ResumableUpload) {
    let headers = response.headers_mut();
    headers.insert(UPLOAD_OFFSET, HeaderValue::from(upload.offset));
    headers.insert(UPLOAD_LENGTH, HeaderValue::from(upload.length));
}

/// Append bytes at `Upload-Offset` (which must be the server's offset; 409
/// otherwise), body `application/offset+octet-stream`.
#[utoipa::path(patch, path = "/v1/media/uploads/{id}", tag = "media",
    params(("id" = String, Path, description = "upload id")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "Upload-Offset: the new offset; Smez-Media-Id once complete"),
        (status = 404), (status = 409, description = "wrong offset, or another request is appending"),
        (status = 415), (status = 422, description = "the complete file was refused; the upload is gone")))]
pub(crate) async fn append(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, Error> {
    if let Some(refusal) = version_refusal(&headers) {
        return Ok(refusal);
    }
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if content_type != Some("application/offset+octet-stream") {
        return Ok(tus(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let offset = number_header(&headers, &UPLOAD_OFFSET)?;
    let start = UploadPart {
        part: Some(Part::Append(AppendStart { upload_id: id, offset })),
    };
    let transport = gateway.media_transport.clone();
    let upload = crate::body_stream::forward(body, start, chunk, end, move |parts| {
        send_append(transport, member, parts)
    })
    .await?
    .into_inner();
    let mut response = tus(StatusCode::NO_CONTENT);
    offsets(&mut response, &upload);
    if let Some(media) = &upload.media
        && let Ok(value) = HeaderValue::from_str(&media.id)
    {
        response.headers_mut().insert(MEDIA_ID, value);
        if let Ok(location) = HeaderValue::from_str(&format!("/v1/media/{}", media.id)) {
            response.headers_mut().insert(header::CONTENT_LOCATION, location);
        }
    }
    Ok(response)
}

fn send_append(
    transport: Transport,
    member: Member,
    parts: Chunks<UploadPart>,
) -> futures_util::future::BoxFuture<'static, Result<tonic::Response<ResumableUpload>, tonic::Status>> {
    crate::body_stream::client_streaming(
        transport,
        "/smez.media.v1.MediaService/AppendResumableUpload",
        for_member(parts, &member),
    )
}

/// End an upload (tus termination): what arrived is deleted.
#[utoipa::path(delete, path = "/v1/media/uploads/{id}", tag = "media",
    params(("id" = String, Path, description = "upload id")),
    responses((status = 204), (status = 404)))]
pub(crate) async fn terminate(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    if let Some(refusal) = version_refusal(&headers) {
        return Ok(refusal);
    }
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    gateway
        .media
        .clone()
        .cancel_resumable_upload(for_member(ResumableUploadRef { upload_id: id }, &member))
        .await
        .map_err(upstream)?;
    Ok(tus(StatusCode::NO_CONTENT))
}
