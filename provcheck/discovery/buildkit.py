"""Discover BuildKit attestations: attestation manifests inside the image index.

Follows formats.md §9: the root is pinned by the digest of the bytes received, every child is
fetched by digest and checked, each attestation manifest and each statement is bound to the
platform manifest it claims, and whatever does not bind is reported as a :class:`Problem`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from provcheck.attestation.binding import bind_statement, subject_is
from provcheck.attestation.signatures import SignatureCheck, TlogStatus
from provcheck.attestation.statement import Statement, parse_statement
from provcheck.discovery.limits import Budget
from provcheck.discovery.model import (
    AttestationForm,
    AttestationLayer,
    AttestationManifest,
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
    Problem,
    ProblemKind,
    TrustLevel,
)
from provcheck.discovery.offload import INLINE_STATEMENT_BYTES, run_verification
from provcheck.discovery.options import DiscoveryOptions
from provcheck.discovery.select import platform_keys, require_platforms
from provcheck.errors import (
    AttestationError,
    ContentTooLargeError,
    IntegrityError,
    LimitExceededError,
    ManifestError,
    NotFoundError,
    ProvcheckError,
    RegistryError,
)
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import (
    Descriptor,
    ImageIndex,
    ImageManifest,
    load_manifest_json,
    parse_manifest,
)
from provcheck.oci.platform import Platform
from provcheck.predicates import PredicateKind, predicate_kind
from provcheck.source.base import CONFIG_MAX_BYTES, Source


def problem_from_error(exc: ProvcheckError, digest: Digest | None, what: str) -> Problem:
    """Turn an error while reading one child into a reported problem."""
    if isinstance(exc, IntegrityError):
        kind = ProblemKind.INTEGRITY
    elif isinstance(exc, ContentTooLargeError):
        kind = ProblemKind.TOO_LARGE
    elif isinstance(exc, NotFoundError):
        kind = ProblemKind.MISSING
    elif isinstance(exc, RegistryError):
        kind = ProblemKind.FETCH
    else:
        kind = ProblemKind.MALFORMED
    return Problem(kind, f"{what}: {exc.diagnostics()}", digest)


@dataclass(frozen=True, slots=True)
class _Entry:
    """An index entry classified as a platform image or an attestation manifest."""

    descriptor: Descriptor
    attests: Digest | None


class AttestationReader:
    """One discovery run: a source, a pinned root, options, a concurrency limit and the budget
    of the image (``budget``: shared with the signature stores; default: a new one)."""

    def __init__(
        self,
        source: Source,
        options: DiscoveryOptions,
        *,
        pinned: bool,
        budget: Budget | None = None,
    ) -> None:
        self.source = source
        self.options = options
        self.budget = budget or Budget(options.limits)
        # In-index statements reached from a digest the user pinned are index-bound.
        self.in_index_trust = TrustLevel.INDEX_BOUND if pinned else TrustLevel.UNSIGNED
        self._limit = asyncio.Semaphore(max(1, options.concurrency))
        self._known: dict[Digest, bytes] = {}

    def remember(self, descriptor: Descriptor, data: bytes) -> None:
        """Keep verified manifest bytes (the root) so that they are not fetched twice."""
        self._known[descriptor.digest] = data

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        """Fetch a manifest, with at most ``concurrency`` fetches in flight."""
        known = self._known.get(descriptor.digest)
        if known is not None and len(known) == descriptor.size:
            return known
        self.budget.spend_bytes(descriptor.size)
        async with self._limit:
            return await self.source.fetch_manifest(descriptor)

    async def fetch_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        """Fetch a blob, with at most ``concurrency`` fetches in flight."""
        self.budget.spend_bytes(descriptor.size)
        async with self._limit:
            return await self.source.fetch_blob(descriptor, max_bytes)

    def parse(self, data: bytes, descriptor: Descriptor, where: str) -> ImageIndex | ImageManifest:
        """Parse verified manifest bytes, counting their descriptors against the budget."""
        return self.budget.parsed(parse_manifest(data, descriptor.media_type, where))

    # -- index -------------------------------------------------------------------------------

    async def flatten(
        self, index: ImageIndex, depth: int, problems: list[Problem]
    ) -> list[Descriptor]:
        """The manifest descriptors of an index, recursing into nested indexes.

        Raises :class:`LimitExceededError` past the budget's depth or descriptor limits.
        """
        out: list[Descriptor] = []
        for child in index.manifests:
            if child.media_type not in mt.INDEX_TYPES:
                out.append(child)
                continue
            self.budget.enter_index(depth + 1)
            try:
                nested = self.parse(await self.fetch_manifest(child), child, "nested index")
            except LimitExceededError:
                raise
            except ProvcheckError as exc:
                problems.append(problem_from_error(exc, child.digest, "nested index"))
                continue
            assert isinstance(nested, ImageIndex)
            out.extend(await self.flatten(nested, depth + 1, problems))
        return out

    @staticmethod
    def classify(descriptor: Descriptor, problems: list[Problem]) -> _Entry | None:
        """Platform image, attestation manifest, or something to ignore (with a problem)."""
        annotations = descriptor.annotations
        ref_type = annotations.get(mt.REFERENCE_TYPE)
        vnd, com = annotations.get(mt.REFERENCE_DIGEST), annotations.get(mt.COM_REFERENCE_DIGEST)
        if ref_type is None and vnd is None and com is None:
            return _Entry(descriptor, None)
        if ref_type is not None and ref_type != mt.ATTESTATION_MANIFEST:
            return None  # another kind of reference: ignored, as the spec says
        if vnd is not None and com is not None and vnd != com:
            problems.append(
                Problem(
                    ProblemKind.BINDING,
                    f"attestation manifest {descriptor.digest.short} names two different "
                    f"manifests ({mt.REFERENCE_DIGEST}={vnd[:19]}, {mt.COM_REFERENCE_DIGEST}="
                    f"{com[:19]}): not used",
                    descriptor.digest,
                )
            )
            return None
        target = vnd or com
        if ref_type is None or target is None:
            problems.append(
                Problem(
                    ProblemKind.SUSPICIOUS,
                    f"index entry {descriptor.digest.short} has a partial attestation reference "
                    f"(type={ref_type!r}, digest={target!r}): not used",
                    descriptor.digest,
                )
            )
            return None
        try:
            return _Entry(descriptor, Digest.parse(target))
        except ManifestError as exc:
            problems.append(
                Problem(ProblemKind.MALFORMED, f"attestation reference: {exc}", descriptor.digest)
            )
            return None

    async def platform_of(self, descriptor: Descriptor) -> tuple[Platform, dict[str, Any] | None]:
        """The descriptor's platform, or (when absent) the one recorded in the image config."""
        if descriptor.platform is not None and not self.options.image_configs:
            return descriptor.platform, None
        config = await self.config(descriptor)
        platform = descriptor.platform or Platform.from_dict(config) or Platform("", "unknown")
        return platform, config

    async def config(self, descriptor: Descriptor) -> dict[str, Any]:
        """Fetch an image manifest and then its config blob, both verified."""
        manifest = self.parse(await self.fetch_manifest(descriptor), descriptor, "image manifest")
        if not isinstance(manifest, ImageManifest):
            raise ManifestError(f"{descriptor.digest.short} is not an image manifest")
        raw = await self.fetch_blob(manifest.config, CONFIG_MAX_BYTES)
        doc = load_manifest_json(raw, f"image config {manifest.config.digest.short}")
        if not isinstance(doc, dict):
            raise ManifestError(f"image config {manifest.config.digest.short} is not an object")
        return doc

    # -- attestations ------------------------------------------------------------------------

    async def attestation_manifest(
        self, descriptor: Descriptor, image: Descriptor, platform: Platform, root: Descriptor
    ) -> AttestationManifest:
        """Fetch, check and bind one attestation manifest and the layers a caller needs."""
        try:
            parsed = self.parse(
                await self.fetch_manifest(descriptor),
                descriptor,
                f"attestation manifest {descriptor.digest.short}",
            )
            if not isinstance(parsed, ImageManifest):
                raise ManifestError(f"attestation manifest {descriptor.digest.short} is an index")
        except ProvcheckError as exc:
            return AttestationManifest(
                descriptor,
                AttestationForm.LEGACY,
                AttestationOrigin.INDEX,
                problems=(
                    problem_from_error(exc, descriptor.digest, f"attestation for {platform}"),
                ),
            )
        form = (
            AttestationForm.OCI_ARTIFACT
            if parsed.artifact_type == mt.ATTESTATION_MANIFEST_ARTIFACT
            else AttestationForm.LEGACY
        )
        subject_problem = self._subject_problem(parsed.subject, image, descriptor)
        if subject_problem is not None:
            return AttestationManifest(
                descriptor, form, AttestationOrigin.INDEX, problems=(subject_problem,)
            )
        index_digest = root.digest if root.media_type in mt.INDEX_TYPES else None
        layers = await asyncio.gather(
            *(
                self.layer(i, layer, image, platform, index_digest)
                for i, layer in enumerate(parsed.layers)
            )
        )
        return AttestationManifest(descriptor, form, AttestationOrigin.INDEX, tuple(layers))

    @staticmethod
    def _subject_problem(
        subject: Descriptor | None, image: Descriptor, descriptor: Descriptor
    ) -> Problem | None:
        """An OCI-artifact attestation manifest's ``subject`` must be the platform manifest."""
        if subject is None:
            return None
        if subject_is(subject, image):
            return None
        return Problem(
            ProblemKind.BINDING,
            f"attestation manifest {descriptor.digest.short} has subject "
            f"{subject.digest.short} ({subject.size} bytes, {subject.media_type}), but the index "
            f"binds it to {image.digest.short} ({image.size} bytes, {image.media_type}): not used",
            descriptor.digest,
        )

    async def layer(
        self,
        position: int,
        descriptor: Descriptor,
        image: Descriptor,
        platform: Platform,
        index_digest: Digest | None,
    ) -> AttestationLayer:
        """Fetch, parse and bind one in-toto layer, unless the caller does not need its kind."""
        hint = descriptor.annotations.get(mt.PREDICATE_TYPE)
        layer = AttestationLayer(descriptor, position, hint)
        if hint is not None and predicate_kind(hint) not in self.options.kinds:
            return layer
        where = f"attestation layer {descriptor.digest.short} for {platform}"
        envelope = (
            mt.is_in_toto_dsse(descriptor.media_type) or descriptor.media_type == mt.DSSE_ENVELOPE
        )
        if descriptor.media_type != mt.IN_TOTO and not envelope:
            return AttestationLayer(
                descriptor,
                position,
                hint,
                problems=(
                    Problem(
                        ProblemKind.MALFORMED,
                        f"{where}: unsupported media type {descriptor.media_type!r}: not used",
                    ),
                ),
            )
        trust, signature = self.in_index_trust, None
        try:
            raw = await self.fetch_blob(descriptor, self.options.max_layer_bytes)
            if envelope:
                opened = await run_verification(
                    self.options.offload, self._open_envelope, raw, descriptor, where
                )
                if isinstance(opened, Problem):
                    return AttestationLayer(descriptor, position, hint, problems=(opened,))
                statement, trust, signature = opened
            else:
                statement = await run_verification(
                    self.options.offload if len(raw) > INLINE_STATEMENT_BYTES else False,
                    parse_statement,
                    raw,
                )
        except (ProvcheckError, AttestationError) as exc:
            return AttestationLayer(
                descriptor,
                position,
                hint,
                problems=(problem_from_error(exc, descriptor.digest, where),),
            )
        binding = bind_statement(
            statement,
            manifest=image.digest,
            platform=platform,
            index=index_digest,
            predicate_type_hint=hint,
        )
        problems: tuple[Problem, ...] = ()
        if not binding.usable:
            problems = (
                Problem(
                    ProblemKind.BINDING,
                    f"{where}: {'; '.join(binding.messages)}: not used",
                    descriptor.digest,
                ),
            )
        return AttestationLayer(
            descriptor, position, hint, statement, binding, problems, trust, signature
        )

    def _open_envelope(
        self, raw: bytes, descriptor: Descriptor, where: str
    ) -> tuple[Statement, TrustLevel, SignatureCheck | None] | Problem:
        """The statement of a DSSE-enveloped layer in the index (docker/attest, Docker Hardened
        Images), with its trust, or the problem that rejects it.

        With trusted keys or identities (``options.trust``) the envelope must verify like a
        signed attestation from a signature store (payload type, trusted signers, transparency
        log when required), and exactly the verified payload is the statement. Its trust stays
        that of the index here, with the verified signers in the :class:`SignatureCheck`: the
        threshold is applied later, once, over every signature of the same bytes
        (:func:`provcheck.discovery.stores.trusting.settle`), which raises it to ``signed`` or
        rejects it. Without trust material the payload is decoded unverified, as buildx does,
        and is as trustworthy as the index that lists it (``unsigned``, or ``index-bound`` when
        the index was pinned by digest).
        """
        # Imported here: inspect without signed layers needs no cryptography.
        from provcheck.attestation.cosign import has_tlog_bundle
        from provcheck.attestation.dsse import parse_envelope
        from provcheck.attestation.tlog import evidence_from_annotations
        from provcheck.attestation.verify import verify_statement_envelope

        trust = self.options.trust
        try:
            envelope = parse_envelope(raw)
        except ProvcheckError as exc:
            return Problem(
                ProblemKind.MALFORMED,
                f"{where}: signed envelope: {exc.diagnostics()}: not used",
                descriptor.digest,
            )
        present = has_tlog_bundle(dict(descriptor.annotations))
        tlog = TlogStatus.UNVERIFIED if present else TlogStatus.ABSENT
        checked = verify_statement_envelope(
            envelope,
            trust,
            tlog=tlog,
            tlog_evidence=evidence_from_annotations(descriptor.annotations),
            raw_envelope=raw,
        )
        if checked.rejections or checked.statement is None:
            # Without trust material only the payload type or the statement can be wrong.
            kind = ProblemKind.SIGNATURE if trust is not None else ProblemKind.MALFORMED
            reasons = "; ".join(r.message for r in checked.rejections) or "no statement"
            return Problem(
                kind, f"{where}: signed envelope rejected: {reasons}: not used", descriptor.digest
            )
        signature = checked.check if trust is not None else None
        return checked.statement, self.in_index_trust, signature

    async def image(
        self,
        entry: Descriptor,
        attestations: list[Descriptor],
        root: Descriptor,
    ) -> PlatformImage:
        """One platform image: its platform (and config when asked) and its attestations."""
        problems: list[Problem] = []
        config: dict[str, Any] | None = None
        try:
            platform, config = await self.platform_of(entry)
        except ProvcheckError as exc:
            platform = entry.platform or Platform("", "unknown")
            problems.append(problem_from_error(exc, entry.digest, f"image {entry.digest.short}"))
        wanted = attestations if self.options.index_attestations else []
        manifests = await asyncio.gather(
            *(self.attestation_manifest(a, entry, platform, root) for a in wanted)
        )
        image = PlatformImage(entry, platform, tuple(manifests), config)
        provenance = len(list(image.statements(PredicateKind.PROVENANCE)))
        if provenance > 1:
            problems.append(
                Problem(
                    ProblemKind.SUSPICIOUS,
                    f"{platform}: {provenance} provenance statements; every one is evaluated, "
                    "and the buildx-compatible output shows the last in index order",
                    entry.digest,
                )
            )
        return replace(image, problems=tuple(problems))


async def discover(
    source: Source,
    root: tuple[Descriptor, bytes],
    *,
    reference: str,
    options: DiscoveryOptions | None = None,
    pinned: bool = False,
    budget: Budget | None = None,
) -> ImageAttestations:
    """Discover and bind the attestations of the image whose verified root is ``root``.

    ``pinned`` says the user named the root by digest, which makes in-index statements
    index-bound rather than unsigned. ``budget``: the image's budget, when the caller shares it
    with later reads (default: a new one from ``options.limits``). Problems with individual
    attestations are reported in the result; an error reading or parsing the root itself raises
    (:class:`ManifestError`, :class:`RegistryError`, …), :class:`LimitExceededError` when
    the image needs more work than the limits allow, and :class:`PlatformNotFoundError` when
    ``options.platforms`` names a platform the image lacks.
    """
    options = options or DiscoveryOptions()
    run = AttestationReader(source, options, pinned=pinned, budget=budget)
    found = await _discover(run, root, reference)
    run.budget.check()
    return found


async def _discover(
    run: AttestationReader, root: tuple[Descriptor, bytes], reference: str
) -> ImageAttestations:
    """:func:`discover` with its reader (whose budget the caller checks afterwards)."""
    source, options = run.source, run.options
    descriptor, data = root
    run.remember(descriptor, data)
    run.budget.spend_bytes(len(data))
    parsed = run.parse(data, descriptor, f"{reference} ({descriptor.digest.short})")
    problems: list[Problem] = []
    if isinstance(parsed, ImageManifest):
        image = await run.image(descriptor, [], descriptor)
        require_platforms(reference, platform_keys([image]), options.platforms)
        return ImageAttestations(
            reference, source.display_name, descriptor, (image,), problems=image.problems
        )

    if parsed.media_type == mt.DOCKER_MANIFEST_LIST and any(
        m.annotations for m in parsed.manifests
    ):
        problems.append(
            Problem(
                ProblemKind.SUSPICIOUS,
                "a Docker manifest list cannot carry annotations: its attestation binding is "
                "non-standard",
                descriptor.digest,
            )
        )
    entries = [
        e
        for d in await run.flatten(parsed, 1, problems)
        if (e := run.classify(d, problems)) is not None
    ]
    image_entries = [e.descriptor for e in entries if e.attests is None]
    attestations: dict[Digest, list[Descriptor]] = {d.digest: [] for d in image_entries}
    for e in entries:
        if e.attests is None:
            continue
        if e.attests in attestations:
            attestations[e.attests].append(e.descriptor)
        else:
            problems.append(
                Problem(
                    ProblemKind.ORPHAN,
                    f"attestation manifest {e.descriptor.digest.short} describes "
                    f"{e.attests.short}, which is not in the index: ignored",
                    e.descriptor.digest,
                )
            )
    # The index names the platforms: one that is not there is refused before anything is read,
    # and nothing of the platforms left out is read (an entry without a platform is read to
    # learn it from its config).
    listed = [PlatformImage(d, d.platform) for d in image_entries if d.platform is not None]
    every_platform_listed = len(listed) == len(image_entries)
    if every_platform_listed:
        require_platforms(reference, platform_keys(listed), options.platforms)
    read = await asyncio.gather(
        *(
            run.image(d, attestations[d.digest], descriptor)
            for d in image_entries
            if d.platform is None or _wanted(d.platform, options)
        )
    )
    by_digest = {i.descriptor.digest: i for i in (*listed, *read)}
    everything = [by_digest[d.digest] for d in image_entries]
    if not every_platform_listed:
        require_platforms(reference, platform_keys(everything), options.platforms)
    return ImageAttestations(
        reference,
        source.display_name,
        descriptor,
        tuple(i for i in read if _wanted(i.platform, options)),
        annotations=parsed.annotations,
        problems=tuple(problems),
        others=tuple(
            PlatformImage(i.descriptor, i.platform)
            for i in everything
            if not _wanted(i.platform, options)
        ),
    )


def _wanted(platform: Platform, options: DiscoveryOptions) -> bool:
    return not options.platforms or platform.key in options.platforms
