"""Which causes apply to an image, from what discovery recorded (typed values only).

:func:`index_findings` and :func:`platform_findings` give every cause that applies, each with a
sentence about this image and the fix (what ``explain`` shows), on top of
:mod:`provcheck.policy.absence` (why one platform has no usable evidence of a kind: what
``verify`` names in a result).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from provcheck.discovery.model import (
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
    ProblemKind,
    ReferrersAnswer,
    StoreLookup,
    StoreRepository,
    TrustLevel,
    UsableStatement,
)
from provcheck.errors import ProvcheckError
from provcheck.oci.reference import LayoutReference, parse_reference
from provcheck.policy.absence import absent_cause, in_index, statements, unbound_here, unbound_image
from provcheck.predicates import PredicateKind
from provcheck.predicates.slsa import parse_provenance
from provcheck.report.causes import Cause

EVIDENCE: Final = (PredicateKind.PROVENANCE, PredicateKind.SBOM)
"""The kinds of evidence BuildKit attaches, which explain accounts for on every platform."""

_BUILD: Final = "docker buildx build --provenance=mode=max --sbom=true --push"
_COPY: Final = (
    "copy with its attestations: `docker buildx imagetools create -t DEST SRC` or "
    "`skopeo copy --all --preserve-digests docker://SRC docker://DEST`"
)
_NAMES: Final = {PredicateKind.PROVENANCE: "provenance", PredicateKind.SBOM: "SBOM"}
_COSIGN_TYPE: Final = {PredicateKind.PROVENANCE: "slsaprovenance", PredicateKind.SBOM: "spdxjson"}

FIXES: Final[Mapping[Cause, str]] = {
    Cause.SINGLE_MANIFEST: (
        f"build and push with buildx: `{_BUILD}` (the docker driver, `--load` then "
        "`docker push`, and `--provenance=false --sbom=false` leave a bare manifest); or "
        f"{_COPY}"
    ),
    Cause.NO_ATTESTATION_MANIFESTS: (
        f"build with `{_BUILD}`; a mirror or copy that drops unknown manifests loses them: {_COPY}"
    ),
    Cause.PLATFORM_NOT_ATTESTED: (
        f"build every platform in one `{_BUILD} --platform …`, or assemble the index with "
        "`docker buildx imagetools create` from images that carry their attestations"
    ),
    Cause.MIN_MODE: (
        "build with `--provenance=mode=max` (docker/build-push-action: `provenance: mode=max`)"
    ),
    Cause.NO_SBOM: "build with `--sbom=true` (or `--attest type=sbom`)",
    Cause.UNBOUND: (
        "rebuild, or assemble the index with `docker buildx imagetools create` from the images "
        "as built (it keeps each attestation manifest with the manifest it describes)"
    ),
    Cause.STORED_ELSEWHERE: (
        "nothing, for provcheck (it reads cosign tags, referrers and --attestations-repo); "
        "tools that read only the index (`docker buildx imagetools inspect`) do not see it: "
        f"attach it at build time (`{_BUILD}`) if they must"
    ),
    Cause.REGISTRY_NO_REFERRERS: (
        "referrers stay visible while the tools that attach them maintain the fallback tag (cosign "
        "and oras do); one pushed by a tool that relies on the API alone is invisible here: use a "
        "registry that serves the OCI 1.1 referrers API"
    ),
}
"""The fix of each cause (``below-trust``'s depends on the level: :func:`below_trust_fix`)."""

ORIGIN_NAMES: Final[Mapping[AttestationOrigin, str]] = {
    AttestationOrigin.INDEX: "the index",
    AttestationOrigin.COSIGN_TAG: "a cosign tag",
    AttestationOrigin.REFERRERS: "the referrers API",
    AttestationOrigin.REFERRERS_TAG: "the referrers fallback tag",
}
"""Where a statement was found, for a person."""


def _name(kind: PredicateKind) -> str:
    return _NAMES.get(kind, kind.value)


def where_found(usable: UsableStatement) -> str:
    """Where a statement was found, for a person: ``the index``, ``a cosign tag of
    the attestations repository``, …"""
    where = ORIGIN_NAMES[usable.manifest.origin]
    if usable.manifest.repository is StoreRepository.ATTESTATIONS_REPO:
        return f"{where} of the attestations repository"
    return where


@dataclass(frozen=True, slots=True)
class Finding:
    """One cause that applies, about one kind of evidence (``None``: the image as a whole)."""

    code: Cause
    kind: PredicateKind | None
    message: str
    fix: str


def below_trust_fix(minimum: TrustLevel, kind: PredicateKind, rejected: int) -> str:
    """What would raise ``kind`` evidence to ``minimum``."""
    if minimum is TrustLevel.SIGNED:
        fix = (
            f"sign it (`cosign attest --key KEY --type {_COSIGN_TYPE.get(kind, 'custom')} "
            "IMAGE@DIGEST`, or sign the attestation manifest) and trust the key: the signatures "
            "rule's keys or `--key PEM`; keyless: its identities and `--trusted-root`"
        )
        if rejected:
            fix += f"; {rejected} signature(s) found were rejected: trust the key that made them"
        return fix
    return "pin the reference by digest (REPO@sha256:…) or sign the index (`cosign sign --key KEY`)"


def _levels(found: tuple[UsableStatement, ...]) -> str:
    counts: dict[TrustLevel, int] = {}
    for usable in found:
        counts[usable.layer.trust] = counts.get(usable.layer.trust, 0) + 1
    return ", ".join(f"{n} {level.value}" for level, n in sorted(counts.items()))


def _rejected_signatures(image: ImageAttestations) -> int:
    return sum(1 for p in image.all_problems() if p.kind is ProblemKind.SIGNATURE)


def _absent(image: ImageAttestations, pi: PlatformImage, kind: PredicateKind) -> Finding | None:
    code = absent_cause(image, pi, kind)
    if code is None:
        return None
    what = f"no {_name(kind)} for {pi.platform.key}"
    match code:
        case Cause.UNBOUND:
            n = unbound_here(pi, kind) or unbound_image(image)
            message = (
                f"{what}: {n} attestation(s) found are bound to another manifest than "
                f"{pi.descriptor.digest.short} (the index was assembled from other images, or "
                "the attestation was made for another digest): not used"
            )
        case Cause.SINGLE_MANIFEST:
            message = (
                f"{what}: the tag is one image manifest ({image.descriptor.media_type}), not an "
                "index, so it has no attestation manifests"
            )
        case Cause.NO_ATTESTATION_MANIFESTS:
            message = f"{what}: the index holds {len(image.images)} image(s) and no attestation"
            message += " manifest"
        case Cause.PLATFORM_NOT_ATTESTED:
            attested = sorted(o.platform.key for o in image.images if in_index(o))
            message = (
                f"{what}: the index has attestation manifests for {', '.join(attested)}, "
                f"none for {pi.platform.key}"
            )
        case _:
            message = f"{what}: there is provenance but no SBOM (built without --sbom)"
    return Finding(code, kind, message, FIXES[code])


def _below(
    image: ImageAttestations,
    pi: PlatformImage,
    kind: PredicateKind,
    found: tuple[UsableStatement, ...],
    minimum: TrustLevel,
) -> Finding | None:
    if any(u.layer.trust.at_least(minimum) for u in found):
        return None
    message = (
        f"{len(found)} {_name(kind)} attestation(s) for {pi.platform.key} ({_levels(found)}), "
        f"none at the policy's min-trust {minimum.value}"
    )
    fix = below_trust_fix(minimum, kind, _rejected_signatures(image))
    return Finding(Cause.BELOW_TRUST, kind, message, fix)


def _elsewhere(
    pi: PlatformImage, kind: PredicateKind, found: tuple[UsableStatement, ...]
) -> Finding | None:
    if any(u.manifest.origin is AttestationOrigin.INDEX for u in found):
        return None
    places = sorted({where_found(u) for u in found})
    message = (
        f"{_name(kind)} for {pi.platform.key} is not in the index, but in "
        f"{' and '.join(places)} ({len(found)} statement(s))"
    )
    return Finding(Cause.STORED_ELSEWHERE, kind, message, FIXES[Cause.STORED_ELSEWHERE])


def _min_mode(pi: PlatformImage, found: tuple[UsableStatement, ...]) -> Finding | None:
    parsed = []
    for usable in found:
        try:
            parsed.append(parse_provenance(usable.statement))
        except ProvcheckError:
            continue  # reported by verify; explain says what it could read
    if not parsed or any(p.max_mode for p in parsed):
        return None
    message = (
        f"provenance for {pi.platform.key} is min mode: build arguments, secrets and the build "
        "definition were stripped, so it cannot show what went into the build"
    )
    return Finding(Cause.MIN_MODE, PredicateKind.PROVENANCE, message, FIXES[Cause.MIN_MODE])


def platform_findings(
    image: ImageAttestations,
    pi: PlatformImage,
    min_trust: Mapping[PredicateKind, TrustLevel],
) -> tuple[Finding, ...]:
    """Every cause that applies to ``pi``, provenance first, then SBOM. ``min_trust``: the
    policy's level per kind of evidence (none: no ``below-trust``)."""
    out: list[Finding] = []
    for kind in EVIDENCE:
        found = statements(image, pi, kind)
        if not found:
            absent = _absent(image, pi, kind)
            if absent is not None:
                out.append(absent)
            continue
        minimum = min_trust.get(kind)
        present = (
            _below(image, pi, kind, found, minimum) if minimum is not None else None,
            _elsewhere(pi, kind, found),
            _min_mode(pi, found) if kind is PredicateKind.PROVENANCE else None,
        )
        out.extend(f for f in present if f is not None)
    return tuple(out)


def _fallback_lines(fallback: list[StoreLookup]) -> Iterator[str]:
    held = [x for x in fallback if x.listed]
    empty = [x for x in fallback if x.listed == 0]
    absent = [x for x in fallback if x.listed is None]
    if len(absent) == len(fallback):
        yield "none exists"
        return
    for x in held:
        yield f"sha256-{x.digest.hex[:12]}… listed {x.listed} referrer(s)"
    if empty:
        yield f"{len(empty)} listed none"
    if absent:
        yield f"{len(absent)} did not exist"


def _referrers_matter(image: ImageAttestations, fallback: list[StoreLookup]) -> bool:
    """Whether reading the fallback tag instead of the referrers API bears on the evidence: a
    fallback tag held referrers, or some platform lacks provenance or an SBOM (a referrer pushed
    through the API alone would be invisible here)."""
    if any(x.listed for x in fallback):
        return True
    known = [pi for pi in image.images if not pi.platform.is_unknown]
    return not known or any(not statements(image, pi, k) for pi in known for k in EVIDENCE)


def index_findings(image: ImageAttestations) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """The causes about the image as a whole (``single-manifest``, ``no-attestation-manifests``,
    ``unbound``: orphans, store statements bound to another image; ``registry-no-referrers``
    when it matters), and the notes: ``registry-no-referrers`` when no evidence is missing and
    no fallback tag held anything (true, and nothing to fix)."""
    out: list[Finding] = []
    notes: list[Finding] = []
    if not image.is_index:
        message = (
            f"the tag is one image manifest ({image.descriptor.media_type}), not an index: "
            "BuildKit keeps its attestations in an index, so none can be there"
        )
        out.append(Finding(Cause.SINGLE_MANIFEST, None, message, FIXES[Cause.SINGLE_MANIFEST]))
    elif not any(in_index(pi) for pi in image.images):
        message = (
            f"the index lists {len(image.images)} image(s) and no attestation manifest "
            "(built with --provenance=false, or copied by a tool that dropped them)"
        )
        out.append(
            Finding(
                Cause.NO_ATTESTATION_MANIFESTS, None, message, FIXES[Cause.NO_ATTESTATION_MANIFESTS]
            )
        )
    unbound = unbound_image(image)
    if unbound:
        message = (
            f"{unbound} attestation(s) describe a manifest that is not this image's (an "
            "attestation manifest for a manifest not in the index, or a statement made for "
            "another digest): not used (see problems)"
        )
        out.append(Finding(Cause.UNBOUND, None, message, FIXES[Cause.UNBOUND]))
    fallback = [x for x in image.lookups if x.referrers is ReferrersAnswer.FALLBACK_TAG]
    if fallback:
        layout = isinstance(parse_reference(image.reference), LayoutReference)
        who = (
            "an OCI layout has no referrers API"
            if layout
            else "the registry answered 404 to the referrers API"
        )
        message = (
            f"{who}, so the sha256-<hex> fallback tag was read for {len(fallback)} digest(s): "
            + "; ".join(_fallback_lines(fallback))
        )
        finding = Finding(
            Cause.REGISTRY_NO_REFERRERS, None, message, FIXES[Cause.REGISTRY_NO_REFERRERS]
        )
        (out if _referrers_matter(image, fallback) else notes).append(finding)
    return tuple(out), tuple(notes)
