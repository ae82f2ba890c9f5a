"""The threshold, defined once (signatures.threshold_rejection) and applied by SignerPool."""

from __future__ import annotations

import base64
import json
from importlib import resources

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provcheck.attestation.dsse import parse_envelope
from provcheck.attestation.keys import parse_public_key
from provcheck.attestation.signatures import (
    Rejection,
    RejectionReason,
    SignatureCheck,
    TlogStatus,
    TrustConfig,
    threshold_rejection,
)
from provcheck.attestation.verify import (
    SignerPool,
    verify_simple_signature,
    verify_statement_envelope,
)
from provcheck.oci.digest import Digest
from tests.oci_builder import compact_bytes, dsse_envelope, provenance_statement

PAYLOAD = str(Digest.of(b'{"_type":"https://in-toto.io/Statement/v1"}'))
MANIFEST = str(Digest.of(b'{"schemaVersion":2}'))


def check(covers: str, *signers: str, reasons: tuple[RejectionReason, ...] = ()) -> SignatureCheck:
    rejections = tuple(Rejection(r, r.value) for r in reasons)
    return SignatureCheck(signers, rejections, TlogStatus.ABSENT, covers)


def test_distinct_signers_count_once() -> None:
    pool = SignerPool(2)
    pool.add(check(PAYLOAD, "a"))
    pool.add(check(PAYLOAD, "a"))  # the same key in another envelope or store
    tally = pool.tally((PAYLOAD,), "statement")
    assert tally.signers == ("a",)
    assert not tally.met
    assert tally.rejection is not None
    assert tally.rejection.reason is RejectionReason.THRESHOLD
    assert tally.rejection.message.startswith("statement signed by 1 of 2 required")
    pool.add(check(PAYLOAD, "b"))
    assert pool.tally((PAYLOAD,), "statement").met


def test_only_signatures_over_the_chain_count() -> None:
    pool = SignerPool(2)
    pool.add(check(PAYLOAD, "a"))
    pool.add(check(MANIFEST, "b"))
    pool.add(check(str(Digest.of(b"other bytes")), "c"))
    assert pool.tally((PAYLOAD,), "s").signers == ("a",)
    assert pool.tally((PAYLOAD, MANIFEST), "s").signers == ("a", "b")
    assert pool.tally((MANIFEST,), "s").signers == ("b",)


@pytest.mark.parametrize(
    "reason",
    [r for r in RejectionReason if r is not RejectionReason.THRESHOLD],
)
def test_a_rejected_signature_adds_no_signer(reason: RejectionReason) -> None:
    pool = SignerPool(1)
    pool.add(check(PAYLOAD, "a", reasons=(reason,)))
    assert not pool.tally((PAYLOAD,), "s").met
    # below the threshold on its own is still a valid signature that counts with others
    pool.add(check(PAYLOAD, "b", reasons=(RejectionReason.THRESHOLD,)))
    assert pool.tally((PAYLOAD,), "s").signers == ("b",)


def test_no_signer_never_meets_a_threshold() -> None:
    assert threshold_rejection((), 1, "x") is not None
    assert threshold_rejection(("k", "k", "k"), 2, "x") is not None
    assert threshold_rejection(("k", "l"), 2, "x") is None


# -- one tlog status, one tlog-required rule ---------------------------------------------------


def _key() -> tuple[Ed25519PrivateKey, TrustConfig]:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return private, TrustConfig((parse_public_key(pem),), tlog_required=True)


def test_tlog_required_rejects_an_envelope_and_a_simple_signature_alike() -> None:
    """Both verifiers say the same thing when the policy requires a log entry and none came."""
    private, trust = _key()
    image = Digest.of(b"index")
    statement = provenance_statement(str(image))
    envelope = parse_envelope(compact_bytes(dsse_envelope(statement, [private.sign])))
    verified = verify_statement_envelope(envelope, trust)
    payload = compact_bytes(
        {
            "critical": {
                "identity": {"docker-reference": "registry.test/app"},
                "image": {"docker-manifest-digest": str(image)},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )
    signature = base64.b64encode(private.sign(payload)).decode()
    simple = verify_simple_signature(payload, signature, image, trust)
    for check in (verified.check, simple):
        assert check.tlog is TlogStatus.ABSENT
        assert [r.reason for r in check.rejections] == [RejectionReason.TLOG_REQUIRED]
        assert check.messages == (
            "no verified transparency-log entry (the policy requires tlog): none is present",
        )


def test_tlog_status_keeps_the_wire_strings_of_the_inspect_document() -> None:
    text = resources.files("provcheck.views").joinpath("inspect.schema.json").read_text()
    schema = json.loads(text)
    assert schema["$defs"]["signed"]["properties"]["tlog"]["enum"] == [m.value for m in TlogStatus]
