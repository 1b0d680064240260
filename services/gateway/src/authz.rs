//! May this user do this in this workspace? The workspace service decides
//! (`CheckPermission`); the gateway remembers a "yes" for
//! `gateway.permission_cache_secs`, which bounds how long a removed member or
//! a lowered role keeps working (a "no" is never cached). Every "no" is
//! recorded as an `authz_fail` security event.

use smez_kit::identity::OnBehalfOf;
use smez_kit::roles::Permission;
use smez_kit::{Error, ErrorCode};
use smez_proto::auth::v1::{RecordSecurityEventRequest, SecurityEvent};
use smez_proto::workspace::v1::CheckPermissionRequest;

use crate::authn::Authenticated;
use crate::client::Client;
use crate::state::Gateway;
use crate::ttl_cache::TtlCache;

/// The header that names the active workspace for clients without cookies.
pub(crate) const WORKSPACE_HEADER: &str = "x-smez-workspace";

/// Remembered "yes" answers: (user, workspace, permission) → role.
pub(crate) type PermissionCache = TtlCache<(String, String, Permission), String>;

/// A security event the gateway records, with the acting user and client added.
pub(crate) struct Note<'a> {
    event: &'a str,
    workspace_id: Option<&'a str>,
    subject_user_id: Option<&'a str>,
    success: bool,
    detail: String,
}

impl<'a> Note<'a> {
    pub fn success(event: &'a str, detail: impl Into<String>) -> Self {
        Self {
            event,
            workspace_id: None,
            subject_user_id: None,
            success: true,
            detail: detail.into(),
        }
    }

    pub fn failure(event: &'a str, detail: impl Into<String>) -> Self {
        Self {
            success: false,
            ..Self::success(event, detail)
        }
    }

    pub fn in_workspace(mut self, workspace_id: &'a str) -> Self {
        self.workspace_id = Some(workspace_id);
        self
    }

    /// The user acted upon.
    pub fn about(mut self, user_id: &'a str) -> Self {
        self.subject_user_id = Some(user_id);
        self
    }
}

/// A user allowed in a workspace: what the owning service is told.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub user_id: String,
    pub workspace_id: String,
    pub role: String,
}

impl Member {
    pub fn on_behalf_of(&self) -> OnBehalfOf {
        OnBehalfOf {
            user_id: self.user_id.clone(),
            workspace_id: Some(self.workspace_id.clone()),
            role: Some(self.role.clone()),
        }
    }
}

impl Gateway {
    /// The caller as a member of `workspace_id` holding `permission`. A
    /// non-member gets 404 whether or not the workspace exists. Every refusal
    /// is recorded: a member's in the workspace's events, a non-member's
    /// probe under the caller only (an outsider must not be able to write
    /// into a workspace's log).
    pub async fn authorize(
        &self,
        user: &Authenticated,
        client: &Client,
        workspace_id: &str,
        permission: Permission,
    ) -> Result<Member, Error> {
        let answer = self.check_permission(user, workspace_id, permission).await;
        if let Err(error) = &answer {
            let note = match error.code {
                ErrorCode::PermissionDenied => Some(
                    Note::failure("authz_fail", format!("{permission} refused: {}", error.message))
                        .in_workspace(workspace_id),
                ),
                ErrorCode::NotFound => Some(Note::failure(
                    "authz_fail",
                    format!("{permission} refused in workspace {workspace_id}: not a member"),
                )),
                _ => None,
            };
            if let Some(note) = note {
                self.record_event(user, client, note).await;
            }
        }
        answer
    }

    /// [`Self::authorize`] without recording a refusal (for lookups that may
    /// legitimately miss, like a stale active-workspace cookie).
    pub async fn check_permission(
        &self,
        user: &Authenticated,
        workspace_id: &str,
        permission: Permission,
    ) -> Result<Member, Error> {
        let key = (user.user_id.clone(), workspace_id.to_owned(), permission);
        let role = match self.permissions.get(&key) {
            Some(role) => role,
            None => {
                let answer = self
                    .workspace
                    .clone()
                    .check_permission(CheckPermissionRequest {
                        user_id: user.user_id.clone(),
                        workspace_id: workspace_id.to_owned(),
                        permission: permission.as_str().to_owned(),
                    })
                    .await
                    .map_err(|status| match Error::from_status(&status) {
                        e if e.code == ErrorCode::NotFound => Error::not_found("no such workspace"),
                        e => e,
                    })?;
                let role = answer.into_inner().role;
                self.permissions.put(key, role.clone());
                role
            }
        };
        Ok(Member {
            user_id: user.user_id.clone(),
            workspace_id: workspace_id.to_owned(),
            role,
        })
    }

    /// Records a security event with the request's address and user agent.
    /// A failure to record is logged, never returned: the action happened.
    pub async fn record_event(&self, user: &Authenticated, client: &Client, note: Note<'_>) {
        let request = RecordSecurityEventRequest {
            event: Some(SecurityEvent {
                event: note.event.to_owned(),
                user_id: Some(user.user_id.clone()),
                subject_user_id: note.subject_user_id.map(str::to_owned),
                workspace_id: note.workspace_id.map(str::to_owned),
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
                outcome: if note.success { "success" } else { "failure" }.to_owned(),
                detail: note.detail,
                ..Default::default()
            }),
        };
        if let Err(status) = self.auth.clone().record_security_event(request).await {
            tracing::error!(target: "smez::security", event = note.event, error = %status.message(), "security event not recorded");
        }
    }

    /// After a change to a workspace's members: this gateway's cached answers
    /// about the workspace go (so its own next answers are fresh at once), and
    /// the change is recorded.
    pub async fn membership_changed(&self, user: &Authenticated, client: &Client, note: Note<'_>) {
        if let Some(workspace_id) = note.workspace_id {
            self.forget_permissions(workspace_id);
        }
        self.record_event(user, client, note).await;
    }

    /// The workspace the request names as active: the `X-Smez-Workspace`
    /// header (clients without cookies) or the workspace cookie.
    pub fn active_workspace(&self, headers: &http::HeaderMap) -> Option<String> {
        headers
            .get(WORKSPACE_HEADER)
            .and_then(|v| v.to_str().ok())
            .or_else(|| crate::cookies::read(headers, &self.cookies.workspace))
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
    }

    /// The caller as a member of the active workspace holding `permission`.
    pub async fn authorize_active(
        &self,
        user: &Authenticated,
        client: &Client,
        headers: &http::HeaderMap,
        permission: Permission,
    ) -> Result<Member, Error> {
        let workspace_id = self.active_workspace(headers).ok_or_else(|| {
            Error::new(
                ErrorCode::Conflict,
                "no active workspace: activate one (POST /v1/workspaces/{id}/activate) or send X-Smez-Workspace",
            )
        })?;
        self.authorize(user, client, &workspace_id, permission).await
    }

    /// Forgets cached answers about `workspace_id`.
    pub fn forget_permissions(&self, workspace_id: &str) {
        self.permissions.forget(|(_, ws, _)| ws == workspace_id);
    }
}

/// A tonic request carrying the member (or just the user) it is made for.
pub(crate) fn for_member<T>(message: T, member: &Member) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.extensions_mut().insert(member.on_behalf_of());
    request
}

pub(crate) fn for_user<T>(message: T, user: &Authenticated) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.extensions_mut().insert(OnBehalfOf {
        user_id: user.user_id.clone(),
        workspace_id: None,
        role: None,
    });
    request
}
