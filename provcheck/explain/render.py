"""An :class:`~provcheck.explain.Explanation` as text for a person, or as a ``provcheck.explain/v1``
document (schema: ``explain.schema.json`` beside this module).

Every string that comes from the image passes through :func:`escape_text` in the text form.
"""

from __future__ import annotations

from typing import Any, Final

from provcheck.discovery.model import StoreRepository
from provcheck.discovery.serialize import lookup_dict, problem_dict
from provcheck.explain import EvidenceItem, Explanation, PlatformExplanation
from provcheck.explain.causes import EVIDENCE, ORIGIN_NAMES, Finding
from provcheck.report.causes import Cause
from provcheck.report.escape import escape_text
from provcheck.report.legend import trust_legend

SCHEMA_VERSION: Final = "provcheck.explain/v1"
SCHEMA_FILE: Final = "explain.schema.json"


# -- JSON ----------------------------------------------------------------------------------------


def cause_dict(f: Finding) -> dict[str, Any]:
    """``{"code", "kind", "message", "fix"}``."""
    return {
        "code": f.code.value,
        "kind": f.kind.value if f.kind is not None else None,
        "message": f.message,
        "fix": f.fix,
    }


def _evidence_dict(e: EvidenceItem) -> dict[str, Any]:
    return {
        "kind": e.kind.value,
        "predicateType": e.predicate_type,
        "origin": e.origin.value,
        "repository": e.repository.value,
        "source": e.source,
        "manifest": str(e.manifest),
        "trust": e.trust.value,
        "indexScoped": e.bound_to_index,
        "detail": e.detail,
    }


def _platform_dict(p: PlatformExplanation) -> dict[str, Any]:
    return {
        "platform": p.platform,
        "digest": str(p.digest),
        "evidence": [_evidence_dict(e) for e in p.evidence],
        "missing": [k.value for k in p.missing],
        "causes": [cause_dict(f) for f in p.causes],
    }


def explanation_to_dict(x: Explanation) -> dict[str, Any]:
    """``x`` as a ``provcheck.explain/v1`` document (JSON-ready data); raises nothing."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "reference": x.reference,
        "digest": str(x.digest),
        "mediaType": x.media_type,
        "minTrust": {k.value: v.value for k, v in sorted(x.min_trust.items())},
        "causes": [cause_dict(f) for f in x.causes],
        "notes": [cause_dict(f) for f in x.notes],
        "platforms": [_platform_dict(p) for p in x.platforms],
        "lookups": [lookup_dict(x) for x in x.lookups],
        "problems": [problem_dict(p) for p in x.problems],
    }


# -- text ----------------------------------------------------------------------------------------


def _where(e: EvidenceItem) -> str:
    where = ORIGIN_NAMES[e.origin]
    if e.repository is StoreRepository.ATTESTATIONS_REPO:
        where += " of the attestations repository"
    return f"in {where}"


def _evidence_line(e: EvidenceItem) -> str:
    what = escape_text(e.detail or e.predicate_type)
    scope = ", covers every platform" if e.bound_to_index else ""
    return (
        f"  found    {e.kind.value:<11} {what}  {_where(e)}{scope}  "
        f"{e.manifest.short}#layers/{e.layer}  [{e.trust.value}]"
    )


def _cause_line(label: str, f: Finding, image_wide: frozenset[Cause] = frozenset()) -> str:
    kind = f.kind.value if f.kind is not None else ""
    said = "(see image below)" if f.code in image_wide else escape_text(f.message)
    return f"  {label:<8} {kind:<11} [{f.code.value}] {said}"


def _platform_lines(p: PlatformExplanation, image_wide: frozenset[Cause]) -> list[str]:
    lines = [f"{escape_text(p.platform)}  {p.digest}"]
    lines.extend(_evidence_line(e) for e in p.evidence)
    explained = set()
    for f in p.causes:
        absent = f.code.explains_absence and f.kind in p.missing
        if absent:
            explained.add(f.kind)
        label = "missing" if absent else "below" if f.code is Cause.BELOW_TRUST else "note"
        lines.append(_cause_line(label, f, image_wide))
    lines.extend(
        f"  missing  {kind.value:<11} no cause recognised (see the problems below)"
        for kind in p.missing
        if kind not in explained
    )
    return lines


def render_explanation(x: Explanation) -> str:
    """The explanation for a person: per platform what was found (where, trust) and what is
    missing and why; the causes about the whole image; each fix once; the problems. Raises
    nothing."""
    shown = ", ".join(p.platform for p in x.platforms) or "none"
    lines = [
        f"image:     {escape_text(x.reference)}",
        f"digest:    {x.digest} ({escape_text(x.media_type)})",
        f"platforms: {escape_text(shown)}",
    ]
    if x.min_trust:
        levels = ", ".join(f"{k.value} {v.value}" for k, v in sorted(x.min_trust.items()))
        lines.append(f"min-trust: {levels}")
    image_wide = frozenset(f.code for f in x.causes if f.code.explains_absence)
    for p in x.platforms:
        lines += ["", *_platform_lines(p, image_wide)]
    if x.causes:
        lines += ["", "image"]
        lines.extend(
            _cause_line("missing" if f.code.explains_absence else "note", f) for f in x.causes
        )
    missing = any(p.missing for p in x.platforms) or not x.platforms
    fixes: dict[str, list[str]] = {}
    every = (*x.causes, *(f for p in x.platforms for f in p.causes))
    # what explains missing evidence first: its fix is the one that matters
    for f in sorted(every, key=lambda f: not f.code.explains_absence):
        if not (missing or f.code.explains_absence or f.code is Cause.MIN_MODE):
            continue  # where evidence was found, when none is missing, needs no fix
        codes = fixes.setdefault(f.fix, [])
        if f.code.value not in codes:
            codes.append(f.code.value)
    if fixes:
        lines.append("")
        lines.extend(f"fix [{', '.join(c)}]: {escape_text(fix)}" for fix, c in fixes.items())
    if x.notes:
        lines.append("")
        lines.extend(f"note [{f.code.value}]: {escape_text(f.message)}" for f in x.notes)
    if x.problems:
        lines += ["", "problems:"]
        lines.extend(f"  {p.kind.value}: {escape_text(p.message)}" for p in x.problems)
    legend = trust_legend(e.trust.value for p in x.platforms for e in p.evidence)
    if legend is not None:
        lines += ["", f"trust: {legend}"]
    total = len(x.platforms)
    counts = ", ".join(
        f"{kind.value} on {sum(1 for p in x.platforms if kind not in p.missing)}/{total}"
        for kind in EVIDENCE
    )
    lines += ["", f"summary: {counts} platform(s)"]
    return "\n".join(lines) + "\n"
