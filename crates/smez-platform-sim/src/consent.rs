//! The simulated consent screen: an authorize request redirects straight
//! back, approving everything, unless a test asked for something else for
//! the next authorize of a platform.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What the next authorize of one platform does.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NextConsent {
    /// The user clicks "deny": the redirect carries `error=access_denied`.
    #[serde(default)]
    pub deny: bool,
    /// The user unticks these scopes: they are not granted.
    #[serde(default)]
    pub untick: Vec<String>,
    /// How many accounts the login holds (Google channels, Instagram
    /// accounts behind a Facebook login); 1 by default.
    #[serde(default)]
    pub accounts: Option<u32>,
}

#[derive(Default)]
pub struct Consent {
    next: Mutex<HashMap<String, NextConsent>>,
}

impl Consent {
    pub fn set(&self, platform: &str, consent: NextConsent) {
        self.next
            .lock()
            .expect("consent lock")
            .insert(platform.to_owned(), consent);
    }

    /// The consent for this authorize (used up).
    pub fn take(&self, platform: &str) -> NextConsent {
        self.next
            .lock()
            .expect("consent lock")
            .remove(platform)
            .unwrap_or_default()
    }
}
