"""The threshold, defined once (signatures.threshold_rejection) and applied by SignerPool."""

from __future__ import annotations

import pytest

from provcheck.attestation.signatures import (
    Rejection,
    RejectionReason,
    SignatureCheck,
    threshold_rejection,
)
from provcheck.attestation.verify import SignerPool, sha256_of

PAYLOAD = sha256_of(b'{"_type":"https://in-toto.io/Statement/v1"}')
MANIFEST = sha256_of(b'{"schemaVersion":2}')


def check(covers: str, *signers: str, reasons: tuple[RejectionReason, ...] = ()) -> SignatureCheck:
    rejections = tuple(Rejection(r, r.value) for r in reasons)
    return SignatureCheck(signers, rejections, "absent", covers)


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
    pool.add(check(sha256_of(b"other bytes"), "c"))
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
