//! Transcripts: SRT, WebVTT and JSON word timings, parsed into cues (and
//! words, when the source times each word), in milliseconds. A transcript
//! that does not parse is refused with the line that is wrong.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timed {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    /// srt, vtt or json.
    pub format: String,
    pub cues: Vec<Timed>,
    /// Empty unless the source timed each word (JSON, WebVTT karaoke tags).
    pub words: Vec<Timed>,
}

impl Parsed {
    pub fn word_count(&self) -> usize {
        if self.words.is_empty() {
            self.cues.iter().map(|c| c.text.split_whitespace().count()).sum()
        } else {
            self.words.len()
        }
    }

    pub fn duration_ms(&self) -> i64 {
        self.cues.iter().chain(&self.words).map(|t| t.end_ms).max().unwrap_or(0)
    }
}

/// Why a transcript was refused: where, and what was expected there.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based; 0 when the problem is the whole document.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

fn fail<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

/// Parses `text`, telling the format from the content.
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let trimmed = text.trim_start();
    let parsed = if trimmed.starts_with("WEBVTT") {
        parse_vtt(text)?
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
        parse_json(text)?
    } else {
        parse_srt(text)?
    };
    if parsed.cues.is_empty() && parsed.words.is_empty() {
        return fail(0, format!("the {} transcript has no timed text", parsed.format));
    }
    Ok(parsed)
}

/// Lines with their 1-based numbers, line endings normalised.
fn numbered(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .collect()
}

/// Blocks of non-blank lines.
fn blocks<'a>(lines: &[(usize, &'a str)]) -> Vec<Vec<(usize, &'a str)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for &(n, line) in lines {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push((n, line));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn parse_srt(text: &str) -> Result<Parsed, ParseError> {
    let mut cues = Vec::new();
    for block in blocks(&numbered(text)) {
        let mut lines = block.iter().peekable();
        let (first_n, first) = **lines.peek().expect("a block is not empty");
        if !first.contains("-->") {
            if first.trim().parse::<u64>().is_err() {
                return fail(
                    first_n,
                    format!(
                        "expected a cue number or a time range like `00:00:01,000 --> 00:00:02,500`, found `{}`",
                        excerpt(first)
                    ),
                );
            }
            lines.next();
        }
        let Some(&(timing_n, timing)) = lines.next() else {
            return fail(first_n, "a cue number with no time range after it");
        };
        let (start_ms, end_ms) = time_range(timing_n, timing, ',')?;
        let text = lines.map(|(_, l)| strip_tags(l)).collect::<Vec<_>>().join("\n");
        cues.push(Timed { start_ms, end_ms, text });
    }
    Ok(Parsed {
        format: "srt".into(),
        cues,
        words: Vec::new(),
    })
}

fn parse_vtt(text: &str) -> Result<Parsed, ParseError> {
    let lines = numbered(text.strip_prefix('\u{FEFF}').unwrap_or(text));
    let header = lines.first().map(|(_, l)| *l).unwrap_or("");
    if !(header == "WEBVTT" || header.starts_with("WEBVTT ") || header.starts_with("WEBVTT\t")) {
        return fail(1, "a WebVTT file starts with a line `WEBVTT`");
    }
    let mut cues = Vec::new();
    let mut words = Vec::new();
    // The first block is the header.
    for block in blocks(&lines).into_iter().skip(1) {
        let (_, first) = block[0];
        if ["NOTE", "STYLE", "REGION"].iter().any(|kind| {
            first == *kind || first.starts_with(&format!("{kind} ")) || first.starts_with(&format!("{kind}\t"))
        }) {
            continue;
        }
        let timing_at = usize::from(!first.contains("-->"));
        let Some(&(timing_n, timing)) = block.get(timing_at) else {
            return fail(block[0].0, "a cue identifier with no time range after it");
        };
        let (start_ms, end_ms) = time_range(timing_n, timing, '.')?;
        let mut payload = Vec::new();
        for &(n, line) in &block[timing_at + 1..] {
            words.extend(karaoke_words(n, line, start_ms, end_ms)?);
            payload.push(strip_tags(line));
        }
        cues.push(Timed {
            start_ms,
            end_ms,
            text: payload.join("\n"),
        });
    }
    Ok(Parsed {
        format: "vtt".into(),
        cues,
        words,
    })
}

/// `<00:00:01.500>` tags inside a WebVTT cue time the text that follows.
fn karaoke_words(n: usize, line: &str, cue_start: i64, cue_end: i64) -> Result<Vec<Timed>, ParseError> {
    let mut out = Vec::new();
    let mut rest = line;
    let mut at = None;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else { break };
        let tag = &rest[open + 1..open + close];
        if let Some(time) = clock(tag, '.') {
            if let Some(start) = at {
                push_word(&mut out, start, time, &rest[..open]);
            }
            at = Some(time);
        }
        rest = &rest[open + close + 1..];
        if at.is_some_and(|t| t < cue_start || t > cue_end) {
            return fail(n, format!("the timestamp <{tag}> is outside its cue"));
        }
    }
    if let Some(start) = at {
        push_word(&mut out, start, cue_end, rest);
    }
    Ok(out)
}

fn push_word(out: &mut Vec<Timed>, start_ms: i64, end_ms: i64, text: &str) {
    let text = strip_tags(text);
    if !text.trim().is_empty() {
        out.push(Timed {
            start_ms,
            end_ms,
            text: text.trim().to_owned(),
        });
    }
}

/// `start --> end [settings]`.
fn time_range(n: usize, line: &str, fraction: char) -> Result<(i64, i64), ParseError> {
    let Some((start, rest)) = line.split_once("-->") else {
        return fail(
            n,
            format!(
                "expected a time range like `00:00:01{fraction}000 --> 00:00:02{fraction}500`, found `{}`",
                excerpt(line)
            ),
        );
    };
    let end = rest.split_whitespace().next().unwrap_or("");
    let parse = |t: &str| {
        clock(t.trim(), fraction)
            .or_else(|| clock(t.trim(), if fraction == ',' { '.' } else { ',' }))
            .ok_or_else(|| ParseError {
                line: n,
                message: format!("`{}` is not a time like `00:00:01{fraction}000`", excerpt(t.trim())),
            })
    };
    let (start, end) = (parse(start)?, parse(end)?);
    if end < start {
        return fail(n, "the cue ends before it starts");
    }
    Ok((start, end))
}

/// `[HH:]MM:SS<fraction>mmm` in milliseconds.
fn clock(t: &str, fraction: char) -> Option<i64> {
    let (hms, millis) = t.split_once(fraction)?;
    if millis.len() != 3 || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 2 + 6 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    let (h, m, s) = match parts.as_slice() {
        [h, m, s] => (number(h)?, number(m)?, number(s)?),
        [m, s] => (0, number(m)?, number(s)?),
        _ => return None,
    };
    if m > 59 || s > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * 1000 + millis.parse::<i64>().ok()?)
}

/// Cue text without markup (`<i>`, `<c.yellow>`, `{\an8}`).
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut depth = None;
    for c in line.chars() {
        match (depth, c) {
            (None, '<') => depth = Some('>'),
            (None, '{') if line.contains("{\\") => depth = Some('}'),
            (Some(close), c) if c == close => depth = None,
            (Some(_), _) => {}
            (None, c) => out.push(c),
        }
    }
    out.trim().to_owned()
}

fn excerpt(s: &str) -> String {
    let cut: String = s.chars().take(60).collect();
    if cut.len() < s.len() { format!("{cut}…") } else { cut }
}

#[derive(Deserialize)]
struct JsonDocument {
    #[serde(default)]
    words: Vec<JsonWord>,
    #[serde(default)]
    segments: Vec<JsonSegment>,
}

#[derive(Deserialize)]
struct JsonSegment {
    start: f64,
    end: f64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    words: Vec<JsonWord>,
}

#[derive(Deserialize)]
struct JsonWord {
    #[serde(alias = "text")]
    word: String,
    start: f64,
    end: f64,
}

/// Word timings as JSON, times in seconds: `{"words": [{"word", "start",
/// "end"}]}`, a bare array of those, or Whisper's `{"segments": [{"start",
/// "end", "text", "words"}]}`.
fn parse_json(text: &str) -> Result<Parsed, ParseError> {
    let syntax = |e: serde_json::Error| ParseError {
        line: e.line(),
        message: format!(
            "{e} (expected {{\"words\": [{{\"word\", \"start\", \"end\"}}]}} or {{\"segments\": […]}}, times in seconds)"
        ),
    };
    // Told apart by the first character, not tried in turn: serde then
    // says which line is wrong.
    let (words, segments) = if text.trim_start().starts_with('[') {
        (serde_json::from_str::<Vec<JsonWord>>(text).map_err(syntax)?, Vec::new())
    } else {
        let document: JsonDocument = serde_json::from_str(text).map_err(syntax)?;
        (document.words, document.segments)
    };
    let mut timed_words = Vec::new();
    let mut cues = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let (start_ms, end_ms) = seconds(&format!("segments[{i}]"), segment.start, segment.end)?;
        let text = if segment.text.trim().is_empty() {
            segment
                .words
                .iter()
                .map(|w| w.word.trim())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            segment.text.trim().to_owned()
        };
        cues.push(Timed { start_ms, end_ms, text });
        for (j, word) in segment.words.iter().enumerate() {
            timed_words.push(json_word(&format!("segments[{i}].words[{j}]"), word)?);
        }
    }
    for (i, word) in words.iter().enumerate() {
        timed_words.push(json_word(&format!("words[{i}]"), word)?);
    }
    for pair in timed_words.windows(2) {
        if pair[1].start_ms < pair[0].start_ms {
            return fail(
                0,
                format!("the word `{}` starts before the word before it", pair[1].text),
            );
        }
    }
    if cues.is_empty() {
        cues = cues_from_words(&timed_words);
    }
    Ok(Parsed {
        format: "json".into(),
        cues,
        words: timed_words,
    })
}

fn json_word(path: &str, word: &JsonWord) -> Result<Timed, ParseError> {
    let (start_ms, end_ms) = seconds(path, word.start, word.end)?;
    Ok(Timed {
        start_ms,
        end_ms,
        text: word.word.trim().to_owned(),
    })
}

fn seconds(path: &str, start: f64, end: f64) -> Result<(i64, i64), ParseError> {
    if !(start.is_finite() && end.is_finite()) || start < 0.0 {
        return fail(0, format!("{path}: times must be seconds from the start, 0 or more"));
    }
    if end < start {
        return fail(0, format!("{path}: ends ({end}) before it starts ({start})"));
    }
    Ok(((start * 1000.0).round() as i64, (end * 1000.0).round() as i64))
}

/// Words grouped into cues at sentence ends and pauses (half a second).
fn cues_from_words(words: &[Timed]) -> Vec<Timed> {
    let mut cues: Vec<Timed> = Vec::new();
    let mut open = false;
    for (i, word) in words.iter().enumerate() {
        let pause = i > 0 && word.start_ms - words[i - 1].end_ms >= 500;
        match cues.last_mut() {
            Some(cue) if open && !pause => {
                cue.end_ms = word.end_ms;
                cue.text.push(' ');
                cue.text.push_str(&word.text);
            }
            _ => cues.push(word.clone()),
        }
        open = !word.text.ends_with(['.', '!', '?']);
    }
    cues
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn srt_parses_and_says_which_line_is_wrong() {
        let ok = parse("1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>And so</i> my fellow\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nAmericans\r\n").unwrap();
        assert_eq!(ok.format, "srt");
        assert_eq!(ok.cues.len(), 2);
        assert_eq!(ok.cues[0].text, "And so my fellow");
        assert_eq!((ok.cues[0].start_ms, ok.cues[0].end_ms), (1000, 2500));
        assert_eq!(ok.word_count(), 5);
        let bad =
            parse("1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:03,000 -> 00:00:04,000\nThere\n").unwrap_err();
        assert_eq!(bad.line, 6, "{bad}");
        let backwards = parse("1\n00:00:05,000 --> 00:00:02,000\nHi\n").unwrap_err();
        assert_eq!(backwards.to_string(), "line 2: the cue ends before it starts");
    }

    #[test]
    fn vtt_skips_notes_and_reads_karaoke_timings() {
        let vtt = "WEBVTT\n\nNOTE a comment\n\nintro\n00:01.000 --> 00:03.000 align:start\n<v Ana>ask <00:01.500>not <00:02.000>what\n";
        let parsed = parse(vtt).unwrap();
        assert_eq!(parsed.cues.len(), 1);
        assert_eq!(parsed.cues[0].text, "ask not what");
        let words: Vec<_> = parsed
            .words
            .iter()
            .map(|w| (w.text.as_str(), w.start_ms, w.end_ms))
            .collect();
        assert_eq!(words, [("not", 1500, 2000), ("what", 2000, 3000)]);
        assert_eq!(parse("WEBVTX\n\n").unwrap_err().line, 1);
    }

    #[test]
    fn json_word_timings_in_their_common_shapes() {
        let words = parse(r#"{"words": [{"word": "ask", "start": 0.5, "end": 0.8}, {"word": "not.", "start": 0.9, "end": 1.2}, {"text": "what", "start": 2.0, "end": 2.3}]}"#).unwrap();
        assert_eq!(words.words.len(), 3);
        assert_eq!(words.cues.len(), 2, "a sentence end splits cues");
        let whisper = parse(r#"{"segments": [{"start": 0.0, "end": 2.0, "text": " Ask not", "words": [{"word": " Ask", "start": 0.0, "end": 0.5}]}]}"#).unwrap();
        assert_eq!(whisper.cues[0].text, "Ask not");
        let broken = parse("{\n  \"words\": [\n    {\"word\": \"ask\", \"start\": 0.5,}\n  ]\n}").unwrap_err();
        assert_eq!(broken.line, 3, "{broken}");
        let backwards = parse(r#"[{"word": "a", "start": 2.0, "end": 1.0}]"#).unwrap_err();
        assert!(backwards.message.contains("words[0]"), "{backwards}");
    }
}
