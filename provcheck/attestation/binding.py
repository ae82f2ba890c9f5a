"""Binding a statement to the image manifest it claims to describe (formats.md §9).

A statement describes a platform manifest M when one of its subjects carries M's digest. A
subject that names the pinned index instead is index-scoped. Anything else is reported, and the
statement is never used as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from packageurl import PackageURL

from provcheck.attestation.statement import ACCEPTED_DIGEST_ALGORITHMS, Statement, Subject
from provcheck.errors import UsageError
from provcheck.oci.digest import Digest
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


@dataclass(frozen=True, slots=True)
class Binding:
    """The outcome of binding one statement, with the reasons when it is not usable."""

    status: BindingStatus
    reasons: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """True when the statement may be used as evidence for the manifest."""
        return self.status in (BindingStatus.BOUND, BindingStatus.INDEX)


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
    reasons: list[str] = []
    if predicate_type_hint is not None and predicate_type_hint != statement.predicate_type:
        reasons.append(
            f"layer annotation says predicate type {predicate_type_hint!r} "
            f"but the statement says {statement.predicate_type!r}"
        )
    if not statement.subjects:
        return Binding(BindingStatus.UNBOUND, (*reasons, "statement has no subject"))
    if not any(a in s.digest for s in statement.subjects for a in ACCEPTED_DIGEST_ALGORITHMS):
        reasons.append("no subject has a sha256 or sha512 digest")
    bound = [s for s in statement.subjects if _matches(s, manifest)]
    for subject in bound:
        claimed = _purl_platform(subject.name)
        if platform is not None and claimed is not None and claimed.key != platform.key:
            reasons.append(
                f"subject {subject.name!r} names platform {claimed.key}, "
                f"but the manifest is {platform.key}"
            )
    if bound:
        status = BindingStatus.BOUND
    elif index is not None and any(_matches(s, index) for s in statement.subjects):
        status = BindingStatus.INDEX
    else:
        named = ", ".join(
            f"{alg}:{hex_[:12]}" for s in statement.subjects for alg, hex_ in s.digest.items()
        )
        reasons.append(f"statement subjects ({named[:200]}) do not include {manifest.short}")
        status = BindingStatus.MISMATCH
    if reasons:
        return Binding(BindingStatus.MISMATCH, tuple(reasons))
    return Binding(status)
