"""The one exception hierarchy of provcheck.

Policy violations are data (results in a report); an exception means that an answer could not be
given. Every error carries a one-line, user-facing :meth:`ProvcheckError.diagnostics`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provcheck.discovery.model import ImageAttestations
    from provcheck.sbom.versions import VersionProblem


class ProvcheckError(Exception):
    """Base class of every error that provcheck raises on purpose."""

    def diagnostics(self) -> str:
        """Return the one-line message shown to a user (no traceback, no secrets)."""
        return str(self) or type(self).__name__


class UsageError(ProvcheckError):
    """Bad command-line arguments, references or configuration (exit code 2)."""


class InvalidReferenceError(UsageError):
    """An image reference that cannot be parsed."""


class PlatformNotFoundError(UsageError):
    """A ``--platform`` that names no platform of the image (the message lists those that do)."""


class PolicyError(ProvcheckError):
    """An invalid policy file: syntax, duplicate key, schema, unknown rule (exit code 2)."""


class KeyResolutionError(UsageError):
    """A key or trusted root that a policy names cannot be had from its resolver.

    ``location`` says where it was looked for (a path, or the name), ``reason`` why it failed.
    """

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


class PolicyMistakesError(PolicyError):
    """A policy file with mistakes, each one line ``file:line: message`` in ``messages``."""

    def __init__(self, messages: tuple[str, ...]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages

    def diagnostics(self) -> str:
        """The one mistake, or a count followed by every mistake on a line of its own."""
        if len(self.messages) == 1:
            return self.messages[0]
        return f"{len(self.messages)} mistakes in the policy file:\n" + "\n".join(self.messages)


class RegistryError(ProvcheckError):
    """Anything that went wrong on the remote side or while talking to it."""


class RegistryConnectionError(RegistryError):
    """The registry could not be reached: DNS, connect, TLS, timeout, reset."""


class RegistryHTTPError(RegistryError):
    """The registry answered with an unexpected HTTP status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationError(RegistryHTTPError):
    """401 or 403 after the authentication flow was tried."""


class NotFoundError(RegistryHTTPError):
    """A manifest, blob or tag does not exist (404)."""


class DeadlineExceededError(RegistryError):
    """The command's time budget for network work ran out (or a wait could not fit in it).

    ``host`` and ``pending`` name what was in flight, ``seconds`` the budget.
    """

    def __init__(self, message: str, *, seconds: float, host: str, pending: str) -> None:
        super().__init__(message)
        self.seconds = seconds
        self.host = host
        self.pending = pending


class ContentTooLargeError(RegistryError):
    """Content is larger than the cap that applies to it."""


class IntegrityError(ProvcheckError):
    """Fetched bytes do not match the digest or size of their descriptor."""


class ManifestError(ProvcheckError):
    """A manifest, index or descriptor is malformed or of an unsupported kind."""


class AttestationError(ProvcheckError):
    """An attestation (statement, envelope, predicate) is malformed or unsupported."""


class StatementError(AttestationError):
    """An in-toto statement is malformed."""


class StatementBuildError(AttestationError):
    """A statement could not be built: the in-toto binding rejected it (a bug, never data)."""


class EnvelopeError(AttestationError):
    """A DSSE envelope is malformed."""


class SbomError(ProvcheckError):
    """A malformed or schema-invalid SBOM."""


class DocumentError(ProvcheckError):
    """A serialised result (a report, found attestations) that cannot be read back: not valid
    against its schema, inconsistent, or holding bytes that do not match their digest."""


class SchemaVersionError(DocumentError):
    """A serialised result of a schema version this provcheck does not read.

    ``found`` is the document's ``schemaVersion`` (``None`` when it has none), ``expected`` the
    one read here.
    """

    def __init__(self, message: str, *, found: str | None, expected: str) -> None:
        super().__init__(message)
        self.found = found
        self.expected = expected


class NoSbomError(SbomError):
    """An SBOM was asked for, and the image has none that can be used.

    ``attestations`` is what was found instead, when the image could be read: its problems say
    why no SBOM could be used.
    """

    def __init__(self, message: str, attestations: ImageAttestations | None = None) -> None:
        super().__init__(message)
        self.attestations = attestations


class VersionUnknownError(SbomError):
    """Versions that could not be compared; :attr:`problem` says why."""

    def __init__(self, message: str, problem: VersionProblem) -> None:
        super().__init__(message)
        self.problem = problem


class VerificationError(ProvcheckError):
    """A signature, key or identity check failed."""


class TlogError(VerificationError):
    """A transparency-log entry is malformed or does not verify."""


class CacheError(ProvcheckError):
    """A cache (``--cache DIR|redis://…``) that cannot be opened or read by ``provcheck cache``
    (a verification treats an unreachable cache as empty, never as an error)."""


class LimitExceededError(ProvcheckError):
    """An image needs more work than its limits allow (descriptors, bytes, nesting): refused."""


class ConversionLimitError(LimitExceededError):
    """An SBOM with more elements or relationships (``what``: ``count``) than a conversion
    takes (``limit``): refused before anything is built, nothing written (exit code 3)."""

    def __init__(self, message: str, *, what: str, count: int, limit: int) -> None:
        super().__init__(message)
        self.what = what
        self.count = count
        self.limit = limit


class AdmissionRequestError(ProvcheckError):
    """A body that is not an ``admission.k8s.io/v1`` ``AdmissionReview`` the gate can answer
    (malformed or truncated JSON, over 3 MiB, wrong ``apiVersion``/``kind``, no
    ``request.uid``): a server answers HTTP 400 with :meth:`diagnostics`."""
