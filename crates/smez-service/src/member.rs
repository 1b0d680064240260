//! The member a gateway call is made for: services that act for users take
//! the user, the workspace and the role from the caller's internal token,
//! never from the request, and check the role again themselves (the gateway
//! checked first; this is the second wall).

use smez_kit::Error;
use smez_kit::roles::{Permission, Role};
use tonic::{Request, Status};

/// The one service that acts for users (the browser-facing edge).
pub const GATEWAY: &str = "gateway";

#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: String,
    pub workspace_id: String,
    pub role: String,
}

/// The member the gateway acts for, if the member's role allows `permission`.
pub fn acting_member<T>(request: &Request<T>, rpc: &'static str, permission: Permission) -> Result<Member, Status> {
    let caller = smez_kit::grpc::caller(request)?;
    if caller.service != GATEWAY {
        tracing::warn!(caller = %caller.service, rpc, "authz_fail: only the gateway may act for users here");
        return Err(Error::permission_denied(format!("the {} service may not call {rpc}", caller.service)).into());
    }
    let on_behalf_of = caller
        .on_behalf_of
        .as_ref()
        .ok_or_else(|| Error::unauthenticated("this call must name the member it is made for"))?;
    let (Some(workspace_id), Some(role)) = (&on_behalf_of.workspace_id, &on_behalf_of.role) else {
        return Err(Error::unauthenticated("this call must name the workspace and the member's role").into());
    };
    let allowed = role.parse::<Role>().is_ok_and(|role| role.allows(permission));
    if !allowed {
        return Err(Error::permission_denied(format!("{permission} is needed")).into());
    }
    Ok(Member {
        user_id: on_behalf_of.user_id.clone(),
        workspace_id: workspace_id.clone(),
        role: role.clone(),
    })
}

/// Refuses a call unless the `service` named is the caller (queries one
/// service offers another, such as render's packages for the publisher).
pub fn only_from<T>(request: &Request<T>, service: &str, rpc: &str) -> Result<(), Status> {
    let caller = smez_kit::grpc::caller(request)?;
    if caller.service != service {
        tracing::warn!(caller = %caller.service, rpc, "authz_fail: only the {service} service may call this");
        return Err(Error::permission_denied(format!("the {} service may not call {rpc}", caller.service)).into());
    }
    Ok(())
}
