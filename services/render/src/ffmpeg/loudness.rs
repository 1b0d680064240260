//! Loudness to the plan's target (EBU R128), in two passes as loudnorm
//! works best: measure the mixed sound, then normalise it linearly with
//! those measurements while the picture is copied untouched. Then AAC-LC
//! 48 kHz stereo in an MP4 whose index (moov) comes first.

use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;

use super::run::progress_args;

/// The true-peak ceiling and loudness range loudnorm is given.
const TRUE_PEAK: f64 = -1.5;
const RANGE: f64 = 11.0;

/// What loudnorm's first pass measured (its JSON print).
#[derive(Clone, Debug, Deserialize)]
pub struct Measured {
    pub input_i: String,
    pub input_tp: String,
    pub input_lra: String,
    pub input_thresh: String,
    pub target_offset: String,
}

impl Measured {
    /// Silence measures as `-inf`: nothing to normalise.
    pub fn is_silent(&self) -> bool {
        self.input_i
            .parse::<f64>()
            .map_or(true, |i| !i.is_finite() || i < -69.0)
    }
}

pub fn measure_args(input: &Path, target_lufs: f64) -> Vec<OsString> {
    let mut args = progress_args(false);
    args.push("-i".into());
    args.push(input.into());
    args.extend(
        [
            "-map".to_owned(),
            "0:a".to_owned(),
            "-af".to_owned(),
            format!("loudnorm=I={target_lufs}:TP={TRUE_PEAK}:LRA={RANGE}:print_format=json"),
            "-f".to_owned(),
            "null".to_owned(),
            "-".to_owned(),
        ]
        .map(OsString::from),
    );
    args
}

/// The measurements from the first pass's stderr (its last JSON object).
pub fn parse_measured(stderr: &str) -> Result<Measured, String> {
    let start = stderr
        .rfind('{')
        .ok_or_else(|| "loudnorm printed no measurements".to_owned())?;
    let end = stderr[start..]
        .find('}')
        .map(|e| start + e + 1)
        .ok_or_else(|| "loudnorm's measurements are cut short".to_owned())?;
    serde_json::from_str(&stderr[start..end]).map_err(|e| format!("loudnorm's measurements: {e}"))
}

pub fn finish_args(input: &Path, measured: &Measured, target_lufs: f64, output: &Path) -> Vec<OsString> {
    let mut args = progress_args(true);
    args.push("-i".into());
    args.push(input.into());
    let filter = if measured.is_silent() {
        "aresample=48000".to_owned()
    } else {
        // loudnorm works at 192 kHz inside: back to 48 kHz after it.
        format!(
            "loudnorm=I={target_lufs}:TP={TRUE_PEAK}:LRA={RANGE}:measured_I={}:measured_TP={}:measured_LRA={}:\
             measured_thresh={}:offset={}:linear=true,aresample=48000",
            measured.input_i, measured.input_tp, measured.input_lra, measured.input_thresh, measured.target_offset
        )
    };
    args.extend(
        [
            "-map",
            "0:v",
            "-map",
            "0:a",
            "-c:v",
            "copy",
            "-af",
            &filter,
            "-c:a",
            "aac",
            "-b:a",
            "160k",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ]
        .map(OsString::from),
    );
    args.push(output.into());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurements_come_from_the_last_json_block() {
        let stderr = "noise {\"x\": 1}\n[Parsed_loudnorm_0 @ 0x5] \n{\n\t\"input_i\" : \"-23.51\",\n\t\"input_tp\" : \"-5.02\",\n\t\"input_lra\" : \"3.80\",\n\t\"input_thresh\" : \"-33.80\",\n\t\"output_i\" : \"-14.2\",\n\t\"normalization_type\" : \"dynamic\",\n\t\"target_offset\" : \"0.20\"\n}\n";
        let measured = parse_measured(stderr).unwrap();
        assert_eq!(measured.input_i, "-23.51");
        assert!(!measured.is_silent());
        let silent = parse_measured("{\"input_i\": \"-inf\", \"input_tp\": \"-inf\", \"input_lra\": \"0.00\", \"input_thresh\": \"-70.00\", \"target_offset\": \"0.00\"}").unwrap();
        assert!(silent.is_silent());
    }
}
