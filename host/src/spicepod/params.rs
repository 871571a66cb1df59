//! Host params: their names, and the checks of their values (pure functions, no I/O).

/// Params the host consumes; they are never passed to a codec.
pub const HOST_PARAMS: &[&str] = &[
    "aws_region",
    "aws_profile",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_endpoint_url",
    "max_concurrent_invocations",
    "requests_per_min_limit",
    "tokens_per_min_limit",
    "tokens_per_day_limit",
    "limiter_max_wait",
    "codec",
    "base_model",
];

/// Host params whose values are credentials: kept in [`crate::secrets::Secret`], never printed.
pub const CREDENTIAL_PARAMS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

pub const MAX_CONCURRENT_RANGE: (u32, u32) = (1, 10_000);
pub const REQUESTS_PER_MIN_RANGE: (u32, u32) = (1, 1_000_000);
/// `tokens_per_min_limit` range: Bedrock's applied per-minute token quotas are in the
/// hundreds of thousands to millions.
pub const TOKENS_PER_MIN_RANGE: (u64, u64) = (1, 1_000_000_000);
/// `tokens_per_day_limit` range (AWS's default is the per-minute quota × 1,440).
pub const TOKENS_PER_DAY_RANGE: (u64, u64) = (1, 1_000_000_000_000);
/// `limiter_max_wait` range: 0 s (answer 429 whenever the limiter would make a request wait)
/// to an hour.
pub const MAX_WAIT_RANGE: (std::time::Duration, std::time::Duration) = (
    std::time::Duration::ZERO,
    std::time::Duration::from_secs(3600),
);

/// `Ok(d)` when `value` is a duration (`30s`, `500ms`, `0s`) within [`MAX_WAIT_RANGE`].
pub fn parse_max_wait(value: &str) -> Result<std::time::Duration, String> {
    let v = value.trim();
    let d = if v == "0" {
        std::time::Duration::ZERO
    } else {
        humantime::parse_duration(v).map_err(|e| format!("is not a duration ({e})"))?
    };
    if d > MAX_WAIT_RANGE.1 {
        return Err("is longer than an hour".into());
    }
    Ok(d)
}

/// The closest candidate to `word` when it is close enough to be a likely typo
/// (case, `-` vs `_` and a few edits).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let w = norm(word);
    let limit = (w.chars().count() / 3).clamp(1, 3);
    let candidates: Vec<&'a str> = candidates.into_iter().filter(|c| *c != word).collect();
    let close = candidates
        .iter()
        .map(|c| (strsim::levenshtein(&w, &norm(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    // Else a key missing a word: `header_timeout` for `header_read_timeout` (two words or more,
    // all of them the candidate's, in order).
    close.or_else(|| {
        let words: Vec<&str> = w.split('_').filter(|s| !s.is_empty()).collect();
        if words.len() < 2 {
            return None;
        }
        candidates.into_iter().find(|c| {
            let c = norm(c);
            let mut theirs = c.split('_');
            words.iter().all(|w| theirs.any(|t| t == *w))
        })
    })
}

/// `Ok(n)` when `value` is a whole number within `range`; else the reason (without the fix).
pub fn parse_limit(value: &str, range: (u32, u32)) -> Result<u32, &'static str> {
    parse_whole(value, (u64::from(range.0), u64::from(range.1))).map(|n| n as u32)
}

/// [`parse_limit`] for ranges past `u32` (token budgets).
pub fn parse_whole(value: &str, range: (u64, u64)) -> Result<u64, &'static str> {
    let v = value.trim();
    if v.is_empty() {
        return Err("is empty");
    }
    let digits = v.strip_prefix('+').unwrap_or(v);
    if let Some(rest) = digits.strip_prefix('-') {
        return if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
            Err("is not allowed (negative)")
        } else {
            Err("is not a whole number")
        };
    }
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("is not a whole number");
    }
    match digits.parse::<u64>() {
        Ok(0) => Err("is not allowed"),
        Ok(n) if n >= range.0 && n <= range.1 => Ok(n),
        Ok(n) if n < range.0 => Err("is not allowed"),
        _ => Err("is too large"),
    }
}

/// Checks an AWS region code (`us-east-1`, `us-gov-west-1`, `eu-central-2`, `eusc-de-east-1`).
/// The error is a hint computed from the value; callers show it only for values written in the
/// file (never for resolved secrets).
pub fn check_region(value: &str) -> Result<(), Option<String>> {
    if is_region(value) {
        return Ok(());
    }
    let lower = value.trim().to_ascii_lowercase().replace('_', "-");
    if is_region(&lower) {
        return Err(Some(format!("did you mean {lower}?")));
    }
    // An availability zone: `us-east-1a`.
    if let Some(stripped) = lower.strip_suffix(|c: char| c.is_ascii_lowercase())
        && is_region(stripped)
    {
        return Err(Some(format!(
            "{value} looks like an availability zone: use the region {stripped}"
        )));
    }
    // A region name instead of its code.
    let by_name = [
        ("virginia", "us-east-1"),
        ("ohio", "us-east-2"),
        ("oregon", "us-west-2"),
        ("california", "us-west-1"),
        ("frankfurt", "eu-central-1"),
        ("ireland", "eu-west-1"),
        ("london", "eu-west-2"),
        ("paris", "eu-west-3"),
        ("tokyo", "ap-northeast-1"),
        ("singapore", "ap-southeast-1"),
        ("sydney", "ap-southeast-2"),
        ("mumbai", "ap-south-1"),
    ];
    if let Some((_, code)) = by_name.iter().find(|(name, _)| lower.contains(name)) {
        return Err(Some(format!("did you mean {code}?")));
    }
    Err(None)
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let n = parts.len();
    n >= 3
        && (2..=4).contains(&parts[0].len())
        && parts[..n - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && (1..=2).contains(&parts[n - 1].len())
        && parts[n - 1].chars().all(|c| c.is_ascii_digit())
}

/// Checks `aws_endpoint_url`: an absolute http(s) URL with a host.
pub fn check_endpoint(value: &str) -> Result<(), &'static str> {
    let uri: http::Uri = value.parse().map_err(|_| "is not a URL")?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(_) => return Err("is not an http(s) URL"),
        None => return Err("has no scheme"),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err("has no host"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-4",
            "eusc-de-east-1",
            "cn-north-1",
        ] {
            assert_eq!(check_region(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_region("US-EAST-1"),
            Err(Some("did you mean us-east-1?".into()))
        );
        assert_eq!(
            check_region("us_west_2"),
            Err(Some("did you mean us-west-2?".into()))
        );
        assert_eq!(
            check_region("us-east-1a"),
            Err(Some(
                "us-east-1a looks like an availability zone: use the region us-east-1".into()
            ))
        );
        assert_eq!(
            check_region("Frankfurt"),
            Err(Some("did you mean eu-central-1?".into()))
        );
        for bad in [
            "",
            "us-east",
            "useast1",
            "us-east-123",
            "-east-1",
            "us--1",
            "u-east-1",
            "moon",
        ] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        for ok in [
            "http://127.0.0.1:4566",
            "https://bedrock-runtime.us-east-1.amazonaws.com",
            "http://localhost/p",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_endpoint("localhost:8080"), Err("has no scheme"));
        assert_eq!(check_endpoint("ftp://x"), Err("is not an http(s) URL"));
        assert_eq!(check_endpoint("not a url"), Err("is not a URL"));
        assert_eq!(check_endpoint(""), Err("is not a URL"));
        assert!(check_endpoint("/just/a/path").is_err());
    }

    #[test]
    fn limits() {
        let r = MAX_CONCURRENT_RANGE;
        assert_eq!(parse_limit("40", r), Ok(40));
        assert_eq!(parse_limit(" 10000 ", r), Ok(10_000));
        assert_eq!(parse_limit("0", r), Err("is not allowed"));
        assert_eq!(parse_limit("-3", r), Err("is not allowed (negative)"));
        assert_eq!(parse_limit("10001", r), Err("is too large"));
        assert_eq!(
            parse_limit("99999999999999999999999", r),
            Err("is too large")
        );
        assert_eq!(parse_limit("1.5", r), Err("is not a whole number"));
        assert_eq!(parse_limit("forty", r), Err("is not a whole number"));
        assert_eq!(parse_limit("-", r), Err("is not a whole number"));
        assert_eq!(parse_limit("", r), Err("is empty"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("dimension", ["dimensions", "normalize"]),
            Some("dimensions")
        );
        assert_eq!(
            did_you_mean("Input-Type", ["input_type", "truncate"]),
            Some("input_type")
        );
        assert_eq!(
            did_you_mean("requests_per_minute_limit", HOST_PARAMS.iter().copied()),
            Some("requests_per_min_limit")
        );
        assert_eq!(did_you_mean("colour", ["dimensions"]), None);
        assert_eq!(did_you_mean("dimensions", ["dimensions"]), None);
        // A key missing a word.
        let http = ["header_read_timeout", "body_read_timeout", "keep_alive"];
        assert_eq!(
            did_you_mean("header_timeout", http),
            Some("header_read_timeout")
        );
        assert_eq!(did_you_mean("read_header_timeout", http), None);
        assert_eq!(did_you_mean("timeout", http), None);
    }
}
