//! What the render service learns of the workspace's media, from the media
//! service (which alone owns it), for checking and planning.

use std::collections::HashMap;

use smez_kit::Error;
use smez_proto::media::v1::media_service_client::MediaServiceClient;
use smez_proto::media::v1::{Media, MediaForRenderContentRequest, MediaForRenderRequest, Transcript};
use smez_service::peers::Peers;

use crate::plan::time::RationalTime;
use crate::plan::validate::{MediaFacts, MediaKind};

/// The facts of those of `ids` that exist in the workspace; others are absent.
pub async fn facts<'a>(
    peers: &Peers,
    workspace_id: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, MediaFacts>, Error> {
    Ok(describe(peers, workspace_id, ids)
        .await?
        .iter()
        .filter_map(|(id, m)| Some((id.clone(), of(m)?)))
        .collect())
}

/// Those of `ids` that exist in the workspace, as the media service describes them.
pub async fn describe<'a>(
    peers: &Peers,
    workspace_id: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, Media>, Error> {
    let media_ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    if media_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut client = MediaServiceClient::new(peers.transport("media")?);
    let batch = client
        .get_media_for_render(MediaForRenderRequest {
            workspace_id: workspace_id.to_owned(),
            media_ids,
        })
        .await
        .map_err(|status| Error::from_status(&status))?
        .into_inner();
    Ok(batch.media.into_iter().map(|m| (m.id.clone(), m)).collect())
}

/// A transcript's cues and words.
pub async fn transcript(peers: &Peers, workspace_id: &str, media_id: &str) -> Result<Transcript, Error> {
    let mut client = MediaServiceClient::new(peers.transport("media")?);
    Ok(client
        .get_transcript_for_render(MediaForRenderContentRequest {
            workspace_id: workspace_id.to_owned(),
            media_id: media_id.to_owned(),
        })
        .await
        .map_err(|status| Error::from_status(&status))?
        .into_inner())
}

pub fn of(media: &Media) -> Option<MediaFacts> {
    let kind = match media.kind.as_str() {
        "video" => MediaKind::Video,
        "image" => MediaKind::Image,
        "audio" => MediaKind::Audio,
        "transcript" => MediaKind::Transcript,
        _ => return None,
    };
    let probe = media.probe.as_ref();
    Some(MediaFacts {
        kind,
        duration: match kind {
            MediaKind::Video | MediaKind::Audio => probe.and_then(|p| p.duration_ms).map(RationalTime::from_millis),
            MediaKind::Image | MediaKind::Transcript => None,
        },
        has_audio: probe.is_some_and(|p| p.audio.is_some()),
        hdr: probe.and_then(|p| p.video.as_ref()).is_some_and(|v| v.hdr),
    })
}

/// Why a medium could not be fetched.
pub enum FetchError {
    /// Deleted since the plan was checked.
    Gone(String),
    /// The media service or the network failed: worth another try.
    Unavailable(String),
}

/// Streams the original of `media_id` into `target`.
pub async fn fetch(
    peers: &Peers,
    workspace_id: &str,
    media_id: &str,
    target: &std::path::Path,
) -> Result<(), FetchError> {
    let unavailable = |what: String| FetchError::Unavailable(format!("fetching media `{media_id}`: {what}"));
    let transport = peers
        .transport("media")
        .map_err(|s| unavailable(s.message().to_owned()))?;
    let parts = MediaServiceClient::new(transport)
        .read_content_for_render(MediaForRenderContentRequest {
            workspace_id: workspace_id.to_owned(),
            media_id: media_id.to_owned(),
        })
        .await
        .map_err(|status| match status.code() {
            tonic::Code::NotFound => FetchError::Gone(format!("the plan's media `{media_id}` was deleted")),
            _ => unavailable(status.message().to_owned()),
        })?
        .into_inner();
    smez_media::content::save(parts, target)
        .await
        .map(drop)
        .map_err(unavailable)
}
