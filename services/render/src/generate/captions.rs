//! Captions from a transcript: words placed on the timeline through the
//! cut list (a word said in removed dead air goes with it), then grouped
//! into short pages — at most two lines of a readable width, ended at a
//! sentence's end, a pause, a cut or a length limit — each on screen long
//! enough to read and never over the next.

use crate::generate::speech::Span;

/// A word as transcribed, in microseconds of its clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    pub start: i64,
    pub end: i64,
    pub text: String,
}

/// How captions are paged.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    pub max_line_chars: usize,
    pub max_lines: usize,
    pub max_page_us: i64,
    pub min_page_us: i64,
    /// A silence this long between words ends a page.
    pub pause_us: i64,
}

impl Default for Paging {
    /// Short-form style: big text, few words at a time.
    fn default() -> Self {
        Self {
            max_line_chars: 24,
            max_lines: 2,
            max_page_us: 3_000_000,
            min_page_us: 700_000,
            pause_us: 350_000,
        }
    }
}

/// A page of caption text on the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub start: i64,
    pub end: i64,
    pub text: String,
}

/// A word placed on the timeline; `after_cut`: a cut lies before it.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub start: i64,
    pub end: i64,
    pub text: String,
    pub after_cut: bool,
}

/// Places a clip's words through its kept spans: `spans` are (source span,
/// timeline start) in order. Words whose middle falls outside every kept
/// span are dropped.
pub fn place(words: &[Word], spans: &[(Span, i64)], placed: &mut Vec<Placed>) {
    let mut last_span = None;
    for word in words {
        let middle = (word.start + word.end) / 2;
        let Some((index, (span, at))) = spans
            .iter()
            .enumerate()
            .find(|(_, (s, _))| s.start <= middle && middle < s.end)
        else {
            continue;
        };
        let start = at + (word.start.max(span.start) - span.start);
        let end = at + (word.end.min(span.end) - span.start);
        placed.push(Placed {
            start,
            end: end.max(start + 1),
            text: word.text.clone(),
            // The first word of a clip, or of another span than the last word's.
            after_cut: last_span != Some(index),
        });
        last_span = Some(index);
    }
}

/// Pages for `words` (in timeline order) on a timeline `timeline_end` long.
pub fn pages(words: &[Placed], timeline_end: i64, paging: &Paging) -> Vec<Page> {
    let mut pages: Vec<(i64, i64, Vec<&str>)> = Vec::new();
    let mut current: Vec<&Placed> = Vec::new();
    for word in words {
        if let Some(last) = current.last() {
            let mut texts: Vec<&str> = current.iter().map(|w| w.text.as_str()).collect();
            texts.push(&word.text);
            let sentence_ended = last.text.ends_with(['.', '!', '?', '…']);
            let ends = word.after_cut
                || sentence_ended
                || word.start - last.end >= paging.pause_us
                || word.end - current[0].start > paging.max_page_us
                || lines(&texts, paging.max_line_chars).len() > paging.max_lines;
            if ends {
                pages.push(finish(&current));
                current.clear();
            }
        }
        current.push(word);
    }
    if !current.is_empty() {
        pages.push(finish(&current));
    }
    // Long enough to read, never over the next page or past the end.
    let mut out = Vec::with_capacity(pages.len());
    for (i, (start, end, texts)) in pages.iter().enumerate() {
        let next = pages.get(i + 1).map_or(timeline_end, |p| p.0);
        let end = (*end).max(start + paging.min_page_us).min(next).min(timeline_end);
        if end > *start {
            out.push(Page {
                start: *start,
                end,
                text: lines(texts, paging.max_line_chars).join("\n"),
            });
        }
    }
    out
}

fn finish<'a>(words: &[&'a Placed]) -> (i64, i64, Vec<&'a str>) {
    let start = words[0].start;
    let end = words.last().map_or(start, |w| w.end);
    (start, end, words.iter().map(|w| w.text.as_str()).collect())
}

/// Words filled greedily into lines of at most `width` characters (a word
/// longer than a line is split).
fn lines(words: &[&str], width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in words {
        let chars: Vec<char> = word.chars().collect();
        for piece in chars.chunks(width.max(1)) {
            let piece: String = piece.iter().collect();
            let needed = if line.is_empty() {
                piece.chars().count()
            } else {
                line.chars().count() + 1 + piece.chars().count()
            };
            if needed > width && !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&piece);
        }
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// Words from cues that were not timed per word: each cue's time shared
/// among its words by their length.
pub fn words_of_cues(cues: &[Word]) -> Vec<Word> {
    let mut out = Vec::new();
    for cue in cues {
        let words: Vec<&str> = cue.text.split_whitespace().collect();
        let total: usize = words.iter().map(|w| w.chars().count()).sum();
        if total == 0 {
            continue;
        }
        let length = (cue.end - cue.start).max(0);
        let mut done = 0usize;
        for word in words {
            let count = word.chars().count();
            let start = cue.start + length * done as i64 / total as i64;
            done += count;
            let end = cue.start + length * done as i64 / total as i64;
            out.push(Word {
                start,
                end,
                text: word.to_owned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(start_ms: i64, end_ms: i64, text: &str) -> Word {
        Word {
            start: start_ms * 1000,
            end: end_ms * 1000,
            text: text.to_owned(),
        }
    }

    #[test]
    fn words_in_removed_silence_go_and_the_rest_move_up() {
        let words = [
            word(100, 400, "Hello"),
            word(2500, 2800, "um"),
            word(3600, 3900, "world"),
        ];
        // Kept: 0–2.2 s at 0, then 3.3–6.2 s at 2.2 s.
        let spans = [
            (
                Span {
                    start: 0,
                    end: 2_200_000,
                },
                0,
            ),
            (
                Span {
                    start: 3_300_000,
                    end: 6_200_000,
                },
                2_200_000,
            ),
        ];
        let mut placed = Vec::new();
        place(&words, &spans, &mut placed);
        let texts: Vec<_> = placed.iter().map(|w| (w.text.as_str(), w.start, w.after_cut)).collect();
        assert_eq!(texts, [("Hello", 100_000, true), ("world", 2_500_000, true)]);
    }

    #[test]
    fn pages_break_at_sentences_pauses_and_width() {
        let words: Vec<Placed> = [
            (0, 300, "And"),
            (300, 500, "so,"),
            (500, 700, "my"),
            (700, 1000, "fellow"),
            (1000, 1500, "Americans:"),
            (1500, 1800, "ask"),
            (1800, 2000, "not."),
            (2600, 2900, "What"),
        ]
        .iter()
        .map(|(s, e, t)| Placed {
            start: s * 1000,
            end: e * 1000,
            text: (*t).to_owned(),
            after_cut: false,
        })
        .collect();
        let pages = pages(&words, 4_000_000, &Paging::default());
        let texts: Vec<&str> = pages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["And so, my fellow\nAmericans: ask not.", "What"]);
        assert_eq!(
            (pages[1].start, pages[1].end),
            (2_600_000, 3_300_000),
            "shown 0.7 s at least"
        );
    }

    #[test]
    fn long_lines_wrap_and_pages_hold_two_lines() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let words: Vec<Placed> = text
            .split(' ')
            .enumerate()
            .map(|(i, t)| Placed {
                start: i as i64 * 200_000,
                end: i as i64 * 200_000 + 150_000,
                text: t.to_owned(),
                after_cut: false,
            })
            .collect();
        for page in pages(&words, 10_000_000, &Paging::default()) {
            let lines: Vec<&str> = page.text.lines().collect();
            assert!(lines.len() <= 2, "{page:?}");
            assert!(lines.iter().all(|l| l.chars().count() <= 24), "{page:?}");
            assert!(page.end - page.start <= 3_000_000 + 700_000);
        }
    }

    #[test]
    fn cue_time_is_shared_by_word_length() {
        let words = words_of_cues(&[word(0, 1000, "ab abcd")]);
        let times: Vec<_> = words.iter().map(|w| (w.text.as_str(), w.start, w.end)).collect();
        assert_eq!(times, [("ab", 0, 333_333), ("abcd", 333_333, 1_000_000)]);
    }
}
