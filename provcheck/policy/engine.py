"""Evaluate an image's attestations against a policy."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

from provcheck._internal.clock import evaluation_time
from provcheck.discovery.model import (
    TRUST_ORDER,
    ImageAttestations,
    PlatformImage,
    Problem,
    ProblemKind,
    TrustLevel,
)
from provcheck.discovery.select import known_platforms, select_platforms
from provcheck.errors import ProvcheckError
from provcheck.policy.absence import absent_cause, statements
from provcheck.policy.model import EVIDENCE_KINDS, Policy
from provcheck.policy.rules import RULES, EvaluationContext, PlatformContext, ProvenanceRecord
from provcheck.predicates import PredicateKind
from provcheck.predicates.slsa import parse_provenance
from provcheck.report.causes import Cause
from provcheck.report.model import Evidence, Report, RuleResult, Status
from provcheck.report.trust import annotate_trust

_VOIDED: Final[Mapping[ProblemKind, str]] = MappingProxyType(
    {
        ProblemKind.INTEGRITY: "evidence was tampered with or corrupted: the content did not match "
        "its digest",
        ProblemKind.TOO_LARGE: "evidence could not be read: it is too large",
        ProblemKind.FETCH: "evidence could not be fetched",
        ProblemKind.MISSING: "evidence could not be read: the content its descriptor names is "
        "missing",
        ProblemKind.MALFORMED: "evidence was rejected: it is malformed",
        ProblemKind.BINDING: "evidence was rejected: it is bound to other content than this image",
    }
)


def voided_message(problem: Problem) -> str:
    """What a problem that voids evidence means for a verdict, then what was found."""
    return f"{_VOIDED[problem.kind]} ({problem.message})"[:2000]


def _voided_evidence(image: ImageAttestations) -> list[RuleResult]:
    """An ``error`` result for each attestation that could not be read or failed its digest.

    Such evidence is neither trusted nor ignored: the verdict becomes ``error`` (exit 3),
    whatever the other rules say.
    """
    out: list[RuleResult] = []
    for pi in image.images:
        for problem in pi.all_problems():
            if problem.kind.voids_evidence:
                source = str(problem.digest) if problem.digest else str(pi.descriptor.digest)
                out.append(
                    RuleResult(
                        "evidence",
                        Status.ERROR,
                        pi.platform.key,
                        voided_message(problem),
                        (Evidence(source, ""),),
                        cause=Cause.UNBOUND if problem.kind is ProblemKind.BINDING else None,
                    )
                )
    out.extend(
        RuleResult(
            "evidence",
            Status.ERROR,
            None,
            voided_message(problem),
            cause=Cause.UNBOUND if problem.kind is ProblemKind.BINDING else None,
        )
        for problem in image.problems
        if problem.kind.voids_evidence
    )
    return out


def _voided_provenance(pi: PlatformImage) -> list[tuple[str, str]]:
    """(source, message) of each problem that voids evidence and may hide this platform's
    provenance: of the image, of an attestation manifest, or of a layer that is not known to be
    another kind. Rules that read provenance then give ``error``, never ``fail`` or
    ``incomplete``."""
    problems = [*pi.problems]
    for manifest in pi.attestations:
        problems.extend(manifest.problems)
        for layer in manifest.layers:
            if layer.kind in (None, PredicateKind.PROVENANCE):
                problems.extend(layer.problems)
    return [
        (str(p.digest or pi.descriptor.digest), voided_message(p))
        for p in problems
        if p.kind.voids_evidence
    ]


def _platform_contexts(image: ImageAttestations) -> tuple[PlatformContext, ...]:
    out: list[PlatformContext] = []
    for pi in image.images:
        if pi.platform.is_unknown:
            continue
        records: list[ProvenanceRecord] = []
        errors = _voided_provenance(pi)
        for usable in pi.statements(PredicateKind.PROVENANCE):
            try:
                records.append(ProvenanceRecord(usable.source, parse_provenance(usable.statement)))
            except ProvcheckError as exc:
                errors.append((usable.source, exc.diagnostics()))
        out.append(PlatformContext(pi, pi.platform.key, tuple(records), tuple(errors)))
    return tuple(out)


# -- min-trust ---------------------------------------------------------------------------------

_WHY: Final[Mapping[TrustLevel, str]] = MappingProxyType(
    {
        TrustLevel.UNSIGNED: "unsigned (trust is whoever can push the tag)",
        TrustLevel.INDEX_BOUND: "index-bound (unsigned, reached from a pinned digest or signed "
        "index)",
        TrustLevel.SIGNED: "signed",
    }
)
_COSIGN_TYPE: Final[Mapping[PredicateKind, str]] = MappingProxyType(
    {
        PredicateKind.PROVENANCE: "slsaprovenance",
        PredicateKind.SBOM: "spdxjson",
    }
)


def _remediation(minimum: TrustLevel, kind: PredicateKind) -> str | None:
    if minimum is TrustLevel.SIGNED:
        return (
            "sign the attestation with a key or identity the signatures rule trusts "
            f"(cosign attest --key KEY --type {_COSIGN_TYPE.get(kind, 'custom')} IMAGE@DIGEST)"
        )
    if minimum is TrustLevel.INDEX_BOUND:
        return "pin the reference by digest (REPO@sha256:...) or sign the index"
    return None


def _at_trust(image: ImageAttestations, minimum: TrustLevel) -> ImageAttestations:
    """``image`` without the usable statements whose trust is below ``minimum``.

    Unusable layers stay (they are never evidence, and their problems keep rules conservative).
    """

    def platform(pi: PlatformImage) -> PlatformImage:
        manifests = tuple(
            dataclasses.replace(
                m,
                layers=tuple(
                    layer for layer in m.layers if not layer.usable or layer.trust.at_least(minimum)
                ),
            )
            for m in pi.attestations
        )
        return dataclasses.replace(pi, attestations=manifests)

    return dataclasses.replace(image, images=tuple(platform(pi) for pi in image.images))


def _explain_min_trust(
    result: RuleResult,
    image: ImageAttestations,
    kept: ImageAttestations,
    kind: PredicateKind,
    minimum: TrustLevel,
) -> RuleResult:
    """Say what ``min-trust`` ignored: replace the message of a result that found no evidence
    at the level although there was weaker evidence; append a note otherwise."""
    if result.platform is None:
        return result
    full = next((pi for pi in image.images if pi.platform.key == result.platform), None)
    filtered = next((pi for pi in kept.images if pi.platform.key == result.platform), None)
    if full is None or filtered is None:
        return result
    ignored = [u for u in statements(image, full, kind) if not u.layer.trust.at_least(minimum)]
    if not ignored:
        return result
    counts = Counter(u.layer.trust for u in ignored)
    strongest_first = [level for level in reversed(TRUST_ORDER) if level in counts]
    why = ", ".join(f"{counts[level]} {_WHY[level]}" for level in strongest_first)
    what = f"{len(ignored)} {kind.value} attestation(s) below min-trust {minimum.value} ignored"
    rejected = sum(1 for p in image.all_problems() if p.kind is ProblemKind.SIGNATURE)
    if rejected:
        why += f"; {rejected} signature(s) rejected (see problems)"
    if statements(kept, filtered, kind) or result.status is Status.PASS:
        return dataclasses.replace(result, message=f"{result.message} ({what}: {why})"[:2000])
    message = (
        f"{kind.value} exists but none at the required trust level ({minimum.value}): {what}: {why}"
    )
    evidence = Evidence(
        str(full.descriptor.digest),
        "",
        ("ignored: " + ", ".join(f"{u.source} ({u.layer.trust.value})" for u in ignored))[:1000],
        _remediation(minimum, kind),
    )
    return dataclasses.replace(result, message=message[:2000], evidence=(evidence,))


def _platform(image: ImageAttestations, key: str) -> PlatformImage | None:
    return next((pi for pi in image.images if pi.platform.key == key), None)


def _name_cause(
    result: RuleResult,
    kind: PredicateKind,
    whole: ImageAttestations,
    selected: ImageAttestations,
    seen: ImageAttestations,
) -> RuleResult:
    """``result`` with the cause of the missing evidence when it is a ``fail`` or
    ``incomplete`` of a platform that has no usable ``kind`` evidence in what the rule read
    (``seen``): ``below-trust`` when ``min-trust`` left out some, else why there is none
    (:func:`absent_cause`, on the ``whole`` index, whatever ``--platform`` selected). An
    ``error`` names only ``unbound``: evidence there, but bound to another manifest."""
    if result.cause is not None or result.platform is None:
        return result
    if result.status.severity <= Status.PASS.severity:
        return result  # pass and skip need no cause
    read = _platform(seen, result.platform)
    full = _platform(whole, result.platform)
    if read is None or full is None or statements(seen, read, kind):
        return result
    unfiltered = _platform(selected, result.platform)
    if unfiltered is not None and statements(selected, unfiltered, kind):
        return dataclasses.replace(result, cause=Cause.BELOW_TRUST)
    cause = absent_cause(whole, full, kind)
    if cause is None or (result.status is Status.ERROR and cause is not Cause.UNBOUND):
        return result  # an error names a cause only when the evidence is there, bound elsewhere
    return dataclasses.replace(result, cause=cause)


def evaluate(
    image: ImageAttestations,
    policy: Policy,
    *,
    now: datetime | None = None,
    platforms: frozenset[str] = frozenset(),
) -> Report:
    """Evaluate ``image`` against ``policy`` and return the report (never raises for data).

    Uses usable provenance statements and each platform's image config (``PlatformImage.config``;
    without it the ``build-args`` rule is ``incomplete``). A rule that raises a
    :class:`ProvcheckError` gives an ``error`` result; an image with no platform image gives an
    ``error`` result for every rule (fail closed).

    A rule with ``min-trust`` (``policy.min_trust``) reads only attestations at that trust level
    or stronger; its results say how many weaker ones were ignored, and why.

    ``platforms`` (``--platform``) narrows the platforms evaluated and reported; the
    ``platforms`` rule still reads every platform of the index. Raises
    :class:`PlatformNotFoundError` when one of them is not in the image.
    """
    moment = evaluation_time(now)
    index_platforms = known_platforms(image)
    whole = image
    image = select_platforms(image, platforms)
    ctx = EvaluationContext(image, _platform_contexts(image), moment, index_platforms)
    filtered: dict[TrustLevel, tuple[ImageAttestations, EvaluationContext]] = {}
    results: list[RuleResult] = []
    for name, options in policy.rules.items():
        minimum = policy.min_trust.get(name)
        rule_ctx = ctx
        if minimum is not None and minimum is not TrustLevel.UNSIGNED:
            if minimum not in filtered:
                kept = _at_trust(image, minimum)
                filtered[minimum] = (
                    kept,
                    EvaluationContext(kept, _platform_contexts(kept), moment, index_platforms),
                )
            rule_ctx = filtered[minimum][1]
        if not ctx.platforms:
            results.append(
                RuleResult(
                    name,
                    Status.ERROR,
                    None,
                    "no platform image was found",
                    (Evidence(str(image.digest), ""),),
                )
            )
            continue
        try:
            found = RULES[name].check(rule_ctx, options)
        except ProvcheckError as exc:
            results.append(RuleResult(name, Status.ERROR, None, exc.diagnostics()))
            continue
        if rule_ctx is not ctx and minimum is not None:
            kind = EVIDENCE_KINDS[name]
            kept = filtered[minimum][0]
            found = [_explain_min_trust(r, image, kept, kind, minimum) for r in found]
        if name in EVIDENCE_KINDS:
            kind = EVIDENCE_KINDS[name]
            found = [_name_cause(r, kind, whole, image, rule_ctx.image) for r in found]
        results.extend(found)
    results.extend(_voided_evidence(image))
    problems = tuple(
        f"{p.kind}: {p.message}" + (f" ({p.digest.short})" if p.digest else "")
        for p in image.all_problems()
    )
    report = Report(
        policy=policy.name,
        reference=image.reference,
        digest=str(image.digest),
        results=tuple(results),
        on_incomplete=policy.on_incomplete,
        problems=problems,
    )
    return annotate_trust(report, image)
