//! The per-model tokens-per-minute quota: a sliding 60 s window of the input tokens each model
//! accepted, as Bedrock's bedrock-runtime quotas count them since May 2026.
//!
//! A call whose tokens would take the window past the budget answers ThrottlingException
//! "Too many tokens, please wait before trying again." and counts nothing; a call that fits is
//! recorded at the moment it was admitted and leaves the window 60 s later.

use crate::error::{ApiError, ErrorCode};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window Bedrock's per-minute quotas slide over.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Bedrock's message when a tokens-per-minute quota is exhausted.
pub const TOO_MANY_TOKENS: &str = "Too many tokens, please wait before trying again.";

/// Admitted calls per model key: (when, input tokens), oldest first, and their sum.
#[derive(Debug, Default)]
struct Window {
    calls: VecDeque<(Instant, u64)>,
    sum: u64,
}

impl Window {
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, tokens)) = self.calls.front() {
            if now.saturating_duration_since(at) < WINDOW {
                break;
            }
            self.calls.pop_front();
            self.sum -= tokens;
        }
    }
}

/// Tokens-per-minute budgets, one window per model key.
#[derive(Debug, Default)]
pub struct TokenQuota {
    limit: Option<u64>,
    windows: Mutex<HashMap<String, Window>>,
}

impl TokenQuota {
    /// `limit` input tokens per model per 60 s; `None` admits everything.
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            limit,
            windows: Mutex::default(),
        }
    }

    /// Admits a call of `tokens` input tokens to `model` at `now`, or answers ThrottlingException.
    pub fn admit(&self, model: &str, tokens: u64, now: Instant) -> Result<(), ApiError> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(model.to_string()).or_default();
        window.expire(now);
        if window.sum.saturating_add(tokens) > limit {
            return Err(ApiError::new(
                ErrorCode::ThrottlingException,
                TOO_MANY_TOKENS,
            ));
        }
        window.calls.push_back((now, tokens));
        window.sum += tokens;
        Ok(())
    }

    /// Input tokens `model` has used in the window ending at `now`.
    pub fn used(&self, model: &str, now: Instant) -> u64 {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.get_mut(model).map_or(0, |w| {
            w.expire(now);
            w.sum
        })
    }

    /// Empties every window.
    pub fn reset(&self) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_per_model_over_a_sliding_minute() {
        let q = TokenQuota::new(Some(100));
        let t0 = Instant::now();
        q.admit("a", 60, t0).unwrap();
        q.admit("a", 40, t0 + Duration::from_secs(10)).unwrap();
        let e = q.admit("a", 1, t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(e.code, ErrorCode::ThrottlingException);
        assert_eq!(e.message, TOO_MANY_TOKENS);
        // Another model has its own budget.
        q.admit("b", 100, t0 + Duration::from_secs(20)).unwrap();
        // A throttled call counts nothing; the first call leaves the window at t0 + 60 s.
        assert_eq!(q.used("a", t0 + Duration::from_secs(59)), 100);
        q.admit("a", 60, t0 + Duration::from_secs(60)).unwrap();
        assert!(q.admit("a", 1, t0 + Duration::from_secs(69)).is_err());
        q.admit("a", 40, t0 + Duration::from_secs(70)).unwrap();
        q.reset();
        assert_eq!(q.used("a", t0 + Duration::from_secs(70)), 0);
    }

    #[test]
    fn no_limit_admits_everything() {
        let q = TokenQuota::new(None);
        q.admit("a", u64::MAX, Instant::now()).unwrap();
        q.admit("a", u64::MAX, Instant::now()).unwrap();
    }
}
