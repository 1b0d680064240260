//! One HTTP byte range (RFC 9110 §14.1.2) against a representation of
//! `size` bytes. Several ranges in one request are answered with the whole
//! representation (allowed: a server may ignore `Range`).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A range outside the representation: answered 416 with its size.
pub(crate) struct Unsatisfiable(u64);

impl IntoResponse for Unsatisfiable {
    fn into_response(self) -> Response {
        (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{}", self.0))],
        )
            .into_response()
    }
}

/// The request's `Range` against `size` bytes: `Ok(None)` for everything.
pub(crate) fn requested(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => Ok(None),
        Some(value) => parse(value, size).map_err(|()| Unsatisfiable(size)),
    }
}

/// `Ok(Some((first, last)))` inclusive; `Ok(None)`: serve everything;
/// `Err(())`: unsatisfiable (416).
pub(crate) fn parse(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    // A value that does not parse is ignored (the whole representation), as RFC 9110 allows.
    let Some(number) = parse_numbers(first, last) else {
        return Ok(None);
    };
    let (first_number, last_number) = number;
    let (first, last) = match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => {
            let n = last_number.ok_or(())?;
            if n == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size - 1)
        }
        (false, true) => (first_number.ok_or(())?, size.saturating_sub(1)),
        (false, false) => {
            let (a, b) = (first_number.ok_or(())?, last_number.ok_or(())?);
            if b < a {
                return Ok(None);
            }
            (a, b.min(size.saturating_sub(1)))
        }
        (true, true) => return Ok(None),
    };
    if first >= size {
        return Err(());
    }
    Ok(Some((first, last)))
}

/// The two ends as numbers (`None` where empty); `None` when one is not a number.
fn parse_numbers(first: &str, last: &str) -> Option<(Option<u64>, Option<u64>)> {
    let end = |s: &str| {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    Some((end(first)?, end(last)?))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn ranges() {
        assert_eq!(parse("bytes=0-99", 1000), Ok(Some((0, 99))));
        assert_eq!(parse("bytes=900-", 1000), Ok(Some((900, 999))));
        assert_eq!(parse("bytes=-100", 1000), Ok(Some((900, 999))));
        assert_eq!(parse("bytes=-5000", 1000), Ok(Some((0, 999))));
        assert_eq!(parse("bytes=990-2000", 1000), Ok(Some((990, 999))));
        assert_eq!(parse("bytes=1000-", 1000), Err(()));
        assert_eq!(parse("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(parse("items=0-1", 1000), Ok(None));
        assert_eq!(parse("bytes=x-1", 1000), Ok(None));
    }
}
