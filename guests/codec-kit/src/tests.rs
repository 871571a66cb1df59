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

#[test]
fn embedding_type_names() {
    let names: Vec<&str> = EmbeddingType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, ["float", "int8", "uint8", "binary", "ubinary"]);
    for t in EmbeddingType::ALL {
        assert_eq!(EmbeddingType::parse(t.as_str()), Some(t));
        assert_eq!(EmbeddingType::parse(&t.as_str().to_uppercase()), Some(t));
        assert_eq!(t.to_string(), t.as_str());
    }
    assert_eq!(EmbeddingType::parse("int4"), None);
    assert_eq!(EmbeddingType::parse(" float"), None);
    assert_eq!(EmbeddingType::default(), EmbeddingType::Float);
    assert_eq!(EmbeddingType::Int8.values_per_vector(1024), 1024);
    assert_eq!(EmbeddingType::Binary.values_per_vector(1024), 128);
    assert_eq!(EmbeddingType::Ubinary.values_per_vector(257), 33);
}

#[test]
fn embedding_type_from_the_request_then_the_param_then_float() {
    use EmbeddingType as T;
    let offered = [T::Float, T::Binary];
    let options = |t| RequestOptions {
        embedding_type: t,
        ..RequestOptions::default()
    };
    let param = [Param::new("embedding_type", " Binary ")];
    assert_eq!(
        embedding_type(&[], options(None), "m", &offered),
        Ok(T::Float)
    );
    assert_eq!(
        embedding_type(&param, options(None), "m", &offered),
        Ok(T::Binary)
    );
    assert_eq!(
        embedding_type(&param, options(Some(T::Float)), "m", &offered),
        Ok(T::Float)
    );
    assert_eq!(
        embedding_type(&[], options(Some(T::Int8)), "m", &offered),
        Err(CodecError::InvalidParam(
            "invalid value \"int8\" for request option \"embedding_type\" of m: allowed values \
             are float, binary"
                .into()
        ))
    );
    for value in ["int8", "int4"] {
        assert_eq!(
            embedding_type(
                &[Param::new("embedding_type", value)],
                options(Some(T::Float)),
                "m",
                &offered
            ),
            Err(CodecError::InvalidParam(format!(
                "invalid value \"{value}\" for param \"embedding_type\" of m: allowed values are \
                 float, binary"
            )))
        );
    }
}

#[test]
fn arrays_are_checked_for_count_and_size() {
    let array = |start, count| json::NumberArray {
        span: Span { start, len: 2 },
        count,
    };
    let arrays = [array(1, 4), array(9, 4)];
    assert_eq!(
        check_arrays("m", &arrays, 2, 4, EmbeddingType::Float),
        Ok(vec![Span { start: 1, len: 2 }, Span { start: 9, len: 2 }])
    );
    assert_eq!(
        check_arrays("m", &arrays, 3, 4, EmbeddingType::Float),
        Err(CodecError::BadResponse(
            "m returned 2 vectors for 3 inputs".into()
        ))
    );
    assert_eq!(
        check_arrays("m", &[array(1, 4), array(9, 3)], 2, 4, EmbeddingType::Int8),
        Err(CodecError::BadResponse(
            "m returned a vector of 3 dimensions at position 1; 4 were asked for".into()
        ))
    );
    assert_eq!(
        check_arrays("m", &arrays, 2, 32, EmbeddingType::Ubinary).map(|s| s.len()),
        Ok(2)
    );
    assert_eq!(
        check_arrays("m", &arrays, 2, 64, EmbeddingType::Binary),
        Err(CodecError::BadResponse(
            "m returned a binary vector of 4 values at position 0; 64 dimensions were asked \
             for, 8 values of 8 bits"
                .into()
        ))
    );
    assert_eq!(
        check_arrays("m", &[array(1, 0)], 1, 4, EmbeddingType::Float),
        Err(CodecError::BadResponse(
            "m returned a vector of 0 dimensions at position 0; 4 were asked for".into()
        ))
    );
}

#[test]
fn bits_pack_most_significant_first_as_signed_bytes() {
    let bits = |pattern: &str| -> Vec<f32> {
        pattern
            .chars()
            .filter(|c| *c != ' ')
            .map(|c| if c == '1' { 1.0 } else { 0.0 })
            .collect()
    };
    // 0b1000_0001 = 0x81 = -127 as i8; 0b0111_1111 = 127; 0b0000_0001 = 1; 0b1111_1111 = -1.
    let packed = pack_bits(&bits("10000001 01111111 00000001 11111111 00000000")).unwrap();
    assert_eq!(packed, [-127.0, 127.0, 1.0, -1.0, 0.0]);
    // A last byte of fewer than 8 bits is padded with zeros at its low end.
    assert_eq!(
        pack_bits(&bits("101")).unwrap(),
        [f32::from(0b1010_0000u8 as i8)]
    );
    assert_eq!(pack_bits(&[]), Some(vec![]));
    assert_eq!(pack_bits(&[1.0, 0.5]), None);
    assert_eq!(pack_bits(&[1.0, -1.0]), None);
}

#[test]
fn vectors_as_the_host_reads_them() {
    let body = br#"{"a": [0.5, -1], "b": [2e0]}"#;
    let spans = Vectors::Spans(vec![Span { start: 6, len: 9 }, Span { start: 22, len: 5 }]);
    assert_eq!(spans.len(), 2);
    assert_eq!(spans.values(body), Ok(vec![vec![0.5, -1.0], vec![2.0]]));
    let outside = Vectors::Spans(vec![Span { start: 25, len: 9 }]);
    assert!(outside.values(body).is_err());
    let values = Vectors::Values(vec![vec![1.0]]);
    assert_eq!(values.values(b""), Ok(vec![vec![1.0]]));
}
