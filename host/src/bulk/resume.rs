//! Resuming a job that was stopped at any moment (Ctrl-C, a fatal error, SIGKILL, a crash).
//!
//! What is done is read from the files themselves, not from a counter that could lag behind
//! them: the output holds one record per embedded line and the rejects file one per rejected
//! line, each in input order and each ending with its newline (see [`super::output`]). On
//! restart:
//! 1. each file is read up to its last complete record; a torn last record (no newline, or not
//!    JSON, or out of order) and everything after it is dropped;
//! 2. the two files are merged by line: the job is done up to the first input line found in
//!    neither (normally that is simply output lines + rejects);
//! 3. both files are truncated to the records before that line, and the input is skipped up
//!    to it.
//!
//! The only other state is the journal `<output>.progress`: the job's fingerprint (input path,
//! size and a hash of its first 64 KiB, formats, fields, model and dimensions), written once,
//! atomically, before the output is created. A rerun whose fingerprint differs is refused
//! (once anything was written) instead of appending vectors of another job; an output without
//! a journal is never touched without `--overwrite`. The journal stays after the job ends, so a rerun of a finished job
//! just reports it finished.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::rejects::{Reject, Summary};

/// What identifies a job. Two runs with the same fingerprint write the same output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The input path as given (absolute when it could be resolved), or `-` for stdin.
    pub input: String,
    /// The input file's size (None for stdin).
    pub input_size: Option<u64>,
    /// sha256 of the input's first 64 KiB.
    pub input_head_sha256: String,
    pub input_format: String,
    pub text_field: String,
    pub id_field: String,
    pub include_text: bool,
    pub model: String,
    pub model_id: String,
    pub dimensions: Option<u32>,
}

impl Fingerprint {
    /// `name: old → new` for every field that differs.
    fn differences(&self, other: &Self) -> Vec<String> {
        let (a, b) = (
            serde_json::to_value(self).unwrap_or_default(),
            serde_json::to_value(other).unwrap_or_default(),
        );
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return vec![];
        };
        a.iter()
            .filter(|(k, v)| b.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}: {v} → {}", b.get(k).cloned().unwrap_or_default()))
            .collect()
    }
}

/// The journal file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    /// What wrote it (so a stray `.progress` file of another tool is not mistaken for ours).
    written_by: String,
    fingerprint: Fingerprint,
}

const WRITTEN_BY: &str = "bedrock-embed embed --input";

/// The journal of `output`: `<output>.progress`.
pub fn journal_path(output: &Path) -> PathBuf {
    append_to_name(output, ".progress")
}

/// The default rejects file of `output`: `<output>.rejects.jsonl`.
pub fn default_rejects_path(output: &Path) -> PathBuf {
    append_to_name(output, ".rejects.jsonl")
}

fn append_to_name(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where the job starts.
#[derive(Debug, Default, Clone)]
pub struct ResumePoint {
    /// Input lines done (embedded or rejected): the next line to read is `done + 1`.
    pub done: u64,
    pub embedded: u64,
    pub rejects: Summary,
}

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(
        "--output {output} holds the output of a different job ({differences}); rerun with the \
         arguments of that job to resume it, or pass --overwrite to start this one over (or pick \
         another --output)",
        output = output.display(),
        differences = differences.join(", ")
    )]
    Mismatch {
        output: PathBuf,
        differences: Vec<String>,
    },
    #[error(
        "{path} already exists and was not written by `bedrock-embed embed --input` (no {journal}); \
         pass --overwrite to replace it, or pick another --output",
        path = path.display(),
        journal = journal.display()
    )]
    Foreign { path: PathBuf, journal: PathBuf },
    #[error("{path}: {message}", path = path.display())]
    Journal { path: PathBuf, message: String },
    #[error("{path}: {source}", path = path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ResumeError + '_ {
    move |source| ResumeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Decides where the job starts, and leaves the output, rejects and journal files ready for
/// appending from there.
pub fn prepare(
    output: &Path,
    rejects: &Path,
    fingerprint: &Fingerprint,
    overwrite: bool,
) -> Result<ResumePoint, ResumeError> {
    let journal = journal_path(output);
    if overwrite {
        for path in [output, rejects, journal.as_path()] {
            remove_if_exists(path)?;
        }
    }
    let has_content = |path: &Path| fs::metadata(path).is_ok_and(|m| m.len() > 0);
    match read_journal(&journal)? {
        // Nothing was done under the old arguments (say a bad --dimensions stopped it at the
        // first line): nothing to protect, start this job.
        Some(found)
            if found.fingerprint != *fingerprint
                && (has_content(output) || has_content(rejects)) =>
        {
            Err(ResumeError::Mismatch {
                output: output.to_path_buf(),
                differences: found.fingerprint.differences(fingerprint),
            })
        }
        Some(found) if found.fingerprint == *fingerprint => resume(output, rejects),
        found => {
            if found.is_none() {
                for path in [output, rejects] {
                    if has_content(path) {
                        return Err(ResumeError::Foreign {
                            path: path.to_path_buf(),
                            journal,
                        });
                    }
                }
            }
            remove_if_exists(rejects)?;
            write_journal(&journal, fingerprint)?;
            File::create(output).map_err(io_err(output))?;
            Ok(ResumePoint::default())
        }
    }
}

fn remove_if_exists(path: &Path) -> Result<(), ResumeError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ResumeError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn read_journal(path: &Path) -> Result<Option<Journal>, ResumeError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ResumeError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
    };
    let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| ResumeError::Journal {
        path: path.to_path_buf(),
        message: format!("not a bedrock-embed job journal ({e}); pass --overwrite to start over"),
    })?;
    if journal.written_by != WRITTEN_BY {
        return Err(ResumeError::Journal {
            path: path.to_path_buf(),
            message: "not a bedrock-embed job journal; pass --overwrite to start over".into(),
        });
    }
    Ok(Some(journal))
}

/// Writes the journal atomically (temporary file, fsync, rename).
fn write_journal(path: &Path, fingerprint: &Fingerprint) -> Result<(), ResumeError> {
    let journal = Journal {
        written_by: WRITTEN_BY.into(),
        fingerprint: fingerprint.clone(),
    };
    let tmp = append_to_name(path, ".tmp");
    let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut body = serde_json::to_vec_pretty(&journal).expect("the journal serializes");
    body.push(b'\n');
    file.write_all(&body)
        .and_then(|()| file.sync_all())
        .map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// A complete record: the 0-based input index it stands for and the file offset after it.
struct Record<T> {
    index: u64,
    end: u64,
    item: T,
}

fn resume(output: &Path, rejects: &Path) -> Result<ResumePoint, ResumeError> {
    #[derive(Deserialize)]
    struct Head {
        index: u64,
    }
    let out = read_records(output, |bytes| {
        serde_json::from_slice::<Head>(bytes)
            .ok()
            .map(|h| (h.index, ()))
    })?;
    let rej = read_records(rejects, |bytes| {
        serde_json::from_slice::<Reject>(bytes)
            .ok()
            .filter(|r| r.line > 0)
            .map(|r| (r.line - 1, r))
    })?;

    // Merge: done up to the first index in neither file.
    let (mut i, mut j, mut done) = (0, 0, 0u64);
    let mut summary = Summary::default();
    loop {
        if out.get(i).is_some_and(|r| r.index == done) {
            i += 1;
        } else if let Some(r) = rej.get(j).filter(|r| r.index == done) {
            summary.add(&r.item);
            j += 1;
        } else {
            break;
        }
        done += 1;
    }
    truncate(output, if i == 0 { 0 } else { out[i - 1].end })?;
    if rejects.exists() {
        truncate(rejects, if j == 0 { 0 } else { rej[j - 1].end })?;
    }
    Ok(ResumePoint {
        done,
        embedded: i as u64,
        rejects: summary,
    })
}

/// Reads the complete records of a file (none if it does not exist), stopping at the first
/// torn, unreadable or out-of-order one.
fn read_records<T>(
    path: &Path,
    parse: impl Fn(&[u8]) -> Option<(u64, T)>,
) -> Result<Vec<Record<T>>, ResumeError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ResumeError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut records: Vec<Record<T>> = Vec::new();
    let (mut buf, mut end) = (Vec::new(), 0u64);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_err(path))?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break; // end of file, or a torn last record
        }
        let Some((index, item)) = parse(&buf[..n - 1]) else {
            tracing::warn!(
                "{}: dropping an unreadable record at byte {end} and everything after it (they will be redone)",
                path.display()
            );
            break;
        };
        if records.last().is_some_and(|r| r.index >= index) {
            tracing::warn!(
                "{}: dropping an out-of-order record at byte {end} and everything after it (they will be redone)",
                path.display()
            );
            break;
        }
        end += n as u64;
        records.push(Record { index, end, item });
    }
    Ok(records)
}

fn truncate(path: &Path, len: u64) -> Result<(), ResumeError> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err(path))?;
    if file.metadata().map_err(io_err(path))?.len() != len {
        file.set_len(len).map_err(io_err(path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::output::output_line;
    use serde_json::Value;

    fn fp() -> Fingerprint {
        Fingerprint {
            input: "/data/in.jsonl".into(),
            input_size: Some(10),
            input_head_sha256: "ab".into(),
            input_format: "jsonl".into(),
            text_field: "text".into(),
            id_field: "id".into(),
            include_text: false,
            model: "titan".into(),
            model_id: "amazon.titan-embed-text-v2:0".into(),
            dimensions: None,
        }
    }

    struct Job {
        _dir: tempfile::TempDir,
        out: PathBuf,
        rej: PathBuf,
    }

    fn job() -> Job {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let rej = default_rejects_path(&out);
        Job {
            _dir: dir,
            out,
            rej,
        }
    }

    fn vector(index: u64) -> Vec<u8> {
        output_line(
            index,
            &Value::Null,
            &[index as f32, 0.5],
            crate::codec::EmbeddingType::Float,
            None,
        )
    }

    fn reject(line: u64) -> Vec<u8> {
        Reject {
            line,
            error: "bad".into(),
            id: Value::Null,
        }
        .to_line()
    }

    fn write(path: &Path, records: &[Vec<u8>], tail: &[u8]) {
        let mut bytes = records.concat();
        bytes.extend_from_slice(tail);
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_fresh_job_writes_the_journal_and_an_empty_output() {
        let j = job();
        let point = prepare(&j.out, &j.rej, &fp(), false).unwrap();
        assert_eq!(point.done, 0);
        assert_eq!(fs::read(&j.out).unwrap(), b"");
        assert!(journal_path(&j.out).exists());
        assert_eq!(
            journal_path(&j.out).file_name().unwrap(),
            "out.jsonl.progress"
        );
        // Nothing written yet: a rerun resumes at 0.
        assert_eq!(prepare(&j.out, &j.rej, &fp(), false).unwrap().done, 0);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_truncated() {
        let j = job();
        prepare(&j.out, &j.rej, &fp(), false).unwrap();
        let complete = [vector(0), vector(1), vector(2)];
        let torn = &vector(3)[..10];
        write(&j.out, &complete, torn);
        let point = prepare(&j.out, &j.rej, &fp(), false).unwrap();
        assert_eq!((point.done, point.embedded), (3, 3));
        assert_eq!(fs::read(&j.out).unwrap(), complete.concat());

        // A line cut right before its newline is torn too.
        let full = vector(3);
        write(&j.out, &complete, &full[..full.len() - 1]);
        assert_eq!(prepare(&j.out, &j.rej, &fp(), false).unwrap().done, 3);
        assert_eq!(fs::read(&j.out).unwrap(), complete.concat());
    }

    #[test]
    fn rejected_lines_count_as_done() {
        let j = job();
        prepare(&j.out, &j.rej, &fp(), false).unwrap();
        // Lines 1..=6: 0, 2, 3 embedded; lines 2 and 5 (indexes 1, 4) rejected; index 5 embedded.
        write(&j.out, &[vector(0), vector(2), vector(3), vector(5)], b"");
        write(&j.rej, &[reject(2), reject(5)], b"");
        let point = prepare(&j.out, &j.rej, &fp(), false).unwrap();
        assert_eq!((point.done, point.embedded, point.rejects.count), (6, 4, 2));
        assert_eq!(
            point
                .rejects
                .first
                .iter()
                .map(|r| r.line)
                .collect::<Vec<_>>(),
            vec![2, 5]
        );
    }

    #[test]
    fn records_after_a_gap_are_redone() {
        let j = job();
        prepare(&j.out, &j.rej, &fp(), false).unwrap();
        // Index 2 is in neither file (its record was lost): 3 and the reject of line 5 go too.
        write(&j.out, &[vector(0), vector(1), vector(3)], b"");
        write(&j.rej, &[reject(5)], b"{\"line\": 6, \"err");
        let point = prepare(&j.out, &j.rej, &fp(), false).unwrap();
        assert_eq!((point.done, point.embedded, point.rejects.count), (2, 2, 0));
        assert_eq!(fs::read(&j.out).unwrap(), [vector(0), vector(1)].concat());
        assert_eq!(fs::read(&j.rej).unwrap(), b"");
    }

    #[test]
    fn an_unreadable_record_ends_what_counts() {
        let j = job();
        prepare(&j.out, &j.rej, &fp(), false).unwrap();
        write(&j.out, &[vector(0), b"not json\n".to_vec(), vector(2)], b"");
        assert_eq!(prepare(&j.out, &j.rej, &fp(), false).unwrap().done, 1);
        assert_eq!(fs::read(&j.out).unwrap(), vector(0));
    }

    #[test]
    fn another_jobs_output_is_refused() {
        let j = job();
        prepare(&j.out, &j.rej, &fp(), false).unwrap();
        write(&j.out, &[vector(0)], b"");
        let other = Fingerprint {
            model: "cohere".into(),
            dimensions: Some(256),
            ..fp()
        };
        let err = prepare(&j.out, &j.rej, &other, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--output") && err.contains("out.jsonl") && err.contains("--overwrite"),
            "{err}"
        );
        assert!(
            err.contains(r#"model: "titan" → "cohere""#) && err.contains("dimensions: null → 256"),
            "{err}"
        );
        // The output is untouched.
        assert_eq!(fs::read(&j.out).unwrap(), vector(0));

        // --overwrite starts over.
        let point = prepare(&j.out, &j.rej, &other, true).unwrap();
        assert_eq!(point.done, 0);
        assert_eq!(fs::read(&j.out).unwrap(), b"");
        assert_eq!(prepare(&j.out, &j.rej, &other, false).unwrap().done, 0);
    }

    #[test]
    fn a_job_that_wrote_nothing_can_be_rerun_with_other_arguments() {
        let j = job();
        prepare(&j.out, &j.rej, &fp(), false).unwrap();
        let other = Fingerprint {
            dimensions: Some(256),
            ..fp()
        };
        assert_eq!(prepare(&j.out, &j.rej, &other, false).unwrap().done, 0);
        // The journal is now the new job's.
        write(&j.out, &[vector(0)], b"");
        assert_eq!(prepare(&j.out, &j.rej, &other, false).unwrap().done, 1);
        assert!(prepare(&j.out, &j.rej, &fp(), false).is_err());
    }

    #[test]
    fn an_output_without_a_journal_is_not_touched() {
        let j = job();
        fs::write(&j.out, b"precious\n").unwrap();
        let err = prepare(&j.out, &j.rej, &fp(), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--overwrite") && err.contains("out.jsonl.progress"),
            "{err}"
        );
        assert_eq!(fs::read(&j.out).unwrap(), b"precious\n");
        assert_eq!(prepare(&j.out, &j.rej, &fp(), true).unwrap().done, 0);
    }

    #[test]
    fn a_missing_output_with_a_journal_is_recreated() {
        let j = job();
        prepare(&j.out, &j.rej, &fp(), false).unwrap();
        fs::remove_file(&j.out).unwrap();
        write(&j.rej, &[reject(1)], b"");
        let point = prepare(&j.out, &j.rej, &fp(), false).unwrap();
        assert_eq!((point.done, point.rejects.count), (1, 1));
        assert_eq!(fs::read(&j.out).unwrap(), b"");
    }
}
