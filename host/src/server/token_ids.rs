//! `input` as token ids (`list[int]` or `list[list[int]]`), decoded back to text.
//!
//! OpenAI's embeddings API takes token ids as well as text, and the openai tooling sends them:
//! LangChain's `OpenAIEmbeddings` on default settings splits texts with tiktoken and posts the
//! ids. Bedrock models tokenize for themselves, so the host turns the ids back into text with
//! the BPE those clients fall back to, `cl100k_base` (its ranks ship inside tiktoken-rs, so
//! this works offline), and embeds the text. Bytes that a token list cuts in the middle of a
//! UTF-8 character decode to U+FFFD, as tiktoken's own `decode` does (`errors="replace"`).

use serde_json::Value;
use tiktoken_rs::CoreBPE;

/// The encoding ids are read in.
pub const ENCODING: &str = "cl100k_base";

/// Why a token-id input cannot be decoded; `Display` names the item (`input[0][5]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenIdError {
    #[error(
        "{at} is {shown}: a token id is a whole number from 0 up (token ids are read as {ENCODING})"
    )]
    NotAnId { at: String, shown: String },
    #[error(
        "{at} is {id}, which is not a {ENCODING} token id (0 to {max_ordinary}, or a special \
         token 100257-100260, 100276): send text, or ids from {ENCODING}",
        max_ordinary = MAX_ORDINARY_ID
    )]
    OutOfRange { at: String, id: u64 },
}

/// The highest ordinary cl100k_base rank (100,256 ranks: 0..=100255).
const MAX_ORDINARY_ID: u64 = 100_255;

/// The token-id lists of an `input` array, or `None` when it is not token ids (then it is
/// text, or a type error for the caller to report). A flat list of numbers is one input; a list
/// of non-empty lists is one input per list.
pub fn token_lists(items: &[Value]) -> Option<Vec<&[Value]>> {
    if !items.is_empty() && items.iter().all(Value::is_number) {
        return Some(vec![items]);
    }
    if !items.is_empty()
        && items
            .iter()
            .all(|v| matches!(v, Value::Array(a) if !a.is_empty()))
    {
        return Some(
            items
                .iter()
                .filter_map(|v| v.as_array().map(Vec::as_slice))
                .collect(),
        );
    }
    None
}

/// Decodes each list to its text. `nested` says whether `input` was a list of lists (for the
/// item names in errors: `input[2]` for a flat list, `input[0][2]` for nested ones).
pub fn decode(lists: &[&[Value]], nested: bool) -> Result<Vec<String>, TokenIdError> {
    let bpe = cl100k_base();
    lists
        .iter()
        .enumerate()
        .map(|(i, list)| {
            let ids = list
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    let at = || {
                        if nested {
                            format!("input[{i}][{j}]")
                        } else {
                            format!("input[{j}]")
                        }
                    };
                    let id = v.as_u64().ok_or_else(|| TokenIdError::NotAnId {
                        at: at(),
                        shown: v.to_string(),
                    })?;
                    u32::try_from(id)
                        .ok()
                        .filter(|id| bpe.decode_bytes(&[*id]).is_ok())
                        .ok_or(TokenIdError::OutOfRange { at: at(), id })
                })
                .collect::<Result<Vec<u32>, _>>()?;
            let bytes = bpe
                .decode_bytes(&ids)
                .map_err(|e| TokenIdError::OutOfRange {
                    at: format!("input[{i}]"),
                    id: u64::from(e.token),
                })?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

/// The cl100k_base BPE, built once (about 100k ranks parsed from the data tiktoken-rs ships).
fn cl100k_base() -> &'static CoreBPE {
    tiktoken_rs::cl100k_base_singleton()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(input: Value) -> Result<Vec<String>, TokenIdError> {
        let items = input.as_array().cloned().unwrap_or_default();
        let nested = items.first().is_some_and(Value::is_array);
        let lists = token_lists(&items).expect("token ids");
        decode(&lists, nested)
    }

    #[test]
    fn decodes_cl100k_ids_to_text() {
        // `tiktoken.get_encoding("cl100k_base").encode("hello world")` is [15339, 1917].
        assert_eq!(run(json!([15339, 1917])).unwrap(), vec!["hello world"]);
        assert_eq!(
            run(json!([[15339, 1917], [15339]])).unwrap(),
            vec!["hello world", "hello"]
        );
        // A special token decodes to its text, as tiktoken's decode does.
        assert_eq!(run(json!([[100257]])).unwrap(), vec!["<|endoftext|>"]);
        // Round trip through the encoder for a text with non-ASCII characters.
        let text = "Grüße, 世界! Tokens → text.";
        let ids = cl100k_base().encode_ordinary(text);
        assert_eq!(run(json!([ids])).unwrap(), vec![text]);
    }

    #[test]
    fn a_cut_character_becomes_the_replacement_character() {
        let ids = cl100k_base().encode_ordinary("世");
        assert!(ids.len() > 1, "世 spans several byte-level tokens: {ids:?}");
        assert_eq!(
            run(json!([ids[..1]])).unwrap()[0].chars().last(),
            Some('\u{FFFD}')
        );
    }

    #[test]
    fn bad_ids_name_the_item() {
        for (input, at, needle) in [
            (json!([[15339, 100256]]), "input[0][1]", "100256"),
            (
                json!([[1], [2, 3, 4_294_967_296u64]]),
                "input[1][2]",
                "4294967296",
            ),
            (json!([15339, 200000]), "input[1]", "200000"),
            (json!([[1, -1]]), "input[0][1]", "-1"),
            (json!([[1, 2.5]]), "input[0][1]", "2.5"),
            (json!([[1, "x"]]), "input[0][1]", "\"x\""),
        ] {
            let e = run(input.clone()).unwrap_err().to_string();
            assert!(e.starts_with(at) && e.contains(needle), "{input}: {e}");
            assert!(e.contains("cl100k_base"), "{e}");
        }
    }

    #[test]
    fn text_is_not_token_ids() {
        assert!(token_lists(&[json!("a")]).is_none());
        assert!(token_lists(&[json!("a"), json!([1])]).is_none());
        assert!(token_lists(&[json!([])]).is_none());
        assert!(token_lists(&[]).is_none());
    }
}
