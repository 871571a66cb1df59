//! The table: printed, and written to BENCHMARKS.md between two markers so the hand-written
//! notes around it survive a new run.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

pub const BEGIN: &str = "<!-- bench:begin (written by `just bench`; edit outside the markers) -->";
pub const END: &str = "<!-- bench:end -->";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// A figure without a target.
    Info,
    /// Could not be measured in this build; the figure says why.
    Pending,
}

impl Verdict {
    pub fn of(met: bool) -> Self {
        if met { Self::Met } else { Self::Missed }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Met => "✅ met",
            Self::Missed => "❌ missed",
            Self::Info => "—",
            Self::Pending => "⏳ pending",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub section: &'static str,
    pub figure: String,
    pub measured: String,
    pub target: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(
        section: &'static str,
        figure: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        verdict: Verdict,
    ) -> Self {
        Self {
            section,
            figure: figure.into(),
            measured: measured.into(),
            target: target.into(),
            verdict,
        }
    }

    pub fn info(
        section: &'static str,
        figure: impl Into<String>,
        measured: impl Into<String>,
    ) -> Self {
        Self::new(section, figure, measured, "", Verdict::Info)
    }
}

/// The machine, for the header: cores, CPU model, memory, rustc, date.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / (1024.0 * 1024.0))
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = command_line("rustc", &["--version"]);
    let kernel = command_line("uname", &["-sr"]);
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    format!("{cores} cores (`nproc`), {model}, {mem_gib:.1} GiB RAM, {kernel}, {rustc}; run {date}")
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{cmd}: unknown"))
}

/// The markdown table (and the machine line above it).
pub fn markdown(machine: &str, tools: &str, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Machine: {machine}.  ");
    let _ = writeln!(out, "Tools: {tools}.\n");
    let _ = writeln!(out, "| # | figure | measured | target | verdict |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.section,
            cell(&row.figure),
            cell(&row.measured),
            cell(&row.target),
            row.verdict.text()
        );
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

/// Replaces the table in `path` (between [`BEGIN`] and [`END`]), or creates the file.
pub fn write(path: &Path, table: &str) -> anyhow::Result<()> {
    let block = format!("{BEGIN}\n{table}{END}");
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if e > b => format!("{}{block}{}", &old[..b], &old[e + END.len()..]),
            _ => format!("{old}\n## Latest run\n\n{block}\n"),
        },
        Err(_) => format!(
            "# Benchmarks\n\n`just bench` measured this (see README, \"Benchmarks\"). Every target is a \
             ratio of two figures measured side by side in one run.\n\n## Latest run\n\n{block}\n"
        ),
    };
    std::fs::write(path, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_between_the_markers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("B.md");
        write(&path, "one\n").unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.contains("one"));
        std::fs::write(&path, format!("{first}\n## Notes\nkept\n")).unwrap();
        write(&path, "two\n").unwrap();
        let second = std::fs::read_to_string(&path).unwrap();
        assert!(second.contains("two") && !second.contains("one\n") && second.contains("kept"));
    }
}
