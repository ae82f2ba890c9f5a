"""What every rule sees, and the :class:`Rule` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from provcheck.discovery.model import ImageAttestations, PlatformImage
from provcheck.policy.model import RuleOptions
from provcheck.predicates.slsa import Provenance
from provcheck.report.model import Evidence, RuleResult, Status


@dataclass(frozen=True, slots=True)
class ProvenanceRecord:
    """A parsed provenance statement and the attestation it came from."""

    source: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class PlatformContext:
    """One platform image and its parsed provenance."""

    image: PlatformImage
    key: str
    provenance: tuple[ProvenanceRecord, ...]
    errors: tuple[tuple[str, str], ...]
    """(attestation source, message) of provenance statements that could not be parsed."""

    @property
    def config_source(self) -> str:
        """How evidence names this platform's image config."""
        return f"{self.image.descriptor.digest}#config"


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    """Everything a rule may read."""

    image: ImageAttestations
    platforms: tuple[PlatformContext, ...]
    """The platforms evaluated (all, or those named by ``--platform``)."""
    now: datetime
    index_platforms: tuple[str, ...] = ()
    """Every platform of the image, whatever ``--platform`` selected."""


class Rule(Protocol):
    """A built-in rule: one result per platform, or one for the whole image."""

    name: str

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """Evaluate the rule. Policy violations are results, never exceptions."""
        ...


def provenance_error(rule: str, pc: PlatformContext) -> RuleResult | None:
    """An ``error`` result when the platform's provenance could not be read, else ``None``."""
    if not pc.errors:
        return None
    source, message = pc.errors[0]
    return RuleResult(
        rule,
        Status.ERROR,
        pc.key,
        f"provenance could not be read: {message}",
        (Evidence(source, "/predicate"),),
    )


def with_provenance_error(pc: PlatformContext, found: RuleResult) -> RuleResult:
    """``found``, unless a provenance statement of the platform could not be read: then an
    ``error`` (it may hold anything: exit 3 beats 1) whose message also names what ``found``
    reports when that is worse than a pass."""
    error = provenance_error(found.rule, pc)
    if error is None or found.status is Status.ERROR:
        return found
    if found.status.severity <= Status.PASS.severity:
        return error
    message = f"{error.message}; also {found.message}"[:2000]
    evidence = (*error.evidence, *found.evidence)
    return RuleResult(found.rule, Status.ERROR, found.platform, message, evidence)


def missing_provenance(rule: str, pc: PlatformContext) -> RuleResult | None:
    """The result of a rule that needs provenance when the platform has none usable (an
    ``error`` when some could not be read); ``None`` when there is some to check (then the
    rule's result goes through :func:`with_provenance_error`)."""
    if pc.provenance:
        return None
    error = provenance_error(rule, pc)
    if error is not None:
        return error
    return RuleResult(
        rule,
        Status.INCOMPLETE,
        pc.key,
        "no usable provenance for this platform, so this cannot be checked",
        (Evidence(str(pc.image.descriptor.digest), "", None, "build with --provenance=mode=max"),),
    )
