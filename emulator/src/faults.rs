//! Fault injection: seeded, per call, globally or per model.
//!
//! Each call to `/model/.../invoke` gets a sequence number (from 0 after start or reset); its
//! fault draw is a pure function of `(seed, sequence number)`. A fixed seed therefore gives the
//! same outcomes for the same calls in the same order, and the same *number* of each outcome
//! for N calls whatever their order or concurrency.

use crate::error::{ApiError, ErrorCode};
use crate::vectors::splitmix64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Faults for one scope (all models, or one model). Rates are probabilities in `[0, 1]` and
/// their sum must not exceed 1; a draw falls into at most one of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// `ThrottlingException` (429).
    pub throttle_rate: f64,
    /// `InternalServerException` (500).
    pub internal_error_rate: f64,
    /// `ServiceUnavailableException` (503).
    pub unavailable_rate: f64,
    /// `ModelNotReadyException` (429).
    pub model_not_ready_rate: f64,
    /// `ModelTimeoutException` (408).
    pub model_timeout_rate: f64,
    /// Connection reset (TCP RST, no response).
    pub reset_rate: f64,
    /// Fixed latency added to every call, in milliseconds.
    pub latency_ms: u64,
    /// Extra latency uniformly drawn from `[0, jitter_ms]`.
    pub jitter_ms: u64,
    /// Answer every call with this error (e.g. `AccessDeniedException` for a permanent 403).
    pub always: Option<ErrorCode>,
}

/// Error in a fault configuration.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultConfigError {
    #[error("{0} must be a number between 0 and 1, got {1}")]
    RateOutOfRange(&'static str, f64),
    #[error("the fault rates add up to {0}, more than 1")]
    RatesExceedOne(f64),
    #[error(
        "unknown fault key {0:?} (expected throttle, internal, unavailable, not-ready, timeout, reset, latency-ms, jitter-ms, always)"
    )]
    UnknownKey(String),
    #[error("invalid value {value:?} for {key}: {reason}")]
    BadValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("expected MODEL@key=value[,key=value...], got {0:?}")]
    BadModelSpec(String),
}

impl FaultConfig {
    /// Checks the rates.
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        let rates = [
            ("throttle_rate", self.throttle_rate),
            ("internal_error_rate", self.internal_error_rate),
            ("unavailable_rate", self.unavailable_rate),
            ("model_not_ready_rate", self.model_not_ready_rate),
            ("model_timeout_rate", self.model_timeout_rate),
            ("reset_rate", self.reset_rate),
        ];
        let mut sum = 0.0;
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) || r.is_nan() {
                return Err(FaultConfigError::RateOutOfRange(name, r));
            }
            sum += r;
        }
        if sum > 1.0 + 1e-9 {
            return Err(FaultConfigError::RatesExceedOne(sum));
        }
        Ok(())
    }

    /// True when no fault and no latency is configured.
    pub fn is_none(&self) -> bool {
        *self == FaultConfig::default()
    }

    /// Parses `key=value[,key=value...]` (the CLI form): keys `throttle`, `internal`,
    /// `unavailable`, `not-ready`, `timeout`, `reset` (rates), `latency-ms`, `jitter-ms`,
    /// `always` (an error code name).
    pub fn parse_kv(spec: &str) -> Result<Self, FaultConfigError> {
        let mut f = FaultConfig::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| FaultConfigError::UnknownKey(item.to_string()))?;
            let bad = |reason: String| FaultConfigError::BadValue {
                key: k.to_string(),
                value: v.to_string(),
                reason,
            };
            let rate = || v.parse::<f64>().map_err(|e| bad(e.to_string()));
            let ms = || v.parse::<u64>().map_err(|e| bad(e.to_string()));
            match k.trim() {
                "throttle" | "throttle_rate" => f.throttle_rate = rate()?,
                "internal" | "internal_error_rate" => f.internal_error_rate = rate()?,
                "unavailable" | "unavailable_rate" => f.unavailable_rate = rate()?,
                "not-ready" | "model_not_ready_rate" => f.model_not_ready_rate = rate()?,
                "timeout" | "model_timeout_rate" => f.model_timeout_rate = rate()?,
                "reset" | "reset_rate" => f.reset_rate = rate()?,
                "latency-ms" | "latency_ms" => f.latency_ms = ms()?,
                "jitter-ms" | "jitter_ms" => f.jitter_ms = ms()?,
                "always" => {
                    f.always = Some(
                        v.parse()
                            .map_err(|e: crate::error::UnknownErrorCode| bad(e.to_string()))?,
                    )
                }
                other => return Err(FaultConfigError::UnknownKey(other.to_string())),
            }
        }
        f.validate()?;
        Ok(f)
    }
}

/// Parses the CLI's `MODEL@key=value,...` per-model form.
pub fn parse_model_spec(spec: &str) -> Result<(String, FaultConfig), FaultConfigError> {
    let (model, kv) = spec
        .rsplit_once('@')
        .ok_or_else(|| FaultConfigError::BadModelSpec(spec.to_string()))?;
    if model.is_empty() {
        return Err(FaultConfigError::BadModelSpec(spec.to_string()));
    }
    Ok((model.to_string(), FaultConfig::parse_kv(kv)?))
}

/// All fault settings: the default for every model and per-model overrides. A model with an
/// entry in `models` (keyed by the model id as received, or its foundation-model id) uses that
/// entry *instead of* `default`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    pub default: FaultConfig,
    pub models: BTreeMap<String, FaultConfig>,
}

impl FaultSettings {
    /// Checks every scope.
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        self.default.validate()?;
        self.models.values().try_for_each(FaultConfig::validate)
    }

    /// The faults that apply to a call.
    pub fn for_model(&self, received_id: &str, base_id: Option<&str>) -> &FaultConfig {
        self.models
            .get(received_id)
            .or_else(|| base_id.and_then(|b| self.models.get(b)))
            .unwrap_or(&self.default)
    }
}

/// What happens to one call.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultDecision {
    /// Sleep this long first.
    pub delay: Duration,
    /// Then fail like this (None: serve normally).
    pub outcome: Option<FaultOutcome>,
}

/// An injected failure.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultOutcome {
    /// Answer with this error.
    Error(ApiError),
    /// Reset the connection without answering.
    Reset,
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Draws the fault for call number `seq` under `seed`.
pub fn decide(cfg: &FaultConfig, seed: u64, seq: u64) -> FaultDecision {
    let base = splitmix64(seed ^ splitmix64(seq));
    let u = unit(splitmix64(base));
    let j = unit(splitmix64(base ^ 0x5DEE_CE66_D1CE_4E5B));
    let jitter = if cfg.jitter_ms > 0 {
        (j * (cfg.jitter_ms as f64 + 1.0)).floor() as u64
    } else {
        0
    };
    let delay = Duration::from_millis(cfg.latency_ms.saturating_add(jitter.min(cfg.jitter_ms)));
    if let Some(code) = cfg.always {
        return FaultDecision {
            delay,
            outcome: Some(FaultOutcome::Error(ApiError::of(code))),
        };
    }
    let bands: [(f64, Option<ErrorCode>); 6] = [
        (cfg.reset_rate, None),
        (cfg.throttle_rate, Some(ErrorCode::ThrottlingException)),
        (
            cfg.model_not_ready_rate,
            Some(ErrorCode::ModelNotReadyException),
        ),
        (
            cfg.model_timeout_rate,
            Some(ErrorCode::ModelTimeoutException),
        ),
        (
            cfg.internal_error_rate,
            Some(ErrorCode::InternalServerException),
        ),
        (
            cfg.unavailable_rate,
            Some(ErrorCode::ServiceUnavailableException),
        ),
    ];
    let mut acc = 0.0;
    for (rate, code) in bands {
        if rate <= 0.0 {
            continue;
        }
        acc += rate;
        if u < acc {
            let outcome = match code {
                None => FaultOutcome::Reset,
                Some(c) => FaultOutcome::Error(ApiError::of(c)),
            };
            return FaultDecision {
                delay,
                outcome: Some(outcome),
            };
        }
    }
    FaultDecision {
        delay,
        outcome: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_respected_and_repeatable() {
        let cfg = FaultConfig {
            throttle_rate: 0.2,
            ..Default::default()
        };
        let count = |seed| {
            (0..1000)
                .filter(|i| decide(&cfg, seed, *i).outcome.is_some())
                .count()
        };
        let n = count(42);
        assert!((150..=250).contains(&n), "{n}");
        assert_eq!(n, count(42));
        let none = FaultConfig::default();
        assert!((0..100).all(|i| decide(&none, 1, i)
            == FaultDecision {
                delay: Duration::ZERO,
                outcome: None
            }));
    }

    #[test]
    fn latency_and_jitter() {
        let cfg = FaultConfig {
            latency_ms: 10,
            jitter_ms: 5,
            ..Default::default()
        };
        for i in 0..200 {
            let d = decide(&cfg, 7, i).delay.as_millis();
            assert!((10..=15).contains(&d), "{d}");
        }
    }

    #[test]
    fn always_and_parse() {
        let f =
            FaultConfig::parse_kv("throttle=0.1, internal=0.05,latency-ms=3,always=AccessDenied")
                .unwrap();
        assert_eq!(f.throttle_rate, 0.1);
        assert_eq!(f.latency_ms, 3);
        assert_eq!(f.always, Some(ErrorCode::AccessDeniedException));
        match decide(&f, 0, 0).outcome {
            Some(FaultOutcome::Error(e)) => assert_eq!(e.code, ErrorCode::AccessDeniedException),
            other => panic!("{other:?}"),
        }
        assert!(FaultConfig::parse_kv("throttle=2").is_err());
        assert!(FaultConfig::parse_kv("throttle=0.6,reset=0.6").is_err());
        assert!(FaultConfig::parse_kv("bogus=1").is_err());
        let (m, f) = parse_model_spec("amazon.titan-embed-text-v2:0@throttle=0.5").unwrap();
        assert_eq!(m, "amazon.titan-embed-text-v2:0");
        assert_eq!(f.throttle_rate, 0.5);
        assert!(parse_model_spec("nomodel").is_err());
    }

    #[test]
    fn per_model_override() {
        let mut s = FaultSettings::default();
        s.default.throttle_rate = 0.5;
        s.models
            .insert("cohere.embed-v4:0".into(), FaultConfig::default());
        assert_eq!(
            s.for_model("us.cohere.embed-v4:0", Some("cohere.embed-v4:0"))
                .throttle_rate,
            0.0
        );
        assert_eq!(
            s.for_model(
                "amazon.titan-embed-text-v2:0",
                Some("amazon.titan-embed-text-v2:0")
            )
            .throttle_rate,
            0.5
        );
    }
}
