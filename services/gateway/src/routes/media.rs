//! Media of the active workspace: the plain upload, listing, reading (with
//! HTTP Range), deleting, and transcripts attached to clips. The media
//! service does the work; the bytes stream through without being held.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use smez_kit::roles::Permission;
use smez_kit::{Error, ErrorCode};
use smez_proto::media::v1::attach_transcript_request::Source;
use smez_proto::media::v1::content_part::Part as ContentPiece;
use smez_proto::media::v1::upload_part::Part;
use smez_proto::media::v1::{
    AttachTranscriptRequest, ListMediaRequest, MediaRef, ReadContentRequest, TranscriptText, UploadEnd, UploadPart,
    UploadStart,
};
use utoipa::{IntoParams, ToSchema};

use smez_kit::grpc::Transport;

use super::media_body::MediaBody;
use super::upstream;
use crate::authn::Authenticated;
use crate::authz::{Member, for_member};
use crate::body_stream::Chunks;
use crate::client::Client;
use crate::state::Gateway;

pub(crate) fn chunk(bytes: Bytes) -> UploadPart {
    UploadPart {
        part: Some(Part::Chunk(bytes)),
    }
}

pub(crate) fn end(size: u64) -> UploadPart {
    UploadPart {
        part: Some(Part::End(UploadEnd { size })),
    }
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct UploadQuery {
    /// The file's name, for display (also taken from `Content-Disposition: attachment; filename=…`).
    file_name: Option<String>,
}

/// Upload a clip, image, audio file or transcript in one request: the body
/// is the file. The kind is decided from the content. For large files on
/// mobile networks use the resumable upload (`/v1/media/uploads`, tus 1.0).
#[utoipa::path(post, path = "/v1/media", tag = "media", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = MediaBody), (status = 413, description = "too large, or the workspace's quota is used up"),
        (status = 422, description = "refused: corrupt, truncated, encrypted, unsupported, or a transcript that does not parse")))]
pub(crate) async fn upload(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let start = UploadPart {
        part: Some(Part::Start(UploadStart {
            file_name: query
                .file_name
                .or_else(|| disposition_file_name(&headers))
                .unwrap_or_default(),
            declared_size: headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
        })),
    };
    let transport = gateway.media_transport.clone();
    let stored = crate::body_stream::forward(body, start, chunk, end, move |parts| {
        send_upload(transport, member, parts)
    })
    .await?
    .into_inner();
    let location = format!("/v1/media/{}", stored.id);
    let mut response = (StatusCode::CREATED, Json(MediaBody::from(stored))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

fn send_upload(
    transport: Transport,
    member: Member,
    parts: Chunks<UploadPart>,
) -> futures_util::future::BoxFuture<'static, Result<tonic::Response<smez_proto::media::v1::Media>, tonic::Status>> {
    crate::body_stream::client_streaming(
        transport,
        "/smez.media.v1.MediaService/Upload",
        for_member(parts, &member),
    )
}

/// `filename="…"` (or `filename*=UTF-8''…`) of a `Content-Disposition` header.
fn disposition_file_name(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_DISPOSITION)?.to_str().ok()?;
    let mut plain = None;
    for part in value.split(';').map(str::trim) {
        if let Some(encoded) = part.strip_prefix("filename*=") {
            let encoded = encoded.split_once("''").map_or(encoded, |(_, v)| v);
            return url::form_urlencoded::parse(format!("x={encoded}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned());
        }
        if let Some(name) = part.strip_prefix("filename=") {
            plain = Some(name.trim_matches('"').to_owned());
        }
    }
    plain
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// video, image, audio or transcript.
    kind: Option<String>,
    /// Only what this user uploaded.
    uploaded_by: Option<String>,
    /// RFC 3339: created at or after.
    created_after: Option<String>,
    /// RFC 3339: created before.
    created_before: Option<String>,
    /// Page size, at most 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MediaPage {
    media: Vec<MediaBody>,
    /// Pass as `cursor` for older media; absent on the last page.
    next_cursor: Option<String>,
}

fn instant(field: &str, value: Option<String>) -> Result<Option<i64>, Error> {
    value
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(&v)
                .map(|t| t.timestamp_millis())
                .map_err(|_| Error::invalid_field(field, "must be an RFC 3339 instant, e.g. 2026-12-04T10:00:00Z"))
        })
        .transpose()
}

/// The active workspace's media, newest first (any member).
#[utoipa::path(get, path = "/v1/media", tag = "media", params(ListQuery),
    responses((status = 200, body = MediaPage)))]
pub(crate) async fn list(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<MediaPage>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let page = gateway
        .media
        .clone()
        .list_media(for_member(
            ListMediaRequest {
                kind: query.kind.unwrap_or_default(),
                uploaded_by: query.uploaded_by.unwrap_or_default(),
                created_after_ms: instant("created_after", query.created_after)?,
                created_before_ms: instant("created_before", query.created_before)?,
                limit: query.limit.unwrap_or(0),
                cursor: query.cursor.unwrap_or_default(),
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(MediaPage {
        media: page.media.into_iter().map(Into::into).collect(),
        next_cursor: Some(page.next_cursor).filter(|c| !c.is_empty()),
    }))
}

/// One media item of the active workspace (any member).
#[utoipa::path(get, path = "/v1/media/{id}", tag = "media",
    params(("id" = String, Path, description = "media id")),
    responses((status = 200, body = MediaBody), (status = 404)))]
pub(crate) async fn get(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MediaBody>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    Ok(Json(fetch(&gateway, &member, &id).await?.into()))
}

async fn fetch(gateway: &Gateway, member: &Member, id: &str) -> Result<smez_proto::media::v1::Media, Error> {
    Ok(gateway
        .media
        .clone()
        .get_media(for_member(
            MediaRef {
                media_id: id.to_owned(),
            },
            member,
        ))
        .await
        .map_err(upstream)?
        .into_inner())
}

/// Delete (content.write): the stored file, its poster and the row.
#[utoipa::path(delete, path = "/v1/media/{id}", tag = "media",
    params(("id" = String, Path, description = "media id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub(crate) async fn delete(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    gateway
        .media
        .clone()
        .delete_media(for_member(MediaRef { media_id: id }, &member))
        .await
        .map_err(upstream)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The file as uploaded, streamed; `Range: bytes=…` answers 206 with that part.
#[utoipa::path(get, path = "/v1/media/{id}/content", tag = "media",
    params(("id" = String, Path, description = "media id")),
    responses((status = 200, description = "the whole file"), (status = 206, description = "the range asked for"),
        (status = 404), (status = 416, description = "the range is outside the file")))]
pub(crate) async fn content(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let size = fetch(&gateway, &member, &id).await?.size_bytes;
    let range = match crate::range::requested(&headers, size) {
        Ok(range) => range,
        Err(unsatisfiable) => return Ok(unsatisfiable.into_response()),
    };
    stream_content(&gateway, &member, &id, "original", range, true).await
}

/// The poster frame (JPEG) of a video or image.
#[utoipa::path(get, path = "/v1/media/{id}/poster", tag = "media",
    params(("id" = String, Path, description = "media id")),
    responses((status = 200, content_type = "image/jpeg"), (status = 404)))]
pub(crate) async fn poster(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    stream_content(&gateway, &member, &id, "poster", None, false).await
}

async fn stream_content(
    gateway: &Gateway,
    member: &Member,
    id: &str,
    variant: &str,
    range: Option<(u64, u64)>,
    attachment: bool,
) -> Result<Response, Error> {
    let parts = gateway
        .media
        .clone()
        .read_content(for_member(
            ReadContentRequest {
                media_id: id.to_owned(),
                variant: variant.to_owned(),
                offset: range.map_or(0, |(start, _)| start),
                length: range.map(|(start, end)| end - start + 1),
            },
            member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    content_response(parts, range, attachment).await
}

/// A stream of content parts (a head, then chunks) as an HTTP answer: 200 or
/// 206 with `Content-Range`, the length, type, ETag and disposition.
pub(crate) async fn content_response(
    mut parts: tonic::Streaming<smez_proto::media::v1::ContentPart>,
    range: Option<(u64, u64)>,
    attachment: bool,
) -> Result<Response, Error> {
    let Some(Some(ContentPiece::Head(head))) = parts.message().await.map_err(upstream)?.map(|p| p.part) else {
        return Err(Error::unavailable("no content header came"));
    };
    let total = head.total_size;
    let (status, start, end) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        None => (StatusCode::OK, 0, total.saturating_sub(1)),
    };
    let body = Body::from_stream(parts.map(|part| match part {
        Ok(smez_proto::media::v1::ContentPart {
            part: Some(ContentPiece::Chunk(bytes)),
        }) => Ok(bytes),
        Ok(_) => Err(std::io::Error::other("unexpected content part")),
        Err(status) => Err(std::io::Error::other(status.message().to_owned())),
    }));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let length = if total == 0 { 0 } else { end - start + 1 };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=0"));
    if let Ok(value) = HeaderValue::from_str(&head.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{end}/{total}"))
                .map_err(|e| Error::internal(e.to_string()))?,
        );
    }
    if !head.sha256.is_empty()
        && let Ok(value) = HeaderValue::from_str(&format!("\"{}\"", head.sha256))
    {
        headers.insert(header::ETAG, value);
    }
    let disposition = content_disposition(if attachment { "attachment" } else { "inline" }, &head.file_name);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// RFC 6266: an ASCII fallback name and the UTF-8 one, percent-encoded.
fn content_disposition(kind: &str, file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(file_name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct AttachBody {
    /// A transcript already uploaded to the workspace.
    transcript_id: String,
}

/// Attach a transcript to a clip (content.write): either the transcript
/// itself as the body (SRT, WebVTT or JSON word timings; stored as a
/// transcript of its own), or `{"transcript_id": "…"}` with
/// `Content-Type: application/vnd.smez.transcript-ref+json` to use one
/// already uploaded.
#[utoipa::path(put, path = "/v1/media/{id}/transcript", tag = "media",
    params(("id" = String, Path, description = "the clip's media id")),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = MediaBody), (status = 404), (status = 422, description = "not a clip, or a transcript that does not parse (the line is named)")))]
pub(crate) async fn attach_transcript(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<Json<MediaBody>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let by_reference = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(TRANSCRIPT_REF));
    let source = if by_reference {
        let reference: AttachBody = serde_json::from_slice(&body).map_err(|e| {
            Error::invalid_field("transcript_id", format!("expected {{\"transcript_id\": \"…\"}}: {e}"))
        })?;
        Source::TranscriptId(reference.transcript_id)
    } else {
        Source::Text(TranscriptText {
            content: body,
            file_name: query
                .file_name
                .or_else(|| disposition_file_name(&headers))
                .unwrap_or_else(|| "transcript".to_owned()),
        })
    };
    let clip = gateway
        .media
        .clone()
        .attach_transcript(for_member(
            AttachTranscriptRequest {
                media_id: id,
                source: Some(source),
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(clip.into()))
}

/// The content type that makes `PUT /v1/media/{id}/transcript` a reference.
const TRANSCRIPT_REF: &str = "application/vnd.smez.transcript-ref+json";

#[derive(Serialize, ToSchema)]
pub(crate) struct TimedTextBody {
    start_ms: i64,
    end_ms: i64,
    text: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TranscriptTextBody {
    /// The transcript's own media id.
    id: String,
    format: String,
    cues: Vec<TimedTextBody>,
    /// Empty unless the source timed each word.
    words: Vec<TimedTextBody>,
}

/// A transcript's cues and words, parsed (for a transcript, or for a clip
/// with one attached).
#[utoipa::path(get, path = "/v1/media/{id}/transcript", tag = "media",
    params(("id" = String, Path, description = "a transcript's or a clip's media id")),
    responses((status = 200, body = TranscriptTextBody), (status = 404)))]
pub(crate) async fn transcript(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<TranscriptTextBody>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let media = fetch(&gateway, &member, &id).await?;
    let transcript_id = match (media.kind.as_str(), media.transcript_id) {
        ("transcript", _) => media.id,
        (_, Some(attached)) => attached,
        (kind, None) => {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("this {kind} has no transcript attached"),
            ));
        }
    };
    let parsed = gateway
        .media
        .clone()
        .get_transcript(for_member(
            MediaRef {
                media_id: transcript_id,
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let timed = |t: smez_proto::media::v1::TimedText| TimedTextBody {
        start_ms: t.start_ms,
        end_ms: t.end_ms,
        text: t.text,
    };
    Ok(Json(TranscriptTextBody {
        id: parsed.media_id,
        format: parsed.format,
        cues: parsed.cues.into_iter().map(timed).collect(),
        words: parsed.words.into_iter().map(timed).collect(),
    }))
}
