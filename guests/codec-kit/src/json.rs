//! A small pull reader for embedding responses: it finds where their number arrays are
//! ([`Reader::numbers`], the fast path) or reads them straight to `f32`s ([`Reader::floats`]).
//!
//! An embedding response is mostly numbers. Reading them costs the most in the sandbox (~550
//! wasm instructions per float with `fast-float2`), so a codec of `bedrock-embed:codec@0.2.0`
//! hands the host the byte range of each array ([`crate::Span`]: from its `[` to its `]`) and
//! the host parses and validates the numbers natively. Finding that range does not look at the
//! numbers: numbers contain no brackets, braces or quotes, so [`Reader::numbers`] scans forward
//! eight bytes at a time to the first `]` and stops early (with an error) at a `[`, `{`, `}` or
//! `"`, which a flat array of numbers cannot hold. It counts the commas on the way, so a codec
//! still knows each vector's size.
//!
//! The reader walks objects itself (keys are compared without decoding unless they hold an
//! escape) and steps over the members a codec does not need ([`Reader::skip`]) structurally:
//! strings are scanned to their closing quote (escapes and all), containers to their matching
//! bracket, and a nested array of numbers is stepped over with the same scan as
//! [`Reader::numbers`]. So a `]` or `"` inside a string, or a key named like the one searched
//! inside a nested object, cannot fool it. Values a codec reads as they are (a token count) go
//! to serde_json ([`Reader::value`]).
//!
//! What is checked: the structure (brackets, `,`, `:`, strings and their escapes, literals and
//! scalar numbers), everywhere. Not checked: the contents of number arrays found by
//! [`Reader::numbers`] (the host parses them: `[`, numbers separated by commas, whitespace,
//! `]`) or stepped over inside skipped values, and the UTF-8 of skipped strings (serde_json
//! does not check it either). [`Reader::floats`] checks every number it reads. Errors name
//! where they are, as a path (`embeddings.float[3][17]`) and a line and column.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

use crate::Span;

/// What could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Keys and indexes from the value the reader started on: `embeddings.float[3][17]`.
    path: String,
    message: String,
    line: usize,
    column: usize,
}

impl Error {
    /// The error as met inside the member `key` of an object.
    pub fn within_key(mut self, key: &str) -> Self {
        if self.path.is_empty() || self.path.starts_with('[') {
            self.path.insert_str(0, key);
        } else {
            self.path = format!("{key}.{}", self.path);
        }
        self
    }

    fn within_index(mut self, index: usize) -> Self {
        self.path.insert_str(0, &format!("[{index}]"));
        self
    }

    /// The line of the text (from 1) where the error is.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column (the byte of the line, from 1) where the error is.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for Error {}

/// Where a flat array of numbers is: its [`Span`] in the text, from `[` to `]`, and how many
/// values it holds as counted by its commas (0 for `[]`, else commas + 1). The values
/// themselves are not read: the host checks them when it parses the span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberArray {
    pub span: Span,
    pub count: usize,
}

/// Reads one JSON text from the front: the methods read the value at the reader and leave it
/// after that value. A clone reads the same value again (say, a member skipped at first).
///
/// Spans are offsets into the text given to [`Reader::new`]: give it the whole response body.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a [u8]) -> Self {
        Self { text, pos: 0 }
    }

    /// The next byte that is not whitespace, without taking it.
    pub fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.pos) {
            self.pos += 1;
        }
        self.text.get(self.pos).copied()
    }

    /// Reads an object, calling `member` with each key in turn: `member` must read (or
    /// [skip](Self::skip)) the value. A key given twice is an error; errors from `member` are
    /// placed [within](Error::within_key) the key.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&str, &mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.expect(b'{', "an object")?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        let mut keys: Vec<Cow<'a, str>> = Vec::new();
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a key"));
            }
            let key = self.key()?;
            if keys.contains(&key) {
                return Err(self.error(format!("duplicate key `{key}`")));
            }
            self.expect(b':', "\":\"")?;
            member(&key, self).map_err(|e| e.within_key(&key))?;
            keys.push(key);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("\",\" or \"}\"")),
            }
        }
    }

    /// `None` for a `null`, else what `read` reads.
    pub fn option<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        if self.peek() == Some(b'n') {
            self.literal(b"null").map(|()| None)
        } else {
            read(self).map(Some)
        }
    }

    /// The value at the reader, read by serde_json. For small values (a count, a string):
    /// serde_json reads every byte of it.
    pub fn value<T: Deserialize<'a>>(&mut self) -> Result<T, Error> {
        self.peek();
        let mut values = serde_json::Deserializer::from_slice(&self.text[self.pos..]).into_iter();
        match values.next() {
            Some(Ok(value)) => {
                self.pos += values.byte_offset();
                Ok(value)
            }
            Some(Err(e)) => Err(self.serde_error(&e)),
            None => Err(self.unexpected("a value")),
        }
    }

    /// Steps over the value at the reader, checking its structure (see the module docs): a
    /// string to its closing quote, an object or array to its matching bracket, an array of
    /// numbers as [`numbers`](Self::numbers) finds its end.
    pub fn skip(&mut self) -> Result<(), Error> {
        // The containers open around the reader: `true` for an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            // A value.
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        open.push(true);
                        self.key_and_colon()?;
                        continue;
                    }
                }
                Some(b'[') => match scan_numbers(self.text, self.pos + 1) {
                    Scan::End { close, .. } => self.pos = close + 1,
                    Scan::Stop { .. } => {
                        // Not a flat array of numbers (or not a complete one): item by item.
                        self.pos += 1;
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                        } else {
                            open.push(false);
                            continue;
                        }
                    }
                },
                Some(b'"') => self.string().map(drop)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(self.unexpected("a value")),
            }
            // After a value: close what it ends, or go on to the next item.
            loop {
                let Some(&in_object) = open.last() else {
                    return Ok(());
                };
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.key_and_colon()?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {
                        self.pos += 1;
                        open.pop();
                    }
                    Some(b']') if !in_object => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ if in_object => return Err(self.unexpected("\",\" or \"}\"")),
                    _ => return Err(self.unexpected("\",\" or \"]\"")),
                }
            }
        }
    }

    /// The fast path: where the array of numbers at the reader is (`[0.25, -1e-3]`, `[]`),
    /// without reading its numbers. Scans from `[` to the first `]`; a `[`, `{`, `}` or `"`
    /// before it is an error (placed at the item it is in), as is a text that ends first.
    /// Whatever else lies between the brackets is the host's to check.
    pub fn numbers(&mut self) -> Result<NumberArray, Error> {
        if self.peek() != Some(b'[') {
            return Err(self.unexpected("an array"));
        }
        let open = self.pos;
        match scan_numbers(self.text, open + 1) {
            Scan::End { close, commas } => {
                self.pos = open + 1;
                let empty = self.peek() == Some(b']');
                self.pos = close + 1;
                let span = self.span(open, close + 1)?;
                let count = if empty { 0 } else { commas + 1 };
                Ok(NumberArray { span, count })
            }
            Scan::Stop { at, commas } => {
                self.pos = at;
                let error = if at == self.text.len() {
                    // Truncated: place it where the text ends, as the item it ends in.
                    self.unexpected("\",\" or \"]\"")
                } else {
                    self.unexpected("a number")
                };
                Err(error.within_index(commas))
            }
        }
    }

    /// An array of arrays of numbers, each found as [`numbers`](Self::numbers) does;
    /// `count` is the number of arrays expected (a hint).
    pub fn number_arrays(&mut self, count: usize) -> Result<Vec<NumberArray>, Error> {
        self.list(count, Self::numbers)
    }

    /// An array of numbers (`[0.25, -1e-3]`, `[]`) read as `f32`s, every number checked;
    /// `capacity` is the number of values expected (a hint). A number beyond `f32`'s range
    /// reads as an infinity, as with `str::parse`. Slower than [`numbers`](Self::numbers) by
    /// far: for values a codec must compute with (say, bits to pack).
    pub fn floats(&mut self, capacity: usize) -> Result<Vec<f32>, Error> {
        self.list(capacity, |r| {
            let (value, len) = number(&r.text[r.pos..]).ok_or_else(|| r.unexpected("a number"))?;
            r.pos += len;
            Ok(value)
        })
    }

    /// An array of arrays of numbers read as [`floats`](Self::floats) does; `count` and
    /// `capacity` are the number of arrays and of numbers per array expected (hints).
    pub fn float_arrays(&mut self, count: usize, capacity: usize) -> Result<Vec<Vec<f32>>, Error> {
        self.list(count, |r| r.floats(capacity))
    }

    /// Checks that nothing but whitespace is left.
    pub fn finish(mut self) -> Result<(), Error> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the text")),
        }
    }

    /// An error at the last byte read (after a value: its last byte), as serde_json places
    /// `missing field` errors.
    pub fn error(&self, message: impl Into<String>) -> Error {
        self.error_at(self.pos.saturating_sub(1), message.into())
    }

    /// "expected `what`, found" what the reader is at (a token, at most 20 characters), placed
    /// there.
    pub fn unexpected(&self, what: &str) -> Error {
        let found = found(&self.text[self.pos..]);
        self.error_at(self.pos, format!("expected {what}, found {found}"))
    }

    /// An array, each item read by `item` (with the reader on it).
    fn list<T>(
        &mut self,
        capacity: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        self.expect(b'[', "an array")?;
        let mut items = Vec::with_capacity(capacity);
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            let index = items.len();
            items.push(item(self).map_err(|e| e.within_index(index))?);
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.peek();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.unexpected("\",\" or \"]\"")),
            }
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), Error> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// Bytes `[start, end)` of the text as a [`Span`].
    fn span(&self, start: usize, end: usize) -> Result<Span, Error> {
        match (u32::try_from(start), u32::try_from(end - start)) {
            (Ok(start), Ok(len)) => Ok(Span { start, len }),
            _ => Err(self.error_at(start, "a text over 4 GiB has no spans".to_owned())),
        }
    }

    /// A key (the reader on its `"`), decoded only when it holds an escape.
    fn key(&mut self) -> Result<Cow<'a, str>, Error> {
        let start = self.pos;
        let escaped = self.string()?;
        let raw = &self.text[start + 1..self.pos - 1];
        if escaped {
            let mut reader = Self {
                text: self.text,
                pos: start,
            };
            return reader.value::<String>().map(Cow::Owned);
        }
        std::str::from_utf8(raw).map(Cow::Borrowed).map_err(|e| {
            let at = start + 1 + e.valid_up_to();
            self.error_at(at, "invalid unicode code point".to_owned())
        })
    }

    /// In an object being skipped: a key and its `:`.
    fn key_and_colon(&mut self) -> Result<(), Error> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a key"));
        }
        self.string()?;
        self.expect(b':', "\":\"")
    }

    /// Steps over the string at the reader (on its `"`): `true` if it holds an escape. Each
    /// escape is checked, and a control character (U+0000 to U+001F, which JSON wants escaped)
    /// refused; the UTF-8 is not checked.
    fn string(&mut self) -> Result<bool, Error> {
        let open = self.pos;
        let mut i = open + 1;
        let mut escaped = false;
        loop {
            i = scan_string(self.text, i);
            match self.text.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    match self.text.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u')
                            if self
                                .text
                                .get(i + 2..i + 6)
                                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            i += 6
                        }
                        _ => return Err(self.error_at(i, "invalid escape".to_owned())),
                    }
                }
                Some(_) => {
                    return Err(self.error_at(
                        i,
                        "control character (\\u0000-\\u001F) found while parsing a string"
                            .to_owned(),
                    ));
                }
                None => {
                    // On the last byte, as serde_json places it.
                    let last = self.text.len() - 1;
                    return Err(self.error_at(last, "EOF while parsing a string".to_owned()));
                }
            }
        }
    }

    /// Steps over a number outside an array of numbers (a count, say), checking it is one as
    /// JSON writes numbers.
    fn number(&mut self) -> Result<(), Error> {
        let digits = |text: &[u8], i: usize| {
            text[i.min(text.len())..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let text = self.text;
        let mut i = self.pos + usize::from(text.get(self.pos) == Some(&b'-'));
        let int = digits(text, i);
        let ok = match int {
            0 => false,
            n => {
                let leading_zero = text[i] == b'0' && n > 1;
                i += n;
                let mut ok = !leading_zero;
                if text.get(i) == Some(&b'.') {
                    let n = digits(text, i + 1);
                    ok &= n > 0;
                    i += 1 + n;
                }
                if let Some(b'e' | b'E') = text.get(i) {
                    i += 1;
                    if let Some(b'+' | b'-') = text.get(i) {
                        i += 1;
                    }
                    let n = digits(text, i);
                    ok &= n > 0;
                    i += n;
                }
                ok
            }
        };
        if ok {
            self.pos = i;
            Ok(())
        } else {
            Err(self.unexpected("a number"))
        }
    }

    /// `true`, `false` or `null`.
    fn literal(&mut self, word: &[u8]) -> Result<(), Error> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}`", String::from_utf8_lossy(word))))
        }
    }

    /// serde_json's error, placed in the whole text: serde_json was given the rest only.
    fn serde_error(&self, e: &serde_json::Error) -> Error {
        let text = e.to_string();
        let place = format!(" at line {} column {}", e.line(), e.column());
        let message = text.strip_suffix(&place).unwrap_or(&text);
        let rest = &self.text[self.pos..];
        let line_start = match e.line() {
            0 | 1 => 0,
            line => (rest.iter().enumerate())
                .filter(|&(_, &b)| b == b'\n')
                .nth(line - 2)
                .map_or(rest.len(), |(i, _)| i + 1),
        };
        let offset = self.pos + line_start + e.column().saturating_sub(1);
        self.error_at(offset.min(self.text.len()), message.to_owned())
    }

    /// An error at byte `offset` of the text.
    fn error_at(&self, offset: usize, message: String) -> Error {
        let before = &self.text[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Error {
            path: String::new(),
            message,
            line: 1 + before[..line_start].iter().filter(|&&b| b == b'\n').count(),
            column: offset - line_start + 1,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scanning, eight bytes at a time
//
// A wasm loop pays an interruption check per iteration besides its own work: one 64-bit word
// per iteration, tested with the usual bit tricks, costs a fraction of a byte-by-byte loop.
// Each test says whether *some* byte of the word is of a kind (exactly); the byte loop after it
// finds which.

/// Where [`scan_numbers`] stopped.
enum Scan {
    /// At the `]` (index `close`) ending the array, after `commas` commas.
    End { close: usize, commas: usize },
    /// At a byte no flat array of numbers holds (`[`, `{`, `}`, `"`), or at the end of the text
    /// (`at == text.len()`), after `commas` commas.
    Stop { at: usize, commas: usize },
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// `byte` in each byte of a word.
const fn splat(byte: u8) -> u64 {
    ONES * byte as u64
}

/// Whether a byte of `word` is below `n` (`n` at most 128).
const fn has_below(word: u64, n: u8) -> bool {
    word.wrapping_sub(splat(n)) & !word & HIGHS != 0
}

/// Whether a byte of `word` is 0.
const fn has_zero(word: u64) -> bool {
    has_below(word, 1)
}

/// How many bytes of `word` are 0 (exactly: no borrow crosses bytes).
const fn zeros(word: u64) -> u32 {
    let low7 = (word & !HIGHS) + !HIGHS;
    (!(low7 | word) & HIGHS).count_ones()
}

/// Whether a byte of `word` may be one of `[ ] { }`. `(b | 0x20) & 0xF9 == 0x79` holds for
/// exactly `[ ] { }`, `Y`, `y`, `_` and DEL: the four others, never in a valid array of
/// numbers, just send the word to the byte loop.
const fn has_bracket(word: u64) -> bool {
    has_zero(((word | splat(0x20)) & splat(0xF9)) ^ splat(0x79))
}

/// Whether a byte of `word` may end a flat array of numbers or not belong in one.
const fn stops_numbers(word: u64) -> bool {
    has_bracket(word) | has_zero(word ^ splat(b'"'))
}

/// Scans an array of numbers from `i` (just after its `[`) to its `]`.
fn scan_numbers(text: &[u8], i: usize) -> Scan {
    #[cfg(target_arch = "wasm32")]
    {
        // 16 bytes a step with SIMD128 (wasmtime compiles it to SSE): ~4x fewer instructions
        // than two 64-bit words a step over a dense Cohere body.
        simd::scan_numbers(text, i)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        scan_numbers_swar(text, i, 0)
    }
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{
        i64x2, u8x16_bitmask, u8x16_eq, u8x16_splat, v128, v128_and, v128_any_true, v128_or,
    };

    use super::{Scan, scan_numbers_swar};

    /// [`super::scan_numbers`], 16 bytes a step while no byte can end the array; the rest (from
    /// the block that may) by the word scan, which finds the exact byte.
    #[target_feature(enable = "simd128")]
    pub(super) fn scan_numbers(text: &[u8], mut i: usize) -> Scan {
        let mut commas = 0;
        while let Some(chunk) = text.get(i..).and_then(<[u8]>::first_chunk::<16>) {
            let (a, b) = chunk.split_at(8);
            let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
            let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
            let v = i64x2(a as i64, b as i64);
            if v128_any_true(stops(v)) {
                break;
            }
            commas += u8x16_bitmask(u8x16_eq(v, u8x16_splat(b','))).count_ones() as usize;
            i += 16;
        }
        scan_numbers_swar(text, i, commas)
    }

    /// Lanes that may end a flat array of numbers or not belong in one: `[ ] { }` (and `Y`,
    /// `y`, `_`, DEL, as [`super::has_bracket`] says), and `"`.
    #[target_feature(enable = "simd128")]
    fn stops(v: v128) -> v128 {
        let bracket = u8x16_eq(
            v128_and(v128_or(v, u8x16_splat(0x20)), u8x16_splat(0xF9)),
            u8x16_splat(0x79),
        );
        v128_or(bracket, u8x16_eq(v, u8x16_splat(b'"')))
    }
}

/// [`scan_numbers`] two 64-bit words a step, from `i` with `commas` counted before it.
fn scan_numbers_swar(text: &[u8], mut i: usize, mut commas: usize) -> Scan {
    loop {
        // Two words per iteration while neither can end the array.
        while let Some(chunk) = text.get(i..).and_then(<[u8]>::first_chunk::<16>) {
            let (a, b) = chunk.split_at(8);
            let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
            let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
            if stops_numbers(a) | stops_numbers(b) {
                break;
            }
            commas += (zeros(a ^ splat(b',')) + zeros(b ^ splat(b','))) as usize;
            i += 16;
        }
        if let Some(chunk) = text.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let word = u64::from_le_bytes(*chunk);
            if !stops_numbers(word) {
                commas += zeros(word ^ splat(b',')) as usize;
                i += 8;
                continue;
            }
        }
        let stop = text.len().min(i + 8);
        for (k, &byte) in text[i..stop].iter().enumerate() {
            let at = i + k;
            match byte {
                b']' => return Scan::End { close: at, commas },
                b',' => commas += 1,
                b'[' | b'{' | b'}' | b'"' => return Scan::Stop { at, commas },
                _ => {}
            }
        }
        if stop == text.len() {
            return Scan::Stop { at: stop, commas };
        }
        i = stop;
    }
}

/// From `i` (inside a string) to the first `"`, `\` or control character, or the end.
fn scan_string(text: &[u8], mut i: usize) -> usize {
    loop {
        while let Some(chunk) = text.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let word = u64::from_le_bytes(*chunk);
            if has_zero(word ^ splat(b'"'))
                || has_zero(word ^ splat(b'\\'))
                || has_below(word, 0x20)
            {
                break;
            }
            i += 8;
        }
        let stop = text.len().min(i + 8);
        if let Some(at) = text[i..stop]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        {
            return i + at;
        }
        if stop == text.len() {
            return stop;
        }
        i = stop;
    }
}

/// The JSON number at the start of `text` as the nearest `f32`, and its length in bytes.
fn number(text: &[u8]) -> Option<(f32, usize)> {
    // JSON's integer part: an optional `-`, then one digit, or several not starting with 0.
    // This also refuses what fast-float2 reads and JSON has not: `+1`, `.5`, `inf`, `NaN`.
    let sign = usize::from(text.first() == Some(&b'-'));
    match text.get(sign..)? {
        [b'0', b'0'..=b'9', ..] => return None,
        [b'0'..=b'9', ..] => {}
        _ => return None,
    }
    let (value, len) = fast_float2::parse_partial(text).ok()?;
    // fast-float2 also reads `1.` and `1.e5`: JSON wants a digit after the point.
    let number = &text[..len];
    if let Some(point) = number.iter().position(|&b| b == b'.')
        && !number.get(point + 1).is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    Some((value, len))
}

/// The token at the start of `rest` as an error message shows it: up to the next `,`, bracket
/// or whitespace (or that byte alone), at most 20 characters.
fn found(rest: &[u8]) -> String {
    const MAX_CHARS: usize = 20;
    let end = rest
        .iter()
        .position(|b| b",[]{} \n\r\t".contains(b))
        .unwrap_or(rest.len());
    let token = String::from_utf8_lossy(&rest[..end.max(1).min(rest.len())]);
    match token.char_indices().nth(MAX_CHARS) {
        _ if token.is_empty() => "the end of the text".to_owned(),
        Some((cut, _)) => format!("`{}…`", &token[..cut]),
        None => format!("`{token}`"),
    }
}

#[cfg(test)]
mod tests;
