"""``provcheck serve`` given what is not an AdmissionReview: a 400 with a short reason (415 for
another media type), and the server goes on answering."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests.admission_docs import body, pod_create, pod_delete
from tests.registry import RealRegistry
from tests.serve_process import ServeProcess, make_tls, post_review, serving, with_uid

MIB = 1024 * 1024
POLICY = """\
apiVersion: provcheck/v1
kind: Policy
name: provenance only
rules:
  provenance:
    required: true
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    folder = tmp_path_factory.mktemp("serve-bad")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY)
    with serving(folder, make_tls(folder), policy) as started:
        yield started


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as opened:
        yield opened


def _still_serving(client: httpx.Client) -> None:
    """A real review is still answered (a DELETE: allowed without work)."""
    answer = post_review(client, "/validate", with_uid(pod_delete(["127.0.0.1:9/app:1"]), "after"))
    assert answer.status_code == 200
    assert answer.json()["response"] == {"uid": "after", "allowed": True}


def _valid() -> bytes:
    return body(pod_create(["127.0.0.1:9/app:1"]))


def _wrong_api_version() -> bytes:
    document = pod_create(["127.0.0.1:9/app:1"])
    document["apiVersion"] = "admission.k8s.io/v1beta1"
    return json.dumps(document).encode()


def _no_uid() -> bytes:
    document = pod_create(["127.0.0.1:9/app:1"])
    del document["request"]["uid"]
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"{not json", "not an AdmissionReview", id="malformed"),
        pytest.param(_valid()[:-40], "not an AdmissionReview", id="truncated"),
        pytest.param(b"", "not an AdmissionReview", id="empty"),
        pytest.param(b"[1, 2]", "not an AdmissionReview", id="not-an-object"),
        pytest.param(_wrong_api_version(), "admission.k8s.io/v1", id="wrong-api-version"),
        pytest.param(_no_uid(), "uid", id="no-uid"),
    ],
)
@pytest.mark.parametrize("path", ["/validate", "/mutate"])
def test_not_an_admission_review_is_a_400(
    client: httpx.Client, path: str, body: bytes, reason: str
) -> None:
    answer = client.post(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/plain")
    assert reason in answer.text
    assert len(answer.text) < 400
    _still_serving(client)


def test_a_body_over_3_mib_is_a_400_and_is_not_read_to_its_end(client: httpx.Client) -> None:
    document = pod_create(["127.0.0.1:9/app:1"])
    document["request"]["object"]["metadata"]["annotations"] = {"pad": "x" * (3 * MIB)}
    body = json.dumps(document).encode()
    assert len(body) > 3 * MIB
    answer = client.post("/validate", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert "larger than 3145728 bytes" in answer.text
    _still_serving(client)


def test_a_chunked_body_over_3_mib_is_cut_off_while_reading(client: httpx.Client) -> None:
    """No Content-Length to refuse up front: reading stops at the cap."""

    def chunks() -> Iterator[bytes]:
        yield b'{"apiVersion": "admission.k8s.io/v1", "pad": "'
        for _ in range(5):
            yield b"x" * MIB

    answer = client.post(
        "/validate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert "larger than" in answer.text
    assert answer.headers["connection"] == "close"
    _still_serving(client)


def test_a_body_cut_short_by_the_client_gets_no_answer_and_harms_nothing(
    server: ServeProcess, client: httpx.Client
) -> None:
    """Content-Length promises more than is sent, then the connection closes."""
    context = ssl.create_default_context(cafile=str(server.tls.ca))
    body = _valid()
    head = (
        f"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    raw = socket.create_connection(("127.0.0.1", server.port))
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(head.encode() + body[: len(body) // 2])
    _still_serving(client)


def test_another_media_type_is_a_415(client: httpx.Client) -> None:
    answer = client.post("/validate", content=_valid(), headers={"content-type": "text/plain"})
    assert answer.status_code == 415
    _still_serving(client)


def test_rejected_requests_are_logged_and_counted_without_their_body(
    server: ServeProcess, client: httpx.Client
) -> None:
    secret = "FAKE-body-secret-0451"
    body = b'{"apiVersion": "' + secret.encode() + b'"'
    answer = client.post("/mutate", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert {"event": "rejected", "path": "/mutate", "status": 400} in server.records()
    assert secret not in server.log_text()
    metrics = client.get("/metrics").text
    assert 'provcheck_admission_rejected_requests_total{path="/mutate",status="400"}' in metrics


def test_a_review_after_all_that_is_answered(
    client: httpx.Client, real_registry: RealRegistry
) -> None:
    answer = post_review(client, "/validate", pod_create([real_registry.ref("b-multi-max")]))
    assert answer.json()["response"]["allowed"] is True
