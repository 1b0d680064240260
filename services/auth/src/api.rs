//! The auth service's gRPC API.

use std::sync::Arc;
use std::time::Duration;

use smez_kit::access_token::AccessTokenSigner;
use smez_kit::grpc::caller;
use smez_kit::{Error, ErrorCode};
use smez_proto::auth::v1::auth_service_server::AuthService;
use smez_proto::auth::v1::{
    ChangePasswordRequest, ChangePasswordResponse, CheckSessionRequest, CheckSessionResponse, ClientInfo,
    DeleteAccountRequest, DeleteAccountResponse, GetJwksRequest, GetUserRequest, Jwks, ListSecurityEventsRequest,
    ListSecurityEventsResponse, LoginRequest, LogoutRequest, LogoutResponse, LookupUsersRequest, LookupUsersResponse,
    RecordSecurityEventRequest, RecordSecurityEventResponse, RefreshRequest, Session, SignUpRequest, User,
};
use smez_proto::common::v1::{GetServiceInfoRequest, ServiceInfo};
use smez_service::ServiceContext;
use smez_service::purge::{self, Subject};
use smez_store::Store;
use smez_store::sea_orm::DbErr;
use tonic::{Request, Response, Status};

use crate::passwords::Passwords;
use crate::security_log::{self, Record};
use crate::sessions::{self, Issued, Presented};
use crate::signup::{MAX_DISPLAY_NAME_CHARS, check_date_of_birth, check_password};
use crate::throttle::{self, Limits};
use crate::users::{self, UserRow};

/// Services that act for users at the front door.
const FRONT_DOOR: &[&str] = &["gateway"];
/// Services that may record security events.
const EVENT_WRITERS: &[&str] = &["gateway", "workspace", "publisher"];
const MAX_LOOKUP: usize = 500;
const MAX_EVENTS_PAGE: u32 = 200;
const DEFAULT_EVENTS_PAGE: u32 = 50;

#[derive(Clone)]
pub struct AuthApi {
    ctx: Arc<ServiceContext>,
    signer: Arc<AccessTokenSigner>,
    passwords: Arc<Passwords>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn storage(e: DbErr) -> Status {
    Error::internal(format!("auth database: {e}")).into()
}

fn wrong_credentials() -> Status {
    Error::unauthenticated("the email or the password is wrong").into()
}

fn client(info: Option<&ClientInfo>) -> ClientInfo {
    info.cloned().unwrap_or_default()
}

impl AuthApi {
    pub fn new(ctx: Arc<ServiceContext>, signer: Arc<AccessTokenSigner>, passwords: Arc<Passwords>) -> Self {
        Self { ctx, signer, passwords }
    }

    fn store(&self) -> &Store {
        &self.ctx.store
    }

    fn refresh_ttl_ms(&self) -> i64 {
        self.ctx.settings.auth.refresh_token_ttl_secs as i64 * 1000
    }

    fn limits(&self, max_failures: u32) -> Limits {
        let auth = &self.ctx.settings.auth;
        Limits {
            max_failures: i64::from(max_failures),
            base_ms: auth.lockout_base_secs as i64 * 1000,
            max_ms: auth.lockout_max_secs as i64 * 1000,
        }
    }

    /// Only `allowed` services may make this call.
    fn require_caller<T>(request: &Request<T>, allowed: &[&str]) -> Result<(), Status> {
        let service = &caller(request)?.service;
        if allowed.contains(&service.as_str()) {
            Ok(())
        } else {
            Err(Error::permission_denied(format!("the {service} service may not make this call")).into())
        }
    }

    fn session(&self, user: User, issued: Issued) -> Session {
        let (access_token, access_expires_at) = self.signer.mint(&user.id, &issued.session_id);
        Session {
            user: Some(user),
            session_id: issued.session_id,
            access_token,
            access_expires_at_ms: access_expires_at * 1000,
            refresh_token: issued.refresh_token,
            refresh_expires_at_ms: issued.refresh_expires_at_ms,
        }
    }

    async fn event(&self, record: Record<'_>) {
        security_log::record(self.store(), record).await;
    }

    /// Checks a password for `email` under the throttles, recording the
    /// attempt. The same for login, password change and account deletion.
    async fn check_credentials(&self, email: &str, password: &str, client: &ClientInfo) -> Result<UserRow, Status> {
        let store = self.store().connection();
        let now = now_ms();
        let account_key = throttle::account_key(email);
        let address_key = throttle::address_key(&client.ip);
        let user = users::by_email(store, email).await.map_err(storage)?;
        let user_id_owned = user.as_ref().map(|u| u.user.id.clone());
        let user_id = user_id_owned.as_deref();
        if let Some(until) = self.current_lock(&account_key, &address_key, now).await? {
            return Err(self.refuse_locked(user_id, client, until, now).await);
        }
        // Counted before the password is checked, so concurrent guesses each
        // take a slot; a success gives its slot back.
        let auth = &self.ctx.settings.auth;
        let account_locked = throttle::record_failure(store, &account_key, self.limits(auth.max_failed_logins), now)
            .await
            .map_err(storage)?;
        let address_locked =
            throttle::record_failure(store, &address_key, self.limits(auth.max_failed_logins_per_ip), now)
                .await
                .map_err(storage)?;
        // Another attempt may have locked either meanwhile; the attempt that
        // locked it still gets its answer.
        if account_locked.is_none()
            && address_locked.is_none()
            && let Some(until) = self.current_lock(&account_key, &address_key, now).await?
        {
            return Err(self.refuse_locked(user_id, client, until, now).await);
        }
        let matches = self
            .passwords
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        if let (true, Some(user)) = (matches, user) {
            throttle::clear(store, &account_key).await.map_err(storage)?;
            throttle::forgive(store, &address_key).await.map_err(storage)?;
            return Ok(user);
        }
        self.event(Record {
            event: "authn_login_fail",
            user_id,
            subject_user_id: None,
            workspace_id: None,
            client,
            success: false,
            detail: if user_id.is_some() {
                "wrong password".into()
            } else {
                "unknown account".into()
            },
        })
        .await;
        for (locked, what) in [(account_locked, "account"), (address_locked, "client address")] {
            if let Some(until) = locked {
                self.event(Record {
                    event: "authn_login_lock",
                    user_id,
                    subject_user_id: None,
                    workspace_id: None,
                    client,
                    success: false,
                    detail: format!("{what} locked for {} s after repeated failures", (until - now) / 1000),
                })
                .await;
            }
        }
        Err(wrong_credentials())
    }

    /// Until when the account or the address is locked, if either is.
    async fn current_lock(&self, account_key: &str, address_key: &str, now: i64) -> Result<Option<i64>, Status> {
        let store = self.store().connection();
        let account = throttle::locked_until(store, account_key, now).await.map_err(storage)?;
        let address = throttle::locked_until(store, address_key, now).await.map_err(storage)?;
        Ok(account.max(address))
    }

    /// Records a refused attempt and says how long to wait.
    async fn refuse_locked(&self, user_id: Option<&str>, client: &ClientInfo, until: i64, now: i64) -> Status {
        self.event(Record {
            event: "authn_login_fail_max",
            user_id,
            subject_user_id: None,
            workspace_id: None,
            client,
            success: false,
            detail: "sign-in refused: locked after repeated failures".into(),
        })
        .await;
        let wait = Duration::from_millis((until - now).max(1000) as u64);
        Error::new(
            ErrorCode::RateLimited,
            "too many failed sign-in attempts; try again later",
        )
        .with_retry_after(wait)
        .into()
    }

    async fn user_email(&self, user_id: &str) -> Result<String, Status> {
        users::by_id(self.store().connection(), user_id)
            .await
            .map_err(storage)?
            .map(|u| u.user.email)
            .ok_or_else(|| Error::unauthenticated("the account no longer exists").into())
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn get_service_info(&self, request: Request<GetServiceInfoRequest>) -> Result<Response<ServiceInfo>, Status> {
        self.ctx.service_info(&request).await
    }

    async fn sign_up(&self, request: Request<SignUpRequest>) -> Result<Response<Session>, Status> {
        Self::require_caller(&request, FRONT_DOOR)?;
        let message = request.into_inner();
        let client = client(message.client.as_ref());
        let email = smez_kit::text::normalize_email("email", &message.email)?;
        let display_name = smez_kit::text::display_text("display_name", &message.display_name, MAX_DISPLAY_NAME_CHARS)?;
        let today = chrono::Utc::now().date_naive();
        let born = check_date_of_birth(&message.date_of_birth, self.ctx.settings.auth.min_age_years, today)?;
        check_password("password", &message.password, &email)?;
        let password_hash = self.passwords.hash(&message.password).await?;
        let now = now_ms();
        let user = User {
            id: uuid::Uuid::now_v7().to_string(),
            email,
            display_name,
            date_of_birth: born.format("%Y-%m-%d").to_string(),
            created_at_ms: now,
        };
        let txn = self.store().begin_write().await.map_err(storage)?;
        if !users::insert(&txn, &user, &password_hash).await.map_err(storage)? {
            return Err(
                Error::new(ErrorCode::AlreadyExists, "an account with this email already exists")
                    .with_field("email")
                    .into(),
            );
        }
        let issued = sessions::create(&txn, &user.id, &client, now, self.refresh_ttl_ms())
            .await
            .map_err(storage)?;
        txn.commit().await.map_err(storage)?;
        self.event(Record {
            event: "user_created",
            user_id: Some(&user.id),
            subject_user_id: None,
            workspace_id: None,
            client: &client,
            success: true,
            detail: "account created".into(),
        })
        .await;
        Ok(Response::new(self.session(user, issued)))
    }

    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<Session>, Status> {
        Self::require_caller(&request, FRONT_DOOR)?;
        let message = request.into_inner();
        let client = client(message.client.as_ref());
        // A malformed email is just a wrong credential here: no hint what is wrong.
        let email = smez_kit::text::normalize_email("email", &message.email).map_err(|_| wrong_credentials())?;
        if message.password.len() > crate::signup::MAX_PASSWORD_BYTES {
            return Err(wrong_credentials());
        }
        let user = self.check_credentials(&email, &message.password, &client).await?;
        let issued = sessions::create(
            self.store().connection(),
            &user.user.id,
            &client,
            now_ms(),
            self.refresh_ttl_ms(),
        )
        .await
        .map_err(storage)?;
        self.event(Record {
            event: "authn_login_success",
            user_id: Some(&user.user.id),
            subject_user_id: None,
            workspace_id: None,
            client: &client,
            success: true,
            detail: format!("session {}", issued.session_id),
        })
        .await;
        Ok(Response::new(self.session(user.user, issued)))
    }

    async fn refresh(&self, request: Request<RefreshRequest>) -> Result<Response<Session>, Status> {
        Self::require_caller(&request, FRONT_DOOR)?;
        let message = request.into_inner();
        let client = client(message.client.as_ref());
        if message.refresh_token.is_empty() {
            return Err(Error::unauthenticated("a refresh token is required").into());
        }
        let now = now_ms();
        let txn = self.store().begin_write().await.map_err(storage)?;
        match sessions::present(&txn, &message.refresh_token, &client, now)
            .await
            .map_err(storage)?
        {
            Presented::Rotated { session_id, user_id } => {
                let user = users::by_id(&txn, &user_id)
                    .await
                    .map_err(storage)?
                    .ok_or_else(|| Status::from(Error::unauthenticated("the account no longer exists")))?;
                let issued = sessions::continue_session(&txn, &session_id, &user_id, now, self.refresh_ttl_ms())
                    .await
                    .map_err(storage)?;
                txn.commit().await.map_err(storage)?;
                Ok(Response::new(self.session(user.user, issued)))
            }
            Presented::Reused { session_id, user_id } => {
                sessions::revoke(&txn, &user_id, &session_id, "refresh_token_reuse", now)
                    .await
                    .map_err(storage)?;
                txn.commit().await.map_err(storage)?;
                self.event(Record {
                    event: "authn_token_reuse",
                    user_id: Some(&user_id),
                    subject_user_id: None,
                    workspace_id: None,
                    client: &client,
                    success: false,
                    detail: format!("a rotated refresh token was presented again; session {session_id} revoked"),
                })
                .await;
                Err(Error::unauthenticated("this refresh token was already used; the session is revoked").into())
            }
            Presented::Superseded => {
                txn.rollback().await.map_err(storage)?;
                Err(Error::unauthenticated(
                    "this refresh token was just replaced by a parallel refresh; use the newest one",
                )
                .into())
            }
            Presented::Invalid => {
                txn.rollback().await.map_err(storage)?;
                Err(Error::unauthenticated("the refresh token is not valid; sign in again").into())
            }
        }
    }

    async fn logout(&self, request: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        Self::require_caller(&request, FRONT_DOOR)?;
        let message = request.into_inner();
        let client = client(message.client.as_ref());
        let db = self.store().connection();
        let target = if !message.refresh_token.is_empty() {
            sessions::of_token(db, &message.refresh_token).await.map_err(storage)?
        } else if !message.session_id.is_empty() && !message.user_id.is_empty() {
            Some((message.session_id.clone(), message.user_id.clone()))
        } else {
            return Err(Error::invalid_field("refresh_token", "a refresh token or a session is required").into());
        };
        if let Some((session_id, user_id)) = target
            && sessions::revoke(db, &user_id, &session_id, "logout", now_ms())
                .await
                .map_err(storage)?
        {
            self.event(Record {
                event: "session_logout",
                user_id: Some(&user_id),
                subject_user_id: None,
                workspace_id: None,
                client: &client,
                success: true,
                detail: format!("session {session_id} ended"),
            })
            .await;
        }
        Ok(Response::new(LogoutResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<ChangePasswordResponse>, Status> {
        Self::require_caller(&request, FRONT_DOOR)?;
        let message = request.into_inner();
        let client = client(message.client.as_ref());
        let email = self.user_email(&message.user_id).await?;
        check_password("new_password", &message.new_password, &email)?;
        let user = self
            .check_credentials(&email, &message.current_password, &client)
            .await
            .map_err(|status| match status.code() {
                tonic::Code::Unauthenticated => {
                    Error::invalid_field("current_password", "the current password is wrong").into()
                }
                _ => status,
            })?;
        let password_hash = self.passwords.hash(&message.new_password).await?;
        let now = now_ms();
        let txn = self.store().begin_write().await.map_err(storage)?;
        users::set_password(&txn, &user.user.id, &password_hash, now)
            .await
            .map_err(storage)?;
        let revoked = sessions::revoke_others(&txn, &user.user.id, &message.keep_session_id, "password_change", now)
            .await
            .map_err(storage)?;
        txn.commit().await.map_err(storage)?;
        self.event(Record {
            event: "authn_password_change",
            user_id: Some(&user.user.id),
            subject_user_id: None,
            workspace_id: None,
            client: &client,
            success: true,
            detail: format!("password changed; {revoked} other session(s) revoked"),
        })
        .await;
        Ok(Response::new(ChangePasswordResponse {
            revoked_sessions: revoked as u32,
        }))
    }

    async fn delete_account(
        &self,
        request: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        Self::require_caller(&request, FRONT_DOOR)?;
        let message = request.into_inner();
        let client = client(message.client.as_ref());
        let email = self.user_email(&message.user_id).await?;
        let user = self
            .check_credentials(&email, &message.password, &client)
            .await
            .map_err(|status| match status.code() {
                tonic::Code::Unauthenticated => Error::invalid_field("password", "the password is wrong").into(),
                _ => status,
            })?;
        let user_id = user.user.id.as_str();
        // Cross-tenant: the user's security events span workspaces.
        let txn = self.store().begin_cross_tenant().await.map_err(storage)?;
        let result: Result<(), DbErr> = async {
            // Every table with a user_id column: the account, its sessions,
            // refresh tokens and the security events the user performed.
            Store::purge_user(&txn, user_id).await?;
            security_log::delete_about(&txn, user_id).await?;
            throttle::clear(&txn, &throttle::account_key(&email)).await?;
            security_log::insert(
                &txn,
                &Record {
                    event: "user_deleted",
                    user_id: None,
                    subject_user_id: None,
                    workspace_id: None,
                    client: &client,
                    success: true,
                    detail: "an account was deleted at its owner's request".into(),
                },
            )
            .await?;
            // The first announcement names the email: invitations to it go too.
            purge::request_announcing(&txn, Subject::User(user_id), &purge::user_deleted(user_id, &email)).await
        }
        .await;
        result.map_err(storage)?;
        txn.commit().await.map_err(storage)?;
        self.store().outbox_written();
        tracing::info!(user_id, "account deleted; other services are purging");
        Ok(Response::new(DeleteAccountResponse {}))
    }

    async fn check_session(
        &self,
        request: Request<CheckSessionRequest>,
    ) -> Result<Response<CheckSessionResponse>, Status> {
        Self::require_caller(&request, FRONT_DOOR)?;
        let message = request.get_ref();
        let live = sessions::is_live(
            self.store().connection(),
            &message.session_id,
            &message.user_id,
            now_ms(),
        )
        .await
        .map_err(storage)?;
        if live {
            Ok(Response::new(CheckSessionResponse {}))
        } else {
            Err(Error::unauthenticated("the session has ended; sign in again").into())
        }
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        caller(&request)?;
        let user = users::by_id(self.store().connection(), &request.get_ref().user_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Status::from(Error::not_found("no such user")))?;
        Ok(Response::new(user.user))
    }

    async fn lookup_users(
        &self,
        request: Request<LookupUsersRequest>,
    ) -> Result<Response<LookupUsersResponse>, Status> {
        caller(&request)?;
        let ids = &request.get_ref().user_ids;
        if ids.len() > MAX_LOOKUP {
            return Err(Error::invalid_field("user_ids", format!("at most {MAX_LOOKUP} ids at once")).into());
        }
        let mut users = users::by_ids(self.store().connection(), ids).await.map_err(storage)?;
        // Member lists need names and emails, not birth dates.
        for user in &mut users {
            user.date_of_birth.clear();
        }
        Ok(Response::new(LookupUsersResponse { users }))
    }

    async fn get_jwks(&self, request: Request<GetJwksRequest>) -> Result<Response<Jwks>, Status> {
        caller(&request)?;
        Ok(Response::new(Jwks {
            json: self.signer.jwks().to_string(),
        }))
    }

    async fn record_security_event(
        &self,
        request: Request<RecordSecurityEventRequest>,
    ) -> Result<Response<RecordSecurityEventResponse>, Status> {
        Self::require_caller(&request, EVENT_WRITERS)?;
        let event = request
            .into_inner()
            .event
            .ok_or_else(|| Status::from(Error::invalid_field("event", "event is required")))?;
        let name_ok = !event.event.is_empty()
            && event.event.len() <= 64
            && event.event.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if !name_ok {
            return Err(Error::invalid_field("event.event", "an event name is lowercase letters and `_`").into());
        }
        let client = ClientInfo {
            ip: event.ip.clone(),
            user_agent: event.user_agent.clone(),
        };
        self.event(Record {
            event: &event.event,
            user_id: event.user_id.as_deref(),
            subject_user_id: event.subject_user_id.as_deref(),
            workspace_id: event.workspace_id.as_deref(),
            client: &client,
            success: event.outcome == "success",
            detail: event.detail.clone(),
        })
        .await;
        Ok(Response::new(RecordSecurityEventResponse {}))
    }

    async fn list_security_events(
        &self,
        request: Request<ListSecurityEventsRequest>,
    ) -> Result<Response<ListSecurityEventsResponse>, Status> {
        Self::require_caller(&request, FRONT_DOOR)?;
        let message = request.into_inner();
        if message.workspace_id.is_empty() {
            return Err(Error::invalid_field("workspace_id", "workspace_id is required").into());
        }
        let limit = match message.limit {
            0 => DEFAULT_EVENTS_PAGE,
            n => n.min(MAX_EVENTS_PAGE),
        };
        let events = security_log::list(self.store(), &message.workspace_id, limit, &message.before)
            .await
            .map_err(storage)?;
        let next_before = if events.len() as u32 == limit {
            events.last().map(|e| e.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListSecurityEventsResponse { events, next_before }))
    }
}
