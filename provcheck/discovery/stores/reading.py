"""Reading the signature stores of one target: cosign ``.att``/``.sig`` tags, the referrers
(API, then the fallback tag), sigstore bundles, raw SBOM referrers and unsigned in-toto
attestation manifests. What is read is recorded in a :class:`Found`, never verified here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Final

from provcheck.attestation import bundle as sb
from provcheck.attestation.binding import subject_is
from provcheck.attestation.cosign import COSIGN_ARTIFACT_SIG, SIGNATURE_ANNOTATION
from provcheck.attestation.dsse import parse_envelope
from provcheck.attestation.statement import STATEMENT_V1, Statement, Subject
from provcheck.attestation.tlog import evidence_from_annotations
from provcheck.discovery.buildkit import AttestationReader, problem_from_error
from provcheck.discovery.limits import Budget
from provcheck.discovery.model import (
    AttestationForm,
    AttestationManifest,
    AttestationOrigin,
    ImageAttestations,
    Problem,
    ProblemKind,
    ReferrersAnswer,
    StoreLookup,
    StoreRepository,
)
from provcheck.discovery.options import DiscoveryOptions
from provcheck.discovery.stores.found import (
    Found,
    RawSbom,
    SimpleSig,
    StoredEnvelope,
    StoreTag,
    Target,
    TargetRole,
    base_media_type,
    store_tag,
)
from provcheck.errors import ManifestError, NotFoundError, ProvcheckError, RegistryError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import (
    Descriptor,
    ImageIndex,
    ImageManifest,
    load_manifest_json,
    parse_manifest,
)
from provcheck.predicates import CYCLONEDX_BOM, SPDX_DOCUMENT, PredicateKind
from provcheck.source.base import MANIFEST_MAX_BYTES, Source, check_cap

RAW_SBOM_TYPES: Final = MappingProxyType(
    {mt.SPDX_JSON: SPDX_DOCUMENT, mt.CYCLONEDX_JSON: CYCLONEDX_BOM}
)
"""Raw SBOM media types -> the in-toto predicate type of the synthesised statement."""
_GENERIC_LAYER_TYPES: Final = frozenset(
    {"application/vnd.oci.image.layer.v1.tar", "application/octet-stream", "application/json"}
)
"""Layer media types ``oras attach`` writes for a file given without one: the artifact type
then says what the document is."""


def synthesise_sbom_statement(
    document: bytes, media_type: str, subject: Descriptor, what: str
) -> Statement:
    """An in-toto statement for a raw SBOM document that was pushed as an OCI artifact.

    Why this is safe: the only claim the statement makes, its subject, comes from the
    ``subject`` of the referrer manifest, which was fetched by digest and checked against that
    digest, and which the caller has already compared (digest, size, media type) with the
    manifest it was listed for. Nothing in the SBOM content (its ``name``, ``documentNamespace``,
    ``metadata.component``) is read for the binding. The SBOM bytes themselves were checked
    against the layer descriptor of that manifest. ``predicate`` is the parsed document;
    whether it really is the announced format is checked later by :func:`parse_sbom`.

    Raises :class:`ManifestError` when the media type is not a raw SBOM type or the document
    is not a JSON object.
    """
    predicate_type = RAW_SBOM_TYPES.get(base_media_type(media_type))
    if predicate_type is None:
        raise ManifestError(f"{what}: {media_type[:100]!r} is not a raw SBOM media type")
    doc = load_manifest_json(document, what)
    if not isinstance(doc, dict):
        raise ManifestError(f"{what} is not a JSON object")
    digest = MappingProxyType({subject.digest.algorithm: subject.digest.hex})
    return Statement(STATEMENT_V1, predicate_type, (Subject("", digest),), doc)


class StoreReader:
    """Reads the signature stores of targets in ``source`` into :attr:`found` (one reader per
    discovery and repository). ``repository`` says which repository ``source`` is: what is
    found there is recorded with it; ``found`` is shared by the readers of one discovery."""

    def __init__(
        self,
        source: Source,
        options: DiscoveryOptions,
        index_digest: Digest | None = None,
        budget: Budget | None = None,
        *,
        found: Found | None = None,
        repository: StoreRepository = StoreRepository.IMAGE,
    ) -> None:
        self.source = source
        self.options = options
        self.index_digest = index_digest
        self.budget = budget or Budget(options.limits)
        """The image's budget (shared with discovery when given)."""
        self.found = Found() if found is None else found
        self.repository = repository
        self._limit = asyncio.Semaphore(max(1, options.concurrency))
        self._where = "" if repository is StoreRepository.IMAGE else f" in {source.display_name}"
        """Said after a digest in messages about the other repository."""

    async def _manifest(self, descriptor: Descriptor) -> ImageManifest | ImageIndex:
        # Over its cap it is refused unread (a problem of that piece of evidence): its declared
        # size, which whoever writes a store chooses, must not spend the whole image's budget.
        check_cap(descriptor, MANIFEST_MAX_BYTES)
        self.budget.spend_bytes(descriptor.size)
        async with self._limit:
            data = await self.source.fetch_manifest(descriptor)
        where = f"manifest {descriptor.digest.short}"
        return self.budget.parsed(parse_manifest(data, descriptor.media_type, where))

    async def _blob(self, descriptor: Descriptor) -> bytes:
        check_cap(descriptor, self.options.max_layer_bytes)  # as in _manifest
        self.budget.spend_bytes(descriptor.size)
        async with self._limit:
            return await self.source.fetch_blob(descriptor, self.options.max_layer_bytes)

    async def _tagged(self, tag: str) -> tuple[Descriptor, ImageManifest | ImageIndex] | None:
        self.budget.check()
        async with self._limit:
            got = await self.source.fetch_tag(tag)
        if got is None:
            return None
        descriptor, data = got
        self.budget.spend_bytes(len(data))
        return descriptor, self.budget.parsed(
            parse_manifest(data, descriptor.media_type, f"tag {tag}")
        )

    def _problem(self, kind: ProblemKind, message: str, digest: Digest | None) -> None:
        self.found.problems.append(Problem(kind, message, digest))

    async def target(self, target: Target) -> None:
        """Read the stores of one target concurrently, recording problems instead of raising.

        cosign ``.sig`` tags hold image signatures only: read when the caller wants them.
        """
        steps = [self._att, self._referrers]
        if self.options.image_signatures:
            steps.append(self._sig)
        await asyncio.gather(*(self._read(step, target) for step in steps))

    async def _read(self, step: Callable[[Target], Awaitable[None]], target: Target) -> None:
        try:
            await step(target)
        except NotFoundError:
            return
        except ProvcheckError as exc:
            kind = ProblemKind.FETCH if isinstance(exc, RegistryError) else ProblemKind.MALFORMED
            self._problem(
                kind,
                f"signature store of {target.descriptor.digest.short}{self._where}: "
                f"{exc.diagnostics()}",
                target.descriptor.digest,
            )

    async def _att(self, target: Target) -> None:
        tag = store_tag(target.descriptor.digest, StoreTag.ATTESTATIONS)
        got = await self._tagged(tag)
        if got is None:
            return
        descriptor, manifest = got
        if not isinstance(manifest, ImageManifest):
            raise ManifestError(f"{tag} is not a manifest")
        await self._envelope_layers(
            manifest, descriptor, target, AttestationOrigin.COSIGN_TAG, AttestationForm.COSIGN
        )

    async def _envelope_layers(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: Target,
        origin: AttestationOrigin,
        form: AttestationForm,
    ) -> None:
        for i, layer in enumerate(manifest.layers):
            if layer.media_type != mt.DSSE_ENVELOPE and not mt.is_in_toto_dsse(layer.media_type):
                continue
            hint = layer.annotations.get("predicateType") or layer.annotations.get(
                mt.PREDICATE_TYPE
            )
            found = StoredEnvelope(origin, form, descriptor, i, layer, target, hint)
            found.repository = self.repository
            found.tlog_evidence = evidence_from_annotations(layer.annotations)
            try:
                found.raw = await self._blob(layer)
                found.envelope = parse_envelope(found.raw)
            except ProvcheckError as exc:
                found.error = exc.diagnostics()
            self.found.envelopes.append(found)

    async def _sig(self, target: Target) -> None:
        got = await self._tagged(store_tag(target.descriptor.digest, StoreTag.SIGNATURES))
        if got is None:
            return
        descriptor, manifest = got
        if isinstance(manifest, ImageManifest):
            await self._simple_signing(manifest, descriptor, target, AttestationOrigin.COSIGN_TAG)

    async def _simple_signing(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: Target,
        origin: AttestationOrigin,
    ) -> None:
        for i, layer in enumerate(manifest.layers):
            if layer.media_type != mt.COSIGN_SIMPLESIGNING:
                continue
            payload = await self._blob(layer)
            evidence = evidence_from_annotations(layer.annotations)
            self.found.signatures.append(
                SimpleSig(
                    origin,
                    descriptor,
                    i,
                    target,
                    payload,
                    layer.annotations.get(SIGNATURE_ANNOTATION, ""),
                    evidence,
                    self.repository,
                )
            )

    async def _referrers(self, target: Target) -> None:
        digest = target.descriptor.digest
        self.budget.check()
        async with self._limit:
            listed = await self.source.referrers(digest)
        origin = AttestationOrigin.REFERRERS
        if listed is None:
            got = await self._tagged(store_tag(digest, StoreTag.REFERRERS))
            if got is None or not isinstance(got[1], ImageIndex):
                self.found.lookups.append(
                    StoreLookup(digest, ReferrersAnswer.FALLBACK_TAG, None, self.repository)
                )
                return
            listed, origin = got[1].manifests, AttestationOrigin.REFERRERS_TAG
            answer = ReferrersAnswer.FALLBACK_TAG
        else:
            self.budget.spend_descriptors(len(listed))
            answer = ReferrersAnswer.API
        self.found.lookups.append(StoreLookup(digest, answer, len(listed), self.repository))
        for descriptor in listed:
            if descriptor.media_type not in mt.MANIFEST_TYPES:
                continue
            try:
                manifest = await self._manifest(descriptor)
            except ProvcheckError as exc:
                self._problem(
                    ProblemKind.MALFORMED,
                    f"referrer {descriptor.digest.short}{self._where}: {exc.diagnostics()}",
                    descriptor.digest,
                )
                continue
            assert isinstance(manifest, ImageManifest)
            subject = manifest.subject
            if subject is None or not subject_is(subject, target.descriptor):
                said = (
                    f"{subject.digest.short} ({subject.size} bytes, {subject.media_type[:80]})"
                    if subject
                    else "none"
                )
                self._problem(
                    ProblemKind.BINDING,
                    f"referrer {descriptor.digest.short}{self._where} listed for {digest.short} "
                    f"({target.descriptor.size} bytes, {target.descriptor.media_type}) has "
                    f"subject {said}: not used",
                    descriptor.digest,
                )
                continue
            kind = manifest.artifact_type or manifest.config.media_type
            if kind == mt.SIGSTORE_BUNDLE_V03:
                await self._bundle(manifest, descriptor, target, origin)
            elif kind == COSIGN_ARTIFACT_SIG:
                await self._simple_signing(manifest, descriptor, target, origin)
            elif mt.is_in_toto_dsse(kind):
                await self._envelope_layers(
                    manifest, descriptor, target, origin, AttestationForm.OCI_ARTIFACT
                )
            elif base_media_type(kind) in RAW_SBOM_TYPES:
                await self._raw_sbom(manifest, descriptor, target, origin, base_media_type(kind))
            elif kind in (mt.ATTESTATION_MANIFEST_ARTIFACT, mt.IN_TOTO):
                await self._in_toto_manifest(manifest, descriptor, target, origin)
            else:
                self._problem(
                    ProblemKind.SUSPICIOUS,
                    f"referrer {descriptor.digest.short}{self._where} of {digest.short} has an "
                    f"unknown artifact type {kind[:100]!r}: ignored",
                    descriptor.digest,
                )

    async def _raw_sbom(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: Target,
        origin: AttestationOrigin,
        artifact_type: str,
    ) -> None:
        """Read the SBOM layers of an ``oras attach``-style SBOM artifact (see the docstring)."""
        if PredicateKind.SBOM not in self.options.kinds:
            return  # SBOMs can be tens of MiB: fetched only when a caller needs them
        assert manifest.subject is not None  # checked by the caller
        for i, layer in enumerate(manifest.layers):
            layer_type = base_media_type(layer.media_type)
            if layer_type in RAW_SBOM_TYPES:
                media_type = layer_type
            elif layer_type in _GENERIC_LAYER_TYPES:
                media_type = artifact_type
            else:
                continue
            where = (
                f"SBOM referrer {descriptor.digest.short}#layers/{i} "
                f"of {target.descriptor.digest.short}"
            )
            try:
                raw = await self._blob(layer)
                statement = synthesise_sbom_statement(raw, media_type, manifest.subject, where)
            except ProvcheckError as exc:
                problem = problem_from_error(exc, layer.digest, where)
                self.found.problems.append(
                    dataclasses.replace(problem, message=f"{problem.message}: not used")
                )
                continue
            self.found.raw_sboms.append(
                RawSbom(origin, descriptor, i, layer, target, statement, self.repository)
            )

    async def _in_toto_manifest(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: Target,
        origin: AttestationOrigin,
    ) -> None:
        """An unsigned in-toto attestation manifest found as a referrer of a platform manifest.

        Its layers are read, checked and bound by BuildKit's own layer logic (never as index
        content: trust stays ``unsigned``, the index did not name it).
        """
        if target.platform is None:
            self._problem(
                ProblemKind.BINDING,
                f"attestation referrer {descriptor.digest.short}{self._where} describes "
                f"{target.descriptor.digest.short}, which is not a platform manifest: not used",
                descriptor.digest,
            )
            return
        layers = AttestationReader(self.source, self.options, pinned=False, budget=self.budget)
        index = self.index_digest
        read = await asyncio.gather(
            *(
                layers.layer(i, layer, target.descriptor, target.platform, index)
                for i, layer in enumerate(manifest.layers)
            )
        )
        self.found.attestations.append(
            (
                target.descriptor.digest,
                AttestationManifest(
                    descriptor,
                    AttestationForm.OCI_ARTIFACT,
                    origin,
                    tuple(read),
                    repository=self.repository,
                ),
            )
        )

    async def _bundle(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: Target,
        origin: AttestationOrigin,
    ) -> None:
        hint = manifest.annotations.get("dev.sigstore.bundle.predicateType")
        for i, layer in enumerate(manifest.layers):
            if layer.media_type not in sb.BUNDLE_MEDIA_TYPES:
                continue
            found = StoredEnvelope(
                origin, AttestationForm.SIGSTORE_BUNDLE, descriptor, i, layer, target, hint
            )
            found.repository = self.repository
            try:
                parsed = sb.parse_bundle(await self._blob(layer))
            except ProvcheckError as exc:
                found.error = exc.diagnostics()
                self.found.envelopes.append(found)
                continue
            found.tlog_evidence = parsed.tlog
            if parsed.envelope is None:
                found.error = "message-signature bundles are not supported: not used"
            elif parsed.certificate is not None:
                found.keyless = parsed.raw
                found.envelope = parsed.envelope
            else:
                found.envelope = parsed.envelope
            self.found.envelopes.append(found)


def store_targets(
    found: ImageAttestations, options: DiscoveryOptions
) -> tuple[dict[Digest, Target], set[Digest]]:
    """Whose stores to read (the root, each platform manifest, each in-index attestation
    manifest when signatures over them are wanted), and the in-index attestation manifests."""
    root_platform = found.images[0].platform if found.images and not found.is_index else None
    targets: dict[Digest, Target] = {
        found.digest: Target(found.descriptor, TargetRole.ROOT, root_platform)
    }
    in_index: set[Digest] = set()
    for image in found.images:
        if options.platform_stores:
            targets.setdefault(
                image.descriptor.digest,
                Target(image.descriptor, TargetRole.PLATFORM, image.platform),
            )
        for manifest in image.attestations:
            if manifest.origin is AttestationOrigin.INDEX:
                in_index.add(manifest.descriptor.digest)
                if options.image_signatures and options.platform_stores:
                    targets.setdefault(
                        manifest.descriptor.digest,
                        Target(manifest.descriptor, TargetRole.ATTESTATION_MANIFEST),
                    )
    return targets, in_index
