//! Unit tests of the shared helpers.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum M {
    A,
    B,
}
const KNOWN: &[(&str, M)] = &[("x.model-a", M::A), ("x.model-b:0", M::B)];

#[test]
fn finds_documented_ids_and_their_variants() {
    assert_eq!(find_model("x", "x.model-a", KNOWN), Ok(M::A));
    assert_eq!(find_model("x", "x.model-a:2:8k", KNOWN), Ok(M::A));
    assert_eq!(find_model("x", "x.model-b:0", KNOWN), Ok(M::B));
    assert_eq!(find_model("x", "x.model-b:0:8k", KNOWN), Ok(M::B));
}

#[test]
fn unknown_models_name_the_known_ones() {
    let err = find_model("x", "x.model-c", KNOWN).unwrap_err();
    assert_eq!(
        err,
        CodecError::UnsupportedModel(
            "the x codec does not know model \"x.model-c\"; it serves x.model-a, x.model-b:0"
                .into()
        )
    );
    // A prefix of a family is not the family.
    assert!(find_model("x", "x.model-ab", KNOWN).is_err());
}

#[test]
fn an_unversioned_id_names_the_versioned_one() {
    let err = find_model("x", "x.model-b", KNOWN).unwrap_err();
    assert!(err.message().contains("did you mean x.model-b:0?"), "{err}");
}

#[test]
fn params_are_trimmed_and_the_last_wins() {
    let params = [
        Param::new("a", " 1 "),
        Param::new("b", "2"),
        Param::new("a", "3"),
    ];
    assert_eq!(param(&params, "a"), Some("3"));
    assert_eq!(param(&params, "b"), Some("2"));
    assert_eq!(param(&params, "c"), None);
}

#[test]
fn choices_match_case_insensitively_and_return_the_canonical_value() {
    let params = [Param::new("t", "end")];
    assert_eq!(
        choice(&params, "t", "m", &["NONE", "END"], "NONE"),
        Ok("END")
    );
    assert_eq!(choice(&[], "t", "m", &["NONE", "END"], "NONE"), Ok("NONE"));
    let err = choice(
        &[Param::new("t", "MIDDLE")],
        "t",
        "m",
        &["NONE", "END"],
        "NONE",
    );
    assert_eq!(
        err,
        Err(CodecError::InvalidParam(
            "invalid value \"MIDDLE\" for param \"t\" of m: allowed values are NONE, END".into()
        ))
    );
}

#[test]
fn booleans() {
    assert_eq!(
        boolean(&[Param::new("n", "TRUE")], "n", "m", false),
        Ok(true)
    );
    assert_eq!(
        boolean(&[Param::new("n", "False")], "n", "m", true),
        Ok(false)
    );
    assert_eq!(boolean(&[], "n", "m", true), Ok(true));
    assert_eq!(
        boolean(&[Param::new("n", "yes")], "n", "m", true),
        Err(CodecError::InvalidParam(
            "invalid value \"yes\" for param \"n\" of m: allowed values are true, false".into()
        ))
    );
}

#[test]
fn numbers() {
    assert_eq!(
        number_in(Origin::Param, "d", "512", "m", &[1024, 512]),
        Ok(512)
    );
    assert_eq!(
        number_in(Origin::RequestOption, "d", "-1", "m", &[1024, 512]),
        Err(CodecError::InvalidParam(
            "invalid value \"-1\" for request option \"d\" of m: allowed values are 1024, 512"
                .into()
        ))
    );
    assert_eq!(
        fixed_number(Origin::Param, "d", "1536", "m", 1536),
        Ok(1536)
    );
    assert_eq!(
        fixed_number(Origin::Param, "d", "512", "m", 1536),
        Err(CodecError::InvalidParam(
            "invalid value \"512\" for param \"d\" of m: its vectors have a fixed size; \
             allowed values are 1536"
                .into()
        ))
    );
}

#[test]
fn inputs() {
    let texts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        check_inputs("m", &[], None),
        Err(CodecError::InvalidInput(
            "no input: m needs at least one text".into()
        ))
    );
    assert_eq!(
        check_inputs("m", &texts(&["a", ""]), None),
        Err(CodecError::InvalidInput(
            "input 1 is an empty string: m needs non-empty text".into()
        ))
    );
    // Characters, not bytes: four 3-byte characters fit a limit of 4.
    assert_eq!(check_inputs("m", &texts(&["ééé€"]), Some(4)), Ok(()));
    assert_eq!(
        check_inputs("m", &texts(&["ok", "ééééé"]), Some(4)),
        Err(CodecError::InvalidInput(
            "input 1 is 5 characters long: m accepts at most 4 characters per text".into()
        ))
    );
}

#[test]
fn excerpts_are_short_and_single_line() {
    assert_eq!(excerpt(b"{\"a\":\n1}"), "{\"a\": 1}");
    let long = "x".repeat(1000);
    let e = excerpt(long.as_bytes());
    assert_eq!(e.chars().count(), EXCERPT_CHARS);
    assert!(e.ends_with('…'));
    let exact = "y".repeat(EXCERPT_CHARS);
    assert_eq!(excerpt(exact.as_bytes()), exact);
    assert_eq!(excerpt(&[0xff, b'a']), "\u{fffd}a");
}

#[test]
fn vectors() {
    let v = vec![vec![0.5f32, 1.0], vec![0.0, -1.0]];
    assert_eq!(check_vectors("m", &v, 2, 2), Ok(()));
    assert_eq!(
        check_vectors("m", &v, 3, 2),
        Err(CodecError::BadResponse(
            "m returned 2 vectors for 3 inputs".into()
        ))
    );
    assert_eq!(
        check_vectors("m", &[vec![1.0, 2.0], vec![1.0]], 2, 2),
        Err(CodecError::BadResponse(
            "m returned a vector of 1 dimensions at position 1; 2 were asked for".into()
        ))
    );
    assert!(check_vectors("m", &[vec![f32::INFINITY]], 1, 1).is_err());
}
