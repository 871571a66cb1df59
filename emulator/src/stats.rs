//! Call accounting: counts per model, in-flight high-water mark, per-second buckets, a timeline
//! of recent calls and a log of recent request bodies. Everything since start or the last reset.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Per-second buckets kept (the oldest are dropped past this).
const MAX_SECONDS: usize = 3600;

/// Counts for one model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelStats {
    /// Calls received.
    pub attempted: u64,
    /// Calls answered 200.
    pub accepted: u64,
    /// Calls answered with an error or reset.
    pub rejected: u64,
    /// Calls whose client went away before the answer.
    pub aborted: u64,
    /// Calls of this model in flight now.
    pub in_flight: u64,
    /// Most calls of this model in flight at once.
    pub max_in_flight: u64,
    /// Rejections by error code (`ConnectionReset` for injected resets).
    pub errors: BTreeMap<String, u64>,
    /// Sum of input tokens of accepted calls.
    pub input_tokens: u64,
    /// Texts/inputs embedded by accepted calls.
    pub items: u64,
}

/// One second of the timeline, by arrival time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondStats {
    /// Seconds since start/reset.
    pub second: u64,
    pub attempted: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// One call on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Sequence number since start/reset (also the fault-draw index).
    pub seq: u64,
    /// Stats key: the foundation-model id, or the id as received when it did not resolve.
    pub model: String,
    /// Arrival, milliseconds since start/reset.
    pub arrived_ms: u64,
    /// Arrival, microseconds since start/reset.
    pub arrived_us: u64,
    /// Completion, microseconds since start/reset.
    pub finished_us: u64,
    /// HTTP status (0 for a reset or an aborted call).
    pub status: u16,
    /// Error code, `ConnectionReset` or `ClientAborted`; None on success.
    pub error: Option<String>,
}

/// A received invocation as the emulator saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub seq: u64,
    /// Arrival, milliseconds since start/reset.
    pub arrived_ms: u64,
    /// Model id as received (percent-decoded).
    pub model_id: String,
    /// The foundation model it resolved to.
    pub base_model: Option<String>,
    /// HTTP status answered (0 for a reset).
    pub status: u16,
    pub error: Option<String>,
    /// `sigv4`, `bearer` or `none`.
    pub auth: String,
    pub access_key_id: Option<String>,
    /// Region from the SigV4 credential scope.
    pub region: Option<String>,
    /// Selected request headers (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON (a JSON string holding the text when it is not JSON, null when
    /// larger than 1 MiB).
    pub body: Value,
    pub body_bytes: usize,
}

/// A point-in-time copy of the stats, serialisable (the `/_emulator/stats` body).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Start or last reset, Unix milliseconds.
    pub started_at_unix_ms: u64,
    /// Milliseconds since then.
    pub elapsed_ms: u64,
    pub attempted: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub aborted: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
    /// Rejections by error code over all models.
    pub errors: BTreeMap<String, u64>,
    pub models: BTreeMap<String, ModelStats>,
    /// Calls per second by arrival (only seconds that saw calls).
    pub per_second: Vec<SecondStats>,
    /// The last calls (oldest first), up to the configured capacity.
    pub recent_calls: Vec<CallRecord>,
}

impl StatsSnapshot {
    /// Stats of one model (by foundation-model id).
    pub fn model(&self, id: &str) -> Option<&ModelStats> {
        self.models.get(id)
    }

    /// The largest number of accepted calls whose arrivals fall within any window of `window`
    /// (from `recent_calls`).
    pub fn max_accepted_in_window(&self, window: Duration) -> usize {
        max_in_window(
            self.recent_calls
                .iter()
                .filter(|c| c.error.is_none())
                .map(|c| c.arrived_us),
            window,
        )
    }

    /// The largest number of calls (any outcome) arriving within any window of `window`.
    pub fn max_attempted_in_window(&self, window: Duration) -> usize {
        max_in_window(self.recent_calls.iter().map(|c| c.arrived_us), window)
    }

    /// Arrival times (ms since start/reset) of accepted calls, oldest first.
    pub fn accepted_arrivals_ms(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .recent_calls
            .iter()
            .filter(|c| c.error.is_none())
            .map(|c| c.arrived_ms)
            .collect();
        v.sort_unstable();
        v
    }
}

fn max_in_window(arrivals: impl Iterator<Item = u64>, window: Duration) -> usize {
    let mut t: Vec<u64> = arrivals.collect();
    t.sort_unstable();
    let w = window.as_micros() as u64;
    let (mut best, mut lo) = (0usize, 0usize);
    for hi in 0..t.len() {
        while t[hi] - t[lo] >= w {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

#[derive(Debug)]
struct Inner {
    generation: u64,
    epoch: Instant,
    epoch_unix_ms: u64,
    next_seq: u64,
    in_flight: u64,
    max_in_flight: u64,
    model_in_flight: HashMap<String, u64>,
    totals: ModelStats,
    models: BTreeMap<String, ModelStats>,
    seconds: BTreeMap<u64, SecondStats>,
    calls: VecDeque<CallRecord>,
    requests: VecDeque<RequestRecord>,
    call_capacity: usize,
    request_capacity: usize,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The shared accounting.
#[derive(Debug)]
pub struct Stats {
    inner: Mutex<Inner>,
}

/// A call in progress, from [`Stats::begin`].
#[derive(Debug)]
pub struct CallTicket {
    pub seq: u64,
    generation: u64,
    arrived_us: u64,
    model: String,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum CallEnd {
    /// Answered 200.
    Accepted { input_tokens: u32, items: usize },
    /// Answered with an error status and code.
    Rejected { status: u16, code: String },
    /// Connection reset injected.
    Reset,
    /// The client went away.
    Aborted,
}

impl Stats {
    pub fn new(call_capacity: usize, request_capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                generation: 0,
                epoch: Instant::now(),
                epoch_unix_ms: unix_ms(),
                next_seq: 0,
                in_flight: 0,
                max_in_flight: 0,
                model_in_flight: HashMap::new(),
                totals: ModelStats::default(),
                models: BTreeMap::new(),
                seconds: BTreeMap::new(),
                calls: VecDeque::new(),
                requests: VecDeque::new(),
                call_capacity,
                request_capacity,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an arriving call for `model` (the stats key).
    pub fn begin(&self, model: &str) -> CallTicket {
        let mut g = self.lock();
        let seq = g.next_seq;
        g.next_seq += 1;
        let arrived_us = g.epoch.elapsed().as_micros() as u64;
        g.in_flight += 1;
        g.max_in_flight = g.max_in_flight.max(g.in_flight);
        let mif = {
            let m = g.model_in_flight.entry(model.to_string()).or_insert(0);
            *m += 1;
            *m
        };
        g.totals.attempted += 1;
        let m = g.models.entry(model.to_string()).or_default();
        m.attempted += 1;
        m.max_in_flight = m.max_in_flight.max(mif);
        let second = arrived_us / 1_000_000;
        g.seconds
            .entry(second)
            .or_insert(SecondStats {
                second,
                ..Default::default()
            })
            .attempted += 1;
        while g.seconds.len() > MAX_SECONDS {
            g.seconds.pop_first();
        }
        CallTicket {
            seq,
            generation: g.generation,
            arrived_us,
            model: model.to_string(),
        }
    }

    /// Records how a call ended, and its request record if any.
    pub fn finish(&self, ticket: &CallTicket, end: CallEnd, record: Option<RequestRecord>) {
        let mut g = self.lock();
        g.in_flight = g.in_flight.saturating_sub(1);
        if let Some(m) = g.model_in_flight.get_mut(&ticket.model) {
            *m = m.saturating_sub(1);
        }
        if ticket.generation != g.generation {
            return; // began before a reset
        }
        let finished_us = g.epoch.elapsed().as_micros() as u64;
        let (status, error) = match &end {
            CallEnd::Accepted { .. } => (200, None),
            CallEnd::Rejected { status, code } => (*status, Some(code.clone())),
            CallEnd::Reset => (0, Some("ConnectionReset".to_string())),
            CallEnd::Aborted => (0, Some("ClientAborted".to_string())),
        };
        let second = ticket.arrived_us / 1_000_000;
        {
            let bucket = g.seconds.entry(second).or_insert(SecondStats {
                second,
                ..Default::default()
            });
            if error.is_none() {
                bucket.accepted += 1;
            } else {
                bucket.rejected += 1;
            }
        }
        let inner = &mut *g;
        for m in [
            &mut inner.totals,
            inner.models.entry(ticket.model.clone()).or_default(),
        ] {
            match &end {
                CallEnd::Accepted {
                    input_tokens,
                    items,
                } => {
                    m.accepted += 1;
                    m.input_tokens += u64::from(*input_tokens);
                    m.items += *items as u64;
                }
                CallEnd::Aborted => m.aborted += 1,
                _ => m.rejected += 1,
            }
            if let Some(code) = &error {
                *m.errors.entry(code.clone()).or_insert(0) += 1;
            }
        }
        if inner.call_capacity > 0 {
            if inner.calls.len() >= inner.call_capacity {
                inner.calls.pop_front();
            }
            inner.calls.push_back(CallRecord {
                seq: ticket.seq,
                model: ticket.model.clone(),
                arrived_ms: ticket.arrived_us / 1000,
                arrived_us: ticket.arrived_us,
                finished_us,
                status,
                error,
            });
        }
        if let Some(mut r) = record
            && inner.request_capacity > 0
        {
            r.seq = ticket.seq;
            r.arrived_ms = ticket.arrived_us / 1000;
            if inner.requests.len() >= inner.request_capacity {
                inner.requests.pop_front();
            }
            inner.requests.push_back(r);
        }
    }

    /// A copy of the stats.
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = self.lock();
        let mut models = g.models.clone();
        for (k, m) in models.iter_mut() {
            m.in_flight = g.model_in_flight.get(k).copied().unwrap_or(0);
        }
        StatsSnapshot {
            started_at_unix_ms: g.epoch_unix_ms,
            elapsed_ms: g.epoch.elapsed().as_millis() as u64,
            attempted: g.totals.attempted,
            accepted: g.totals.accepted,
            rejected: g.totals.rejected,
            aborted: g.totals.aborted,
            in_flight: g.in_flight,
            max_in_flight: g.max_in_flight,
            errors: g.totals.errors.clone(),
            models,
            per_second: g.seconds.values().cloned().collect(),
            recent_calls: g.calls.iter().cloned().collect(),
        }
    }

    /// The logged requests, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.iter().cloned().collect()
    }

    /// Starts over: counters, timeline, request log and the fault sequence. Calls in flight stay
    /// counted as in flight (and become the new high-water mark) but their outcome is not recorded.
    pub fn reset(&self) {
        let mut g = self.lock();
        g.generation += 1;
        g.epoch = Instant::now();
        g.epoch_unix_ms = unix_ms();
        g.next_seq = 0;
        g.max_in_flight = g.in_flight;
        g.totals = ModelStats::default();
        g.models.clear();
        g.seconds.clear();
        g.calls.clear();
        g.requests.clear();
    }
}

/// Ends a call as `Aborted` if dropped before [`CallGuard::finish`] (client disconnected).
#[derive(Debug)]
pub struct CallGuard {
    stats: Arc<Stats>,
    ticket: Option<CallTicket>,
}

impl CallGuard {
    pub fn new(stats: Arc<Stats>, model: &str) -> Self {
        let ticket = stats.begin(model);
        Self {
            stats,
            ticket: Some(ticket),
        }
    }

    pub fn seq(&self) -> u64 {
        self.ticket.as_ref().map(|t| t.seq).unwrap_or(0)
    }

    pub fn finish(mut self, end: CallEnd, record: Option<RequestRecord>) {
        if let Some(t) = self.ticket.take() {
            self.stats.finish(&t, end, record);
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            self.stats.finish(&t, CallEnd::Aborted, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_flight_and_timeline() {
        let s = Arc::new(Stats::new(100, 10));
        let a = CallGuard::new(s.clone(), "m1");
        let b = CallGuard::new(s.clone(), "m1");
        let c = CallGuard::new(s.clone(), "m2");
        assert_eq!(s.snapshot().in_flight, 3);
        a.finish(
            CallEnd::Accepted {
                input_tokens: 5,
                items: 1,
            },
            None,
        );
        b.finish(
            CallEnd::Rejected {
                status: 429,
                code: "ThrottlingException".into(),
            },
            None,
        );
        drop(c);
        let snap = s.snapshot();
        assert_eq!(snap.max_in_flight, 3);
        assert_eq!(snap.in_flight, 0);
        assert_eq!(
            (snap.attempted, snap.accepted, snap.rejected, snap.aborted),
            (3, 1, 1, 1)
        );
        let m1 = snap.model("m1").unwrap();
        assert_eq!(m1.max_in_flight, 2);
        assert_eq!(m1.input_tokens, 5);
        assert_eq!(m1.errors["ThrottlingException"], 1);
        assert_eq!(snap.per_second[0].attempted, 3);
        assert_eq!(snap.recent_calls.len(), 3);
        assert_eq!(snap.max_attempted_in_window(Duration::from_secs(1)), 3);
        assert_eq!(snap.max_accepted_in_window(Duration::from_secs(1)), 1);
        s.reset();
        let snap = s.snapshot();
        assert_eq!((snap.attempted, snap.max_in_flight), (0, 0));
        assert_eq!(s.begin("m").seq, 0);
    }

    #[test]
    fn windows() {
        let calls = [0u64, 100, 200, 1_000_000, 1_000_050, 2_500_000];
        assert_eq!(
            max_in_window(calls.into_iter(), Duration::from_millis(1)),
            3
        );
        assert_eq!(max_in_window(calls.into_iter(), Duration::from_secs(1)), 4);
        assert_eq!(
            max_in_window(calls.into_iter(), Duration::from_millis(1001)),
            5
        );
        assert_eq!(max_in_window(std::iter::empty(), Duration::from_secs(1)), 0);
    }

    #[test]
    fn reset_during_flight() {
        let s = Arc::new(Stats::new(10, 10));
        let a = CallGuard::new(s.clone(), "m");
        s.reset();
        assert_eq!(s.snapshot().max_in_flight, 1);
        a.finish(
            CallEnd::Accepted {
                input_tokens: 1,
                items: 1,
            },
            None,
        );
        let snap = s.snapshot();
        assert_eq!((snap.in_flight, snap.accepted), (0, 0));
    }
}
