"""Transparency-log (Rekor v1) entries, verified offline against a sigstore trusted root.

Two places carry an entry next to a signature (formats.md §8.1, §8.2):

* cosign's ``dev.sigstore.cosign/bundle`` layer annotation:
  ``{"SignedEntryTimestamp": b64, "Payload": {"body": b64, "integratedTime": int,
  "logIndex": int, "logID": hex}}``;
* a sigstore bundle's ``verificationMaterial.tlogEntries[]`` (``canonicalizedBody``,
  ``integratedTime``, ``logIndex``, ``logId.keyId``, ``inclusionPromise``, ``inclusionProof``).

An entry is accepted when every check passes (:func:`verify_entry`):

1. the log key is the trusted root's ``tlogs[]`` key whose id (SHA-256 of the DER
   SubjectPublicKeyInfo) is the entry's log id, and the entry's ``integratedTime`` lies in that
   key's ``validFor`` window when the root gives one (cosign ``VerifySET``);
2. the inclusion promise (SET) is the log key's signature over the RFC 8785 JSON of
   ``{"body", "integratedTime", "logID", "logIndex"}`` (cosign ``VerifySET``,
   sigstore-python ``LogEntry._encode_canonical``); an entry without one is rejected;
3. an inclusion proof, when present, leads from ``SHA-256(0x00 || body)`` to ``rootHash``
   (RFC 6962, sigstore-python ``_internal/merkle.py``), and its checkpoint, when present, is a
   signed note by the log key whose size and root hash are the proof's
   (sigstore-python ``_internal/rekor/checkpoint.py``);
4. the entry body describes what was verified (:class:`DsseMaterial`, :class:`MessageMaterial`):
   ``intoto`` v0.0.1/v0.0.2 and ``dsse`` v0.0.1 for envelopes, ``hashedrekord`` v0.0.1 for
   simple-signing payloads (cosign ``VerifyBundle``/``bundleHash``/``compareSigs``/
   ``comparePublicKey``, sigstore-python ``Verifier.verify_dsse``).

Nothing here touches the network: the only trust material is the trusted root file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from provcheck._internal.files import read_capped
from provcheck._internal.jsonload import load_json, load_json_object
from provcheck.attestation.cosign import BUNDLE_ANNOTATION
from provcheck.attestation.dsse import Envelope, b64decode_any, pae
from provcheck.attestation.keys import PublicKey, parse_public_key
from provcheck.attestation.signatures import TlogStatus
from provcheck.errors import EnvelopeError, TlogError, UsageError, VerificationError

MAX_TRUSTED_ROOT_BYTES: Final = 1024 * 1024
MAX_ENTRIES: Final = 16
MAX_PROOF_HASHES: Final = 64
_SUPPORTED_TREE_HASH: Final = "SHA2_256"
_SIGNATURE_LINE: Final = re.compile("^\u2014 (\\S+) (\\S+)$")


# -- trusted root -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogKey:
    """One transparency log of a trusted root: its key, id (hex SHA-256 of the DER SPKI), URL and
    the window in which it may have integrated entries (``None``: open)."""

    log_id: str
    key: PublicKey
    base_url: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def covers(self, when: datetime) -> bool:
        """True when ``when`` is inside the validity window."""
        if self.valid_from is not None and when < self.valid_from:
            return False
        return self.valid_until is None or when <= self.valid_until


def _timestamp(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise UsageError(f"{where} is not an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{where}: {value[:60]!r} is not an RFC 3339 timestamp") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _note_key_id(key: object, base_url: str) -> str | None:
    """The log id a Rekor v2 (tile) log has in a trusted root: the C2SP signed-note key id,
    SHA-256(origin || 0x0A || 0x01 || raw Ed25519 key), whose origin is the URL without its
    scheme; ``None`` for a key type that signed notes do not name this way."""
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return None
    origin = base_url.removeprefix("https://").removeprefix("http://").rstrip("/")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(origin.encode() + b"\n\x01" + raw).hexdigest()


def parse_trusted_root(data: bytes, source: str = "<trusted root>") -> tuple[LogKey, ...]:
    """The Rekor keys (``tlogs[]``) of a sigstore protobuf-specs TrustedRoot JSON document.

    Raises :class:`UsageError` when the document is malformed, a key cannot be read, its
    ``logId.keyId`` is neither the SHA-256 of its DER (Rekor v1) nor its signed-note key id
    (Rekor v2, as in sigstore's production root since 2025), or its tree hash is not SHA2_256.
    Every log is indexed by the SHA-256 of its DER, the id Rekor v1 entries carry.
    """
    doc = load_json_object(data, f"{source}: trusted root", UsageError)
    tlogs = doc.get("tlogs", [])
    if not isinstance(tlogs, list):
        raise UsageError(f"{source}: tlogs is not a list")
    keys: list[LogKey] = []
    for i, tlog in enumerate(tlogs):
        where = f"{source}: tlogs[{i}]"
        if not isinstance(tlog, dict) or not isinstance(tlog.get("publicKey"), dict):
            raise UsageError(f"{where} has no publicKey")
        hash_algorithm = tlog.get("hashAlgorithm", _SUPPORTED_TREE_HASH)
        if hash_algorithm != _SUPPORTED_TREE_HASH:
            raise UsageError(f"{where}: unsupported hashAlgorithm {str(hash_algorithm)[:40]!r}")
        public = tlog["publicKey"]
        try:
            der = b64decode_any(str(public.get("rawBytes", "")), "publicKey.rawBytes")
            loaded = serialization.load_der_public_key(der)
            pem = loaded.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        except (EnvelopeError, ValueError, TypeError) as exc:
            raise UsageError(f"{where}: publicKey.rawBytes is not a DER public key") from exc
        key = parse_public_key(pem, f"{where} ({tlog.get('baseUrl', '')})")
        log_id = tlog.get("logId", {}).get("keyId") if isinstance(tlog.get("logId"), dict) else None
        if log_id is not None:
            try:
                stated = b64decode_any(str(log_id), "logId.keyId").hex()
            except EnvelopeError as exc:
                raise UsageError(f"{where}: logId.keyId is not base64") from exc
            if stated not in (key.key_id, _note_key_id(loaded, str(tlog.get("baseUrl", "")))):
                raise UsageError(
                    f"{where}: logId.keyId is not the SHA-256 of the key's DER (Rekor v1) "
                    "nor its signed-note key id (Rekor v2)"
                )
        valid = public.get("validFor") if isinstance(public.get("validFor"), dict) else {}
        start, end = valid.get("start"), valid.get("end")
        keys.append(
            LogKey(
                key.key_id,
                key,
                str(tlog.get("baseUrl", "")),
                _timestamp(start, f"{where}.validFor.start") if start is not None else None,
                _timestamp(end, f"{where}.validFor.end") if end is not None else None,
            )
        )
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class TrustedRoot:
    """A sigstore trusted root, read and parsed once and shared by every verification.

    ``data``: the document as given (keyless verification builds sigstore's own model from it,
    once, see :mod:`provcheck.attestation._sigstore`); ``log_keys``: its Rekor keys.
    """

    source: str
    data: bytes = field(repr=False)
    log_keys: tuple[LogKey, ...]
    keyless_verifier: list[object] = field(
        default_factory=list, init=False, repr=False, compare=False, hash=False
    )
    """sigstore's verifier for this root once a keyless bundle needed it (at most one item)."""

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<trusted root>") -> TrustedRoot:
        """Parse a trusted root document. Raises :class:`UsageError` (see
        :func:`parse_trusted_root`)."""
        return cls(source, bytes(data), parse_trusted_root(data, source))


def load_trusted_root(path: Path) -> TrustedRoot:
    """Read and parse a trusted root file (never fetched). Raises :class:`UsageError`."""
    data = read_capped(path, MAX_TRUSTED_ROOT_BYTES, "trusted root")
    return TrustedRoot.from_bytes(data, str(path))


# -- entries ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An RFC 6962 audit path to ``root_hash`` in a tree of ``tree_size`` leaves, and the
    checkpoint (signed note) that commits to that root, when given."""

    log_index: int
    tree_size: int
    root_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: str | None = None


@dataclass(frozen=True, slots=True)
class TlogEntry:
    """One Rekor entry. ``body_b64`` is the body exactly as the SET signed it."""

    body_b64: str
    body: bytes
    integrated_time: int
    log_index: int
    log_id: str
    signed_entry_timestamp: bytes | None
    proof: InclusionProof | None = None
    kind_version: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class TlogEvidence:
    """Transparency-log material found next to a signature, not yet checked.

    ``malformed`` says why material that is present could not be read (it then fails
    verification like a bad entry).
    """

    entries: tuple[TlogEntry, ...] = ()
    malformed: str | None = None

    @property
    def present(self) -> bool:
        """True when an entry (readable or not) came with the signature."""
        return bool(self.entries) or self.malformed is not None

    @property
    def status(self) -> TlogStatus:
        """Before any check: ``unverified`` when an entry is present, else ``absent``."""
        return TlogStatus.UNVERIFIED if self.present else TlogStatus.ABSENT


NO_TLOG: Final = TlogEvidence()
"""No transparency-log material."""


_MAX_INT: Final = 2**63 - 1
"""Rekor's integers are int64 (protobuf JSON may write them as strings)."""
_MAX_TIME: Final = 253402300799
"""9999-12-31T23:59:59Z, the last second ``datetime`` can represent."""


def _int(value: object, what: str, maximum: int = _MAX_INT) -> int:
    """A non-negative integer, or its decimal string, up to ``maximum``. Raises TlogError."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TlogError(f"{what} is not an integer")
    if not 0 <= value <= maximum:
        raise TlogError(f"{what} {str(value)[:20]} is out of range")
    return value


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise TlogError(f"{what} is missing")
    try:
        return b64decode_any(value, what)
    except EnvelopeError as exc:
        raise TlogError(exc.diagnostics()) from exc


def parse_cosign_bundle(text: str) -> TlogEntry:
    """Parse cosign's ``dev.sigstore.cosign/bundle`` annotation. Raises :class:`TlogError`."""
    doc = load_json(text, "the cosign bundle annotation", TlogError)
    if not isinstance(doc, dict) or not isinstance(doc.get("Payload"), dict):
        raise TlogError("the cosign bundle annotation has no Payload")
    payload = doc["Payload"]
    body_b64 = payload.get("body")
    log_id = payload.get("logID")
    if not isinstance(log_id, str) or not re.fullmatch("[0-9a-f]{64}", log_id):
        raise TlogError("Payload.logID is not 64 lowercase hex digits")
    return TlogEntry(
        str(body_b64),
        _b64(body_b64, "Payload.body"),
        _int(payload.get("integratedTime"), "Payload.integratedTime", _MAX_TIME),
        _int(payload.get("logIndex"), "Payload.logIndex"),
        log_id,
        _b64(doc.get("SignedEntryTimestamp"), "SignedEntryTimestamp"),
    )


def parse_bundle_entry(doc: object) -> TlogEntry:
    """Parse one sigstore bundle ``tlogEntries[]`` item (protobuf JSON). Raises
    :class:`TlogError`."""
    if not isinstance(doc, dict):
        raise TlogError("tlog entry is not a JSON object")
    body = _b64(doc.get("canonicalizedBody"), "canonicalizedBody")
    log_id = doc.get("logId")
    key_id = _b64(log_id.get("keyId") if isinstance(log_id, dict) else None, "logId.keyId")
    promise = doc.get("inclusionPromise")
    sets = (
        _b64(promise.get("signedEntryTimestamp"), "inclusionPromise.signedEntryTimestamp")
        if isinstance(promise, dict)
        else None
    )
    proof: InclusionProof | None = None
    raw_proof = doc.get("inclusionProof")
    if isinstance(raw_proof, dict):
        hashes = raw_proof.get("hashes") or []
        if not isinstance(hashes, list) or len(hashes) > MAX_PROOF_HASHES:
            raise TlogError("inclusionProof.hashes is not a list of at most 64 hashes")
        checkpoint = raw_proof.get("checkpoint")
        envelope = checkpoint.get("envelope") if isinstance(checkpoint, dict) else None
        proof = InclusionProof(
            _int(raw_proof.get("logIndex"), "inclusionProof.logIndex"),
            _int(raw_proof.get("treeSize"), "inclusionProof.treeSize"),
            _b64(raw_proof.get("rootHash"), "inclusionProof.rootHash"),
            tuple(_b64(h, "inclusionProof.hashes[]") for h in hashes),
            envelope if isinstance(envelope, str) else None,
        )
    kind = doc.get("kindVersion")
    kind_version = (
        (str(kind.get("kind", "")), str(kind.get("version", "")))
        if isinstance(kind, dict)
        else None
    )
    return TlogEntry(
        base64.b64encode(body).decode(),
        body,
        _int(doc.get("integratedTime", 0), "integratedTime", _MAX_TIME),
        _int(doc.get("logIndex"), "logIndex"),
        key_id.hex(),
        sets,
        proof,
        kind_version,
    )


def evidence_from_annotations(annotations: Mapping[str, str]) -> TlogEvidence:
    """The entry in a cosign layer's ``dev.sigstore.cosign/bundle`` annotation, if any."""
    text = annotations.get(BUNDLE_ANNOTATION)
    if text is None:
        return TlogEvidence()
    try:
        return TlogEvidence((parse_cosign_bundle(text),))
    except TlogError as exc:
        return TlogEvidence(malformed=exc.diagnostics())


def evidence_from_bundle(entries: object) -> TlogEvidence:
    """The entries of a sigstore bundle's ``verificationMaterial.tlogEntries``."""
    if entries is None or entries == []:
        return TlogEvidence()
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        return TlogEvidence(malformed=f"tlogEntries is not a list of at most {MAX_ENTRIES}")
    try:
        return TlogEvidence(tuple(parse_bundle_entry(e) for e in entries))
    except TlogError as exc:
        return TlogEvidence(malformed=exc.diagnostics())


# -- what the body must describe ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DsseMaterial:
    """A verified DSSE envelope, the trusted keys that verified it, and (cosign ``.att``) the
    envelope bytes exactly as stored, which an ``intoto`` entry hashes."""

    envelope: Envelope
    signers: tuple[PublicKey, ...]
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class MessageMaterial:
    """A verified simple-signing payload, its signature and the trusted keys that verified it."""

    payload: bytes
    signature: bytes
    signers: tuple[PublicKey, ...]


Material = DsseMaterial | MessageMaterial


def _sha256_field(spec: object, what: str) -> str:
    if not isinstance(spec, dict) or spec.get("algorithm") != "sha256":
        raise TlogError(f"entry body {what} is not a sha256 hash")
    value = spec.get("value")
    if not isinstance(value, str):
        raise TlogError(f"entry body {what} has no value")
    return value.lower()


def _key_id_of(b64_pem: object, what: str) -> str:
    """The key id of a base64 PEM public key or certificate in an entry body."""
    pem = _b64(b64_pem, what)
    try:
        key = (
            x509.load_pem_x509_certificate(pem).public_key()
            if b"CERTIFICATE" in pem
            else serialization.load_pem_public_key(pem)
        )
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, TypeError) as exc:
        raise TlogError(f"entry body {what} is not a PEM key or certificate") from exc
    return hashlib.sha256(der).hexdigest()


def _bind_signatures(
    logged: Sequence[tuple[bytes, str]], material: DsseMaterial, kind: str
) -> None:
    """The logged (signature, key id) pairs are the envelope's signatures, and one of them is a
    trusted signer's signature over the envelope's PAE."""
    ours = sorted(s.sig for s in material.envelope.signatures)
    if sorted(sig for sig, _ in logged) != ours:
        raise TlogError(f"the {kind} entry records other signatures than the envelope's")
    message = pae(material.envelope.payload_type, material.envelope.payload)
    signers = {k.key_id: k for k in material.signers}
    for sig, key_id in logged:
        key = signers.get(key_id)
        if key is None:
            continue
        try:
            key.verify(sig, message)
        except VerificationError:
            continue
        return
    raise TlogError(f"the {kind} entry does not name a trusted key that signed the envelope")


def _check_dsse_body(doc: dict[str, object], material: DsseMaterial) -> None:
    kind, version = doc.get("kind"), doc.get("apiVersion")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise TlogError("entry body has no spec")
    payload_hash = hashlib.sha256(material.envelope.payload).hexdigest()
    if kind == "intoto" and version in ("0.0.1", "0.0.2"):
        content = spec.get("content")
        if not isinstance(content, dict):
            raise TlogError("intoto entry body has no content")
        bound = False
        if "payloadHash" in content or version == "0.0.2":
            if _sha256_field(content.get("payloadHash"), "payloadHash") != payload_hash:
                raise TlogError("the intoto entry is for another payload (payloadHash differs)")
            bound = True
        if material.raw is not None and "hash" in content:  # cosign bundleHash
            if _sha256_field(content["hash"], "hash") != hashlib.sha256(material.raw).hexdigest():
                raise TlogError("the intoto entry is for another envelope (hash differs)")
            bound = True
        if not bound:
            raise TlogError("the intoto entry records no hash that binds it to this envelope")
        if version == "0.0.1":
            key_id = _key_id_of(spec.get("publicKey"), "publicKey")
            if key_id not in {k.key_id for k in material.signers}:
                raise TlogError("the intoto entry names a key that did not sign the envelope")
            return
        envelope = content.get("envelope")
        if not isinstance(envelope, dict):
            raise TlogError("intoto entry body has no envelope")
        if envelope.get("payloadType") != material.envelope.payload_type:
            raise TlogError("the intoto entry records another payloadType")
        sigs = envelope.get("signatures")
        if not isinstance(sigs, list) or not sigs:
            raise TlogError("intoto entry body has no signatures")
        logged = []
        for item in sigs:
            if not isinstance(item, dict):
                raise TlogError("intoto entry signature is not an object")
            # Rekor stores the envelope's base64 signature text base64-encoded again.
            inner = _b64(item.get("sig"), "intoto signature").decode("ascii", "replace")
            key_id = _key_id_of(item.get("publicKey"), "publicKey")
            logged.append((_b64(inner, "intoto signature"), key_id))
        _bind_signatures(logged, material, "intoto")
        return
    if kind == "dsse" and version == "0.0.1":
        if _sha256_field(spec.get("payloadHash"), "payloadHash") != payload_hash:
            raise TlogError("the dsse entry is for another payload (payloadHash differs)")
        sigs = spec.get("signatures")
        if not isinstance(sigs, list) or not sigs:
            raise TlogError("dsse entry body has no signatures")
        logged = []
        for item in sigs:
            if not isinstance(item, dict):
                raise TlogError("dsse entry signature is not an object")
            logged.append(
                (
                    _b64(item.get("signature"), "dsse signature"),
                    _key_id_of(item.get("verifier"), "verifier"),
                )
            )
        _bind_signatures(logged, material, "dsse")
        return
    raise TlogError(
        f"entry kind {str(kind)[:40]} {str(version)[:20]} does not describe a DSSE envelope"
    )


def _check_message_body(doc: dict[str, object], material: MessageMaterial) -> None:
    kind, version = doc.get("kind"), doc.get("apiVersion")
    if kind != "hashedrekord" or version != "0.0.1":
        raise TlogError(
            f"entry kind {str(kind)[:40]} {str(version)[:20]} does not describe a signed payload"
        )
    spec = doc.get("spec")
    data = spec.get("data") if isinstance(spec, dict) else None
    signature = spec.get("signature") if isinstance(spec, dict) else None
    if not isinstance(data, dict) or not isinstance(signature, dict):
        raise TlogError("hashedrekord entry body has no data or signature")
    if _sha256_field(data.get("hash"), "data.hash") != hashlib.sha256(material.payload).hexdigest():
        raise TlogError("the hashedrekord entry is for another payload (data.hash differs)")
    if _b64(signature.get("content"), "signature.content") != material.signature:
        raise TlogError("the hashedrekord entry records another signature")
    public = signature.get("publicKey")
    key_id = _key_id_of(public.get("content") if isinstance(public, dict) else None, "publicKey")
    key = {k.key_id: k for k in material.signers}.get(key_id)
    if key is None:
        raise TlogError("the hashedrekord entry names a key that did not sign the payload")
    key.verify(material.signature, material.payload)


def check_body(entry: TlogEntry, material: Material) -> None:
    """Check that the entry body describes ``material``. Raises :class:`TlogError`."""
    doc = load_json_object(entry.body, "entry body", TlogError)
    if entry.kind_version is not None and entry.kind_version != (
        doc.get("kind"),
        doc.get("apiVersion"),
    ):
        raise TlogError("kindVersion does not match the entry body")
    if isinstance(material, DsseMaterial):
        _check_dsse_body(doc, material)
    else:
        _check_message_body(doc, material)


# -- inclusion --------------------------------------------------------------------------------


def leaf_hash(body: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || body)."""
    return hashlib.sha256(b"\x00" + body).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_proof(index: int, size: int, leaf: bytes, hashes: Sequence[bytes]) -> bytes:
    """The root an audit path leads to (RFC 9162 §2.1.3.2). Raises :class:`TlogError` when
    the index is out of range or the path has the wrong length."""
    if not 0 <= index < size:
        raise TlogError(f"inclusion proof index {index} is outside a tree of size {size}")
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    if len(hashes) != inner + border:
        raise TlogError(
            f"inclusion proof has {len(hashes)} hashes, a tree of size {size} needs "
            f"{inner + border} for index {index}"
        )
    node = leaf
    for i, sibling in enumerate(hashes[:inner]):
        node = node_hash(node, sibling) if (index >> i) & 1 == 0 else node_hash(sibling, node)
    for sibling in hashes[inner:]:
        node = node_hash(sibling, node)
    return node


def verify_checkpoint(text: str, log: LogKey, proof: InclusionProof) -> None:
    """Verify a checkpoint (signed note): one signature line whose 4-byte hint is the start of
    the log id verifies over the note text with the log key, and the note's size and root hash
    are the proof's. Raises :class:`TlogError`."""
    if text.count("\n\n") != 1:
        raise TlogError("checkpoint must have exactly one blank line before its signatures")
    split = text.index("\n\n")
    note, block = text[: split + 1], text[split + 2 :]
    if not block.endswith("\n"):
        raise TlogError("checkpoint signature block must end with a newline")
    hint = bytes.fromhex(log.log_id)[:4]
    candidates = []
    for line in block[:-1].split("\n"):
        match = _SIGNATURE_LINE.match(line)
        if match is None:
            raise TlogError("checkpoint has a malformed signature line")
        raw = _b64(match.group(2), "checkpoint signature")
        if len(raw) < 5:
            raise TlogError("checkpoint signature is too short")
        if raw[:4] == hint:
            candidates.append(raw[4:])
    if not candidates:
        raise TlogError("checkpoint is not signed by the log key")
    if not any(_verifies(log.key, sig, note.encode()) for sig in candidates):
        raise TlogError("checkpoint signature does not verify with the log key")
    lines = note.rstrip("\n").split("\n")
    if len(lines) < 3 or not lines[0]:
        raise TlogError("checkpoint note needs an origin, a size and a root hash")
    if not lines[1].isdigit() or int(lines[1]) != proof.tree_size:
        raise TlogError(f"checkpoint size {lines[1][:20]!r} is not the proof's {proof.tree_size}")
    if _b64(lines[2], "checkpoint root hash") != proof.root_hash:
        raise TlogError("checkpoint root hash is not the inclusion proof's root hash")


def _verifies(key: PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except VerificationError:
        return False
    return True


def canonical_set_payload(entry: TlogEntry) -> bytes:
    """The bytes a SET signs: RFC 8785 JSON of body, integratedTime, logID, logIndex (only
    ASCII strings and integers, so sorted compact ``json.dumps`` is the RFC 8785 form)."""
    doc = {
        "body": entry.body_b64,
        "integratedTime": entry.integrated_time,
        "logID": entry.log_id,
        "logIndex": entry.log_index,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify_entry(entry: TlogEntry, logs: Iterable[LogKey], material: Material) -> None:
    """Run every check of the module docstring on one entry. Raises :class:`TlogError`."""
    log = next((k for k in logs if k.log_id == entry.log_id), None)
    if log is None:
        raise TlogError(f"log id {entry.log_id[:16]}… is not a log of the trusted root")
    try:
        when = datetime.fromtimestamp(entry.integrated_time, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise TlogError(f"integrated time {entry.integrated_time} is out of range") from exc
    if not log.covers(when):
        window = (
            f"{log.valid_from.isoformat() if log.valid_from else '…'} to "
            f"{log.valid_until.isoformat() if log.valid_until else '…'}"
        )
        raise TlogError(
            f"integrated time {when.isoformat()} is outside the validity of log key "
            f"{log.log_id[:12]} ({window})"
        )
    if entry.signed_entry_timestamp is None:
        raise TlogError("the entry has no inclusion promise (signed entry timestamp)")
    if not _verifies(log.key, entry.signed_entry_timestamp, canonical_set_payload(entry)):
        raise TlogError("the signed entry timestamp does not verify with the log key")
    if entry.proof is not None:
        proof = entry.proof
        leaf = leaf_hash(entry.body)
        root = root_from_proof(proof.log_index, proof.tree_size, leaf, proof.hashes)
        if root != proof.root_hash:
            raise TlogError("inclusion proof does not lead to its root hash")
        if proof.checkpoint is not None:
            verify_checkpoint(proof.checkpoint, log, proof)
    check_body(entry, material)


@dataclass(frozen=True, slots=True)
class TlogOutcome:
    """The tlog status of one signature and, when an entry failed, why it is rejected."""

    status: TlogStatus
    rejection: str | None = None


def check_tlog(evidence: TlogEvidence, logs: Sequence[LogKey], material: Material) -> TlogOutcome:
    """``absent`` without entries; ``unverified`` when entries are present but no log key was
    given; ``verified`` when every entry verifies; otherwise ``unverified`` with a rejection
    (a forged or mismatched entry is an attack signal, whatever the policy says)."""
    if not evidence.present:
        return TlogOutcome(TlogStatus.ABSENT)
    if not logs:
        return TlogOutcome(TlogStatus.UNVERIFIED)
    if evidence.malformed is not None:
        reason = evidence.malformed
    else:
        reasons = []
        for entry in evidence.entries:
            try:
                verify_entry(entry, logs, material)
            except VerificationError as exc:
                reasons.append(exc.diagnostics())
        if not reasons:
            return TlogOutcome(TlogStatus.VERIFIED)
        reason = "; ".join(reasons)
    rejection = f"transparency-log entry does not verify: {reason}"[:1000]
    return TlogOutcome(TlogStatus.UNVERIFIED, rejection)


def tlog_required_reason(status: TlogStatus, logs: Sequence[LogKey]) -> str:
    """Why a signature fails ``tlog: required`` with this status."""
    if status is TlogStatus.UNVERIFIED and not logs:
        return (
            "no verified transparency-log entry (the policy requires tlog): an entry is present "
            "but no trusted root with Rekor keys was given (--trusted-root FILE or trusted-root:)"
        )
    if status is TlogStatus.ABSENT:
        return "no verified transparency-log entry (the policy requires tlog): none is present"
    return f"no verified transparency-log entry (the policy requires tlog; entry {status})"
