"""Signing DSSE envelopes with a PEM private key (``verify --format vsa --sign-key KEY.pem``).

Keys: PKCS#8 or traditional PEM. ECDSA P-256 signs SHA-256 (DER signature), Ed25519 signs the
message itself, RSA (2048 bits or more) signs PKCS#1 v1.5 with SHA-256: what cosign's verifier
loads for an RSA public key (sigstore ``LoadVerifier``), so ``cosign verify-attestation --key``
accepts it. An encrypted key is decrypted with the password in ``$PROVCHECK_SIGN_KEY_PASSWORD``;
without it, it is refused with a clear error. Every envelope is verified with the key's public
half before it is returned (one verifier: :mod:`provcheck.attestation.dsse`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from provcheck._internal.files import read_capped
from provcheck.attestation.dsse import IN_TOTO_PAYLOAD_TYPE, pae, parse_envelope, verify_envelope
from provcheck.attestation.keys import MAX_KEY_FILE_BYTES, PublicKey, parse_public_key
from provcheck.errors import UsageError, VerificationError

PASSWORD_VARIABLE: Final = "PROVCHECK_SIGN_KEY_PASSWORD"
_MIN_RSA_BITS: Final = 2048

PrivateKeyType = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key that signs envelopes, and its public half (id, algorithm)."""

    public: PublicKey
    key: PrivateKeyType = field(compare=False, hash=False, repr=False)

    def sign(self, message: bytes) -> bytes:
        """The signature of ``message`` (see the module docstring for the schemes)."""
        key = self.key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(message)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(message, ec.ECDSA(hashes.SHA256()))
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def parse_signing_key(pem: bytes, source: str, password: bytes | None = None) -> SigningKey:
    """Load a PEM private key. Raises :class:`UsageError` when it is not one, is encrypted and
    no (or a wrong) ``password`` is given, or is of an unsupported kind (an ECDSA curve other
    than P-256, RSA under 2048 bits, DSA, X25519, ...)."""
    if b"ENCRYPTED SIGSTORE PRIVATE KEY" in pem:
        raise UsageError(
            f"{source}: cosign's encrypted key format is not supported; give a PEM (PKCS#8) key"
        )
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError as exc:  # encrypted without a password, or a password for a plain key
        if password is None:
            raise UsageError(
                f"{source}: the private key is encrypted: put its password in ${PASSWORD_VARIABLE}"
            ) from exc
        raise UsageError(
            f"{source}: the private key is not encrypted; unset ${PASSWORD_VARIABLE}"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        hint = " (or the password is wrong)" if password is not None else ""
        raise UsageError(f"{source}: not a usable PEM private key{hint}") from exc
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name != "secp256r1":
            raise UsageError(f"{source}: ECDSA keys must be P-256, not {key.curve.name}")
    elif isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise UsageError(f"{source}: RSA key of {key.key_size} bits is too small")
    elif not isinstance(key, ed25519.Ed25519PrivateKey):
        raise UsageError(f"{source}: unsupported private key type {type(key).__name__}")
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(parse_public_key(public_pem, source), key)


def load_signing_key(path: Path, environ: Mapping[str, str]) -> SigningKey:
    """Read a PEM private key file, decrypted with ``environ[PROVCHECK_SIGN_KEY_PASSWORD]``
    when set. Raises :class:`UsageError` (unreadable, unsupported, encrypted without it)."""
    pem = read_capped(path, MAX_KEY_FILE_BYTES, "signing key file")
    password = environ.get(PASSWORD_VARIABLE)
    return parse_signing_key(pem, str(path), password.encode() if password else None)


def sign_envelope(
    payload: bytes, key: SigningKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> bytes:
    """A DSSE envelope (JSON bytes, sorted keys) over ``payload``, signed over the PAE and
    verified with the public key before it is returned. Raises :class:`VerificationError` if it
    does not verify (a bug)."""
    signature = key.sign(pae(payload_type, payload))
    doc = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode("ascii")}],
    }
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")
    if verify_envelope(parse_envelope(data), [key.public], payload_type=payload_type) != payload:
        raise VerificationError("the signed envelope does not carry the payload")
    return data
