"""The Gate on real-shaped AdmissionReview documents (tests/admission_docs.py) whose images are the
real cases in the real registry: the right answer for each, what the response and the log say,
and bodies that are not AdmissionReviews."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from provcheck.admission import AdmissionRequestError, Decision, ReviewOutcome
from tests import admission_docs as docs
from tests.conftest import require_docker_registry
from tests.gate_support import FAILING, PASSING, POLICY_TEXT, Recorder, make_gate
from tests.integration.test_audit_cli import AMD64_PROVENANCE
from tests.integration.test_verify_cli import SECRETS
from tests.oci_push import push_layout
from tests.paths import REAL_DIR
from tests.registry import RealRegistry, RegistryServer


def _review(tmp_path: Path, body: bytes, *, mutate: bool = False, **kwargs: Any) -> ReviewOutcome:
    async def run() -> ReviewOutcome:
        gate = make_gate(tmp_path / "cache", **kwargs)
        try:
            return await gate.review(body, mutate=mutate)
        finally:
            await gate.aclose()

    return asyncio.run(run())


def _inner(outcome: ReviewOutcome) -> dict[str, Any]:
    response = dict(outcome.response)
    assert response["apiVersion"] == "admission.k8s.io/v1"
    assert response["kind"] == "AdmissionReview"
    inner: dict[str, Any] = response["response"]
    return inner


def test_a_pod_create_of_verified_images_is_allowed_and_logged(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    images = [real_registry.ref(case) for case in PASSING[:3]]
    doc = docs.pod_create(images[1:], init_images=images[:1])
    recorder = Recorder()
    outcome = _review(tmp_path, docs.body(doc), observer=recorder)
    inner = _inner(outcome)
    assert inner["uid"] == doc["request"]["uid"]
    assert inner["allowed"] is True and "status" not in inner and "patch" not in inner
    assert outcome.decision is Decision.ALLOWED
    log = dict(outcome.log)
    assert log["uid"] == doc["request"]["uid"] and log["namespace"] == "shop"
    assert (log["kind"], log["operation"], log["verdict"]) == ("Pod", "CREATE", "allowed")
    assert log["dry_run"] is False and log["exemptions"] == [] and log["duration_ms"] > 0
    assert [(i["image"], i["digest"], i["verdict"]) for i in log["images"]] == [
        (real_registry.ref(c), real_registry.root_digest(c), "verified") for c in PASSING[:3]
    ]
    json.dumps(log)  # one JSON log line
    assert recorder.lookups == [False] * 3  # a cold cache: one miss per image
    host = real_registry.host
    assert recorder.requests and all(h == host and not failed for h, failed in recorder.requests)


@pytest.mark.parametrize("case", sorted(FAILING))
def test_a_pod_with_one_failing_image_is_denied_naming_it_its_rules_and_the_fix(
    real_registry: RealRegistry, tmp_path: Path, case: str
) -> None:
    good, bad = real_registry.ref("b-multi-max"), real_registry.ref(case)
    doc = docs.pod_create([good, bad])
    outcome = _review(tmp_path, docs.body(doc), mutate=True)
    inner = _inner(outcome)
    assert inner["allowed"] is False and outcome.decision is Decision.DENIED
    assert "patch" not in inner  # a denied review is never patched
    status = inner["status"]
    assert status["code"] == 403
    message: str = status["message"]
    assert message.startswith("provcheck denied 1 of 2 image(s): ")
    assert bad in message and good not in message
    assert f"{FAILING[case]} " in message and real_registry.root_digest(case) in message
    failed = {i["image"]: i["rules_failed"] for i in outcome.log["images"]}
    assert FAILING[case] in failed[bad] and failed[good] == []
    shown = json.dumps(dict(outcome.response)) + json.dumps(dict(outcome.log))
    for secret in SECRETS.get(case, []):
        assert secret not in shown


def test_the_deny_message_carries_the_rules_remediation(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    outcome = _review(tmp_path, docs.body(docs.pod_create([real_registry.ref("e3-syntax-evil")])))
    message = _inner(outcome)["status"]["message"]
    assert "frontend" in message and "(fix: " in message


def test_warn_results_become_warnings_of_an_allowed_response(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    policy = POLICY_TEXT + "on-incomplete: warn\n"
    image = real_registry.ref("a-single-min")  # min mode: build-args incomplete
    outcome = _review(tmp_path, docs.body(docs.pod_create([image])), policy_text=policy)
    inner = _inner(outcome)
    assert inner["allowed"] is True
    warnings: list[str] = inner["warnings"]
    assert any(w.startswith(f"{image}: build-args") and "incomplete" in w for w in warnings)
    assert all(len(w) <= 256 for w in warnings)


def test_a_deployment_update_is_judged_by_its_new_object_only(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    good, bad = real_registry.ref("d-secret-mount"), real_registry.ref("c-secrets-max")
    fixed = _review(tmp_path, docs.body(docs.deployment_update([good], old_images=[bad])))
    assert _inner(fixed)["allowed"] is True
    assert [i["image"] for i in fixed.log["images"]] == [good]
    broken = _review(tmp_path, docs.body(docs.deployment_update([bad], old_images=[good])))
    assert _inner(broken)["allowed"] is False
    assert broken.log["kind"] == "Deployment" and broken.log["operation"] == "UPDATE"


def test_a_cronjob_is_judged_by_its_job_template(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    bad = real_registry.ref("h-no-attest")
    outcome = _review(tmp_path, docs.body(docs.cronjob_create([bad])))
    assert _inner(outcome)["allowed"] is False
    assert "provenance" in outcome.log["images"][0]["rules_failed"]


def test_an_ephemeral_debug_container_is_verified(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    running, debug = real_registry.ref("b-multi-max"), real_registry.ref("e3-syntax-evil")
    outcome = _review(tmp_path, docs.body(docs.ephemeral_debug([running], debug)))
    inner = _inner(outcome)
    assert inner["allowed"] is False and debug in inner["status"]["message"]
    assert outcome.log["sub_resource"] == "ephemeralcontainers"
    assert [i["image"] for i in outcome.log["images"]] == [running, debug]


def test_an_ephemeral_containers_object_of_kubernetes_before_1_23_is_verified(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    debug = real_registry.ref("e3-syntax-evil")
    outcome = _review(tmp_path, docs.body(docs.ephemeral_debug_before_1_23(debug)))
    assert _inner(outcome)["allowed"] is False
    assert [i["image"] for i in outcome.log["images"]] == [debug]


def test_a_dry_run_is_evaluated_the_same_way(real_registry: RealRegistry, tmp_path: Path) -> None:
    bad = real_registry.ref("c-secrets-max")
    outcome = _review(tmp_path, docs.body(docs.pod_create([bad], dry_run=True)))
    assert _inner(outcome)["allowed"] is False and outcome.log["dry_run"] is True


def test_delete_connect_and_kinds_without_pod_templates_are_allowed_without_work(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    bad = real_registry.ref("c-secrets-max")
    connect = docs.pod_create([bad])
    connect["request"].update(operation="CONNECT", subResource="exec", object=None)
    config_map = docs.review(
        group="",
        version="v1",
        kind="ConfigMap",
        resource="configmaps",
        operation="CREATE",
        namespace="shop",
        name="settings",
        obj={"kind": "ConfigMap", "apiVersion": "v1", "data": {"image": bad}},
    )
    status = docs.pod_create([bad])
    status["request"]["subResource"] = "status"
    status["request"]["operation"] = "UPDATE"
    mark = real_registry.server.mark()
    for doc in (docs.pod_delete([bad]), connect, config_map, status):
        outcome = _review(tmp_path, docs.body(doc))
        inner = _inner(outcome)
        assert inner == {"uid": doc["request"]["uid"], "allowed": True}
        assert outcome.decision is Decision.SKIPPED and outcome.log["images"] == []
    assert real_registry.server.requests_since(mark) == []


def test_an_image_that_is_not_a_registry_reference_is_denied_without_reading_files(
    real_registry: RealRegistry, tmp_path: Path, fixtures_dir: Path
) -> None:
    layout = f"oci-layout://{fixtures_dir / 'real' / 'b-multi-max' / 'oci-layout'}:1"
    outcome = _review(tmp_path, docs.body(docs.pod_create([layout, "Not A Reference"])))
    inner = _inner(outcome)
    assert inner["allowed"] is False
    assert [i["verdict"] for i in outcome.log["images"]] == ["error", "error"]
    assert "provcheck denied 2 of 2" in inner["status"]["message"]


def test_labels_and_annotations_never_allow(real_registry: RealRegistry, tmp_path: Path) -> None:
    bad = real_registry.ref("c-secrets-max")
    doc = docs.pod_create([bad])
    meta = doc["request"]["object"]["metadata"]
    meta["annotations"] = {"provcheck.dev/verified": "true", "provcheck.dev/exempt": "true"}
    meta["labels"]["provcheck.dev/skip"] = "true"
    assert _inner(_review(tmp_path, docs.body(doc)))["allowed"] is False


def _bodies(real: str) -> dict[str, bytes]:
    good = docs.body(docs.pod_create([real]))
    wrong_version = docs.pod_create([real])
    wrong_version["apiVersion"] = "admission.k8s.io/v1beta1"
    wrong_kind = docs.pod_create([real])
    wrong_kind["kind"] = "AdmissionResponse"
    no_uid = docs.pod_create([real])
    del no_uid["request"]["uid"]
    empty_uid = docs.pod_create([real])
    empty_uid["request"]["uid"] = ""
    bad_operation = docs.pod_create([real])
    bad_operation["request"]["operation"] = "PATCH"
    no_object = docs.pod_create([real])
    no_object["request"]["object"] = None
    padded = docs.pod_create([real])
    padded["request"]["object"]["metadata"]["annotations"] = {"x": "y" * (3 * 1024 * 1024)}
    return {
        "malformed": b'{"apiVersion": "admission.k8s.io/v1", "kind": ',
        "truncated": good[: len(good) // 2],
        "not-an-object": b"[1, 2]",
        "nan": good.replace(b'"dryRun":false', b'"dryRun":NaN'),
        "not-utf8": b'{"kind": "\xff"}',
        "oversized": docs.body(padded),
        "wrong-apiVersion": docs.body(wrong_version),
        "wrong-kind": docs.body(wrong_kind),
        "no-uid": docs.body(no_uid),
        "empty-uid": docs.body(empty_uid),
        "unknown-operation": docs.body(bad_operation),
        "pod-create-without-object": docs.body(no_object),
        "empty": b"",
    }


@pytest.mark.parametrize("name", sorted(_bodies("example.com/x:1")))
def test_a_body_that_is_not_an_admission_review_raises(
    name: str, real_registry: RealRegistry, tmp_path: Path
) -> None:
    body = _bodies(real_registry.ref("b-multi-max"))[name]
    mark = real_registry.server.mark()
    with pytest.raises(AdmissionRequestError) as caught:
        _review(tmp_path, body)
    assert caught.value.diagnostics() and "\n" not in caught.value.diagnostics()
    assert real_registry.server.requests_since(mark) == []


def test_a_body_just_under_the_cap_is_read(real_registry: RealRegistry, tmp_path: Path) -> None:
    doc = docs.pod_create([real_registry.ref("b-multi-max")])
    base = len(docs.body(doc))
    doc["request"]["object"]["metadata"]["annotations"] = {"x": ""}
    filler = 3 * 1024 * 1024 - len(docs.body(doc))
    doc["request"]["object"]["metadata"]["annotations"] = {"x": "y" * filler}
    body = docs.body(doc)
    assert len(body) == 3 * 1024 * 1024 and base < len(body)
    assert _inner(_review(tmp_path, body))["allowed"] is True


def test_a_gate_answers_after_a_bad_body(real_registry: RealRegistry, tmp_path: Path) -> None:
    async def run() -> ReviewOutcome:
        gate = make_gate(tmp_path / "cache")
        try:
            with pytest.raises(AdmissionRequestError):
                await gate.review(b"{", mutate=False)
            return await gate.review(
                docs.body(docs.pod_create([real_registry.ref("b-multi-max")])), mutate=False
            )
        finally:
            await gate.aclose()

    assert _inner(asyncio.run(run()))["allowed"] is True


def test_a_tampered_provenance_layer_denies(tmp_path: Path) -> None:
    require_docker_registry()
    with RegistryServer(tmp_path / "registry") as server:
        push_layout(server.url, REAL_DIR / "b-multi-max" / "oci-layout", "lab/tampered")
        data = bytearray(server.blob_data_path(AMD64_PROVENANCE).read_bytes())
        data[100] ^= 0x01
        server.tamper_blob(AMD64_PROVENANCE, bytes(data))
        image = f"{server.host}/lab/tampered:1"
        outcome = _review(tmp_path, docs.body(docs.pod_create([image])), mutate=True)
    inner = _inner(outcome)
    assert inner["allowed"] is False and "patch" not in inner
    assert "evidence" in outcome.log["images"][0]["rules_failed"]
    assert outcome.log["images"][0]["verdict"] == "error"
    assert f"{image} (sha256:" in inner["status"]["message"]
