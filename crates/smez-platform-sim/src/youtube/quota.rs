//! The project's daily quota (§4): units per Pacific day and a separate
//! count of uploads; every request is charged, even one that fails.

use super::*;

#[derive(Default)]
/// What today has used.
pub(super) struct Quota {
    pub(super) day: i64,
    pub(super) uploads: u64,
    pub(super) units: u64,
}

/// The Pacific-time day `now` falls in, when the quota resets.
pub(super) fn pacific_day(now: DateTime<Utc>) -> i64 {
    (now.timestamp() + PACIFIC_OFFSET_SECS).div_euclid(86_400)
}

/// What a request is charged to: an upload call, or units.
pub(super) enum Bucket {
    Uploads,
    Units(u64),
}

impl YouTubeSim {
    /// Charges the project's quota (every request costs, even an invalid one).
    #[allow(clippy::result_large_err, reason = "the error is the handler's early answer")]
    pub(super) fn charge(&self, bucket: Bucket) -> Result<(), Response> {
        let day = pacific_day(self.now());
        let mut state = self.state.lock().expect("youtube lock");
        let quota = &mut state.quota;
        if quota.day != day {
            *quota = Quota {
                day,
                ..Quota::default()
            };
        }
        let exceeded = match bucket {
            Bucket::Uploads if quota.uploads >= self.core.limit_u64(UPLOAD_CALLS_PER_DAY) => true,
            Bucket::Uploads => {
                quota.uploads += 1;
                false
            }
            Bucket::Units(n) if quota.units + n > self.core.limit_u64(UNITS_PER_DAY) => true,
            Bucket::Units(n) => {
                quota.units += n;
                false
            }
        };
        if exceeded {
            return Err(google_error(
                403,
                "quotaExceeded",
                "youtube.quota",
                concat!(
                    "The request cannot be completed because you have exceeded your ",
                    "<a href=\"/youtube/v3/getting-started#quota\">quota</a>."
                ),
            ));
        }
        Ok(())
    }
}
