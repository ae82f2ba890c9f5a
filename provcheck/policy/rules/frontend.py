"""``frontend``: what ran as the Dockerfile frontend is approved (and pinned, if asked).

The identity is ``frontend`` + ``args.source`` + the matching material digest, never the
``# syntax=`` line of the recorded Dockerfile (a ``BUILDKIT_SYNTAX`` build arg overrides it).
BuildKit's gateway loads the frontend image from the named context ``context:<source>`` when
the request has one (and runs ``source=dockerfile.v0`` as the built-in frontend only when there
is no ``context:dockerfile.v0``): then what ran is that context's content, and that is checked.
A digest is only ever taken from the materials (what the build resolved), never from a
reference string.
"""

from __future__ import annotations

from provcheck.errors import InvalidReferenceError, ManifestError, UsageError
from provcheck.oci.digest import Digest
from provcheck.oci.platform import Platform
from provcheck.oci.reference import ImageReference
from provcheck.policy.matching import reference_matches, text_matches
from provcheck.policy.model import FrontendOptions, RuleOptions
from provcheck.policy.rules.base import (
    EvaluationContext,
    ProvenanceRecord,
    missing_provenance,
    with_provenance_error,
)
from provcheck.predicates.slsa import (
    BUILTIN_DOCKERFILE_FRONTEND,
    ContextKind,
    Material,
    NamedContext,
    Provenance,
)
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "frontend"
_HINT = "use an approved '# syntax=' image (pinned by digest) or remove the directive"
_CONTEXT_HINT = "do not replace the frontend image with a named context (--build-context)"


def _worst(results: list[RuleResult]) -> RuleResult:
    return max(results, key=lambda r: r.status.severity)


def _same_name(name: str, source: str) -> bool:
    """True when the context name ``name`` is the reference ``source``.

    BuildKit compares Docker's familiar form (``docker/dockerfile:1``, ``:latest`` trimmed);
    comparing normalised references accepts at least every name BuildKit would.
    """
    if name == source:
        return True
    try:
        return ImageReference.parse(name) == ImageReference.parse(source)
    except InvalidReferenceError:
        return False


def _platform_key(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return Platform.parse(text).key
    except UsageError:
        return None


def frontend_contexts(p: Provenance, source: str) -> tuple[NamedContext, ...]:
    """The named contexts BuildKit's gateway may have loaded as the frontend ``source``.

    It looks up ``context:<source>::<builder platform>``, then ``context:<source>``. When the
    builder platform is not recorded every candidate counts (each must pass).
    """
    found = [c for c in p.named_contexts if _same_name(c.name, source)]
    builder = _platform_key(p.builder_platform)
    if builder is None:
        return tuple(found)
    exact = [c for c in found if c.platform is not None and _platform_key(c.platform) == builder]
    return tuple(exact or [c for c in found if c.platform is None])


def context_image(c: NamedContext, source: str) -> tuple[ImageReference, bool] | None:
    """The image a frontend context loads and whether it came from an OCI layout; ``None``
    when the context is no image (``local:``, git, http, ``input:``) or not a valid one.

    BuildKit names an OCI-layout image after the context (the frontend ``source``), pinned to
    the layout digest; its material is ``pkg:oci/<source>…``.
    """
    try:
        if c.kind is ContextKind.DOCKER_IMAGE:
            return ImageReference.parse(c.target), False
        if c.kind is ContextKind.OCI_LAYOUT:
            _, at, digest = c.target.partition("@")
            if not at:
                return None
            named = ImageReference.parse(source)
            return named.with_digest(Digest.parse(digest)), True
    except (InvalidReferenceError, ManifestError):
        return None
    return None


def frontend_names(rec: ProvenanceRecord) -> frozenset[tuple[str, bool]]:
    """``(name, from an OCI layout)`` of every image that ran as the frontend."""
    p = rec.provenance
    source = p.frontend_source
    if not source:
        return frozenset()
    contexts = frontend_contexts(p, source)
    if contexts:
        images = (context_image(c, source) for c in contexts)
        return frozenset((ref.name, local) for ref, local in filter(None, images))
    if source == BUILTIN_DOCKERFILE_FRONTEND:
        return frozenset()
    try:
        return frozenset({(ImageReference.parse(source).name, False)})
    except InvalidReferenceError:
        return frozenset()


def frontend_material(
    rec: ProvenanceRecord, ref: ImageReference, *, local_layout: bool = False
) -> Material | None:
    """The material that recorded the frontend image ``ref`` (same repository and origin).

    For a pinned ``ref`` only a material with that digest (or asked for by it) counts.
    """
    same = [
        m
        for m in rec.provenance.materials
        if m.image is not None and m.local_layout == local_layout and m.image.name == ref.name
    ]
    if ref.digest is not None:
        pin = str(ref.digest)
        best = [m for m in same if m.sha256 == pin] or [m for m in same if m.pinned_digest == pin]
    else:
        same_tag = [m for m in same if m.image is not None and m.image.tag == ref.tag]
        best = [m for m in same_tag if m.pinned_digest is None] or same_tag or same
    return best[0] if best else None


def _check_image(
    rec: ProvenanceRecord,
    opts: FrontendOptions,
    platform: str,
    ref: ImageReference,
    local_layout: bool,
    via: NamedContext | None,
) -> RuleResult:
    """Check one frontend image that ran: from ``args.source``, or from the context ``via``."""
    p = rec.provenance
    material = frontend_material(rec, ref, local_layout=local_layout)
    recorded = material.sha256 if material else None
    label = f"oci-layout://{ref}" if local_layout else str(ref)
    what = f"frontend image {label}" + (f" (named context {via.arg.key!r})" if via else "")
    pointer = via.arg.pointer if via else p.pointers["source"]
    shown = f"{via.arg.key}={via.arg.value[:200]}" if via else str(ref)
    if recorded and not ref.digest:
        shown += f" ({recorded})"
    hint = _CONTEXT_HINT if via else _HINT
    more = (
        (Evidence(rec.source, material.pointer, f"{material.uri} {material.sha256}"),)
        if material is not None
        else ()
    )
    if ref.digest is not None and recorded is not None and recorded != str(ref.digest):
        return RuleResult(
            NAME,
            Status.FAIL,
            platform,
            f"{what} was pinned to {ref.digest} but the provenance records {recorded}",
            (Evidence(rec.source, pointer, shown, hint), *more),
        )
    allowed = any(
        reference_matches(e, ref, recorded, local_layout=local_layout)
        for e in opts.allow
        if e != BUILTIN_DOCKERFILE_FRONTEND
    )
    if not allowed:
        return RuleResult(
            NAME,
            Status.FAIL,
            platform,
            f"{what} is not approved",
            (Evidence(rec.source, pointer, shown, hint), *more),
        )
    if opts.pinned and ref.digest is None:
        pin = (
            "docker-image://<image>@sha256:<digest>" if via else "# syntax=<image>@sha256:<digest>"
        )
        return RuleResult(
            NAME,
            Status.FAIL,
            platform,
            f"{what} is not pinned by digest",
            (Evidence(rec.source, pointer, shown, f"pin it: '{pin}'"),),
        )
    evidence = (Evidence(rec.source, pointer, shown), *more)
    if recorded is None:
        return RuleResult(
            NAME, Status.INCOMPLETE, platform, f"{what} has no recorded digest", evidence
        )
    return RuleResult(NAME, Status.PASS, platform, f"{what} is approved", evidence)


def _check_context(
    rec: ProvenanceRecord, opts: FrontendOptions, platform: str, source: str, c: NamedContext
) -> RuleResult:
    image = context_image(c, source)
    if image is None:
        return RuleResult(
            NAME,
            Status.FAIL,
            platform,
            f"frontend {source[:200]!r} was replaced by named context {c.arg.key[:200]!r}, "
            "which is not an image an allow-list can approve",
            (Evidence(rec.source, c.arg.pointer, c.arg.value[:200], _CONTEXT_HINT),),
        )
    ref, local_layout = image
    return _check_image(rec, opts, platform, ref, local_layout, c)


def _check(rec: ProvenanceRecord, opts: FrontendOptions, platform: str) -> RuleResult:
    p = rec.provenance
    source = p.frontend_source
    if source:
        contexts = frontend_contexts(p, source)
        if contexts:
            return _worst([_check_context(rec, opts, platform, source, c) for c in contexts])
    if source and source != BUILTIN_DOCKERFILE_FRONTEND:
        try:
            ref = ImageReference.parse(source)
        except InvalidReferenceError:
            return RuleResult(
                NAME,
                Status.FAIL,
                platform,
                f"frontend source {source[:200]!r} is not a valid image reference",
                (Evidence(rec.source, p.pointers["source"], source[:200], _HINT),),
            )
        return _check_image(rec, opts, platform, ref, False, None)
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
        for pc in ctx.platforms:
            missing = missing_provenance(NAME, pc)
            if missing is not None:
                out.append(missing)
                continue
            found = _worst([_check(r, options, pc.key) for r in pc.provenance])
            out.append(with_provenance_error(pc, found))
        return out
