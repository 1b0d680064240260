//! Fonts for captions and titles. libass draws nothing for a character no
//! installed font has (a box at best), cannot draw colour emoji fonts, and
//! quietly swaps a missing family for another — and ffmpeg still exits 0.
//! So before a render: the caption font must be the one installed, and
//! every character must be in some installed, non-colour font.

use std::collections::BTreeMap;

use tokio::process::Command;

/// The family captions and titles are set in (Debian: `fonts-dejavu-core`).
pub const CAPTION_FONT: &str = "DejaVu Sans";

/// Characters that only shape others (joiners, variation selectors): no glyph of their own.
fn needs_glyph(c: char) -> bool {
    !(c.is_ascii()
        || c.is_whitespace()
        || c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{FE00}'..='\u{FE0F}'))
}

/// `Err` names the field and the character no installed font can draw,
/// or the missing caption font. `texts`: (field, text).
pub async fn check(texts: &[(String, String)]) -> Result<(), String> {
    if texts.is_empty() {
        return Ok(());
    }
    let matched = fc(&["fc-match", &format!("{CAPTION_FONT}:bold"), "family"]).await?;
    if !matched.split(',').any(|family| family.trim() == CAPTION_FONT) {
        return Err(format!(
            "the caption font {CAPTION_FONT} is not installed (fontconfig offers `{}` instead; Debian: fonts-dejavu-core)",
            matched.trim()
        ));
    }
    // First field of each character, in code point order.
    let mut wanted: BTreeMap<char, &str> = BTreeMap::new();
    for (field, text) in texts {
        for c in text.chars().filter(|c| needs_glyph(*c)) {
            wanted.entry(c).or_insert(field);
        }
    }
    for (c, field) in wanted {
        let pattern = format!(":charset={:x}:color=false", u32::from(c));
        if fc(&["fc-list", &pattern, "family"]).await?.trim().is_empty() {
            return Err(format!(
                "{field}: no installed font can draw {c} (U+{:04X}); it would show as an empty box. \
                 Install a font that has it (emoji: fonts-symbola; colour emoji fonts cannot be drawn) or leave it out",
                u32::from(c)
            ));
        }
    }
    Ok(())
}

async fn fc(args: &[&str]) -> Result<String, String> {
    let output = Command::new(args[0])
        .args(&args[1..])
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{} could not run (Debian: fontconfig): {e}", args[0]))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            args[0],
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
