//! Publishing Reels: the publishing cap checked, a container created, the
//! bytes uploaded (or fetched by Meta from a URL), then polled until it can
//! be published.

use chrono::Utc;
use serde_json::Value;

use super::{DEFAULT_QUOTA_WINDOW_SECS, Instagram, MAX_REEL_BYTES, P, id_of, malformed};
use crate::{ErrorClass, PlatformError, PostMetadata, PublishHandle, PublishStatus, VideoFile};

impl Instagram {
    pub(super) async fn publish_container(
        &self,
        access_token: &str,
        handle: &PublishHandle,
        status: &str,
    ) -> Result<PublishStatus, PlatformError> {
        let published = self
            .send(
                self.http
                    .post(self.graph(&format!("{}/media_publish", handle.account_id)))
                    .bearer_auth(access_token)
                    .query(&[("creation_id", handle.id.as_str())]),
                "media_publish",
            )
            .await;
        let media_id = match published {
            Ok(body) => id_of(&body["id"]).ok_or_else(|| malformed("media_publish"))?,
            // 9007 / 2207027: not ready yet (also seen just after FINISHED): wait and poll again.
            Err(e) if e.platform_code.as_deref().is_some_and(|c| c.starts_with("9007")) => {
                return Ok(PublishStatus::Processing {
                    detail: format!("{status} (not ready for publishing yet)"),
                });
            }
            Err(e) => return Err(e),
        };
        let url = self
            .graph_get("media", access_token, &media_id, &[("fields", "id,permalink")])
            .await
            .ok()
            .and_then(|m| m["permalink"].as_str().map(str::to_owned));
        Ok(PublishStatus::Published { post_id: media_id, url })
    }

    /// Publishes a video Meta fetches itself from a public `video_url`
    /// (§3D option A); follow up with [`crate::PlatformAdapter::publish_status`].
    pub async fn publish_from_url(
        &self,
        access_token: &str,
        account_id: &str,
        video_url: &str,
        post: &PostMetadata,
    ) -> Result<PublishHandle, PlatformError> {
        let container = self
            .create_container(access_token, account_id, post, ("video_url", video_url))
            .await?;
        Ok(PublishHandle {
            id: id_of(&container["id"]).ok_or_else(|| malformed("create container"))?,
            account_id: account_id.to_owned(),
        })
    }

    /// Checks the publishing cap (no point uploading what cannot be
    /// published), then creates a REELS container from `source`.
    pub(super) async fn create_container(
        &self,
        access_token: &str,
        account_id: &str,
        post: &PostMetadata,
        source: (&str, &str),
    ) -> Result<Value, PlatformError> {
        let limit = self
            .graph_get(
                "publishing limit",
                access_token,
                &format!("{account_id}/content_publishing_limit"),
                &[("fields", "quota_usage,config")],
            )
            .await?;
        let entry = &limit["data"][0];
        if let (Some(usage), Some(total)) = (entry["quota_usage"].as_u64(), entry["config"]["quota_total"].as_u64())
            && usage >= total
        {
            let window = entry["config"]["quota_duration"]
                .as_i64()
                .unwrap_or(DEFAULT_QUOTA_WINDOW_SECS);
            return Err(PlatformError::new(
                P,
                ErrorClass::QuotaExhausted,
                format!("publishing limit reached: {usage} of {total} posts in the rolling window"),
            )
            .with_code("content_publishing_limit")
            .with_reset_at(Utc::now() + chrono::Duration::seconds(window)));
        }
        let mut form = vec![
            ("media_type", "REELS".to_owned()),
            (source.0, source.1.to_owned()),
            ("caption", post.caption.clone()),
            ("share_to_feed", "true".to_owned()),
        ];
        if let Some(ms) = post.cover_timestamp_ms {
            form.push(("thumb_offset", ms.to_string()));
        }
        self.send(
            self.http
                .post(self.graph(&format!("{account_id}/media")))
                .bearer_auth(access_token)
                .form(&form),
            "create container",
        )
        .await
    }
}

/// A Reel over the size cap, refused before uploading.
pub(super) fn refuse_oversized(video: &VideoFile) -> Result<(), PlatformError> {
    if video.size() > MAX_REEL_BYTES {
        return Err(PlatformError::new(
            P,
            ErrorClass::InvalidMedia,
            format!(
                "the video is {} bytes; Reels can be at most {MAX_REEL_BYTES}",
                video.size()
            ),
        )
        .with_code("2207026"));
    }
    Ok(())
}

/// A container in `ERROR`: the subcode in its `status` text says whether a
/// new publish can succeed.
pub(super) fn failed_container(status: String) -> PublishStatus {
    // The subcode sits in `status`, e.g. "… failed with error code 2207026. …".
    let subcode = status
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| s.len() == 7 && s.starts_with("220"))
        .and_then(|s| s.parse::<i64>().ok());
    let class = match subcode {
        Some(2207001 | 2207032 | 2207053 | 2207003) => ErrorClass::Transient,
        _ => ErrorClass::InvalidMedia,
    };
    PublishStatus::Failed { error: status, class }
}
