"""Public keys for signature verification: PEM SubjectPublicKeyInfo (``cosign.pub`` included).

Supported: ECDSA P-256 / P-384 / P-521, Ed25519, RSA (>= 2048 bits). Which scheme verifies:

* ECDSA: DER signatures (a raw ``r || s`` of twice the field size is accepted too), hashed with
  the curve's hash (P-256: SHA-256, P-384: SHA-384, P-521: SHA-512), then with SHA-256, which
  some signers use on every curve. A signature is accepted when one of them verifies.
* Ed25519: pure Ed25519 over the message.
* RSA: PKCS#1 v1.5 with SHA-256, then PSS (MGF1-SHA-256, any salt length) with SHA-256.

The key id is the lowercase hex SHA-256 of the DER SubjectPublicKeyInfo (sigstore's key hint is
the same digest in base64).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from provcheck._internal.files import read_capped
from provcheck.errors import UsageError, VerificationError

MAX_KEY_FILE_BYTES: Final = 64 * 1024
_MIN_RSA_BITS: Final = 2048
_CURVE_HASH: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}

PublicKeyType = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A trusted public key: its id, algorithm name, where it came from, and the key itself."""

    key_id: str
    algorithm: str
    source: str
    key: PublicKeyType = field(compare=False, hash=False, repr=False)

    @property
    def hint(self) -> str:
        """The sigstore ``publicKey.hint`` form of the key id (base64 of the SHA-256)."""
        return base64.b64encode(bytes.fromhex(self.key_id)).decode()

    def verify(self, signature: bytes, message: bytes) -> None:
        """Verify ``signature`` over ``message``; raise :class:`VerificationError` if it fails."""
        key = self.key
        if isinstance(key, ed25519.Ed25519PublicKey):
            try:
                key.verify(signature, message)
                return
            except InvalidSignature:
                pass
        elif isinstance(key, ec.EllipticCurvePublicKey):
            for der in _ecdsa_forms(key, signature):
                for algorithm in _ecdsa_hashes(key):
                    try:
                        key.verify(der, message, ec.ECDSA(algorithm))
                        return
                    except InvalidSignature:
                        continue
        else:
            schemes: tuple[padding.AsymmetricPadding, ...] = (
                padding.PKCS1v15(),
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
            )
            for scheme in schemes:
                try:
                    key.verify(signature, message, scheme, hashes.SHA256())
                    return
                except InvalidSignature:
                    continue
        raise VerificationError(f"signature does not verify with {self.algorithm} key {self.short}")

    @property
    def short(self) -> str:
        """The first 12 hex digits of the key id, for messages."""
        return self.key_id[:12]


def _ecdsa_hashes(key: ec.EllipticCurvePublicKey) -> list[hashes.HashAlgorithm]:
    preferred = _CURVE_HASH[key.curve.name]()
    return [preferred] if isinstance(preferred, hashes.SHA256) else [preferred, hashes.SHA256()]


def _ecdsa_forms(key: ec.EllipticCurvePublicKey, signature: bytes) -> list[bytes]:
    """The signature as DER, plus its conversion when it is a raw ``r || s`` pair."""
    size = (key.curve.key_size + 7) // 8
    forms = [signature]
    if len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        forms.append(utils.encode_dss_signature(r, s))
    return forms


def parse_public_key(pem: bytes, source: str = "<key>") -> PublicKey:
    """Load one PEM public key (SubjectPublicKeyInfo).

    Raises :class:`UsageError` when it is not a PEM public key, or of an unsupported kind
    (DSA, X25519, an unsupported curve, RSA under 2048 bits).
    """
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UsageError(f"{source}: not a PEM public key ({exc})") from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVE_HASH:
            raise UsageError(f"{source}: unsupported elliptic curve {key.curve.name}")
        algorithm = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384"}.get(
            key.curve.name, "ecdsa-p521"
        )
    elif isinstance(key, ed25519.Ed25519PublicKey):
        algorithm = "ed25519"
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise UsageError(f"{source}: RSA key of {key.key_size} bits is too small")
        algorithm = f"rsa-{key.key_size}"
    else:
        raise UsageError(f"{source}: unsupported public key type {type(key).__name__}")
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(hashlib.sha256(der).hexdigest(), algorithm, source, key)


def load_public_key(path: Path) -> PublicKey:
    """Read a PEM public key file. Raises :class:`UsageError` when unreadable or unsupported."""
    return parse_public_key(read_capped(path, MAX_KEY_FILE_BYTES, "key file"), str(path))
