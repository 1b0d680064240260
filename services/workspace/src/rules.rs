//! The domain rules, free of storage and transport: what a valid name or
//! email is, which roles may do what to whom, and the last-owner invariant
//! (a workspace always keeps at least one owner). What a role may do is
//! `smez_kit::roles`'s matrix; this module only adds the rules about roles
//! acting on other roles.

use smez_kit::roles::{Permission, Role};
use smez_kit::text;

use crate::error::WorkspaceError;

/// Longest workspace name, in characters (not bytes).
pub const MAX_NAME_CHARS: usize = 100;

/// A workspace name as stored: trimmed, 1..=100 characters, no control
/// characters. Anything else (quotes, markup, SQL) is kept verbatim; it is
/// only ever bound as a parameter and escaped by whoever renders it.
pub fn workspace_name(raw: &str) -> Result<String, WorkspaceError> {
    text::display_text("name", raw, MAX_NAME_CHARS).map_err(WorkspaceError::Rejected)
}

/// An email address in the canonical form (trimmed, lowercased) that auth
/// also gives accounts, so an invitation compares equal to the invitee's
/// account email; refused when it cannot be an address.
pub fn email(field: &'static str, raw: &str) -> Result<String, WorkspaceError> {
    text::normalize_email(field, raw).map_err(WorkspaceError::Rejected)
}

/// A role named in a request (`field` names the request field at fault).
pub fn parse_role(raw: &str, field: &'static str) -> Result<Role, WorkspaceError> {
    raw.trim()
        .parse()
        .map_err(|_| WorkspaceError::invalid(field, format!("unknown role; one of {}", role_names(&Role::ALL))))
}

/// The role of an invitation: anything but owner (ownership is transferred, never invited).
pub fn invitable_role(raw: &str) -> Result<Role, WorkspaceError> {
    const INVITABLE: [Role; 3] = [Role::Admin, Role::Editor, Role::Viewer];
    match parse_role(raw, "role")? {
        Role::Owner => Err(WorkspaceError::invalid(
            "role",
            format!(
                "nobody is invited as owner (transfer ownership instead); one of {}",
                role_names(&INVITABLE)
            ),
        )),
        role => Ok(role),
    }
}

fn role_names(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

/// Refuses a member whose role lacks `permission`.
pub fn require(role: Role, permission: Permission) -> Result<(), WorkspaceError> {
    if role.allows(permission) {
        Ok(())
    } else {
        Err(WorkspaceError::Forbidden(format!(
            "the {role} role does not allow {permission}"
        )))
    }
}

/// The stronger of two roles (`Role` orders strongest first).
pub fn stronger(a: Role, b: Role) -> Role {
    a.min(b)
}

/// Whether `actor` (who holds members.manage) may give `target`'s member the
/// role `new`, with `owners` owners in the workspace now.
pub fn check_role_change(actor: Role, target: Role, new: Role, owners: u64) -> Result<(), WorkspaceError> {
    if target == Role::Owner && actor != Role::Owner {
        return Err(WorkspaceError::Forbidden(
            "only an owner can change an owner's role".into(),
        ));
    }
    if new == Role::Owner && actor != Role::Owner {
        return Err(WorkspaceError::Forbidden(
            "only an owner can make someone an owner".into(),
        ));
    }
    if target == Role::Owner && new != Role::Owner && owners <= 1 {
        return Err(WorkspaceError::Precondition(
            "this is the workspace's last owner: make another member owner first".into(),
        ));
    }
    Ok(())
}

/// Whether `actor` may remove `target`'s member (`is_self`: the actor leaves),
/// with `owners` owners in the workspace now.
pub fn check_removal(actor: Role, target: Role, is_self: bool, owners: u64) -> Result<(), WorkspaceError> {
    if is_self {
        // Leaving needs no permission, but a workspace never loses its last owner.
        if actor == Role::Owner && owners <= 1 {
            return Err(WorkspaceError::Precondition(
                "the last owner can't leave: transfer ownership or delete the workspace".into(),
            ));
        }
        return Ok(());
    }
    require(actor, Permission::MembersManage)?;
    if target == Role::Owner && actor != Role::Owner {
        return Err(WorkspaceError::Forbidden("only an owner can remove an owner".into()));
    }
    Ok(())
}
