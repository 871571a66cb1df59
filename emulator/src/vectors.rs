//! Deterministic embeddings that carry meaning, shaped like Bedrock's.
//!
//! A text is turned into features — its lower-cased words, the character trigrams of each word
//! (with word-boundary marks), adjacent word pairs and a small constant bias — and every feature
//! is hashed (FNV-1a + SplitMix64, identical on every platform) onto [`SPREAD`] signed buckets
//! of a [`BUCKETS`]-wide sparse vector. That vector is then projected onto the requested
//! dimension by a fixed pseudo-random Gaussian matrix (entry `(bucket, dim)` is a hash of both,
//! so a shorter vector is a prefix of a longer one before normalisation, as with Titan v2's
//! and Nova's nested dimensions). A random projection keeps inner products (Johnson–
//! Lindenstrauss), so texts that share words stay closer than texts that share none, and every
//! value is non-zero — dense, like a real embedding, and as costly to parse.
//!
//! A *purpose* (Cohere's `input_type`, Nova's `embeddingPurpose`) adds one feature whose weight
//! is a fixed share of the text's own, so `search_query` and `search_document` vectors of one
//! text differ (cosine ≈ 0.92) while staying far closer to each other than to other texts.
//!
//! Values are rounded to 11 significant bits, the precision of the values Bedrock returns:
//! real responses print floats such as `-0.015563965`, `0.0017204285` or `0.04119873`, each
//! the shortest decimal of an f32 whose mantissa has 10 explicit bits (Cohere v3 output quoted
//! in aws-samples/bedrock-access-gateway#3; Titan v2 output in the AWS samples). The model
//! handlers print them as that shortest round-trip f32 decimal ([`shortest_f32`]).
//!
//! The model handlers return exactly [`embed`]`(text, dims, normalize)` (or [`embed_as`] with the
//! request's purpose), so a test can compute the vector it expects without going through HTTP.

/// Signed buckets each feature is spread over.
pub const SPREAD: u64 = 4;
/// Width of the sparse feature vector that is projected onto the output dimension.
pub const BUCKETS: usize = 1024;
const WORD_WEIGHT: f32 = 1.0;
const TRIGRAM_WEIGHT: f32 = 0.35;
const BIGRAM_WEIGHT: f32 = 0.5;
const BIAS_WEIGHT: f32 = 0.05;
/// Norm of the purpose feature relative to the norm of the text's features: two purposes of
/// one text then have cosine ≈ 1 / (1 + share²) ≈ 0.92.
const PURPOSE_SHARE: f32 = 0.3;
/// Explicit mantissa bits kept (f16's 10; f32 has 23).
const KEPT_MANTISSA_BITS: u32 = 10;

/// The embedding of `text` with `dims` dimensions, L2-normalised when `normalize` is true.
///
/// `dims == 0` gives an empty vector. The vector is never all zeros (a constant bias feature).
pub fn embed(text: &str, dims: usize, normalize: bool) -> Vec<f32> {
    embed_as(text, dims, normalize, None)
}

/// [`embed`] for a purpose (`input_type` / `embeddingPurpose`); `None` is [`embed`].
pub fn embed_as(text: &str, dims: usize, normalize: bool, purpose: Option<&str>) -> Vec<f32> {
    if dims == 0 {
        return Vec::new();
    }
    let mut buckets = vec![0f32; BUCKETS];
    for_each_feature(text, |feature, weight| {
        add_feature(&mut buckets, feature, weight)
    });
    if let Some(purpose) = purpose {
        let norm = buckets.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mut feature = b"p:".to_vec();
        feature.extend_from_slice(purpose.as_bytes());
        // The feature lands on SPREAD buckets: its norm is weight * sqrt(SPREAD).
        let weight = PURPOSE_SHARE * norm / (SPREAD as f32).sqrt();
        add_feature(&mut buckets, &feature, weight);
    }
    let mut v = project(&buckets, dims);
    if normalize {
        l2_normalize(&mut v);
    }
    round_to_bedrock_precision(&mut v);
    v
}

/// Rounds every value to the precision Bedrock's values have (see the module docs); for
/// vectors combined from several [`embed`] results (an image with its caption).
pub fn round_to_bedrock_precision(v: &mut [f32]) {
    for x in v {
        *x = round_mantissa(*x);
    }
}

/// `sparse` (one weight per bucket) times the fixed Gaussian matrix, scaled by `1/sqrt(dims)`
/// so the norm of the result is about the norm of `sparse`.
fn project(sparse: &[f32], dims: usize) -> Vec<f32> {
    let mut v = vec![0f32; dims];
    let scale = 1.0 / (dims as f32).sqrt();
    for (b, w) in sparse.iter().enumerate().filter(|(_, w)| **w != 0.0) {
        if dims <= MATRIX_DIMS {
            for (x, g) in v.iter_mut().zip(&matrix_row(b)[..dims]) {
                *x += w * scale * g;
            }
        } else {
            let row = row_seed(b);
            for (d, x) in v.iter_mut().enumerate() {
                *x += w * scale * gaussian(splitmix64(row ^ d as u64));
            }
        }
    }
    v
}

/// Columns of the projection matrix kept per row: the widest vector a model answers with
/// (Nova's 3072). A row is a pure function of its bucket, computed the first time a text uses
/// it: hashing every entry on every request made the emulator, not the host, the bottleneck
/// of the benchmarks (~1.9 ms of CPU per Titan text).
const MATRIX_DIMS: usize = 3072;

fn matrix_row(bucket: usize) -> &'static [f32] {
    static ROWS: [std::sync::OnceLock<Box<[f32]>>; BUCKETS] =
        [const { std::sync::OnceLock::new() }; BUCKETS];
    ROWS[bucket].get_or_init(|| {
        let row = row_seed(bucket);
        (0..MATRIX_DIMS)
            .map(|d| gaussian(splitmix64(row ^ d as u64)))
            .collect()
    })
}

fn row_seed(bucket: usize) -> u64 {
    splitmix64(0x5EED_0000_0000_0000 ^ bucket as u64)
}

/// An approximately standard-normal value from 64 random bits (Irwin–Hall of four uniforms).
fn gaussian(bits: u64) -> f32 {
    let sum: u32 = (0..4).map(|i| ((bits >> (16 * i)) & 0xffff) as u32).sum();
    // Four U(0,1) sum to mean 2, variance 1/3.
    ((sum as f32 / 65_535.0) - 2.0) * 3f32.sqrt()
}

/// Rounds to [`KEPT_MANTISSA_BITS`] explicit mantissa bits (to nearest, ties away from zero).
fn round_mantissa(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    let drop = 23 - KEPT_MANTISSA_BITS;
    let bits = x.to_bits();
    let rounded = (bits + (1 << (drop - 1))) & !((1 << drop) - 1);
    f32::from_bits(rounded)
}

/// The shortest decimal that reads back as `x` (as an f32), as an f64 with that exact decimal,
/// so serde_json prints it the way Bedrock does (`-0.015563965`, not `-0.01556396484375`).
pub fn shortest_f32(x: f32) -> f64 {
    // Rust's `Display` for f32 is the shortest round-trip decimal; the f64 nearest to a decimal
    // of at most 9 significant digits prints back as those digits.
    format!("{x}").parse().unwrap_or(f64::from(x))
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
    debug_assert!(dims > 0);
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

    /// The cached matrix rows give bit for bit the vectors of hashing every entry.
    #[test]
    fn cached_rows_project_as_hashing_every_entry() {
        let mut sparse = vec![0f32; BUCKETS];
        for_each_feature("the quick brown fox, 42 times", |f, w| {
            add_feature(&mut sparse, f, w)
        });
        for dims in [256, 1024, 1536, 3072] {
            let scale = 1.0 / (dims as f32).sqrt();
            let mut direct = vec![0f32; dims];
            for (b, w) in sparse.iter().enumerate().filter(|(_, w)| **w != 0.0) {
                for (d, x) in direct.iter_mut().enumerate() {
                    *x += w * scale * gaussian(splitmix64(row_seed(b) ^ d as u64));
                }
            }
            assert_eq!(project(&sparse, dims), direct, "{dims} dimensions");
        }
    }

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
            // Each value is rounded to 11 significant bits (relative error <= 2^-11).
            assert!((n - 1.0).abs() < 1e-3, "{t:?} norm {n}");
        }
    }

    #[test]
    fn vectors_are_dense() {
        for (t, dims) in [("hello", 256), ("the quick brown fox", 1024), ("x", 3072)] {
            let v = embed(t, dims, true);
            let zeros = v.iter().filter(|x| **x == 0.0).count();
            // A Gaussian value rounds to exactly 0 with negligible probability.
            assert!(
                zeros <= dims / 100,
                "{t:?}: {zeros} of {dims} values are zero"
            );
        }
    }

    #[test]
    fn values_have_bedrock_precision_and_print_shortest() {
        let v = embed("precision of the printed values", 1024, true);
        for x in &v {
            assert_eq!(
                x.to_bits() & 0x1fff,
                0,
                "{x} keeps more than 10 mantissa bits"
            );
        }
        // -0.015563965 is a value a real Titan v2 response prints; it has 10 mantissa bits.
        let real = -0.015563965f32;
        assert_eq!(round_mantissa(real), real);
        assert_eq!(
            serde_json::json!(shortest_f32(real)).to_string(),
            "-0.015563965"
        );
        assert_eq!(serde_json::json!(shortest_f32(0.1)).to_string(), "0.1");
        for x in &v {
            assert_eq!(shortest_f32(*x) as f32, *x, "round trip of {x}");
        }
    }

    #[test]
    fn purpose_changes_the_vector_deterministically() {
        let text = "how do I reset my password";
        let q = embed_as(text, 1024, true, Some("search_query"));
        let d = embed_as(text, 1024, true, Some("search_document"));
        assert_eq!(q, embed_as(text, 1024, true, Some("search_query")));
        assert_ne!(q, d);
        let other = embed_as("quarterly revenue grew", 1024, true, Some("search_query"));
        let c = cosine(&q, &d);
        assert!(c > 0.8 && c < 0.99, "query vs document of one text: {c}");
        assert!(cosine(&q, &other) < c - 0.5);
        assert_eq!(embed_as(text, 256, true, None), embed(text, 256, true));
    }

    #[test]
    fn shorter_dimensions_are_a_prefix_before_normalisation() {
        let long = embed("nested dimensions", 1024, false);
        let short = embed("nested dimensions", 256, false);
        // Same direction on the shared prefix (scaled by sqrt(1024/256) = 2).
        assert!(cosine(&long[..256], &short) > 0.999);
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
