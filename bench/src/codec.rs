//! The codec sandbox tax: encode + decode through the wasm component, exactly as the host calls
//! it (`Codec::encode` / `Codec::decode`: an instance from the codec's warm pool, the contract
//! checks), against the same codec core (`wire::encode` / `wire::decode`) compiled natively.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use bedrock_embed::codec::builtin::BUILTIN;
use bedrock_embed::codec::{
    Codec, CodecSource, Param, RequestOptions, Sandbox, SandboxLimits, spans,
};
use bedrock_emulator::ModelKind;
use criterion::Criterion;

/// One comparison: a model, its params, the texts of one request and the response body the
/// emulator gives for them.
pub struct Case {
    /// Criterion group name (also the directory of its results).
    pub group: &'static str,
    pub label: &'static str,
    pub wasm_file: &'static str,
    pub model_id: &'static str,
    pub params: Vec<(&'static str, &'static str)>,
    pub inputs: Vec<String>,
    /// The response to the first invocation, as the emulator serialises it.
    pub response: Vec<u8>,
    pub input_count: u32,
}

/// Titan v2 1024-d, one text; Cohere v3, 96 texts (a 96 × 1024 response, ~1 MB of JSON).
pub fn cases() -> anyhow::Result<Vec<Case>> {
    let titan_inputs = vec![crate::text(1, 60)];
    let cohere_inputs: Vec<String> = (0..96).map(|i| crate::text(i, 40)).collect();
    Ok(vec![
        case(
            "codec-titan-v2-1024",
            "Titan v2 1024-d, 1 text",
            "titan_codec.wasm",
            "amazon.titan-embed-text-v2:0",
            vec![("dimensions", "1024"), ("normalize", "true")],
            titan_inputs,
            ModelKind::TitanTextV2,
        )?,
        case(
            "codec-cohere-v3-96",
            "Cohere v3, 96 texts × 1024-d",
            "cohere_codec.wasm",
            "cohere.embed-english-v3",
            vec![("input_type", "search_document"), ("truncate", "END")],
            cohere_inputs,
            ModelKind::CohereEnglishV3,
        )?,
    ])
}

fn case(
    group: &'static str,
    label: &'static str,
    wasm_file: &'static str,
    model_id: &'static str,
    params: Vec<(&'static str, &'static str)>,
    inputs: Vec<String>,
    kind: ModelKind,
) -> anyhow::Result<Case> {
    let native = native_params(&params);
    let invocations = match kind {
        ModelKind::TitanTextV2 => {
            titan_codec::wire::encode(model_id, &native, Default::default(), &inputs)
        }
        _ => cohere_codec::wire::encode(model_id, &native, Default::default(), &inputs),
    }
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let first = &invocations[0];
    let output = bedrock_emulator::models::invoke(kind, &first.body, "bench-request")
        .map_err(|e| anyhow::anyhow!("the emulator refused the bench body: {e:?}"))?;
    let response = serde_json::to_vec(&output.body)?;
    Ok(Case {
        group,
        label,
        wasm_file,
        model_id,
        params,
        inputs,
        response,
        input_count: first.input_count,
    })
}

fn native_params(params: &[(&str, &str)]) -> Vec<codec_kit::Param> {
    params
        .iter()
        .map(|(n, v)| codec_kit::Param::new(*n, *v))
        .collect()
}

fn host_params(params: &[(&str, &str)]) -> Vec<Param> {
    params
        .iter()
        .map(|(n, v)| Param {
            name: (*n).to_string(),
            value: (*v).to_string(),
        })
        .collect()
}

/// The built-in codec `file` loaded as the host loads it.
pub fn load_builtin(sandbox: &Sandbox, file: &str) -> anyhow::Result<Codec> {
    let (_, bytes) = BUILTIN
        .iter()
        .find(|(name, _)| *name == file)
        .with_context(|| format!("no built-in codec {file}"))?;
    Codec::load(sandbox, bytes, CodecSource::BuiltIn)
}

/// Registers the wasm and native benchmarks of every case.
pub fn bench(c: &mut Criterion) {
    let sandbox = Sandbox::new(SandboxLimits::default()).expect("codec sandbox");
    for case in cases().expect("bench fixtures") {
        let codec = load_builtin(&sandbox, case.wasm_file).expect("built-in codec");
        let params = host_params(&case.params);
        let native = native_params(&case.params);
        let options = RequestOptions {
            dimensions: None,
            embedding_type: None,
        };
        let is_titan = case.wasm_file.starts_with("titan");

        // The two sides must agree before their speed is compared.
        let wasm_vectors = codec
            .decode(
                case.model_id,
                &params,
                options,
                &case.response,
                case.input_count,
            )
            .expect("wasm decode")
            .vectors;
        let native_vectors = native_decode(is_titan, &case, &native);
        assert_eq!(
            wasm_vectors, native_vectors,
            "{}: wasm and native disagree",
            case.group
        );

        let mut group = c.benchmark_group(case.group);
        group.bench_function("wasm", |b| {
            b.iter(|| {
                let invocations = codec
                    .encode(case.model_id, &params, options, black_box(&case.inputs))
                    .expect("encode");
                black_box(invocations);
                let embeddings = codec
                    .decode(
                        case.model_id,
                        &params,
                        options,
                        black_box(&case.response),
                        case.input_count,
                    )
                    .expect("decode");
                black_box(embeddings)
            })
        });
        group.bench_function("native", |b| {
            b.iter(|| {
                let invocations = if is_titan {
                    titan_codec::wire::encode(
                        case.model_id,
                        &native,
                        Default::default(),
                        black_box(&case.inputs),
                    )
                } else {
                    cohere_codec::wire::encode(
                        case.model_id,
                        &native,
                        Default::default(),
                        black_box(&case.inputs),
                    )
                }
                .expect("encode");
                black_box(invocations);
                black_box(native_decode(is_titan, &case, &native))
            })
        });
        group.finish();
    }
}

/// The same work as the host's `Codec::decode`, natively: the codec core finds the vectors,
/// and spans are read by the host's own span parser.
fn native_decode(is_titan: bool, case: &Case, native: &[codec_kit::Param]) -> Vec<Vec<f32>> {
    let embeddings = if is_titan {
        titan_codec::wire::decode(
            case.model_id,
            native,
            Default::default(),
            black_box(&case.response),
            case.input_count,
        )
    } else {
        cohere_codec::wire::decode(
            case.model_id,
            native,
            Default::default(),
            black_box(&case.response),
            case.input_count,
        )
    }
    .expect("native decode");
    match embeddings.vectors {
        codec_kit::Vectors::Values(values) => values,
        codec_kit::Vectors::Spans(spans) => spans
            .iter()
            .map(|s| {
                let span = bedrock_embed::codec::Span {
                    start: s.start,
                    len: s.len,
                };
                let mut v = Vec::new();
                spans::slice(&case.response, span)
                    .and_then(|bytes| spans::parse_array(bytes, &mut v))
                    .expect("a span of numbers");
                v
            })
            .collect(),
    }
}

/// Criterion as `just bench` runs it: shorter than criterion's defaults (the whole bench must
/// stay under ~10 minutes), results under `dir`.
pub fn criterion(dir: &Path, quick: bool) -> Criterion {
    let (warm, measure, samples) = if quick {
        (Duration::from_millis(500), Duration::from_secs(2), 20)
    } else {
        (Duration::from_secs(2), Duration::from_secs(6), 60)
    };
    Criterion::default()
        .output_directory(dir)
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples)
        .without_plots()
}

/// The median time per iteration of `group/function`, from criterion's estimates under `dir`.
pub fn median(dir: &Path, group: &str, function: &str) -> anyhow::Result<Duration> {
    let path = dir.join(group).join(function).join("new/estimates.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let ns = v["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no median in {}", path.display()))?;
    Ok(Duration::from_nanos(ns as u64))
}
