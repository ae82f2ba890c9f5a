"""Binding a statement to the image manifest it claims to describe (formats.md §9).

The one subject binder. Every check of a statement's subjects against a manifest or an image
goes through :func:`bind_statement` (one manifest) or :func:`bind_to_image` (an index and its
platform manifests); every check of an OCI manifest's ``subject`` (an attestation manifest, a
referrer) through :func:`subject_is`. A statement describes a platform manifest M when one of
its subjects carries M's digest. A subject that names the pinned index instead is
index-scoped. Anything else is a typed :class:`BindingFailure`, and the statement is never
used as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from packageurl import PackageURL

from provcheck.attestation.statement import ACCEPTED_DIGEST_ALGORITHMS, Statement, Subject
from provcheck.errors import UsageError
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.platform import Platform


class BindingStatus(StrEnum):
    """How a statement relates to the manifest it was found for."""

    BOUND = "bound"
    """A subject digest is the platform manifest's digest."""
    INDEX = "index"
    """A subject digest is the pinned index digest: the statement covers every platform."""
    UNBOUND = "unbound"
    """The statement has no subject at all (e.g. an unnamed BuildKit export)."""
    MISMATCH = "mismatch"
    """The statement names other content, or contradicts where it was found."""


class BindingReason(StrEnum):
    """Why a statement does not bind: decisions read this, never the message."""

    PREDICATE_TYPE_HINT = "predicate-type-hint"
    """The (unauthenticated) layer annotation names another predicate type than the statement."""
    NO_SUBJECT = "no-subject"
    """The statement has no subject."""
    NO_ACCEPTED_DIGEST = "no-accepted-digest"
    """No subject has a digest of an accepted algorithm (sha256, sha512)."""
    PLATFORM = "platform"
    """A subject naming the manifest says, in its purl, that it is another platform."""
    OTHER_CONTENT = "other-content"
    """No subject names the manifest (nor the pinned index)."""


@dataclass(frozen=True, slots=True)
class BindingFailure:
    """One reason, typed, with its message for people."""

    reason: BindingReason
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Binding:
    """The outcome of binding one statement, with the failures when it is not usable."""

    status: BindingStatus
    failures: tuple[BindingFailure, ...] = ()

    @property
    def usable(self) -> bool:
        """True when the statement may be used as evidence for the manifest."""
        return self.status in (BindingStatus.BOUND, BindingStatus.INDEX)

    @property
    def messages(self) -> tuple[str, ...]:
        """The failure messages, in order."""
        return tuple(f.message for f in self.failures)

    def failed_for(self, reason: BindingReason) -> bool:
        """True when one of the failures has ``reason``."""
        return any(f.reason is reason for f in self.failures)


def subject_is(subject: Descriptor, target: Descriptor) -> bool:
    """True when an OCI manifest's ``subject`` names exactly ``target``: the same digest, size
    and media type."""
    return (subject.digest, subject.size, subject.media_type) == (
        target.digest,
        target.size,
        target.media_type,
    )


def _matches(subject: Subject, digest: Digest) -> bool:
    return subject.digest.get(digest.algorithm) == digest.hex


def _purl_platform(name: str) -> Platform | None:
    """The ``platform`` qualifier of a ``pkg:docker/…`` subject name, if it has a valid one."""
    if not name.startswith("pkg:"):
        return None
    try:
        qualifiers = PackageURL.from_string(name).qualifiers
    except ValueError:
        return None
    value = qualifiers.get("platform")
    if not value:
        return None
    try:
        return Platform.parse(value)
    except UsageError:
        return None


def _named(statement: Statement) -> str:
    """The subject digests a statement names, shortened, for messages."""
    named = ", ".join(
        f"{alg}:{hex_[:12]}" for s in statement.subjects for alg, hex_ in s.digest.items()
    )
    return named[:200]


def bind_statement(
    statement: Statement,
    *,
    manifest: Digest,
    platform: Platform | None,
    index: Digest | None,
    predicate_type_hint: str | None,
) -> Binding:
    """Decide whether ``statement`` describes ``manifest`` (or the pinned ``index``).

    ``predicate_type_hint`` is the unauthenticated layer annotation; it must agree with the
    statement. A matching subject whose purl ``platform`` qualifier names another platform is a
    mismatch; subjects are never matched by name.
    """
    failures: list[BindingFailure] = []
    if predicate_type_hint is not None and predicate_type_hint != statement.predicate_type:
        failures.append(
            BindingFailure(
                BindingReason.PREDICATE_TYPE_HINT,
                f"layer annotation says predicate type {predicate_type_hint!r} "
                f"but the statement says {statement.predicate_type!r}",
            )
        )
    if not statement.subjects:
        failures.append(BindingFailure(BindingReason.NO_SUBJECT, "statement has no subject"))
        return Binding(BindingStatus.UNBOUND, tuple(failures))
    if not any(a in s.digest for s in statement.subjects for a in ACCEPTED_DIGEST_ALGORITHMS):
        failures.append(
            BindingFailure(
                BindingReason.NO_ACCEPTED_DIGEST, "no subject has a sha256 or sha512 digest"
            )
        )
    bound = [s for s in statement.subjects if _matches(s, manifest)]
    for subject in bound:
        claimed = _purl_platform(subject.name)
        if platform is not None and claimed is not None and claimed.key != platform.key:
            failures.append(
                BindingFailure(
                    BindingReason.PLATFORM,
                    f"subject {subject.name!r} names platform {claimed.key}, "
                    f"but the manifest is {platform.key}",
                )
            )
    if bound:
        status = BindingStatus.BOUND
    elif index is not None and any(_matches(s, index) for s in statement.subjects):
        status = BindingStatus.INDEX
    else:
        failures.append(
            BindingFailure(
                BindingReason.OTHER_CONTENT,
                f"statement subjects ({_named(statement)}) do not include {manifest.short}",
            )
        )
        status = BindingStatus.MISMATCH
    if failures:
        return Binding(BindingStatus.MISMATCH, tuple(failures))
    return Binding(status)


@dataclass(frozen=True, slots=True)
class ImageBinding:
    """How one statement binds to an image: one :class:`Binding` per platform manifest (in the
    order given) and, when it binds to none, why (``failures``)."""

    bindings: tuple[Binding, ...]
    failures: tuple[BindingFailure, ...] = ()

    @property
    def bound(self) -> bool:
        """True when the statement may be used as evidence for at least one platform."""
        return any(b.usable for b in self.bindings)


def bind_to_image(
    statement: Statement,
    *,
    image: Digest,
    is_index: bool,
    platforms: Sequence[tuple[Digest, Platform]],
    predicate_type_hint: str | None,
) -> ImageBinding:
    """Bind ``statement`` to each platform manifest of the image resolved to ``image`` (an
    index when ``is_index``), as :func:`bind_statement` does.

    When it binds to none, the failures say so once for the whole image
    (:attr:`BindingReason.OTHER_CONTENT`), then every other distinct failure of any platform.
    """
    index = image if is_index else None
    bindings = tuple(
        bind_statement(
            statement,
            manifest=digest,
            platform=platform,
            index=index,
            predicate_type_hint=predicate_type_hint,
        )
        for digest, platform in platforms
    )
    if any(b.usable for b in bindings):
        return ImageBinding(bindings)
    summary = BindingFailure(
        BindingReason.OTHER_CONTENT,
        f"subjects name {_named(statement) or 'nothing'}, not {image.short} "
        "or any of its platform manifests",
    )
    failures = [summary]
    for binding in bindings:
        for failure in binding.failures:
            if failure.reason is not BindingReason.OTHER_CONTENT and failure not in failures:
                failures.append(failure)
    return ImageBinding(bindings, tuple(failures))
