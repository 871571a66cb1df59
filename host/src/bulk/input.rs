//! Input readers: JSONL (a text field and an optional id field per line) or plain text (one
//! document per line), from a file or stdin (`-`).
//!
//! Every physical line is one input line, numbered from 1; a document's output `index` is its
//! line number − 1. A final line without a newline counts; the newline ending the file does not
//! start another line. A trailing `\r` (CRLF files) is dropped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// How much of the input's start the resume fingerprint hashes.
pub const HEAD_BYTES: usize = 64 * 1024;

/// The input's line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line: the text in `--text-field`, an id in `--id-field`.
    Jsonl,
    /// One document per line, taken verbatim.
    Text,
}

impl InputFormat {
    /// `.jsonl`, `.ndjson` and `.json` are JSONL; anything else (and stdin) is plain text.
    pub fn detect(path: &Path) -> Self {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("jsonl" | "ndjson" | "json") => Self::Jsonl,
            _ => Self::Text,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Text => "text",
        }
    }
}

/// Where the text and the id are in a JSONL line.
#[derive(Debug, Clone)]
pub struct Fields {
    pub text: String,
    pub id: String,
}

/// One document to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// The id field's value (any JSON), or null when absent (and always for plain text).
    pub id: Value,
    pub text: String,
}

/// A line that cannot be embedded, with the id when one could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub id: Value,
    pub error: String,
}

/// One input line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 1-based line number.
    pub number: u64,
    pub doc: Result<Doc, BadLine>,
}

/// Parses one line (without its newline).
pub fn parse_line(format: InputFormat, fields: &Fields, bytes: &[u8]) -> Result<Doc, BadLine> {
    let bad = |id: Value, error: String| BadLine { id, error };
    match format {
        InputFormat::Text => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| bad(Value::Null, format!("not valid UTF-8: {e}")))?;
            if text.trim().is_empty() {
                return Err(bad(Value::Null, "empty text".into()));
            }
            Ok(Doc {
                id: Value::Null,
                text: text.to_string(),
            })
        }
        InputFormat::Jsonl => {
            let value: Value = serde_json::from_slice(bytes)
                .map_err(|e| bad(Value::Null, format!("invalid JSON: {e}")))?;
            let Value::Object(mut obj) = value else {
                return Err(bad(
                    Value::Null,
                    format!("not a JSON object (found {})", kind(&value)),
                ));
            };
            let id = obj.remove(&fields.id).unwrap_or(Value::Null);
            match obj.remove(&fields.text) {
                None => Err(bad(id, format!("missing field {:?}", fields.text))),
                Some(Value::String(text)) if text.trim().is_empty() => {
                    Err(bad(id, format!("empty text in field {:?}", fields.text)))
                }
                Some(Value::String(text)) => Ok(Doc { id, text }),
                Some(other) => Err(bad(
                    id,
                    format!(
                        "field {:?} is not a string (found {})",
                        fields.text,
                        kind(&other)
                    ),
                )),
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads raw lines and numbers them.
pub struct LineReader<R> {
    inner: R,
    next_number: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            next_number: 1,
            buf: Vec::new(),
        }
    }

    /// The next line's number and bytes (newline and a trailing `\r` removed), or None at EOF.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        self.buf.clear();
        if self.inner.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let number = self.next_number;
        self.next_number += 1;
        Ok(Some((number, &self.buf)))
    }

    /// Skips `n` lines (lines already done by an earlier run). Returns how many were there.
    pub fn skip(&mut self, n: u64) -> io::Result<u64> {
        let mut skipped = 0;
        while skipped < n && self.next_line()?.is_some() {
            skipped += 1;
        }
        Ok(skipped)
    }
}

/// An opened input and what the resume fingerprint needs to know about it.
pub struct Opened {
    pub reader: Box<dyn BufRead + Send>,
    /// sha256 (hex) of the first [`HEAD_BYTES`] bytes.
    pub head_sha256: String,
    /// The file's size; None for stdin.
    pub size: Option<u64>,
}

pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Opens a file, or stdin for `-`. The first [`HEAD_BYTES`] are hashed up front (for stdin they
/// are buffered and replayed).
pub fn open(path: &Path) -> io::Result<Opened> {
    let (mut source, size): (Box<dyn Read + Send>, Option<u64>) = if is_stdin(path) {
        (Box::new(io::stdin()), None)
    } else {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        (Box::new(file), Some(size))
    };
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut source)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    let head_sha256 = hex::encode(Sha256::digest(&head));
    let reader = BufReader::with_capacity(256 * 1024, io::Cursor::new(head).chain(source));
    Ok(Opened {
        reader: Box::new(reader),
        head_sha256,
        size,
    })
}

/// Counts the lines of a file the way [`LineReader`] numbers them.
pub fn count_lines(path: &Path) -> io::Result<u64> {
    count_lines_in(File::open(path)?)
}

fn count_lines_in(mut r: impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    Ok(if last == b'\n' { lines } else { lines + 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> Fields {
        Fields {
            text: "text".into(),
            id: "id".into(),
        }
    }

    fn lines(input: &str) -> Vec<(u64, String)> {
        let mut r = LineReader::new(input.as_bytes());
        let mut out = Vec::new();
        while let Some((n, b)) = r.next_line().unwrap() {
            out.push((n, String::from_utf8(b.to_vec()).unwrap()));
        }
        out
    }

    #[test]
    fn lines_are_numbered_from_one_and_crlf_is_trimmed() {
        assert_eq!(
            lines("a\nb\r\n\nc"),
            vec![
                (1, "a".into()),
                (2, "b".into()),
                (3, "".into()),
                (4, "c".into())
            ]
        );
        assert_eq!(lines("a\n"), vec![(1, "a".into())]);
        assert!(lines("").is_empty());
    }

    #[test]
    fn count_matches_the_reader() {
        for input in ["", "a", "a\n", "a\nb", "a\nb\n", "\n\n", "x\r\ny\r\n"] {
            assert_eq!(
                count_lines_in(input.as_bytes()).unwrap(),
                lines(input).len() as u64,
                "{input:?}"
            );
        }
    }

    #[test]
    fn skip_continues_the_numbering() {
        let mut r = LineReader::new("a\nb\nc\n".as_bytes());
        assert_eq!(r.skip(2).unwrap(), 2);
        assert_eq!(
            r.next_line().unwrap().map(|(n, b)| (n, b.to_vec())),
            Some((3, b"c".to_vec()))
        );
        assert_eq!(r.skip(5).unwrap(), 0);
    }

    #[test]
    fn format_is_detected_by_extension() {
        assert_eq!(
            InputFormat::detect(Path::new("docs.jsonl")),
            InputFormat::Jsonl
        );
        assert_eq!(
            InputFormat::detect(Path::new("docs.NDJSON")),
            InputFormat::Jsonl
        );
        assert_eq!(
            InputFormat::detect(Path::new("docs.txt")),
            InputFormat::Text
        );
        assert_eq!(InputFormat::detect(Path::new("-")), InputFormat::Text);
    }

    #[test]
    fn jsonl_lines() {
        let f = fields();
        let p = |s: &str| parse_line(InputFormat::Jsonl, &f, s.as_bytes());
        assert_eq!(
            p(r#"{"id": 7, "text": "hi"}"#),
            Ok(Doc {
                id: json!(7),
                text: "hi".into()
            })
        );
        assert_eq!(
            p(r#"{"text": "hi"}"#),
            Ok(Doc {
                id: Value::Null,
                text: "hi".into()
            })
        );
        assert!(p("{nope").unwrap_err().error.starts_with("invalid JSON"));
        assert_eq!(
            p(r#"[1]"#).unwrap_err().error,
            "not a JSON object (found an array)"
        );
        assert_eq!(
            p(r#"{"id": "x"}"#).unwrap_err(),
            BadLine {
                id: json!("x"),
                error: "missing field \"text\"".into()
            }
        );
        assert_eq!(
            p(r#"{"id": "x", "text": " "}"#).unwrap_err().error,
            "empty text in field \"text\""
        );
        assert_eq!(
            p(r#"{"text": 3}"#).unwrap_err().error,
            "field \"text\" is not a string (found a number)"
        );
        assert!(p("").unwrap_err().error.starts_with("invalid JSON"));

        let custom = Fields {
            text: "body".into(),
            id: "key".into(),
        };
        let doc = parse_line(
            InputFormat::Jsonl,
            &custom,
            br#"{"key": {"a": 1}, "body": "b", "text": "no"}"#,
        )
        .unwrap();
        assert_eq!(
            doc,
            Doc {
                id: json!({"a": 1}),
                text: "b".into()
            }
        );
    }

    #[test]
    fn text_lines() {
        let f = fields();
        assert_eq!(
            parse_line(InputFormat::Text, &f, b"  hi "),
            Ok(Doc {
                id: Value::Null,
                text: "  hi ".into()
            })
        );
        assert_eq!(
            parse_line(InputFormat::Text, &f, b"").unwrap_err().error,
            "empty text"
        );
        assert!(
            parse_line(InputFormat::Text, &f, b"\xff")
                .unwrap_err()
                .error
                .starts_with("not valid UTF-8")
        );
    }

    #[test]
    fn open_hashes_the_head_and_replays_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let body: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &body).unwrap();
        let mut opened = open(&path).unwrap();
        assert_eq!(opened.size, Some(body.len() as u64));
        assert_eq!(
            opened.head_sha256,
            hex::encode(Sha256::digest(&body.as_bytes()[..HEAD_BYTES]))
        );
        let mut all = String::new();
        opened.reader.read_to_string(&mut all).unwrap();
        assert_eq!(all, body);
    }
}
