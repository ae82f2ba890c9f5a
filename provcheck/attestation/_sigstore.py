"""Keyless verification of sigstore bundles through the optional ``sigstore`` extra.

Imported lazily; fully offline: the trust root comes only from the ``trusted_root`` file, and no
network access is attempted (sigstore's Verifier builds a Rekor client but does not call it when
the bundle carries its inclusion proof).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from provcheck.attestation.signatures import Identity
from provcheck.errors import VerificationError


def _sigstore() -> tuple[Any, Any, Any]:
    try:
        models = importlib.import_module("sigstore.models")
        verify = importlib.import_module("sigstore.verify")
        policy = importlib.import_module("sigstore.verify.policy")
    except ImportError as exc:
        raise VerificationError(
            "keyless verification needs the optional extra: pip install 'provcheck[sigstore]'"
        ) from exc
    return models, verify, policy


def verify_keyless_dsse(
    bundle: bytes, identities: tuple[Identity, ...], trusted_root: Path | None
) -> tuple[str, bytes, str]:
    """Verify a keyless DSSE bundle: certificate chain, transparency log, identity.

    Returns (payload type, payload bytes, the identity that matched). Raises
    :class:`VerificationError` when the extra is missing, no trusted root was given, or nothing
    verifies.
    """
    if trusted_root is None:
        raise VerificationError("keyless verification needs a trusted root (--trusted-root FILE)")
    if not identities:
        raise VerificationError("keyless signature, but the policy trusts no identity")
    models, verify, policy = _sigstore()
    try:
        verifier = verify.Verifier(trusted_root=models.TrustedRoot.from_file(str(trusted_root)))
        parsed = models.Bundle.from_json(bundle)
    except Exception as exc:  # sigstore raises many unrelated types
        raise VerificationError(f"cannot load the bundle or trusted root: {exc}") from exc
    reasons = []
    for identity in identities:
        try:
            payload_type, payload = verifier.verify_dsse(
                parsed,
                policy.AllOf(
                    [
                        policy.OIDCIssuer(identity.issuer),
                        _SubjectPattern(identity, policy),
                    ]
                ),
            )
        except Exception as exc:  # VerificationError of sigstore and friends
            reasons.append(f"{identity}: {exc}")
            continue
        return str(payload_type), bytes(payload), str(identity)
    raise VerificationError("; ".join(reasons)[:1000] or "no identity matched")


class _SubjectPattern:
    """A sigstore verification policy: the certificate SAN matches the identity's pattern."""

    def __init__(self, identity: Identity, policy: Any) -> None:
        self._identity = identity
        self._policy = policy

    def verify(self, cert: Any) -> None:
        from cryptography.x509 import (
            RFC822Name,
            SubjectAlternativeName,
            UniformResourceIdentifier,
        )

        san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
        names = [*san.get_values_for_type(UniformResourceIdentifier)]
        names += san.get_values_for_type(RFC822Name)
        if not any(self._identity.matches(self._identity.issuer, n) for n in names):
            raise VerificationError(
                f"certificate identity {names!r} does not match {self._identity.subject_regexp!r}"
            )
