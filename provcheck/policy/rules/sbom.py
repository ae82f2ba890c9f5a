"""``sbom``: every platform has an SBOM; no denied package or license; licenses allowed.

SBOMs are the usable SBOM statements of each platform; one bound to the index covers every platform
(:mod:`provcheck.sbom.scope` decides, and parses each once). A statement whose SBOM cannot be
parsed gives ``error``; an SBOM layer that could not be used (too large, tampered, unbound) makes
the checks ``incomplete`` (or, when it was the only one, fails ``required``). License checks skip
``file`` and ``container`` components (the image itself and its files are not licensed packages).
Under ``allow-licenses`` a component without license information (none, or ``NOASSERTION``) is
``incomplete``; ``NONE`` passes only when listed. ``deny-packages`` matches components with a purl
(read as the purl spec says: ``pkg://npm/x`` is ``pkg:npm/x``); a name match whose range cannot be
decided (no version, one the ecosystem cannot read, a purl type without a version ordering) is
``incomplete``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from provcheck.discovery.model import PlatformImage, Problem
from provcheck.errors import SbomError, VersionUnknownError
from provcheck.policy.model import RuleOptions, SbomOptions
from provcheck.policy.rules.base import EvaluationContext, PlatformContext
from provcheck.predicates import PredicateKind
from provcheck.report.model import Evidence, RuleResult, Status
from provcheck.sbom import Sbom
from provcheck.sbom.licenses import LicenseRules, LicenseVerdict
from provcheck.sbom.model import Component
from provcheck.sbom.scope import PlatformSboms, ScopedSbom, scope_sboms
from provcheck.sbom.versions import (
    Purl,
    VersionProblem,
    parse_purl,
    purl_type,
)

NAME = "sbom"
MAX_EVIDENCE: Final = 50
_UNLICENSED_TYPES: Final = frozenset({"file", "container"})
_REMEDIATION: Final = "build with --sbom=true (or --attest type=sbom) and push the whole index"


class FindingKind(StrEnum):
    """What one finding of the rule is about (its value labels it in the summary)."""

    DENIED_PACKAGE = "denied package"
    UNREADABLE_PURL = "unreadable purl"
    VERSION_MISSING = "package version missing"
    VERSION_NOT_COMPARABLE = "package version not comparable"
    NO_VERSION_ORDERING = "cannot compare versions"
    DENIED_LICENSE = "denied license"
    LICENSE_NOT_ALLOWED = "license not allowed"
    LICENSE_INVALID = "license not an SPDX expression"
    LICENSE_UNKNOWN = "no license information"
    UNREADABLE_SBOM = "unreadable SBOM"
    UNUSABLE_LAYER = "SBOM layer not usable"


_VERSION_KINDS: Final = {
    VersionProblem.MISSING: FindingKind.VERSION_MISSING,
    VersionProblem.UNREADABLE: FindingKind.VERSION_NOT_COMPARABLE,
    VersionProblem.NO_ORDERING: FindingKind.NO_VERSION_ORDERING,
}


@dataclass(frozen=True, slots=True)
class _Finding:
    status: Status
    kind: FindingKind
    evidence: Evidence
    detail: str | None = None
    """Shown beside the kind in the summary (``unreadable SBOM (why)``)."""

    @property
    def label(self) -> str:
        return self.kind.value if self.detail is None else f"{self.kind.value} ({self.detail})"


def _sbom_problems(image: PlatformImage) -> list[Problem]:
    """Problems of SBOM layers (by annotation or statement) that were not usable."""
    out: list[Problem] = []
    for manifest in image.attestations:
        for layer in manifest.layers:
            if layer.kind is PredicateKind.SBOM and not layer.usable:
                out.extend(layer.problems)
    return out


def _denied_packages(parsed: ScopedSbom, sbom: Sbom, opts: SbomOptions) -> Iterator[_Finding]:
    types = {p.type for p in opts.deny_packages}
    source = parsed.usable.source
    for component in sbom.components:
        purl_text = component.purl
        if purl_text is None or purl_type(purl_text[:200]) not in types:
            continue
        try:
            purl: Purl = parse_purl(purl_text)
        except SbomError as exc:
            yield _Finding(
                Status.INCOMPLETE,
                FindingKind.UNREADABLE_PURL,
                Evidence(source, component.pointer, purl_text[:200], exc.diagnostics()),
            )
            continue
        undecided: VersionUnknownError | None = None
        for pattern in opts.deny_packages:
            try:
                matched = pattern.matches(purl)
            except VersionUnknownError as exc:  # another pattern may still deny it outright
                undecided = undecided or exc
                continue
            if matched:
                yield _Finding(
                    Status.FAIL,
                    FindingKind.DENIED_PACKAGE,
                    Evidence(
                        source,
                        component.pointer,
                        purl_text,
                        f"denied by {pattern.text}: remove or upgrade it",
                    ),
                )
                break
        else:
            if undecided is not None:
                problem = undecided.problem
                yield _Finding(
                    Status.INCOMPLETE,
                    _VERSION_KINDS[problem],
                    Evidence(source, component.pointer, purl_text, undecided.diagnostics()),
                    f"pkg:{purl.type}" if problem is VersionProblem.NO_ORDERING else None,
                )


def _license_findings(parsed: ScopedSbom, sbom: Sbom, rules: LicenseRules) -> Iterator[_Finding]:
    source = parsed.usable.source
    memo: dict[tuple[str, ...], tuple[LicenseVerdict, str]] = {}
    for component in sbom.components:
        if component.type in _UNLICENSED_TYPES:
            continue
        key = component.licenses
        if key not in memo:
            memo[key] = rules.check(key)
        verdict, expression = memo[key]
        if verdict is LicenseVerdict.OK:
            continue
        yield from _license_finding(verdict, expression, component, source, rules)


def _license_finding(
    verdict: LicenseVerdict, expression: str, c: Component, source: str, rules: LicenseRules
) -> Iterator[_Finding]:
    where = f"{c.pointer}"
    if verdict is LicenseVerdict.DENIED:
        yield _Finding(
            Status.FAIL,
            FindingKind.DENIED_LICENSE,
            Evidence(source, where, f"{c.display}: {expression}", "every choice is denied"),
        )
    elif verdict is LicenseVerdict.NOT_ALLOWED:
        yield _Finding(
            Status.FAIL,
            FindingKind.LICENSE_NOT_ALLOWED,
            Evidence(source, where, f"{c.display}: {expression}", "not in allow-licenses"),
        )
    elif verdict is LicenseVerdict.INVALID:
        yield _Finding(
            Status.INCOMPLETE,
            FindingKind.LICENSE_INVALID,
            Evidence(source, where, f"{c.display}: {expression[:200]}", None),
        )
    elif verdict is LicenseVerdict.UNKNOWN and rules.allow is not None:
        yield _Finding(
            Status.INCOMPLETE,
            FindingKind.LICENSE_UNKNOWN,
            Evidence(
                source,
                where,
                f"{c.display}: {expression or 'no license'}",
                "the SBOM asserts no license (NOASSERTION or absent)",
            ),
        )


def _summary(findings: list[_Finding]) -> str:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.label] = counts.get(f.label, 0) + 1
    return ", ".join(f"{kind}: {n}" for kind, n in counts.items())


def _one(pc: PlatformContext, opts: SbomOptions, scoped: PlatformSboms) -> RuleResult:
    statements = scoped.sboms
    problems = _sbom_problems(pc.image)
    unusable = "; ".join(p.message for p in problems[:3])
    checks = bool(opts.deny_packages) or opts.licenses.allow is not None or bool(opts.licenses.deny)
    image_evidence = Evidence(str(pc.image.descriptor.digest), "", None, _REMEDIATION)
    voided = [p for p in problems if p.kind.voids_evidence]
    if not statements:
        extra = f" ({len(problems)} SBOM layer(s) not usable: {unusable})" if problems else ""
        if voided:  # an SBOM is there but cannot be used: a verification error, not a finding
            message = f"the SBOM attestation could not be used{extra}"
            return RuleResult(NAME, Status.ERROR, pc.key, message, (image_evidence,))
        if opts.required:
            message = f"no SBOM attestation is bound to this platform{extra}"
            return RuleResult(NAME, Status.FAIL, pc.key, message, (image_evidence,))
        message = f"no SBOM for this platform; not required, so it was not checked{extra}"
        return RuleResult(NAME, Status.SKIP, pc.key, message, (image_evidence,))

    findings: list[_Finding] = []
    accepted: list[tuple[ScopedSbom, Sbom]] = []
    other_formats: list[str] = []
    for parsed in statements:
        if parsed.sbom is None:
            findings.append(
                _Finding(
                    Status.ERROR,
                    FindingKind.UNREADABLE_SBOM,
                    Evidence(parsed.usable.source, "/predicate", None, None),
                    parsed.error,
                )
            )
        elif parsed.sbom.format in opts.formats:
            accepted.append((parsed, parsed.sbom))
        else:
            other_formats.append(parsed.sbom.format.value)
    if not accepted and not findings:
        wanted = ", ".join(sorted(opts.formats))
        message = f"only {', '.join(other_formats)} SBOMs found; the policy accepts {wanted}"
        status = Status.FAIL if opts.required else Status.SKIP
        return RuleResult(NAME, status, pc.key, message, (image_evidence,))
    if problems and checks:
        findings.append(
            _Finding(
                Status.ERROR if voided else Status.INCOMPLETE,
                FindingKind.UNUSABLE_LAYER,
                Evidence(str(pc.image.descriptor.digest), "", None, None),
                unusable,
            )
        )
    licensed = opts.licenses.allow is not None or bool(opts.licenses.deny)
    for parsed, sbom in accepted:
        if opts.deny_packages:
            findings.extend(_denied_packages(parsed, sbom, opts))
        if licensed:
            findings.extend(_license_findings(parsed, sbom, opts.licenses))
    total = sum(len(s) for _, s in accepted)
    described = ", ".join(
        f"{s.format.value} {s.spec_version} ({len(s)} components, {p.scope})" for p, s in accepted
    )
    status = max((f.status for f in findings), key=lambda s: s.severity, default=Status.PASS)
    if status is Status.PASS:
        evidence = tuple(
            Evidence(p.usable.source, "/predicate", f"{s.format.value} {s.spec_version}, {p.scope}")
            for p, s in accepted
        )
        what = "SBOM present" if not checks else "no denied package or license"
        return RuleResult(NAME, Status.PASS, pc.key, f"{what}: {described}", evidence)
    ranked = sorted(findings, key=lambda f: f.status.severity, reverse=True)
    shown = tuple(f.evidence for f in ranked[:MAX_EVIDENCE])
    more = f" (first {MAX_EVIDENCE} shown)" if len(ranked) > MAX_EVIDENCE else ""
    count = f"{len(accepted)} SBOM(s)" if len(accepted) != 1 else "1 SBOM"
    message = f"{_summary(ranked)} ({total} components in {count}){more}"
    return RuleResult(NAME, status, pc.key, message, shown)


class SbomRule:
    """See the module docstring."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """One result per platform."""
        assert isinstance(options, SbomOptions)
        scoped = scope_sboms([pc.image for pc in ctx.platforms])
        return [_one(pc, options, sboms) for pc, sboms in zip(ctx.platforms, scoped, strict=True)]
