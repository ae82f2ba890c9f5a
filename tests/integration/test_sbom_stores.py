"""SBOMs stored outside the index, made with the real cosign 2.5 and oras 1.2
(fixtures/sbom-stores): cosign ``.att`` attestations and raw SBOM referrers in the
``sha256-<hex>`` fallback tag, found, bound (index or platform), parsed and evaluated, from the
OCI layouts and replayed into a real registry (distribution 2.8, no referrers API)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from provcheck.api import inspect_image, verification_options, verify_image
from provcheck.attestation.binding import BindingStatus
from provcheck.attestation.keys import load_public_key
from provcheck.attestation.signatures import TrustConfig
from provcheck.discovery.model import (
    AttestationForm,
    AttestationOrigin,
    ImageAttestations,
    ProblemKind,
    TrustLevel,
)
from provcheck.discovery.options import DiscoveryOptions
from provcheck.oci.digest import Digest
from provcheck.policy import parse_policy
from provcheck.predicates import PredicateKind
from provcheck.report import Report, Status, Verdict
from provcheck.sbom import parse_sbom
from provcheck.source.registry import RegistryOptions
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.oci_push import OCI_INDEX, push_layout, push_manifest
from tests.paths import FIXTURES_DIR
from tests.registry import RegistryServer

STORES = FIXTURES_DIR / "sbom-stores"
CASES: dict[str, Any] = json.loads((STORES / "cases.json").read_text())
KEY = STORES / "keys" / "cosign.pub"
SBOM_ONLY = DiscoveryOptions(kinds=frozenset({PredicateKind.SBOM}), signature_stores=True)
Row = tuple[str, str, str, str, str, str, int]

# (platform, form, origin, binding, trust, format, components) of every usable SBOM
COSIGN_ROWS: set[Row] = {
    ("linux/amd64", "cosign", "cosign-tag", "index", "unsigned", "spdx", 2),
    ("linux/amd64", "cosign", "cosign-tag", "index", "unsigned", "cyclonedx", 3),
    ("linux/amd64", "cosign", "cosign-tag", "bound", "unsigned", "cyclonedx", 2),
    ("linux/arm64", "cosign", "cosign-tag", "index", "unsigned", "spdx", 2),
    ("linux/arm64", "cosign", "cosign-tag", "index", "unsigned", "cyclonedx", 3),
}
ORAS_ROWS: set[Row] = {
    ("linux/amd64", "oci-artifact-sbom", "referrers-tag", "index", "unsigned", "cyclonedx", 3),
    ("linux/amd64", "oci-artifact-sbom", "referrers-tag", "index", "unsigned", "spdx", 2),
    ("linux/amd64", "oci-artifact-sbom", "referrers-tag", "bound", "unsigned", "cyclonedx", 2),
    ("linux/amd64", "oci-artifact-sbom", "referrers-tag", "bound", "unsigned", "spdx", 1),
    ("linux/arm64", "oci-artifact-sbom", "referrers-tag", "index", "unsigned", "cyclonedx", 3),
    ("linux/arm64", "oci-artifact-sbom", "referrers-tag", "index", "unsigned", "spdx", 2),
}


def _rows(found: ImageAttestations) -> set[Row]:
    out: set[Row] = set()
    for image in found.images:
        for usable in image.statements(PredicateKind.SBOM):
            sbom = parse_sbom(usable.statement)
            assert usable.layer.binding is not None
            out.add(
                (
                    image.platform.key,
                    usable.manifest.form.value,
                    usable.manifest.origin.value,
                    usable.layer.binding.status.value,
                    usable.layer.trust.value,
                    sbom.format.value,
                    len(sbom),
                )
            )
    return out


@pytest.fixture(scope="module")
def pushed(registry_server: RegistryServer) -> dict[str, str]:
    """Every case of fixtures/sbom-stores pushed (all tags, digests kept): case -> reference."""
    out: dict[str, str] = {}
    for case in ("cosign-att", "oras-referrers", "replayed"):
        repository = f"sbom-stores/{case}"
        push_layout(registry_server.url, STORES / case, repository)
        out[case] = f"{registry_server.host}/{repository}:1"
    return out


def _registry() -> RegistryOptions:
    return RegistryOptions(docker_config_dir=Path("/nonexistent/provcheck-no-docker-config"))


def _ref(case: str, where: str, pushed: dict[str, str]) -> str:
    return f"oci-layout://{STORES / case}:1" if where == "layout" else pushed[case]


WHERE = ["layout", "registry"]


# -- discovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", WHERE)
def test_cosign_att_sboms_are_found_and_bound(where: str, pushed: dict[str, str]) -> None:
    found = inspect_image(
        _ref("cosign-att", where, pushed), options=SBOM_ONLY, registry=_registry()
    )
    assert _rows(found) == COSIGN_ROWS
    assert not [p for p in found.all_problems() if p.kind.rejects]


@pytest.mark.parametrize("where", WHERE)
def test_cosign_att_sboms_are_signed_with_the_key(where: str, pushed: dict[str, str]) -> None:
    trust = TrustConfig(keys=(load_public_key(KEY),))
    options = DiscoveryOptions(
        kinds=frozenset({PredicateKind.SBOM}), signature_stores=True, trust=trust
    )
    found = inspect_image(_ref("cosign-att", where, pushed), options=options, registry=_registry())
    assert {(*r[:4], "signed", *r[5:]) for r in COSIGN_ROWS} == _rows(found)


@pytest.mark.parametrize("where", WHERE)
def test_oras_referrer_sboms_are_found_and_bound(where: str, pushed: dict[str, str]) -> None:
    found = inspect_image(
        _ref("oras-referrers", where, pushed), options=SBOM_ONLY, registry=_registry()
    )
    assert _rows(found) == ORAS_ROWS
    assert not list(found.all_problems())
    referrers = CASES["oras-referrers"]["referrers"]
    amd64 = next(i for i in found.images if i.platform.key == "linux/amd64")
    by_manifest = {str(u.manifest.descriptor.digest): u for u in amd64.statements()}
    assert set(by_manifest) == {
        *referrers["index"].values(),
        *referrers["amd64"].values(),
    }
    # the synthesised statement names exactly the referrer's subject, nothing from the document
    cdx = by_manifest[referrers["index"]["application/vnd.cyclonedx+json"]]
    assert cdx.statement.predicate_type == "https://cyclonedx.org/bom"
    assert [dict(s.digest) for s in cdx.statement.subjects] == [
        {"sha256": CASES["oras-referrers"]["index"].split(":")[1]}
    ]
    spdx = by_manifest[referrers["amd64"]["application/spdx+json"]]
    assert spdx.statement.predicate_type == "https://spdx.dev/Document"
    assert [dict(s.digest) for s in spdx.statement.subjects] == [
        {"sha256": CASES["oras-referrers"]["amd64"].split(":")[1]}
    ]
    assert spdx.layer.binding is not None and spdx.layer.binding.status is BindingStatus.BOUND
    assert spdx.source == f"{referrers['amd64']['application/spdx+json']}#layers/0"


def test_inspected_by_platform_digest_finds_that_platforms_referrers() -> None:
    amd64 = CASES["oras-referrers"]["amd64"]
    found = inspect_image(f"oci-layout://{STORES / 'oras-referrers'}@{amd64}", options=SBOM_ONLY)
    rows = _rows(found)
    # the index's own referrers are not reachable from the platform manifest alone
    assert {(r[3], r[5], r[6]) for r in rows} == {("bound", "cyclonedx", 2), ("bound", "spdx", 1)}


def test_raw_sboms_are_not_fetched_when_no_caller_needs_them() -> None:
    options = DiscoveryOptions(kinds=frozenset({PredicateKind.PROVENANCE}), signature_stores=True)
    found = inspect_image(f"oci-layout://{STORES / 'oras-referrers'}:1", options=options)
    for image in found.images:
        assert all(m.form is not AttestationForm.OCI_ARTIFACT_SBOM for m in image.attestations)


@pytest.mark.parametrize("where", WHERE)
def test_sboms_of_another_image_do_not_count(where: str, pushed: dict[str, str]) -> None:
    found = inspect_image(_ref("replayed", where, pushed), options=SBOM_ONLY, registry=_registry())
    assert _rows(found) == set()
    problems = [p for p in found.all_problems() if p.kind is ProblemKind.BINDING]
    oras_subject = Digest.parse(CASES["replayed"]["replayed-from"]["oras"])
    assert any(f"has subject {oras_subject.short}" in p.message for p in problems), problems
    assert sum("bound to another image" in p.message for p in problems) == 2, problems


# -- verify ------------------------------------------------------------------------------------


def _policy(extra: str = "") -> str:
    return f"apiVersion: provcheck/v1\nkind: Policy\nrules:\n  sbom:\n    required: true\n{extra}"


def _verify(ref: str, text: str) -> Report:
    return verify_image(ref, parse_policy(text), registry=_registry())


def _sbom_results(report: Report) -> dict[str, tuple[Status, str, list[str]]]:
    return {
        r.platform or "": (r.status, r.message, [e.source for e in r.evidence])
        for r in report.results
        if r.rule == "sbom"
    }


def test_verification_options_read_the_stores_for_an_sbom_rule() -> None:
    assert verification_options(parse_policy(_policy())).signature_stores
    provenance = "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  provenance: {required: true}\n"
    assert not verification_options(parse_policy(provenance)).signature_stores


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("case", ["cosign-att", "oras-referrers"])
def test_required_sbom_passes_from_the_stores(
    where: str, case: str, pushed: dict[str, str]
) -> None:
    report = _verify(_ref(case, where, pushed), _policy())
    assert report.verdict is Verdict.PASS, report.results
    for status, message, _ in _sbom_results(report).values():
        assert status is Status.PASS
        assert "bound to the index (covers every platform)" in message


@pytest.mark.parametrize("where", WHERE)
def test_denied_package_in_an_oras_sbom_fails_with_the_referrer_as_evidence(
    where: str, pushed: dict[str, str]
) -> None:
    report = _verify(
        _ref("oras-referrers", where, pushed),
        _policy('    deny-packages: ["pkg:npm/lodash@<4.17.21"]\n'),
    )
    assert report.verdict is Verdict.FAIL
    cdx = CASES["oras-referrers"]["referrers"]["index"]["application/vnd.cyclonedx+json"]
    results = _sbom_results(report)
    assert set(results) == {"linux/amd64", "linux/arm64"}
    for status, message, sources in results.values():
        assert status is Status.FAIL
        assert "denied package" in message
        assert sources == [f"{cdx}#layers/0"]
    evidence = [e for r in report.results if r.rule == "sbom" for e in r.evidence]
    assert {e.value for e in evidence} == {"pkg:npm/lodash@4.17.20"}
    assert {e.trust for e in evidence} == {"unsigned"}


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("case", ["cosign-att", "oras-referrers"])
def test_a_platform_bound_sbom_covers_only_its_platform(
    where: str, case: str, pushed: dict[str, str]
) -> None:
    report = _verify(
        _ref(case, where, pushed), _policy('    deny-packages: ["pkg:deb/debian/openssl"]\n')
    )
    results = _sbom_results(report)
    assert results["linux/amd64"][0] is Status.FAIL
    assert results["linux/arm64"][0] is Status.PASS
    assert report.verdict is Verdict.FAIL


@pytest.mark.parametrize("where", WHERE)
def test_cosign_sbom_deny_points_at_the_att_layer(where: str, pushed: dict[str, str]) -> None:
    report = _verify(
        _ref("cosign-att", where, pushed), _policy('    deny-packages: ["pkg:apk/alpine/musl"]\n')
    )
    assert report.verdict is Verdict.FAIL
    for status, _, sources in _sbom_results(report).values():
        assert status is Status.FAIL
        assert len(sources) == 1 and sources[0].endswith("#layers/0")  # the spdxjson layer


@pytest.mark.parametrize("where", WHERE)
def test_an_image_whose_only_sboms_are_replayed_fails_required(
    where: str, pushed: dict[str, str]
) -> None:
    report = _verify(_ref("replayed", where, pushed), _policy())
    # the replayed statements are bound to another image: a verification error beats the fail
    assert report.verdict is Verdict.ERROR
    assert any(r.rule == "evidence" and r.status is Status.ERROR for r in report.results)
    for status, message, _ in _sbom_results(report).values():
        assert status is Status.FAIL
        assert "no SBOM attestation is bound to this platform" in message
    assert any("has subject" in p for p in report.problems)


# -- tampering ---------------------------------------------------------------------------------


def _flip(data: bytes) -> bytes:
    at = data.index(b"left-pad")
    return data[:at] + b"r" + data[at + 1 :]  # "left-pad" -> "reft-pad", same size


def _check_tampered(found: ImageAttestations) -> None:
    assert _rows(found) == set()
    integrity = [p for p in found.all_problems() if p.kind is ProblemKind.INTEGRITY]
    assert len(integrity) == 1, list(found.all_problems())
    assert "not used" in integrity[0].message
    assert str(integrity[0].digest) == CASES["tampered"]["sbom-blob"]


def test_tampered_raw_sbom_in_a_layout_is_an_integrity_problem(tmp_path: Path) -> None:
    layout = tmp_path / "tampered"
    shutil.copytree(STORES / "tampered", layout)
    good = inspect_image(f"oci-layout://{layout}:1", options=SBOM_ONLY)
    assert {r[5:] for r in _rows(good)} == {("cyclonedx", 1)}
    blob = layout / "blobs" / "sha256" / CASES["tampered"]["sbom-blob"].split(":")[1]
    blob.write_bytes(_flip(blob.read_bytes()))
    _check_tampered(inspect_image(f"oci-layout://{layout}:1", options=SBOM_ONLY))
    report = _verify(f"oci-layout://{layout}:1", _policy())
    assert report.verdict is not Verdict.PASS
    assert any(r.rule == "evidence" and r.status is Status.ERROR for r in report.results)


def test_tampered_raw_sbom_in_a_registry_is_an_integrity_problem(
    registry_server: RegistryServer, unique_repository: str
) -> None:
    push_layout(registry_server.url, STORES / "tampered", unique_repository)
    digest = CASES["tampered"]["sbom-blob"]
    registry_server.tamper_blob(digest, _flip(registry_server.blob_data_path(digest).read_bytes()))
    ref = f"{registry_server.host}/{unique_repository}:1"
    _check_tampered(inspect_image(ref, options=SBOM_ONLY, registry=_registry()))


# -- other referrers ---------------------------------------------------------------------------


def _fallback_tag(url: str, repository: str, digest: str, listed: list[dict[str, Any]]) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": listed}).encode()
    push_manifest(url, repository, f"sha256-{digest.split(':')[1]}", body, OCI_INDEX)


def test_attestation_manifest_referrer_of_a_platform_manifest(
    registry_server: RegistryServer, unique_repository: str
) -> None:
    """BuildKit's OCI-artifact attestation manifest returned as a referrer of the platform
    manifest: found when the image is inspected by that platform manifest's digest (buildx
    sees nothing there), and not duplicated when the index lists it too."""
    builder = ImageBuilder("refattest")
    amd64 = builder.add_platform("linux/amd64")
    attestation = builder.attest(
        amd64, [provenance_statement(amd64.digest, platform="linux/amd64")], form="oci-artifact"
    )
    image = builder.build()
    image.push(registry_server, unique_repository, "1")
    body = image.blobs[attestation.digest]
    listed = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": attestation.digest,
        "size": len(body),
        "artifactType": "application/vnd.docker.attestation.manifest.v1+json",
    }
    _fallback_tag(registry_server.url, unique_repository, amd64.digest, [listed])
    options = DiscoveryOptions(signature_stores=True)
    by_platform = inspect_image(
        f"{registry_server.host}/{unique_repository}@{amd64.digest}",
        options=options,
        registry=_registry(),
    )
    ((platform_image),) = by_platform.images
    ((usable),) = platform_image.statements(PredicateKind.PROVENANCE)
    assert usable.manifest.origin is AttestationOrigin.REFERRERS_TAG
    assert usable.manifest.form is AttestationForm.OCI_ARTIFACT
    assert usable.layer.trust is TrustLevel.UNSIGNED
    assert usable.layer.binding is not None and usable.layer.binding.status is BindingStatus.BOUND
    by_index = inspect_image(
        f"{registry_server.host}/{unique_repository}:1", options=options, registry=_registry()
    )
    origins = [m.origin for i in by_index.images for m in i.attestations]
    assert origins == [AttestationOrigin.INDEX]


def test_unknown_referrer_type_is_reported_not_used(
    registry_server: RegistryServer, unique_repository: str
) -> None:
    layout_refs = push_layout(registry_server.url, STORES / "tampered", unique_repository)
    index = layout_refs["1"]
    size = len((STORES / "tampered" / "blobs" / "sha256" / index.split(":")[1]).read_bytes())
    empty = {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
    }
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.unknown+json",
        "config": empty,
        "layers": [empty],
        "subject": {"mediaType": OCI_INDEX, "digest": index, "size": size},
    }
    body = json.dumps(manifest).encode()
    digest = push_manifest(
        registry_server.url, unique_repository, "unknown", body, manifest["mediaType"]
    )
    listed = {"mediaType": manifest["mediaType"], "digest": digest, "size": len(body)}
    _fallback_tag(registry_server.url, unique_repository, index, [listed])
    found = inspect_image(
        f"{registry_server.host}/{unique_repository}:1", options=SBOM_ONLY, registry=_registry()
    )
    suspicious = [p for p in found.all_problems() if p.kind is ProblemKind.SUSPICIOUS]
    assert len(suspicious) == 1
    assert "unknown artifact type 'application/vnd.example.unknown+json': ignored" in (
        suspicious[0].message
    )
    assert _rows(found) == set()
