"""Real Bedrock clients nobody here wrote — langchain_aws and llama-index — against the emulator.

Each vector a client returns is compared with what boto3 gets from the emulator for the very
body the client sent (read back from the emulator's request log), so the test checks the
client's request and response handling end to end, and that input_type reaches the vector.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import EmulatorHandle, emulator_bin, start_listening_binary

TITAN_V2 = "amazon.titan-embed-text-v2:0"
COHERE_V3 = "cohere.embed-english-v3"
COHERE_V4 = "cohere.embed-v4:0"
NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"
# An application inference profile: its ARN does not name the model, the emulator is told.
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/clients0test"


@pytest.fixture(scope="module")
def emu():
    """An emulator of this module's own, with the application inference profile configured."""
    running = start_listening_binary(
        [emulator_bin(), "--listen", "127.0.0.1:0", "--application-inference-profile", f"{APP_PROFILE}={COHERE_V3}"]
    )
    handle = EmulatorHandle(running)
    yield handle
    code = running.stop()
    assert code == 0, f"emulator exited with {code}"


@pytest.fixture
def emulator_clean(emu: EmulatorHandle) -> EmulatorHandle:
    emu.reset()
    return emu


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / ((sum(x * x for x in a) ** 0.5) * (sum(y * y for y in b) ** 0.5))


def replay(emu: EmulatorHandle, record: dict) -> dict:
    """The emulator's answer to one logged request, sent again with plain boto3."""
    resp = emu.boto3_client().invoke_model(
        modelId=record["model_id"],
        body=json.dumps(record["body"]),
        contentType="application/json",
        accept="application/json",
    )
    return json.loads(resp["body"].read())


def logged(emu: EmulatorHandle) -> list[dict]:
    return [r for r in emu.requests() if r["status"] == 200]


def langchain(emu: EmulatorHandle, model_id: str, **kw):
    from langchain_aws import BedrockEmbeddings

    return BedrockEmbeddings(model_id=model_id, client=emu.boto3_client(), **kw)


def test_langchain_aws_titan_v2(emulator_clean: EmulatorHandle):
    emb = langchain(emulator_clean, TITAN_V2)
    docs = emb.embed_documents(["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue grew"])
    query = emb.embed_query("the cat sat on the mat")
    records = logged(emulator_clean)
    assert [r["body"] for r in records] == [
        {"inputText": "the cat sat on the mat"},
        {"inputText": "a cat sat on a mat"},
        {"inputText": "quarterly revenue grew"},
        {"inputText": "the cat sat on the mat"},
    ]
    assert docs[0] == replay(emulator_clean, records[0])["embedding"]
    assert query == docs[0]
    assert len(docs[0]) == 1024
    assert cosine(docs[0], docs[1]) > cosine(docs[0], docs[2]) + 0.3


@pytest.mark.parametrize("model_id", [COHERE_V3, COHERE_V4])
def test_langchain_aws_cohere_documents_and_queries_differ(emulator_clean: EmulatorHandle, model_id: str):
    emb = langchain(emulator_clean, model_id)
    text = "how do I reset my password"
    docs = emb.embed_documents([text, "the office is closed on friday"])
    query = emb.embed_query(text)
    records = logged(emulator_clean)
    assert [r["body"]["input_type"] for r in records] == ["search_document", "search_query"]
    want = replay(emulator_clean, records[0])["embeddings"]
    want = want["float"] if isinstance(want, dict) else want
    assert docs == want
    # input_type changes the vector, deterministically, and the two stay close.
    assert query != docs[0]
    assert query == emb.embed_query(text)
    assert cosine(query, docs[0]) > cosine(query, docs[1]) + 0.3


def test_langchain_aws_nova_without_schema_version(emulator_clean: EmulatorHandle):
    emb = langchain(emulator_clean, NOVA, dimensions=256)
    vec = emb.embed_query("nova through langchain")
    (record,) = logged(emulator_clean)
    assert "schemaVersion" not in record["body"]
    assert vec == replay(emulator_clean, record)["embeddings"][0]["embedding"]
    assert len(vec) == 256


def llama(emu: EmulatorHandle, model_name: str, **kw):
    from llama_index.embeddings.bedrock import BedrockEmbedding

    return BedrockEmbedding(model_name=model_name, client=emu.boto3_client(), **kw)


def test_llama_index_titan_and_cohere(emulator_clean: EmulatorHandle):
    titan = llama(emulator_clean, TITAN_V2, additional_kwargs={"dimensions": 512})
    vec = titan.get_text_embedding("llama index through the emulator")
    (record,) = logged(emulator_clean)
    assert record["body"] == {"inputText": "llama index through the emulator", "dimensions": 512}
    assert vec == replay(emulator_clean, record)["embedding"]

    emulator_clean.reset()
    cohere = llama(emulator_clean, COHERE_V3)
    texts = ["first document", "second document"]
    docs = cohere.get_text_embedding_batch(texts)
    query = cohere.get_query_embedding("first document")
    records = logged(emulator_clean)
    assert [r["body"]["input_type"] for r in records] == ["search_document", "search_query"]
    assert docs == replay(emulator_clean, records[0])["embeddings"]
    assert query != docs[0] and cosine(query, docs[0]) > 0.8


def test_llama_index_application_inference_profile(emulator_clean: EmulatorHandle):
    emb = llama(emulator_clean, COHERE_V3, application_inference_profile_arn=APP_PROFILE)
    vec = emb.get_query_embedding("through an application inference profile")
    (record,) = logged(emulator_clean)
    assert record["model_id"] == APP_PROFILE
    assert record["base_model"] == COHERE_V3
    # Same model behind the profile: the same vector as the model id gives.
    direct = llama(emulator_clean, COHERE_V3).get_query_embedding("through an application inference profile")
    assert vec == direct
    # A profile the emulator was not told about is an invalid identifier, as on Bedrock.
    unknown = APP_PROFILE.replace("clients0test", "nosuchprofile")
    with pytest.raises(ClientError) as info:
        emulator_clean.boto3_client().invoke_model(
            modelId=unknown, body=json.dumps({"texts": ["x"], "input_type": "search_query"})
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["Error"]["Message"] == "The provided model identifier is invalid."


def test_streaming_an_embedding_model_is_a_validation_error(emulator_clean: EmulatorHandle):
    client = emulator_clean.boto3_client()
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.invoke_model_with_response_stream(modelId=TITAN_V2, body=json.dumps({"inputText": "x"}))
    assert info.value.response["Error"]["Message"] == "The model is unsupported for streaming."
