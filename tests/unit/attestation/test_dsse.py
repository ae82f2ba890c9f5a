"""DSSE: PAE byte lengths, base64 variants, keys of each algorithm, securesystemslib oracle."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from provcheck.attestation.dsse import (
    b64decode_any,
    check_envelope,
    pae,
    parse_envelope,
    verify_envelope,
)
from provcheck.attestation.keys import load_public_key, parse_public_key
from provcheck.errors import EnvelopeError, UsageError, VerificationError
from tests.paths import FIXTURES_DIR

SIGNED = FIXTURES_DIR / "signed"
KEYS = SIGNED / "keys"


def att_envelope(case: str) -> bytes:
    """The first DSSE layer of the case's cosign .att tag."""
    layout = SIGNED / case
    index = json.loads((layout / "index.json").read_text())
    (entry,) = [
        d
        for d in index["manifests"]
        if d["annotations"]["org.opencontainers.image.ref.name"].endswith(".att")
    ]
    manifest = json.loads(_blob(layout, entry["digest"]))
    return _blob(layout, manifest["layers"][0]["digest"])


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def test_pae_matches_the_spec_example() -> None:
    body = b'{"_type":"https://in-toto.io/Statement/v1"}'
    assert pae("application/vnd.in-toto+json", body) == (
        b"DSSEv1 28 application/vnd.in-toto+json 43 " + body
    )


@given(st.text(), st.binary())
def test_pae_counts_bytes_not_characters(payload_type: str, payload: bytes) -> None:
    encoded = pae(payload_type, payload)
    t = payload_type.encode()
    assert encoded == b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + (
        str(len(payload)).encode() + b" " + payload
    )


@given(st.binary())
def test_base64_standard_and_url_safe_padded_or_not(data: bytes) -> None:
    for text in (
        base64.b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
    ):
        assert b64decode_any(text) == data


def test_bad_base64_and_malformed_envelopes_raise() -> None:
    with pytest.raises(EnvelopeError):
        b64decode_any("not base64 !!")
    docs: tuple[object, ...] = ({}, {"payloadType": "x", "payload": "", "signatures": []}, [])
    for doc in docs:
        with pytest.raises(EnvelopeError):
            parse_envelope(json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("case", "key"),
    [
        ("legacy-p256", "p256"),
        ("legacy-ed25519", "ed25519"),
        ("dsse-p384", "p384"),
        ("dsse-rsa-pkcs1v15", "rsa3072"),
        ("dsse-rsa-pss", "rsa3072"),
    ],
)
def test_fixture_envelopes_verify_with_their_key_only(case: str, key: str) -> None:
    envelope = parse_envelope(att_envelope(case))
    trusted = load_public_key(KEYS / f"{key}.pub")
    payload = verify_envelope(envelope, [trusted])
    assert json.loads(payload)["predicateType"] == "https://slsa.dev/provenance/v0.2"
    with pytest.raises(VerificationError, match="0 of 1 required distinct"):
        verify_envelope(envelope, [load_public_key(KEYS / "other-p256.pub")])


def test_real_i_cosign_attestation_verifies_with_cosign_pub() -> None:
    layout = FIXTURES_DIR / "real" / "i-cosign" / "oci-layout"
    manifest = json.loads(
        _blob(layout, "sha256:3b86f99cacf5612ae764938217e613dfec9592e9ef129aca616a4c7e3334ccf4")
    )
    envelope = parse_envelope(_blob(layout, manifest["layers"][0]["digest"]))
    key = load_public_key(FIXTURES_DIR / "real" / "i-cosign" / "cosign.pub")
    assert verify_envelope(envelope, [key]) == envelope.payload


def test_tampered_payload_and_wrong_type_fail() -> None:
    envelope = parse_envelope(att_envelope("legacy-p256"))
    key = load_public_key(KEYS / "p256.pub")
    tampered = envelope.__class__(
        envelope.payload_type, envelope.payload + b" ", envelope.signatures
    )
    assert check_envelope(tampered, [key]).key_ids == ()
    with pytest.raises(VerificationError, match="payload type"):
        verify_envelope(envelope, [key], payload_type="text/plain")


def test_threshold_counts_distinct_keys() -> None:
    payload = b"{}"
    p256 = ec.generate_private_key(ec.SECP256R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    message = pae("application/vnd.in-toto+json", payload)
    sig1 = p256.sign(message, ec.ECDSA(hashes.SHA256()))
    sig1b = p256.sign(message, ec.ECDSA(hashes.SHA256()))
    sig2 = ed.sign(message)

    def env(*sigs: bytes) -> bytes:
        return json.dumps(
            {
                "payloadType": "application/vnd.in-toto+json",
                "payload": base64.b64encode(payload).decode(),
                "signatures": [{"sig": base64.b64encode(s).decode()} for s in sigs],
            }
        ).encode()

    keys = [parse_public_key(_pem(p256)), parse_public_key(_pem(ed))]
    assert verify_envelope(parse_envelope(env(sig1, sig2)), keys, threshold=2) == payload
    with pytest.raises(VerificationError, match="1 of 2 required distinct"):
        verify_envelope(parse_envelope(env(sig1, sig1b)), keys, threshold=2)
    with pytest.raises(VerificationError, match="threshold"):
        verify_envelope(parse_envelope(env(sig1)), keys, threshold=0)


def _pem(private: object) -> bytes:
    public = private.public_key()  # type: ignore[attr-defined]
    return bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def test_raw_ecdsa_signature_and_rsa_pss_any_salt() -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key = ec.generate_private_key(ec.SECP384R1())
    der = key.sign(b"m", ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    parse_public_key(_pem(key)).verify(raw, b"m")
    rsa_key = rsa.generate_private_key(65537, 2048)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    parse_public_key(_pem(rsa_key)).verify(rsa_key.sign(b"m", pss, hashes.SHA256()), b"m")
    with pytest.raises(VerificationError):
        parse_public_key(_pem(rsa_key)).verify(rsa_key.sign(b"m", pss, hashes.SHA256()), b"n")


def test_unsupported_keys_are_usage_errors() -> None:
    small = rsa.generate_private_key(65537, 1024)
    with pytest.raises(UsageError, match="too small"):
        parse_public_key(_pem(small))
    with pytest.raises(UsageError, match="not a PEM public key"):
        parse_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_key_id_is_sha256_of_spki_and_matches_cosign_bundle_hint() -> None:
    key = load_public_key(KEYS / "p256.pub")
    assert len(key.key_id) == 64
    bundles = list((SIGNED / "bundle-p256" / "blobs" / "sha256").iterdir())
    hints = {
        json.loads(p.read_bytes())["verificationMaterial"]["publicKey"]["hint"]
        for p in bundles
        if b'"verificationMaterial"' in p.read_bytes()
    }
    assert hints == {key.hint}


securesystemslib = pytest.importorskip("securesystemslib")


@pytest.mark.parametrize(
    ("case", "key", "scheme"),
    [
        ("legacy-p256", "p256", "ecdsa-sha2-nistp256"),
        ("legacy-ed25519", "ed25519", "ed25519"),
        ("dsse-p384", "p384", "ecdsa-sha2-nistp384"),
        ("dsse-rsa-pkcs1v15", "rsa3072", "rsa-pkcs1v15-sha256"),
        ("dsse-rsa-pss", "rsa3072", "rsassa-pss-sha256"),
    ],
)
def test_cross_check_with_securesystemslib(case: str, key: str, scheme: str) -> None:
    from securesystemslib.dsse import Envelope as SslEnvelope
    from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

    raw = json.loads(att_envelope(case))
    ours = parse_envelope(att_envelope(case))
    theirs = SslEnvelope.from_dict(
        {**raw, "signatures": [{"keyid": "k", "sig": s["sig"]} for s in raw["signatures"]]}
    )
    assert theirs.pae() == pae(ours.payload_type, ours.payload)
    public = serialization.load_pem_public_key((KEYS / f"{key}.pub").read_bytes())
    ssl_key = SSlibKey.from_crypto(public, keyid="k", scheme=scheme)
    assert list(theirs.verify([ssl_key], 1)) == ["k"]
    assert verify_envelope(ours, [load_public_key(KEYS / f"{key}.pub")]) == theirs.payload
