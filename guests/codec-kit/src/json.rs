//! A small pull reader for embedding responses, whose float arrays it reads in one pass
//! straight to `f32`s.
//!
//! An embedding response is mostly numbers, and serde_json reads each one digit by digit into
//! an `f64`. Handing a faster parser serde_json's `&RawValue` of an array does not help much:
//! serde_json still steps over every byte of the array to find its end, and the parser then
//! goes over it again (natively, that made a Cohere response slower to read). So [`Reader`]
//! steps through objects and arrays itself, reads the numbers of a float array with
//! `fast-float2` (straight to the nearest `f32`, correctly rounded, up to eight digits at a
//! time), and hands every other value (keys, counts, the members a codec skips) to serde_json.
//! In wasm, where each loop iteration also pays an interruption check, fewer iterations per
//! number help twice.
//!
//! Nothing goes unchecked: the reader checks its own part (brackets, `,`, `:`, whitespace, the
//! numbers of float arrays, as JSON writes them) and serde_json the rest. Errors name where
//! they are, as a path (`embeddings.float[3][17]`) and a line and column.

use std::fmt;

use serde::Deserialize;
use serde::de::IgnoredAny;

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

/// Reads one JSON text from the front: the methods read the value at the reader and leave it
/// after that value. A clone reads the same value again (say, a member skipped at first).
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
        let mut keys: Vec<String> = Vec::new();
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a key"));
            }
            let key: String = self.value()?;
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
            self.value::<()>().map(|()| None)
        } else {
            read(self).map(Some)
        }
    }

    /// The value at the reader, read by serde_json.
    pub fn value<T: Deserialize<'a>>(&mut self) -> Result<T, Error> {
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

    /// Steps over the value at the reader (serde_json checks it).
    pub fn skip(&mut self) -> Result<(), Error> {
        self.value::<IgnoredAny>().map(drop)
    }

    /// An array of numbers (`[0.25, -1e-3]`, `[]`) as `f32`s; `capacity` is the number of
    /// values expected (a hint). A number beyond `f32`'s range reads as an infinity, as with
    /// `str::parse`.
    pub fn floats(&mut self, capacity: usize) -> Result<Vec<f32>, Error> {
        self.list(capacity, |r| {
            let (value, len) = number(&r.text[r.pos..]).ok_or_else(|| r.unexpected("a number"))?;
            r.pos += len;
            Ok(value)
        })
    }

    /// An array of arrays of numbers; `count` and `capacity` are the number of arrays and of
    /// numbers per array expected (hints).
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

    /// "expected `what`, found" what the reader is at.
    fn unexpected(&self, what: &str) -> Error {
        let found = found(&self.text[self.pos..]);
        self.error_at(self.pos, format!("expected {what}, found {found}"))
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
