"""A bedrock-embed codec in Python: Cohere Embed v4 on Amazon Bedrock (`cohere.embed-v4:0`).

An example third-party codec built with componentize-py (see build.sh). It claims the model
prefix `cohere.embed-v4`, which is longer than the built-in Cohere codec's `cohere.embed-`, so
with this file in the codecs directory it serves Embed v4 while the built-in codec keeps
serving the v3 models (the longest matching prefix wins).

Wire format (InvokeModel, up to 96 texts per call):
  request  {"texts": [...], "input_type": "search_document", "embedding_types": ["float"],
            "output_dimension": 256 | 512 | 1024 | 1536, "truncate": "NONE" | "LEFT" | "RIGHT"}
  response {"embeddings": {"float": [[...], ...]}, ...}   (by type; the documented list shape
            {"embeddings": [[...], ...]} is accepted too). Tokens come in a response header,
            which the host reads.

The host calls every function on a fresh instance, with no files, network or environment:
keep no state, do no I/O, and return errors as `Err(CodecError_...)` values.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    CodecError_BadResponse,
    CodecError_InvalidInput,
    CodecError_InvalidParam,
    CodecError_UnsupportedModel,
    CodecInfo,
    Embeddings,
    Invocation,
    Param,
    ParamSpec,
    RequestOptions,
)

NAME = "cohere-v4-py"
VERSION = "0.1.0"
PREFIXES = ["cohere.embed-v4"]
MODELS = ["cohere.embed-v4:0"]
BATCH = 96
DIMENSIONS = [256, 512, 1024, 1536]
DEFAULT_DIMENSIONS = 1536
INPUT_TYPES = ["search_document", "search_query", "classification", "clustering"]
TRUNCATE = ["NONE", "LEFT", "RIGHT"]


def _param(params: list[Param], name: str) -> str | None:
    for p in reversed(params):
        if p.name == name:
            return p.value.strip()
    return None


def _invalid(origin: str, name: str, value: str, model_id: str, allowed: list) -> Err:
    return Err(
        CodecError_InvalidParam(
            f'invalid value "{value}" for {origin} "{name}" of {model_id}: allowed values are '
            + ", ".join(str(a) for a in allowed)
        )
    )


def _served(model_id: str) -> None:
    if not any(model_id == m or model_id.startswith(m + ":") for m in MODELS):
        raise Err(
            CodecError_UnsupportedModel(
                f'the {NAME} codec does not know model "{model_id}"; it serves {", ".join(MODELS)}'
            )
        )


def _config(model_id: str, params: list[Param], options: RequestOptions) -> dict:
    def dimension(origin: str, value: str) -> int:
        if value.isdigit() and int(value) in DIMENSIONS:
            return int(value)
        raise _invalid(origin, "dimensions", value, model_id, DIMENSIONS)

    def choice(name: str, allowed: list[str], default: str | None, fold=str.lower) -> str | None:
        value = _param(params, name)
        if value is None:
            return default
        for a in allowed:
            if fold(a) == fold(value):
                return a
        raise _invalid("param", name, value, model_id, allowed)

    dims = DEFAULT_DIMENSIONS
    if (value := _param(params, "dimensions")) is not None:
        dims = dimension("param", value)
    if options.dimensions is not None:
        dims = dimension("request option", str(options.dimensions))
    return {
        "dimensions": dims,
        "input_type": choice("input_type", INPUT_TYPES, "search_document"),
        "truncate": choice("truncate", TRUNCATE, "NONE"),
    }


class Codec(exports.Codec):
    def info(self) -> CodecInfo:
        return CodecInfo(
            name=NAME,
            version=VERSION,
            model_prefixes=PREFIXES,
            params=[
                ParamSpec(
                    "dimensions",
                    "Size of the vectors (output_dimension). A request's `dimensions` overrides it.",
                    str(DEFAULT_DIMENSIONS),
                    [str(d) for d in DIMENSIONS],
                ),
                ParamSpec(
                    "input_type",
                    "What the texts are: search_document (default) for stored texts, "
                    "search_query for queries, classification or clustering.",
                    "search_document",
                    INPUT_TYPES,
                ),
                ParamSpec(
                    "truncate",
                    "What Bedrock does with a text that is too long: NONE (default) refuses it, "
                    "LEFT drops the start, RIGHT the end. Always sent: Bedrock's own default "
                    "differs between its doc versions.",
                    "NONE",
                    TRUNCATE,
                ),
            ],
        )

    def check(self, model_id: str, params: list[Param]) -> None:
        _served(model_id)
        _config(model_id, params, RequestOptions(dimensions=None))

    def encode(
        self, model_id: str, params: list[Param], options: RequestOptions, inputs: list[str]
    ) -> list[Invocation]:
        _served(model_id)
        config = _config(model_id, params, options)
        if not inputs:
            raise Err(CodecError_InvalidInput(f"no input: {model_id} needs at least one text"))
        for i, text in enumerate(inputs):
            if not text:
                raise Err(
                    CodecError_InvalidInput(
                        f"input {i} is an empty string: {model_id} needs non-empty text"
                    )
                )
        calls = []
        for start in range(0, len(inputs), BATCH):
            texts = inputs[start : start + BATCH]
            body = {
                "texts": texts,
                "input_type": config["input_type"],
                "embedding_types": ["float"],
                "output_dimension": config["dimensions"],
                "truncate": config["truncate"],
            }
            calls.append(Invocation(body=json.dumps(body).encode(), input_count=len(texts)))
        return calls

    def decode(
        self,
        model_id: str,
        params: list[Param],
        options: RequestOptions,
        body: bytes,
        input_count: int,
    ) -> Embeddings:
        config = _config(model_id, params, options)
        try:
            reply = json.loads(body)
            embeddings = reply["embeddings"]
            vectors = embeddings["float"] if isinstance(embeddings, dict) else embeddings
            vectors = [[float(x) for x in v] for v in vectors]
        except (ValueError, KeyError, TypeError) as e:
            start = body[:200].decode("utf-8", "replace")
            raise Err(
                CodecError_BadResponse(
                    f"cannot read the {model_id} response: {e!r}; body starts: {start}"
                )
            )
        if len(vectors) != input_count:
            raise Err(
                CodecError_BadResponse(
                    f"{model_id} returned {len(vectors)} vectors for {input_count} inputs"
                )
            )
        for i, v in enumerate(vectors):
            if len(v) != config["dimensions"]:
                raise Err(
                    CodecError_BadResponse(
                        f"{model_id} returned a vector of {len(v)} dimensions at position {i}; "
                        f"{config['dimensions']} were asked for"
                    )
                )
        return Embeddings(vectors=vectors, input_tokens=None)
