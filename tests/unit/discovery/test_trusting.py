""":func:`settle` rejects a store envelope bound to another image on the typed binding, and
says every reason (the old filter ``"subjects" not in message`` dropped reasons by their text).

The image is a real synthetic BuildKit layout (tests/oci_builder.py) read by discovery; the
envelope is what a signature store would hold (a cosign ``.att`` layer, signed by a trusted
Ed25519 key), handed to :func:`settle` directly.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provcheck.api import inspect_image
from provcheck.attestation.dsse import parse_envelope
from provcheck.attestation.keys import parse_public_key
from provcheck.attestation.signatures import RejectionReason, TrustConfig
from provcheck.discovery.model import AttestationForm, AttestationOrigin, ProblemKind
from provcheck.discovery.stores.found import Found, StoredEnvelope, Target, TargetRole
from provcheck.discovery.stores.trusting import settle
from provcheck.oci import mediatypes as mt
from provcheck.oci.model import Descriptor
from tests.oci_builder import (
    ImageBuilder,
    compact_bytes,
    descriptor,
    dsse_envelope,
    provenance_statement,
)

SLSA_V02 = "https://slsa.dev/provenance/v0.2"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def test_a_misbound_store_envelope_is_rejected_with_every_reason(tmp_path: Path) -> None:
    builder = ImageBuilder("stores")
    amd64, arm64 = (builder.add_platform(p) for p in ("linux/amd64", "linux/arm64"))
    for entry in (amd64, arm64):
        builder.attest(entry, [provenance_statement(entry.digest, platform=entry.platform)])
    layout = builder.build().write_layout(tmp_path / "l")
    found = inspect_image(f"oci-layout://{layout}:1")
    # names the amd64 manifest, but as arm64, under an image and predicate type that say
    # "subjects", and the layer annotation contradicts the predicate type
    doc = provenance_statement(
        amd64.digest, platform="linux/arm64", image="registry.test/subjects/app:1"
    )
    doc["predicateType"] = "https://example.com/subjects/v1"
    raw = compact_bytes(dsse_envelope(doc, [KEY.sign]))
    layer = Descriptor.from_dict(descriptor(mt.DSSE_ENVELOPE, raw))
    manifest = Descriptor.from_dict(descriptor(mt.OCI_MANIFEST, b"{}"))
    item = StoredEnvelope(
        AttestationOrigin.COSIGN_TAG,
        AttestationForm.COSIGN,
        manifest,
        0,
        layer,
        Target(found.descriptor, TargetRole.ROOT),
        SLSA_V02,
        parse_envelope(raw),
        raw=raw,
    )
    pem = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    trust = TrustConfig((parse_public_key(pem),))
    settled = settle(found, Found(envelopes=[item]), set(), trust)
    (signed,) = settled.signed
    assert signed.check.rejected_for(RejectionReason.BOUND_ELSEWHERE)
    (message,) = signed.check.messages
    assert message.startswith("its statement is bound to another image (subjects name ")
    assert "layer annotation says predicate type" in message
    assert "names platform linux/arm64, but the manifest is linux/amd64" in message
    problems = [p for p in settled.problems if p.kind is ProblemKind.BINDING]
    assert len(problems) == 1 and "pkg:docker/registry.test/subjects/app@1" in problems[0].message
    for image in settled.images:  # never evidence
        assert all(m.origin is AttestationOrigin.INDEX for m in image.attestations)
