//! Rational time, as OpenTimelineIO counts it but without floats: a whole
//! number of ticks at a whole-number rate. Comparisons are exact (cross
//! multiplication), so a plan's in and out points never drift by rounding.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RationalTime {
    pub value: i64,
    /// Ticks per second (1000 for milliseconds, 30 for frames at 30 fps).
    pub rate: u32,
}

impl RationalTime {
    pub const ZERO: RationalTime = RationalTime { value: 0, rate: 1 };

    pub const fn new(value: i64, rate: u32) -> Self {
        Self { value, rate }
    }

    pub fn from_millis(ms: i64) -> Self {
        Self::new(ms, 1000)
    }

    /// Microseconds, rounded to the nearest (what ffmpeg arguments take).
    /// A zero rate counts as zero: validation refuses it before anyone asks.
    pub fn micros(self) -> i64 {
        if self.rate == 0 {
            return 0;
        }
        let scaled = i128::from(self.value) * 1_000_000;
        let rate = i128::from(self.rate);
        let rounded = (scaled + scaled.signum() * rate / 2) / rate;
        i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
    }

    pub fn seconds(self) -> f64 {
        if self.rate == 0 {
            0.0
        } else {
            self.value as f64 / f64::from(self.rate)
        }
    }

    /// `self - other`, exactly, at a rate both divide (their lowest common multiple).
    pub fn minus(self, other: RationalTime) -> RationalTime {
        let rate = lcm(self.rate.max(1), other.rate.max(1));
        let at = |t: RationalTime| i128::from(t.value) * i128::from(rate / t.rate.max(1));
        let value = at(self) - at(other);
        RationalTime::new(i64::try_from(value).unwrap_or(i64::MAX), rate)
    }

    fn scaled(self, other: RationalTime) -> (i128, i128) {
        (
            i128::from(self.value) * i128::from(other.rate),
            i128::from(other.value) * i128::from(self.rate),
        )
    }
}

impl PartialEq for RationalTime {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RationalTime {}

impl PartialOrd for RationalTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RationalTime {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = self.scaled(*other);
        a.cmp(&b)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn lcm(a: u32, b: u32) -> u32 {
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_rates_exactly() {
        assert_eq!(RationalTime::new(30, 30), RationalTime::new(1000, 1000));
        assert!(RationalTime::new(1001, 30_000) < RationalTime::new(34, 1000));
        assert!(RationalTime::new(1001, 30_000) > RationalTime::new(33, 1000));
    }

    #[test]
    fn micros_round_to_the_nearest() {
        assert_eq!(RationalTime::new(1001, 30_000).micros(), 33_367);
        assert_eq!(RationalTime::new(-1, 3).micros(), -333_333);
        assert_eq!(RationalTime::from_millis(2202).micros(), 2_202_000);
    }

    #[test]
    fn differences_are_exact() {
        let d = RationalTime::new(2, 3).minus(RationalTime::new(1, 2));
        assert_eq!(d, RationalTime::new(1, 6));
        assert_eq!(d.rate, 6);
    }
}
