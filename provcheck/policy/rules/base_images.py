"""``base-images``: the images the build started from are in an allow-list.

Base images are the image materials that are neither the frontend image nor an SBOM generator.
In max mode only materials that the LLB used as ``docker-image://`` or ``oci-layout://``
sources count. An image from a local OCI layout (a named context, ``pkg:oci``) is no registry
image: only ``oci-layout://`` entries match it.
"""

from __future__ import annotations

from provcheck.errors import InvalidReferenceError
from provcheck.oci.reference import ImageReference
from provcheck.policy.matching import material_matches
from provcheck.policy.model import BaseImagesOptions, RuleOptions
from provcheck.policy.rules.base import (
    EvaluationContext,
    ProvenanceRecord,
    missing_provenance,
    with_provenance_error,
)
from provcheck.policy.rules.frontend import frontend_names
from provcheck.predicates.slsa import Material
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "base-images"


def _key(m: Material) -> tuple[str, bool] | None:
    return (m.image.name, m.local_layout) if m.image is not None else None


def _llb_names(identifiers: tuple[str, ...], local_layout: bool) -> set[tuple[str, bool]]:
    names = set()
    for ident in identifiers:
        try:
            names.add((ImageReference.parse(ident).name, local_layout))
        except InvalidReferenceError:
            continue
    return names


def shown(m: Material) -> str:
    """How a report names the image of ``m`` (``oci-layout://…`` for a local layout)."""
    return f"oci-layout://{m.image}" if m.local_layout else str(m.image)


def base_images(rec: ProvenanceRecord, opts: BaseImagesOptions) -> list[Material]:
    """The base-image materials of one provenance statement."""
    p = rec.provenance
    frontends = frontend_names(rec)
    images = [m for m in p.materials if m.image is not None and _key(m) not in frontends]
    if p.max_mode and (p.llb_image_sources or p.llb_layout_sources):
        names = _llb_names(p.llb_image_sources, False) | _llb_names(p.llb_layout_sources, True)
        return [m for m in images if _key(m) in names]
    return [m for m in images if not any(material_matches(g, m) for g in opts.sbom_generators)]


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
                    ok = any(material_matches(e, m) for e in options.allow)
                    if not ok:
                        bad.append(shown(m))
                    evidence.append(
                        Evidence(
                            rec.source,
                            m.pointer,
                            f"{shown(m)} {m.sha256 or ''}".strip(),
                            None if ok else "build FROM an approved base image",
                        )
                    )
            if bad:
                msg = f"base image(s) not allowed: {', '.join(sorted(set(bad)))}"
                found = RuleResult(NAME, Status.FAIL, pc.key, msg, tuple(evidence))
            elif evidence:
                found = RuleResult(
                    NAME, Status.PASS, pc.key, "all base images are allowed", tuple(evidence)
                )
            else:
                found = RuleResult(
                    NAME,
                    Status.PASS,
                    pc.key,
                    "no base image recorded (FROM scratch)",
                    tuple(
                        Evidence(r.source, r.provenance.pointers["materials"])
                        for r in pc.provenance
                    ),
                )
            out.append(with_provenance_error(pc, found))
        return out
