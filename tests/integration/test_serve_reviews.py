"""``provcheck serve`` answering real AdmissionReviews over TLS, for images of the real
registry: allowed, denied, the mutating patch, the log line and the metrics."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.admission_docs import (
    cronjob_create,
    deployment_update,
    ephemeral_debug,
    pod_create,
    pod_delete,
)
from tests.integration.test_verify_cli import POLICY
from tests.registry import RealRegistry
from tests.serve_process import ServeProcess, make_tls, post_review, serving, with_uid


@pytest.fixture(scope="module")
def server(
    real_registry: RealRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    folder = tmp_path_factory.mktemp("serve")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY)
    with serving(folder, make_tls(folder), policy) as started:
        started.wait_ready()
        yield started


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as opened:
        yield opened


def _records_of(server: ServeProcess, uid: str) -> list[dict[str, object]]:
    return [r for r in server.records() if r.get("uid") == uid]


def test_a_passing_pod_is_allowed(
    server: ServeProcess, client: httpx.Client, real_registry: RealRegistry
) -> None:
    image = real_registry.ref("b-multi-max")
    document = with_uid(pod_create([image]), "uid-allowed")
    answer = post_review(client, "/validate", document)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == "uid-allowed"
    assert body["response"]["allowed"] is True
    assert "patch" not in body["response"]  # /validate never patches
    (record,) = _records_of(server, "uid-allowed")
    assert record["path"] == "/validate"
    assert record["verdict"] == "allowed"
    assert record["namespace"] == "shop"
    assert record["kind"] == "Pod"
    images = record["images"]
    assert isinstance(images, list)
    assert images[0]["image"] == image
    assert images[0]["digest"] == real_registry.root_digest("b-multi-max")


def test_a_failing_pod_is_denied_naming_the_image_and_rule(
    server: ServeProcess, client: httpx.Client, real_registry: RealRegistry
) -> None:
    passing, failing = real_registry.ref("b-multi-max"), real_registry.ref("c-secrets-max")
    answer = post_review(
        client, "/validate", with_uid(pod_create([passing, failing]), "uid-denied")
    )
    response = answer.json()["response"]
    assert answer.status_code == 200
    assert response["uid"] == "uid-denied"
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    message = response["status"]["message"]
    assert failing in message
    assert "build-args" in message
    assert passing not in message  # only denied images are named
    assert "FAKE" not in answer.text  # the secret build arguments are never quoted
    (record,) = _records_of(server, "uid-denied")
    assert record["verdict"] == "denied"


def test_mutate_pins_the_verified_digest(
    server: ServeProcess, client: httpx.Client, real_registry: RealRegistry
) -> None:
    image = real_registry.ref("b-multi-max")
    document = with_uid(pod_create([image], init_images=[image]), "uid-mutate")
    response = post_review(client, "/mutate", document).json()["response"]
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(response["patch"]))
    pinned = f"{image}@{real_registry.root_digest('b-multi-max')}"
    assert sorted(patch, key=lambda op: op["path"]) == [
        {"op": "replace", "path": "/spec/containers/0/image", "value": pinned},
        {"op": "replace", "path": "/spec/initContainers/0/image", "value": pinned},
    ]
    (record,) = _records_of(server, "uid-mutate")
    assert record["path"] == "/mutate"


def test_a_pinned_pod_needs_no_patch_and_dry_run_is_judged_the_same(
    client: httpx.Client, real_registry: RealRegistry
) -> None:
    pinned = f"{real_registry.ref('b-multi-max')}@{real_registry.root_digest('b-multi-max')}"
    response = post_review(client, "/mutate", pod_create([pinned])).json()["response"]
    assert response["allowed"] is True
    assert "patch" not in response
    failing = pod_create([real_registry.ref("c-secrets-max")], dry_run=True)
    assert post_review(client, "/mutate", failing).json()["response"]["allowed"] is False


def test_delete_is_allowed_without_work(server: ServeProcess, client: httpx.Client) -> None:
    document = with_uid(pod_delete(["127.0.0.1:9/app:1"]), "uid-delete")
    response = post_review(client, "/validate", document).json()["response"]
    assert response == {"uid": "uid-delete", "allowed": True}
    (record,) = _records_of(server, "uid-delete")
    assert record["verdict"] == "skipped"


def _samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, read by prometheus-client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_reviews_cache_and_registry_requests(
    server: ServeProcess, client: httpx.Client, real_registry: RealRegistry
) -> None:
    image = real_registry.ref("b-multi-max")
    before = client.get("/metrics").text
    post_review(client, "/validate", pod_create([image]))
    post_review(client, "/validate", pod_create([image]))
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    old, new = _samples(before), _samples(answer.text)

    def grew(name: str, **labels: str) -> float:
        return _value(new, name, **labels) - _value(old, name, **labels)

    assert grew("provcheck_admission_reviews_total", path="/validate", decision="allowed") == 2
    assert grew("provcheck_admission_review_duration_seconds_count", path="/validate") == 2
    assert grew("provcheck_cache_lookups_total", result="hit") >= 1  # the second review
    assert _value(new, "provcheck_registry_requests_total", host=real_registry.host) > 0
    assert _value(new, "provcheck_registry_errors_total", host=real_registry.host) >= 0
    assert ("provcheck_budget_overruns_total", frozenset()) in new
    families = {family.name for family in text_string_to_metric_families(answer.text)}
    assert "provcheck_exemptions_used" in families


def test_every_stderr_line_is_json(server: ServeProcess) -> None:
    records = server.records()  # raises on a line that is not JSON
    events = [r.get("event") for r in records]
    assert events[:1] == ["listening"]
    assert "ready" in events
    assert all("path" in r for r in records if "uid" in r)


def test_other_paths_and_methods(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/validate").status_code == 405
    assert client.get("/validate").headers["allow"] == "POST"
    assert client.post("/healthz").status_code == 405
    assert client.get("/healthz").text == "ok\n"


def test_a_deployment_update_judges_the_new_object_only(
    client: httpx.Client, real_registry: RealRegistry
) -> None:
    passing, failing = real_registry.ref("b-multi-max"), real_registry.ref("c-secrets-max")
    fixed = post_review(client, "/validate", deployment_update([passing], [failing]))
    assert fixed.json()["response"]["allowed"] is True
    broken = post_review(client, "/validate", deployment_update([failing], [passing]))
    assert broken.json()["response"]["allowed"] is False


def test_a_cronjob_is_pinned_in_its_job_template(
    client: httpx.Client, real_registry: RealRegistry
) -> None:
    image = real_registry.ref("b-multi-max")
    response = post_review(client, "/mutate", cronjob_create([image])).json()["response"]
    patch = json.loads(base64.b64decode(response["patch"]))
    assert patch == [
        {
            "op": "replace",
            "path": "/spec/jobTemplate/spec/template/spec/containers/0/image",
            "value": f"{image}@{real_registry.root_digest('b-multi-max')}",
        }
    ]


def test_an_ephemeral_debug_container_is_verified(
    client: httpx.Client, real_registry: RealRegistry
) -> None:
    passing, failing = real_registry.ref("b-multi-max"), real_registry.ref("c-secrets-max")
    response = post_review(client, "/validate", ephemeral_debug([passing], failing)).json()
    assert response["response"]["allowed"] is False
    assert failing in response["response"]["status"]["message"]
