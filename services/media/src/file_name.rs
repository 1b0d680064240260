//! File names as clients send them are display metadata only: never part of
//! a storage key or a path. What is kept is printable, one line, and short.

/// The longest display name kept, in characters.
const MAX_CHARS: usize = 200;

/// A display name made safe to show and to put in a `Content-Disposition`:
/// the last path component only, control and bidirectional-override
/// characters dropped, whitespace collapsed, at most [`MAX_CHARS`].
pub fn sanitise(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::new();
    let mut pending_space = false;
    for c in last.chars() {
        if c.is_control() || is_invisible_format(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    let trimmed: String = out.trim_matches('.').chars().take(MAX_CHARS).collect();
    if trimmed.is_empty() {
        "upload".to_owned()
    } else {
        trimmed
    }
}

/// Bidirectional overrides and zero-width characters: they make a name
/// display as something else (`evil\u{202E}4pm.exe`).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::sanitise;

    #[test]
    fn names_lose_paths_controls_and_spoofing() {
        assert_eq!(sanitise("../../etc/passwd"), "passwd");
        assert_eq!(sanitise("C:\\Users\\ana\\clip.mov"), "clip.mov");
        assert_eq!(sanitise("a\u{0}b\r\nc\t d.mp4"), "abc d.mp4");
        assert_eq!(sanitise("evil\u{202E}4pm.exe"), "evil4pm.exe");
        assert_eq!(sanitise("..."), "upload");
        assert_eq!(sanitise(""), "upload");
        assert_eq!(sanitise("  été   à la plage .mov"), "été à la plage .mov");
        assert_eq!(sanitise(&"x".repeat(500)).chars().count(), 200);
    }
}
