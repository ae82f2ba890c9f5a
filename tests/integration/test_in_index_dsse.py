"""DSSE-enveloped in-toto layers inside the image index (docker/attest, Docker Hardened Images),
built with tests/oci_builder.py and read through oci-layout:// references.

With trusted keys an envelope must verify and its verified payload is the statement (``signed``);
otherwise it is rejected with the reason. Without trust material the payload is decoded, like
buildx does, and is as trustworthy as the index (``unsigned``, ``index-bound`` when pinned).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provcheck.api import inspect_image, verify_image
from provcheck.attestation.keys import PublicKey, parse_public_key
from provcheck.attestation.signatures import TrustConfig
from provcheck.discovery.model import ImageAttestations, ProblemKind, TrustLevel
from provcheck.discovery.options import DiscoveryOptions
from provcheck.policy import load_policy
from provcheck.predicates import PredicateKind
from provcheck.report.model import Status, Verdict
from provcheck.views.buildx import provenance_document
from tests.oci_builder import (
    DSSE_ENVELOPE,
    ImageBuilder,
    compact_bytes,
    dsse_envelope,
    provenance_statement,
)

SIGNER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SECOND = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
STRANGER = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)


def public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def trusted(*keys: Ed25519PrivateKey, threshold: int = 1) -> TrustConfig:
    return TrustConfig(tuple(parse_public_key(public(k)) for k in keys), threshold=threshold)


def key_id(key: Ed25519PrivateKey) -> str:
    parsed: PublicKey = parse_public_key(public(key))
    return parsed.key_id


@dataclass(frozen=True)
class Layout:
    path: Path
    root: str

    @property
    def tagged(self) -> str:
        return f"oci-layout://{self.path}:1"

    @property
    def pinned(self) -> str:
        return f"oci-layout://{self.path}@{self.root}"


def build(
    tmp_path: Path,
    *signers: Ed25519PrivateKey,
    media_type: str = DSSE_ENVELOPE,
    tamper: bool = False,
    payload_type: str = "application/vnd.in-toto+json",
) -> Layout:
    """linux/amd64 + linux/arm64, each with one DSSE-enveloped provenance in the index."""
    builder = ImageBuilder("dsse")
    for platform in ("linux/amd64", "linux/arm64"):
        entry = builder.add_platform(platform)
        statement = provenance_statement(entry.digest, platform=platform)
        envelope = dsse_envelope(statement, [k.sign for k in signers], payload_type=payload_type)
        if tamper:  # the signatures cover the original payload
            changed: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
            changed["predicate"]["builder"]["id"] = "https://evil.example/builder"
            envelope["payload"] = base64.b64encode(compact_bytes(changed)).decode()
        builder.attest_envelopes(entry, [envelope], media_type=media_type)
    image = builder.build()
    image.write_layout(tmp_path / "layout")
    return Layout(tmp_path / "layout", image.root_digest)


def inspect(reference: str, trust: TrustConfig | None = None) -> ImageAttestations:
    return inspect_image(reference, options=DiscoveryOptions(trust=trust))


def layers(found: ImageAttestations) -> list[Any]:
    return [layer for image in found.images for m in image.attestations for layer in m.layers]


def test_verified_with_the_key_is_signed_and_used(tmp_path: Path) -> None:
    layout = build(tmp_path, SIGNER)
    found = inspect(layout.tagged, trusted(SIGNER))
    assert not list(found.all_problems())
    assert len(found.images) == 2
    for image in found.images:
        (usable,) = image.statements(PredicateKind.PROVENANCE)
        assert usable.layer.trust is TrustLevel.SIGNED
        assert usable.layer.signature is not None
        assert usable.layer.signature.signers == (key_id(SIGNER),)
        assert usable.statement.subjects[0].digest["sha256"] == image.descriptor.digest.hex
    assert set(provenance_document(found)) == {"linux/amd64", "linux/arm64"}


def test_the_in_toto_dsse_media_type_works_too(tmp_path: Path) -> None:
    layout = build(tmp_path, SIGNER, media_type="application/vnd.in-toto.provenance+dsse")
    found = inspect(layout.tagged, trusted(SIGNER))
    assert {layer.trust for layer in layers(found)} == {TrustLevel.SIGNED}
    assert all(layer.usable for layer in layers(found))


def test_another_key_rejects_the_layer_and_says_why(tmp_path: Path) -> None:
    layout = build(tmp_path, STRANGER)
    found = inspect(layout.tagged, trusted(SIGNER))
    problems = list(found.all_problems())
    assert len(problems) == 2
    for problem in problems:
        assert problem.kind is ProblemKind.SIGNATURE
        assert "signed envelope rejected" in problem.message
        assert "does not verify under any of the 1 trusted key(s)" in problem.message
    assert not any(layer.usable for layer in layers(found))
    assert provenance_document(found) == {}


def test_an_unsigned_envelope_is_rejected_under_a_key(tmp_path: Path) -> None:
    layout = build(tmp_path)  # an envelope with no signature at all is not a DSSE envelope
    found = inspect(layout.tagged, trusted(SIGNER))
    assert {p.kind for p in found.all_problems()} == {ProblemKind.MALFORMED}
    assert all("has no signatures" in p.message for p in found.all_problems())


def test_without_a_key_the_payload_is_decoded_like_buildx(tmp_path: Path) -> None:
    layout = build(tmp_path, STRANGER)  # whoever signed it: nothing is verified
    found = inspect(layout.tagged)
    assert not list(found.all_problems())
    assert {layer.trust for layer in layers(found)} == {TrustLevel.UNSIGNED}
    assert all(layer.usable for layer in layers(found))
    assert set(provenance_document(found)) == {"linux/amd64", "linux/arm64"}
    pinned = inspect(layout.pinned)
    assert {layer.trust for layer in layers(pinned)} == {TrustLevel.INDEX_BOUND}


def test_a_tampered_payload_is_rejected_under_the_key(tmp_path: Path) -> None:
    layout = build(tmp_path, SIGNER, tamper=True)
    found = inspect(layout.tagged, trusted(SIGNER))
    problems = list(found.all_problems())
    assert problems and all(p.kind is ProblemKind.SIGNATURE for p in problems)
    assert all("does not verify under any of the 1 trusted key(s)" in p.message for p in problems)
    assert not any(layer.usable for layer in layers(found))
    # without a key, the tampered payload is what the index says: unsigned, like any in-index
    # statement (buildx shows it too)
    assert all(layer.usable for layer in layers(inspect(layout.tagged)))


def test_the_threshold_counts_distinct_trusted_signers(tmp_path: Path) -> None:
    both = build(tmp_path / "both", SIGNER, SECOND)
    found = inspect(both.tagged, trusted(SIGNER, SECOND, threshold=2))
    assert {layer.trust for layer in layers(found)} == {TrustLevel.SIGNED}
    one = build(tmp_path / "one", SIGNER)
    found = inspect(one.tagged, trusted(SIGNER, SECOND, threshold=2))
    assert all("threshold is 2" in p.message for p in found.all_problems())
    assert not any(layer.usable for layer in layers(found))


def test_a_wrong_payload_type_is_rejected(tmp_path: Path) -> None:
    layout = build(tmp_path, SIGNER, payload_type="text/plain")
    for trust in (trusted(SIGNER), None):
        found = inspect(layout.tagged, trust)
        assert all("wrong payload type 'text/plain'" in p.message for p in found.all_problems())
        assert not any(layer.usable for layer in layers(found))


# -- through a policy ---------------------------------------------------------------------------


def policy_file(tmp_path: Path, key: Ed25519PrivateKey, min_trust: str = "signed") -> Path:
    (tmp_path / "keys").mkdir(parents=True, exist_ok=True)
    (tmp_path / "keys" / "release.pub").write_bytes(public(key))
    path = tmp_path / "policy.yaml"
    path.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nrules:\n"
        "  signatures:\n    required: true\n    keys: [keys/release.pub]\n"
        f"  provenance:\n    required: true\n    min-trust: {min_trust}\n"
    )
    return path


def test_policy_passes_on_signed_in_index_provenance(tmp_path: Path) -> None:
    layout = build(tmp_path, SIGNER)
    report = verify_image(layout.tagged, load_policy(policy_file(tmp_path, SIGNER)))
    assert report.verdict is Verdict.PASS, [(r.rule, r.message) for r in report.results]
    assert {(r.rule, r.status, r.trust) for r in report.results} == {
        ("signatures", Status.PASS, "signed"),
        ("provenance", Status.PASS, "signed"),
    }


def test_policy_fails_under_another_key_and_says_why(tmp_path: Path) -> None:
    layout = build(tmp_path, STRANGER)
    report = verify_image(layout.tagged, load_policy(policy_file(tmp_path, SIGNER)))
    assert report.verdict is Verdict.FAIL
    assert {(r.rule, r.status) for r in report.results} == {
        ("signatures", Status.FAIL),
        ("provenance", Status.FAIL),
    }
    assert all("does not verify under any of the 1 trusted key(s)" in p for p in report.problems)
    for result in report.results:
        if result.rule == "signatures":
            assert "rejected: " in result.message
            assert "does not verify under any of the 1 trusted key(s)" in result.message


def test_index_bound_min_trust_needs_a_pinned_reference(tmp_path: Path) -> None:
    layout = build(tmp_path, STRANGER)
    path = tmp_path / "policy.yaml"
    path.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nrules:\n"
        "  provenance:\n    required: true\n    min-trust: index-bound\n"
    )
    policy = load_policy(path)
    assert verify_image(layout.pinned, policy).verdict is Verdict.PASS
    tagged = verify_image(layout.tagged, policy)
    assert tagged.verdict is Verdict.FAIL
    assert all(
        r.message.startswith("provenance exists but none at the required trust level")
        for r in tagged.results
    )
