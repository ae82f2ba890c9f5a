"""``min-trust`` on a rule: the loader, the model, and the engine filtering each rule's evidence
(synthetic trust levels on the real cases, and the real i-cosign image through oci-layout://)."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provcheck.api import verify_image
from provcheck.attestation.keys import load_public_key
from provcheck.discovery.model import ImageAttestations, TrustLevel
from provcheck.errors import PolicyError
from provcheck.oci.digest import Digest
from provcheck.policy import evaluate, load_policy, parse_policy
from provcheck.policy.model import MIN_TRUST_NEEDS_KEYS, Policy, ProvenanceOptions
from provcheck.policy.resolver import MappingResolver
from provcheck.policy.rules.signatures import with_trust
from provcheck.predicates import PredicateKind
from provcheck.report.model import Report, Status, Verdict
from tests.paths import FIXTURES_DIR
from tests.unit.policy.realdata import load_case

HEAD = "apiVersion: provcheck/v1\nkind: Policy\nname: t\nrules:\n"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
I_COSIGN = FIXTURES_DIR / "real" / "i-cosign"
KEY = FIXTURES_DIR / "signed" / "keys" / "p256.pub"
OTHER_KEY = KEY  # not i-cosign's key
KEYS = MappingResolver({str(KEY): KEY.read_bytes()})
"""What ``_keys_rule()`` names, held in memory."""


def _keys_rule(tmp_path: Path | None = None) -> str:
    path = os.path.relpath(KEY, tmp_path) if tmp_path is not None else str(KEY)
    return f"  signatures:\n    keys: [{path}]\n"


# -- loading -------------------------------------------------------------------------------------

RULE_BODIES = {
    "provenance": "{}",
    "frontend": "{allow: [dockerfile.v0]}",
    "build-args": "{}",
    "base-images": "{allow: ['*']}",
    "builder": "{allow: ['*']}",
    "sbom": "{}",
}


@pytest.mark.parametrize("rule", sorted(RULE_BODIES))
@pytest.mark.parametrize("level", ["signed", "index-bound", "unsigned"])
def test_every_attestation_rule_accepts_min_trust(rule: str, level: str) -> None:
    body = RULE_BODIES[rule][:-1] + (", " if RULE_BODIES[rule] != "{}" else "")
    text = HEAD + f"  {rule}: {body}min-trust: {level}}}\n" + _keys_rule()
    policy = parse_policy(text, "t.yaml", resolver=KEYS)
    assert policy.min_trust == {rule: TrustLevel(level)}


def test_no_min_trust_means_an_empty_mapping() -> None:
    assert parse_policy(HEAD + "  provenance: {}\n", "t.yaml").min_trust == {}


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            "  platforms:\n    required: [linux/amd64]\n    min-trust: signed\n",
            "t.yaml:7: rules.platforms.min-trust: the platforms rule reads only the image index",
        ),
        (
            "  signatures:\n    keys: [k.pub]\n    min-trust: signed\n",
            "t.yaml:7: rules.signatures.min-trust: the signatures rule only ever accepts",
        ),
    ],
)
def test_rules_without_attestations_reject_min_trust_clearly(body: str, why: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(HEAD + body, "t.yaml")
    # every mistake is reported (here also the missing key file): the min-trust one among them
    lines = caught.value.diagnostics().splitlines()
    assert [line for line in lines if line.startswith(why)], lines


def test_an_unknown_level_is_a_schema_error() -> None:
    with pytest.raises(PolicyError, match=r"t.yaml:6: rules.provenance.min-trust: 'trusted'"):
        parse_policy(HEAD + "  provenance:\n    min-trust: trusted\n", "t.yaml")


@pytest.mark.parametrize(
    "signatures",
    ["", "  signatures: {required: true}\n", "  signatures:\n    keys: []\n"],
)
def test_signed_without_keys_fails_closed_at_load_time(signatures: str) -> None:
    text = HEAD + "  provenance:\n    required: true\n    min-trust: signed\n" + signatures
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "t.yaml")
    message = caught.value.diagnostics()
    assert message.startswith("t.yaml:7: rules.provenance.min-trust: ")
    assert MIN_TRUST_NEEDS_KEYS in message
    assert "min-trust: signed needs keys or identities in the signatures rule" in message


def test_signed_with_identities_is_accepted() -> None:
    text = (
        HEAD
        + "  sbom:\n    min-trust: signed\n  signatures:\n    identities:\n"
        + "      - {issuer: 'https://token.actions.githubusercontent.com', subject-regexp: '.*'}\n"
    )
    assert parse_policy(text, "t.yaml").min_trust == {"sbom": TrustLevel.SIGNED}


def test_index_bound_and_unsigned_need_no_keys() -> None:
    policy = parse_policy(HEAD + "  provenance: {min-trust: index-bound}\n", "t.yaml")
    assert policy.min_trust == {"provenance": TrustLevel.INDEX_BOUND}


def test_the_model_fails_closed_too() -> None:
    rules = {"provenance": ProvenanceOptions()}
    with pytest.raises(PolicyError, match="needs keys or identities"):
        Policy("p", rules, min_trust={"provenance": TrustLevel.SIGNED})
    with pytest.raises(PolicyError, match="no sbom rule"):
        Policy("p", rules, min_trust={"sbom": TrustLevel.INDEX_BOUND})
    with pytest.raises(PolicyError, match="reads no attestation"):
        Policy("p", rules, min_trust={"signatures": TrustLevel.INDEX_BOUND})


def test_cli_keys_keep_min_trust() -> None:
    text = HEAD + "  provenance: {min-trust: signed}\n" + _keys_rule()
    policy = with_trust(parse_policy(text, "t.yaml", resolver=KEYS), [load_public_key(OTHER_KEY)])
    assert policy.min_trust == {"provenance": TrustLevel.SIGNED}


# -- evaluation on discovery values -------------------------------------------------------------


def _with_trust(
    image: ImageAttestations, level: TrustLevel, *, only: int | None = None
) -> ImageAttestations:
    """Every usable layer at ``level`` (or only those at position ``only`` of each manifest)."""
    images = []
    for pi in image.images:
        manifests = []
        for m in pi.attestations:
            layers = tuple(
                dataclasses.replace(layer, trust=level)
                if layer.usable and (only is None or layer.index == only)
                else layer
                for layer in m.layers
            )
            manifests.append(dataclasses.replace(m, layers=layers))
        images.append(dataclasses.replace(pi, attestations=tuple(manifests)))
    return dataclasses.replace(image, images=tuple(images))


def _results(report: Report, rule: str) -> list[tuple[Status, str | None, str]]:
    return [(r.status, r.platform, r.message) for r in report.results if r.rule == rule]


def test_unsigned_provenance_fails_min_trust_index_bound_and_says_why() -> None:
    image = load_case("b-multi-max")  # in-index provenance, unsigned (reached from a tag)
    policy = parse_policy(HEAD + "  provenance: {required: true, min-trust: index-bound}\n")
    report = evaluate(image, policy, now=NOW)
    assert report.verdict is Verdict.FAIL
    results = _results(report, "provenance")
    assert {p for _, p, _ in results} == {pi.platform.key for pi in image.images}
    for status, _, message in results:
        assert status is Status.FAIL
        assert message.startswith(
            "provenance exists but none at the required trust level (index-bound): "
            "1 provenance attestation(s) below min-trust index-bound ignored: 1 unsigned"
        ), message
    for result in report.results:
        assert result.trust is None  # nothing was read
        assert result.evidence[0].remediation is not None
        assert "pin the reference by digest" in result.evidence[0].remediation
        assert "ignored: sha256:" in (result.evidence[0].value or "")


def test_the_same_rule_without_min_trust_passes() -> None:
    image = load_case("b-multi-max")
    report = evaluate(image, parse_policy(HEAD + "  provenance: {required: true}\n"), now=NOW)
    assert report.verdict is Verdict.PASS


def test_index_bound_provenance_meets_index_bound_but_not_signed() -> None:
    image = _with_trust(load_case("b-multi-max"), TrustLevel.INDEX_BOUND)
    bound = parse_policy(HEAD + "  provenance: {min-trust: index-bound}\n")
    report = evaluate(image, bound, now=NOW)
    assert report.verdict is Verdict.PASS
    assert all(r.trust == "index-bound" for r in report.results)
    assert all("ignored" not in r.message for r in report.results)
    signed = parse_policy(
        HEAD + "  provenance: {min-trust: signed}\n" + _keys_rule(), resolver=KEYS
    )
    report = evaluate(image, signed, now=NOW)
    for status, _, message in _results(report, "provenance"):
        assert status is Status.FAIL
        assert "1 index-bound (unsigned, reached from a pinned digest or signed index)" in message


def test_min_trust_unsigned_changes_nothing() -> None:
    image = load_case("b-multi-max")
    plain = evaluate(image, parse_policy(HEAD + "  provenance: {}\n"), now=NOW)
    unsigned = evaluate(
        image, parse_policy(HEAD + "  provenance: {min-trust: unsigned}\n"), now=NOW
    )
    assert plain.results == unsigned.results


@pytest.mark.parametrize(
    ("rule", "body"),
    [
        ("frontend", "{allow: [dockerfile.v0], min-trust: index-bound}"),
        ("builder", "{allow: ['*'], min-trust: index-bound}"),
        ("base-images", "{allow: ['*'], min-trust: index-bound}"),
        ("build-args", "{min-trust: index-bound}"),
    ],
)
def test_provenance_readers_become_incomplete_and_say_why(rule: str, body: str) -> None:
    image = load_case("b-multi-max")
    report = evaluate(image, parse_policy(HEAD + f"  {rule}: {body}\n"), now=NOW)
    results = _results(report, rule)
    assert results
    for status, _, message in results:
        assert status is Status.INCOMPLETE
        assert "provenance exists but none at the required trust level (index-bound)" in message


def test_only_the_rule_with_min_trust_is_filtered() -> None:
    image = load_case("b-multi-max")
    text = HEAD + "  provenance: {min-trust: index-bound}\n  frontend: {allow: [dockerfile.v0]}\n"
    report = evaluate(image, parse_policy(text), now=NOW)
    assert {s for s, _, _ in _results(report, "provenance")} == {Status.FAIL}
    assert {s for s, _, _ in _results(report, "frontend")} == {Status.PASS}


def test_sbom_min_trust() -> None:
    image = load_case("g-sbom-generator")
    assert any(True for pi in image.images for _ in pi.statements(PredicateKind.SBOM))
    text = HEAD + "  sbom: {required: true, min-trust: index-bound}\n"
    report = evaluate(image, parse_policy(text), now=NOW)
    for status, _, message in _results(report, "sbom"):
        assert status is Status.FAIL
        assert message.startswith("sbom exists but none at the required trust level")
    bound = _with_trust(image, TrustLevel.INDEX_BOUND)
    assert evaluate(bound, parse_policy(text), now=NOW).verdict is Verdict.PASS


def test_a_pass_notes_what_it_ignored_and_cites_only_strong_evidence() -> None:
    # the first platform gets a signed copy of its (unsigned) provenance, in another manifest
    image = load_case("b-multi-max")
    pi = image.images[0]
    manifest = pi.attestations[0]
    strong = tuple(dataclasses.replace(layer, trust=TrustLevel.SIGNED) for layer in manifest.layers)
    extra = dataclasses.replace(
        manifest,
        descriptor=dataclasses.replace(
            manifest.descriptor, digest=Digest.parse("sha256:" + "0" * 64)
        ),
        layers=strong,
    )
    mixed = dataclasses.replace(pi, attestations=(*pi.attestations, extra))
    image = dataclasses.replace(image, images=(mixed, *image.images[1:]))
    text = HEAD + "  provenance: {min-trust: signed}\n" + _keys_rule()
    report = evaluate(image, parse_policy(text, resolver=KEYS), now=NOW)
    result = next(r for r in report.results if r.platform == pi.platform.key)
    assert result.status is Status.PASS
    assert result.message.startswith("provenance is present (1 provenance attestation(s) below")
    assert result.trust == "signed"
    assert {e.trust for e in result.evidence} == {"signed"}


# -- the real i-cosign image, through oci-layout:// ---------------------------------------------


def _cosign_policy(tmp_path: Path, key: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        HEAD
        + "  signatures:\n    required: true\n"
        + f"    keys: [{os.path.relpath(key, tmp_path)}]\n"
        + "  provenance:\n    required: true\n    min-trust: signed\n"
        + "  frontend:\n    allow: [dockerfile.v0]\n    min-trust: signed\n"
    )
    return path


def test_i_cosign_reads_the_signed_statement_with_its_key(tmp_path: Path) -> None:
    policy = load_policy(_cosign_policy(tmp_path, I_COSIGN / "cosign.pub"))
    report = verify_image(f"oci-layout://{I_COSIGN / 'oci-layout'}:1", policy, now=NOW)
    assert report.verdict is Verdict.PASS, [(r.rule, r.message) for r in report.results]
    for rule in ("provenance", "frontend"):
        results = [r for r in report.results if r.rule == rule]
        assert {r.platform for r in results} == {"linux/amd64", "linux/arm64"}
        for r in results:
            assert r.trust == "signed"
            # the cosign statement lives in the .att tag, not in an in-index attestation manifest
            assert {e.trust for e in r.evidence} == {"signed"}
            assert "below min-trust signed ignored" in r.message  # BuildKit's own copy


def test_i_cosign_with_another_key_fails_and_says_why(tmp_path: Path) -> None:
    policy = load_policy(_cosign_policy(tmp_path, OTHER_KEY))
    report = verify_image(f"oci-layout://{I_COSIGN / 'oci-layout'}:1", policy, now=NOW)
    assert report.verdict is Verdict.FAIL
    results = _results(report, "provenance")
    assert len(results) == 2
    for status, _, message in results:
        assert status is Status.FAIL
        assert message.startswith(
            "provenance exists but none at the required trust level (signed): 1 provenance "
            "attestation(s) below min-trust signed ignored: 1 unsigned"
        ), message
        assert "signature(s) rejected" in message
    assert any("does not verify under any of the 1 trusted key(s)" in p for p in report.problems)
