//! Workspace roles and the one role → permission matrix. The workspace
//! service answers `CheckPermission` from it; nothing else decides what a
//! role may do.

use std::fmt;
use std::str::FromStr;

/// A member's role in a workspace, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Owner,
    Admin,
    Editor,
    Viewer,
}

/// What a request needs to be allowed to do in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the workspace, its content and analytics.
    ContentRead,
    /// Upload media, edit plans, render, build packages.
    ContentWrite,
    /// Schedule and publish posts.
    PostsPublish,
    /// Connect and disconnect platform accounts.
    IntegrationsManage,
    /// Invite, remove and change the role of members; rename the workspace.
    MembersManage,
    /// Read the workspace's security and audit events.
    SecurityEventsRead,
    /// Delete the workspace or transfer its ownership.
    WorkspaceAdminister,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Editor, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
        }
    }

    /// The matrix (see the README's role table).
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match permission {
            ContentRead => true,
            ContentWrite | PostsPublish => self <= Role::Editor,
            IntegrationsManage | MembersManage | SecurityEventsRead => self <= Role::Admin,
            WorkspaceAdminister => self == Role::Owner,
        }
    }
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Permission::ContentRead,
        Permission::ContentWrite,
        Permission::PostsPublish,
        Permission::IntegrationsManage,
        Permission::MembersManage,
        Permission::SecurityEventsRead,
        Permission::WorkspaceAdminister,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContentRead => "content.read",
            Self::ContentWrite => "content.write",
            Self::PostsPublish => "posts.publish",
            Self::IntegrationsManage => "integrations.manage",
            Self::MembersManage => "members.manage",
            Self::SecurityEventsRead => "security_events.read",
            Self::WorkspaceAdminister => "workspace.administer",
        }
    }
}

/// An unknown role or permission name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown name `{}`", self.0)
    }
}

impl FromStr for Role {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

impl FromStr for Permission {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_matches_the_brief() {
        use Permission::*;
        let expected: [(Permission, [bool; 4]); 7] = [
            (ContentRead, [true, true, true, true]),
            (ContentWrite, [true, true, true, false]),
            (PostsPublish, [true, true, true, false]),
            (IntegrationsManage, [true, true, false, false]),
            (MembersManage, [true, true, false, false]),
            (SecurityEventsRead, [true, true, false, false]),
            (WorkspaceAdminister, [true, false, false, false]),
        ];
        for (permission, by_role) in expected {
            for (role, allowed) in Role::ALL.into_iter().zip(by_role) {
                assert_eq!(role.allows(permission), allowed, "{role} {permission}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for permission in Permission::ALL {
            assert_eq!(permission.as_str().parse::<Permission>(), Ok(permission));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
