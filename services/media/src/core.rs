//! What every media operation works with.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use smez_kit::config::MediaSettings;
use smez_kit::{Error, ErrorCode};
use smez_service::ServiceContext;

use crate::repo::Repo;
use crate::storage::MediaStore;

pub use smez_service::member::Member;

pub struct Core {
    pub ctx: Arc<ServiceContext>,
    pub repo: Repo,
    pub store: MediaStore,
    /// Codecs this machine's ffmpeg decodes.
    pub decoders: HashSet<String>,
    /// Where uploads are received (`incoming/`) and wait (`resumable/`).
    pub upload_root: PathBuf,
}

impl Core {
    pub async fn new(ctx: Arc<ServiceContext>) -> anyhow::Result<Self> {
        let settings = &ctx.settings.media;
        let store = MediaStore::from_settings(settings, &ctx.settings.data_dir)?;
        let decoders = crate::probe::decoders(&settings.ffmpeg)
            .await
            .context("media needs ffmpeg (media.ffmpeg)")?;
        anyhow::ensure!(
            !decoders.is_empty(),
            "`{} -decoders` listed no decoder: is it ffmpeg?",
            settings.ffmpeg
        );
        let upload_root = settings.upload_root(&ctx.settings.data_dir);
        for dir in ["incoming", "resumable"] {
            let dir = upload_root.join(dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(Self {
            repo: Repo::new(ctx.store.clone()),
            store,
            decoders,
            upload_root,
            ctx,
        })
    }

    pub fn settings(&self) -> &MediaSettings {
        &self.ctx.settings.media
    }

    pub fn incoming_path(&self, id: &str) -> PathBuf {
        self.upload_root.join("incoming").join(id)
    }

    pub fn resumable_path(&self, upload_id: &str) -> PathBuf {
        self.upload_root.join("resumable").join(upload_id)
    }
}

/// A storage failure, as callers see it (the cause is logged here).
pub fn storage(e: impl std::fmt::Display) -> Error {
    tracing::error!(error = %e, "media storage failed");
    Error::unavailable("media storage is unavailable; try again")
}

pub fn not_found(what: &str) -> Error {
    Error::not_found(format!("no such {what} in this workspace"))
}

pub fn too_large(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::PayloadTooLarge, message)
}

/// A refused file: the field is the file, the message says exactly why.
pub fn refused(reason: impl Into<String>) -> Error {
    Error::invalid_field("file", reason)
}
