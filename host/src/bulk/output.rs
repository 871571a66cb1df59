//! The output file (one JSON line per embedded input line, in input order) and the rejects
//! file, written so that a process killed at any byte leaves a state [`super::resume`] can
//! continue from.
//!
//! Each record ends with its newline, so a record is complete exactly when its newline is in
//! the file. Records go to the two files in input-line order, and the writer flushes one file
//! before writing to the other: a record in either file implies every earlier record is in its
//! file too. Buffered bytes not yet handed to the OS are simply not there after a kill — the
//! kernel keeps what was written (page cache) when the process dies, so no fsync is needed
//! for that; the files are fsynced once at the end (or on interrupt) for power loss.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::rejects::Reject;
use crate::codec::EmbeddingType;

/// One output line. `index` comes first so that the line is self-describing when skimmed.
#[derive(Serialize)]
struct OutputLine<'a> {
    index: u64,
    id: &'a Value,
    embedding: Values<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

/// A vector as floats, or as JSON integers for the integer embedding types.
#[derive(Serialize)]
#[serde(untagged)]
enum Values<'a> {
    Float(&'a [f32]),
    Int(Vec<i16>),
}

/// The output line of input line `index` (0-based), newline included. `embedding` holds values
/// of `embedding_type` (the model's `embedding_type` param).
pub fn output_line(
    index: u64,
    id: &Value,
    embedding: &[f32],
    embedding_type: EmbeddingType,
    text: Option<&str>,
) -> Vec<u8> {
    let embedding = match embedding_type {
        EmbeddingType::Float => Values::Float(embedding),
        // Exact: the codec contract holds these to integers in -128..=255.
        _ => Values::Int(embedding.iter().map(|x| *x as i16).collect()),
    };
    let mut out = serde_json::to_vec(&OutputLine {
        index,
        id,
        embedding,
        text,
    })
    .expect("an output line serializes");
    out.push(b'\n');
    out
}

/// Writes vectors and rejects in input order across the two files.
pub struct Sink {
    output: BufWriter<File>,
    output_dirty: bool,
    rejects_path: PathBuf,
    /// Opened (append) on the first reject.
    rejects: Option<BufWriter<File>>,
    rejects_dirty: bool,
}

impl Sink {
    /// Appends to `output` (created if missing); `rejects` is opened for append when needed.
    pub fn open(output: &Path, rejects: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(output)?;
        Ok(Self {
            output: BufWriter::with_capacity(1 << 20, file),
            output_dirty: false,
            rejects_path: rejects.to_path_buf(),
            rejects: None,
            rejects_dirty: false,
        })
    }

    pub fn write_vector(&mut self, line: &[u8]) -> io::Result<()> {
        if self.rejects_dirty {
            self.flush_rejects()?;
        }
        self.output.write_all(line)?;
        self.output_dirty = true;
        Ok(())
    }

    pub fn write_reject(&mut self, reject: &Reject) -> io::Result<()> {
        if self.output_dirty {
            self.output.flush()?;
            self.output_dirty = false;
        }
        if self.rejects.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.rejects_path)?;
            self.rejects = Some(BufWriter::new(file));
        }
        self.rejects
            .as_mut()
            .expect("opened above")
            .write_all(&reject.to_line())?;
        self.rejects_dirty = true;
        Ok(())
    }

    fn flush_rejects(&mut self) -> io::Result<()> {
        if let Some(r) = &mut self.rejects {
            r.flush()?;
        }
        self.rejects_dirty = false;
        Ok(())
    }

    /// Hands everything buffered to the OS (order: the dirty file is the later one).
    pub fn flush(&mut self) -> io::Result<()> {
        self.output.flush()?;
        self.output_dirty = false;
        self.flush_rejects()
    }

    /// Flushes and fsyncs both files.
    pub fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.output.get_ref().sync_data()?;
        if let Some(r) = &self.rejects {
            r.get_ref().sync_data()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_output_line_round_trips_its_floats() {
        let v = vec![0.1f32, -1.5e-7, 1.0 / 3.0, 0.0];
        let line = output_line(4, &json!("a"), &v, EmbeddingType::Float, None);
        assert_eq!(line.last(), Some(&b'\n'));
        let back: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(back["index"], 4);
        assert_eq!(back["id"], "a");
        assert!(back.get("text").is_none());
        let floats: Vec<f32> = serde_json::from_value(back["embedding"].clone()).unwrap();
        assert_eq!(floats, v);
        let with_text: Value = serde_json::from_slice(&output_line(
            0,
            &Value::Null,
            &v,
            EmbeddingType::Float,
            Some("hi"),
        ))
        .unwrap();
        assert_eq!(with_text["text"], "hi");
        assert_eq!(with_text["id"], Value::Null);
    }

    #[test]
    fn records_reach_their_files_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let (out, rej) = (
            dir.path().join("out.jsonl"),
            dir.path().join("out.rejects.jsonl"),
        );
        let mut sink = Sink::open(&out, &rej).unwrap();
        sink.write_vector(&output_line(
            0,
            &Value::Null,
            &[1.0],
            EmbeddingType::Float,
            None,
        ))
        .unwrap();
        assert!(
            !rej.exists(),
            "the rejects file is created on the first reject only"
        );
        sink.write_reject(&Reject {
            line: 2,
            error: "bad".into(),
            id: Value::Null,
        })
        .unwrap();
        // Writing the reject flushed the vector before it.
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 1);
        sink.write_vector(&output_line(
            2,
            &Value::Null,
            &[1.0],
            EmbeddingType::Float,
            None,
        ))
        .unwrap();
        assert_eq!(std::fs::read_to_string(&rej).unwrap().lines().count(), 1);
        sink.sync().unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
    }
}
