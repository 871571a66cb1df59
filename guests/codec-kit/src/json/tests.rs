//! The reader against `str::parse` and serde_json, over the texts encoders write, and every
//! error with its message and place.

use super::*;

fn floats(text: &str) -> Result<Vec<f32>, Error> {
    let mut reader = Reader::new(text.as_bytes());
    let values = reader.floats(0)?;
    reader.finish().map(|()| values)
}

fn read(text: &str) -> Vec<f32> {
    floats(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn message(text: &str) -> String {
    floats(text).unwrap_err().to_string()
}

/// `n` finite f32s spread over the whole range (every exponent, subnormals, both signs), from
/// a fixed xorshift sequence of bit patterns.
fn spread(n: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_u32;
    let mut values = Vec::with_capacity(n);
    while values.len() < n {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let x = f32::from_bits(state);
        if x.is_finite() {
            values.push(x);
        }
    }
    values
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|x| x.to_bits()).collect()
}

// ---- float arrays

#[test]
fn empty_arrays() {
    for text in ["[]", "[ ]", " \n[\t\r\n ]\n "] {
        assert_eq!(read(text), Vec::<f32>::new(), "{text:?}");
    }
}

#[test]
fn whitespace_signs_and_exponents() {
    let got = read(" [ 1 , -2.5\n,\t3e2,4E+1 ,5e-1,\r\n-0.125E-2 , 0, 10, -0.0 ] ");
    assert_eq!(
        got,
        [1.0, -2.5, 300.0, 40.0, 0.5, -0.00125, 0.0, 10.0, -0.0]
    );
    assert!(read("[-0]")[0].is_sign_negative());
    assert!(read("[-0.0e0]")[0].is_sign_negative());
}

#[test]
fn range_edges() {
    assert_eq!(read("[3.4028235e38, -3.4028235e38]"), [f32::MAX, f32::MIN]);
    assert_eq!(read("[1.1754944e-38]"), [f32::MIN_POSITIVE]);
    assert_eq!(read("[1e-45, -1.401298464324817e-45]"), [1e-45, -1e-45]);
    assert_eq!(bits(&read("[1e-50, -1e-50]")), bits(&[0.0, -0.0]));
    // Beyond f32 reads as an infinity, as `str::parse` does: the codecs refuse it after.
    assert_eq!(read("[1e39, -1e39]"), [f32::INFINITY, f32::NEG_INFINITY]);
    assert_eq!(read("[1e400, 1e99999999999999]"), [f32::INFINITY; 2]);
}

#[test]
fn correctly_rounded_like_str_parse() {
    for text in [
        "0.1",
        "0.123456789012345678901234567890",
        "123456789012345678901234567890",
        "16777217",
        "1.00000005960464477539062500001",
        "1.000000059604644775390625",
        "7.038531e-26",
        "2.2250738585072014e-308",
        "0.000000000000000000000000000000000000011754942807573642917",
    ] {
        let want: f32 = text.parse().unwrap();
        assert_eq!(
            bits(&read(&format!("[{text}, -{text}]"))),
            bits(&[want, -want]),
            "{text}"
        );
    }
}

/// Shortest round-trip texts (serde_json's, Rust's `Display`) and the texts of the same f32
/// widened to f64 (what the emulator writes) all read back as the very same f32, and as
/// serde_json reads them.
#[test]
fn reads_back_what_encoders_write_bit_for_bit() {
    let values = spread(20_000);
    let widened: Vec<f64> = values.iter().map(|&x| f64::from(x)).collect();
    let displayed: Vec<String> = values.iter().map(|x| x.to_string()).collect();
    let texts = [
        serde_json::to_string(&values).unwrap(),
        serde_json::to_string(&widened).unwrap(),
        format!("[{}]", displayed.join(", ")),
        serde_json::to_string_pretty(&values).unwrap(),
    ];
    for text in &texts {
        assert_eq!(bits(&read(text)), bits(&values));
        let serde: Vec<f32> = serde_json::from_str(text).unwrap();
        assert_eq!(bits(&read(text)), bits(&serde));
    }
}

#[test]
fn capacity_is_only_a_hint() {
    let mut reader = Reader::new(b"[1, 2, 3]");
    assert_eq!(reader.floats(1).unwrap(), [1.0, 2.0, 3.0]);
    let mut reader = Reader::new(b"[1]");
    assert_eq!(reader.floats(1024).unwrap(), [1.0]);
}

#[test]
fn non_numbers_are_named_with_their_place() {
    let cases = [
        (
            r#"[0.1, "x"]"#,
            r#"[1]: expected a number, found `"x"` at line 1 column 7"#,
        ),
        (
            "[null]",
            "[0]: expected a number, found `null` at line 1 column 2",
        ),
        (
            "[1, true]",
            "[1]: expected a number, found `true` at line 1 column 5",
        ),
        (
            "[[1]]",
            "[0]: expected a number, found `[` at line 1 column 2",
        ),
        (
            "[{}]",
            "[0]: expected a number, found `{` at line 1 column 2",
        ),
        (
            "[1,]",
            "[1]: expected a number, found `]` at line 1 column 4",
        ),
        (
            "[,1]",
            "[0]: expected a number, found `,` at line 1 column 2",
        ),
        (
            "[1,",
            "[1]: expected a number, found the end of the text at line 1 column 4",
        ),
        (
            "[1,\n 2,\n \"a_much_longer_string_than_twenty\"]",
            "[2]: expected a number, found `\"a_much_longer_strin…` at line 3 column 2",
        ),
        (
            r#"["é"]"#,
            r#"[0]: expected a number, found `"é"` at line 1 column 2"#,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(message(text), want, "{text}");
    }
    let err = floats("[1,\n2,\n  \"3\"]").unwrap_err();
    assert_eq!((err.line(), err.column()), (3, 3));
}

/// What fast-float2 reads and JSON does not have is refused too.
#[test]
fn only_json_numbers() {
    for bad in [
        "+1", ".5", "-.5", "1.", "1.e5", "-1.E5", "01", "-01", "00.5", "-", "--1", "inf", "-inf",
        "NaN", "Infinity", "0x10", "1e", "1e+", "1_0",
    ] {
        let text = format!("[{bad}]");
        assert!(floats(&text).is_err(), "{text} was read");
        assert!(serde_json::from_str::<Vec<f32>>(&text).is_err(), "{text}");
    }
    assert_eq!(
        message("[1, 01]"),
        "[1]: expected a number, found `01` at line 1 column 5"
    );
    assert_eq!(
        read("[0, -0, 0.5, 10.25e-1, 0e0, 1E+0]"),
        [0.0, 0.0, 0.5, 1.025, 0.0, 1.0]
    );
}

#[test]
fn other_shapes_are_refused() {
    let cases = [
        ("0.1", "expected an array, found `0.1` at line 1 column 1"),
        ("{}", "expected an array, found `{` at line 1 column 1"),
        (
            "",
            "expected an array, found the end of the text at line 1 column 1",
        ),
        (
            "[1 2]",
            r#"expected "," or "]", found `2` at line 1 column 4"#,
        ),
        (
            "[1, 2.5.3]",
            r#"expected "," or "]", found `.3` at line 1 column 8"#,
        ),
        (
            "[1",
            r#"expected "," or "]", found the end of the text at line 1 column 3"#,
        ),
        (
            "[",
            "[0]: expected a number, found the end of the text at line 1 column 2",
        ),
        (
            "[1] x",
            "expected the end of the text, found `x` at line 1 column 5",
        ),
        (
            "[][]",
            "expected the end of the text, found `[` at line 1 column 3",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(message(text), want, "{text:?}");
    }
}

#[test]
fn arrays_of_arrays() {
    let vectors = vec![spread(300), spread(300), vec![], spread(7)];
    let text = serde_json::to_string_pretty(&vectors).unwrap();
    let mut reader = Reader::new(text.as_bytes());
    let got = reader.float_arrays(4, 300).unwrap();
    reader.finish().unwrap();
    assert_eq!(got.len(), vectors.len());
    for (g, v) in got.iter().zip(&vectors) {
        assert_eq!(bits(g), bits(v));
    }
    assert!(Reader::new(b" [ ] ").float_arrays(0, 0).unwrap().is_empty());

    let err = Reader::new(b"[[1], [2, \"3\"]]")
        .float_arrays(0, 0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "[1][1]: expected a number, found `\"3\"` at line 1 column 11"
    );
    let err = Reader::new(b"[[1], 2]").float_arrays(0, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "[1]: expected an array, found `2` at line 1 column 7"
    );
}

// ---- objects and serde_json's part

#[test]
fn objects_members_in_order_with_serde_values() {
    let text = br#" { "a" : [1.5] , "b":{"c":null, "d": [[2]]}, "n": 7, "s": "x\"y",
                     "skip": {"deep": [1, {"x": [true, null, "z"]}]}, "e\u0301": [] } "#;
    let mut reader = Reader::new(text);
    let mut seen = Vec::new();
    reader
        .object(|key, r| {
            seen.push(key.to_owned());
            match key {
                "a" => assert_eq!(r.floats(1)?, [1.5]),
                "b" => r.object(|key, r| {
                    match key {
                        "c" => assert_eq!(r.option(|r| r.floats(0))?, None),
                        _ => assert_eq!(r.option(|r| r.float_arrays(1, 1))?, Some(vec![vec![2.0]])),
                    }
                    Ok(())
                })?,
                "n" => assert_eq!(r.value::<Option<u32>>()?, Some(7)),
                "s" => assert_eq!(r.value::<String>()?, "x\"y"),
                _ => r.skip()?,
            }
            Ok(())
        })
        .unwrap();
    reader.finish().unwrap();
    assert_eq!(seen, ["a", "b", "n", "s", "skip", "e\u{301}"]);
    assert!(Reader::new(b"{ }").object(|_, _| unreachable!()).is_ok());
}

#[test]
fn a_clone_reads_a_skipped_value_again() {
    let mut reader = Reader::new(br#"{"later": [0.5], "x": 1}"#);
    let mut saved = None;
    reader
        .object(|key, r| {
            if key == "later" {
                saved = Some(r.clone());
            }
            r.skip()
        })
        .unwrap();
    assert_eq!(saved.unwrap().floats(1).unwrap(), [0.5]);
}

#[test]
fn object_errors_name_the_path_and_place() {
    let read = |text: &str| -> String {
        let mut reader = Reader::new(text.as_bytes());
        reader
            .object(|key, r| match key {
                "v" => r.floats(0).map(drop),
                "o" => r.object(|_, r| r.float_arrays(0, 0).map(drop)),
                "n" => r.value::<u32>().map(drop),
                _ => r.skip(),
            })
            .and_then(|()| reader.finish())
            .unwrap_err()
            .to_string()
    };
    let cases = [
        ("[]", "expected an object, found `[` at line 1 column 1"),
        (
            "<html>",
            "expected an object, found `<html>` at line 1 column 1",
        ),
        (
            r#"{"v": [1, "2"]}"#,
            r#"v[1]: expected a number, found `"2"` at line 1 column 11"#,
        ),
        (
            "{\"o\": {\"float\": [[1],\n [2, x]]}}",
            "o.float[1][1]: expected a number, found `x` at line 2 column 6",
        ),
        (
            r#"{"n": -1}"#,
            "n: invalid value: integer `-1`, expected u32 at line 1 column 8",
        ),
        (
            "{\"x\": 1,\n \"skip\": [1, {\"t\": tru}]}",
            "skip: expected `true`, found `tru` at line 2 column 20",
        ),
        (
            r#"{"x": "unterminated}"#,
            "x: EOF while parsing a string at line 1 column 20",
        ),
        (
            r#"{"x": 1, "x": 2}"#,
            "duplicate key `x` at line 1 column 12",
        ),
        (
            r#"{"x" 1}"#,
            r#"expected ":", found `1` at line 1 column 6"#,
        ),
        (
            r#"{"x": 1 "y": 2}"#,
            r#"expected "," or "}", found `"y":` at line 1 column 9"#,
        ),
        (
            r#"{"x": 1,}"#,
            "expected a key, found `}` at line 1 column 9",
        ),
        (r#"{x: 1}"#, "expected a key, found `x:` at line 1 column 2"),
        (
            r#"{"x": 1"#,
            r#"expected "," or "}", found the end of the text at line 1 column 8"#,
        ),
        (
            r#"{"x":}"#,
            "x: expected a value, found `}` at line 1 column 6",
        ),
        (
            r#"{"x": 1} {}"#,
            "expected the end of the text, found `{` at line 1 column 10",
        ),
        (
            r#"{"x": 1}}"#,
            "expected the end of the text, found `}` at line 1 column 9",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(read(text), want, "{text}");
    }
}

/// Keys and the strings read are checked as UTF-8 (serde_json's `from_slice` steps over the
/// strings it skips without checking their bytes).
#[test]
fn invalid_utf8_is_refused_in_keys_and_strings_read() {
    let mut reader = Reader::new(b"{\"k\xff\": 1}");
    let err = reader.object(|_, r| r.skip()).unwrap_err();
    assert!(err.to_string().starts_with("invalid unicode"), "{err}");
    let mut reader = Reader::new(b"{\"k\": \"\xff\"}");
    let err = reader
        .object(|_, r| r.value::<String>().map(drop))
        .unwrap_err();
    assert!(err.to_string().starts_with("k: invalid unicode"), "{err}");
}

#[test]
fn an_error_after_a_value_is_placed_on_its_last_byte() {
    // As serde_json places `missing field`: on the closing brace.
    let mut reader = Reader::new(br#"{"message": "Malformed input request"}"#);
    reader.object(|_, r| r.skip()).unwrap();
    assert_eq!(
        reader.error("missing field `embeddings`").to_string(),
        "missing field `embeddings` at line 1 column 38"
    );
}

// ---- spans: where the arrays of numbers are

fn numbers(text: &str) -> Result<NumberArray, Error> {
    let mut reader = Reader::new(text.as_bytes());
    let found = reader.numbers()?;
    reader.finish().map(|()| found)
}

fn numbers_message(text: &str) -> String {
    numbers(text).unwrap_err().to_string()
}

#[test]
fn a_span_runs_from_the_bracket_to_its_bracket() {
    for (text, count) in [
        ("[]", 0),
        ("[ ]", 0),
        (" \n[\t\r\n ]\n ", 0),
        ("[1]", 1),
        ("[1,2,3]", 3),
        (
            " [ 1 , -2.5\n,\t3e2,4E+1 ,5e-1,\r\n-0.125E-2 , 0, 10, -0.0 ] ",
            9,
        ),
    ] {
        let found = numbers(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let inside = &text[found.span.range()];
        assert_eq!(inside, text.trim(), "{text:?}");
        assert_eq!(found.count, count, "{text:?}");
    }
}

/// Arrays of every length from 0 to 70 values, at every offset within an 8-byte word: the span
/// and the count (commas straddling the words included) are those of serde_json's reading.
#[test]
fn spans_and_counts_at_every_length_and_alignment() {
    let values = spread(70);
    for len in 0..=values.len() {
        let array = serde_json::to_string(&values[..len]).unwrap();
        for pad in 0..8 {
            let text = format!("{}{array}{}", " ".repeat(pad), " ".repeat(7 - pad));
            let found = numbers(&text).unwrap();
            assert_eq!(
                &text[found.span.range()],
                array,
                "{len} values, {pad} spaces"
            );
            assert_eq!(found.count, len, "{len} values, {pad} spaces");
            let parsed: Vec<f32> = serde_json::from_str(&text[found.span.range()]).unwrap();
            assert_eq!(bits(&parsed), bits(&values[..len]));
        }
    }
}

#[test]
fn what_cannot_be_in_an_array_of_numbers_is_named_at_its_item() {
    let cases = [
        (
            r#"[0.1, "x"]"#,
            r#"[1]: expected a number, found `"x"` at line 1 column 7"#,
        ),
        (
            "[[1]]",
            "[0]: expected a number, found `[` at line 1 column 2",
        ),
        (
            "[1, 2, {}]",
            "[2]: expected a number, found `{` at line 1 column 8",
        ),
        (
            "[1, 2}",
            "[1]: expected a number, found `}` at line 1 column 6",
        ),
        (
            "[1,\n 2,\n \"a_much_longer_string_than_twenty\"]",
            "[2]: expected a number, found `\"a_much_longer_strin…` at line 3 column 2",
        ),
        ("0.1", "expected an array, found `0.1` at line 1 column 1"),
        ("{}", "expected an array, found `{` at line 1 column 1"),
        (
            "",
            "expected an array, found the end of the text at line 1 column 1",
        ),
        (
            "[1] x",
            "expected the end of the text, found `x` at line 1 column 5",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(numbers_message(text), want, "{text:?}");
    }
}

#[test]
fn a_truncated_array_is_an_error_at_the_end() {
    let array = serde_json::to_string(&spread(40)).unwrap();
    for cut in 0..array.len() {
        let text = &array[..cut];
        let err = numbers(text).unwrap_err();
        assert_eq!(err.line(), 1);
        if cut > 0 {
            assert_eq!(err.column(), cut + 1, "{text}");
            assert!(
                err.to_string().contains("found the end of the text"),
                "{text}: {err}"
            );
        }
    }
    assert_eq!(
        numbers_message("[1, 2"),
        r#"[1]: expected "," or "]", found the end of the text at line 1 column 6"#
    );
}

/// The numbers are the host's to check: the span finder does not look at them.
#[test]
fn the_numbers_themselves_are_not_checked() {
    let found = numbers("[1 2, x, null, 01]").unwrap();
    assert_eq!(found.span, Span { start: 0, len: 18 });
    assert_eq!(found.count, 4);
    // A word with `Y`, `y`, `_` or DEL goes through the byte loop, and is stepped over there.
    let text = "[1, 2, 3, 4, 5, yyyy, 6, _, 7, \u{7f}, 8]";
    assert_eq!(numbers(text).unwrap().count, 11);
}

#[test]
fn arrays_of_number_arrays() {
    let vectors = vec![spread(300), spread(300), vec![], spread(7)];
    let text = serde_json::to_string_pretty(&vectors).unwrap();
    let mut reader = Reader::new(text.as_bytes());
    let found = reader.number_arrays(4).unwrap();
    reader.finish().unwrap();
    let counts: Vec<usize> = found.iter().map(|a| a.count).collect();
    assert_eq!(counts, [300, 300, 0, 7]);
    for (array, vector) in found.iter().zip(&vectors) {
        let parsed: Vec<f32> = serde_json::from_str(&text[array.span.range()]).unwrap();
        assert_eq!(bits(&parsed), bits(vector));
    }
    let err = Reader::new(b"[[1], [2, \"3\"]]")
        .number_arrays(0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "[1][1]: expected a number, found `\"3\"` at line 1 column 11"
    );
    let err = Reader::new(b"[[1], 2]").number_arrays(0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "[1]: expected an array, found `2` at line 1 column 7"
    );
}

// ---- stepping over what a codec does not need

/// Reads `text`'s member `want` (an array of numbers) as a span, stepping over the rest.
fn find(text: &str, want: &str) -> Result<Option<Span>, Error> {
    let mut reader = Reader::new(text.as_bytes());
    let mut found = None;
    reader.object(|key, r| {
        if key == want {
            found = Some(r.numbers()?.span);
            Ok(())
        } else {
            r.skip()
        }
    })?;
    reader.finish().map(|()| found)
}

#[test]
fn strings_with_brackets_quotes_and_escapes_do_not_fool_it() {
    let text = r#"{"texts": ["a]", "\"]", "\\", "\\\"]\\", "]]]\u005d", "x\/y\b\f\n\r\t\u00e9"],
        "s": "[1, 2]", "embedding": [0.5, -1], "after": "\"embedding\": [9]"}"#;
    let span = find(text, "embedding").unwrap().unwrap();
    assert_eq!(&text[span.range()], "[0.5, -1]");
    // Strings of every length up to 40 with a quote escaped at every place, across the words.
    for len in 0..40 {
        for at in 0..len {
            let mut s = "x".repeat(len);
            s.replace_range(at..at + 1, "\"");
            let quoted = serde_json::to_string(&s).unwrap();
            let text = format!(r#"{{"s": {quoted}, "v": [1]}}"#);
            let span = find(&text, "v").unwrap().unwrap();
            assert_eq!(&text[span.range()], "[1]", "{text}");
        }
    }
}

#[test]
fn a_key_of_the_same_name_in_a_nested_value_is_not_the_member() {
    let text = r#"{"meta": {"embedding": [9, 9], "deep": [{"embedding": [8]}, [[7]], "embedding"]},
        "list": [{"embedding": []}, 1, true, null, -2.5e-3, "embedding", [1, "]"]],
        "embedding": [1, 2, 3]}"#;
    let span = find(text, "embedding").unwrap().unwrap();
    assert_eq!(&text[span.range()], "[1, 2, 3]");
    assert_eq!(find(r#"{"a": {"embedding": [1]}}"#, "embedding"), Ok(None));
}

#[test]
fn escaped_keys_are_decoded_before_they_are_compared() {
    let text = r#"{"embe\u0064ding": [1.5]}"#;
    let span = find(text, "embedding").unwrap().unwrap();
    assert_eq!(&text[span.range()], "[1.5]");
    let err = find(r#"{"embedding": [1], "embe\u0064ding": [2]}"#, "x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "duplicate key `embedding` at line 1 column 35"
    );
}

/// Whatever serde_json accepts is stepped over to its very end; a value it refuses for its
/// structure, strings, escapes or scalars is refused too.
#[test]
fn skip_steps_over_valid_json_and_refuses_broken_structure() {
    let valid = [
        "0",
        "-0.5e+10",
        "1E3",
        "true",
        "false",
        "null",
        r#""""#,
        r#""\u12aB \"\\ \/""#,
        "[]",
        "{}",
        "[[], {}, [[]], [{}]]",
        r#"{"a": {"b": {"c": [1, {"d": "]}"}]}}, "e": [true, false, null]}"#,
        " [ 1 , [ 2 , [ 3 ] ] , \"x\" ] ",
        r#"["é", "\ud83d\ude00", "😀"]"#,
        "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]",
        "[[1.5, 2.5], [3.5, 4.5], []]",
        "[1, 2, [3]]",
        "[1, 2, \"3\"]",
    ];
    for text in valid {
        assert!(
            serde_json::from_str::<serde_json::Value>(text).is_ok(),
            "{text}"
        );
        let doc = format!("{text} ");
        let mut reader = Reader::new(doc.as_bytes());
        reader.skip().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(reader.peek(), None, "{text}");
        let doc = format!("[{text}, 7]");
        let mut reader = Reader::new(doc.as_bytes());
        reader.skip().unwrap_or_else(|e| panic!("{doc}: {e}"));
        reader.finish().unwrap();
    }
    let invalid = [
        (
            "",
            "expected a value, found the end of the text at line 1 column 1",
        ),
        ("]", "expected a value, found `]` at line 1 column 1"),
        ("tru", "expected `true`, found `tru` at line 1 column 1"),
        ("nul", "expected `null`, found `nul` at line 1 column 1"),
        ("01", "expected a number, found `01` at line 1 column 1"),
        ("1.", "expected a number, found `1.` at line 1 column 1"),
        ("1e+", "expected a number, found `1e+` at line 1 column 1"),
        ("-", "expected a number, found `-` at line 1 column 1"),
        ("\"abc", "EOF while parsing a string at line 1 column 4"),
        (r#""a\x""#, "invalid escape at line 1 column 3"),
        (r#""a\u12g4""#, "invalid escape at line 1 column 3"),
        (
            "\"a\nb\"",
            "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3",
        ),
        (
            "[1, 2",
            r#"expected "," or "]", found the end of the text at line 1 column 6"#,
        ),
        (
            "[1, \"2\"",
            r#"expected "," or "]", found the end of the text at line 1 column 8"#,
        ),
        ("[\"a\",]", "expected a value, found `]` at line 1 column 6"),
        (
            "[{} {}]",
            r#"expected "," or "]", found `{` at line 1 column 5"#,
        ),
        (
            r#"{"a" 1}"#,
            r#"expected ":", found `1` at line 1 column 6"#,
        ),
        (
            r#"{"a": 1,}"#,
            "expected a key, found `}` at line 1 column 9",
        ),
        (
            r#"{"a": 1]"#,
            r#"expected "," or "}", found `]` at line 1 column 8"#,
        ),
        (r#"{1: 1}"#, "expected a key, found `1:` at line 1 column 2"),
        (
            r#"[{"a": [1}]"#,
            r#"expected "," or "]", found `}` at line 1 column 10"#,
        ),
        (
            r#"{"a": {"b": [1, 2]}"#,
            r#"expected "," or "}", found the end of the text at line 1 column 20"#,
        ),
    ];
    for (text, want) in invalid {
        assert!(
            serde_json::from_str::<serde_json::Value>(text).is_err(),
            "{text}"
        );
        let err = Reader::new(text.as_bytes()).skip().unwrap_err();
        assert_eq!(err.to_string(), want, "{text:?}");
    }
}

/// Inside a skipped value an array of numbers is stepped over as `numbers` finds its end:
/// what is in it is not checked.
#[test]
fn skipped_arrays_of_numbers_are_not_looked_into() {
    let mut reader = Reader::new(b"[1 2, x] ");
    reader.skip().unwrap();
    reader.finish().unwrap();
}

/// A deeply nested value is stepped over without recursion: no stack to overflow.
#[test]
fn deep_nesting_is_stepped_over() {
    let depth = 100_000;
    let text = format!("{}1{}", "[{\"a\":".repeat(depth), "}]".repeat(depth));
    let mut reader = Reader::new(text.as_bytes());
    reader.skip().unwrap();
    reader.finish().unwrap();
    let cut = &text[..text.len() - 1];
    assert!(Reader::new(cut.as_bytes()).skip().is_err());
}

/// Every cut of a realistic body is an error, never a panic or a span past the end.
#[test]
fn every_truncation_of_a_body_is_an_error() {
    let body = serde_json::json!({
        "id": "x\"]", "texts": ["a", "b\\"], "meta": {"embeddings": [1], "n": null},
        "embeddings": {"int8": [[1, -2]], "float": [spread(5), spread(5)]},
        "response_type": "embeddings_by_type"
    })
    .to_string();
    let read = |text: &[u8]| -> Result<Vec<NumberArray>, Error> {
        let mut reader = Reader::new(text);
        let mut found = None;
        reader.object(|key, r| match key {
            "embeddings" => r.object(|key, r| match key {
                "float" => r.number_arrays(2).map(|v| found = Some(v)),
                _ => r.skip(),
            }),
            _ => r.skip(),
        })?;
        reader.finish()?;
        found.ok_or_else(|| Error {
            path: String::new(),
            message: "no float".into(),
            line: 0,
            column: 0,
        })
    };
    let whole = read(body.as_bytes()).unwrap();
    assert_eq!(whole.len(), 2);
    for cut in 0..body.len() {
        assert!(read(&body.as_bytes()[..cut]).is_err(), "{}", &body[..cut]);
    }
}

// ---- cost

/// Not a check: times finding the spans of a 96 x 1024 Cohere response (6-decimal values, as
/// dense as Cohere writes them) against reading its floats, natively. Run it in release mode:
/// `cargo test --release -p codec-kit -- --ignored --nocapture span_finder_cost`.
#[test]
#[ignore]
fn span_finder_cost() {
    use std::time::{Duration, Instant};
    let mut state = 0x2545_f491_u32;
    let vectors: Vec<String> = (0..96)
        .map(|_| {
            let values: Vec<String> = (0..1024)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    format!("{:.6}", (state as f64 / u32::MAX as f64 - 0.5) / 8.0)
                })
                .collect();
            format!("[{}]", values.join(","))
        })
        .collect();
    let texts: Vec<String> = (0..96).map(|i| format!("text number {i}")).collect();
    let body = format!(
        r#"{{"id":"5d4c9e1b-3f3a-4b8e-9c1a-2f7b6d8e0a11","embeddings":{{"float":[{}]}},"texts":{},"response_type":"embeddings_by_type"}}"#,
        vectors.join(","),
        serde_json::to_string(&texts).unwrap()
    );
    let body = body.as_bytes();
    let spans = || {
        let mut reader = Reader::new(body);
        let mut found = 0;
        reader
            .object(|key, r| match key {
                "embeddings" => r.object(|_, r| r.number_arrays(96).map(|v| found = v.len())),
                _ => r.skip(),
            })
            .unwrap();
        found
    };
    let floats = || {
        let mut reader = Reader::new(body);
        let mut found = 0;
        reader
            .object(|key, r| match key {
                "embeddings" => r.object(|_, r| r.float_arrays(96, 1024).map(|v| found = v.len())),
                _ => r.skip(),
            })
            .unwrap();
        found
    };
    let time = |f: &dyn Fn() -> usize| {
        assert_eq!(f(), 96);
        let mut best = Duration::MAX;
        for _ in 0..20 {
            let start = Instant::now();
            std::hint::black_box(f());
            best = best.min(start.elapsed());
        }
        best
    };
    let (s, f) = (time(&spans), time(&floats));
    let mb = body.len() as f64 / 1e6;
    println!(
        "{mb:.2} MB body: spans {s:?} ({:.2} GB/s), floats {f:?} ({:.2} GB/s): floats / spans = {:.1}",
        mb / 1e3 / s.as_secs_f64(),
        mb / 1e3 / f.as_secs_f64(),
        f.as_secs_f64() / s.as_secs_f64()
    );
}
