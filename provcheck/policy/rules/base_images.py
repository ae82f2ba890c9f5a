"""``base-images``: the images the build started from are in an allow-list.

Base images are the image materials that are neither the frontend image nor an SBOM generator.
In max mode only materials that the LLB used as ``docker-image://`` sources count.
"""

from __future__ import annotations

from provcheck.errors import InvalidReferenceError
from provcheck.oci.reference import ImageReference
from provcheck.policy.matching import image_matches
from provcheck.policy.model import BaseImagesOptions, RuleOptions
from provcheck.policy.rules.base import EvaluationContext, ProvenanceRecord, missing_provenance
from provcheck.policy.rules.frontend import frontend_reference
from provcheck.predicates.slsa import Material
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "base-images"


def base_images(rec: ProvenanceRecord, opts: BaseImagesOptions) -> list[Material]:
    """The base-image materials of one provenance statement."""
    p = rec.provenance
    frontend = frontend_reference(rec)
    images = [
        m
        for m in p.materials
        if m.image is not None and (frontend is None or m.image.name != frontend.name)
    ]
    if p.max_mode and p.llb_image_sources:
        names = set()
        for ident in p.llb_image_sources:
            try:
                names.add(ImageReference.parse(ident).name)
            except InvalidReferenceError:
                continue
        return [m for m in images if m.image is not None and m.image.name in names]
    return [
        m
        for m in images
        if m.image is not None
        and not any(image_matches(g, m.image, m.sha256) for g in opts.sbom_generators)
    ]


class BaseImagesRule:
    """One result per platform."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """See the module docstring."""
        assert isinstance(options, BaseImagesOptions)
        out: list[RuleResult] = []
        for pc in ctx.platforms:
            missing = missing_provenance(NAME, pc)
            if missing is not None:
                out.append(missing)
                continue
            evidence: list[Evidence] = []
            bad: list[str] = []
            for rec in pc.provenance:
                for m in base_images(rec, options):
                    assert m.image is not None
                    ok = any(image_matches(e, m.image, m.sha256) for e in options.allow)
                    if not ok:
                        bad.append(str(m.image))
                    evidence.append(
                        Evidence(
                            rec.source,
                            m.pointer,
                            f"{m.image} {m.sha256 or ''}".strip(),
                            None if ok else "build FROM an approved base image",
                        )
                    )
            if bad:
                msg = f"base image(s) not allowed: {', '.join(sorted(set(bad)))}"
                out.append(RuleResult(NAME, Status.FAIL, pc.key, msg, tuple(evidence)))
            elif evidence:
                out.append(
                    RuleResult(
                        NAME, Status.PASS, pc.key, "all base images are allowed", tuple(evidence)
                    )
                )
            else:
                out.append(
                    RuleResult(
                        NAME,
                        Status.PASS,
                        pc.key,
                        "no base image recorded (FROM scratch)",
                        tuple(
                            Evidence(r.source, r.provenance.pointers["materials"])
                            for r in pc.provenance
                        ),
                    )
                )
        return out
