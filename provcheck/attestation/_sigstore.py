"""Keyless verification of sigstore bundles through the optional ``sigstore`` extra.

The only module that imports ``sigstore`` (sigstore-python 4.5), and only when a keyless bundle
is verified. Fully offline: the trust root comes only from the user's trusted root (never from
sigstore's TUF cache or the network), read once with the policy; sigstore's model of it and the
``sigstore.verify.Verifier`` are built once per :class:`~provcheck.attestation.tlog.TrustedRoot`
and shared by every bundle. The verifier builds a Rekor client from the root's URL but never
calls it, because a v0.3 bundle carries its inclusion proof.

What sigstore checks (``Verifier.verify_dsse``): the leaf chains to a ``certificateAuthorities``
chain of the trusted root at the entry's ``integratedTime`` (the only verified time, via its
inclusion promise; an evaluation instant, ``--at``, before it rejects the signature in
:mod:`provcheck.attestation.verify`: it did not exist yet), its embedded SCT verifies under a
``ctlogs`` key, key usage and the code-signing EKU, the identity policy below, the Merkle
inclusion proof, checkpoint and inclusion promise under a ``tlogs`` key, the DSSE signature
under the leaf key, and that the ``dsse`` entry describes this envelope. Exactly one
transparency-log entry is required.

The identity policy: the OIDC issuer (extension 1.3.6.1.4.1.57264.1.8, DER UTF8String, or the
legacy 1.3.6.1.4.1.57264.1.1, raw bytes; both must agree when both are present) equals the
identity's issuer, and a SAN (URI or e-mail) fully matches its ``subject-regexp``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from provcheck._internal.jsonload import load_json_object
from provcheck.attestation.signatures import Identity
from provcheck.errors import VerificationError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from provcheck.attestation.tlog import TrustedRoot

_ISSUER_V1: Final = "1.3.6.1.4.1.57264.1.1"
_ISSUER_V2: Final = "1.3.6.1.4.1.57264.1.8"
_EXTRA: Final = "keyless verification needs the optional extra: pip install 'provcheck[sigstore]'"


def verify_keyless_dsse(
    bundle: bytes, identities: tuple[Identity, ...], trusted_root: TrustedRoot | None
) -> tuple[str, bytes, str, datetime | None]:
    """Verify a keyless DSSE bundle: certificate chain, SCT, transparency log, identity.

    Returns (payload type, payload bytes, the identity that matched, the entry's
    ``integratedTime``, which its inclusion promise signs: when the signature is known to have
    existed; ``None`` when the bundle gives none). Raises
    :class:`VerificationError` when no trusted root was given, the policy trusts no identity,
    the bundle has no transparency-log entry, the extra is missing, or nothing verifies. Never
    touches the network.
    """
    if trusted_root is None:
        raise VerificationError(
            "keyless verification needs a trusted root (policy signatures.trusted-root or "
            "--trusted-root FILE); it is never fetched"
        )
    if not identities:
        raise VerificationError("keyless signature, but the policy trusts no identity")
    if not _tlog_entries(bundle):
        raise VerificationError(
            "keyless signature without a transparency-log entry (keyless always requires one)"
        )
    try:
        from sigstore.models import Bundle
        from sigstore.verify.policy import AllOf
    except ImportError as exc:
        raise VerificationError(_EXTRA) from exc
    verifier = _verifier(trusted_root)
    try:
        parsed = Bundle.from_json(bundle)
    except Exception as exc:
        raise VerificationError(f"cannot load the sigstore bundle: {exc}") from exc
    reasons = []
    for identity in identities:
        subject = _SubjectPolicy(identity)
        try:
            payload_type, payload = verifier.verify_dsse(
                parsed, AllOf([_IssuerPolicy(identity.issuer), subject])
            )
        except Exception as exc:  # sigstore.errors.VerificationError and friends
            reasons.append(f"identity {identity}: {exc}")
            continue
        # Who signed, as the certificate says (what an auditor needs), not the policy pattern.
        who = f"{subject.matched} (issuer {identity.issuer})"
        return payload_type, payload, who, _integrated_time(bundle)
    raise VerificationError("; ".join(reasons)[:1500])


def _integrated_time(bundle: bytes) -> datetime | None:
    """The ``integratedTime`` of the bundle's one transparency-log entry (verified by sigstore
    through the inclusion promise), or ``None``."""
    doc = load_json_object(bundle, "sigstore bundle", VerificationError)
    material = doc.get("verificationMaterial")
    entries = material.get("tlogEntries") if isinstance(material, dict) else None
    entry = entries[0] if isinstance(entries, list) and len(entries) == 1 else None
    value = entry.get("integratedTime") if isinstance(entry, dict) else None
    try:
        return datetime.fromtimestamp(int(value), UTC) if isinstance(value, str | int) else None
    except (ValueError, OverflowError, OSError):
        return None


def _verifier(root: TrustedRoot) -> Any:
    """sigstore's ``Verifier`` for ``root``, built on first use and kept with it (two threads
    may both build it; either result is the same). Raises :class:`VerificationError`."""
    if root.keyless_verifier:
        return root.keyless_verifier[0]
    from sigstore.models import TrustedRoot as SigstoreRoot
    from sigstore.verify import Verifier
    from sigstore_models.trustroot import v1 as trustroot_v1

    try:
        inner = trustroot_v1.TrustedRoot.from_json(root.data)
        verifier = Verifier(trusted_root=SigstoreRoot(inner))
    except Exception as exc:  # sigstore, pydantic and cryptography raise unrelated types
        raise VerificationError(f"cannot use the trusted root {root.source}: {exc}") from exc
    if not root.keyless_verifier:
        root.keyless_verifier.append(verifier)
    return root.keyless_verifier[0]


def _tlog_entries(bundle: bytes) -> int:
    """How many ``verificationMaterial.tlogEntries`` the bundle has (0 when unreadable)."""
    try:
        doc = load_json_object(bundle, "sigstore bundle", VerificationError)
    except VerificationError:
        return 0
    material = doc.get("verificationMaterial")
    entries = material.get("tlogEntries") if isinstance(material, dict) else None
    return len(entries) if isinstance(entries, list) else 0


def _der_utf8_string(data: bytes) -> str:
    """The value of a DER UTF8String. Raises ``ValueError`` when ``data`` is not one."""
    if len(data) < 2 or data[0] != 0x0C:
        raise ValueError("not a DER UTF8String")
    length, offset = data[1], 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or len(data) < 2 + size:
            raise ValueError("bad DER length")
        length, offset = int.from_bytes(data[2 : 2 + size], "big"), 2 + size
    if len(data) != offset + length:
        raise ValueError("DER UTF8String length does not match")
    return data[offset:].decode("utf-8")


def certificate_issuer(cert: Certificate) -> str:
    """The OIDC issuer Fulcio wrote into ``cert``. Raises :class:`VerificationError` when it
    has none, it is malformed, or its two extensions disagree."""
    from cryptography.x509 import ExtensionNotFound, ObjectIdentifier, UnrecognizedExtension

    found: list[str] = []
    for dotted in (_ISSUER_V2, _ISSUER_V1):
        try:
            ext = cert.extensions.get_extension_for_oid(ObjectIdentifier(dotted)).value
        except ExtensionNotFound:
            continue
        if not isinstance(ext, UnrecognizedExtension):
            raise VerificationError(f"certificate issuer extension {dotted} is malformed")
        try:
            found.append(
                _der_utf8_string(ext.value) if dotted == _ISSUER_V2 else ext.value.decode("utf-8")
            )
        except ValueError as exc:
            raise VerificationError(
                f"certificate issuer extension {dotted} is malformed: {exc}"
            ) from exc
    if not found:
        raise VerificationError("certificate has no OIDC issuer extension")
    if len(set(found)) > 1:
        raise VerificationError(f"certificate issuer extensions disagree: {found!r}")
    return found[0]


class _IssuerPolicy:
    """A sigstore verification policy: the certificate's OIDC issuer is exactly ``issuer``."""

    def __init__(self, issuer: str) -> None:
        self._issuer = issuer

    def verify(self, cert: Certificate) -> None:
        issuer = certificate_issuer(cert)
        if issuer != self._issuer:
            raise VerificationError(
                f"certificate issuer {issuer[:200]!r} is not {self._issuer[:200]!r}"
            )


class _SubjectPolicy:
    """A sigstore verification policy: a certificate SAN fully matches the identity's pattern."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self.matched = ""
        """The certificate SAN that matched, once :meth:`verify` passed."""

    def verify(self, cert: Certificate) -> None:
        from cryptography.x509 import (
            ExtensionNotFound,
            RFC822Name,
            SubjectAlternativeName,
            UniformResourceIdentifier,
        )

        try:
            san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
        except ExtensionNotFound as exc:
            raise VerificationError("certificate has no subject alternative name") from exc
        names = [*san.get_values_for_type(UniformResourceIdentifier)]
        names += san.get_values_for_type(RFC822Name)
        matched = [n for n in names if self._identity.matches(self._identity.issuer, n)]
        if matched:
            self.matched = matched[0]
        else:
            raise VerificationError(
                f"certificate subject {', '.join(names)[:300]!r} does not match "
                f"{self._identity.subject_regexp!r}"
            )
