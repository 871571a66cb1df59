"""The emulator driven by boto3: its SigV4 signing accepted, tampering rejected, ids routed."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

TITAN_V2 = "amazon.titan-embed-text-v2:0"


def invoke(client, model_id: str, body: dict) -> tuple[dict, dict]:
    resp = client.invoke_model(
        modelId=model_id, body=json.dumps(body), contentType="application/json", accept="application/json"
    )
    return json.loads(resp["body"].read()), resp["ResponseMetadata"]["HTTPHeaders"]


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    return dot / (na * nb)


def test_titan_v2_and_headers(emulator):
    client = emulator.boto3_client()
    body, headers = invoke(client, TITAN_V2, {"inputText": "hello from boto3", "dimensions": 256})
    assert len(body["embedding"]) == 256
    assert body["embeddingsByType"]["float"] == body["embedding"]
    assert int(headers["x-amzn-bedrock-input-token-count"]) == body["inputTextTokenCount"] > 0
    assert len(headers["x-amzn-requestid"]) == 36
    assert "x-amzn-bedrock-invocation-latency" in headers
    again, _ = invoke(client, TITAN_V2, {"inputText": "hello from boto3", "dimensions": 256})
    assert again["embedding"] == body["embedding"]


@pytest.mark.parametrize(
    "model_id,body,check",
    [
        ("amazon.titan-embed-text-v1", {"inputText": "v1"}, lambda b: len(b["embedding"]) == 1536),
        (
            "amazon.titan-embed-image-v1",
            {"inputText": "a photo", "embeddingConfig": {"outputEmbeddingLength": 256}},
            lambda b: len(b["embedding"]) == 256,
        ),
        (
            "cohere.embed-english-v3",
            {"texts": ["a", "b"], "input_type": "search_document", "truncate": "END"},
            lambda b: b["response_type"] == "embeddings_floats" and len(b["embeddings"]) == 2,
        ),
        (
            "cohere.embed-multilingual-v3",
            {"texts": ["hola"], "input_type": "search_query", "truncate": "NONE", "embedding_types": ["int8"]},
            lambda b: b["response_type"] == "embeddings_by_type" and len(b["embeddings"]["int8"][0]) == 1024,
        ),
        (
            "global.cohere.embed-v4:0",
            {"texts": ["v4"], "input_type": "search_query", "output_dimension": 1024},
            lambda b: len(b["embeddings"]["float"][0]) == 1024,
        ),
        (
            "amazon.nova-2-multimodal-embeddings-v1:0",
            {
                "schemaVersion": "nova-multimodal-embed-v1",
                "taskType": "SINGLE_EMBEDDING",
                "singleEmbeddingParams": {
                    "embeddingPurpose": "GENERIC_INDEX",
                    "embeddingDimension": 384,
                    "text": {"truncationMode": "END", "value": "nova"},
                },
            },
            lambda b: b["embeddings"][0]["embeddingType"] == "TEXT" and len(b["embeddings"][0]["embedding"]) == 384,
        ),
    ],
)
def test_every_model(emulator, model_id, body, check):
    out, _ = invoke(emulator.boto3_client(), model_id, body)
    assert check(out), out


def test_arn_and_colon_ids_are_routed(emulator):
    client = emulator.boto3_client()
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.titan-embed-text-v2:0"
    a, _ = invoke(client, arn, {"inputText": "routing"})
    b, _ = invoke(client, TITAN_V2, {"inputText": "routing"})
    assert a["embedding"] == b["embedding"]
    seen = emulator.requests()
    assert [r["model_id"] for r in seen] == [arn, TITAN_V2]
    assert all(r["base_model"] == TITAN_V2 and r["status"] == 200 for r in seen)
    assert seen[0]["auth"] == "sigv4"
    assert seen[0]["body"] == {"inputText": "routing"}


def test_similar_texts_are_closer(emulator):
    client = emulator.boto3_client()
    vec = lambda t: invoke(client, TITAN_V2, {"inputText": t})[0]["embedding"]  # noqa: E731
    a, b, c = vec("the cat sat on the mat"), vec("a cat sat on a mat"), vec("quarterly revenue grew")
    assert cosine(a, b) > cosine(a, c) + 0.3


def test_tampered_signature_is_rejected(emulator):
    client = emulator.boto3_client()

    def tamper(request, **_):
        auth = request.headers["Authorization"]
        if isinstance(auth, bytes):
            auth = auth.decode()
        last = auth[-1]
        request.headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")

    client.meta.events.register("before-send.bedrock-runtime.InvokeModel", tamper)
    with pytest.raises(ClientError) as e:
        invoke(client, TITAN_V2, {"inputText": "x"})
    assert error_code(e.value) == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_auth_errors(emulator):
    with pytest.raises(ClientError) as e:
        invoke(emulator.boto3_client(aws_access_key_id="AKIDUNKNOWN"), TITAN_V2, {"inputText": "x"})
    assert error_code(e.value) == "UnrecognizedClientException"
    with pytest.raises(ClientError) as e:
        invoke(emulator.boto3_client(aws_secret_access_key="wrong"), TITAN_V2, {"inputText": "x"})
    assert error_code(e.value) == "InvalidSignatureException"
    with pytest.raises(ClientError) as e:
        invoke(emulator.boto3_client(aws_session_token=emulator.expired_session_token), TITAN_V2, {"inputText": "x"})
    assert error_code(e.value) == "ExpiredTokenException"
    assert emulator.stats()["rejected"] == 3


def test_typed_service_errors(emulator):
    client = emulator.boto3_client()
    with pytest.raises(client.exceptions.ValidationException) as e:
        invoke(client, TITAN_V2, {"inputText": "x", "dimensions": 100})
    assert "#/dimensions" in str(e.value)
    # Bedrock answers an unknown model id with 400 ValidationException, not 404.
    with pytest.raises(client.exceptions.ValidationException) as e:
        invoke(client, "cohere.embed-v4", {})
    assert "The provided model identifier is invalid." in str(e.value)
    emulator.set_faults(models={TITAN_V2: {"always": "ThrottlingException"}})
    with pytest.raises(client.exceptions.ThrottlingException):
        invoke(client, TITAN_V2, {"inputText": "x"})
    emulator.set_faults(models={TITAN_V2: {"always": "ServiceUnavailableException"}})
    with pytest.raises(client.exceptions.ServiceUnavailableException):
        invoke(client, TITAN_V2, {"inputText": "x"})
    emulator.set_faults(models={TITAN_V2: {"always": "AccessDeniedException"}})
    with pytest.raises(client.exceptions.AccessDeniedException):
        invoke(client, TITAN_V2, {"inputText": "x"})


def test_throttle_rate_and_stats(emulator):
    emulator.set_faults(default={"throttle_rate": 0.2})
    client = emulator.boto3_client()
    throttled = 0
    for i in range(50):
        try:
            invoke(client, TITAN_V2, {"inputText": f"call {i}"})
        except client.exceptions.ThrottlingException:
            throttled += 1
    stats = emulator.stats()
    assert 3 <= throttled <= 20
    assert stats["attempted"] == 50
    assert stats["errors"]["ThrottlingException"] == throttled
    assert stats["models"][TITAN_V2]["accepted"] == 50 - throttled
    assert sum(b["attempted"] for b in stats["per_second"]) == 50
    assert len(stats["recent_calls"]) == 50


def test_bedrock_api_key(emulator):
    """Bedrock API keys travel as `Authorization: Bearer`. botocore sends them only over HTTPS
    (AWS_BEARER_TOKEN_BEDROCK), so the plain-HTTP emulator is called directly here."""
    import urllib.error
    import urllib.request

    def call(key: str) -> int:
        req = urllib.request.Request(
            f"{emulator.url}/model/{TITAN_V2.replace(':', '%3A')}/invoke",
            data=json.dumps({"inputText": "bearer"}).encode(),
            method="POST",
            headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert len(json.loads(resp.read())["embedding"]) == 1024
                return resp.status
        except urllib.error.HTTPError as e:
            assert e.headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException:")
            return e.code

    assert call(emulator.api_key) == 200
    assert call("not-the-key") == 403
    assert emulator.requests()[0]["auth"] == "bearer"


def test_tampered_signed_header_is_rejected(emulator):
    """botocore signs Accept; changing it after signing must break the signature."""
    client = emulator.boto3_client()
    signed: list[str] = []

    def tamper(request, **_):
        auth = request.headers["Authorization"]
        signed.append(auth.decode() if isinstance(auth, bytes) else auth)
        del request.headers["Accept"]
        request.headers["Accept"] = "*/*"

    client.meta.events.register("before-send.bedrock-runtime.InvokeModel", tamper)
    with pytest.raises(ClientError) as e:
        invoke(client, TITAN_V2, {"inputText": "x"})
    assert "accept" in signed[0].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert error_code(e.value) == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "signature we calculated does not match" in e.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def us_east_1_emulator():
    """An emulator that requires the credential scope's region to be us-east-1."""
    from conftest import EmulatorHandle, emulator_bin, start_listening_binary

    running = start_listening_binary([emulator_bin(), "--listen", "127.0.0.1:0", "--region", "us-east-1"])
    yield EmulatorHandle(running)
    assert running.stop() == 0


def test_signature_for_another_region_is_rejected(us_east_1_emulator):
    ok, _ = invoke(us_east_1_emulator.boto3_client(region_name="us-east-1"), TITAN_V2, {"inputText": "x"})
    assert len(ok["embedding"]) == 1024
    with pytest.raises(ClientError) as e:
        invoke(us_east_1_emulator.boto3_client(region_name="eu-west-1"), TITAN_V2, {"inputText": "x"})
    assert error_code(e.value) == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "scoped to a valid region, not 'eu-west-1'" in e.value.response["Error"]["Message"]


def test_colon_and_arn_ids_travel_encoded(emulator):
    """The ids are sent as botocore encodes them (':' as %3A, '/' as %2F) and still verify."""
    client = emulator.boto3_client()
    arn = "arn:aws:bedrock:us-east-1::foundation-model/" + TITAN_V2
    paths: list[str] = []
    client.meta.events.register(
        "before-send.bedrock-runtime.InvokeModel", lambda request, **_: paths.append(request.url)
    )
    invoke(client, TITAN_V2, {"inputText": "x"})
    invoke(client, arn, {"inputText": "x"})
    assert paths[0].endswith("/model/amazon.titan-embed-text-v2%3A0/invoke"), paths[0]
    assert "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.titan" in paths[1], paths[1]
    assert [r["status"] for r in emulator.requests()] == [200, 200]
