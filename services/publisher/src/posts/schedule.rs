//! When a post is due: now, an RFC 3339 instant, or a wall time in an IANA
//! time zone. A wall time that a daylight-saving change skips or repeats is
//! resolved by one documented rule, and the answer says which applied:
//!
//! - **gap** (spring forward: 02:30 does not exist in New York on the day
//!   clocks go from 02:00 to 03:00): the wall time is read with the offset in
//!   force just before the gap, so it lands as far past the gap as it was
//!   into it (02:30 → 03:30 local, 07:30 UTC). Nothing scheduled in the gap
//!   is dropped, and the order of posts is kept.
//! - **fold** (fall back: 01:30 happens twice): the earlier of the two, the
//!   first time the clock shows it (01:30 EDT, 05:30 UTC).

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use smez_kit::Error;

/// How the user said when.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct When {
    /// An RFC 3339 instant, or `now`.
    pub publish_at: Option<String>,
    /// A wall time (`2027-03-14T02:30`, seconds optional) in `time_zone`.
    pub local_time: Option<String>,
    pub time_zone: Option<String>,
}

/// A resolved schedule, as stored and shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub publish_at: DateTime<Utc>,
    /// `now`, `instant` or `local`.
    pub kind: &'static str,
    pub time_zone: Option<String>,
    pub local_time: Option<String>,
    /// `exact`, `gap` or `fold` (see the module's rule).
    pub resolution: &'static str,
}

/// How far back a "now" may be when it arrives (clock skew, a slow request).
const PAST_GRACE: Duration = Duration::seconds(5);

impl When {
    pub fn is_empty(&self) -> bool {
        self.publish_at.is_none() && self.local_time.is_none() && self.time_zone.is_none()
    }

    /// The instant it names, refusing times in the past (as of `now`).
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<Schedule, Error> {
        let immediately = Schedule {
            publish_at: now,
            kind: "now",
            time_zone: None,
            local_time: None,
            resolution: "exact",
        };
        let schedule = match (&self.publish_at, &self.local_time, &self.time_zone) {
            (None, None, None) => immediately,
            (Some(at), None, None) if at == "now" => immediately,
            (Some(at), None, None) => Schedule {
                publish_at: DateTime::parse_from_rfc3339(at)
                    .map_err(|e| {
                        Error::invalid_field(
                            "publish_at",
                            format!("`{at}` is not an RFC 3339 instant (e.g. 2027-01-31T18:00:00Z): {e}"),
                        )
                    })?
                    .with_timezone(&Utc),
                kind: "instant",
                time_zone: None,
                local_time: None,
                resolution: "exact",
            },
            (None, Some(local), Some(zone)) => local_schedule(local, zone)?,
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(Error::invalid_field(
                    "publish_at",
                    "give either publish_at or local_time with time_zone, not both",
                ));
            }
            (None, Some(_), None) => {
                return Err(Error::invalid_field(
                    "time_zone",
                    "local_time needs an IANA time_zone (e.g. America/New_York)",
                ));
            }
            (None, None, Some(_)) => {
                return Err(Error::invalid_field("local_time", "time_zone needs a local_time"));
            }
        };
        if schedule.publish_at < now - PAST_GRACE {
            let field = if schedule.kind == "local" {
                "local_time"
            } else {
                "publish_at"
            };
            return Err(Error::invalid_field(
                field,
                format!(
                    "{} is in the past (it is now {})",
                    schedule.publish_at.to_rfc3339(),
                    now.to_rfc3339()
                ),
            ));
        }
        Ok(schedule)
    }
}

fn local_schedule(local: &str, zone: &str) -> Result<Schedule, Error> {
    let tz: Tz = zone.parse().map_err(|_| {
        Error::invalid_field(
            "time_zone",
            format!("`{zone}` is not an IANA time zone (e.g. Europe/Paris)"),
        )
    })?;
    let wall = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            Error::invalid_field(
                "local_time",
                format!("`{local}` is not a local date-time like 2027-03-14T02:30 (no offset: the zone gives it)"),
            )
        })?;
    let (publish_at, resolution) = wall_to_instant(tz, wall);
    Ok(Schedule {
        publish_at,
        kind: "local",
        time_zone: Some(tz.name().to_owned()),
        local_time: Some(wall.format("%Y-%m-%dT%H:%M:%S").to_string()),
        resolution,
    })
}

/// The instant of a wall time in `tz`, by the module's rule.
pub fn wall_to_instant(tz: Tz, wall: NaiveDateTime) -> (DateTime<Utc>, &'static str) {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(at) => (at.with_timezone(&Utc), "exact"),
        LocalResult::Ambiguous(earlier, _) => (earlier.with_timezone(&Utc), "fold"),
        LocalResult::None => {
            // The offset in force just before the gap: step back until the
            // wall time exists (gaps last at most a few hours).
            let mut before = wall;
            let offset = loop {
                before -= Duration::minutes(15);
                if let Some(at) = tz.from_local_datetime(&before).earliest() {
                    break at.offset().fix();
                }
            };
            let utc = wall - Duration::seconds(i64::from(offset.local_minus_utc()));
            (Utc.from_utc_datetime(&utc), "gap")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn local(time: &str, zone: &str) -> When {
        When {
            publish_at: None,
            local_time: Some(time.into()),
            time_zone: Some(zone.into()),
        }
    }

    const BEFORE_2027: &str = "2026-12-01T00:00:00Z";

    #[test]
    fn spring_forward_gap_moves_past_the_gap() {
        // 2027-03-14: New York goes from 02:00 EST to 03:00 EDT.
        let s = local("2027-03-14T02:30", "America/New_York")
            .resolve(at(BEFORE_2027))
            .unwrap();
        assert_eq!(s.publish_at, at("2027-03-14T07:30:00Z"));
        assert_eq!(s.resolution, "gap");
        assert_eq!(s.local_time.as_deref(), Some("2027-03-14T02:30:00"));
    }

    #[test]
    fn fall_back_fold_takes_the_first() {
        // 2027-11-07: 01:30 happens at EDT (05:30Z) and again at EST (06:30Z).
        let s = local("2027-11-07T01:30", "America/New_York")
            .resolve(at(BEFORE_2027))
            .unwrap();
        assert_eq!(s.publish_at, at("2027-11-07T05:30:00Z"));
        assert_eq!(s.resolution, "fold");
    }

    #[test]
    fn ordinary_wall_times_are_exact() {
        let s = local("2027-07-01T09:00:00", "Europe/Paris")
            .resolve(at(BEFORE_2027))
            .unwrap();
        assert_eq!(s.publish_at, at("2027-07-01T07:00:00Z"));
        assert_eq!((s.kind, s.resolution), ("local", "exact"));
        // A half-hour gap (Lord Howe Island, first Sunday of October 2027).
        let s = local("2027-10-03T02:15", "Australia/Lord_Howe")
            .resolve(at(BEFORE_2027))
            .unwrap();
        assert_eq!(s.resolution, "gap");
        assert_eq!(s.publish_at, at("2027-10-02T15:45:00Z"));
    }

    #[test]
    fn instants_now_and_refusals() {
        let now = at("2027-01-01T00:00:00Z");
        let instant = When {
            publish_at: Some("2027-01-02T10:00:00+02:00".into()),
            ..When::default()
        };
        assert_eq!(instant.resolve(now).unwrap().publish_at, at("2027-01-02T08:00:00Z"));
        assert_eq!(When::default().resolve(now).unwrap().kind, "now");
        let past = When {
            publish_at: Some("2026-12-31T23:00:00Z".into()),
            ..When::default()
        };
        let refusals = [
            (past, "publish_at"),
            (local("2026-12-31T10:00", "Europe/Paris"), "local_time"),
            (local("2027-03-14T02:30", "Mars/Olympus"), "time_zone"),
            (local("14/03/2027 02:30", "Europe/Paris"), "local_time"),
            (
                When {
                    local_time: Some("2027-03-14T02:30".into()),
                    ..When::default()
                },
                "time_zone",
            ),
        ];
        for (when, field) in refusals {
            let error = when.resolve(now).unwrap_err();
            assert_eq!(error.field.as_deref(), Some(field), "{when:?}: {error}");
        }
    }
}
