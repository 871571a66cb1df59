//! How many input tokens a call may use, known before it is sent: what the token budget
//! ([`super::tokens`]) reserves.
//!
//! The estimate is the texts' UTF-8 length in bytes plus [`PER_TEXT`] for each text: an upper
//! bound for every tokenizer Bedrock's embedding models use. They are byte-level BPE or
//! SentencePiece with byte fallback, where a token covers at least one byte, plus a start and
//! an end token. Against the emulator (about a token per four letters of a word, one per
//! symbol) it is about 3× over for English prose; AWS documents Titan Text Embeddings V2's
//! input limit as 8,192 tokens or 50,000 characters, about six characters a token. The
//! reservation is settled to Bedrock's own count as soon as the call answers, so the
//! over-estimate holds budget only while a call is in flight.
//!
//! A tighter, per-model estimate belongs to the codec, which knows the model; it needs a new
//! WIT function, so a new WIT version (0.1.0 is frozen). Until then, the host bounds it.

/// Start and end tokens a model may add to each text.
pub const PER_TEXT: u64 = 2;

/// The most input tokens a call with these texts can be billed for.
pub fn input_tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    texts.into_iter().map(|t| t.len() as u64 + PER_TEXT).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_plus_two_per_text() {
        assert_eq!(input_tokens(["hello world"]), 13);
        assert_eq!(input_tokens(["", "é"]), 2 + 4);
        assert_eq!(input_tokens(std::iter::empty()), 0);
    }

    #[test]
    fn never_below_the_emulators_count() {
        // The emulator is an independent tokenizer model (its own crate); the estimate must
        // bound it for prose, code, CJK, emoji and punctuation runs alike.
        for text in [
            "The quick brown fox jumps over the lazy dog.",
            "fn main() { println!(\"{}\", 1 + 2); }",
            "東京は日本の首都です。",
            "🙂🙂🙂 !!! ??? ...",
            "a",
            "supercalifragilisticexpialidocious",
        ] {
            let emulator = u64::from(bedrock_emulator::token_count(text));
            assert!(input_tokens([text]) >= emulator, "{text:?}: {emulator}");
        }
    }
}
