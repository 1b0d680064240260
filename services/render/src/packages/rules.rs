//! Each platform's rules for what it is sent (../shared/design/platforms.md,
//! the documented ones), measured the way that platform measures: TikTok
//! counts UTF-16 code units, Instagram characters, YouTube bytes for the
//! description. Every violation names its field; what a re-encode can
//! mend (frame rate, frame size, bitrate) is a fix instead.

use serde::{Deserialize, Serialize};

use crate::plan::model::Target;
use crate::plan::validate::FieldError;

/// A package as asked for (JSON); unknown fields are refused.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub render_id: String,
    pub platform: Target,
    /// TikTok's title, Instagram's caption, YouTube's description.
    #[serde(default)]
    pub caption: String,
    /// Added to the caption (a `#` is added where missing).
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// Added to the caption (an `@` is added where missing).
    #[serde(default)]
    pub mentions: Vec<String>,
    /// YouTube's title (required there; refused elsewhere).
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub privacy: Privacy,
    /// The cover frame, in milliseconds from the start.
    #[serde(default)]
    pub cover_ms: Option<u64>,
    #[serde(default)]
    pub tiktok: Option<TikTokOptions>,
    #[serde(default)]
    pub instagram: Option<InstagramOptions>,
    #[serde(default)]
    pub youtube: Option<YouTubeOptions>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    #[default]
    Public,
    /// TikTok: mutual followers.
    Friends,
    /// TikTok: followers.
    Followers,
    Private,
    /// YouTube.
    Unlisted,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TikTokOptions {
    #[serde(default = "yes")]
    pub allow_comments: bool,
    #[serde(default = "yes")]
    pub allow_duet: bool,
    #[serde(default = "yes")]
    pub allow_stitch: bool,
    /// The "AI-generated" label.
    #[serde(default)]
    pub ai_generated: bool,
    /// A paid partnership.
    #[serde(default)]
    pub branded_content: bool,
    /// The creator promotes their own business.
    #[serde(default)]
    pub promotes_own_business: bool,
}

impl Default for TikTokOptions {
    fn default() -> Self {
        Self {
            allow_comments: true,
            allow_duet: true,
            allow_stitch: true,
            ai_generated: false,
            branded_content: false,
            promotes_own_business: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstagramOptions {
    /// Also shown in the profile's feed grid.
    #[serde(default = "yes")]
    pub share_to_feed: bool,
}

impl Default for InstagramOptions {
    fn default() -> Self {
        Self { share_to_feed: true }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct YouTubeOptions {
    /// A numeric category id as a string ("22": People & Blogs).
    #[serde(default = "people_and_blogs")]
    pub category_id: String,
    /// The legal declaration YouTube requires on every upload: no default.
    pub made_for_kids: Option<bool>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Realistic altered or synthetic content.
    #[serde(default)]
    pub contains_synthetic_media: bool,
}

fn yes() -> bool {
    true
}

fn people_and_blogs() -> String {
    "22".to_owned()
}

/// What the video to send is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Video {
    pub duration_us: i64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub size_bytes: u64,
    pub sample_rate: u32,
}

impl Video {
    pub fn bitrate_bps(&self) -> f64 {
        self.size_bytes as f64 * 8.0 / (self.duration_us.max(1) as f64 / 1e6)
    }
}

/// A change a re-encode makes so the video passes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fix", rename_all = "snake_case")]
pub enum Fix {
    /// To this frame rate (frames are repeated or dropped).
    FrameRate { from: f64, to: u32 },
    /// To fit within these bounds, keeping the aspect.
    Scale {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
        min_side: u32,
    },
    /// Under this bitrate.
    Bitrate { from_bps: u64, max_bps: u64 },
}

#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    pub violations: Vec<FieldError>,
    pub fixes: Vec<Fix>,
}

impl Verdict {
    fn violation(&mut self, field: &str, message: impl Into<String>) {
        self.violations.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

/// The caption as sent: the text, then the hashtags and mentions not already in it.
pub fn compose_caption(request: &Request) -> String {
    let mut extra = Vec::new();
    let tokens: Vec<&str> = request.caption.split_whitespace().collect();
    for (tags, sign) in [(&request.hashtags, '#'), (&request.mentions, '@')] {
        for tag in tags {
            let tag = tag.trim().trim_start_matches(sign);
            if tag.is_empty() {
                continue;
            }
            let token = format!("{sign}{tag}");
            if !tokens.contains(&token.as_str()) && !extra.contains(&token) {
                extra.push(token);
            }
        }
    }
    match (request.caption.trim(), extra.is_empty()) {
        (text, true) => text.to_owned(),
        ("", false) => extra.join(" "),
        (text, false) => format!("{text}\n\n{}", extra.join(" ")),
    }
}

/// Hashtags and mentions in a text (delimited by whitespace, as TikTok and
/// Instagram read them).
pub fn tokens(text: &str, sign: char) -> usize {
    text.split_whitespace()
        .filter(|t| t.starts_with(sign) && t.chars().count() > 1)
        .count()
}

/// Checks the request and the video against its platform.
pub fn check(request: &Request, caption: &str, video: &Video) -> Verdict {
    let mut verdict = Verdict::default();
    let options_of = |platform: Target| match platform {
        Target::TikTok => request.tiktok.is_some(),
        Target::Instagram => request.instagram.is_some(),
        Target::YouTube => request.youtube.is_some(),
    };
    for other in [Target::TikTok, Target::Instagram, Target::YouTube] {
        if other != request.platform && options_of(other) {
            verdict.violation(other.as_str(), format!("only for {} packages", other.as_str()));
        }
    }
    if let Some(cover) = request.cover_ms
        && i128::from(cover) * 1000 >= i128::from(video.duration_us)
    {
        verdict.violation(
            "cover_ms",
            format!(
                "{cover} ms is past the end of the video ({} ms)",
                video.duration_us / 1000
            ),
        );
    }
    match request.platform {
        Target::TikTok => tiktok(request, caption, video, &mut verdict),
        Target::Instagram => instagram(request, caption, video, &mut verdict),
        Target::YouTube => youtube(request, caption, video, &mut verdict),
    }
    verdict
}

fn no_title(request: &Request, platform: &str, verdict: &mut Verdict) {
    if request.title.is_some() {
        verdict.violation(
            "title",
            format!("{platform} has no separate title: put it in the caption"),
        );
    }
}

fn duration(video: &Video, (min, max): (i64, i64), name: &str, verdict: &mut Verdict) {
    if video.duration_us < min * 1_000_000 || video.duration_us > max * 1_000_000 {
        verdict.violation(
            "render_id",
            format!(
                "the video lasts {:.3} s; {name} takes {min} s to {max} s",
                video.duration_us as f64 / 1e6
            ),
        );
    }
}

/// 23–60 fps on TikTok and Instagram: anything else is re-timed to 30.
fn frame_rate(video: &Video, verdict: &mut Verdict) {
    if !(23.0..=60.0).contains(&video.fps) {
        verdict.fixes.push(Fix::FrameRate {
            from: video.fps,
            to: 30,
        });
    }
}

fn tiktok(request: &Request, caption: &str, video: &Video, verdict: &mut Verdict) {
    const MAX_UTF16: usize = 2200;
    let units = caption.encode_utf16().count();
    if units > MAX_UTF16 {
        verdict.violation(
            "caption",
            format!("{units} UTF-16 code units: TikTok takes at most {MAX_UTF16} (an emoji counts as 2)"),
        );
    }
    if request.privacy == Privacy::Unlisted {
        verdict.violation("privacy", "TikTok has public, friends, followers or private");
    }
    no_title(request, "TikTok", verdict);
    duration(video, (3, 600), "TikTok", verdict);
    frame_rate(video, verdict);
    const SIDES: (u32, u32) = (360, 4096);
    if [video.width, video.height]
        .iter()
        .any(|s| !(SIDES.0..=SIDES.1).contains(s))
    {
        verdict.fixes.push(Fix::Scale {
            width: video.width,
            height: video.height,
            max_width: SIDES.1,
            max_height: SIDES.1,
            min_side: SIDES.0,
        });
    }
    if video.size_bytes > 4_000_000_000 {
        verdict.violation("render_id", "the video is over TikTok's 4 GB");
    }
}

fn instagram(request: &Request, caption: &str, video: &Video, verdict: &mut Verdict) {
    let chars = caption.chars().count();
    if chars > 2200 {
        verdict.violation("caption", format!("{chars} characters: Instagram takes at most 2200"));
    }
    let hashtags = tokens(caption, '#');
    if hashtags > 30 {
        verdict.violation("hashtags", format!("{hashtags} hashtags: Instagram takes at most 30"));
    }
    let mentions = tokens(caption, '@');
    if mentions > 20 {
        verdict.violation("mentions", format!("{mentions} @-mentions: Instagram takes at most 20"));
    }
    if request.privacy != Privacy::Public {
        verdict.violation(
            "privacy",
            "Instagram Reels are published to the account as it is: only public",
        );
    }
    no_title(request, "Instagram", verdict);
    duration(video, (3, 900), "Instagram Reels", verdict);
    frame_rate(video, verdict);
    if video.width > 1920 {
        verdict.fixes.push(Fix::Scale {
            width: video.width,
            height: video.height,
            max_width: 1920,
            max_height: 3600,
            min_side: 2,
        });
    }
    const MAX_BPS: u64 = 25_000_000;
    if video.bitrate_bps() > MAX_BPS as f64 || video.size_bytes > 300_000_000 {
        // Under 25 Mb/s, and under 300 MB for its length (with room for the container).
        let for_size = (300_000_000.0 * 8.0 * 0.95 / (video.duration_us.max(1) as f64 / 1e6)) as u64;
        verdict.fixes.push(Fix::Bitrate {
            from_bps: video.bitrate_bps() as u64,
            max_bps: MAX_BPS.min(for_size),
        });
    }
    if video.sample_rate > 48_000 {
        verdict.violation("render_id", "Instagram takes sound at 48 kHz at most");
    }
}

fn youtube(request: &Request, caption: &str, video: &Video, verdict: &mut Verdict) {
    let forbidden = |text: &str| text.contains(['<', '>']);
    match request.title.as_deref().map(str::trim) {
        None | Some("") => verdict.violation("title", "YouTube needs a title"),
        Some(title) if title.chars().count() > 100 => verdict.violation(
            "title",
            format!("{} characters: YouTube takes at most 100", title.chars().count()),
        ),
        Some(title) if forbidden(title) => verdict.violation("title", "YouTube refuses < and > in a title"),
        Some(_) => {}
    }
    let bytes = caption.len();
    if bytes > 5000 {
        verdict.violation(
            "caption",
            format!("{bytes} bytes of UTF-8: YouTube takes at most 5000 in a description"),
        );
    }
    if forbidden(caption) {
        verdict.violation("caption", "YouTube refuses < and > in a description");
    }
    if request.privacy != Privacy::Public && request.privacy != Privacy::Private && request.privacy != Privacy::Unlisted
    {
        verdict.violation("privacy", "YouTube has public, unlisted or private");
    }
    let options = request.youtube.clone().unwrap_or(YouTubeOptions {
        category_id: people_and_blogs(),
        made_for_kids: None,
        tags: Vec::new(),
        contains_synthetic_media: false,
    });
    if options.made_for_kids.is_none() {
        verdict.violation(
            "youtube.made_for_kids",
            "YouTube requires every upload to say whether it is made for kids",
        );
    }
    if options.category_id.is_empty() || !options.category_id.chars().all(|c| c.is_ascii_digit()) {
        verdict.violation("youtube.category_id", "a numeric category id, as a string (\"22\")");
    }
    // Tags: 500 characters in all, commas between them, a tag with a space counted quoted.
    let tags_length: usize = options
        .tags
        .iter()
        .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
        .sum::<usize>()
        + options.tags.len().saturating_sub(1);
    if tags_length > 500 {
        verdict.violation(
            "youtube.tags",
            format!("{tags_length} characters with commas: YouTube takes at most 500"),
        );
    }
    // A Short: three minutes at most, square or taller.
    if video.duration_us > 180_000_000 {
        verdict.violation(
            "render_id",
            format!(
                "the video lasts {:.3} s: YouTube counts only 180 s or less as a Short",
                video.duration_us as f64 / 1e6
            ),
        );
    }
    if video.width > video.height {
        verdict.violation(
            "render_id",
            "a landscape video is not a Short: render it square or taller",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video() -> Video {
        Video {
            duration_us: 20_000_000,
            width: 1080,
            height: 1920,
            fps: 30.0,
            size_bytes: 10_000_000,
            sample_rate: 48_000,
        }
    }

    fn request(platform: Target) -> Request {
        Request {
            render_id: "r".into(),
            platform,
            caption: "Three edits".into(),
            hashtags: Vec::new(),
            mentions: Vec::new(),
            title: (platform == Target::YouTube).then(|| "Three edits".to_owned()),
            privacy: Privacy::Public,
            cover_ms: None,
            tiktok: None,
            instagram: None,
            youtube: (platform == Target::YouTube).then(|| YouTubeOptions {
                category_id: "22".into(),
                made_for_kids: Some(false),
                tags: vec![],
                contains_synthetic_media: false,
            }),
        }
    }

    fn fields(request: &Request, video: &Video) -> Vec<String> {
        let caption = compose_caption(request);
        check(request, &caption, video)
            .violations
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn good_packages_pass_everywhere() {
        for platform in [Target::TikTok, Target::Instagram, Target::YouTube] {
            let verdict = check(&request(platform), "Three edits", &video());
            assert_eq!(verdict, Verdict::default(), "{platform:?}");
        }
    }

    #[test]
    fn captions_compose_hashtags_and_mentions_once() {
        let mut r = request(Target::TikTok);
        r.caption = "Three edits #shorts".into();
        r.hashtags = vec!["shorts".into(), "#edit".into(), "edit".into()];
        r.mentions = vec!["ana".into()];
        assert_eq!(compose_caption(&r), "Three edits #shorts\n\n#edit @ana");
    }

    #[test]
    fn tiktok_counts_utf16_units() {
        let mut r = request(Target::TikTok);
        // 1100 emoji are 1100 characters but 2200 UTF-16 units: fits exactly.
        r.caption = "😀".repeat(1100);
        assert!(fields(&r, &video()).is_empty());
        r.caption.push('a');
        assert_eq!(fields(&r, &video()), ["caption"]);
    }

    #[test]
    fn tiktok_rules() {
        let mut r = request(Target::TikTok);
        r.privacy = Privacy::Unlisted;
        r.title = Some("no".into());
        r.youtube = Some(YouTubeOptions {
            category_id: "22".into(),
            made_for_kids: Some(false),
            tags: vec![],
            contains_synthetic_media: false,
        });
        r.cover_ms = Some(20_000);
        let short = Video {
            duration_us: 2_000_000,
            ..video()
        };
        assert_eq!(
            fields(&r, &short),
            ["youtube", "cover_ms", "privacy", "title", "render_id"]
        );
        let long = Video {
            duration_us: 601_000_000,
            ..video()
        };
        assert_eq!(fields(&request(Target::TikTok), &long), ["render_id"]);
        let huge = Video {
            size_bytes: 4_000_000_001,
            ..video()
        };
        assert_eq!(fields(&request(Target::TikTok), &huge), ["render_id"]);
    }

    #[test]
    fn tiktok_frame_rate_and_size_are_fixed_by_a_reencode() {
        let slow = Video {
            fps: 15.0,
            width: 200,
            height: 356,
            ..video()
        };
        let verdict = check(&request(Target::TikTok), "x", &slow);
        assert!(verdict.violations.is_empty());
        assert_eq!(verdict.fixes.len(), 2);
        assert_eq!(verdict.fixes[0], Fix::FrameRate { from: 15.0, to: 30 });
    }

    #[test]
    fn instagram_counts_characters_hashtags_and_mentions() {
        let mut r = request(Target::Instagram);
        r.caption = "é".repeat(2200);
        assert!(fields(&r, &video()).is_empty(), "characters, not bytes");
        r.caption.push('x');
        assert_eq!(fields(&r, &video()), ["caption"]);
        let mut tags = request(Target::Instagram);
        tags.hashtags = (0..31).map(|i| format!("t{i}")).collect();
        tags.mentions = (0..21).map(|i| format!("m{i}")).collect();
        assert_eq!(fields(&tags, &video()), ["hashtags", "mentions"]);
    }

    #[test]
    fn instagram_rules() {
        let mut r = request(Target::Instagram);
        r.privacy = Privacy::Private;
        r.title = Some("no".into());
        let long = Video {
            duration_us: 901_000_000,
            ..video()
        };
        assert_eq!(fields(&r, &long), ["privacy", "title", "render_id"]);
        let hifi = Video {
            sample_rate: 96_000,
            ..video()
        };
        assert_eq!(fields(&request(Target::Instagram), &hifi), ["render_id"]);
        let wide = Video {
            width: 2160,
            height: 3840,
            size_bytes: 200_000_000,
            ..video()
        };
        let verdict = check(&request(Target::Instagram), "x", &wide);
        assert!(matches!(verdict.fixes[0], Fix::Scale { max_width: 1920, .. }));
        // 200 MB in 20 s is 80 Mb/s: over 25.
        assert!(matches!(
            verdict.fixes[1],
            Fix::Bitrate {
                max_bps: 25_000_000,
                ..
            }
        ));
    }

    #[test]
    fn youtube_rules() {
        let mut r = request(Target::YouTube);
        r.title = Some("x".repeat(101));
        r.caption = "<b>".into();
        r.privacy = Privacy::Friends;
        r.youtube = Some(YouTubeOptions {
            category_id: "people".into(),
            made_for_kids: None,
            tags: vec!["a tag".repeat(100)],
            contains_synthetic_media: false,
        });
        assert_eq!(
            fields(&r, &video()),
            [
                "title",
                "caption",
                "privacy",
                "youtube.made_for_kids",
                "youtube.category_id",
                "youtube.tags"
            ]
        );
        let mut untitled = request(Target::YouTube);
        untitled.title = None;
        assert_eq!(fields(&untitled, &video()), ["title"]);
        let mut bytes = request(Target::YouTube);
        bytes.caption = "é".repeat(2501);
        assert_eq!(fields(&bytes, &video()), ["caption"], "5002 bytes");
    }

    #[test]
    fn youtube_shorts_are_short_and_upright() {
        let wide = Video {
            width: 1920,
            height: 1080,
            duration_us: 181_000_000,
            ..video()
        };
        assert_eq!(fields(&request(Target::YouTube), &wide), ["render_id", "render_id"]);
    }
}
