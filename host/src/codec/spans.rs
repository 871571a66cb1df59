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
        let (value, len) = number(&bytes[i..]).ok_or_else(|| bad(i))?;
        out.push(value);
        i += len;
        // Compact JSON (no whitespace) is the usual case: look at the next byte first.
        let mut next = bytes.get(i);
        if let Some(b' ' | b'\n' | b'\r' | b'\t') = next {
            i = skip_ws(bytes, i);
            next = bytes.get(i);
        }
        match next {
            Some(b',') => {
                i += 1;
                if let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(i) {
                    i = skip_ws(bytes, i);
                }
            }
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

/// The JSON number (RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`) at
/// the start of `text`, to the nearest f32, and its length; `None` when none starts there.
///
/// fast-float2 reads the longest number it can (correctly rounded: Eisel-Lemire, then a
/// big-number fallback) and says where it stopped; it also reads what JSON has not, which is
/// refused here before or after: a `+` sign, a leading `.`, `inf`/`nan`, leading zeros (`01`),
/// and a point without a digit after it (`1.`, `1.e5`). An exponent without digits (`1e`)
/// is left unread by fast-float2, so the byte after the number is not `,` or `]`: the caller
/// refuses it.
#[inline]
fn number(text: &[u8]) -> Option<(f32, usize)> {
    let sign = usize::from(text.first() == Some(&b'-'));
    match text.get(sign..)? {
        [b'0', b'0'..=b'9', ..] => return None,
        [b'0'..=b'9', ..] => {}
        _ => return None,
    }
    let (value, len) = fast_float2::parse_partial::<f32, _>(text).ok()?;
    // The integer part's digits, then a point: a digit must follow it.
    let mut k = sign + 1;
    while k < len && text[k].is_ascii_digit() {
        k += 1;
    }
    if k < len && text[k] == b'.' && !text.get(k + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((value, len))
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(i) {
        i += 1;
    }
    i
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
            "",
            "[",
            "]",
            "[1",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[01]",
            "[+1]",
            "[.5]",
            "[1.]",
            "[1e]",
            "[-]",
            "[NaN]",
            "[inf]",
            "[\"1\"]",
            "[[1]]",
            "[1] x",
            "{}",
            "[1,2]]",
            "[0x10]",
            "[1e+]",
            "[1.5e]",
            "[1E-]",
            "[-01]",
            "[-.5]",
            "[1.e5]",
            "[- 1]",
            "[1.5.2]",
            "[1e5e5]",
            "[1,,2]",
            "[infinity]",
            "[-inf]",
            "[1_0]",
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

    /// The JSON number grammar, spelt out (RFC 8259 §6): the reference `number` must agree
    /// with.
    fn json_number_end(bytes: &[u8], mut i: usize) -> Option<usize> {
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

    #[test]
    fn accepts_exactly_the_json_number_grammar() {
        // Every string of up to 6 bytes over the bytes that matter, as one array item: read
        // when and only when the grammar says it is a number, to the value std reads.
        let alphabet = b"019.eE+-x ,";
        let mut text = Vec::new();
        let mut out = Vec::new();
        let mut accepted = 0;
        for len in 1..=6u32 {
            for mut n in 0..(alphabet.len() as u64).pow(len) {
                text.clear();
                text.push(b'[');
                for _ in 0..len {
                    text.push(alphabet[(n % alphabet.len() as u64) as usize]);
                    n /= alphabet.len() as u64;
                }
                text.push(b']');
                let item = &text[1..text.len() - 1];
                let end = json_number_end(item, 0);
                let expected = (end == Some(item.len()))
                    .then(|| std::str::from_utf8(item).unwrap().parse::<f32>().unwrap());
                let got = parse_array(&text, &mut out).ok().map(|()| out.clone());
                match (expected, got) {
                    (Some(x), Some(v)) => {
                        assert_eq!(v, vec![x], "{:?}", String::from_utf8_lossy(&text));
                        accepted += 1;
                    }
                    (None, None) => {}
                    // Several numbers with commas between: each one must be grammatical.
                    (None, Some(v)) => {
                        let items: Vec<&[u8]> = item.split(|b| *b == b',').collect();
                        assert!(
                            items.iter().all(|it| {
                                let t = it.trim_ascii();
                                json_number_end(t, 0) == Some(t.len())
                            }),
                            "{:?} was accepted as {v:?}",
                            String::from_utf8_lossy(&text)
                        );
                    }
                    (Some(x), None) => {
                        panic!("{:?} ({x}) was refused", String::from_utf8_lossy(&text))
                    }
                }
            }
        }
        assert!(accepted > 1000, "{accepted}");
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
