"""Transparency-log checks, one at a time, on entries of the stand-in Rekor
(fixtures/signed/tlog/rekor_sim.py): RFC 6962 proofs against an independent tree, SET bytes,
checkpoints, entry bodies, trusted roots."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from provcheck.attestation.dsse import parse_envelope
from provcheck.attestation.keys import parse_public_key
from provcheck.attestation.signatures import TlogStatus
from provcheck.attestation.tlog import (
    DsseMaterial,
    LogKey,
    MessageMaterial,
    TlogEvidence,
    canonical_set_payload,
    check_tlog,
    evidence_from_annotations,
    evidence_from_bundle,
    leaf_hash,
    parse_bundle_entry,
    parse_cosign_bundle,
    parse_trusted_root,
    root_from_proof,
    verify_entry,
)
from provcheck.errors import TlogError, UsageError
from tests.paths import FIXTURES_DIR, load_script

sim = load_script(FIXTURES_DIR / "signed" / "tlog" / "rekor_sim.py", "rekor_sim")


def _setup() -> tuple[Any, Any, bytes, tuple[LogKey, ...]]:
    rekor = sim.FakeRekor()
    signer = ec.generate_private_key(ec.SECP256R1())
    envelope = sim.sign_envelope(signer, {"_type": "https://in-toto.io/Statement/v1", "n": 1})
    logs = parse_trusted_root(json.dumps(rekor.trusted_root()).encode())
    return rekor, signer, envelope, logs


def _material(signer: Any, envelope: bytes, raw: bool = True) -> DsseMaterial:
    key = parse_public_key(sim.public_pem(signer))
    return DsseMaterial(parse_envelope(envelope), (key,), envelope if raw else None)


@given(st.integers(min_value=1, max_value=40), st.data())
def test_proofs_lead_to_the_rfc6962_root(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(b"%d" % i) for i in range(size)]
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    assert root_from_proof(index, size, leaves[index], sim.path(index, leaves)) == sim.mth(leaves)


def test_proofs_of_the_wrong_shape_are_rejected() -> None:
    leaves = [leaf_hash(b"%d" % i) for i in range(7)]
    proof = sim.path(3, leaves)
    with pytest.raises(TlogError, match="needs"):
        root_from_proof(3, 7, leaves[3], proof[:-1])
    with pytest.raises(TlogError, match="outside a tree"):
        root_from_proof(7, 7, leaves[3], proof)
    assert root_from_proof(2, 7, leaves[3], proof) != sim.mth(leaves)


def test_set_bytes_are_the_sorted_compact_json_cosign_signs() -> None:
    entry = parse_cosign_bundle(
        json.dumps(
            {
                "SignedEntryTimestamp": "AAAA",
                "Payload": {"body": "e30=", "integratedTime": 5, "logIndex": 7, "logID": "ab" * 32},
            }
        )
    )
    assert canonical_set_payload(entry) == (
        b'{"body":"e30=","integratedTime":5,"logID":"' + b"ab" * 32 + b'","logIndex":7}'
    )


def test_cosign_intoto_entry_verifies_and_binds() -> None:
    rekor, signer, envelope, logs = _setup()
    text = rekor.cosign_annotation(sim.intoto_v002_body(envelope, sim.public_pem(signer)))
    entry = parse_cosign_bundle(text)
    verify_entry(entry, logs, _material(signer, envelope))
    verify_entry(entry, logs, _material(signer, envelope, raw=False))  # payloadHash binds too
    other = sim.sign_envelope(signer, {"other": True})
    with pytest.raises(TlogError, match="another payload"):
        verify_entry(entry, logs, _material(signer, other))
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(TlogError, match="does not name a trusted key"):
        verify_entry(
            entry,
            logs,
            DsseMaterial(
                parse_envelope(envelope), (parse_public_key(sim.public_pem(stranger)),), envelope
            ),
        )


def test_a_tampered_set_or_field_fails() -> None:
    rekor, signer, envelope, logs = _setup()
    doc = json.loads(
        rekor.cosign_annotation(sim.intoto_v002_body(envelope, sim.public_pem(signer)))
    )
    for field, value in (("integratedTime", 1_700_000_001), ("logIndex", 99)):
        changed = {**doc, "Payload": {**doc["Payload"], field: value}}
        with pytest.raises(TlogError, match="signed entry timestamp does not verify"):
            verify_entry(
                parse_cosign_bundle(json.dumps(changed)), logs, _material(signer, envelope)
            )


def test_hashedrekord_binds_payload_signature_and_key() -> None:
    rekor, signer, _, logs = _setup()
    payload = b'{"critical":{}}'
    from cryptography.hazmat.primitives import hashes

    signature = signer.sign(payload, ec.ECDSA(hashes.SHA256()))
    key = parse_public_key(sim.public_pem(signer))
    entry = parse_cosign_bundle(
        rekor.cosign_annotation(sim.hashedrekord_body(payload, signature, sim.public_pem(signer)))
    )
    verify_entry(entry, logs, MessageMaterial(payload, signature, (key,)))
    with pytest.raises(TlogError, match="another payload"):
        verify_entry(entry, logs, MessageMaterial(payload + b" ", signature, (key,)))
    with pytest.raises(TlogError, match="another signature"):
        verify_entry(entry, logs, MessageMaterial(payload, signature + b"x", (key,)))
    _, _, envelope, _ = _setup()
    with pytest.raises(TlogError, match="does not describe a DSSE envelope"):
        verify_entry(entry, logs, _material(signer, envelope))


def test_bundle_entry_with_proof_and_checkpoint() -> None:
    rekor, signer, envelope, logs = _setup()
    raw = rekor.bundle_entry(sim.dsse_v001_body(envelope, sim.public_pem(signer)))
    verify_entry(parse_bundle_entry(raw), logs, _material(signer, envelope, raw=False))

    def broken(change: Any) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(json.dumps(raw))
        change(doc["inclusionProof"])
        return doc

    checkpoint = raw["inclusionProof"]["checkpoint"]["envelope"]
    note, sig_line = checkpoint.split("\n\n")
    other = sim.FakeRekor()
    cases = {
        "root hash": lambda p: p.update(rootHash=base64.b64encode(b"\x00" * 32).decode()),
        "checkpoint signature does not verify": lambda p: p.update(
            checkpoint={
                "envelope": note.replace(note.split("\n")[0], "evil", 1) + "\n\n" + sig_line
            }
        ),
        "not signed by the log key": lambda p: p.update(
            checkpoint={"envelope": other.checkpoint(int(p["treeSize"]), sim.mth(rekor.leaves))}
        ),
        "needs": lambda p: p.update(hashes=p["hashes"][:-1]),
    }
    for why, change in cases.items():
        with pytest.raises(TlogError, match=why):
            verify_entry(parse_bundle_entry(broken(change)), logs, _material(signer, envelope))
    no_promise = {k: v for k, v in raw.items() if k != "inclusionPromise"}
    with pytest.raises(TlogError, match="no inclusion promise"):
        verify_entry(parse_bundle_entry(no_promise), logs, _material(signer, envelope))


def test_kind_version_must_match_the_body() -> None:
    rekor, signer, envelope, logs = _setup()
    raw = rekor.bundle_entry(sim.dsse_v001_body(envelope, sim.public_pem(signer)))
    raw["kindVersion"] = {"kind": "intoto", "version": "0.0.2"}
    with pytest.raises(TlogError, match="kindVersion"):
        verify_entry(parse_bundle_entry(raw), logs, _material(signer, envelope))


def test_validity_window_and_unknown_log() -> None:
    rekor, signer, envelope, _ = _setup()
    entry = parse_cosign_bundle(
        rekor.cosign_annotation(sim.intoto_v002_body(envelope, sim.public_pem(signer)))
    )
    late = parse_trusted_root(json.dumps(rekor.trusted_root("2024-01-01T00:00:00Z")).encode())
    with pytest.raises(TlogError, match="outside the validity"):
        verify_entry(entry, late, _material(signer, envelope))
    elsewhere = parse_trusted_root(json.dumps(sim.FakeRekor().trusted_root()).encode())
    with pytest.raises(TlogError, match="not a log of the trusted root"):
        verify_entry(entry, elsewhere, _material(signer, envelope))


def test_status_without_entries_without_keys_and_malformed() -> None:
    rekor, signer, envelope, logs = _setup()
    material = _material(signer, envelope)
    assert check_tlog(TlogEvidence(), logs, material).status is TlogStatus.ABSENT
    assert evidence_from_bundle([]) == TlogEvidence()
    text = rekor.cosign_annotation(sim.intoto_v002_body(envelope, sim.public_pem(signer)))
    evidence = evidence_from_annotations({"dev.sigstore.cosign/bundle": text})
    assert check_tlog(evidence, (), material).status is TlogStatus.UNVERIFIED
    assert check_tlog(evidence, logs, material).status is TlogStatus.VERIFIED
    bad = evidence_from_annotations({"dev.sigstore.cosign/bundle": "{not json"})
    assert bad.present
    outcome = check_tlog(bad, logs, material)
    assert outcome.status is TlogStatus.UNVERIFIED
    assert outcome.rejection is not None
    assert outcome.rejection.startswith("transparency-log entry does not verify: ")


def test_trusted_root_is_checked() -> None:
    rekor = sim.FakeRekor()
    doc = rekor.trusted_root()
    (log,) = parse_trusted_root(json.dumps(doc).encode())
    assert log.log_id == rekor.log_id
    assert log.valid_from is not None and log.valid_until is None
    doc["tlogs"][0]["logId"]["keyId"] = base64.b64encode(b"\x01" * 32).decode()
    with pytest.raises(UsageError, match="not the SHA-256"):
        parse_trusted_root(json.dumps(doc).encode())
    for bad in (b"[]", b"{", json.dumps({"tlogs": [{"publicKey": {"rawBytes": "AAAA"}}]}).encode()):
        with pytest.raises(UsageError):
            parse_trusted_root(bad)
