//! ffmpeg from Rust: the render's filter graph ([`compose`]) and captions
//! ([`ass`]), running it with progress and cancellation ([`run`]), loudness
//! ([`loudness`]), and checking what came out ([`verify`]) — ffmpeg's exit
//! code is not proof of a good file.

pub mod ass;
pub mod compose;
pub mod fonts;
pub mod loudness;
pub mod run;
pub mod verify;

/// Seconds with microsecond precision, as ffmpeg arguments take them.
pub fn secs(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    format!("{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_keep_microseconds() {
        assert_eq!(super::secs(2_202_000), "2.202000");
        assert_eq!(super::secs(33_367), "0.033367");
        assert_eq!(super::secs(-1_500_000), "-1.500000");
    }
}
