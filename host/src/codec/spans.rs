//! Reading the number arrays a 0.2 codec points at (`vectors.spans`): natively, each number to
//! the nearest f32, with the JSON number grammar enforced. The codec finds where the vectors
//! are (it owns the wire format); the host does the per-number work, which costs a fraction
//! in native code of what it costs in the sandbox (BENCHMARKS.md, "instructions").

use super::bindings::Span;

/// Why a span could not be read; the codec contract error names the vector.
#[derive(Debug, PartialEq, Eq)]
pub enum SpanError {
    OutOfBody { start: u32, len: u32, body: usize },
    NotAnArray { at: usize, excerpt: String },
}

impl std::fmt::Display for SpanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OutOfBody { start, len, body } => write!(
                f,
                "its span [{start}, {start} + {len}) lies outside the {body}-byte response body"
            ),
            Self::NotAnArray { at, excerpt } => write!(
                f,
                "its span is not a JSON array of numbers (at byte {at} of it: {excerpt:?})"
            ),
        }
    }
}

/// The bytes of `span` in `body`.
pub fn slice(body: &[u8], span: Span) -> Result<&[u8], SpanError> {
    let out = || SpanError::OutOfBody {
        start: span.start,
        len: span.len,
        body: body.len(),
    };
    let start = span.start as usize;
    let end = start.checked_add(span.len as usize).ok_or_else(out)?;
    body.get(start..end).ok_or_else(out)
}

/// Parses `[n, n, ...]` (JSON whitespace allowed around every token) into `out`, replacing its
/// contents. A number that overflows f32 becomes an infinity: the caller's type check refuses it.
pub fn parse_array(bytes: &[u8], out: &mut Vec<f32>) -> Result<(), SpanError> {
    out.clear();
    let bad = |at: usize| SpanError::NotAnArray {
        at,
        excerpt: String::from_utf8_lossy(&bytes[at.min(bytes.len())..(at + 24).min(bytes.len())])
            .into_owned(),
    };
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'[') {
        return Err(bad(i));
    }
    i = skip_ws(bytes, i + 1);
    if bytes.get(i) == Some(&b']') {
        return if skip_ws(bytes, i + 1) == bytes.len() {
            Ok(())
        } else {
            Err(bad(i + 1))
        };
    }
    loop {
        let end = number_end(bytes, i).ok_or_else(|| bad(i))?;
        // The grammar is checked above; fast-float2 reads the digits correctly rounded to the
        // nearest f32 (Eisel-Lemire, then a big-number fallback) at about a third of the cost
        // of std's `str::parse` here (BENCHMARKS.md).
        out.push(fast_float2::parse::<f32, _>(&bytes[i..end]).map_err(|_| bad(i))?);
        i = skip_ws(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_ws(bytes, i + 1),
            Some(b']') => {
                return if skip_ws(bytes, i + 1) == bytes.len() {
                    Ok(())
                } else {
                    Err(bad(i + 1))
                };
            }
            _ => return Err(bad(i)),
        }
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(i) {
        i += 1;
    }
    i
}

/// The end of the JSON number starting at `i` (RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)?
/// ([eE] [+-]? [0-9]+)?`), or `None` when none starts there.
fn number_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match bytes.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(i)?,
        _ => return None,
    };
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        i = digits(i)?;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<f32>, SpanError> {
        let mut out = vec![9.0];
        parse_array(s.as_bytes(), &mut out).map(|()| out)
    }

    #[test]
    fn reads_json_number_arrays_to_the_nearest_f32() {
        assert_eq!(parse("[]").unwrap(), Vec::<f32>::new());
        assert_eq!(parse(" [ ] ").unwrap(), Vec::<f32>::new());
        assert_eq!(
            parse("[0.5,-1,2e3, 1E-2 ,\n-0.0,\t0,127]").unwrap(),
            vec![0.5, -1.0, 2000.0, 0.01, -0.0, 0.0, 127.0]
        );
        // Nearest f32 directly, not through f64 (no double rounding): 1 + 2^-24 + 2^-60 is just
        // above the midpoint between 1 and the next f32, so it rounds up.
        let just_above_half_ulp = "1.00000005960464477539062500000000000000000001";
        assert_eq!(
            parse(&format!("[{just_above_half_ulp}]")).unwrap(),
            vec![1.000_000_1]
        );
        // Every f32 written shortest comes back exactly.
        for x in [f32::MIN_POSITIVE, 1e-45, f32::MAX, -0.123_456_79, 3.4e38] {
            assert_eq!(parse(&format!("[{x:?}]")).unwrap(), vec![x], "{x:?}");
        }
        // Overflow is an infinity, for the type check to refuse.
        assert_eq!(parse("[1e39]").unwrap(), vec![f32::INFINITY]);
    }

    #[test]
    fn refuses_what_json_does_not_allow() {
        for bad in [
            "", "[", "]", "[1", "[1,]", "[,1]", "[1 2]", "[01]", "[+1]", "[.5]", "[1.]", "[1e]",
            "[-]", "[NaN]", "[inf]", "[\"1\"]", "[[1]]", "[1] x", "{}", "[1,2]]", "[0x10]",
        ] {
            assert!(
                matches!(parse(bad), Err(SpanError::NotAnArray { .. })),
                "{bad:?} was accepted"
            );
        }
        let err = parse("[1, 2, true]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "its span is not a JSON array of numbers (at byte 7 of it: \"true]\")"
        );
    }

    #[test]
    fn a_span_must_lie_inside_the_body() {
        let body = b"{\"embedding\":[1,2]}";
        assert_eq!(slice(body, Span { start: 13, len: 5 }).unwrap(), b"[1,2]");
        assert_eq!(slice(body, Span { start: 0, len: 19 }).unwrap(), body);
        for (start, len) in [(13, 7), (20, 0), (u32::MAX, 2), (1, u32::MAX)] {
            let err = slice(body, Span { start, len }).unwrap_err();
            assert_eq!(
                err,
                SpanError::OutOfBody {
                    start,
                    len,
                    body: 19
                }
            );
        }
    }
}
