//! Where a clip speaks: ffmpeg's `silencedetect` finds the quiet stretches,
//! and what lies between them (with a margin, short gaps merged, specks
//! dropped, cut points on the output's frame grid) is kept, in order.

use std::path::Path;

use tokio::process::Command;

use crate::ffmpeg::run::tail;
use crate::plan::model::FrameRate;

/// How quiet, for how long, counts as dead air; and how cuts are padded.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub noise_db: f64,
    pub min_silence_us: i64,
    /// Kept around speech on each side (auto-editor's default is 0.2 s).
    pub margin_us: i64,
    /// Sound shorter than this between silences is a click or a breath: dropped.
    pub min_speech_us: i64,
    /// Gaps shorter than this between kept stretches are closed.
    pub min_gap_us: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            noise_db: -35.0,
            min_silence_us: 500_000,
            margin_us: 200_000,
            min_speech_us: 150_000,
            min_gap_us: 150_000,
        }
    }
}

/// A stretch of a clip, in microseconds of the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub fn len(self) -> i64 {
        self.end - self.start
    }
}

/// The quiet stretches of `path`'s first audio stream.
pub async fn silences(ffmpeg: &str, path: &Path, rules: &Rules) -> Result<Vec<Span>, String> {
    let filter = format!(
        "silencedetect=noise={}dB:d={}",
        rules.noise_db,
        crate::ffmpeg::secs(rules.min_silence_us)
    );
    let output = Command::new(ffmpeg)
        .args(["-hide_banner", "-nostdin", "-nostats", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-af", &filter, "-f", "null", "-"])
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{ffmpeg} could not run: {e}"))?;
    let said = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("silence detection failed: {}", tail(&said, 400)));
    }
    Ok(parse_silences(&said))
}

/// `silence_start: 2.02` … `silence_end: 3.506 | silence_duration: …` pairs;
/// a start without an end runs to the end of the file.
pub fn parse_silences(said: &str) -> Vec<Span> {
    let number = |line: &str, key: &str| -> Option<i64> {
        let rest = &line[line.find(key)? + key.len()..];
        let value = rest.split_whitespace().next()?.trim_end_matches('|');
        value.parse::<f64>().ok().map(|s| (s.max(0.0) * 1e6).round() as i64)
    };
    let mut spans = Vec::new();
    let mut open = None;
    for line in said.lines() {
        if let Some(start) = number(line, "silence_start: ") {
            open = Some(start);
        } else if let Some(end) = number(line, "silence_end: ") {
            spans.push(Span {
                start: open.take().unwrap_or(0),
                end,
            });
        }
    }
    if let Some(start) = open {
        spans.push(Span { start, end: i64::MAX });
    }
    spans
}

/// Whole frames of `grid` up to `us` (rounded down, or up).
pub fn frames_floor(us: i64, grid: FrameRate) -> i64 {
    to_us(i128::from(us) * i128::from(grid.num) / per_frame(grid), grid)
}

pub fn frames_ceil(us: i64, grid: FrameRate) -> i64 {
    let n = i128::from(grid.num);
    to_us((i128::from(us) * n + per_frame(grid) - 1) / per_frame(grid), grid)
}

fn per_frame(grid: FrameRate) -> i128 {
    i128::from(grid.den.max(1)) * 1_000_000
}

fn to_us(frames: i128, grid: FrameRate) -> i64 {
    let us = (frames * per_frame(grid) + i128::from(grid.num.max(1)) / 2) / i128::from(grid.num.max(1));
    i64::try_from(us).unwrap_or(i64::MAX)
}

/// What to keep of a clip `duration` long with these `silences`, cut points
/// on the output's frame grid.
pub fn speech(duration: i64, silences: &[Span], rules: &Rules, grid: FrameRate) -> Vec<Span> {
    let mut kept = Vec::new();
    let mut from = 0;
    for silence in silences.iter().chain(std::iter::once(&Span {
        start: duration,
        end: duration,
    })) {
        let (start, end) = (silence.start.clamp(0, duration), silence.end.clamp(0, duration));
        if start > from {
            kept.push(Span {
                start: from,
                end: start,
            });
        }
        from = from.max(end);
    }
    let padded = kept
        .into_iter()
        .filter(|s| s.len() >= rules.min_speech_us)
        .map(|s| Span {
            start: (s.start - rules.margin_us).max(0),
            end: (s.end + rules.margin_us).min(duration),
        });
    let mut merged: Vec<Span> = Vec::new();
    for span in padded {
        match merged.last_mut() {
            Some(last) if span.start - last.end < rules.min_gap_us => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
        .into_iter()
        .map(|s| Span {
            start: frames_floor(s.start, grid),
            end: frames_ceil(s.end, grid).min(frames_floor(duration, grid)),
        })
        .filter(|s| s.len() > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: FrameRate = FrameRate { num: 100, den: 1 }; // a 100 fps grid keeps the arithmetic readable

    #[test]
    fn cut_points_snap_to_whole_frames() {
        let fps = FrameRate { num: 30, den: 1 };
        assert_eq!(frames_floor(2_200_000, fps), 2_200_000);
        assert_eq!(frames_ceil(2_210_000, fps), 2_233_333);
        assert_eq!(frames_floor(2_210_000, fps), 2_200_000);
        let ntsc = FrameRate { num: 30_000, den: 1001 };
        assert_eq!(frames_ceil(1_000_000, ntsc), 1_001_000);
    }

    #[test]
    fn ffmpeg_output_is_read() {
        let said = "[silencedetect @ 0x1] silence_start: 2.02\n[silencedetect @ 0x1] silence_end: 3.506 | silence_duration: 1.486\n\
                    [silencedetect @ 0x1] silence_start: 6.014\n[silencedetect @ 0x1] silence_end: 6.803 | silence_duration: 0.789\n\
                    [silencedetect @ 0x1] silence_start: 9.5\n";
        assert_eq!(
            parse_silences(said),
            [
                Span {
                    start: 2_020_000,
                    end: 3_506_000
                },
                Span {
                    start: 6_014_000,
                    end: 6_803_000
                },
                Span {
                    start: 9_500_000,
                    end: i64::MAX
                },
            ]
        );
    }

    #[test]
    fn speech_is_kept_with_margins_and_gaps_closed() {
        let silences = [
            Span {
                start: 2_000_000,
                end: 3_500_000,
            },
            // 0.25 s of speech between two silences: padded to 0.65 s, kept.
            Span {
                start: 6_000_000,
                end: 6_800_000,
            },
            Span {
                start: 7_050_000,
                end: 8_000_000,
            },
            // A 0.1 s blip: dropped.
            Span {
                start: 8_100_000,
                end: 10_000_000,
            },
        ];
        let kept = speech(10_000_000, &silences, &Rules::default(), FRAME);
        assert_eq!(
            kept,
            [
                Span {
                    start: 0,
                    end: 2_200_000
                },
                Span {
                    start: 3_300_000,
                    end: 6_200_000
                },
                Span {
                    start: 6_600_000,
                    end: 7_250_000
                },
            ]
        );
    }

    #[test]
    fn close_stretches_merge_and_silence_everywhere_keeps_nothing() {
        let kept = speech(
            3_000_000,
            &[Span {
                start: 1_000_000,
                end: 1_500_000,
            }],
            &Rules {
                margin_us: 200_000,
                min_gap_us: 150_000,
                ..Rules::default()
            },
            FRAME,
        );
        // 1.0–1.5 s of silence leaves 0.1 s between the padded stretches: closed.
        assert_eq!(
            kept,
            [Span {
                start: 0,
                end: 3_000_000
            }]
        );
        assert!(
            speech(
                3_000_000,
                &[Span {
                    start: 0,
                    end: i64::MAX
                }],
                &Rules::default(),
                FRAME
            )
            .is_empty()
        );
    }
}
