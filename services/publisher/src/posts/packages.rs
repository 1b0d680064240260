//! The render service's packages, as the publisher uses them: what a
//! package says (platform, status, the metadata to send) and its video,
//! fetched to a local file for the platform upload.

use std::path::Path;

use serde::Deserialize;
use smez_kit::grpc::Transport;
use smez_platforms::{PostMetadata, Privacy};
use smez_proto::render::v1::render_service_client::RenderServiceClient;
use smez_proto::render::v1::{Package, PackageForPublishRequest};
use smez_service::peers::Peers;
use tonic::Status;

fn client(peers: &Peers) -> Result<RenderServiceClient<Transport>, Status> {
    Ok(RenderServiceClient::new(peers.transport("render")?))
}

fn request(workspace_id: &str, package_id: &str) -> PackageForPublishRequest {
    PackageForPublishRequest {
        workspace_id: workspace_id.to_owned(),
        package_id: package_id.to_owned(),
    }
}

/// The package, or `None` when the workspace has no such package.
pub async fn package(peers: &Peers, workspace_id: &str, package_id: &str) -> Result<Option<Package>, Status> {
    match client(peers)?
        .get_package_for_publish(request(workspace_id, package_id))
        .await
    {
        Ok(package) => Ok(Some(package.into_inner())),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(status),
    }
}

/// Streams the package's video into `target`; returns its size.
pub async fn fetch_video(peers: &Peers, workspace_id: &str, package_id: &str, target: &Path) -> Result<u64, Status> {
    let parts = client(peers)?
        .read_package_for_publish(request(workspace_id, package_id))
        .await?
        .into_inner();
    smez_media::content::save(parts, target)
        .await
        .map_err(|e| Status::unavailable(format!("fetching package `{package_id}`'s video: {e}")))
}

/// The part of a package's stored metadata a publish sends.
#[derive(Deserialize)]
struct Sent {
    caption_sent: String,
    #[serde(default)]
    title: Option<String>,
    /// public, friends, followers, private or unlisted (the package's words).
    #[serde(default)]
    privacy: Option<String>,
    #[serde(default)]
    cover_ms: Option<u64>,
}

/// What the adapter is told to publish, from the package's checked metadata.
pub fn post_metadata(package: &Package) -> Result<PostMetadata, String> {
    let sent: Sent = serde_json::from_str(&package.metadata_json)
        .map_err(|e| format!("package `{}` has unreadable metadata: {e}", package.id))?;
    Ok(PostMetadata {
        caption: sent.caption_sent,
        title: sent.title,
        privacy: match sent.privacy.as_deref() {
            None | Some("public") => Privacy::Public,
            Some("private") => Privacy::Private,
            // TikTok's followers and friends, YouTube's unlisted: seen by some, not listed for all.
            Some(_) => Privacy::FollowersOnly,
        },
        cover_timestamp_ms: sent.cover_ms,
    })
}
