//! Publishing: creator info checked first (privacy options, maximum
//! duration), then Direct Post init, the upload, and the status fetch.

use serde_json::{Value, json};

use super::errors::fail_class;
use super::mp4::mp4_duration_secs;
use super::upload::ChunkPlan;
use super::{MAX_DURATION_SECS, MAX_VIDEO_BYTES, P, TikTok};
use crate::{
    ErrorClass, PlatformAdapter, PlatformError, PostMetadata, Privacy, PublishJournal, PublishProgress, PublishStatus,
    VideoFile,
};

impl TikTok {
    /// Checks the video against the creator's limits, initialises a Direct
    /// Post (recorded before any byte goes out) and uploads the bytes;
    /// returns the publish id. With a recorded publish id it resumes that
    /// task: the bytes go again only if TikTok does not hold them all.
    pub(super) async fn post_video(
        &self,
        access_token: &str,
        video: &VideoFile,
        post: &PostMetadata,
        mut progress: PublishProgress,
        journal: &dyn PublishJournal,
    ) -> Result<String, PlatformError> {
        let plan = ChunkPlan::for_size(video.size());
        let (publish_id, upload_url) = match (progress.publish_id.clone(), progress.upload_url.clone()) {
            (Some(publish_id), _) if progress.uploaded => return Ok(publish_id),
            (Some(publish_id), Some(upload_url)) => {
                if self.holds_every_byte(access_token, &publish_id, video.size()).await? {
                    progress.uploaded = true;
                    journal.record(&progress).await?;
                    return Ok(publish_id);
                }
                (publish_id, upload_url)
            }
            _ => {
                let (publish_id, upload_url) = self.init(access_token, video, post, &plan).await?;
                progress.publish_id = Some(publish_id.clone());
                progress.upload_url = Some(upload_url.clone());
                journal.record(&progress).await?;
                (publish_id, upload_url)
            }
        };
        match self.upload(&upload_url, video, &plan).await {
            Ok(()) => {}
            // The task lapsed before it got every byte: nothing was posted, and
            // the next attempt starts a new one.
            Err(e) if e.platform_code.as_deref() == Some("upload_url_expired") => {
                journal.record(&PublishProgress::default()).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        progress.uploaded = true;
        journal.record(&progress).await?;
        Ok(publish_id)
    }

    /// Whether TikTok holds every byte of a publish (or has moved past the upload).
    async fn holds_every_byte(&self, access_token: &str, publish_id: &str, size: u64) -> Result<bool, PlatformError> {
        let request = self
            .json_post("/v2/post/publish/status/fetch/")
            .body(json!({ "publish_id": publish_id }).to_string());
        let data = self.business("publish status", request, access_token).await?;
        Ok(data["status"].as_str() != Some("PROCESSING_UPLOAD")
            || data["uploaded_bytes"].as_u64().is_some_and(|held| held >= size))
    }

    /// The checks against the creator's limits, then Direct Post init:
    /// `(publish_id, upload_url)`.
    async fn init(
        &self,
        access_token: &str,
        video: &VideoFile,
        post: &PostMetadata,
        plan: &ChunkPlan,
    ) -> Result<(String, String), PlatformError> {
        if video.size() == 0 || video.size() > MAX_VIDEO_BYTES {
            return Err(PlatformError::new(
                P,
                ErrorClass::InvalidMedia,
                format!("the video is {} bytes; TikTok takes 1 byte to 4 GB", video.size()),
            )
            .with_code("file_format_check_failed"));
        }
        let creator = self.creator_info(access_token).await?;
        let options: Vec<&str> = creator["privacy_level_options"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(privacy) = privacy_level(post.privacy, &options) else {
            return Err(PlatformError::new(
                P,
                ErrorClass::InvalidMetadata,
                format!(
                    "privacy {:?} is not among this creator's options {options:?}",
                    post.privacy
                ),
            )
            .with_code("privacy_level_option_mismatch")
            .with_field("privacy_level"));
        };
        let creator_max = creator["max_video_post_duration_sec"]
            .as_f64()
            .unwrap_or(MAX_DURATION_SECS);
        if let Some(duration) = mp4_duration_secs(video).await {
            let max = creator_max.min(MAX_DURATION_SECS);
            if duration > max {
                return Err(PlatformError::new(
                    P,
                    ErrorClass::InvalidMedia,
                    format!("the video lasts {duration:.1} s; this creator may post at most {max} s"),
                )
                .with_code("duration_check_failed"));
            }
        }
        let mut post_info = json!({
            "privacy_level": privacy,
            "title": post.caption,
            "disable_duet": false,
            "disable_stitch": false,
            "disable_comment": creator["comment_disabled"].as_bool().unwrap_or(false),
            "brand_content_toggle": false,
            "brand_organic_toggle": false,
            "is_aigc": false,
        });
        if let Some(ms) = post.cover_timestamp_ms {
            post_info["video_cover_timestamp_ms"] = json!(ms);
        }
        let body = json!({
            "post_info": post_info,
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.chunk_count,
            },
        });
        let request = self.json_post("/v2/post/publish/video/init/").body(body.to_string());
        let data = self.business("publish init", request, access_token).await?;
        let (Some(publish_id), Some(upload_url)) = (data["publish_id"].as_str(), data["upload_url"].as_str()) else {
            return Err(PlatformError::new(
                P,
                ErrorClass::Permanent,
                "publish init: no publish_id or upload_url",
            ));
        };
        Ok((publish_id.to_owned(), upload_url.to_owned()))
    }

    /// A published post's share URL, when TikTok gives it (a failure here
    /// only costs the URL, never the publish).
    pub(super) async fn share_url(&self, access_token: &str, post_id: &str) -> Option<String> {
        self.metrics(access_token, &[post_id.to_owned()])
            .await
            .ok()
            .and_then(|m| m.into_iter().next())
            .and_then(|m| m.raw["share_url"].as_str().map(str::to_owned))
    }

    async fn creator_info(&self, token: &str) -> Result<Value, PlatformError> {
        let request = self.json_post("/v2/post/publish/creator_info/query/");
        self.business("creator info", request, token).await
    }
}

/// Smez's privacy in the creator's options.
fn privacy_level(privacy: Privacy, options: &[&str]) -> Option<&'static str> {
    let wanted: &[&'static str] = match privacy {
        Privacy::Public => &["PUBLIC_TO_EVERYONE"],
        Privacy::FollowersOnly => &["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS"],
        Privacy::Private => &["SELF_ONLY"],
    };
    wanted.iter().copied().find(|w| options.contains(w))
}

/// The public post id of a completed publish (the vendor's spelling), which
/// only public posts have.
pub(super) fn public_post_id(data: &Value) -> Option<String> {
    data["publicaly_available_post_id"]
        .as_array()
        .and_then(|ids| ids.first())
        .and_then(|v| {
            v.as_u64()
                .map(|n| n.to_string())
                .or_else(|| v.as_str().map(str::to_owned))
        })
}

/// A failed publish, classed by its `fail_reason`.
pub(super) fn failure(data: &Value) -> PublishStatus {
    let reason = data["fail_reason"].as_str().unwrap_or("unknown").to_owned();
    PublishStatus::Failed {
        class: fail_class(&reason),
        error: reason,
    }
}
