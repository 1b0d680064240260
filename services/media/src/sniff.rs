//! What a file is, from its first bytes (magic numbers), before ffprobe is
//! asked: the client's file name and content type are never consulted.

/// What the first bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// A container or stream format ffprobe is then asked about.
    Media(&'static str),
    /// UTF-8 text without NUL bytes: a transcript, if it parses as one.
    Text,
    /// A known format that is not media (a PDF, an archive, a program).
    NotMedia(&'static str),
    /// A media format's header that is broken.
    Corrupt(&'static str),
    Unknown,
}

/// How many leading bytes [`sniff`] wants.
pub const SNIFF_LEN: usize = 64 * 1024;

pub fn sniff(head: &[u8]) -> Sniffed {
    if let Some(what) = media_signature(head) {
        return Sniffed::Media(what);
    }
    // A RIFF header with its form type misplaced (a WAV header written wrong).
    if head.starts_with(b"RIFF")
        && head.len() >= 12
        && &head[8..12] != b"WAVE"
        && head[..head.len().min(16)].windows(4).any(|w| w == b"WAVE")
    {
        return Sniffed::Corrupt("a WAV file whose RIFF header is malformed (no chunk size before `WAVE`)");
    }
    if let Some(what) = other_signature(head) {
        return Sniffed::NotMedia(what);
    }
    if is_text(head) {
        return Sniffed::Text;
    }
    Sniffed::Unknown
}

fn media_signature(b: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| b.len() >= offset + magic.len() && &b[offset..offset + magic.len()] == magic;
    if at(4, b"ftyp") {
        return Some(match b.get(8..12) {
            Some(b"heic" | b"heix" | b"mif1" | b"msf1" | b"avif") => "HEIF/AVIF image",
            Some(b"qt  ") => "QuickTime",
            _ => "MP4",
        });
    }
    // Old QuickTime files start with another top-level atom.
    if [b"moov", b"mdat", b"wide", b"free", b"skip"]
        .iter()
        .any(|atom| at(4, *atom))
    {
        return Some("QuickTime");
    }
    let table: [(usize, &[u8], &'static str); 20] = [
        (0, &[0x1A, 0x45, 0xDF, 0xA3], "Matroska/WebM"),
        (0, &[0xFF, 0xD8, 0xFF], "JPEG"),
        (0, b"\x89PNG\r\n\x1a\n", "PNG"),
        (0, b"GIF87a", "GIF"),
        (0, b"GIF89a", "GIF"),
        (0, b"II*\0", "TIFF"),
        (0, b"MM\0*", "TIFF"),
        (0, b"fLaC", "FLAC"),
        (0, b"OggS", "Ogg"),
        (0, b"ID3", "MP3"),
        (0, b"#!AMR", "AMR"),
        (0, b"FLV", "FLV"),
        (0, &[0x30, 0x26, 0xB2, 0x75], "ASF/WMV"),
        (0, &[0x00, 0x00, 0x01, 0xBA], "MPEG program stream"),
        (0, &[0x00, 0x00, 0x01, 0xB3], "MPEG video"),
        (8, b"WAVE", "WAV"),
        (8, b"AVI ", "AVI"),
        (8, b"WEBP", "WebP"),
        (8, b"AIFF", "AIFF"),
        (8, b"AIFC", "AIFF"),
    ];
    for (offset, magic, what) in table {
        if at(offset, magic) && (offset != 8 || at(0, b"RIFF") || at(0, b"FORM")) {
            return Some(what);
        }
    }
    if b.len() > 188 && b[0] == 0x47 && b[188] == 0x47 {
        return Some("MPEG transport stream");
    }
    // An MPEG audio frame or an ADTS (AAC) header: 11 sync bits.
    if b.len() >= 4 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0 && b[1] & 0x06 != 0x06 {
        return Some("MPEG audio or AAC");
    }
    None
}

fn other_signature(b: &[u8]) -> Option<&'static str> {
    let table: [(&[u8], &'static str); 8] = [
        (b"%PDF", "PDF document"),
        (b"PK\x03\x04", "ZIP archive (or an Office document)"),
        (b"\x7fELF", "program (ELF)"),
        (b"MZ", "Windows program"),
        (&[0x1F, 0x8B], "gzip archive"),
        (b"Rar!", "RAR archive"),
        (b"7z\xBC\xAF\x27\x1C", "7-Zip archive"),
        (b"RIFF", "RIFF file of an unknown kind"),
    ];
    table
        .iter()
        .find(|(magic, _)| b.starts_with(magic))
        .map(|(_, what)| *what)
}

fn is_text(b: &[u8]) -> bool {
    if b.is_empty() || b.contains(&0) {
        return false;
    }
    match std::str::from_utf8(b) {
        Ok(_) => true,
        // Cut in the middle of a character at the end of the sniffed bytes.
        Err(e) => e.error_len().is_none() && b.len() == SNIFF_LEN,
    }
}

#[cfg(test)]
mod tests {
    use super::{Sniffed, sniff};

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42\0\0\0\0"), Sniffed::Media("MP4"));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"), Sniffed::Media("QuickTime"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), Sniffed::Media("WAV"));
        assert_eq!(
            sniff(b"RIFF\x24\0\0\0XXXXfmt "),
            Sniffed::NotMedia("RIFF file of an unknown kind")
        );
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::NotMedia("PDF document"));
        assert!(matches!(sniff(b"RIFFXWAVEfmt D??data,"), Sniffed::Corrupt(_)));
        assert_eq!(
            sniff("1\n00:00:01,000 --> 00:00:02,000\nHi\n".as_bytes()),
            Sniffed::Text
        );
        assert_eq!(sniff(&[0x00, 0x13, 0x37, 0x00, 0x42]), Sniffed::Unknown);
    }
}
