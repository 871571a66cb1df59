//! Deterministic embeddings that carry meaning.
//!
//! A text is turned into features — its lower-cased words, the character trigrams of each word
//! (with word-boundary marks), adjacent word pairs and a small constant bias — and every feature
//! is hashed (FNV-1a + SplitMix64, identical on every platform) onto four signed positions of a
//! vector of the requested dimension. Texts that share words share features, so their vectors
//! are closer than those of texts that share none; the same text always gives the same vector.
//! The model handlers return exactly [`embed`]`(text, dims, normalize)`, so a test can compute
//! the vector it expects without going through HTTP.

/// Positions each feature is spread over.
const SPREAD: u64 = 4;
const WORD_WEIGHT: f32 = 1.0;
const TRIGRAM_WEIGHT: f32 = 0.35;
const BIGRAM_WEIGHT: f32 = 0.5;
const BIAS_WEIGHT: f32 = 0.05;

/// The embedding of `text` with `dims` dimensions, L2-normalised when `normalize` is true.
///
/// `dims == 0` gives an empty vector. The vector is never all zeros (a constant bias feature).
pub fn embed(text: &str, dims: usize, normalize: bool) -> Vec<f32> {
    let mut v = vec![0f32; dims];
    if dims == 0 {
        return v;
    }
    for_each_feature(text, |feature, weight| add_feature(&mut v, feature, weight));
    if normalize {
        l2_normalize(&mut v);
    }
    v
}

/// L2-normalises in place (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
}

/// Cosine similarity of two vectors (0 when either is zero or lengths differ).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        (dot / (na.sqrt() * nb.sqrt())) as f32
    }
}

/// Lower-cased alphanumeric words of a text.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// A token count that grows with the text: about one token per four characters of each word,
/// at least one per word, plus one per punctuation or symbol character.
pub fn token_count(text: &str) -> u32 {
    let mut tokens: u64 = 0;
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        let n = w.chars().count() as u64;
        if n > 0 {
            tokens += n.div_ceil(4);
        }
    }
    tokens += text
        .chars()
        .filter(|c| !c.is_alphanumeric() && !c.is_whitespace())
        .count() as u64;
    u32::try_from(tokens).unwrap_or(u32::MAX)
}

/// Cuts `text` to at most `max_tokens` tokens (as counted by [`token_count`]), keeping the start
/// (`keep_start`) or the end. Returns the kept text and whether anything was cut.
pub fn truncate_to_tokens(text: &str, max_tokens: u32, keep_start: bool) -> (String, bool) {
    if token_count(text) <= max_tokens {
        return (text.to_string(), false);
    }
    // Split into pieces that each carry their tokens: words with the separators that follow.
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let alnum = c.is_alphanumeric();
        if alnum && !in_word && i > start {
            pieces.push(&text[start..i]);
            start = i;
        }
        in_word = alnum;
    }
    pieces.push(&text[start..]);
    let mut kept: Vec<&str> = Vec::new();
    let mut used = 0u32;
    let iter: Box<dyn Iterator<Item = &&str>> = if keep_start {
        Box::new(pieces.iter())
    } else {
        Box::new(pieces.iter().rev())
    };
    for p in iter {
        let t = token_count(p);
        if used.saturating_add(t) > max_tokens {
            break;
        }
        used += t;
        kept.push(p);
    }
    if !keep_start {
        kept.reverse();
    }
    (kept.concat(), true)
}

/// Titan v2 `binary`: one 0/1 per dimension, 1 where the float is positive.
pub fn titan_binary(v: &[f32]) -> Vec<u8> {
    v.iter().map(|x| u8::from(*x > 0.0)).collect()
}

/// Cohere `int8`: scaled so the largest magnitude maps to ±127.
pub fn cohere_int8(v: &[f32]) -> Vec<i8> {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    v.iter()
        .map(|x| {
            if max == 0.0 {
                0
            } else {
                (x / max * 127.0).round().clamp(-128.0, 127.0) as i8
            }
        })
        .collect()
}

/// Cohere `uint8`: `int8 + 128`.
pub fn cohere_uint8(v: &[f32]) -> Vec<u8> {
    cohere_int8(v)
        .into_iter()
        .map(|x| (i16::from(x) + 128) as u8)
        .collect()
}

/// Cohere `ubinary`: one bit per dimension (1 where positive), packed MSB-first into bytes.
pub fn cohere_ubinary(v: &[f32]) -> Vec<u8> {
    v.chunks(8)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u8, |b, (i, x)| if *x > 0.0 { b | (0x80 >> i) } else { b })
        })
        .collect()
}

/// Cohere `binary`: `ubinary - 128` as signed bytes.
pub fn cohere_binary(v: &[f32]) -> Vec<i8> {
    cohere_ubinary(v)
        .into_iter()
        .map(|b| (i16::from(b) - 128) as i8)
        .collect()
}

fn for_each_feature(text: &str, mut f: impl FnMut(&[u8], f32)) {
    f(b"\x00bias", BIAS_WEIGHT);
    let ws = words(text);
    let mut buf = Vec::with_capacity(64);
    for w in &ws {
        buf.clear();
        buf.extend_from_slice(b"w:");
        buf.extend_from_slice(w.as_bytes());
        f(&buf, WORD_WEIGHT);
        let chars: Vec<char> = std::iter::once('<')
            .chain(w.chars())
            .chain(std::iter::once('>'))
            .collect();
        for tri in chars.windows(3) {
            buf.clear();
            buf.extend_from_slice(b"c:");
            for c in tri {
                let mut tmp = [0u8; 4];
                buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
            f(&buf, TRIGRAM_WEIGHT);
        }
    }
    for pair in ws.windows(2) {
        buf.clear();
        buf.extend_from_slice(b"b:");
        buf.extend_from_slice(pair[0].as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(pair[1].as_bytes());
        f(&buf, BIGRAM_WEIGHT);
    }
    if ws.is_empty() {
        // No words (punctuation, symbols): fall back to the characters themselves.
        for c in text.chars().filter(|c| !c.is_whitespace()) {
            buf.clear();
            buf.extend_from_slice(b"s:");
            let mut tmp = [0u8; 4];
            buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            f(&buf, WORD_WEIGHT);
        }
    }
}

fn add_feature(v: &mut [f32], feature: &[u8], weight: f32) {
    let h = fnv1a64(feature);
    let dims = v.len() as u64;
    for k in 0..SPREAD {
        let x = splitmix64(h.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let idx = (x % dims) as usize;
        let sign = if x >> 63 == 1 { -1.0 } else { 1.0 };
        v[idx] += sign * weight;
    }
}

/// FNV-1a, 64 bit.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64 finaliser: a well-mixed 64-bit value from any 64-bit input.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_vector() {
        assert_eq!(
            embed("Hello world", 256, true),
            embed("Hello world", 256, true)
        );
        assert_eq!(embed("Hello world", 1024, false).len(), 1024);
        assert!(embed("", 0, true).is_empty());
    }

    #[test]
    fn normalised_has_unit_norm_and_never_zero() {
        for t in ["", "!!!", "a", "the quick brown fox"] {
            let v = embed(t, 512, true);
            let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((n - 1.0).abs() < 1e-4, "{t:?} norm {n}");
        }
    }

    #[test]
    fn shared_words_are_closer() {
        let a = embed("the cat sat on the mat", 1024, true);
        let b = embed("a cat sat on a mat", 1024, true);
        let c = embed("quarterly revenue grew by nine percent", 1024, true);
        assert!(cosine(&a, &b) > 0.5, "{}", cosine(&a, &b));
        assert!(cosine(&a, &b) > cosine(&a, &c) + 0.3);
        assert!(cosine(&a, &c).abs() < 0.3, "{}", cosine(&a, &c));
        // Case and punctuation do not matter much.
        assert!(
            cosine(
                &embed("Hello, World!", 256, true),
                &embed("hello world", 256, true)
            ) > 0.9
        );
    }

    #[test]
    fn tokens_grow_with_text() {
        assert_eq!(token_count(""), 0);
        let short = token_count("hello world");
        let long = token_count(&"hello world ".repeat(50));
        assert!(short >= 2 && long > short * 40);
    }

    #[test]
    fn truncation_keeps_the_requested_side() {
        let (kept, cut) = truncate_to_tokens("one two three four five", 2, true);
        assert!(cut);
        assert_eq!(kept.trim(), "one two");
        let (kept, cut) = truncate_to_tokens("one two three four five", 2, false);
        assert!(cut);
        assert_eq!(kept.trim(), "four five");
        assert_eq!(
            truncate_to_tokens("one", 5, true),
            ("one".to_string(), false)
        );
    }

    #[test]
    fn quantisations() {
        let v = [0.5f32, -1.0, 0.25, 0.0, 1.0, -0.1, 0.2, 0.3, 0.9];
        assert_eq!(cohere_int8(&v)[1], -127);
        assert_eq!(cohere_uint8(&v)[1], 1);
        assert_eq!(cohere_ubinary(&v), vec![0b1010_1011, 0b1000_0000]);
        assert_eq!(cohere_binary(&v)[0], (0b1010_1011i16 - 128) as i8);
        assert_eq!(titan_binary(&v), vec![1, 0, 1, 0, 1, 0, 1, 1, 1]);
    }
}
