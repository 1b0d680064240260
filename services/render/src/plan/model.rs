//! The edit plan, version 1 (`"schema": "smez.edit_plan/1"`): what a render
//! makes, as the API takes and returns it. Unknown fields are refused (a
//! typo must not silently drop a setting); absent optional parts take the
//! defaults documented on each field.
//!
//! Times on clips are *source* times (in and out points within the media);
//! times on captions and overlays are *timeline* times (from the first frame
//! of the output). All are [`RationalTime`].

use serde::{Deserialize, Serialize};

use super::time::RationalTime;

pub const SCHEMA: &str = "smez.edit_plan/1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditPlan {
    /// Always [`SCHEMA`] for this version.
    pub schema: String,
    #[serde(default)]
    pub output: Output,
    /// The video track: clips played one after another, in order.
    pub video: Vec<VideoClip>,
    #[serde(default)]
    pub audio: Audio,
    #[serde(default)]
    pub captions: Captions,
    #[serde(default)]
    pub overlays: Vec<Overlay>,
    /// The platforms the render is for: their duration, aspect and frame-rate
    /// limits apply. Empty: no platform's limits are checked.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// How Smez generated the plan, when it did (informational: what was
    /// asked and what was cut); an edited plan keeps it until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    TikTok,
    Instagram,
    YouTube,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::TikTok => "tiktok",
            Target::Instagram => "instagram",
            Target::YouTube => "youtube",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// 9:16 by default.
    #[serde(default)]
    pub aspect: Aspect,
    /// Pixels; when absent, the aspect's standard size (1080×1920 for 9:16).
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    /// 30 fps by default.
    #[serde(default)]
    pub fps: FrameRate,
}

impl Default for Output {
    fn default() -> Self {
        Self {
            aspect: Aspect::Portrait,
            width: None,
            height: None,
            fps: FrameRate::default(),
        }
    }
}

impl Output {
    /// The frame size: as given, or the aspect's standard one.
    pub fn size(&self) -> (u32, u32) {
        let (w, h) = self.aspect.standard_size();
        (self.width.unwrap_or(w), self.height.unwrap_or(h))
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aspect {
    #[default]
    #[serde(rename = "9:16")]
    Portrait,
    #[serde(rename = "1:1")]
    Square,
    #[serde(rename = "4:5")]
    Feed,
    #[serde(rename = "16:9")]
    Landscape,
}

impl Aspect {
    /// Width to height, as a reduced ratio.
    pub fn ratio(self) -> (u32, u32) {
        match self {
            Aspect::Portrait => (9, 16),
            Aspect::Square => (1, 1),
            Aspect::Feed => (4, 5),
            Aspect::Landscape => (16, 9),
        }
    }

    pub fn standard_size(self) -> (u32, u32) {
        match self {
            Aspect::Portrait => (1080, 1920),
            Aspect::Square => (1080, 1080),
            Aspect::Feed => (1080, 1350),
            Aspect::Landscape => (1920, 1080),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Aspect::Portrait => "9:16",
            Aspect::Square => "1:1",
            Aspect::Feed => "4:5",
            Aspect::Landscape => "16:9",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameRate {
    pub num: u32,
    pub den: u32,
}

impl Default for FrameRate {
    fn default() -> Self {
        Self { num: 30, den: 1 }
    }
}

impl FrameRate {
    /// Frames per second, for limits and messages.
    pub fn per_second(self) -> f64 {
        if self.den == 0 {
            0.0
        } else {
            f64::from(self.num) / f64::from(self.den)
        }
    }

    /// One frame's length.
    pub fn frame(self) -> RationalTime {
        RationalTime::new(i64::from(self.den), self.num)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoClip {
    pub media_id: String,
    /// Where the clip starts in its media. For a still image, 0.
    pub source_in: RationalTime,
    /// Where it ends in its media (exclusive). For a still image: how long it shows.
    pub source_out: RationalTime,
    #[serde(default)]
    pub fit: Fit,
    /// Playback speed, 0.25 to 4 (1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
}

impl VideoClip {
    pub fn speed(&self) -> f64 {
        self.speed.unwrap_or(1.0)
    }

    /// How long the clip lasts on the timeline, in microseconds.
    pub fn timeline_micros(&self) -> i64 {
        let source = self.source_out.minus(self.source_in).micros();
        (source as f64 / self.speed()).round() as i64
    }
}

/// How a clip whose shape differs from the output's fills the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Scaled to cover the frame, the overflow cropped (centred).
    #[default]
    FillCrop,
    /// Scaled to fit whole, over a blurred copy of itself filling the frame.
    BlurredBackground,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audio {
    /// Each clip's own sound (clips without audio are silence). True by default.
    #[serde(default = "yes")]
    pub clip_audio: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub music: Option<Music>,
    /// The integrated loudness of the output, LUFS (EBU R128): −14 by default.
    #[serde(default = "default_loudness")]
    pub loudness_lufs: f64,
}

impl Default for Audio {
    fn default() -> Self {
        Self {
            clip_audio: true,
            music: None,
            loudness_lufs: default_loudness(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Music {
    pub media_id: String,
    /// Where the bed starts in its media (0 by default); it plays from the
    /// first frame, looping if shorter than the timeline.
    #[serde(default = "zero")]
    pub source_in: RationalTime,
    /// Its level, dB (−18 by default).
    #[serde(default = "default_music_db")]
    pub volume_db: f64,
    /// Lowered under the clips' speech. True by default.
    #[serde(default = "yes")]
    pub duck_under_speech: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Captions {
    #[serde(default)]
    pub style: CaptionStyle,
    /// In timeline order, none overlapping another.
    #[serde(default)]
    pub items: Vec<Caption>,
}

/// Caption presets; each keeps the text inside every platform's safe area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptionStyle {
    /// Large bold white text with a dark outline, lower third.
    #[default]
    BoldOutline,
    /// White text on a translucent dark box.
    Boxed,
    /// Smaller regular text, for dense speech.
    Minimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caption {
    pub start: RationalTime,
    pub end: RationalTime,
    /// At most two lines (one `\n`).
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    #[serde(rename = "type")]
    pub kind: OverlayKind,
    /// For `text`: the words shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// For `image`: an image from the workspace's media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    pub start: RationalTime,
    pub end: RationalTime,
    /// Where, as fractions of the frame (top-left corner and width).
    #[serde(default)]
    pub position: Placement,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlayKind {
    /// A title (for example the hook in the first seconds).
    Text,
    /// An image (a logo, a sticker).
    Image,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    pub x: f64,
    pub y: f64,
    pub width: f64,
}

impl Default for Placement {
    /// Centred, in the upper third, four fifths of the width: inside every
    /// platform's safe area.
    fn default() -> Self {
        Self {
            x: 0.1,
            y: 0.2,
            width: 0.8,
        }
    }
}

fn yes() -> bool {
    true
}

fn zero() -> RationalTime {
    RationalTime::ZERO
}

fn default_loudness() -> f64 {
    -14.0
}

fn default_music_db() -> f64 {
    -18.0
}
