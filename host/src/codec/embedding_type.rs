//! Embedding types (WIT 0.2 `embedding-type`): their wire names, the spicepod param and
//! request field that choose one, and the rule each type's values follow.

use super::bindings::EmbeddingType;

/// The model param (and the request field) that chooses the type: the codec validates it per
/// model; the host reads it to know what it serves from the cache.
pub const PARAM: &str = "embedding_type";

/// Every type, in the WIT's order.
pub const ALL: [EmbeddingType; 5] = [
    EmbeddingType::Float,
    EmbeddingType::Int8,
    EmbeddingType::Uint8,
    EmbeddingType::Binary,
    EmbeddingType::Ubinary,
];

/// The type named `name` (`float`, `int8`, `uint8`, `binary`, `ubinary`).
pub fn parse(name: &str) -> Option<EmbeddingType> {
    ALL.into_iter().find(|t| type_name(*t) == name)
}

/// The wire name of an embedding type (the request field's and the param's value).
pub fn type_name(t: EmbeddingType) -> &'static str {
    match t {
        EmbeddingType::Float => "float",
        EmbeddingType::Int8 => "int8",
        EmbeddingType::Uint8 => "uint8",
        EmbeddingType::Binary => "binary",
        EmbeddingType::Ubinary => "ubinary",
    }
}

/// Whether `x` is a value of type `t` (the WIT's `embedding-type` rules).
pub(super) fn fits(t: EmbeddingType, x: f32) -> bool {
    match t {
        EmbeddingType::Float => x.is_finite(),
        EmbeddingType::Int8 | EmbeddingType::Binary => {
            x.fract() == 0.0 && (-128.0..=127.0).contains(&x)
        }
        EmbeddingType::Uint8 | EmbeddingType::Ubinary => {
            x.fract() == 0.0 && (0.0..=255.0).contains(&x)
        }
    }
}

pub(super) fn type_rule(t: EmbeddingType) -> &'static str {
    match t {
        EmbeddingType::Float => "a finite float (no NaN, no infinity)",
        EmbeddingType::Int8 | EmbeddingType::Binary => "an integer from -128 to 127",
        EmbeddingType::Uint8 | EmbeddingType::Ubinary => "an integer from 0 to 255",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_must_fit_their_embedding_type() {
        use EmbeddingType as T;
        for (t, ok, bad) in [
            (
                T::Float,
                &[0.5, -1e30, 0.0][..],
                &[f32::NAN, f32::INFINITY][..],
            ),
            (
                T::Int8,
                &[-128.0, 0.0, 127.0],
                &[128.0, -129.0, 0.5, f32::NAN],
            ),
            (T::Binary, &[-128.0, 127.0], &[255.0, 1.5]),
            (T::Uint8, &[0.0, 255.0], &[-1.0, 256.0, 2.5]),
            (T::Ubinary, &[0.0, 255.0], &[-128.0, 256.0]),
        ] {
            for x in ok {
                assert!(fits(t, *x), "{} refused {x}", type_name(t));
            }
            for x in bad {
                assert!(!fits(t, *x), "{} took {x}", type_name(t));
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for t in ALL {
            assert_eq!(parse(type_name(t)), Some(t));
        }
        assert_eq!(parse("Float"), None);
    }
}
