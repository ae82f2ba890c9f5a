"""Signature stores: cosign ``.att``/``.sig`` tags and OCI 1.1 referrers (formats.md §8).

:func:`discover_signed` looks up, for the root, every platform manifest and every in-index
attestation manifest: ``sha256-<hex>.att``, ``sha256-<hex>.sig`` and the referrers (API, then
the ``sha256-<hex>`` fallback tag). Signed statements that verify under the trusted keys and bind
to a platform are added to it as attestation manifests (trust ``signed``); with no trust
configured they are added as ``unsigned``. Everything rejected is a :class:`Problem` and a
:class:`SignedObject` with its reasons, and is never used as evidence.

Referrers that are not signatures are read too (formats.md §4.5, §8.5): raw SBOM documents
(``oras attach --artifact-type application/spdx+json`` or ``application/vnd.cyclonedx+json``)
become synthesised SBOM statements, and unsigned in-toto attestation manifests (BuildKit's
``application/vnd.docker.attestation.manifest.v1+json`` found as a referrer of a platform manifest,
or ``application/vnd.in-toto+json`` artifacts) are read with BuildKit's layer logic. Both are
``unsigned``: whoever can push to the repository can add a referrer. A referrer whose ``subject``
is not exactly (digest, size, media type) the manifest it was listed for is never used; a referrer
of an unknown artifact type is reported (``suspicious``) and ignored.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from provcheck.attestation import bundle as sb
from provcheck.attestation.binding import bind_statement
from provcheck.attestation.cosign import (
    COSIGN_ARTIFACT_SIG,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_TYPE,
    verify_simple_signing,
)
from provcheck.attestation.dsse import (
    Envelope,
    b64decode_any,
    parse_envelope,
)
from provcheck.attestation.signatures import (
    SignatureCheck,
    SignedKind,
    SignedObject,
    TrustConfig,
)
from provcheck.attestation.statement import STATEMENT_V1, Statement, Subject
from provcheck.attestation.tlog import (
    NO_TLOG,
    MessageMaterial,
    TlogEvidence,
    check_tlog,
    evidence_from_annotations,
    tlog_required_reason,
)
from provcheck.attestation.verify import verify_statement_envelope
from provcheck.discovery.buildkit import AttestationReader, problem_from_error
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
from provcheck.discovery.options import DiscoveryOptions
from provcheck.errors import ManifestError, NotFoundError, ProvcheckError, RegistryError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, ImageIndex, ImageManifest, load_json, parse_manifest
from provcheck.oci.platform import Platform
from provcheck.predicates import CYCLONEDX_BOM, SPDX_DOCUMENT, PredicateKind
from provcheck.source.base import Source

RAW_SBOM_TYPES: Final = MappingProxyType(
    {mt.SPDX_JSON: SPDX_DOCUMENT, mt.CYCLONEDX_JSON: CYCLONEDX_BOM}
)
"""Raw SBOM media types -> the in-toto predicate type of the synthesised statement."""
_GENERIC_LAYER_TYPES: Final = frozenset(
    {"application/vnd.oci.image.layer.v1.tar", "application/octet-stream", "application/json"}
)
"""Layer media types ``oras attach`` writes for a file given without one: the artifact type
then says what the document is."""


@dataclass(frozen=True, slots=True)
class _Target:
    """A digest whose signature stores are read, and what it is."""

    descriptor: Descriptor
    role: str  # "root", "platform" or "attestation-manifest"
    platform: Platform | None = None
    """The platform of a platform manifest (also of a root that is a single manifest)."""


@dataclass(slots=True)
class _Envelope:
    """A DSSE envelope found in a store, before verification."""

    origin: AttestationOrigin
    form: AttestationForm
    manifest: Descriptor
    index: int
    layer: Descriptor
    target: _Target
    hint: str | None
    envelope: Envelope | None = None
    keyless: bytes | None = None
    tlog: str = "absent"
    error: str | None = None
    tlog_evidence: TlogEvidence | None = None
    raw: bytes | None = None
    """The envelope bytes as stored (a cosign ``intoto`` entry hashes them)."""


@dataclass(slots=True)
class _SimpleSig:
    """A simple-signing signature found in a store."""

    origin: AttestationOrigin
    manifest: Descriptor
    index: int
    target: _Target
    payload: bytes
    signature: str
    tlog: str = "absent"
    tlog_evidence: TlogEvidence = NO_TLOG


@dataclass(slots=True)
class _RawSbom:
    """A raw SBOM document found as a referrer, and the statement synthesised from it."""

    origin: AttestationOrigin
    manifest: Descriptor
    index: int
    layer: Descriptor
    target: _Target
    statement: Statement


@dataclass(slots=True)
class _Found:
    envelopes: list[_Envelope] = field(default_factory=list)
    signatures: list[_SimpleSig] = field(default_factory=list)
    raw_sboms: list[_RawSbom] = field(default_factory=list)
    attestations: list[tuple[Digest, AttestationManifest]] = field(default_factory=list)
    """Unsigned in-toto attestation manifests found as referrers, by platform manifest."""
    problems: list[Problem] = field(default_factory=list)

    def sort(self) -> None:
        """Put everything in an order that does not depend on when responses arrived."""
        self.envelopes.sort(key=_location)
        self.signatures.sort(key=_location)
        self.raw_sboms.sort(key=_location)
        self.attestations.sort(key=lambda a: (str(a[0]), str(a[1].descriptor.digest)))
        self.problems.sort(key=lambda p: (p.kind.value, p.message))


def _base_type(media_type: str) -> str:
    """``application/vnd.cyclonedx+json; version=1.5`` -> ``application/vnd.cyclonedx+json``."""
    return media_type.split(";", 1)[0].strip().lower()


def _same(a: Descriptor, b: Descriptor) -> bool:
    return (a.digest, a.size, a.media_type) == (b.digest, b.size, b.media_type)


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
    predicate_type = RAW_SBOM_TYPES.get(_base_type(media_type))
    if predicate_type is None:
        raise ManifestError(f"{what}: {media_type[:100]!r} is not a raw SBOM media type")
    doc = load_json(document, what)
    if not isinstance(doc, dict):
        raise ManifestError(f"{what} is not a JSON object")
    digest = MappingProxyType({subject.digest.algorithm: subject.digest.hex})
    return Statement(STATEMENT_V1, predicate_type, (Subject("", digest),), doc)


def _tag(digest: Digest, suffix: str = "") -> str:
    return f"{digest.algorithm}-{digest.hex}{suffix}"


class _Stores:
    def __init__(
        self, source: Source, options: DiscoveryOptions, index_digest: Digest | None = None
    ) -> None:
        self.source = source
        self.options = options
        self.index_digest = index_digest
        self.found = _Found()
        self._limit = asyncio.Semaphore(max(1, options.concurrency))

    async def _manifest(self, descriptor: Descriptor) -> ImageManifest | ImageIndex:
        async with self._limit:
            data = await self.source.fetch_manifest(descriptor)
        return parse_manifest(data, descriptor.media_type, f"manifest {descriptor.digest.short}")

    async def _blob(self, descriptor: Descriptor) -> bytes:
        async with self._limit:
            return await self.source.fetch_blob(descriptor, self.options.max_layer_bytes)

    async def _tagged(self, tag: str) -> tuple[Descriptor, ImageManifest | ImageIndex] | None:
        async with self._limit:
            got = await self.source.fetch_tag(tag)
        if got is None:
            return None
        descriptor, data = got
        return descriptor, parse_manifest(data, descriptor.media_type, f"tag {tag}")

    def _problem(self, kind: ProblemKind, message: str, digest: Digest | None) -> None:
        self.found.problems.append(Problem(kind, message, digest))

    async def target(self, target: _Target) -> None:
        """Read the stores of one target concurrently, recording problems instead of raising.

        cosign ``.sig`` tags hold image signatures only: read when the caller wants them.
        """
        steps = [self._att, self._referrers]
        if self.options.image_signatures:
            steps.append(self._sig)
        await asyncio.gather(*(self._read(step, target) for step in steps))

    async def _read(self, step: Callable[[_Target], Awaitable[None]], target: _Target) -> None:
        try:
            await step(target)
        except NotFoundError:
            return
        except ProvcheckError as exc:
            kind = ProblemKind.FETCH if isinstance(exc, RegistryError) else ProblemKind.MALFORMED
            self._problem(
                kind,
                f"signature store of {target.descriptor.digest.short}: {exc.diagnostics()}",
                target.descriptor.digest,
            )

    async def _att(self, target: _Target) -> None:
        got = await self._tagged(_tag(target.descriptor.digest, ".att"))
        if got is None:
            return
        descriptor, manifest = got
        if not isinstance(manifest, ImageManifest):
            raise ProvcheckError(f"{_tag(target.descriptor.digest, '.att')} is not a manifest")
        await self._envelope_layers(
            manifest, descriptor, target, AttestationOrigin.COSIGN_TAG, AttestationForm.COSIGN
        )

    async def _envelope_layers(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: _Target,
        origin: AttestationOrigin,
        form: AttestationForm,
    ) -> None:
        for i, layer in enumerate(manifest.layers):
            if layer.media_type != mt.DSSE_ENVELOPE and not mt.is_in_toto_dsse(layer.media_type):
                continue
            hint = layer.annotations.get("predicateType") or layer.annotations.get(
                mt.PREDICATE_TYPE
            )
            found = _Envelope(origin, form, descriptor, i, layer, target, hint)
            found.tlog_evidence = evidence_from_annotations(layer.annotations)
            if found.tlog_evidence.present:
                found.tlog = "unverified"
            try:
                found.raw = await self._blob(layer)
                found.envelope = parse_envelope(found.raw)
            except ProvcheckError as exc:
                found.error = exc.diagnostics()
            self.found.envelopes.append(found)

    async def _sig(self, target: _Target) -> None:
        got = await self._tagged(_tag(target.descriptor.digest, ".sig"))
        if got is None:
            return
        descriptor, manifest = got
        if isinstance(manifest, ImageManifest):
            await self._simple_signing(manifest, descriptor, target, AttestationOrigin.COSIGN_TAG)

    async def _simple_signing(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: _Target,
        origin: AttestationOrigin,
    ) -> None:
        for i, layer in enumerate(manifest.layers):
            if layer.media_type != mt.COSIGN_SIMPLESIGNING:
                continue
            payload = await self._blob(layer)
            evidence = evidence_from_annotations(layer.annotations)
            tlog = "unverified" if evidence.present else "absent"
            self.found.signatures.append(
                _SimpleSig(
                    origin,
                    descriptor,
                    i,
                    target,
                    payload,
                    layer.annotations.get(SIGNATURE_ANNOTATION, ""),
                    tlog,
                    evidence,
                )
            )

    async def _referrers(self, target: _Target) -> None:
        digest = target.descriptor.digest
        async with self._limit:
            listed = await self.source.referrers(digest)
        origin = AttestationOrigin.REFERRERS
        if listed is None:
            got = await self._tagged(_tag(digest))
            if got is None or not isinstance(got[1], ImageIndex):
                return
            listed, origin = got[1].manifests, AttestationOrigin.REFERRERS_TAG
        for descriptor in listed:
            if descriptor.media_type not in mt.MANIFEST_TYPES:
                continue
            try:
                manifest = await self._manifest(descriptor)
            except ProvcheckError as exc:
                self._problem(
                    ProblemKind.MALFORMED,
                    f"referrer {descriptor.digest.short}: {exc.diagnostics()}",
                    descriptor.digest,
                )
                continue
            assert isinstance(manifest, ImageManifest)
            subject = manifest.subject
            if subject is None or not _same(subject, target.descriptor):
                said = (
                    f"{subject.digest.short} ({subject.size} bytes, {subject.media_type[:80]})"
                    if subject
                    else "none"
                )
                self._problem(
                    ProblemKind.BINDING,
                    f"referrer {descriptor.digest.short} listed for {digest.short} "
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
            elif _base_type(kind) in RAW_SBOM_TYPES:
                await self._raw_sbom(manifest, descriptor, target, origin, _base_type(kind))
            elif kind in (mt.ATTESTATION_MANIFEST_ARTIFACT, mt.IN_TOTO):
                await self._in_toto_manifest(manifest, descriptor, target, origin)
            else:
                self._problem(
                    ProblemKind.SUSPICIOUS,
                    f"referrer {descriptor.digest.short} of {digest.short} has an unknown "
                    f"artifact type {kind[:100]!r}: ignored",
                    descriptor.digest,
                )

    async def _raw_sbom(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: _Target,
        origin: AttestationOrigin,
        artifact_type: str,
    ) -> None:
        """Read the SBOM layers of an ``oras attach``-style SBOM artifact (see the docstring)."""
        if PredicateKind.SBOM not in self.options.kinds:
            return  # SBOMs can be tens of MiB: fetched only when a caller needs them
        assert manifest.subject is not None  # checked by the caller
        for i, layer in enumerate(manifest.layers):
            layer_type = _base_type(layer.media_type)
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
            self.found.raw_sboms.append(_RawSbom(origin, descriptor, i, layer, target, statement))

    async def _in_toto_manifest(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: _Target,
        origin: AttestationOrigin,
    ) -> None:
        """An unsigned in-toto attestation manifest found as a referrer of a platform manifest.

        Its layers are read, checked and bound by BuildKit's own layer logic (never as index
        content: trust stays ``unsigned``, the index did not name it).
        """
        if target.platform is None:
            self._problem(
                ProblemKind.BINDING,
                f"attestation referrer {descriptor.digest.short} describes "
                f"{target.descriptor.digest.short}, which is not a platform manifest: not used",
                descriptor.digest,
            )
            return
        layers = AttestationReader(self.source, self.options, pinned=False)
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
                AttestationManifest(descriptor, AttestationForm.OCI_ARTIFACT, origin, tuple(read)),
            )
        )

    async def _bundle(
        self,
        manifest: ImageManifest,
        descriptor: Descriptor,
        target: _Target,
        origin: AttestationOrigin,
    ) -> None:
        hint = manifest.annotations.get("dev.sigstore.bundle.predicateType")
        for i, layer in enumerate(manifest.layers):
            if layer.media_type not in sb.BUNDLE_MEDIA_TYPES:
                continue
            found = _Envelope(
                origin, AttestationForm.SIGSTORE_BUNDLE, descriptor, i, layer, target, hint
            )
            try:
                parsed = sb.parse_bundle(await self._blob(layer))
            except ProvcheckError as exc:
                found.error = exc.diagnostics()
                self.found.envelopes.append(found)
                continue
            found.tlog = "unverified" if parsed.tlog.present else "absent"
            found.tlog_evidence = parsed.tlog
            if parsed.envelope is None:
                found.error = "message-signature bundles are not supported: not used"
            elif parsed.certificate is not None:
                found.keyless = parsed.raw
                found.envelope = parsed.envelope
            else:
                found.envelope = parsed.envelope
            self.found.envelopes.append(found)


# -- verification and binding ---------------------------------------------------------------


@dataclass(slots=True)
class _Checked:
    item: _Envelope
    statement: Statement | None
    signers: tuple[str, ...]
    rejections: list[str]
    payload_digest: str | None
    platforms: list[PlatformImage]


def _verify(item: _Envelope, trust: TrustConfig | None) -> _Checked:
    checked = _Checked(item, None, (), [], None, [])
    if item.error is not None or item.envelope is None:
        checked.rejections.append(item.error or "no envelope")
        return checked
    result = verify_statement_envelope(
        item.envelope,
        trust,
        keyless_bundle=item.keyless,
        tlog=item.tlog,
        tlog_evidence=None if item.keyless is not None else item.tlog_evidence,
        raw_envelope=item.raw,
    )
    item.tlog = result.tlog
    checked.statement = result.statement
    checked.signers = result.signers
    checked.rejections.extend(result.rejections)
    checked.payload_digest = result.payload_digest
    return checked


def _bind(checked: _Checked, found: ImageAttestations) -> list[str]:
    """Bind the statement to each platform; return the reasons when it binds to none."""
    assert checked.statement is not None
    index = found.digest if found.is_index else None
    reasons: list[str] = []
    subjects = ", ".join(
        f"{alg}:{hex_[:12]}" for s in checked.statement.subjects for alg, hex_ in s.digest.items()
    )
    for image in found.images:
        binding = bind_statement(
            checked.statement,
            manifest=image.descriptor.digest,
            platform=image.platform,
            index=index,
            predicate_type_hint=checked.item.hint,
        )
        if binding.usable:
            checked.platforms.append(image)
        elif any("subjects" not in r for r in binding.reasons):
            reasons.extend(r for r in binding.reasons if r not in reasons and "subjects" not in r)
    if not checked.platforms:
        reasons.insert(
            0,
            f"subjects name {subjects[:200] or 'nothing'}, not {found.digest.short} "
            "or any of its platform manifests",
        )
    return reasons


def _location(item: _Envelope | _SimpleSig | _RawSbom) -> str:
    return f"{item.manifest.digest}#layers/{item.index}"


def _targets(
    found: ImageAttestations, options: DiscoveryOptions
) -> tuple[dict[Digest, _Target], set[Digest]]:
    """Whose stores to read (the root, each platform manifest, each in-index attestation
    manifest when signatures over them are wanted), and the in-index attestation manifests."""
    root_platform = found.images[0].platform if found.images and not found.is_index else None
    targets: dict[Digest, _Target] = {
        found.digest: _Target(found.descriptor, "root", root_platform)
    }
    in_index: set[Digest] = set()
    for image in found.images:
        targets.setdefault(
            image.descriptor.digest, _Target(image.descriptor, "platform", image.platform)
        )
        for manifest in image.attestations:
            if manifest.origin is AttestationOrigin.INDEX:
                in_index.add(manifest.descriptor.digest)
                if options.image_signatures:
                    targets.setdefault(
                        manifest.descriptor.digest,
                        _Target(manifest.descriptor, "attestation-manifest"),
                    )
    return targets, in_index


def _check_signature(sig: _SimpleSig, trust: TrustConfig | None) -> SignatureCheck:
    """Verify one simple-signing signature (cosign ``.sig``) over its target's digest."""
    rejections: list[str] = []
    signers: tuple[str, ...] = ()
    if trust is None:
        return SignatureCheck((), ("not verified: no trusted key configured",), sig.tlog)
    try:
        payload, signers = verify_simple_signing(sig.payload, sig.signature, trust.keys)
    except ProvcheckError as exc:
        rejections.append(exc.diagnostics())
    else:
        if payload.manifest_digest != str(sig.target.descriptor.digest):
            rejections.append(
                f"signed payload names {payload.manifest_digest[:80]}, not "
                f"{sig.target.descriptor.digest.short}: bound to another image"
            )
        if payload.type != SIMPLE_SIGNING_TYPE:
            rejections.append(f"unexpected simple-signing type {payload.type[:80]!r}")
        outcome = check_tlog(
            sig.tlog_evidence,
            trust.log_keys,
            MessageMaterial(
                sig.payload,
                b64decode_any(sig.signature, "cosign signature"),
                tuple(k for k in trust.keys if k.key_id in signers),
            ),
        )
        sig.tlog = outcome.status
        if outcome.rejection is not None:
            rejections.append(outcome.rejection)
    if trust.tlog_required and sig.tlog != "verified" and not rejections:
        rejections.append(tlog_required_reason(sig.tlog, trust.log_keys))
    return SignatureCheck(signers, tuple(rejections), sig.tlog)


def _image_signatures(
    signatures: list[_SimpleSig], trust: TrustConfig | None
) -> tuple[list[SignedObject], set[Digest], list[Problem]]:
    """Image signatures and signatures over attestation manifests: what they prove (who
    pushed), which digests they cover, and why each rejected one was rejected."""
    signed: list[SignedObject] = []
    covered: set[Digest] = set()
    problems: list[Problem] = []
    for sig in signatures:
        kind = (
            SignedKind.ATTESTATION_MANIFEST
            if sig.target.role == "attestation-manifest"
            else SignedKind.IMAGE_SIGNATURE
        )
        check = _check_signature(sig, trust)
        signed.append(
            SignedObject(
                kind, sig.origin.value, _location(sig), str(sig.target.descriptor.digest), check
            )
        )
        if check.accepted:
            covered.add(sig.target.descriptor.digest)
        elif trust is not None:
            problems.append(
                Problem(
                    ProblemKind.SIGNATURE,
                    f"{kind} {_location(sig)}: {'; '.join(check.rejections)}: not used",
                    sig.manifest.digest,
                )
            )
    return signed, covered, problems


def _apply_threshold(checked: list[_Checked], trust: TrustConfig) -> None:
    """Reject statements signed by fewer distinct trusted signers than ``threshold`` (the
    signers of every envelope carrying the same payload count together)."""
    groups: dict[str, set[str]] = {}
    for c in checked:
        if not c.rejections and c.payload_digest is not None:
            groups.setdefault(c.payload_digest, set()).update(c.signers)
    for c in checked:
        if c.rejections or c.payload_digest is None:
            continue
        count = len(groups[c.payload_digest])
        if count < trust.threshold:
            c.rejections.append(
                f"signed by {count} distinct trusted signer(s), threshold is {trust.threshold}"
            )


def _index_scoped(c: _Checked) -> bool:
    """True when the statement binds to the platforms through the index, not one manifest."""
    if c.statement is None or not c.platforms:
        return False
    return all(
        not any(
            s.digest.get(im.descriptor.digest.algorithm) == im.descriptor.digest.hex
            for s in c.statement.subjects
        )
        for im in c.platforms
    )


def _signed_attestations(
    envelopes: list[_Envelope], found: ImageAttestations, trust: TrustConfig | None
) -> tuple[list[SignedObject], dict[Digest, list[AttestationManifest]], list[Problem]]:
    """Verify, bind and threshold every envelope; accepted statements become attestation
    manifests of the platforms they bind to, rejected ones problems."""
    checked = [_verify(item, trust) for item in envelopes]
    for c in checked:
        if c.statement is not None and not c.rejections:
            reasons = _bind(c, found)
            if not c.platforms:
                c.rejections.append(
                    f"its statement is bound to another image ({'; '.join(reasons)})"
                )
    if trust is not None:
        _apply_threshold(checked, trust)
    signed: list[SignedObject] = []
    additions: dict[Digest, list[AttestationManifest]] = {}
    problems: list[Problem] = []
    for c in checked:
        item = c.item
        check = SignatureCheck(c.signers, tuple(c.rejections), item.tlog)
        signed.append(
            SignedObject(
                SignedKind.ATTESTATION,
                item.origin.value,
                _location(item),
                str(item.target.descriptor.digest),
                check,
                c.statement.predicate_type if c.statement else item.hint,
                c.payload_digest,
                _index_scoped(c),
                tuple(p.platform.key for p in c.platforms) if not c.rejections else (),
            )
        )
        if c.rejections:
            problem_kind = (
                ProblemKind.BINDING
                if any("bound to another image" in r for r in c.rejections)
                else ProblemKind.SIGNATURE
            )
            problems.append(
                Problem(
                    problem_kind,
                    f"{'signed attestation' if trust is not None else 'attestation envelope'} "
                    f"{_location(item)}: {'; '.join(c.rejections)}: not used",
                    item.manifest.digest,
                )
            )
            continue
        assert c.statement is not None
        level = TrustLevel.SIGNED if trust is not None else TrustLevel.UNSIGNED
        for image in c.platforms:
            binding = bind_statement(
                c.statement,
                manifest=image.descriptor.digest,
                platform=image.platform,
                index=found.digest if found.is_index else None,
                predicate_type_hint=item.hint,
            )
            layer = AttestationLayer(
                item.layer, item.index, item.hint, c.statement, binding, (), level, check
            )
            additions.setdefault(image.descriptor.digest, []).append(
                AttestationManifest(item.manifest, item.form, item.origin, (layer,))
            )
    return signed, additions, problems


async def discover_signed(
    source: Source, found: ImageAttestations, options: DiscoveryOptions
) -> ImageAttestations:
    """Add what the signature stores hold to ``found`` (see the module docstring).

    Problems are recorded, never raised: store reads are best effort, and what could not be
    read or verified is reported and never used.
    """
    targets, in_index = _targets(found, options)
    run = _Stores(source, options, found.digest if found.is_index else None)
    await asyncio.gather(*(run.target(t) for t in targets.values()))
    run.found.sort()  # stores are read concurrently: report in a fixed order, not arrival order

    signatures, signed_digests, signature_problems = _image_signatures(
        run.found.signatures, options.trust
    )
    attestations, additions, attestation_problems = _signed_attestations(
        run.found.envelopes, found, options.trust
    )
    # Unsigned attestation manifests found as referrers (not those the index already lists).
    for platform_digest, manifest in run.found.attestations:
        if manifest.descriptor.digest not in in_index:
            additions.setdefault(platform_digest, []).append(manifest)
    sbom_problems = _add_raw_sboms(run.found.raw_sboms, found, additions)

    images = tuple(
        _upgrade(image, additions.get(image.descriptor.digest, ()), signed_digests, found)
        for image in found.images
    )
    return dataclasses.replace(
        found,
        images=images,
        problems=(
            *found.problems,
            *run.found.problems,
            *signature_problems,
            *attestation_problems,
            *sbom_problems,
        ),
        signed=(*found.signed, *signatures, *attestations),
    )


def _add_raw_sboms(
    raw_sboms: list[_RawSbom],
    found: ImageAttestations,
    additions: dict[Digest, list[AttestationManifest]],
) -> list[Problem]:
    """Bind each synthesised SBOM statement like any statement; return the ones that bind to
    nothing (e.g. an SBOM attached to an in-index attestation manifest) as problems."""
    problems: list[Problem] = []
    index = found.digest if found.is_index else None
    for raw in raw_sboms:
        bound = False
        for image in found.images:
            binding = bind_statement(
                raw.statement,
                manifest=image.descriptor.digest,
                platform=image.platform,
                index=index,
                predicate_type_hint=None,
            )
            if not binding.usable:
                continue
            bound = True
            layer = AttestationLayer(
                raw.layer,
                raw.index,
                raw.statement.predicate_type,
                raw.statement,
                binding,
                (),
                TrustLevel.UNSIGNED,
            )
            additions.setdefault(image.descriptor.digest, []).append(
                AttestationManifest(
                    raw.manifest, AttestationForm.OCI_ARTIFACT_SBOM, raw.origin, (layer,)
                )
            )
        if not bound:
            problems.append(
                Problem(
                    ProblemKind.BINDING,
                    f"SBOM referrer {_location(raw)} describes "
                    f"{raw.target.descriptor.digest.short}, which is neither "
                    f"{found.digest.short} nor one of its platform manifests: not used",
                    raw.manifest.digest,
                )
            )
    return problems


def _upgrade(
    image: PlatformImage,
    added: Iterable[AttestationManifest],
    signed_digests: set[Digest],
    found: ImageAttestations,
) -> PlatformImage:
    """Raise the trust of in-index layers reached from signed content; append store layers."""
    manifests: list[AttestationManifest] = []
    root_signed = found.digest in signed_digests
    for manifest in image.attestations:
        if manifest.origin is AttestationOrigin.INDEX:
            if manifest.descriptor.digest in signed_digests:
                level = TrustLevel.SIGNED
            elif root_signed:
                level = TrustLevel.INDEX_BOUND
            else:
                manifests.append(manifest)
                continue
            layers = tuple(
                dataclasses.replace(layer, trust=level)
                if layer.statement is not None and _weaker(layer.trust, level)
                else layer
                for layer in manifest.layers
            )
            manifest = dataclasses.replace(manifest, layers=layers)
        manifests.append(manifest)
    manifests.extend(added)
    return dataclasses.replace(image, attestations=tuple(manifests))


_ORDER = (TrustLevel.UNSIGNED, TrustLevel.INDEX_BOUND, TrustLevel.SIGNED)


def _weaker(current: TrustLevel, new: TrustLevel) -> bool:
    return _ORDER.index(current) < _ORDER.index(new)


__all__ = ["discover_signed"]
