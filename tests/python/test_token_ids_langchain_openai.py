"""Token-id input through real OpenAI clients against ``bedrock-embed run --offline``.

LangChain's ``OpenAIEmbeddings`` on default settings tokenizes with tiktoken and posts token
ids; the host decodes them with cl100k_base and embeds the text. tiktoken gets its cl100k_base
file from ``TIKTOKEN_CACHE_DIR``, written by the ``tiktoken-cache`` helper from the ranks the
host decodes with (tiktoken-rs), so nothing here touches the network.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import struct
import subprocess

import httpx
import openai
import pytest

from conftest import host_bin

HELLO_WORLD_IDS = [15339, 1917]  # cl100k_base ids of "hello world"


def tiktoken_cache_bin() -> str:
    """``tiktoken-cache`` beside the host binary (same cargo target dir), or $TIKTOKEN_CACHE_BIN."""
    return os.environ.get("TIKTOKEN_CACHE_BIN", str(pathlib.Path(host_bin()).with_name("tiktoken-cache")))


@pytest.fixture(scope="module")
def tiktoken_offline(tmp_path_factory):
    """Points tiktoken at a cache holding cl100k_base; fails (never skips) if it cannot."""
    helper = tiktoken_cache_bin()
    assert os.path.exists(helper), f"{helper} is missing: run `cargo build --workspace --bins`"
    cache = tmp_path_factory.mktemp("tiktoken")
    out = subprocess.run([helper, str(cache)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    saved = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base")
    # The cache file was accepted (a rejected one would have sent tiktoken to the network).
    assert pathlib.Path(out.stdout.strip()).exists()
    yield enc
    if saved is None:
        os.environ.pop("TIKTOKEN_CACHE_DIR", None)
    else:
        os.environ["TIKTOKEN_CACHE_DIR"] = saved


def f32(v: list[float]) -> list[float]:
    """The float32 values (JSON floats print the shortest decimal, base64 the exact value)."""
    return list(struct.unpack(f"<{len(v)}f", struct.pack(f"<{len(v)}f", *v)))


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.fixture
def client(host_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=host_url + "/v1", api_key="unused", max_retries=0, timeout=30)


def test_token_ids_give_the_vector_of_their_text(client: openai.OpenAI, tiktoken_offline):
    assert tiktoken_offline.encode("hello world") == HELLO_WORLD_IDS
    by_ids = client.embeddings.create(model="titan", input=[HELLO_WORLD_IDS])
    by_text = client.embeddings.create(model="titan", input="hello world")
    assert by_ids.data[0].embedding == by_text.data[0].embedding
    assert len(by_ids.data[0].embedding) == 1024
    # A flat list is one input too (asked as JSON floats this time: the same float32 values).
    flat = client.embeddings.create(model="titan", input=HELLO_WORLD_IDS, encoding_format="float")
    assert f32(flat.data[0].embedding) == by_text.data[0].embedding
    # Several lists: one vector each, in order.
    ids = [tiktoken_offline.encode(t) for t in ("first text", "second text")]
    many = client.embeddings.create(model="cohere", input=ids)
    texts = client.embeddings.create(model="cohere", input=["first text", "second text"])
    assert [d.embedding for d in many.data] == [d.embedding for d in texts.data]


def test_out_of_range_token_id_is_a_400_naming_the_index(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="titan", input=[HELLO_WORLD_IDS, [15339, 100300]])
    assert info.value.code == "invalid_token_id"
    assert "input[1][1] is 100300" in str(info.value)


def test_langchain_openai_embeddings_on_default_settings(host_url: str, client: openai.OpenAI, tiktoken_offline):
    from langchain_openai import OpenAIEmbeddings

    sent: list[dict] = []

    def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/embeddings"):
            sent.append(json.loads(request.read()))

    emb = OpenAIEmbeddings(
        model="titan",
        base_url=host_url + "/v1",
        api_key="unused",
        max_retries=0,
        http_client=httpx.Client(event_hooks={"request": [record]}),
    )
    docs = ["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue grew nine percent"]
    vectors = emb.embed_documents(docs)
    query = emb.embed_query("the cat sat on the mat")

    # LangChain really sent token ids (its default, check_embedding_ctx_length=True).
    assert sent, "no request reached /v1/embeddings"
    assert all(isinstance(i, list) and all(isinstance(t, int) for t in i) for i in sent[0]["input"])
    assert sent[0]["input"][0] == tiktoken_offline.encode(docs[0])

    # Each vector is the one the host gives for the text itself.
    by_text = client.embeddings.create(model="titan", input=docs, encoding_format="float")
    assert len(vectors) == 3
    for got, want in zip(vectors, by_text.data):
        # LangChain re-normalises the (single-chunk) vectors, so compare directions.
        assert cosine(got, want.embedding) > 0.9999
    assert cosine(query, vectors[0]) > 0.9999
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
