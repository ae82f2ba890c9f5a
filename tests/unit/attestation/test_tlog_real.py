"""Transparency-log checks on REAL public Rekor entries (fixtures/tlog-real, see its README),
against sigstore's real production trusted root, with sigstore-python as the oracle.

Each vector is accepted by provcheck and by sigstore-python; each one-byte tamper of the body,
a proof hash, the root hash, the checkpoint or the SET (and each changed SET field) is rejected
by both; the body is bound to what was verified (another artifact is rejected by both)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sigstore._internal.merkle import verify_merkle_inclusion
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import Error as SigstoreError
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier
from sigstore.verify.policy import UnsafeNoOp

from provcheck.attestation.dsse import envelope_from_dict
from provcheck.attestation.keys import PublicKey, parse_public_key
from provcheck.attestation.tlog import (
    DsseMaterial,
    Material,
    MessageMaterial,
    leaf_hash,
    load_trusted_root,
    parse_bundle_entry,
    parse_trusted_root,
    root_from_proof,
    verify_entry,
)
from provcheck.cli import main
from provcheck.errors import TlogError, UsageError
from tests.paths import FIXTURES_DIR

REAL = FIXTURES_DIR / "tlog-real"
ROOT = REAL / "trusted_root.production.json"

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Vector:
    """A real bundle and, for a message signature, the artifact it signs."""

    bundle: str
    artifact: str | None

    def doc(self) -> Doc:
        doc = json.loads((REAL / self.bundle).read_text(encoding="utf-8"))
        assert isinstance(doc, dict)
        return doc


VECTORS = {
    "hashedrekord": Vector("new_bundle.txt.sigstore.json", "new_bundle.txt"),
    "intoto-0.0.2": Vector("sigstore-3.1.0.sigstore.json", None),
}


def _entry(doc: Doc) -> Doc:
    entry = doc["verificationMaterial"]["tlogEntries"][0]
    assert isinstance(entry, dict)
    return entry


def _signing_key(doc: Doc) -> PublicKey:
    material = doc["verificationMaterial"]
    der = (
        material["certificate"]["rawBytes"]
        if "certificate" in material
        else material["x509CertificateChain"]["certificates"][0]["rawBytes"]
    )
    cert = x509.load_der_x509_certificate(base64.b64decode(der))
    pem = cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return parse_public_key(pem, "Fulcio certificate")


def _material(doc: Doc, artifact: bytes | None) -> Material:
    key = _signing_key(doc)
    if "dsseEnvelope" in doc:
        return DsseMaterial(envelope_from_dict(doc["dsseEnvelope"]), (key,))
    assert artifact is not None
    signature = base64.b64decode(doc["messageSignature"]["signature"])
    return MessageMaterial(artifact, signature, (key,))


def _provcheck_accepts(doc: Doc, artifact: bytes | None) -> bool:
    logs = load_trusted_root(ROOT).log_keys
    try:
        entry = parse_bundle_entry(_entry(doc))
        verify_entry(entry, logs, _material(doc, artifact))
    except TlogError:
        return False
    return True


def _oracle_accepts(doc: Doc, artifact: bytes | None) -> bool:
    """sigstore-python: the entry's inclusion proof, checkpoint and SET against the root's Rekor
    keys; for a message signature also the whole offline ``verify_artifact`` (which binds the
    entry body to the artifact and signature). sigstore-python does not bind ``intoto`` bodies
    (its ``verify_dsse`` takes only ``dsse`` entries), so for those the oracle is the log part."""
    root = TrustedRoot.from_file(str(ROOT))
    try:
        bundle = Bundle.from_json(json.dumps(doc))
        bundle.log_entry._verify(root.rekor_keyring(KeyringPurpose.VERIFY))
        if artifact is not None:
            Verifier(trusted_root=root).verify_artifact(artifact, bundle, UnsafeNoOp())
    except (SigstoreError, ValueError):
        return False
    return True


def _artifact(vector: Vector) -> bytes | None:
    return (REAL / vector.artifact).read_bytes() if vector.artifact else None


def _flip_b64(value: str, at: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[at % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _flip_body(entry: Doc) -> None:
    # one bit of one hex digit of the body's last hash value: still JSON, another body
    body = base64.b64decode(entry["canonicalizedBody"])
    at = body.rindex(b'"value":"') + len(b'"value":"')
    entry["canonicalizedBody"] = base64.b64encode(
        body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
    ).decode()


def _flip_proof_hash(entry: Doc) -> None:
    hashes = entry["inclusionProof"]["hashes"]
    hashes[3] = _flip_b64(hashes[3], 7)


def _flip_root_hash(entry: Doc) -> None:
    proof = entry["inclusionProof"]
    proof["rootHash"] = _flip_b64(proof["rootHash"], 0)


def _flip_checkpoint_signature(entry: Doc) -> None:
    checkpoint = entry["inclusionProof"]["checkpoint"]
    note, _, line = checkpoint["envelope"].rstrip("\n").rpartition("\n")
    prefix, _, sig = line.rpartition(" ")
    checkpoint["envelope"] = f"{note}\n{prefix} {_flip_b64(sig, 20)}\n"


def _flip_checkpoint_origin(entry: Doc) -> None:
    checkpoint = entry["inclusionProof"]["checkpoint"]
    checkpoint["envelope"] = checkpoint["envelope"].replace("rekor.", "rekoR.", 1)


def _flip_set(entry: Doc) -> None:
    promise = entry["inclusionPromise"]
    promise["signedEntryTimestamp"] = _flip_b64(promise["signedEntryTimestamp"], -3)


def _bump(field: str) -> Callable[[Doc], None]:
    def bump(entry: Doc) -> None:
        entry[field] = str(int(entry[field]) + 1)

    return bump


SET_FAILS = "the signed entry timestamp does not verify"
PROOF_FAILS = "inclusion proof does not lead to its root hash"
CHECKPOINT_FAILS = "checkpoint signature does not verify"

# tamper -> (how, the check provcheck must reject it with: the first one the tamper reaches)
TAMPERS: dict[str, tuple[Callable[[Doc], None], str]] = {
    "body": (_flip_body, SET_FAILS),
    "proof-hash": (_flip_proof_hash, PROOF_FAILS),
    "root-hash": (_flip_root_hash, PROOF_FAILS),
    "checkpoint-signature": (_flip_checkpoint_signature, CHECKPOINT_FAILS),
    "checkpoint-note": (_flip_checkpoint_origin, CHECKPOINT_FAILS),
    "set-signature": (_flip_set, SET_FAILS),
    "set-integrated-time": (_bump("integratedTime"), SET_FAILS),
    "set-log-index": (_bump("logIndex"), SET_FAILS),
}


@pytest.mark.parametrize("name", VECTORS)
def test_real_entry_is_accepted_by_provcheck_and_the_oracle(name: str) -> None:
    vector = VECTORS[name]
    doc, artifact = vector.doc(), _artifact(vector)
    assert _provcheck_accepts(doc, artifact)
    assert _oracle_accepts(doc, artifact)


@pytest.mark.parametrize("tamper", TAMPERS)
@pytest.mark.parametrize("name", VECTORS)
def test_one_flipped_byte_is_rejected_by_provcheck_and_the_oracle(name: str, tamper: str) -> None:
    vector = VECTORS[name]
    doc, artifact = vector.doc(), _artifact(vector)
    how, reason = TAMPERS[tamper]
    tampered = copy.deepcopy(doc)
    how(_entry(tampered))
    assert tampered != doc
    with pytest.raises(TlogError, match=reason):
        verify_entry(
            parse_bundle_entry(_entry(tampered)),
            load_trusted_root(ROOT).log_keys,
            _material(tampered, artifact),
        )
    assert not _provcheck_accepts(tampered, artifact)
    assert not _oracle_accepts(tampered, artifact)


@pytest.mark.parametrize("name", VECTORS)
def test_a_flipped_body_leaves_the_inclusion_proof_for_both(name: str) -> None:
    """The SET catches a flipped body first; the proof must catch it too, on its own."""
    doc = VECTORS[name].doc()
    proof = parse_bundle_entry(_entry(doc)).proof
    assert proof is not None
    _flip_body(_entry(doc))
    body = base64.b64decode(_entry(doc)["canonicalizedBody"])
    leaf = leaf_hash(body)
    assert root_from_proof(proof.log_index, proof.tree_size, leaf, proof.hashes) != proof.root_hash
    with pytest.raises(SigstoreError):
        verify_merkle_inclusion(Bundle.from_json(json.dumps(doc)).log_entry)


def test_the_body_is_bound_to_the_artifact_by_both() -> None:
    vector = VECTORS["hashedrekord"]
    doc, artifact = vector.doc(), _artifact(vector)
    assert artifact is not None
    other = artifact.replace(b"test", b"tesT")
    assert not _provcheck_accepts(doc, other)
    assert not _oracle_accepts(doc, other)


def test_the_intoto_body_is_bound_to_the_envelope() -> None:
    """An envelope with another payload (re-signed would need the Fulcio key; unsigned is
    enough: the body check runs on what the caller verified) is not what the entry logged."""
    doc = VECTORS["intoto-0.0.2"].doc()
    envelope = doc["dsseEnvelope"]
    envelope["payload"] = base64.b64encode(base64.b64decode(envelope["payload"]) + b" ").decode()
    with pytest.raises(TlogError, match="payloadHash differs"):
        verify_entry(
            parse_bundle_entry(_entry(doc)), load_trusted_root(ROOT).log_keys, _material(doc, None)
        )


def test_the_production_root_is_read_with_its_rekor_v2_log() -> None:
    """sigstore's production root names its Rekor v2 log by the signed-note key id, not the
    SHA-256 of the key's DER; provcheck read neither log of it before (UsageError)."""
    logs = load_trusted_root(ROOT).log_keys
    assert [log.base_url for log in logs] == [
        "https://rekor.sigstore.dev",
        "https://log2025-1.rekor.sigstore.dev",
    ]
    doc = json.loads(ROOT.read_bytes())
    doc["tlogs"][1]["baseUrl"] = "https://log2025-2.rekor.sigstore.dev"  # another origin
    with pytest.raises(UsageError, match=r"tlogs\[1\].*nor its signed-note key id"):
        parse_trusted_root(json.dumps(doc).encode())


def test_fixture_files_are_the_recorded_bytes() -> None:
    """The README records each file's SHA-256: an edit to a public vector shows here."""
    readme = (REAL / "README.md").read_text(encoding="utf-8")
    for path in sorted(p for p in REAL.iterdir() if p.name != "README.md"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"`{digest}`" in readme, path.name


def test_the_cli_takes_the_production_root(capsys: pytest.CaptureFixture[str]) -> None:
    """--trusted-root with sigstore's production root is a verdict (the stand-in keyless
    fixture's chain is not production's: exit 1), not a usage error (exit 2, before the fix)."""
    keyless = FIXTURES_DIR / "signed" / "keyless"
    code = main(
        [
            "verify",
            f"oci-layout://{keyless / 'layout'}:1",
            "--policy",
            str(keyless / "policy.yaml"),
            "--trusted-root",
            str(ROOT),
            "--format",
            "json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert json.loads(captured.out)["verdict"] == "fail"
