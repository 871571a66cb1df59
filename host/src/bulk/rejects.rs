//! Lines that could not be embedded: one JSONL record each in the rejects file, and a short
//! summary at the end of the job.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One rejected input line, as written to the rejects file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reject {
    /// 1-based input line number.
    pub line: u64,
    pub error: String,
    /// The line's id when it could be read, else null.
    #[serde(default)]
    pub id: Value,
}

impl Reject {
    /// The record's line in the rejects file, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).expect("a reject serializes");
        out.push(b'\n');
        out
    }
}

/// How many lines were rejected, with the first few kept for the summary.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub count: u64,
    pub first: Vec<Reject>,
}

impl Summary {
    /// How many rejects the summary names.
    pub const SHOWN: usize = 5;

    pub fn add(&mut self, reject: &Reject) {
        self.count += 1;
        if self.first.len() < Self::SHOWN {
            self.first.push(reject.clone());
        }
    }

    /// The summary lines: the count, then `line N: error` for the first few.
    pub fn render(&self, rejects_path: &std::path::Path) -> String {
        let mut out = format!(
            "{} line{} rejected (listed in {}):",
            self.count,
            if self.count == 1 { "" } else { "s" },
            rejects_path.display()
        );
        for r in &self.first {
            let mut error = r.error.clone();
            if error.chars().count() > 200 {
                error = error.chars().take(200).collect::<String>() + "…";
            }
            out.push_str(&format!("\n  line {}: {error}", r.line));
        }
        if self.count > self.first.len() as u64 {
            out.push_str(&format!(
                "\n  … and {} more",
                self.count - self.first.len() as u64
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn a_reject_is_one_json_line() {
        let r = Reject {
            line: 3,
            error: "missing field \"text\"".into(),
            id: json!("x"),
        };
        let line = r.to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let back: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            back,
            json!({"line": 3, "error": "missing field \"text\"", "id": "x"})
        );
        assert_eq!(serde_json::from_slice::<Reject>(&line).unwrap(), r);
    }

    #[test]
    fn the_summary_names_the_first_few() {
        let mut s = Summary::default();
        for line in 1..=7 {
            s.add(&Reject {
                line,
                error: format!("bad {line}"),
                id: Value::Null,
            });
        }
        let text = s.render(Path::new("out.rejects.jsonl"));
        assert!(
            text.starts_with("7 lines rejected (listed in out.rejects.jsonl):"),
            "{text}"
        );
        assert!(
            text.contains("\n  line 1: bad 1") && text.contains("\n  line 5: bad 5"),
            "{text}"
        );
        assert!(!text.contains("line 6:"), "{text}");
        assert!(text.ends_with("… and 2 more"), "{text}");
    }
}
