"""Trust material and signature outcomes as plain data (what discovery records, rules read)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from provcheck.errors import UsageError

if TYPE_CHECKING:  # values of these types are made by callers that already imported them
    from datetime import datetime

    from provcheck.attestation.keys import PublicKey
    from provcheck.attestation.tlog import LogKey, TrustedRoot


@dataclass(frozen=True, slots=True)
class Identity:
    """A keyless signer: the OIDC issuer (exact) and a regular expression over the subject (SAN).

    Raises :class:`UsageError` when the pattern does not compile.
    """

    issuer: str
    subject_regexp: str

    def __post_init__(self) -> None:
        try:
            re.compile(self.subject_regexp)
        except re.error as exc:
            raise UsageError(f"invalid subject-regexp {self.subject_regexp!r}: {exc}") from exc

    def matches(self, issuer: str, subject: str) -> bool:
        """True when ``issuer`` is this issuer and ``subject`` fully matches the pattern."""
        return issuer == self.issuer and re.fullmatch(self.subject_regexp, subject) is not None

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject_regexp}"


@dataclass(frozen=True, slots=True)
class TrustConfig:
    """Who is trusted to sign, how many must, and whether a transparency-log entry is required.

    ``threshold``: how many distinct trusted keys or identities must have validly signed the
    bytes that chain to a statement (see :func:`threshold_rejection`). Keyless verification
    (``identities``) always requires a transparency-log entry and needs ``trusted_root``, whose
    Rekor keys (:attr:`log_keys`) also check the entries found with key-based signatures:
    entries are checked when present, and required only when ``tlog_required``. Everything is
    parsed already (nothing here reads a file). Raises :class:`UsageError` for a threshold
    below 1, or no key and no identity (fail closed).
    """

    keys: tuple[PublicKey, ...] = ()
    identities: tuple[Identity, ...] = ()
    threshold: int = 1
    trusted_root: TrustedRoot | None = None
    tlog_required: bool = False
    at: datetime | None = None
    """The evaluation instant (``--at``): a keyless signature logged after it is rejected."""

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise UsageError("signature threshold must be at least 1")
        if not self.keys and not self.identities:
            raise UsageError("signature verification needs at least one key or identity")

    @property
    def log_keys(self) -> tuple[LogKey, ...]:
        """The Rekor keys (``tlogs[]``) of the trusted root; empty without one."""
        return self.trusted_root.log_keys if self.trusted_root is not None else ()


_KEY_ID = re.compile(r"[0-9a-f]{64}")


def signer_label(signer: str) -> str:
    """A signer for messages: a key id (sha256 hex) shortened to 12 digits, an identity whole."""
    return signer[:12] if _KEY_ID.fullmatch(signer) else signer


class SignedKind(StrEnum):
    """What a signature covers."""

    ATTESTATION = "attestation"
    """A DSSE envelope over an in-toto statement (cosign ``.att``, sigstore bundle)."""
    IMAGE_SIGNATURE = "image-signature"
    """A signature over a manifest digest (cosign ``.sig``, ``cosign/sign/v1``): who pushed."""
    ATTESTATION_MANIFEST = "attestation-manifest"
    """A signature over an in-index attestation manifest (formats.md §8.4)."""


class RejectionReason(StrEnum):
    """Why a signature or signed statement is not accepted: decisions read this, never text."""

    NOT_VERIFIED = "not-verified"
    """No trusted key or identity was configured: nothing was checked."""
    UNREADABLE = "unreadable"
    """The envelope, bundle or signature could not be read or parsed."""
    PAYLOAD_TYPE = "payload-type"
    """The DSSE payload type is not an in-toto statement."""
    UNTRUSTED = "untrusted"
    """No trusted key or identity verified the signature."""
    TLOG = "tlog"
    """A transparency-log entry is present and does not verify."""
    TLOG_REQUIRED = "tlog-required"
    """The policy requires a verified transparency-log entry and there is none."""
    MALFORMED = "malformed"
    """The signed payload is not a statement or simple-signing payload of the expected type."""
    BOUND_ELSEWHERE = "bound-elsewhere"
    """What was signed describes another image than the one it was found for."""
    THRESHOLD = "threshold"
    """Fewer distinct trusted signers than the threshold signed the bytes."""
    SIGNED_LATER = "signed-later"
    """The log integrated the (keyless) signature after the evaluation instant."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """One reason, typed, with its message for people."""

    reason: RejectionReason
    message: str

    def __str__(self) -> str:
        return self.message


def threshold_rejection(signers: Iterable[str], threshold: int, what: str) -> Rejection | None:
    """The threshold, defined once: ``None`` when at least ``threshold`` distinct signers
    (key ids or identities; one signer counted once however often it signed) signed ``what``.

    ``signers`` must be those whose signatures verified over exactly the bytes that chain to
    the statement. Otherwise a :class:`RejectionReason.THRESHOLD` rejection saying k of n.
    """
    count = len(set(signers))
    if count >= threshold and count > 0:
        return None
    return Rejection(
        RejectionReason.THRESHOLD,
        f"{what} signed by {count} of {threshold} required distinct trusted signer(s) "
        f"(threshold is {threshold})",
    )


class TlogStatus(StrEnum):
    """What is known of a signature's transparency-log entry (the wire strings of reports)."""

    VERIFIED = "verified"
    """Every entry verified against a trusted log key."""
    UNVERIFIED = "unverified"
    """An entry is present but was not (or could not be) verified."""
    ABSENT = "absent"
    """No entry."""


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome of verifying one signed object.

    ``signers``: key ids (``sha256`` hex of the SPKI) or identities that verified.
    ``rejections``: why it is not accepted (empty when accepted). ``tlog``: what is known of
    its transparency-log entry. ``covers``: ``sha256:<hex>`` of the
    exact bytes the signatures cover (a DSSE payload; the manifest a simple signature names).
    """

    signers: tuple[str, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    tlog: TlogStatus = TlogStatus.ABSENT
    covers: str | None = None

    @property
    def accepted(self) -> bool:
        """True when a trusted signer verified it and nothing rejected it."""
        return bool(self.signers) and not self.rejections

    @property
    def valid(self) -> bool:
        """True when a trusted signer verified it and only the threshold may be unmet."""
        return bool(self.signers) and all(
            r.reason is RejectionReason.THRESHOLD for r in self.rejections
        )

    @property
    def messages(self) -> tuple[str, ...]:
        """The rejection messages, in order."""
        return tuple(r.message for r in self.rejections)

    def rejected_for(self, reason: RejectionReason) -> bool:
        """True when one of the rejections has ``reason``."""
        return any(r.reason is reason for r in self.rejections)


@dataclass(frozen=True, slots=True)
class SignedObject:
    """One signature or signed attestation found in a signature store, accepted or not.

    ``location``: ``<manifest digest>#layers/<n>`` (what evidence cites). ``target``: the digest
    whose store it was found in. ``payload_digest``: sha256 hex of the verified payload (the bytes
    its signers count for). ``platforms``: platforms it was bound to (empty when it bound to none).
    ``envelope``: a stored envelope's bytes exactly as read (checked against their layer
    descriptor), so that a rule with its own keys (``vsa``) can verify it whoever else trusts it.
    """

    kind: SignedKind
    origin: str
    location: str
    target: str
    check: SignatureCheck
    predicate_type: str | None = None
    payload_digest: str | None = None
    index_scoped: bool = False
    platforms: tuple[str, ...] = field(default=())
    envelope: bytes | None = field(default=None, compare=False, repr=False)
