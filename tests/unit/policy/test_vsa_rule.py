"""The ``vsa`` rule's judgement, one typed reason each, and its policy keys."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from provcheck.attestation.signing import SigningKey, parse_signing_key, sign_envelope
from provcheck.errors import PolicyError
from provcheck.oci.digest import Digest
from provcheck.policy.loader import parse_policy
from provcheck.policy.model import VsaOptions
from provcheck.policy.resolver import MappingResolver
from provcheck.policy.rules.vsa import VsaReason, judge_envelope
from provcheck.predicates import SLSA_PROVENANCE_V1, SLSA_VSA_V1

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
IMAGE = Digest.of(b"the index")
POLICY_HEX = hashlib.sha256(b"policy bytes").hexdigest()


def signing_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return parse_signing_key(pem, "ci.pem")


KEY = signing_key()
OTHER = signing_key()


def statement(
    *,
    digest: str = IMAGE.hex,
    result: str = "PASSED",
    policy: str = POLICY_HEX,
    verified: datetime = NOW - timedelta(hours=1),
    predicate_type: str = SLSA_VSA_V1,
) -> bytes:
    doc: dict[str, Any] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "r/app", "digest": {"sha256": digest}}],
        "predicateType": predicate_type,
        "predicate": {
            "verifier": {"id": "urn:provcheck:verifier"},
            "timeVerified": verified.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "policy": {"uri": "p.yaml", "digest": {"sha256": policy}},
            "verificationResult": result,
            "verifiedLevels": ["SLSA_BUILD_LEVEL_1"],
        },
    }
    return json.dumps(doc).encode()


def judge(
    envelope: bytes,
    *,
    policy_digest: str | None = POLICY_HEX,
    max_age: timedelta | None = timedelta(hours=24),
    hint: str | None = SLSA_VSA_V1,
) -> VsaReason | None:
    options = VsaOptions((KEY.public,), policy_digest, max_age)
    verdict = judge_envelope(envelope, hint, "sha256:x#layers/0", options.keys, IMAGE, options, NOW)
    assert verdict is not None
    return verdict.reason


def test_a_good_summary_is_accepted() -> None:
    assert judge(sign_envelope(statement(), KEY)) is None
    assert judge(sign_envelope(statement(), KEY), policy_digest=None, max_age=None) is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (statement(digest=Digest.of(b"another image").hex), VsaReason.REPLAYED),
        (statement(result="FAILED"), VsaReason.FAILED),
        (statement(policy=hashlib.sha256(b"another policy").hexdigest()), VsaReason.WRONG_POLICY),
        (statement(verified=NOW + timedelta(seconds=1)), VsaReason.FUTURE),
        (statement(verified=NOW - timedelta(hours=25)), VsaReason.STALE),
    ],
)
def test_each_refusal_has_its_reason(payload: bytes, reason: VsaReason) -> None:
    assert judge(sign_envelope(payload, KEY)) is reason


def test_forged_unsigned_and_malformed() -> None:
    assert judge(sign_envelope(statement(), OTHER)) is VsaReason.FORGED
    signed = json.loads(sign_envelope(statement(result="FAILED"), KEY))
    signed["payload"] = base64.b64encode(statement()).decode()  # FAILED rewritten to PASSED
    assert judge(json.dumps(signed).encode()) is VsaReason.FORGED
    unsigned = {**signed, "signatures": []}
    assert judge(json.dumps(unsigned).encode()) is VsaReason.UNSIGNED
    assert judge(json.dumps({k: v for k, v in signed.items() if k != "signatures"}).encode()) is (
        VsaReason.UNSIGNED
    )
    assert judge(b"not json") is VsaReason.MALFORMED
    assert judge(b"[" * 100_000 + b"]" * 100_000) is VsaReason.MALFORMED  # no RecursionError
    deep = base64.b64encode(b'{"a":' * 50_000 + b"1" + b"}" * 50_000).decode()
    nested = json.dumps({"payloadType": "x", "payload": deep, "signatures": []}).encode()
    assert judge(nested) is VsaReason.UNSIGNED  # the hint says VSA; nothing verifies it anyway
    bad_time = statement().replace(b"2026-12-02T11:00:00Z", b"an hour ago")
    assert judge(sign_envelope(bad_time, KEY)) is VsaReason.MALFORMED


def test_the_signature_decides_not_the_hint() -> None:
    """Another attestation (or one whose annotation lies) is no VSA candidate; an envelope
    whose unverified payload claims VSA is one, whatever its annotation says."""
    options = VsaOptions((KEY.public,))
    provenance = sign_envelope(statement(predicate_type=SLSA_PROVENANCE_V1), KEY)
    for hint in (None, SLSA_PROVENANCE_V1, SLSA_VSA_V1):
        assert judge_envelope(provenance, hint, "l", options.keys, IMAGE, options, NOW) is None
    claims = sign_envelope(statement(), OTHER)
    assert judge(claims, hint=None) is VsaReason.FORGED
    assert judge(claims, hint=SLSA_PROVENANCE_V1) is VsaReason.FORGED


def test_ed25519_keys_verify_too() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = parse_signing_key(pem, "ed.pem")
    options = VsaOptions((KEY.public, key.public))
    verdict = judge_envelope(
        sign_envelope(statement(), key), None, "l", options.keys, IMAGE, options, NOW
    )
    assert verdict is not None and verdict.reason is None
    assert verdict.signers == (key.public.key_id,)


# -- the policy keys ------------------------------------------------------------------------------

PUB = KEY.public.key.public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def policy(rule: str) -> str:
    return f"apiVersion: provcheck/v1\nkind: Policy\nrules:\n  vsa:\n{rule}"


def test_the_rule_loads_its_keys_through_the_resolver() -> None:
    digest = "sha256:" + POLICY_HEX
    text = policy(f"    keys: [keys/ci.pub]\n    policy-digest: {digest}\n    max-age: 12h\n")
    loaded = parse_policy(text, "gate.yaml", resolver=MappingResolver({"keys/ci.pub": PUB}))
    options = loaded.rules["vsa"]
    assert isinstance(options, VsaOptions)
    assert [k.key_id for k in options.keys] == [KEY.public.key_id]
    assert (options.policy_digest, options.max_age) == (POLICY_HEX, timedelta(hours=12))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("    max-age: 1h\n", "keys"),
        ("    keys: []\n", "keys"),
        ("    keys: [keys/ci.pub]\n    policy-digest: abc\n", "policy-digest"),
        ("    keys: [keys/ci.pub]\n    max-age: soon\n", "not a duration"),
        ("    keys: [keys/missing.pub]\n", "cannot read the key file"),
        ("    keys: [keys/ci.pub]\n    min-trust: signed\n", "min-trust"),
    ],
)
def test_mistakes_are_policy_errors(rule: str, expected: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(policy(rule), "gate.yaml", resolver=MappingResolver({"keys/ci.pub": PUB}))
    assert expected in raised.value.diagnostics()


def test_example_in_the_issue_parses(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ci-vsa.pub").write_bytes(PUB)
    path = tmp_path / "gate.yaml"
    path.write_text(
        policy(
            f"    keys: [keys/ci-vsa.pub]\n    policy-digest: sha256:{POLICY_HEX}\n"
            "    max-age: 24h\n"
        )
    )
    from provcheck.policy.loader import load_policy

    options = load_policy(path).rules["vsa"]
    assert isinstance(options, VsaOptions)
    assert [k.key_id for k in options.keys] == [KEY.public.key_id]
    assert (options.policy_digest, options.max_age) == (POLICY_HEX, timedelta(hours=24))
