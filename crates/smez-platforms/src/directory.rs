//! The adapters a process can use, one per configured platform.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{Endpoints, Platform, PlatformAdapter};

#[derive(Clone, Default)]
pub struct Adapters(HashMap<Platform, Arc<dyn PlatformAdapter>>);

impl Adapters {
    /// One adapter per platform with resolved endpoints (real hosts or simulators).
    pub fn from_endpoints(endpoints: impl IntoIterator<Item = (Platform, Endpoints)>) -> Self {
        Self(
            endpoints
                .into_iter()
                .map(|(platform, endpoints)| (platform, adapter(platform, endpoints)))
                .collect(),
        )
    }

    /// `None` when the platform is not configured in this process.
    pub fn get(&self, platform: Platform) -> Option<Arc<dyn PlatformAdapter>> {
        self.0.get(&platform).cloned()
    }

    pub fn configured(&self) -> Vec<Platform> {
        Platform::ALL.into_iter().filter(|p| self.0.contains_key(p)).collect()
    }
}

fn adapter(platform: Platform, endpoints: Endpoints) -> Arc<dyn PlatformAdapter> {
    match platform {
        Platform::TikTok => Arc::new(crate::tiktok::TikTok::new(endpoints)),
        Platform::Instagram => Arc::new(crate::instagram::Instagram::new(endpoints)),
        Platform::YouTube => Arc::new(crate::youtube::YouTube::new(endpoints)),
    }
}

impl std::fmt::Debug for Adapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.configured()).finish()
    }
}
