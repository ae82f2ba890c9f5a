"""Signed attestations end to end: fixtures made with the real cosign 2.5 (fixtures/signed) and
the real i-cosign image, from OCI layouts and from a real registry (cosign tags, referrers
fallback tag), with trust levels in every report format."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from provcheck.api import inspect_image, verify_image
from provcheck.attestation.keys import load_public_key
from provcheck.discovery.model import AttestationOrigin, ProblemKind, TrustLevel
from provcheck.discovery.options import DiscoveryOptions
from provcheck.policy.loader import load_policy, parse_policy
from provcheck.policy.rules.signatures import with_trust
from provcheck.report.json import render_json
from provcheck.report.model import Report, Status, Verdict
from provcheck.report.sarif import render_sarif
from provcheck.report.text import render_text
from provcheck.report.trust import annotate_trust
from tests.oci_push import push_layout
from tests.paths import FIXTURES_DIR
from tests.registry import RegistryServer

SIGNED = FIXTURES_DIR / "signed"
KEYS = SIGNED / "keys"
I_COSIGN = FIXTURES_DIR / "real" / "i-cosign"
CASES = json.loads((SIGNED / "cases.json").read_text())


def policy_file(tmp_path: Path, key: Path, extra: str = "") -> Path:
    path = tmp_path / "policy.yaml"
    (tmp_path / "keys").mkdir(parents=True, exist_ok=True)
    (tmp_path / "keys" / "release.pub").write_bytes(key.read_bytes())
    path.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  signatures:\n"
        f"    required: true\n    keys: [keys/release.pub]\n{extra}"
    )
    return path


def verify_layout(layout: Path, policy: Path) -> Report:
    return verify_image(f"oci-layout://{layout}:1", load_policy(policy))


def signatures_results(report: Report) -> list[tuple[Status, str | None, str]]:
    return [(r.status, r.platform, r.message) for r in report.results if r.rule == "signatures"]


GOOD = [
    ("legacy-p256", "p256"),
    ("legacy-ed25519", "ed25519"),
    ("bundle-p256", "p256"),
    ("dsse-p384", "p384"),
    ("dsse-rsa-pkcs1v15", "rsa3072"),
    ("dsse-rsa-pss", "rsa3072"),
    ("attestation-manifest-signed", "p256"),
]


@pytest.mark.parametrize(("case", "key"), GOOD)
def test_signed_fixture_passes_with_its_key(tmp_path: Path, case: str, key: str) -> None:
    report = verify_layout(SIGNED / case, policy_file(tmp_path, KEYS / f"{key}.pub"))
    results = signatures_results(report)
    expected = ["linux/amd64"] if case == "attestation-manifest-signed" else []
    passing = [p for s, p, _ in results if s is Status.PASS]
    if expected:  # only the amd64 attestation manifest was signed
        assert passing == expected, results
        assert report.verdict is Verdict.FAIL
    else:
        assert passing == ["linux/amd64", "linux/arm64"], results
        assert report.verdict is Verdict.PASS
    assert all(r.trust == "signed" for r in report.results if r.status is Status.PASS)


@pytest.mark.parametrize(("case", "key"), GOOD)
def test_signed_fixture_fails_with_another_key(tmp_path: Path, case: str, key: str) -> None:
    report = verify_layout(SIGNED / case, policy_file(tmp_path, KEYS / "other-p256.pub"))
    assert report.verdict is Verdict.FAIL
    for status, _, message in signatures_results(report):
        assert status is Status.FAIL
        assert "does not verify under any of the 1 trusted key(s)" in message


NEGATIVE = [  # case, key, why, bound to another image
    ("tampered-payload", "p256", "does not verify under any of the 1 trusted key(s)", False),
    ("tampered-signature", "p256", "does not verify under any of the 1 trusted key(s)", False),
    ("replayed", "p256", "its statement is bound to another image", True),
    ("swapped-subject", "p384", "its statement is bound to another image", True),
    ("wrong-payload-type", "p384", "wrong payload type 'text/plain'", False),
]


@pytest.mark.parametrize(("case", "key", "why", "bound_elsewhere"), NEGATIVE)
def test_negative_cases_fail_and_say_why(
    tmp_path: Path, case: str, key: str, why: str, bound_elsewhere: bool
) -> None:
    report = verify_layout(SIGNED / case, policy_file(tmp_path, KEYS / f"{key}.pub"))
    # a statement bound to another image is a verification error (exit 3), which beats the
    # failing signatures rule; a bad signature alone is a violation
    assert report.verdict is (Verdict.ERROR if bound_elsewhere else Verdict.FAIL)
    evidence = [r for r in report.results if r.rule == "evidence"]
    assert all(r.status is Status.ERROR for r in evidence)
    assert bool(evidence) is bound_elsewhere
    results = signatures_results(report)
    assert len(results) == 2
    for status, _, message in results:
        assert status is Status.FAIL
        assert why in message, message
    assert any(why in p for p in report.problems)
    # the rejected envelope is never evidence
    found = inspect_image(
        f"oci-layout://{SIGNED / case}:1",
        options=DiscoveryOptions(
            signature_stores=True,
            trust=load_policy(tmp_path / "policy.yaml").rules["signatures"].trust(),  # type: ignore[union-attr]
        ),
    )
    for image in found.images:
        assert all(m.origin is AttestationOrigin.INDEX for m in image.attestations)
    kinds = {p.kind for p in found.all_problems()}
    assert kinds & {ProblemKind.SIGNATURE, ProblemKind.BINDING}


def test_real_i_cosign_verifies_with_its_key_and_not_another(tmp_path: Path) -> None:
    layout = I_COSIGN / "oci-layout"
    good = verify_layout(layout, policy_file(tmp_path, I_COSIGN / "cosign.pub"))
    assert good.verdict is Verdict.PASS
    assert {r.platform for r in good.results} == {"linux/amd64", "linux/arm64"}
    assert all("index-scoped" in (e.value or "") for r in good.results for e in r.evidence[:1])
    bad = verify_layout(layout, policy_file(tmp_path / "x", KEYS / "p256.pub"))
    assert bad.verdict is Verdict.FAIL


def test_trust_levels_of_each_origin() -> None:
    key = load_policy_text_key(KEYS / "p256.pub")
    found = inspect_image(
        f"oci-layout://{SIGNED / 'legacy-p256'}:1",
        options=DiscoveryOptions(signature_stores=True, trust=key),
    )
    for image in found.images:
        levels = {(m.origin, layer.trust) for m in image.attestations for layer in m.layers}
        # the index has a valid .sig by the trusted key: its in-index statements are index-bound
        assert levels == {
            (AttestationOrigin.INDEX, TrustLevel.INDEX_BOUND),
            (AttestationOrigin.COSIGN_TAG, TrustLevel.SIGNED),
        }
    untrusted = inspect_image(
        f"oci-layout://{SIGNED / 'legacy-p256'}:1",
        options=DiscoveryOptions(signature_stores=True),
    )
    for image in untrusted.images:  # looked at, never trusted
        assert {layer.trust for m in image.attestations for layer in m.layers} == {
            TrustLevel.UNSIGNED
        }


def load_policy_text_key(key: Path):  # type: ignore[no-untyped-def]
    from provcheck.attestation.keys import load_public_key
    from provcheck.attestation.signatures import TrustConfig

    return TrustConfig(keys=(load_public_key(key),))


def test_trust_shows_in_text_json_and_sarif(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, KEYS / "p256.pub")
    text = policy.read_text() + "  provenance: {}\n"
    policy.write_text(text)
    ref = f"oci-layout://{SIGNED / 'legacy-p256'}:1"
    found = inspect_image(
        ref,
        options=DiscoveryOptions(
            signature_stores=True, trust=load_policy_text_key(KEYS / "p256.pub"), image_configs=True
        ),
    )
    from provcheck.policy import evaluate

    report = annotate_trust(evaluate(found, load_policy(policy)), found)
    assert "[trust: signed]" in render_text(report)
    doc = json.loads(render_json(report))
    trusts = {(r["rule"], r.get("trust")) for r in doc["results"]}
    assert ("signatures", "signed") in trusts
    assert ("provenance", "index-bound") in trusts  # the weakest evidence it read
    from jsonschema import Draft202012Validator

    schema = json.loads(
        (Path(__file__).parents[2] / "provcheck/report/report.schema.json").read_text()
    )
    Draft202012Validator(schema).validate(doc)
    bad = verify_layout(SIGNED / "tampered-payload", policy)
    sarif = json.loads(render_sarif(annotate_trust(bad, found)))
    assert sarif["runs"][0]["results"]


def test_threshold_two_needs_two_distinct_keys(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, KEYS / "p256.pub", "    threshold: 2\n")
    report = verify_layout(SIGNED / "legacy-p256", policy)
    assert report.verdict is Verdict.FAIL
    assert all("threshold is 2" in m for _, _, m in signatures_results(report))


def test_tlog_required_fails_without_a_verified_entry(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, KEYS / "p256.pub", "    tlog: required\n")
    report = verify_layout(SIGNED / "legacy-p256", policy)
    assert report.verdict is Verdict.FAIL
    assert all("transparency-log" in m for _, _, m in signatures_results(report))


def test_cli_shortcut_with_trust_adds_the_rule(tmp_path: Path) -> None:
    policy = parse_policy("apiVersion: provcheck/v1\nkind: Policy\nrules:\n  provenance: {}\n")
    policy = with_trust(policy, [load_public_key(KEYS / "p256.pub")])
    report = verify_image(f"oci-layout://{SIGNED / 'bundle-p256'}:1", policy)
    assert report.verdict is Verdict.PASS
    assert {r.rule for r in report.results} == {"provenance", "signatures"}


def test_no_network_is_attempted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network access blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))  # type: ignore[arg-type]
    for case, key in GOOD[:3]:
        report = verify_layout(SIGNED / case, policy_file(tmp_path / case, KEYS / f"{key}.pub"))
        assert report.verdict is Verdict.PASS
    assert attempts == []


@pytest.mark.parametrize(("case", "key"), [("legacy-p256", "p256"), ("bundle-p256", "p256")])
def test_from_a_real_registry(
    registry_server: RegistryServer, unique_repository: str, tmp_path: Path, case: str, key: str
) -> None:
    push_layout(registry_server.url, SIGNED / case, unique_repository)
    ref = f"{registry_server.host}/{unique_repository}@{CASES[case]['index']}"
    policy = load_policy(policy_file(tmp_path, KEYS / f"{key}.pub"))
    from provcheck.source.registry import RegistryOptions

    options = RegistryOptions(insecure_registries=frozenset({registry_server.host}))
    report = verify_image(ref, policy, registry=options)
    assert report.verdict is Verdict.PASS, render_text(report)
    other = load_policy(policy_file(tmp_path / "o", KEYS / "other-p256.pub"))
    assert verify_image(ref, other, registry=options).verdict is Verdict.FAIL
