//! What the render service learns of the workspace's media, from the media
//! service (which alone owns it), for checking and planning.

use std::collections::HashMap;

use smez_kit::Error;
use smez_proto::media::v1::media_service_client::MediaServiceClient;
use smez_proto::media::v1::{Media, MediaForRenderRequest};
use smez_service::peers::Peers;

use crate::plan::time::RationalTime;
use crate::plan::validate::{MediaFacts, MediaKind};

/// The facts of those of `ids` that exist in the workspace; others are absent.
pub async fn facts<'a>(
    peers: &Peers,
    workspace_id: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, MediaFacts>, Error> {
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
    Ok(batch
        .media
        .iter()
        .filter_map(|m| Some((m.id.clone(), of(m)?)))
        .collect())
}

fn of(media: &Media) -> Option<MediaFacts> {
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
    })
}
