"""SBOMs through a real registry and the real OCI layout: found, bound, evaluated, and only
downloaded when a rule needs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provcheck.api import inspect_image, verification_options, verify_image
from provcheck.discovery.options import DiscoveryOptions
from provcheck.policy import parse_policy
from provcheck.predicates import PredicateKind
from provcheck.report import Status, Verdict
from provcheck.sbom import SbomFormat, parse_sbom
from provcheck.source.registry import RegistryOptions
from tests.paths import real_case
from tests.registry import RealRegistry

SBOM_BLOBS = {
    "linux/amd64": "sha256:658d9ae30607613da4bf10dd0dd1284f6f2b75eaea821d862c6bcfaacc3cb98b",
    "linux/arm64": "sha256:66ed81133700df4f0ba24b83f56b517bd8024821d7ba2a13979ecd6a800f92ea",
}
SBOM_POLICY = """\
apiVersion: provcheck/v1
kind: Policy
rules:
  sbom:
    required: true
    formats: [spdx]
    deny-packages: ["pkg:pypi/pyyaml@<5.4"]
    deny-licenses: [AGPL-3.0-only]
"""
PROVENANCE_POLICY = """\
apiVersion: provcheck/v1
kind: Policy
rules:
  provenance:
    required: true
"""


def _options(tmp_path: Path) -> RegistryOptions:
    return RegistryOptions(docker_config_dir=tmp_path / "no-docker-config")


def _check_found(found_images: dict[str, list[tuple[str, int, str]]]) -> None:
    assert set(found_images) == {"linux/amd64", "linux/arm64"}
    for platform, sboms in found_images.items():
        ((fmt, count, layer),) = sboms
        assert (fmt, count, layer) == ("spdx", 25, SBOM_BLOBS[platform])


def _sboms(ref: str, registry: RegistryOptions | None = None) -> dict[str, list[Any]]:
    options = DiscoveryOptions(kinds=frozenset({PredicateKind.SBOM}))
    found = inspect_image(ref, options=options, registry=registry)
    out: dict[str, list[Any]] = {}
    for image in found.images:
        for usable in image.statements(PredicateKind.SBOM):
            sbom = parse_sbom(usable.statement)
            assert sbom.format is SbomFormat.SPDX
            assert usable.layer.binding is not None and usable.layer.binding.status == "bound"
            out.setdefault(image.platform.key, []).append(
                (sbom.format.value, len(sbom), str(usable.layer.descriptor.digest))
            )
    return out


def test_real_sboms_from_the_oci_layout() -> None:
    layout = real_case("g-sbom-generator") / "oci-layout"
    _check_found(_sboms(f"oci-layout://{layout}:1"))
    report = verify_image(f"oci-layout://{layout}:1", parse_policy(SBOM_POLICY))
    assert report.verdict is Verdict.PASS
    assert [(r.platform, r.status) for r in report.results] == [
        ("linux/amd64", Status.PASS),
        ("linux/arm64", Status.PASS),
    ]


@pytest.mark.registry
def test_real_sboms_through_the_registry(real_registry: RealRegistry, tmp_path: Path) -> None:
    ref = real_registry.ref("g-sbom-generator")
    _check_found(_sboms(ref, _options(tmp_path)))
    report = verify_image(ref, parse_policy(SBOM_POLICY), registry=_options(tmp_path))
    assert report.verdict is Verdict.PASS, report.results
    assert all("spdx SPDX-2.3 (25 components" in r.message for r in report.results)


@pytest.mark.registry
def test_images_without_sbom_fail_required(real_registry: RealRegistry, tmp_path: Path) -> None:
    report = verify_image(
        real_registry.ref("b-multi-max"), parse_policy(SBOM_POLICY), registry=_options(tmp_path)
    )
    assert report.verdict is Verdict.FAIL
    assert {r.status for r in report.results} == {Status.FAIL}
    assert len(report.results) == 3


def _blob_gets(real_registry: RealRegistry, tmp_path: Path, policy_text: str) -> set[str]:
    server = real_registry.server
    mark = server.mark()
    verify_image(
        real_registry.ref("g-sbom-generator"),
        parse_policy(policy_text),
        registry=_options(tmp_path),
    )
    return {
        entry.path.rsplit("/", 1)[-1]
        for entry in server.requests_since(mark)
        if entry.method == "GET" and "/blobs/" in entry.path
    }


@pytest.mark.registry
def test_provenance_only_policies_never_download_sboms(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    assert verification_options(parse_policy(PROVENANCE_POLICY)).kinds == {PredicateKind.PROVENANCE}
    fetched = _blob_gets(real_registry, tmp_path, PROVENANCE_POLICY)
    assert fetched, "provenance and configs are blobs: something must have been fetched"
    assert not fetched & set(SBOM_BLOBS.values())
    fetched = _blob_gets(real_registry, tmp_path, SBOM_POLICY)
    assert set(SBOM_BLOBS.values()) <= fetched
