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
        let (value, len) = quick_number(&bytes[i..])
            .or_else(|| number(&bytes[i..]))
            .ok_or_else(|| bad(i))?;
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

/// Powers of ten an f64 holds exactly.
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Whether the 8 bytes of `v` are ASCII digits.
#[inline]
fn all_digits(v: u64) -> bool {
    (v.wrapping_add(0x4646_4646_4646_4646) | v.wrapping_sub(0x3030_3030_3030_3030))
        & 0x8080_8080_8080_8080
        == 0
}

/// The value of 8 ASCII digits (the first in the lowest byte).
#[inline]
fn eight_digits(v: u64) -> u64 {
    let v = v.wrapping_sub(0x3030_3030_3030_3030);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let mask = 0x0000_00FF_0000_00FF;
    (v & mask)
        .wrapping_mul(0x000F_4240_0000_0064)
        .wrapping_add(((v >> 16) & mask).wrapping_mul(0x0000_2710_0000_0001))
        >> 32
}

#[inline]
fn word(text: &[u8], i: usize) -> Option<u64> {
    text.get(i..)
        .and_then(<[u8]>::first_chunk::<8>)
        .map(|c| u64::from_le_bytes(*c))
}

/// The common case of [`number`], without fast-float2: `-?(0|[1-9][0-9]{0,14})(.[0-9]+)?`
/// whose value is settled by its first 15 significant digits in f64 arithmetic. `None` for
/// everything else (an exponent, a longer integer part, a value too close to a rounding
/// boundary of f32, or not a number at all): [`number`] decides those.
///
/// With `w` the first 15 significant digits and `q` their decimal exponent, the number is
/// `w·10^q` exactly, or lies strictly between `w·10^q` and `(w+1)·10^q` when digits after them
/// are not all 0. The lower bound is one correctly rounded f64 operation (`w < 2^53` and
/// `10^|q|`, `|q| <= 22`, are exact). Rounding is monotonic, and rounding an f64 to f32 gives
/// the f32 nearest the real number the f64 was rounded from unless the f64 is exactly halfway
/// between two f32s (those halfway points are f64s). So when the lower bound is not such a
/// halfway point and none lies between it and the upper bound, the f32 the lower bound rounds
/// to is the nearest to the number.
#[inline]
fn quick_number(text: &[u8]) -> Option<(f32, usize)> {
    const LIMIT: u64 = 1_000_000_000_000_000; // 10^15
    let negative = text.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let mut w: u64 = match text.get(i) {
        Some(b'0') => 0,
        Some(d @ b'1'..=b'9') => u64::from(d - b'0'),
        _ => return None,
    };
    i += 1;
    if w != 0 {
        while let Some(d @ b'0'..=b'9') = text.get(i) {
            w = w * 10 + u64::from(d - b'0');
            i += 1;
            if w >= LIMIT {
                return None;
            }
        }
    }
    let mut q: i32 = 0;
    let mut tail = false;
    if text.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        // Eight digits a step while they fit in 15.
        while w < 10_000_000
            && let Some(v) = word(text, i).filter(|v| all_digits(*v))
        {
            w = w * 100_000_000 + eight_digits(v);
            q -= 8;
            i += 8;
        }
        while let Some(d @ b'0'..=b'9') = text.get(i) {
            if w >= LIMIT / 10 {
                break;
            }
            w = w * 10 + u64::from(d - b'0');
            q -= 1;
            i += 1;
        }
        // Digits past the 15th: only whether one is not 0 matters.
        while let Some(v) = word(text, i).filter(|v| all_digits(*v)) {
            tail |= v != 0x3030_3030_3030_3030;
            i += 8;
        }
        while let Some(d @ b'0'..=b'9') = text.get(i) {
            tail |= *d != b'0';
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if let Some(b'e' | b'E') = text.get(i) {
        return None;
    }
    if q < -22 {
        return None;
    }
    let scale = EXACT_POW10[(-q) as usize];
    let lo = w as f64 / scale;
    let value = settled(lo)?;
    // With digits past the 15th the number lies strictly between `w·10^q` and `(w+1)·10^q`,
    // and `w >= 10^14` then: the upper bound is at most ~91 f64 steps above `lo`. With no f32
    // halfway point within 128 steps above `lo` (the halfway points are the f64s whose low 29
    // bits are `HALF`), both bounds round to the same f32.
    if tail && HALF.wrapping_sub(lo.to_bits() & LOW) <= 128 {
        return None;
    }
    Some((if negative { -value } else { value }, i))
}

/// The bits of an f64 below an f32's precision (in f32's normal range), and their value at
/// a point halfway between two f32s.
const LOW: u64 = 0x1FFF_FFFF;
const HALF: u64 = 0x1000_0000;

/// `x` rounded to f32, when that is the f32 nearest to every real number that rounds to `x`
/// as an f64: `x` is in f32's normal range and not halfway between two f32s.
#[inline]
fn settled(x: f64) -> Option<f32> {
    let bits = x.to_bits();
    // Zero, or normal for f32 and below f32::MAX (exponents -126..=127).
    let exp = ((bits >> 52) & 0x7FF) as i32 - 1023;
    if x == 0.0 {
        return Some(0.0);
    }
    if !(-126..=127).contains(&exp) || bits & LOW == HALF {
        return None;
    }
    Some(x as f32)
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
                    // Only whitespace: the empty array.
                    (None, Some(v)) if item.trim_ascii().is_empty() => assert!(v.is_empty()),
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
    fn the_quick_path_reads_what_fast_float2_reads() {
        // Numbers as the emulator and Bedrock write them (an f32 widened to f64, shortest), as
        // Rust writes f32s, with fixed digit counts, and f32 halfway points (exact and written
        // to 30 places): each read by `parse_array` (the quick path, or fast-float2 where it
        // declines) and by fast-float2 alone, bit for bit.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out = Vec::new();
        for round in 0..200_000u64 {
            let r = next();
            let small = f32::from_bits((r as u32) & 0x3fff_ffff);
            let text = match round % 5 {
                0 => format!("{}", f32::from_bits(r as u32) as f64),
                1 => format!("{:?}", f32::from_bits(r as u32)),
                2 => format!("{:.*}", (r >> 40) as usize % 25, small as f64),
                3 => {
                    let up = f32::from_bits(small.to_bits() + 1);
                    format!("{}", (small as f64 + up as f64) / 2.0)
                }
                _ => {
                    let up = f32::from_bits(small.to_bits() + 1);
                    format!("{:.30}", (small as f64 + up as f64) / 2.0)
                }
            };
            if text.contains("inf") || text.contains("NaN") {
                continue;
            }
            let want: f32 = fast_float2::parse(&text).unwrap();
            parse_array(format!("[{text}]").as_bytes(), &mut out).unwrap();
            assert_eq!(out[0].to_bits(), want.to_bits(), "{text}");
        }
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
