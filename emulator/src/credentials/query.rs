//! `application/x-www-form-urlencoded` parsing (STS query bodies, SSO query strings).

use percent_encoding::percent_decode_str;

/// The `key=value` pairs of a form body or query string, decoded (`+` is a space).
pub(crate) fn parse(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The first value of `key`.
pub(crate) fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        let p =
            parse("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&Name=a+b&Empty=");
        assert_eq!(get(&p, "Action"), Some("AssumeRole"));
        assert_eq!(get(&p, "RoleArn"), Some("arn:aws:iam::1:role/x"));
        assert_eq!(get(&p, "Name"), Some("a b"));
        assert_eq!(get(&p, "Empty"), Some(""));
        assert_eq!(get(&p, "Missing"), None);
    }
}
