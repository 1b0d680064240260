//! The accounts a token acts for: one with Instagram Login, those of the
//! user's Pages with Facebook Login.

use serde_json::Value;

use super::{Instagram, id_of, malformed};
use crate::{AccountProfile, PlatformError};

impl Instagram {
    pub(super) async fn ig_account(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError> {
        let me = self
            .graph_get(
                "profile",
                access_token,
                "me",
                &[("fields", "id,user_id,username,name,profile_picture_url")],
            )
            .await?;
        Ok(vec![profile(&me).ok_or_else(|| malformed("profile"))?])
    }

    pub(super) async fn fb_accounts(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError> {
        let pages = self
            .graph_get(
                "accounts",
                access_token,
                "me/accounts",
                &[(
                    "fields",
                    "id,name,instagram_business_account{id,username,name,profile_picture_url}",
                )],
            )
            .await?;
        Ok(pages["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|page| profile(&page["instagram_business_account"]))
            .collect())
    }
}

/// An Instagram professional account as `/me` or `instagram_business_account` give it.
fn profile(me: &Value) -> Option<AccountProfile> {
    let id = id_of(&me["user_id"]).or_else(|| id_of(&me["id"]))?;
    let username = me["username"].as_str().unwrap_or_default().to_owned();
    Some(AccountProfile {
        id,
        display_name: me["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(&username)
            .to_owned(),
        username,
        avatar_url: me["profile_picture_url"].as_str().map(str::to_owned),
    })
}
