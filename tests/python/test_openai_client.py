"""The official openai client against ``bedrock-embed run --offline``."""

from __future__ import annotations

from array import array

import openai
import pytest


@pytest.fixture
def client(host_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{host_url}/v1", api_key="not-needed", max_retries=0, timeout=30)


def as_f32(values: list[float]) -> array:
    return array("f", values)


TEXTS = ["the cat sat on the mat", "a dog in the fog", "quarterly revenue grew"]


def test_base64_default_and_float_give_the_same_vectors(client: openai.OpenAI):
    # The client asks for base64 by default and decodes it.
    default = client.embeddings.create(model="titan", input=TEXTS)
    floats = client.embeddings.create(model="titan", input=TEXTS, encoding_format="float")
    assert [d.index for d in default.data] == [0, 1, 2]
    assert len(default.data) == len(floats.data) == 3
    for a, b in zip(default.data, floats.data):
        assert len(a.embedding) == 1024
        assert as_f32(a.embedding) == as_f32(b.embedding)
    assert default.model == "titan"
    # What the emulator counts (bedrock_emulator::token_count: ceil(len / 4) per word, one per
    # symbol): the 6 + 5 + 6 tokens of TEXTS, one Titan call each.
    assert default.usage.prompt_tokens == 17
    assert default.usage.total_tokens == default.usage.prompt_tokens
    assert floats.usage.prompt_tokens == default.usage.prompt_tokens


def test_dimensions_on_titan_v2(client: openai.OpenAI):
    resp = client.embeddings.create(model="titan", input="hello", dimensions=256)
    assert len(resp.data[0].embedding) == 256


def test_single_string_and_cohere(client: openai.OpenAI):
    resp = client.embeddings.create(model="cohere", input="one text", encoding_format="float", user="u-1")
    assert len(resp.data) == 1 and len(resp.data[0].embedding) == 1024


def test_bad_request_is_bad_request_error(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="titan", input=[[1, 2, 100300]])
    assert "input[0][2] is 100300" in str(info.value)
    assert info.value.code == "invalid_token_id"
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="titan-v1", input="x", dimensions=256)
    assert info.value.param == "dimensions"


def test_unknown_model_is_not_found(client: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert "titan" in str(info.value)


def test_models_list(client: openai.OpenAI):
    ids = sorted(m.id for m in client.models.list())
    assert ids == ["cohere", "titan", "titan-v1"]
