"""The VSA statement on real BuildKit data (fixtures/real/g-sbom-generator), and its signature
cross-checked with securesystemslib's independent DSSE implementation."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from provcheck.api import inspect_image, verification_options
from provcheck.attestation._intoto import build_statement_v1, check_vsa_v1
from provcheck.attestation.signing import parse_signing_key, sign_envelope
from provcheck.discovery.model import ImageAttestations
from provcheck.errors import StatementBuildError, UsageError
from provcheck.policy import evaluate, load_policy
from provcheck.predicates import SLSA_VSA_V1
from provcheck.report.model import Report
from provcheck.vsa.summary import VerificationInputs, statement_bytes, vsa_statement
from tests.paths import REAL_DIR, REPO_ROOT

LAYOUT = f"oci-layout://{REAL_DIR / 'g-sbom-generator' / 'oci-layout'}:1"
BASELINE = REPO_ROOT / "policies" / "baseline.yaml"
NOW = datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC)


def verified(policy_path: Path) -> tuple[Report, ImageAttestations]:
    policy = load_policy(policy_path)
    found = inspect_image(LAYOUT, options=verification_options(policy))
    return evaluate(found, policy, now=NOW), found


def summary(policy_path: Path) -> dict[str, object]:
    report, found = verified(policy_path)
    inputs = VerificationInputs(report, found, "policy.yaml", policy_path.read_bytes(), NOW)
    return vsa_statement(inputs, "9.9.9")


def test_statement_fields_on_a_real_image() -> None:
    report, found = verified(BASELINE)
    inputs = VerificationInputs(report, found, "policies/baseline.yaml", BASELINE.read_bytes(), NOW)
    statement = vsa_statement(inputs, "9.9.9")
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == SLSA_VSA_V1
    assert statement["subject"] == [{"name": found.source, "digest": {"sha256": found.digest.hex}}]
    predicate = statement["predicate"]
    assert predicate["verifier"] == {
        "id": "urn:provcheck:verifier",
        "version": {"provcheck": "9.9.9"},
    }
    assert predicate["timeVerified"] == "2026-12-02T03:04:05Z"
    assert predicate["resourceUri"] == f"{found.source}@{found.digest}"
    assert predicate["policy"] == {
        "uri": "policies/baseline.yaml",
        "digest": {"sha256": hashlib.sha256(BASELINE.read_bytes()).hexdigest()},
    }
    read = sorted(
        {
            layer.descriptor.digest.hex
            for image in found.images
            for manifest in image.attestations
            for layer in manifest.layers
            if layer.fetched
        }
    )
    assert read  # provenance and SBOM layers of the real image
    assert [a["digest"]["sha256"] for a in predicate["inputAttestations"]] == read
    assert (predicate["verificationResult"], predicate["verifiedLevels"]) == (
        "PASSED",
        ["SLSA_BUILD_LEVEL_1"],
    )


def test_the_json_is_deterministic() -> None:
    first = statement_bytes(summary(BASELINE))
    second = statement_bytes(summary(BASELINE))
    assert first == second
    canonical = json.dumps(json.loads(first), sort_keys=True, separators=(",", ":"))
    assert first == canonical.encode()
    assert json.loads(first) == summary(BASELINE)


def test_levels_are_conservative(tmp_path: Path) -> None:
    no_provenance = tmp_path / "sbom-only.yaml"
    no_provenance.write_text("apiVersion: provcheck/v1\nkind: Policy\nrules:\n  sbom: {}\n")
    predicate = summary(no_provenance)["predicate"]
    assert isinstance(predicate, dict)
    assert (predicate["verificationResult"], predicate["verifiedLevels"]) == (
        "PASSED",
        ["SLSA_BUILD_LEVEL_0"],
    )
    failing = tmp_path / "failing.yaml"
    failing.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  platforms:\n"
        "    required: [linux/s390x]\n  provenance: {}\n"
    )
    predicate = summary(failing)["predicate"]
    assert isinstance(predicate, dict)
    assert (predicate["verificationResult"], predicate["verifiedLevels"]) == ("FAILED", [])


def test_an_error_verdict_is_failed() -> None:
    report, found = verified(BASELINE)
    from dataclasses import replace

    from provcheck.report.model import RuleResult, Status

    broken = replace(
        report, results=(*report.results, RuleResult("evidence", Status.ERROR, None, "x"))
    )
    inputs = VerificationInputs(broken, found, "p", b"", NOW)
    predicate = vsa_statement(inputs, "1")["predicate"]
    assert (predicate["verificationResult"], predicate["verifiedLevels"]) == ("FAILED", [])


def test_the_binding_refuses_what_is_not_a_vsa() -> None:
    good = summary(BASELINE)["predicate"]
    assert isinstance(good, dict)
    check_vsa_v1(good)
    with pytest.raises(StatementBuildError, match="verifiedLevels"):
        check_vsa_v1({**good, "verifiedLevels": "SLSA_BUILD_LEVEL_1"})
    with pytest.raises(StatementBuildError, match="not a SLSA VSA v1 predicate"):
        check_vsa_v1({**good, "verificationResul": "PASSED"})
    with pytest.raises(StatementBuildError, match="not a SLSA VSA v1 predicate"):
        check_vsa_v1({**good, "timeVerified": "yesterday"})
    with pytest.raises(StatementBuildError, match="At least one digest"):
        build_statement_v1([("name", {})], SLSA_VSA_V1, good)


# -- signing --------------------------------------------------------------------------------------

securesystemslib = pytest.importorskip("securesystemslib")


def pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("make", "scheme"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ecdsa-sha2-nistp256"),
        (ed25519.Ed25519PrivateKey.generate, "ed25519"),
        (lambda: rsa.generate_private_key(65537, 2048), "rsa-pkcs1v15-sha256"),
    ],
)
def test_signed_envelopes_verify_with_securesystemslib(make: object, scheme: str) -> None:
    from securesystemslib.dsse import Envelope as SslEnvelope
    from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

    assert callable(make)
    private = make()
    key = parse_signing_key(pem(private), "k.pem")
    payload = statement_bytes(summary(BASELINE))
    doc = json.loads(sign_envelope(payload, key))
    theirs = SslEnvelope.from_dict(
        {**doc, "signatures": [{"keyid": "k", "sig": s["sig"]} for s in doc["signatures"]]}
    )
    ssl_key = SSlibKey.from_crypto(private.public_key(), keyid="k", scheme=scheme)
    assert list(theirs.verify([ssl_key], 1)) == ["k"]
    assert base64.b64decode(doc["payload"]) == payload


def test_rsa_signs_pkcs1v15_which_cosign_verifies() -> None:
    private = rsa.generate_private_key(65537, 2048)
    key = parse_signing_key(pem(private), "k.pem")
    doc = json.loads(sign_envelope(b"{}", key))
    signature = base64.b64decode(doc["signatures"][0]["sig"])
    from provcheck.attestation.dsse import pae

    message = pae("application/vnd.in-toto+json", b"{}")
    private.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_unsupported_private_keys_are_refused() -> None:
    with pytest.raises(UsageError, match="must be P-256"):
        parse_signing_key(pem(ec.generate_private_key(ec.SECP384R1())), "p384.pem")
    with pytest.raises(UsageError, match="too small"):
        parse_signing_key(pem(rsa.generate_private_key(65537, 1024)), "rsa1024.pem")
    with pytest.raises(UsageError, match="not a usable PEM private key"):
        parse_signing_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "x")
    cosign = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJ9\n-----END ENCRYPTED SIGSTORE"
    with pytest.raises(UsageError, match="cosign's encrypted key format"):
        parse_signing_key(cosign, "cosign.key")
    plain = pem(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(UsageError, match="not encrypted"):
        parse_signing_key(plain, "plain.pem", b"a password")
