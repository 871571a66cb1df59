//! Spicepod loading: the good shapes, and a table of malformed spicepods each producing its
//! specific error (kind, line, and the words of the message).

use std::collections::HashMap;
use std::path::Path;

use super::*;

const SECRET_VALUE: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn secrets() -> HashMap<String, String> {
    [
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", SECRET_VALUE),
        ("EMPTY", ""),
        ("LIMIT", "abc"),
        ("REGION", "not-a-region-at-all"),
        ("STAGE", "prod"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn parse(text: &str) -> Result<Loaded, SpicepodError> {
    Spicepod::parse(text, Path::new("spicepod.yaml"), &secrets())
}

fn pod(entries: &str) -> String {
    format!("version: v1\nkind: Spicepod\nname: test\nembeddings:\n{entries}")
}

#[test]
fn the_docs_examples_load() {
    let text = pod("\
- from: bedrock:cohere.embed-english-v3
  name: cohere-embeddings
  params:
    aws_region: us-east-1
    input_type: classification
    truncate: END
    aws_access_key_id: ${ secrets:AWS_ACCESS_KEY_ID }
    aws_secret_access_key: ${secrets:AWS_SECRET_ACCESS_KEY}
- from: bedrock:amazon.titan-embed-text-v2:0
  name: titan-embeddings
  description: Titan v2
  params:
    dimensions: 256
    normalize: false
    max_concurrent_invocations: 8
    requests_per_min_limit: \"600\"
    tokens_per_min_limit: \"300000\"
    tokens_per_day_limit: 432000000
    aws_endpoint_url: http://127.0.0.1:4566
    codec: titan
    note: ${ env:STAGE }-x
");
    let loaded = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let pod = loaded.spicepod;
    assert_eq!(pod.name, "test");
    assert_eq!(pod.embeddings.len(), 2);
    let c = &pod.embeddings[0];
    assert_eq!(
        (c.name.as_str(), c.model_id.as_str(), c.line),
        ("cohere-embeddings", "cohere.embed-english-v3", 5)
    );
    assert_eq!(c.aws.region.as_deref(), Some("us-east-1"));
    assert_eq!(
        c.params,
        vec![
            ("input_type".into(), "classification".into()),
            ("truncate".into(), "END".into())
        ]
    );
    let key = c.aws.secret_access_key.as_ref().expect("secret key");
    assert_eq!(key.expose(), SECRET_VALUE);
    assert_eq!(
        key.origin(),
        "param aws_secret_access_key (secret AWS_SECRET_ACCESS_KEY from the test secrets)"
    );
    assert!(!format!("{c:?}").contains(SECRET_VALUE));
    assert_eq!(c.limits, LimitParams::default());

    let t = &pod.embeddings[1];
    assert_eq!(t.model_id, "amazon.titan-embed-text-v2:0");
    assert_eq!(
        t.limits,
        LimitParams {
            max_concurrent_invocations: 8,
            requests_per_min_limit: 600,
            tokens_per_min_limit: Some(300_000),
            tokens_per_day_limit: Some(432_000_000),
            max_wait: super::DEFAULT_MAX_WAIT,
        }
    );
    assert_eq!(t.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(t.codec.as_deref(), Some("titan"));
    assert_eq!(
        t.params,
        vec![
            ("dimensions".into(), "256".into()),
            ("normalize".into(), "false".into()),
            ("note".into(), "prod-x".into())
        ]
    );
}

#[test]
fn minimal_pod_warns_about_missing_header_and_ignores_other_sections() {
    let text = "\
runtime:
  results_cache:
    enabled: true
datasets: []
embeddings:
  - from: bedrock:amazon.titan-embed-text-v1
    name: t
";
    let loaded = parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.spicepod.name, "spicepod");
    assert_eq!(loaded.spicepod.embeddings[0].line, 6);
    assert_eq!(loaded.warnings.len(), 3, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("`version` is missing: add `version: v1`"));
}

#[test]
fn warnings_for_literal_credentials_near_miss_params_and_ignored_profile() {
    let text = pod("\
- from: bedrock:amazon.titan-embed-text-v2:0
  name: t
  params:
    aws_access_key_id: AKIAIOSFODNN7EXAMPLE
    aws_secret_access_key: literal-secret-in-file
    aws_profile: dev
    max_concurent_invocations: 3
");
    let loaded = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let w = loaded.warnings.join("\n");
    assert!(w.contains("spicepod.yaml:8: embeddings[0] \"t\": params.aws_access_key_id: is written in the file: keep credentials out of it with `${ secrets:AWS_ACCESS_KEY_ID }`"), "{w}");
    assert!(w.contains("params.aws_profile: is ignored"), "{w}");
    // A near miss of a host param goes to the codec's param check, which refuses it with
    // the suggestion (`unknown_params_are_errors_with_a_suggestion`).
    assert!(!w.contains("max_concurent_invocations"), "{w}");
    assert!(!w.contains("literal-secret-in-file"));
    let m = &loaded.spicepod.embeddings[0];
    assert_eq!(
        m.aws.secret_access_key.as_ref().map(Secret::origin),
        Some("param aws_secret_access_key (written in spicepod.yaml)")
    );
    assert_eq!(
        m.params,
        vec![("max_concurent_invocations".into(), "3".into())]
    );
}

#[test]
fn unknown_params_are_errors_with_a_suggestion() {
    let text = pod(
        "- from: bedrock:amazon.titan-embed-text-v2:0\n  name: t\n  params:\n    dimension: 256\n    colour: red\n    max_concurent_invocations: 3\n",
    );
    let loaded = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let m = &loaded.spicepod.embeddings[0];
    let errors = unknown_params(m, &["dimensions", "normalize"]);
    assert_eq!(
        errors,
        vec![
            "params.dimension: unknown param of model amazon.titan-embed-text-v2:0: did you mean `dimensions`?".to_string(),
            "params.colour: unknown param of model amazon.titan-embed-text-v2:0: this model takes dimensions, normalize".to_string(),
            "params.max_concurent_invocations: unknown param of model amazon.titan-embed-text-v2:0: did you mean `max_concurrent_invocations`?".to_string(),
        ]
    );
    assert!(unknown_params(m, &["dimension", "colour", "max_concurent_invocations"]).is_empty());
    assert_eq!(unknown_params(m, &[]).len(), 3);
}

#[test]
fn a_star_spec_passes_free_form_params_through() {
    let text = pod(
        "- from: bedrock:amazon.titan-embed-text-v2:0\n  name: t\n  params:\n    dimensions: 256\n    extra_top_k: 3\n    anything: x\n",
    );
    let loaded = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let m = &loaded.spicepod.embeddings[0];
    assert!(unknown_params(m, &["dimensions", "*"]).is_empty());
    assert_eq!(
        unknown_params(m, &["dimensions", "extra_*"]),
        vec!["params.anything: unknown param of model amazon.titan-embed-text-v2:0: this model takes dimensions".to_string()]
    );
}

#[test]
fn all_errors_of_a_file_are_reported_together() {
    let text = pod("\
- from: openai:text-embedding-3-small
  name: a
- from: bedrock:amazon.titan-embed-text-v2:0
  name: b
  params:
    max_concurrent_invocations: 0
    requests_per_min_limit: -5
- name: c
");
    let err = parse(&text).expect_err("invalid");
    assert_eq!(
        err.kinds(),
        vec![
            ProblemKind::UnsupportedProvider,
            ProblemKind::InvalidLimit,
            ProblemKind::InvalidLimit,
            ProblemKind::MissingFrom
        ]
    );
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 4, "{shown}");
    assert_eq!(
        lines[0],
        "spicepod.yaml:5: embeddings[0] \"a\": from: \"openai:text-embedding-3-small\" is not supported by this host: bedrock-embed serves `bedrock:<model-id>` only"
    );
    assert_eq!(
        lines[1],
        "spicepod.yaml:10: embeddings[1] \"b\": params.max_concurrent_invocations: \"0\" is not allowed: use a whole number from 1 to 10000"
    );
    assert_eq!(
        lines[2],
        "spicepod.yaml:11: embeddings[1] \"b\": params.requests_per_min_limit: \"-5\" is not allowed (negative): use a whole number from 1 to 1000000"
    );
    assert_eq!(
        lines[3],
        "spicepod.yaml:12: embeddings[2] \"c\": from: is missing: add `from: bedrock:<model-id>`"
    );
}

/// One malformed spicepod: its text, the problem kinds, the line of the first problem and
/// words its message must contain.
struct Case {
    what: &'static str,
    text: String,
    kinds: &'static [ProblemKind],
    line: Option<usize>,
    says: &'static [&'static str],
}

fn entry(params: &str) -> String {
    pod(&format!(
        "- from: bedrock:amazon.titan-embed-text-v2:0\n  name: t\n  params:\n{params}"
    ))
}

fn cases() -> Vec<Case> {
    use ProblemKind::*;
    let c = |what, text: String, kinds, line, says| Case {
        what,
        text,
        kinds,
        line,
        says,
    };
    vec![
        c(
            "yaml syntax",
            "embeddings:\n  - from: [bedrock\n".into(),
            &[Syntax],
            Some(3),
            &["YAML syntax error", "line 3"],
        ),
        c(
            "tab indentation",
            "embeddings:\n\t- from: x\n".into(),
            &[Syntax],
            Some(2),
            &["YAML syntax error"],
        ),
        c("empty file", "".into(), &[EmptyFile], None, &["is empty"]),
        c(
            "a list at the top",
            "- a\n- b\n".into(),
            &[NotAMapping],
            None,
            &["top level must be a mapping"],
        ),
        c(
            "unknown top-level key",
            "version: v1\nkind: Spicepod\nname: x\nembedings:\n- from: bedrock:a\n  name: a\n"
                .into(),
            &[UnknownTopLevelKey],
            Some(4),
            &["embedings: unknown top-level key: did you mean `embeddings`?"],
        ),
        c(
            "wrong kind",
            "version: v1\nkind: Dataset\nname: x\nembeddings:\n- from: bedrock:a\n  name: a\n"
                .into(),
            &[BadKind],
            Some(2),
            &["kind: \"Dataset\" is not allowed: use Spicepod"],
        ),
        c(
            "wrong version",
            "version: v9\nkind: Spicepod\nembeddings:\n- from: bedrock:a\n  name: a\n".into(),
            &[BadVersion],
            Some(1),
            &["version: \"v9\" is not a spicepod version", "use v1"],
        ),
        c(
            "no embeddings",
            "version: v1\nkind: Spicepod\nname: x\n".into(),
            &[NoEmbeddings],
            None,
            &["no `embeddings:` entries"],
        ),
        c(
            "embeddings is empty",
            pod("  []\n"),
            &[NoEmbeddings],
            Some(4),
            &["embeddings: is an empty list"],
        ),
        c(
            "embeddings is a mapping",
            pod("  from: bedrock:a\n"),
            &[EmbeddingsNotAList],
            Some(4),
            &["must be a list"],
        ),
        c(
            "entry is a string",
            pod("- bedrock:amazon.titan-embed-text-v2:0\n"),
            &[EntryNotAMapping],
            Some(5),
            &["embeddings[0]: must be a mapping"],
        ),
        c(
            "missing from",
            pod("- name: t\n"),
            &[MissingFrom],
            Some(5),
            &["from: is missing: add `from: bedrock:<model-id>`"],
        ),
        c(
            "missing name",
            pod("- from: bedrock:amazon.titan-embed-text-v2:0\n"),
            &[MissingName],
            Some(5),
            &["embeddings[0]: name: is missing"],
        ),
        c(
            "empty name",
            pod("- from: bedrock:a\n  name: ''\n"),
            &[BadName],
            Some(6),
            &["name: is empty"],
        ),
        c(
            "name is a list",
            pod("- from: bedrock:a\n  name: [a]\n"),
            &[BadName],
            Some(6),
            &["name: is a list"],
        ),
        c(
            "duplicate name",
            pod("- from: bedrock:a\n  name: same\n- from: bedrock:b\n  name: same\n"),
            &[DuplicateName],
            Some(8),
            &[
                "embeddings[1] \"same\": name: \"same\" is already the name of an earlier entry (line 5): names must be unique",
            ],
        ),
        c(
            "unknown entry key",
            pod("- from: bedrock:a\n  name: t\n  parms:\n    dimensions: 256\n"),
            &[UnknownEntryKey],
            Some(7),
            &[
                "parms: unknown key: did you mean `params`? (allowed: from, name, params, description)",
            ],
        ),
        c(
            "host param at entry level",
            pod("- from: bedrock:a\n  name: t\n  aws_region: us-east-1\n"),
            &[UnknownEntryKey],
            Some(7),
            &["aws_region: unknown key: move it under `params:`"],
        ),
        c(
            "openai provider",
            pod("- from: openai:text-embedding-3-small\n  name: t\n"),
            &[UnsupportedProvider],
            Some(5),
            &["is not supported by this host: bedrock-embed serves `bedrock:<model-id>` only"],
        ),
        c(
            "model id without provider",
            pod("- from: amazon.titan-embed-text-v2:0\n  name: t\n"),
            &[UnsupportedProvider],
            Some(5),
            &["write `from: bedrock:amazon.titan-embed-text-v2:0`"],
        ),
        c(
            "upper-case provider",
            pod("- from: Bedrock:amazon.titan-embed-text-v2:0\n  name: t\n"),
            &[UnsupportedProvider],
            Some(5),
            &["write it in lower case, `bedrock:amazon.titan-embed-text-v2:0`"],
        ),
        c(
            "empty model id",
            pod("- from: 'bedrock:'\n  name: t\n"),
            &[EmptyModelId],
            Some(5),
            &["has no model id"],
        ),
        c(
            "spaces in model id",
            pod("- from: 'bedrock: amazon.titan-embed-text-v2:0'\n  name: t\n"),
            &[BadModelId],
            Some(5),
            &["write `bedrock:amazon.titan-embed-text-v2:0`"],
        ),
        c(
            "from is a number",
            pod("- from: 42\n  name: t\n"),
            &[BadFrom],
            Some(5),
            &["from: must be a string"],
        ),
        c(
            "params is a list",
            pod("- from: bedrock:a\n  name: t\n  params: [a, b]\n"),
            &[ParamsNotAMapping],
            Some(7),
            &["params: must be a mapping"],
        ),
        c(
            "param without value",
            entry("    dimensions:\n"),
            &[BadParamValue],
            Some(8),
            &["params.dimensions: has no value"],
        ),
        c(
            "param is a list",
            entry("    dimensions: [256]\n"),
            &[BadParamValue],
            Some(8),
            &["params.dimensions: is a list"],
        ),
        c(
            "concurrency 0",
            entry("    max_concurrent_invocations: 0\n"),
            &[InvalidLimit],
            Some(8),
            &[
                "params.max_concurrent_invocations: \"0\" is not allowed: use a whole number from 1 to 10000",
            ],
        ),
        c(
            "rate negative",
            entry("    requests_per_min_limit: -1\n"),
            &[InvalidLimit],
            Some(8),
            &["\"-1\" is not allowed (negative)"],
        ),
        c(
            "rate not a number",
            entry("    requests_per_min_limit: fast\n"),
            &[InvalidLimit],
            Some(8),
            &["\"fast\" is not a whole number"],
        ),
        c(
            "rate fractional",
            entry("    requests_per_min_limit: 1.5\n"),
            &[InvalidLimit],
            Some(8),
            &["\"1.5\" is not a whole number"],
        ),
        c(
            "token limit 0",
            entry("    tokens_per_min_limit: 0\n"),
            &[InvalidLimit],
            Some(8),
            &[
                "params.tokens_per_min_limit: \"0\" is not allowed: use a whole number of tokens from 1 to 1000000000, or remove it for no token limit",
            ],
        ),
        c(
            "daily token limit not a number",
            entry("    tokens_per_day_limit: 300k\n"),
            &[InvalidLimit],
            Some(8),
            &["params.tokens_per_day_limit: \"300k\" is not a whole number"],
        ),
        c(
            "token limit too large",
            entry("    tokens_per_min_limit: 1000000000000\n"),
            &[InvalidLimit],
            Some(8),
            &["is too large"],
        ),
        c(
            "concurrency too large",
            entry("    max_concurrent_invocations: 100000\n"),
            &[InvalidLimit],
            Some(8),
            &["is too large"],
        ),
        c(
            "limit from a secret",
            entry("    requests_per_min_limit: ${ env:LIMIT }\n"),
            &[InvalidLimit],
            Some(8),
            &[
                "\"${ env:LIMIT }\" (resolved from env LIMIT from the test secrets) is not a whole number",
            ],
        ),
        c(
            "region is an AZ",
            entry("    aws_region: us-east-1a\n"),
            &[InvalidRegion],
            Some(8),
            &[
                "\"us-east-1a\" is not an AWS region code",
                "use the region us-east-1",
            ],
        ),
        c(
            "region upper case",
            entry("    aws_region: US-WEST-2\n"),
            &[InvalidRegion],
            Some(8),
            &["did you mean us-west-2?"],
        ),
        c(
            "region from env is bad",
            entry("    aws_region: ${ env:REGION }\n"),
            &[InvalidRegion],
            Some(8),
            &[
                "\"${ env:REGION }\" (resolved from env REGION from the test secrets) is not an AWS region code",
            ],
        ),
        c(
            "endpoint without scheme",
            entry("    aws_endpoint_url: localhost:4566\n"),
            &[InvalidEndpoint],
            Some(8),
            &["\"localhost:4566\" has no scheme: write an http(s) URL"],
        ),
        c(
            "endpoint ftp",
            entry("    aws_endpoint_url: ftp://example.com\n"),
            &[InvalidEndpoint],
            Some(8),
            &["is not an http(s) URL"],
        ),
        c(
            "unknown aws param",
            entry("    aws_regoin: us-east-1\n"),
            &[UnknownAwsParam],
            Some(8),
            &["params.aws_regoin: unknown AWS param: did you mean `aws_region`?"],
        ),
        c(
            "key id without secret",
            entry("    aws_access_key_id: ${ secrets:AWS_ACCESS_KEY_ID }\n"),
            &[IncompleteCredentials],
            Some(8),
            &["params.aws_access_key_id: is set but `aws_secret_access_key` is not"],
        ),
        c(
            "secret without key id",
            entry("    aws_secret_access_key: ${ secrets:AWS_SECRET_ACCESS_KEY }\n"),
            &[IncompleteCredentials],
            Some(8),
            &["params.aws_secret_access_key: is set but `aws_access_key_id` is not"],
        ),
        c(
            "session token alone",
            entry("    aws_session_token: ${ secrets:AWS_ACCESS_KEY_ID }\n"),
            &[IncompleteCredentials],
            Some(8),
            &[
                "params.aws_session_token: needs `aws_access_key_id` and `aws_secret_access_key` too",
            ],
        ),
        c(
            "missing secret",
            entry(
                "    aws_access_key_id: ${ secrets:AWS_ACCESS_KEY_ID }\n    aws_secret_access_key: ${ secrets:NOPE }\n",
            ),
            &[MissingSecret],
            Some(9),
            &[
                "params.aws_secret_access_key: secret `NOPE` is not set (looked in the test secrets)",
            ],
        ),
        c(
            "empty secret",
            entry(
                "    aws_access_key_id: ${ env:EMPTY }\n    aws_secret_access_key: ${ secrets:AWS_SECRET_ACCESS_KEY }\n",
            ),
            &[EmptySecret],
            Some(8),
            &["params.aws_access_key_id: environment variable `EMPTY` is set but empty"],
        ),
        c(
            "unknown secret store",
            entry("    aws_region: ${ vault:REGION }\n"),
            &[BadSecretRef],
            Some(8),
            &["secret store `vault`"],
        ),
        c(
            "bare reference",
            entry("    dimensions: ${DIMS}\n"),
            &[BadSecretRef],
            Some(8),
            &["write `${ secrets:DIMS }` or `${ env:DIMS }`"],
        ),
        c(
            "unclosed reference",
            entry("    aws_profile: ${ env:PROFILE\n"),
            &[BadSecretRef],
            Some(8),
            &["without a closing `}`"],
        ),
        c(
            "literal empty credential",
            entry("    aws_access_key_id: ''\n    aws_secret_access_key: x\n"),
            &[InvalidCredential],
            Some(8),
            &["is empty"],
        ),
        c(
            "empty codec",
            entry("    codec: ''\n"),
            &[EmptyParam],
            Some(8),
            &["params.codec: is empty"],
        ),
        c(
            "flow style entries",
            "embeddings: [{from: 'openai:x', name: a}]\n".into(),
            &[UnsupportedProvider],
            Some(1),
            &["embeddings[0] \"a\""],
        ),
    ]
}

#[test]
fn malformed_spicepods_each_produce_their_error() {
    let cases = cases();
    assert!(cases.len() >= 20);
    for case in cases {
        let err = match parse(&case.text) {
            Ok(l) => panic!(
                "{}: loaded, expected {:?}: {:?}",
                case.what, case.kinds, l.spicepod
            ),
            Err(e) => e,
        };
        let shown = err.to_string();
        assert_eq!(err.kinds(), case.kinds, "{}: {shown}", case.what);
        assert_eq!(err.problems[0].line, case.line, "{}: {shown}", case.what);
        for words in case.says {
            assert!(
                shown.contains(words),
                "{}: {shown:?} lacks {words:?}",
                case.what
            );
        }
        assert!(
            !shown.contains(SECRET_VALUE) && !shown.contains("AKIAIOSFODNN7EXAMPLE"),
            "{}: {shown}",
            case.what
        );
        assert_eq!(
            shown.lines().count(),
            err.problems.len(),
            "{}: one line per problem",
            case.what
        );
        assert!(shown.starts_with("spicepod.yaml"), "{}", case.what);
    }
}

#[test]
fn merge_keys_share_params() {
    let text = pod("\
- from: bedrock:amazon.titan-embed-text-v2:0
  name: a
  params: &shared
    aws_region: eu-central-1
    dimensions: 512
- from: bedrock:amazon.titan-embed-text-v2:0
  name: b
  params:
    <<: *shared
    dimensions: 256
");
    let loaded = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let b = &loaded.spicepod.embeddings[1];
    assert_eq!(b.aws.region.as_deref(), Some("eu-central-1"));
    assert_eq!(b.params, vec![("dimensions".into(), "256".into())]);
    let err = parse(&pod("- <<: 1\n  from: bedrock:a\n  name: a\n")).expect_err("bad merge");
    assert_eq!(err.kinds(), vec![ProblemKind::Syntax]);
    assert!(err.to_string().contains("YAML merge key `<<`"), "{err}");
}

#[test]
fn secrets_never_appear_in_errors() {
    // Whitespace inside a resolved key: the error names the reference, not the value.
    let mut s = secrets();
    s.insert("SPACED".into(), format!("{SECRET_VALUE} x"));
    let text = entry(
        "    aws_access_key_id: ${ secrets:AWS_ACCESS_KEY_ID }\n    aws_secret_access_key: ${ secrets:SPACED }\n",
    );
    let err = Spicepod::parse(&text, Path::new("p.yaml"), &s).expect_err("invalid");
    let shown = err.to_string();
    assert_eq!(err.kinds(), vec![ProblemKind::InvalidCredential]);
    assert!(shown.contains("${ secrets:SPACED }"), "{shown}");
    assert!(!shown.contains(SECRET_VALUE), "{shown}");
    assert!(err.problems[0].value.is_none());
    assert!(!format!("{err:?}").contains(SECRET_VALUE));
}

#[test]
fn no_input_panics() {
    let nasty = [
        "\u{0}",
        "---\n---\n",
        "~",
        "[",
        "{",
        "embeddings: !!binary aGVsbG8=",
        "embeddings:\n- !tag {from: x}\n",
        "? [a]\n: b\n",
        "embeddings:\n  - from: bedrock:x\n    name: x\n    params: {1: 2, ~: 3}\n",
        "&a [*a]",
        "a: &x 1\nb: *x\n",
        "embeddings:\n- from: 'bedrock:é'\n  name: 'ü'\n  params:\n    'ü': ${ secrets:é }\n",
        "\u{feff}embeddings: []",
        "embeddings:\n-\n-\n",
        "embeddings:\n- from: bedrock:x\n  name: x\n  params:\n    x: ${}${:}${ :a}${a:}\n",
    ];
    for text in nasty {
        let _ = parse(text)
            .map(|l| l.spicepod.embeddings.len())
            .map_err(|e| e.to_string());
    }
}

#[test]
fn load_reads_env_files_beside_the_spicepod_and_reports_missing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let var = "BEDROCK_EMBED_SPICEPOD_TEST_KEY_7f3a";
    std::fs::write(
        dir.path().join(".env"),
        format!("{var}=from-dotenv\nOTHER=1\n"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join(".env.local"),
        format!("{var}_SECRET=from-local\n"),
    )
    .expect("write");
    let path = dir.path().join("spicepod.yaml");
    std::fs::write(
        &path,
        pod(&format!(
            "- from: bedrock:amazon.titan-embed-text-v2:0\n  name: t\n  params:\n    aws_access_key_id: ${{ secrets:{var} }}\n    aws_secret_access_key: ${{ env:{var}_SECRET }}\n"
        )),
    )
    .expect("write");
    let loaded = Spicepod::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let m = &loaded.spicepod.embeddings[0];
    let id = m.aws.access_key_id.as_ref().expect("id");
    assert_eq!(id.expose(), "from-dotenv");
    assert_eq!(
        id.origin(),
        format!(
            "param aws_access_key_id (secret {var} from {})",
            dir.path().join(".env").display()
        )
    );
    let secret = m.aws.secret_access_key.as_ref().expect("secret");
    assert!(
        secret.origin().contains(".env.local"),
        "{}",
        secret.origin()
    );

    let missing = dir.path().join("nope.yaml");
    let err = Spicepod::load(&missing).expect_err("missing");
    assert_eq!(err.kinds(), vec![ProblemKind::NotFound]);
    assert!(err.to_string().ends_with(
        "nope.yaml: no such file: create it, or pass --spicepod PATH to use another one"
    ));

    std::fs::write(&path, b"\xff\xfe not utf8").expect("write");
    let err = Spicepod::load(&path).expect_err("binary");
    assert_eq!(err.kinds(), vec![ProblemKind::Unreadable]);
}
