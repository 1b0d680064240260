//! The workspace's media: list, get, read, delete, and transcripts attached
//! to clips.

use bytes::Bytes;
use smez_kit::{Error, ErrorCode};
use smez_proto::media::v1::{ListMediaRequest, TimedText, Transcript};

use crate::content::Content;
use crate::core::{Core, Member, not_found, refused, storage};
use crate::intake::{Arrived, TempFile, hex};
use crate::probe::Kind;
use crate::repo::{Listing, MediaRow};
use crate::transcript::Parsed;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

impl Core {
    pub async fn get(&self, member: &Member, media_id: &str) -> Result<MediaRow, Error> {
        self.repo
            .media(&member.workspace_id, media_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| not_found("media"))
    }

    /// Those of `media_ids` that exist in the workspace (for the render service).
    pub async fn media_for_render(&self, workspace_id: &str, media_ids: &[String]) -> Result<Vec<MediaRow>, Error> {
        const MOST: usize = 500;
        if workspace_id.is_empty() {
            return Err(Error::invalid_field("workspace_id", "workspace_id is required"));
        }
        if media_ids.len() > MOST {
            return Err(Error::invalid_field("media_ids", format!("at most {MOST} at once")));
        }
        let mut rows = Vec::with_capacity(media_ids.len());
        for media_id in media_ids {
            if let Some(row) = self.repo.media(workspace_id, media_id).await.map_err(storage)? {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// A page, newest first, and the cursor of the next one.
    pub async fn list(&self, member: &Member, request: &ListMediaRequest) -> Result<(Vec<MediaRow>, String), Error> {
        let kind = (!request.kind.is_empty()).then_some(request.kind.as_str());
        if let Some(kind) = kind
            && Kind::parse(kind).is_none()
        {
            return Err(Error::invalid_field(
                "kind",
                "must be video, image, audio or transcript",
            ));
        }
        let before = if request.cursor.is_empty() {
            None
        } else {
            Some(parse_cursor(&request.cursor)?)
        };
        let limit = match request.limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let listing = Listing {
            kind,
            uploaded_by: (!request.uploaded_by.is_empty()).then_some(request.uploaded_by.as_str()),
            created_after_ms: request.created_after_ms,
            created_before_ms: request.created_before_ms,
            before: before.as_ref().map(|(at, id)| (*at, id.as_str())),
            limit: limit + 1,
        };
        let mut rows = self.repo.list(&member.workspace_id, &listing).await.map_err(storage)?;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| format!("{}.{}", r.created_at_ms, r.media_id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((rows, next))
    }

    /// The bytes of the original or the poster, in `offset..offset+length`.
    /// A stored object of the workspace's media (or a range of it).
    pub async fn read(
        &self,
        workspace_id: &str,
        media_id: &str,
        variant: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<Content, Error> {
        let row = self
            .repo
            .media(workspace_id, media_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| not_found("media"))?;
        let (key, content_type, file_name) = match variant {
            "" | "original" => (row.object_key.clone(), row.content_type.clone(), row.file_name.clone()),
            "poster" => (
                row.poster_key.clone().ok_or_else(|| not_found("poster"))?,
                "image/jpeg".to_owned(),
                format!("{}.jpg", row.file_name),
            ),
            other => {
                return Err(Error::invalid_field(
                    "variant",
                    format!("`{other}` is not original or poster"),
                ));
            }
        };
        let total = self.store.size(&key).await.map_err(storage)?;
        if offset > total || (offset == total && total > 0) || length == Some(0) {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                format!("the range starts past the end ({total} bytes)"),
            ));
        }
        let end = length.map_or(total, |l| (offset + l).min(total));
        let (total_size, bytes) = self
            .store
            .read(&key, (total > 0).then_some(offset..end))
            .await
            .map_err(storage)?;
        Ok(Content {
            total_size,
            content_type,
            file_name,
            sha256: if variant == "poster" { String::new() } else { row.sha256 },
            bytes,
        })
    }

    /// Removes the objects, then the row (an object left by a failure is
    /// removed by the next attempt; the row stays until then).
    pub async fn delete(&self, member: &Member, media_id: &str) -> Result<MediaRow, Error> {
        let row = self.get(member, media_id).await?;
        for key in std::iter::once(&row.object_key).chain(row.poster_key.as_ref()) {
            self.store.delete(key).await.map_err(storage)?;
        }
        if !self
            .repo
            .delete_media(&member.workspace_id, media_id)
            .await
            .map_err(storage)?
        {
            return Err(not_found("media"));
        }
        tracing::info!(media_id, "media deleted");
        Ok(row)
    }

    /// Attaches an uploaded transcript, or a new one from `text`, to a clip.
    pub async fn attach_transcript(
        &self,
        member: &Member,
        media_id: &str,
        transcript_id: Option<&str>,
        text: Option<(Bytes, &str)>,
    ) -> Result<MediaRow, Error> {
        let clip = self.get(member, media_id).await?;
        if !matches!(clip.kind.as_str(), "video" | "audio") {
            return Err(Error::invalid_field(
                "media_id",
                format!("a transcript goes with a video or audio clip, not with a {}", clip.kind),
            ));
        }
        let transcript = match (transcript_id, text) {
            (Some(id), _) => self.get(member, id).await?,
            (None, Some((content, file_name))) => self.transcript_from_text(member, content, file_name).await?,
            (None, None) => {
                return Err(Error::invalid_field(
                    "transcript",
                    "send a transcript (SRT, WebVTT or JSON word timings) or a transcript_id",
                ));
            }
        };
        if transcript.kind != "transcript" {
            return Err(Error::invalid_field(
                "transcript_id",
                format!("that media is a {}, not a transcript", transcript.kind),
            ));
        }
        if !self
            .repo
            .set_transcript(&member.workspace_id, media_id, &transcript.media_id)
            .await
            .map_err(storage)?
        {
            return Err(not_found("media"));
        }
        self.get(member, media_id).await
    }

    async fn transcript_from_text(&self, member: &Member, content: Bytes, file_name: &str) -> Result<MediaRow, Error> {
        let limit = self.settings().max_transcript_bytes;
        if content.len() as u64 > limit {
            return Err(crate::core::too_large(format!(
                "a transcript may be {limit} bytes at most"
            )));
        }
        let temp = TempFile::new(self.incoming_path(&uuid::Uuid::new_v4().to_string()));
        tokio::fs::write(temp.path(), &content).await.map_err(storage)?;
        let arrived = Arrived {
            size: content.len() as u64,
            sha256: hex(ring::digest::digest(&ring::digest::SHA256, &content).as_ref()),
        };
        let row = self.accept(member, temp, arrived, file_name, None).await?;
        if row.kind != "transcript" {
            // It was media after all: it does not stay as a side effect.
            self.delete(member, &row.media_id).await?;
            return Err(refused("that is not a transcript (SRT, WebVTT or JSON word timings)"));
        }
        Ok(row)
    }

    /// A transcript of the workspace, parsed.
    pub async fn transcript(&self, workspace_id: &str, media_id: &str) -> Result<Transcript, Error> {
        let row = self
            .repo
            .media(workspace_id, media_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| not_found("media"))?;
        let parsed: Parsed = row
            .transcript
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or_else(|| {
                Error::invalid_field("media_id", format!("that media is a {}, not a transcript", row.kind))
            })?;
        let timed = |t: &crate::transcript::Timed| TimedText {
            start_ms: t.start_ms,
            end_ms: t.end_ms,
            text: t.text.clone(),
        };
        Ok(Transcript {
            media_id: row.media_id,
            format: parsed.format.clone(),
            cues: parsed.cues.iter().map(timed).collect(),
            words: parsed.words.iter().map(timed).collect(),
        })
    }
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), Error> {
    cursor
        .split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .ok_or_else(|| Error::invalid_field("cursor", "not a cursor this API gave out"))
}
