//! Line numbers for messages. serde_yaml 0.9 reports locations for syntax errors only, so the
//! lines of top-level keys, `embeddings:` entries, entry keys and params are found by scanning
//! the text of the (already parsed, hence valid) YAML in block style. Where the text does not
//! look like that (flow style `[{...}]`, an entry count that does not match), lookups answer
//! `None` and callers fall back to the nearest known line.

#[derive(Debug)]
struct Line {
    /// 1-based line number.
    number: usize,
    /// Column of the first key character (after `- ` for sequence items).
    key_col: usize,
    /// The key on this line, if it is a `key:` line.
    key: Option<String>,
    /// Indentation of the line itself.
    indent: usize,
    /// The line starts a sequence item (`- ...`).
    dash: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Locator {
    lines: Vec<Line>,
    /// (key, index into `lines`) of top-level keys.
    top: Vec<(String, usize)>,
    /// Ranges (into `lines`) of the `embeddings:` entries.
    entries: Vec<(usize, usize)>,
}

impl Locator {
    pub(crate) fn new(text: &str) -> Self {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let raw = raw.trim_end_matches('\r');
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            let content = &raw[indent..];
            if content.is_empty()
                || content.starts_with('#')
                || content.starts_with("---")
                || content.starts_with("...")
                || content.starts_with('\t')
            {
                continue;
            }
            let (dash, after) = match content.strip_prefix('-') {
                Some(rest) if rest.is_empty() || rest.starts_with(' ') => (true, rest),
                _ => (false, content),
            };
            let trimmed = after.trim_start_matches(' ');
            let key_col = indent + (content.len() - trimmed.len());
            lines.push(Line {
                number: i + 1,
                key_col,
                key: key_of(trimmed),
                indent,
                dash,
            });
        }
        let mut loc = Locator {
            lines,
            ..Default::default()
        };
        loc.index();
        loc
    }

    fn index(&mut self) {
        let mut in_embeddings = false;
        let mut seq_indent = None;
        for (idx, line) in self.lines.iter().enumerate() {
            if line.indent == 0 && !line.dash {
                in_embeddings = false;
                if let Some(key) = &line.key {
                    in_embeddings = key == "embeddings";
                    self.top.push((key.clone(), idx));
                }
                continue;
            }
            if !in_embeddings || !line.dash {
                continue;
            }
            let seq = *seq_indent.get_or_insert(line.indent);
            if line.indent == seq {
                if let Some(last) = self.entries.last_mut() {
                    last.1 = idx;
                }
                self.entries.push((idx, idx + 1));
            }
        }
        // Close the last entry at the next top-level key (or the end).
        if let Some(last) = self.entries.last_mut() {
            let start = last.0;
            let end = self.lines[start + 1..]
                .iter()
                .position(|l| l.indent == 0 && !l.dash)
                .map_or(self.lines.len(), |p| start + 1 + p);
            last.1 = end;
        }
    }

    /// Line of a top-level key.
    pub(crate) fn top_key(&self, key: &str) -> Option<usize> {
        self.top
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, i)| self.lines[*i].number)
    }

    /// Line of a nested mapping key under a top-level key, e.g. `["runtime", "caching",
    /// "embeddings", "max_size"]`; the deepest key found when a deeper one is not written.
    pub(crate) fn nested(&self, path: &[&str]) -> Option<usize> {
        let (first, rest) = path.split_first()?;
        let mut at = self.top.iter().find(|(k, _)| k == first)?.1;
        'keys: for key in rest {
            let col = self.lines[at].key_col;
            let mut child_col = None;
            for (i, l) in self.lines.iter().enumerate().skip(at + 1) {
                if l.key_col <= col {
                    break;
                }
                let c = *child_col.get_or_insert(l.key_col);
                if l.key_col == c && l.key.as_deref() == Some(key) {
                    at = i;
                    continue 'keys;
                }
            }
            break;
        }
        Some(self.lines[at].number)
    }

    /// How many block-style entries were found (callers compare with the parsed count).
    pub(crate) fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Line of `embeddings[index]` (its `- ` line).
    pub(crate) fn entry(&self, index: usize) -> Option<usize> {
        self.entries.get(index).map(|(s, _)| self.lines[*s].number)
    }

    fn entry_lines(&self, index: usize) -> &[Line] {
        match self.entries.get(index) {
            Some(&(s, e)) => &self.lines[s..e],
            None => &[],
        }
    }

    /// Column of the entry's keys: the first key's column.
    fn entry_col(&self, index: usize) -> Option<usize> {
        self.entry_lines(index)
            .iter()
            .find(|l| l.key.is_some())
            .map(|l| l.key_col)
    }

    /// Line of a key directly inside `embeddings[index]`.
    pub(crate) fn entry_key(&self, index: usize, key: &str) -> Option<usize> {
        let col = self.entry_col(index)?;
        self.entry_lines(index)
            .iter()
            .find(|l| l.key_col == col && l.key.as_deref() == Some(key))
            .map(|l| l.number)
    }

    /// Line of `params.<key>` inside `embeddings[index]`.
    pub(crate) fn param(&self, index: usize, key: &str) -> Option<usize> {
        let col = self.entry_col(index)?;
        let lines = self.entry_lines(index);
        let start = lines
            .iter()
            .position(|l| l.key_col == col && l.key.as_deref() == Some("params"))?;
        let mut child_col = None;
        for l in &lines[start + 1..] {
            if l.key_col <= col {
                break;
            }
            let c = *child_col.get_or_insert(l.key_col);
            if l.key_col == c && l.key.as_deref() == Some(key) {
                return Some(l.number);
            }
        }
        None
    }
}

/// The key of a `key: value` / `key:` / `"key": value` line.
fn key_of(s: &str) -> Option<String> {
    if let Some(quote) = s.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let rest = &s[1..];
        let end = rest.find(quote)?;
        let after = &rest[end + 1..];
        return after
            .trim_start()
            .starts_with(':')
            .then(|| rest[..end].to_string());
    }
    let mut search = 0;
    while let Some(p) = s[search..].find(':') {
        let at = search + p;
        let next = s[at + 1..].chars().next();
        if next.is_none() || next.is_some_and(|c| c == ' ' || c == '\t') {
            let key = s[..at].trim_end();
            return (!key.is_empty() && !key.starts_with(['{', '[', '&', '*', '!', '|', '>']))
                .then(|| key.to_string());
        }
        search = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = "\
version: v1
kind: Spicepod
name: demo

# models
embeddings:
- from: bedrock:cohere.embed-english-v3
  name: cohere
  params:
    aws_region: us-east-1
    truncate: END
-   name: titan
    from: \"bedrock:amazon.titan-embed-text-v2:0\"
    params:
      'dimensions': 256
    description: x
runtime:
  foo: 1
";

    #[test]
    fn finds_keys_entries_and_params() {
        let l = Locator::new(POD);
        assert_eq!(l.top_key("kind"), Some(2));
        assert_eq!(l.top_key("embeddings"), Some(6));
        assert_eq!(l.top_key("runtime"), Some(17));
        assert_eq!(l.entry_count(), 2);
        assert_eq!(l.entry(0), Some(7));
        assert_eq!(l.entry(1), Some(12));
        assert_eq!(l.entry_key(0, "from"), Some(7));
        assert_eq!(l.entry_key(0, "name"), Some(8));
        assert_eq!(l.entry_key(1, "from"), Some(13));
        assert_eq!(l.entry_key(1, "description"), Some(16));
        assert_eq!(l.param(0, "truncate"), Some(11));
        assert_eq!(l.param(1, "dimensions"), Some(15));
        assert_eq!(l.param(1, "description"), None);
        assert_eq!(l.entry_key(0, "aws_region"), None);
        assert_eq!(l.entry(2), None);
    }

    #[test]
    fn flow_style_finds_no_entries() {
        let l = Locator::new("embeddings: [{from: 'bedrock:x', name: a}]\n");
        assert_eq!(l.top_key("embeddings"), Some(1));
        assert_eq!(l.entry_count(), 0);
        assert_eq!(l.param(0, "x"), None);
    }

    #[test]
    fn key_of_variants() {
        assert_eq!(key_of("a: b").as_deref(), Some("a"));
        assert_eq!(key_of("a:").as_deref(), Some("a"));
        assert_eq!(key_of("from: bedrock:x:0").as_deref(), Some("from"));
        assert_eq!(key_of("\"a b\": c").as_deref(), Some("a b"));
        assert_eq!(key_of("bedrock:x"), None);
        assert_eq!(key_of("'unterminated"), None);
    }
}
