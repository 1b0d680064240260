//! Where media objects live, through the `object_store` crate: the local
//! filesystem by default, any S3-compatible store by configuration. Keys
//! are generated (`ws/<workspace>/<media>/<variant>`), never derived from
//! anything a client sent.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, WriteMultipart};
use smez_kit::config::{MediaSettings, MediaStoreKind};
use tokio::io::AsyncReadExt;

/// The parts of a multipart upload (S3 wants 5 MiB at least).
const PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct MediaStore {
    objects: Arc<dyn ObjectStore>,
    /// Set for the local filesystem: a checked upload is moved in, not copied.
    local: Option<Arc<LocalFileSystem>>,
}

pub fn original_key(workspace_id: &str, media_id: &str) -> String {
    format!("ws/{workspace_id}/{media_id}/original")
}

pub fn poster_key(workspace_id: &str, media_id: &str) -> String {
    format!("ws/{workspace_id}/{media_id}/poster.jpg")
}

pub fn workspace_prefix(workspace_id: &str) -> String {
    format!("ws/{workspace_id}/")
}

impl MediaStore {
    pub fn from_settings(settings: &MediaSettings, data_dir: &Path) -> anyhow::Result<Self> {
        match settings.store {
            MediaStoreKind::Local => {
                let root = settings.local_root(data_dir);
                std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
                let local = Arc::new(
                    LocalFileSystem::new_with_prefix(&root)
                        .with_context(|| format!("media store at {}", root.display()))?
                        .with_automatic_cleanup(true),
                );
                Ok(Self {
                    objects: local.clone(),
                    local: Some(local),
                })
            }
            MediaStoreKind::S3 => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&settings.s3_bucket)
                    .with_region(&settings.s3_region)
                    .with_allow_http(settings.s3_allow_http);
                if !settings.s3_endpoint.is_empty() {
                    // S3-compatible servers (MinIO and the like) take the bucket in the path.
                    builder = builder
                        .with_endpoint(&settings.s3_endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                if !settings.s3_access_key_id.is_empty() {
                    builder = builder
                        .with_access_key_id(&settings.s3_access_key_id)
                        .with_secret_access_key(&settings.s3_secret_access_key);
                }
                let s3: Arc<dyn ObjectStore> = Arc::new(builder.build().context("media.s3_* settings")?);
                let objects: Arc<dyn ObjectStore> = if settings.s3_prefix.is_empty() {
                    s3
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(s3, settings.s3_prefix.as_str()))
                };
                Ok(Self { objects, local: None })
            }
        }
    }

    /// Stores the file at `source` under `key`; the file is gone afterwards.
    pub async fn put_file(&self, key: &str, source: &Path) -> anyhow::Result<()> {
        let key = Key::from(key);
        if let Some(local) = &self.local {
            let target = local.path_to_filesystem(&key)?;
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            // Same filesystem (the default layout): a rename, no second copy.
            if tokio::fs::rename(source, &target).await.is_ok() {
                return Ok(());
            }
        }
        self.upload(&key, source).await?;
        let _ = tokio::fs::remove_file(source).await;
        Ok(())
    }

    async fn upload(&self, key: &Key, source: &Path) -> anyhow::Result<()> {
        let mut file = tokio::fs::File::open(source)
            .await
            .with_context(|| format!("opening {}", source.display()))?;
        let mut upload = WriteMultipart::new_with_chunk_size(self.objects.put_multipart(key).await?, PART_SIZE);
        let mut buffer = vec![0u8; PART_SIZE];
        let sent: anyhow::Result<()> = async {
            loop {
                let read = file.read(&mut buffer).await?;
                if read == 0 {
                    return Ok(());
                }
                // At most two parts in flight: memory stays flat whatever the size.
                upload.wait_for_capacity(2).await?;
                upload.write(&buffer[..read]);
            }
        }
        .await;
        match sent {
            Ok(()) => {
                upload.finish().await?;
                Ok(())
            }
            Err(e) => {
                // The parts already sent would otherwise stay in the bucket.
                if let Err(abort) = upload.abort().await {
                    tracing::warn!(key = %key, error = %abort, "an unfinished multipart upload was left");
                }
                Err(e)
            }
        }
    }

    /// The object's size and its bytes in `range` (all when `None`).
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<(u64, BoxStream<'static, std::io::Result<Bytes>>), object_store::Error> {
        let options = GetOptions::default().with_range(range);
        let got = self.objects.get_opts(&Key::from(key), options).await?;
        let size = got.meta.size;
        let stream = got.into_stream().map_err(std::io::Error::other).boxed();
        Ok((size, stream))
    }

    pub async fn size(&self, key: &str) -> Result<u64, object_store::Error> {
        Ok(self.objects.head(&Key::from(key)).await?.size)
    }

    /// Deletes one object; one already gone is fine.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.objects.delete(&Key::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting {key}")),
        }
    }

    /// Deletes every object under `prefix`; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<usize> {
        let prefix = Key::from(prefix);
        let keys: Vec<Key> = self
            .objects
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for key in &keys {
            self.delete(key.as_ref()).await?;
        }
        Ok(keys.len())
    }

    /// For tests and operators: where the local store keeps `key`.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.local.as_ref()?.path_to_filesystem(&Key::from(key)).ok()
    }
}
