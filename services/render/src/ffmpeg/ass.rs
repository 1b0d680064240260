//! Captions and text overlays as an ASS script for libass: the frame's own
//! pixel grid (`PlayResX/Y`), one style per caption preset, margins that
//! keep text out of the platforms' interface (bottom bar, right-hand
//! buttons), and text escaped so a caption can never inject an override.

use std::fmt::Write;

use super::fonts::CAPTION_FONT;
use crate::plan::model::{CaptionStyle, EditPlan, OverlayKind};
use crate::plan::time::RationalTime;

/// Whether the plan draws any text.
pub fn has_text(plan: &EditPlan) -> bool {
    !plan.captions.items.is_empty() || plan.overlays.iter().any(|o| o.kind == OverlayKind::Text)
}

/// The script for the plan's captions and text overlays.
pub fn script(plan: &EditPlan) -> String {
    let (width, height) = plan.output.size();
    let (w, h) = (f64::from(width), f64::from(height));
    let px = |fraction: f64, of: f64| (fraction * of).round() as i64;
    // Text stays out of the lowest fifth (captions bar, music line) and the
    // right-hand column of buttons on every platform.
    let margin_v = px(0.2, h);
    let margin_side = px(0.08, w);
    let size = |fraction: f64| px(fraction, h);
    let colours = "&H00FFFFFF,&H000000FF,&H00000000";
    let mut out = String::new();
    let _ = writeln!(
        out,
        "[Script Info]\nScriptType: v4.00+\nPlayResX: {width}\nPlayResY: {height}\nWrapStyle: 0\nScaledBorderAndShadow: yes\n"
    );
    let _ = writeln!(
        out,
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
         Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, \
         Alignment, MarginL, MarginR, MarginV, Encoding"
    );
    let (caption_size, border_style, outline, back) = match plan.captions.style {
        CaptionStyle::BoldOutline => (size(0.045), 1, size(0.003).max(2), "&H00000000"),
        CaptionStyle::Boxed => (size(0.04), 3, size(0.006).max(4), "&H80000000"),
        CaptionStyle::Minimal => (size(0.032), 1, size(0.0015).max(1), "&H00000000"),
    };
    let _ = writeln!(
        out,
        "Style: Caption,{CAPTION_FONT},{caption_size},{colours},{back},-1,0,0,0,100,100,0,0,{border_style},{outline},0,2,\
         {margin_side},{margin_side},{margin_v},1"
    );
    let _ = writeln!(
        out,
        "Style: Title,{CAPTION_FONT},{},{colours},&H00000000,-1,0,0,0,100,100,0,0,1,{},0,7,0,0,0,1\n",
        size(0.05),
        size(0.003).max(2)
    );
    let _ = writeln!(
        out,
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"
    );
    for caption in &plan.captions.items {
        let _ = writeln!(
            out,
            "Dialogue: 0,{},{},Caption,,0,0,0,,{}",
            clock(caption.start),
            clock(caption.end),
            escape(&caption.text)
        );
    }
    for overlay in plan.overlays.iter().filter(|o| o.kind == OverlayKind::Text) {
        let p = overlay.position;
        // Wrapped inside its box: the right margin is what the box leaves.
        let right = px(1.0 - p.x - p.width, w).max(0);
        let _ = writeln!(
            out,
            "Dialogue: 1,{},{},Title,,{},{},{},,{{\\an7}}{}",
            clock(overlay.start),
            clock(overlay.end),
            px(p.x, w),
            right,
            px(p.y, h),
            escape(overlay.text.as_deref().unwrap_or(""))
        );
    }
    out
}

/// `H:MM:SS.cc`, as ASS counts time (centiseconds, rounded).
fn clock(time: RationalTime) -> String {
    let cs = (time.micros() + 5_000) / 10_000;
    format!(
        "{}:{:02}:{:02}.{:02}",
        cs / 360_000,
        cs / 6000 % 60,
        cs / 100 % 60,
        cs % 100
    )
}

/// Line breaks become `\N`; braces and backslashes, which would start
/// override tags, become parentheses and slashes (in every font).
fn escape(text: &str) -> String {
    text.replace('\\', "/")
        .replace('{', "(")
        .replace('}', ")")
        .replace("\r\n", "\n")
        .replace('\n', "\\N")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_counts_centiseconds() {
        assert_eq!(clock(RationalTime::from_millis(0)), "0:00:00.00");
        assert_eq!(clock(RationalTime::new(1001, 30)), "0:00:33.37");
        assert_eq!(clock(RationalTime::from_millis(3_723_456)), "1:02:03.46");
    }

    #[test]
    fn text_cannot_inject_overrides() {
        assert_eq!(escape("a{\\b1}b\nc"), "a(/b1)b\\Nc");
    }
}
