//! The resumable upload: a session, the bytes in chunks, and resuming from
//! what the session says it holds.

use serde_json::{Value, json};

use super::errors::api_error;
use super::{DEFAULT_CATEGORY_ID, MAX_RESUMES, P, SESSION_EXPIRED, UPLOAD_UNCONFIRMED, YouTube};
use crate::http::Answer;
use crate::upload::{CHUNK_TIMEOUT, bytes_held, chunk_body};
use crate::{ErrorClass, PlatformError, PostMetadata, Privacy, PublishJournal, PublishProgress, VideoFile};

impl YouTube {
    /// Uploads `video` for `post`; returns the video resource. The session
    /// URI is recorded before any byte goes out, and a recorded one is
    /// resumed from what it holds. A session that expires (Google answers
    /// 404) before the last bytes went out is replaced once, from byte 0;
    /// after them, the video may exist and is never uploaded again.
    pub(super) async fn upload(
        &self,
        access_token: &str,
        video: &VideoFile,
        post: &PostMetadata,
        progress: &mut PublishProgress,
        journal: &dyn PublishJournal,
    ) -> Result<Value, PlatformError> {
        let (session, start) = match progress.upload_url.clone() {
            // Resuming: ask the session first (start past the end).
            Some(session) => (session, video.size()),
            None => (self.new_session(access_token, video, post, progress, journal).await?, 0),
        };
        match self.send_bytes(&session, video, start, progress, journal).await {
            Err(e) if session_expired(&e) => {
                tracing::info!("youtube upload session expired; starting a new one");
                let session = self.new_session(access_token, video, post, progress, journal).await?;
                self.send_bytes(&session, video, 0, progress, journal).await
            }
            other => other,
        }
    }

    /// Starts a session and records it before anything is sent to it.
    async fn new_session(
        &self,
        access_token: &str,
        video: &VideoFile,
        post: &PostMetadata,
        progress: &mut PublishProgress,
        journal: &dyn PublishJournal,
    ) -> Result<String, PlatformError> {
        let session = self.start_session(access_token, video, post).await?;
        progress.upload_url = Some(session.clone());
        progress.final_bytes_sent = false;
        journal.record(progress).await?;
        Ok(session)
    }

    /// Starts a resumable session; returns its URI.
    async fn start_session(
        &self,
        token: &str,
        video: &VideoFile,
        post: &PostMetadata,
    ) -> Result<String, PlatformError> {
        let what = "videos.insert";
        let request = self
            .http
            .post(self.endpoints.upload_url("/upload/youtube/v3/videos"))
            .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
            .bearer_auth(token)
            .header("X-Upload-Content-Length", video.size().to_string())
            .header("X-Upload-Content-Type", upload_content_type(video))
            .json(&video_resource(post));
        let answer = Answer::fetch(P, what, request).await?;
        if answer.status.is_success() {
            return answer
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| {
                    PlatformError::new(P, ErrorClass::Transient, "videos.insert: no session URI in the answer")
                });
        }
        Err(api_error(
            what,
            answer.status.as_u16(),
            &answer.headers,
            answer.json_or_null(),
        ))
    }

    /// Sends the bytes to `session` from `start` (past the end: ask the
    /// session first), resuming after broken connections and 5xx; returns
    /// the video resource.
    async fn send_bytes(
        &self,
        session: &str,
        video: &VideoFile,
        start: u64,
        progress: &mut PublishProgress,
        journal: &dyn PublishJournal,
    ) -> Result<Value, PlatformError> {
        let total = video.size();
        let mut offset = start;
        let mut resumes = 0u32;
        // Once the last bytes went out, the video may exist even if the
        // session then vanishes: uploading it again could make a second one.
        let unconfirmed = |e: PlatformError, final_bytes_sent: bool| {
            if final_bytes_sent && session_expired(&e) {
                PlatformError::new(
                    P,
                    ErrorClass::Permanent,
                    "upload: the session ended after the last bytes were sent; the video may exist, \
                     so it is not uploaded again (check the channel)",
                )
                .with_code(UPLOAD_UNCONFIRMED)
            } else {
                e
            }
        };
        loop {
            let step = if offset >= total {
                // Everything sent but no final answer seen: ask.
                self.query_session(session, total).await
            } else {
                if offset + self.chunk_size >= total && !progress.final_bytes_sent {
                    progress.final_bytes_sent = true;
                    journal.record(progress).await?;
                }
                self.send_chunk(session, video, offset).await
            };
            let failure = match step {
                Ok(Step::Done(resource)) => return Ok(resource),
                Ok(Step::Received(next)) => {
                    if next <= offset && offset < total {
                        // No progress: count it as a failure to resume from.
                        PlatformError::new(P, ErrorClass::Transient, "upload: the session accepted no bytes")
                    } else {
                        offset = next;
                        continue;
                    }
                }
                Err(e) if e.class == ErrorClass::Transient && !session_expired(&e) => e,
                Err(e) => return Err(unconfirmed(e, progress.final_bytes_sent)),
            };
            // Broken connection or 5xx: back off, ask where the session stands, resume.
            loop {
                resumes += 1;
                if resumes > MAX_RESUMES {
                    return Err(failure);
                }
                tokio::time::sleep(self.resume_backoff * 2u32.pow((resumes - 1).min(5))).await;
                match self.query_session(session, total).await {
                    Ok(Step::Done(resource)) => return Ok(resource),
                    Ok(Step::Received(next)) => {
                        tracing::info!(received = next, total, "youtube upload resuming");
                        offset = next;
                        break;
                    }
                    Err(e) if e.class == ErrorClass::Transient && !session_expired(&e) => continue,
                    Err(e) => return Err(unconfirmed(e, progress.final_bytes_sent)),
                }
            }
        }
    }

    async fn send_chunk(&self, session: &str, video: &VideoFile, offset: u64) -> Result<Step, PlatformError> {
        let total = video.size();
        let len = self.chunk_size.min(total - offset);
        let body = chunk_body(P, video, offset, len).await?;
        let request = self
            .http
            .put(session)
            .timeout(CHUNK_TIMEOUT)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, upload_content_type(video))
            .header(
                reqwest::header::CONTENT_RANGE,
                format!("bytes {offset}-{}/{total}", offset + len - 1),
            )
            .body(body);
        session_answer(Answer::fetch(P, "upload", request).await?)
    }

    async fn query_session(&self, session: &str, total: u64) -> Result<Step, PlatformError> {
        let request = self
            .http
            .put(session)
            .header(reqwest::header::CONTENT_LENGTH, 0)
            .header(reqwest::header::CONTENT_RANGE, format!("bytes */{total}"));
        session_answer(Answer::fetch(P, "upload status", request).await?)
    }
}

enum Step {
    /// The session holds bytes `0..n`.
    Received(u64),
    /// The upload completed: the video resource.
    Done(Value),
}

/// A 308 (with `Range`), a 200/201 (with the resource), or an error.
fn session_answer(answer: Answer) -> Result<Step, PlatformError> {
    match answer.status.as_u16() {
        308 => Ok(Step::Received(
            bytes_held(&answer.headers, reqwest::header::RANGE, "bytes=").unwrap_or(0),
        )),
        200 | 201 => {
            let body = answer.json_or_transient(P, "upload")?;
            if body["id"].is_string() {
                Ok(Step::Done(body.clone()))
            } else {
                Err(PlatformError::new(
                    P,
                    ErrorClass::Transient,
                    "upload: the answer named no video",
                ))
            }
        }
        404 => Err(PlatformError::new(
            P,
            ErrorClass::Transient,
            "upload: the resumable session expired; start the publish again",
        )
        .with_code(SESSION_EXPIRED)),
        status => Err(api_error("upload", status, &answer.headers, answer.json_or_null())),
    }
}

/// A 404 from a resumable session: it expired; resuming cannot help, a new one can.
fn session_expired(error: &PlatformError) -> bool {
    error.platform_code.as_deref() == Some(SESSION_EXPIRED)
}

fn upload_content_type(video: &VideoFile) -> &str {
    if video.content_type.starts_with("video/") {
        &video.content_type
    } else {
        "application/octet-stream"
    }
}

/// Hashtags of the caption, as tags (without `#`).
fn hashtags(caption: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for word in caption.split_whitespace() {
        if let Some(tag) = word.strip_prefix('#') {
            let tag: String = tag.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !tag.is_empty() && !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    tags
}

/// The `videos.insert` body for a post.
fn video_resource(post: &PostMetadata) -> Value {
    let title = post
        .title
        .clone()
        .unwrap_or_else(|| post.caption.lines().next().unwrap_or("").trim().to_owned());
    let privacy = match post.privacy {
        Privacy::Public => "public",
        Privacy::FollowersOnly => "unlisted",
        Privacy::Private => "private",
    };
    json!({
        "snippet": {
            "title": title,
            "description": post.caption,
            "tags": hashtags(&post.caption),
            "categoryId": DEFAULT_CATEGORY_ID,
        },
        "status": {
            "privacyStatus": privacy,
            "selfDeclaredMadeForKids": false,
            "containsSyntheticMedia": false,
        },
    })
}
