//! Progress: an indicatif bar on a terminal (done / total, rate, ETA, tokens/min, rejects,
//! retries), plain log lines every few seconds otherwise.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often the plain log line is written when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

/// Counts and shows the job's progress.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: Option<u64>,
    /// Lines done before this run (a resumed job).
    resumed_at: u64,
    pub done: u64,
    pub rejected: u64,
    /// InvokeModel attempts beyond the first of each call (throttling and transient failures).
    pub retries: u64,
    /// Input tokens Bedrock billed in this run (what the token budget paces).
    pub tokens: u64,
    started: Instant,
    last_log: Instant,
}

impl Progress {
    /// `terminal`: draw a bar on stderr; else log every [`LOG_EVERY`].
    pub fn new(terminal: bool, total: Option<u64>, done: u64, rejected: u64) -> Self {
        let bar = terminal.then(|| {
            let bar = match total {
                Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let template = if total.is_some() {
                "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} lines  {rate}  ETA {eta}  {msg}"
            } else {
                "{elapsed_precise} {spinner} {human_pos} lines  {rate}  {msg}"
            };
            let style = ProgressStyle::with_template(template)
                .expect("a valid template")
                .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} lines/s", state.per_sec());
                })
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_position(done);
            bar.reset_eta();
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        let mut progress = Self {
            bar,
            total,
            resumed_at: done,
            done,
            rejected,
            retries: 0,
            tokens: 0,
            started: now,
            last_log: now,
        };
        progress.update_message();
        progress
    }

    /// `lines` more lines done, of which `rejected` were rejected; `retries` more retries;
    /// `tokens` more input tokens billed.
    pub fn advance(&mut self, lines: u64, rejected: u64, retries: u64, tokens: u64) {
        self.done += lines;
        self.rejected += rejected;
        self.retries += retries;
        self.tokens += tokens;
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
            self.update_message();
        } else if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            tracing::info!("{}", self.line());
        }
    }

    fn update_message(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{:.0} tokens/min  rejected {}  retries {}",
                self.tokens_per_min(),
                self.rejected,
                self.retries
            ));
        }
    }

    /// Lines per second in this run.
    pub fn rate(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            (self.done - self.resumed_at) as f64 / secs
        } else {
            0.0
        }
    }

    /// Input tokens a minute in this run.
    pub fn tokens_per_min(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            self.tokens as f64 * 60.0 / secs
        } else {
            0.0
        }
    }

    /// The plain progress line.
    pub fn line(&self) -> String {
        let rate = self.rate();
        let mut out = match self.total {
            Some(total) if total > 0 => {
                format!(
                    "{}/{} lines ({:.0}%)",
                    self.done,
                    total,
                    self.done as f64 * 100.0 / total as f64
                )
            }
            _ => format!("{} lines", self.done),
        };
        out.push_str(&format!(", {rate:.1} lines/s"));
        if let Some(total) = self.total
            && rate > 0.0
        {
            let eta = Duration::from_secs_f64(total.saturating_sub(self.done) as f64 / rate);
            out.push_str(&format!(", ETA {}", indicatif::HumanDuration(eta)));
        }
        out.push_str(&format!(
            ", {:.0} tokens/min, {} rejected, {} retries",
            self.tokens_per_min(),
            self.rejected,
            self.retries
        ));
        out
    }

    /// Removes the bar (the caller prints the summary).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_line_counts_this_run_and_the_resumed_part() {
        let mut p = Progress::new(false, Some(200), 50, 1);
        p.started = Instant::now() - Duration::from_secs(30);
        p.advance(50, 2, 3, 1_000);
        let line = p.line();
        assert!(line.starts_with("100/200 lines (50%), "), "{line}");
        // 1,000 tokens in 30 s (give or take the test's own time).
        let per_min = p.tokens_per_min();
        assert!((1_990.0..=2_000.0).contains(&per_min), "{per_min}");
        assert!(
            line.ends_with(" tokens/min, 3 rejected, 3 retries"),
            "{line}"
        );
        assert!(
            line.contains(", 2000 tokens/min,") || line.contains(", 1999 tokens/min,"),
            "{line}"
        );
        let unknown = Progress::new(false, None, 0, 0).line();
        assert!(unknown.starts_with("0 lines, 0.0 lines/s"), "{unknown}");
    }
}
