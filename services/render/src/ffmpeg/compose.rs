//! The render as one ffmpeg run: every clip normalised on its own branch of
//! one filter graph (upright, square pixels, tone-mapped to SDR BT.709 when
//! HDR, constant frame rate, fitted to the frame, exactly its length, sound
//! at 48 kHz stereo or silence), joined, overlaid, captioned, and the music
//! bed mixed under the speech. The picture is encoded once, to its final
//! H.264; the sound goes out as PCM for the loudness passes. The work file
//! is QuickTime, not Matroska: Matroska's millisecond timestamps would turn
//! 30 fps into frames of 33 and 34 ms once copied into the MP4.
//!
//! Timestamps: every branch ends `setpts=PTS-STARTPTS` at the output rate,
//! and every clip is padded then trimmed to its planned length, so the
//! timeline is the plan's to the frame whatever the inputs' timing was
//! (variable frame rate, audio a little longer than video, …).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write;
use std::path::Path;

use super::run::progress_args;
use super::secs;
use crate::plan::model::{EditPlan, Fit, OverlayKind};
use crate::plan::validate::{MediaFacts, MediaKind};

/// A medium of the plan, fetched to a local file.
pub struct Source<'a> {
    pub path: &'a Path,
    pub facts: MediaFacts,
}

pub struct Encoder<'a> {
    pub preset: &'a str,
    pub crf: u32,
}

/// The audio format every branch is brought to before they meet.
const AUDIO: &str = "aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo";
/// HDR (PQ or HLG) to SDR BT.709 (zimg's linearisation, Hable's curve).
const TONEMAP: &str = "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,\
     zscale=t=bt709:m=bt709:r=tv";

/// ffmpeg's arguments: inputs, the graph, and the encoder, writing `output`
/// (QuickTime: H.264 and PCM). `ass`: the captions script, when there is text.
pub fn args(
    plan: &EditPlan,
    sources: &HashMap<String, Source<'_>>,
    ass: Option<&Path>,
    encoder: &Encoder<'_>,
    output: &Path,
) -> Vec<OsString> {
    let (width, height) = plan.output.size();
    let fps = plan.output.fps;
    let rate = format!("{}/{}", fps.num, fps.den);
    let frame_us = fps.frame().micros();
    let mut args = progress_args(true);
    let input = |args: &mut Vec<OsString>, before: Vec<String>, path: &Path| {
        args.extend(before.into_iter().map(OsString::from));
        args.push("-i".into());
        args.push(path.into());
    };
    let mut graph = String::new();
    let mut index = 0usize;
    let mut total_us = 0i64;
    let mut joined = String::new();
    for (i, clip) in plan.video.iter().enumerate() {
        let source = &sources[&clip.media_id];
        let length_us = clip.timeline_micros();
        total_us += length_us;
        let source_us = clip.source_out.minus(clip.source_in).micros();
        let still = source.facts.kind == MediaKind::Image;
        if still {
            input(
                &mut args,
                vec![
                    "-loop".into(),
                    "1".into(),
                    "-framerate".into(),
                    rate.clone(),
                    "-t".into(),
                    secs(length_us),
                ],
                source.path,
            );
        } else {
            input(
                &mut args,
                vec![
                    "-ss".into(),
                    secs(clip.source_in.micros()),
                    "-t".into(),
                    secs(source_us),
                ],
                source.path,
            );
        }
        // Picture: upright (ffmpeg applies rotation and EXIF orientation),
        // square pixels, SDR, the clip's speed, constant rate, fitted.
        let tonemap = if source.facts.hdr {
            format!("{TONEMAP},")
        } else {
            String::new()
        };
        let speed = clip.speed();
        let timing = if (speed - 1.0).abs() > f64::EPSILON {
            format!("setpts=(PTS-STARTPTS)/{speed}")
        } else {
            "setpts=PTS-STARTPTS".to_owned()
        };
        let _ = write!(
            graph,
            "[{index}:v]{tonemap}scale=trunc(iw*sar/2)*2:trunc(ih/2)*2,setsar=1,{timing},fps={rate}[pre{i}];"
        );
        fit(&mut graph, i, clip.fit, width, height);
        let _ = write!(
            graph,
            "[fit{i}]format=yuv420p,tpad=stop_mode=clone:stop_duration={},trim=duration={},setpts=PTS-STARTPTS[v{i}];",
            secs(frame_us * 2),
            secs(length_us)
        );
        // Sound: the clip's own (at its speed), or silence of the same length.
        if plan.audio.clip_audio && source.facts.has_audio && !still {
            let _ = write!(
                graph,
                "[{index}:a]asetpts=PTS-STARTPTS,{}{AUDIO},apad,atrim=duration={},asetpts=PTS-STARTPTS[a{i}];",
                tempo(speed),
                secs(length_us)
            );
        } else {
            let _ = write!(
                graph,
                "anullsrc=r=48000:cl=stereo,atrim=duration={},{AUDIO}[a{i}];",
                secs(length_us)
            );
        }
        let _ = write!(joined, "[v{i}][a{i}]");
        index += 1;
    }
    let _ = write!(graph, "{joined}concat=n={}:v=1:a=1[vcat][acat];", plan.video.len());
    // Image overlays, each on its own input, shown between its times.
    let mut video = "vcat".to_owned();
    for (k, overlay) in plan.overlays.iter().enumerate() {
        let (OverlayKind::Image, Some(id)) = (overlay.kind, overlay.media_id.as_ref()) else {
            continue;
        };
        input(
            &mut args,
            vec!["-loop".into(), "1".into(), "-framerate".into(), rate.clone()],
            sources[id].path,
        );
        let p = overlay.position;
        let box_width = even((p.width * f64::from(width)).round() as u32);
        let _ = write!(
            graph,
            "[{index}:v]scale={box_width}:-2,format=rgba[img{k}];[{video}][img{k}]overlay=x={}:y={}:eof_action=pass:\
             enable='between(t,{},{})'[ov{k}];",
            (p.x * f64::from(width)).round(),
            (p.y * f64::from(height)).round(),
            secs(overlay.start.micros()),
            secs(overlay.end.micros())
        );
        video = format!("ov{k}");
        index += 1;
    }
    match ass {
        Some(path) => {
            let _ = write!(graph, "[{video}]ass=filename='{}'[vout];", path.display());
        }
        None => {
            let _ = write!(graph, "[{video}]null[vout];");
        }
    }
    // The music bed: looped from its in point, at its level, ducked under the
    // clips' sound (the clips' sound is the compressor's key).
    match &plan.audio.music {
        Some(music) => {
            input(
                &mut args,
                vec![
                    "-stream_loop".into(),
                    "-1".into(),
                    "-ss".into(),
                    secs(music.source_in.micros()),
                ],
                sources[&music.media_id].path,
            );
            let _ = write!(
                graph,
                "[{index}:a]{AUDIO},volume={}dB,atrim=duration={},asetpts=PTS-STARTPTS[music];",
                music.volume_db,
                secs(total_us)
            );
            if music.duck_under_speech && plan.audio.clip_audio {
                let _ = write!(
                    graph,
                    "[acat]asplit=2[voice][key];[music][key]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400[bed];\
                     [voice][bed]amix=inputs=2:duration=first:normalize=0[aout]"
                );
            } else {
                let _ = write!(graph, "[acat][music]amix=inputs=2:duration=first:normalize=0[aout]");
            }
        }
        None => {
            let _ = write!(graph, "[acat]anull[aout]");
        }
    }
    args.extend(["-filter_complex".into(), graph.into()]);
    let gop = (2 * fps.num).div_ceil(fps.den.max(1)).max(1).to_string();
    args.extend(
        [
            "-map",
            "[vout]",
            "-map",
            "[aout]",
            "-c:v",
            "libx264",
            "-preset",
            encoder.preset,
            "-crf",
            &encoder.crf.to_string(),
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            "-r",
            &rate,
            "-g",
            &gop,
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
            "-colorspace",
            "bt709",
            "-color_range",
            "tv",
            "-c:a",
            "pcm_s16le",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-t",
            &secs(total_us),
            "-f",
            "mov",
        ]
        .map(OsString::from),
    );
    args.push(output.into());
    args
}

/// Fits branch `pre{i}` to the frame as `fit{i}`.
fn fit(graph: &mut String, i: usize, fit: Fit, width: u32, height: u32) {
    match fit {
        Fit::FillCrop => {
            let _ = write!(
                graph,
                "[pre{i}]scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},setsar=1[fit{i}];"
            );
        }
        Fit::BlurredBackground => {
            // The blur is drawn at an eighth of the size and scaled with the
            // cheapest filter: as soft, far cheaper (the benchmark's 1.5x real
            // time on two cores depends on it).
            let (bw, bh) = (even(width / 8), even(height / 8));
            let _ = write!(
                graph,
                "[pre{i}]split=2[fg{i}][bg{i}];\
                 [bg{i}]scale={bw}:{bh}:force_original_aspect_ratio=increase:flags=fast_bilinear,crop={bw}:{bh},\
                 boxblur=5:1,scale={width}:{height}:flags=fast_bilinear,setsar=1[blur{i}];\
                 [fg{i}]scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[front{i}];\
                 [blur{i}][front{i}]overlay=(W-w)/2:(H-h)/2[fit{i}];"
            );
        }
    }
}

/// `atempo` takes 0.5 to 100 per instance: slower speeds chain two.
fn tempo(speed: f64) -> String {
    if (speed - 1.0).abs() <= f64::EPSILON {
        String::new()
    } else if speed < 0.5 {
        format!("atempo=0.5,atempo={},", speed / 0.5)
    } else {
        format!("atempo={speed},")
    }
}

fn even(n: u32) -> u32 {
    (n / 2 * 2).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempo_chains_below_half_speed() {
        assert_eq!(tempo(1.0), "");
        assert_eq!(tempo(2.0), "atempo=2,");
        assert_eq!(tempo(0.25), "atempo=0.5,atempo=0.5,");
    }
}
