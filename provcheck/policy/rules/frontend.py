"""``frontend``: what ran as the Dockerfile frontend is approved (and pinned, if asked).

The identity is ``frontend`` + ``args.source`` + the matching material digest, never the
``# syntax=`` line of the recorded Dockerfile (a ``BUILDKIT_SYNTAX`` build arg overrides it).
"""

from __future__ import annotations

from provcheck.errors import InvalidReferenceError
from provcheck.oci.reference import ImageReference
from provcheck.policy.matching import image_matches, text_matches
from provcheck.policy.model import FrontendOptions, RuleOptions
from provcheck.policy.rules.base import EvaluationContext, ProvenanceRecord, missing_provenance
from provcheck.predicates.slsa import BUILTIN_DOCKERFILE_FRONTEND, Material
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "frontend"
_HINT = "use an approved '# syntax=' image (pinned by digest) or remove the directive"


def frontend_material(rec: ProvenanceRecord, ref: ImageReference) -> Material | None:
    """The material that recorded the frontend image ``ref`` (same repository)."""
    matches = [
        m for m in rec.provenance.materials if m.image is not None and m.image.name == ref.name
    ]
    same_tag = [m for m in matches if m.image is not None and m.image.tag == ref.tag]
    best = same_tag or matches
    return best[0] if best else None


def frontend_reference(rec: ProvenanceRecord) -> ImageReference | None:
    """The frontend image that ran, when it was an image (``args.source``)."""
    source = rec.provenance.frontend_source
    if not source or source == BUILTIN_DOCKERFILE_FRONTEND:
        return None
    try:
        return ImageReference.parse(source)
    except InvalidReferenceError:
        return None


def _check(rec: ProvenanceRecord, opts: FrontendOptions, platform: str) -> RuleResult:
    p = rec.provenance
    source = p.frontend_source
    if source and source != BUILTIN_DOCKERFILE_FRONTEND:
        pointer = p.pointers["source"]
        try:
            ref = ImageReference.parse(source)
        except InvalidReferenceError:
            return RuleResult(
                NAME,
                Status.FAIL,
                platform,
                f"frontend source {source[:200]!r} is not a valid image reference",
                (Evidence(rec.source, pointer, source[:200], _HINT),),
            )
        material = frontend_material(rec, ref)
        recorded = str(ref.digest) if ref.digest else (material.sha256 if material else None)
        shown = f"{ref}" + (f" ({recorded})" if recorded and not ref.digest else "")
        evidence = [Evidence(rec.source, pointer, shown)]
        if material is not None:
            evidence.append(
                Evidence(rec.source, material.pointer, f"{material.uri} {material.sha256}")
            )
        allowed = any(
            image_matches(e, ref, recorded) for e in opts.allow if e != BUILTIN_DOCKERFILE_FRONTEND
        )
        if not allowed:
            return RuleResult(
                NAME,
                Status.FAIL,
                platform,
                f"frontend image {ref} is not approved",
                (Evidence(rec.source, pointer, shown, _HINT), *evidence[1:]),
            )
        if opts.pinned and ref.digest is None:
            return RuleResult(
                NAME,
                Status.FAIL,
                platform,
                f"frontend image {ref} is not pinned by digest",
                (
                    Evidence(
                        rec.source, pointer, shown, "pin it: '# syntax=<image>@sha256:<digest>'"
                    ),
                ),
            )
        if recorded is None:
            return RuleResult(
                NAME,
                Status.INCOMPLETE,
                platform,
                f"frontend image {ref} has no recorded digest",
                tuple(evidence),
            )
        return RuleResult(
            NAME, Status.PASS, platform, f"frontend image {ref} is approved", tuple(evidence)
        )
    frontend = p.frontend
    if frontend is None:
        return RuleResult(
            NAME,
            Status.INCOMPLETE,
            platform,
            "provenance records no frontend",
            (Evidence(rec.source, p.pointers["frontend"]),),
        )
    evidence_one = (Evidence(rec.source, p.pointers["frontend"], frontend or "(none: raw LLB)"),)
    builtin = frontend == BUILTIN_DOCKERFILE_FRONTEND or (
        frontend == "gateway.v0" and source == BUILTIN_DOCKERFILE_FRONTEND
    )
    name = BUILTIN_DOCKERFILE_FRONTEND if builtin else frontend
    if name and any(text_matches(e, name) for e in opts.allow):
        what = "built-in Dockerfile frontend" if builtin else f"frontend {name!r}"
        return RuleResult(NAME, Status.PASS, platform, f"{what} is approved", evidence_one)
    shown_name = repr(name) if name else "none (raw LLB build)"
    return RuleResult(
        NAME,
        Status.FAIL,
        platform,
        f"frontend {shown_name} is not approved",
        (Evidence(rec.source, p.pointers["frontend"], name or "", _HINT),),
    )


class FrontendRule:
    """One result per platform (the worst over its provenance statements)."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """See the module docstring."""
        assert isinstance(options, FrontendOptions)
        out: list[RuleResult] = []
        order = [Status.FAIL, Status.ERROR, Status.INCOMPLETE, Status.PASS]
        for pc in ctx.platforms:
            missing = missing_provenance(NAME, pc)
            if missing is not None:
                out.append(missing)
                continue
            results = [_check(r, options, pc.key) for r in pc.provenance]
            out.append(min(results, key=lambda r: order.index(r.status)))
        return out
