"""``/mutate``: the JSONPatch pins every allowed image that names no digest to the digest that was
verified; applied (by the RFC 6902 applier of tests/gate_support.py) it gives digest-pinned
images that verify again, from nothing, and that need no patch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from provcheck.admission import Decision, ReviewOutcome
from provcheck.audit.workloads import images_of
from provcheck.cli import main
from tests import admission_docs as docs
from tests.gate_support import POLICY_TEXT, apply_patch, make_gate, patch_of
from tests.registry import RealRegistry


def _mutate(cache: Path, doc: docs.Doc) -> ReviewOutcome:
    async def run() -> ReviewOutcome:
        gate = make_gate(cache)
        try:
            return await gate.review(docs.body(doc), mutate=True)
        finally:
            await gate.aclose()

    return asyncio.run(run())


def _object_images(doc: docs.Doc) -> list[tuple[str, str]]:
    request: dict[str, Any] = doc["request"]
    return [(i.path, i.image) for i in images_of(request["object"], request["kind"]["kind"])]


def test_the_patch_pins_each_verified_tag_and_the_patched_pod_verifies_again(
    real_registry: RealRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    multi, sbom = real_registry.ref("b-multi-max"), real_registry.ref("g-sbom-generator")
    repo = real_registry.repositories["d-secret-mount"]
    pinned = f"{real_registry.host}/{repo}:1@{real_registry.root_digest('d-secret-mount')}"
    doc = docs.pod_create([multi, pinned, sbom], init_images=[multi])
    outcome = _mutate(tmp_path / "cache", doc)
    assert outcome.decision is Decision.ALLOWED
    ops = patch_of(outcome.response)
    assert ops is not None
    digest = {c: real_registry.root_digest(c) for c in ("b-multi-max", "g-sbom-generator")}
    assert ops == [
        {
            "op": "replace",
            "path": "/spec/initContainers/0/image",
            "value": f"{multi}@{digest['b-multi-max']}",
        },
        {
            "op": "replace",
            "path": "/spec/containers/0/image",
            "value": f"{multi}@{digest['b-multi-max']}",
        },
        {
            "op": "replace",
            "path": "/spec/containers/2/image",
            "value": f"{sbom}@{digest['g-sbom-generator']}",
        },
    ]
    assert outcome.log["patched"] == 3
    patched = {**doc, "request": {**doc["request"]}}
    patched["request"]["object"] = apply_patch(doc["request"]["object"], ops)
    images = [image for _, image in _object_images(patched)]
    assert all("@sha256:" in image for image in images)
    # The pinned Pod, reviewed by a gate with an empty cache: verified from the registry again,
    # with nothing left to pin.
    again = _mutate(tmp_path / "other-cache", patched)
    assert again.decision is Decision.ALLOWED and patch_of(again.response) is None
    assert [i["digest"] for i in again.log["images"]] == [
        digest["b-multi-max"],
        real_registry.root_digest("d-secret-mount"),
        digest["g-sbom-generator"],
    ]
    # And by the CLI: the pinned reference verifies.
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY_TEXT)
    assert main(["verify", images[0], "--policy", str(policy), "--format", "json"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("build", "pointer"),
    [
        (lambda images: docs.deployment_update(images, old_images=images), "/spec/template/spec"),
        (docs.cronjob_create, "/spec/jobTemplate/spec/template/spec"),
    ],
)
def test_pod_templates_are_patched_at_their_paths(
    real_registry: RealRegistry, tmp_path: Path, build: Any, pointer: str
) -> None:
    image = real_registry.ref("e1-syntax-tag")
    doc = build([image])
    ops = patch_of(_mutate(tmp_path / "cache", doc).response)
    digest = real_registry.root_digest("e1-syntax-tag")
    assert ops == [
        {"op": "replace", "path": f"{pointer}/containers/0/image", "value": f"{image}@{digest}"}
    ]
    patched = apply_patch(doc["request"]["object"], ops)
    assert images_of(patched, doc["request"]["kind"]["kind"])[0].image == f"{image}@{digest}"


def test_an_ephemeral_container_is_patched(real_registry: RealRegistry, tmp_path: Path) -> None:
    running = f"{real_registry.host}/{real_registry.repositories['i-cosign']}"
    running += f"@{real_registry.root_digest('i-cosign')}"
    debug = real_registry.ref("b-multi-max")
    ops = patch_of(_mutate(tmp_path / "cache", docs.ephemeral_debug([running], debug)).response)
    assert ops == [
        {
            "op": "replace",
            "path": "/spec/ephemeralContainers/0/image",
            "value": f"{debug}@{real_registry.root_digest('b-multi-max')}",
        }
    ]


def test_a_denied_or_skipped_review_has_no_patch(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    good, bad = real_registry.ref("b-multi-max"), real_registry.ref("c-secrets-max")
    denied = _mutate(tmp_path / "cache", docs.pod_create([good, bad]))
    assert denied.decision is Decision.DENIED and patch_of(denied.response) is None
    skipped = _mutate(tmp_path / "cache", docs.pod_delete([good]))
    assert skipped.decision is Decision.SKIPPED and patch_of(skipped.response) is None
