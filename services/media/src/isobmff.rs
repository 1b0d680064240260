//! MP4 and QuickTime files (ISO base media), read box by box: ffprobe reads
//! a file whose `moov` comes first even when its media data was cut off, and
//! knows nothing of encryption it cannot decrypt; the boxes tell both.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// What the top-level boxes say is wrong, if anything.
#[derive(Debug, PartialEq, Eq)]
pub enum Finding {
    /// A box claims more bytes than the file has.
    Truncated { box_type: String, missing: u64 },
    /// No `moov`: the index of the media (it comes last when a recording was
    /// cut short before the muxer finished).
    NoMovie,
    /// Protected (DRM): an encrypted sample entry or a protection box.
    Encrypted(&'static str),
}

/// The most of a `moov` box read to look for protection (they are a few MB).
const MAX_MOOV: u64 = 64 * 1024 * 1024;

pub fn inspect(file: &mut File, len: u64) -> std::io::Result<Option<Finding>> {
    let mut offset = 0u64;
    let mut moov: Option<(u64, u64)> = None;
    while offset + 8 <= len {
        file.seek(SeekFrom::Start(offset))?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header)?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let box_type = String::from_utf8_lossy(&header[4..8]).into_owned();
        let (size, header_len) = match size32 {
            0 => (len - offset, 8),
            1 => {
                let mut large = [0u8; 8];
                if offset + 16 > len {
                    return Ok(Some(Finding::Truncated {
                        box_type,
                        missing: offset + 16 - len,
                    }));
                }
                file.read_exact(&mut large)?;
                (u64::from_be_bytes(large), 16)
            }
            n => (n, 8),
        };
        if size < header_len {
            // Not a box structure we can follow; leave the verdict to ffprobe.
            return Ok(None);
        }
        if offset + size > len {
            return Ok(Some(Finding::Truncated {
                box_type,
                missing: offset + size - len,
            }));
        }
        if box_type == "moov" {
            moov = Some((offset + header_len, size - header_len));
        }
        offset += size;
    }
    let Some((start, size)) = moov else {
        return Ok(Some(Finding::NoMovie));
    };
    file.seek(SeekFrom::Start(start))?;
    let mut body = Vec::new();
    file.take(size.min(MAX_MOOV)).read_to_end(&mut body)?;
    Ok(protection(&body).map(Finding::Encrypted))
}

/// Sample entries and boxes that only protected files have.
fn protection(moov: &[u8]) -> Option<&'static str> {
    [
        (b"encv", "encrypted video (Common Encryption)"),
        (b"enca", "encrypted audio (Common Encryption)"),
        (b"pssh", "a DRM system's protection data"),
        (b"sinf", "protection scheme information"),
        (b"drms", "FairPlay-protected audio"),
        (b"drmi", "FairPlay-protected video"),
    ]
    .into_iter()
    .find(|(fourcc, _)| moov.windows(4).any(|w| w == *fourcc))
    .map(|(_, what)| what)
}
