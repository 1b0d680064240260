//! What Smez asks each platform for, and what each feature needs of it: the
//! scopes requested at connect, those publishing and analytics cannot work
//! without (users may untick some on the consent screen), and whether the
//! platform takes PKCE.

use crate::Platform;

const TIKTOK_PUBLISHING: &[&str] = &["user.info.basic", "video.publish"];
const TIKTOK_ANALYTICS: &[&str] = &["video.list"];

const INSTAGRAM_PUBLISHING: &[&str] = &["instagram_business_basic", "instagram_business_content_publish"];
const INSTAGRAM_ANALYTICS: &[&str] = &[
    "instagram_business_manage_insights",
    "instagram_business_manage_comments",
];

const YOUTUBE_PUBLISHING: &[&str] = &["https://www.googleapis.com/auth/youtube.upload"];
const YOUTUBE_ANALYTICS: &[&str] = &["https://www.googleapis.com/auth/youtube.readonly"];

/// What Smez does with a platform that needs a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Publishing,
    Analytics,
}

impl Platform {
    /// The scopes a feature cannot work without.
    pub fn scopes_for(self, feature: Feature) -> &'static [&'static str] {
        match (self, feature) {
            (Self::TikTok, Feature::Publishing) => TIKTOK_PUBLISHING,
            (Self::TikTok, Feature::Analytics) => TIKTOK_ANALYTICS,
            (Self::Instagram, Feature::Publishing) => INSTAGRAM_PUBLISHING,
            (Self::Instagram, Feature::Analytics) => INSTAGRAM_ANALYTICS,
            (Self::YouTube, Feature::Publishing) => YOUTUBE_PUBLISHING,
            (Self::YouTube, Feature::Analytics) => YOUTUBE_ANALYTICS,
        }
    }

    /// Everything asked for at connect: publishing's scopes, then analytics'.
    pub fn requested_scopes(self) -> Vec<String> {
        [Feature::Publishing, Feature::Analytics]
            .into_iter()
            .flat_map(|feature| self.scopes_for(feature))
            .map(|scope| (*scope).to_owned())
            .collect()
    }

    /// The scopes `feature` needs that `granted` lacks.
    pub fn missing_for(self, feature: Feature, granted: &[String]) -> Vec<String> {
        self.scopes_for(feature)
            .iter()
            .filter(|needed| !granted.iter().any(|g| g == *needed))
            .map(|scope| (*scope).to_owned())
            .collect()
    }

    /// TikTok and Google take PKCE (S256); Meta documents none.
    pub fn supports_pkce(self) -> bool {
        !matches!(self, Self::Instagram)
    }
}

/// A platform name Smez does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown platform `{0}`; use tiktok, instagram or youtube")]
pub struct UnknownPlatform(pub String);

impl std::str::FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| UnknownPlatform(name.chars().take(32).collect()))
    }
}
