"""Signature stores: cosign ``.att``/``.sig`` tags and OCI 1.1 referrers (formats.md §8).

:func:`discover_signed` looks up, for the root, every platform manifest and every in-index
attestation manifest: ``sha256-<hex>.att``, ``sha256-<hex>.sig`` and the referrers (API, then
the ``sha256-<hex>`` fallback tag). Signed statements that verify under the trusted keys and bind
to a platform are added to it as attestation manifests (trust ``signed``); with no trust
configured they are added as ``unsigned``. Everything rejected is a :class:`Problem` and a
:class:`SignedObject` with its reasons, and is never used as evidence.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from provcheck.attestation import bundle as sb
from provcheck.attestation.binding import bind_statement
from provcheck.attestation.cosign import (
    BUNDLE_ANNOTATION,
    COSIGN_ARTIFACT_SIG,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_TYPE,
    has_tlog_bundle,
    verify_simple_signing,
)
from provcheck.attestation.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    Envelope,
    check_envelope,
    parse_envelope,
)
from provcheck.attestation.signatures import (
    SignatureCheck,
    SignedKind,
    SignedObject,
    TrustConfig,
)
from provcheck.attestation.statement import Statement, parse_statement
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
from provcheck.errors import NotFoundError, ProvcheckError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, ImageIndex, ImageManifest, parse_manifest
from provcheck.source.base import Source


@dataclass(frozen=True, slots=True)
class _Target:
    """A digest whose signature stores are read, and what it is."""

    descriptor: Descriptor
    role: str  # "root", "platform" or "attestation-manifest"


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


@dataclass(slots=True)
class _Found:
    envelopes: list[_Envelope] = field(default_factory=list)
    signatures: list[_SimpleSig] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _tag(digest: Digest, suffix: str = "") -> str:
    return f"{digest.algorithm}-{digest.hex}{suffix}"


class _Stores:
    def __init__(self, source: Source, options: DiscoveryOptions) -> None:
        self.source = source
        self.options = options
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
        """Read the three stores of one target, recording problems instead of raising."""
        for step in (self._att, self._sig, self._referrers):
            try:
                await step(target)
            except NotFoundError:
                continue
            except ProvcheckError as exc:
                kind = (
                    ProblemKind.FETCH if "Registry" in type(exc).__name__ else ProblemKind.MALFORMED
                )
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
            if has_tlog_bundle(dict(layer.annotations)):
                found.tlog = "unverified"
            try:
                found.envelope = parse_envelope(await self._blob(layer))
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
            tlog = "unverified" if BUNDLE_ANNOTATION in layer.annotations else "absent"
            self.found.signatures.append(
                _SimpleSig(
                    origin,
                    descriptor,
                    i,
                    target,
                    payload,
                    layer.annotations.get(SIGNATURE_ANNOTATION, ""),
                    tlog,
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
            if manifest.subject is None or manifest.subject.digest != digest:
                self._problem(
                    ProblemKind.BINDING,
                    f"referrer {descriptor.digest.short} listed for {digest.short} has subject "
                    f"{manifest.subject.digest.short if manifest.subject else 'none'}: not used",
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
            found.tlog = "unverified" if parsed.tlog_entries else "absent"
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
    env = item.envelope
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE:
        checked.rejections.append(
            f"wrong payload type {env.payload_type[:100]!r} (expected {IN_TOTO_PAYLOAD_TYPE!r})"
        )
        return checked
    payload = env.payload
    if trust is not None:
        if item.keyless is not None:
            from provcheck.attestation._sigstore import verify_keyless_dsse
            from provcheck.errors import VerificationError

            try:
                _, payload, who = verify_keyless_dsse(
                    item.keyless, trust.identities, trust.trusted_root
                )
            except VerificationError as exc:
                checked.rejections.append(f"keyless signature rejected: {exc.diagnostics()}")
                return checked
            checked.signers = (who,)
            item.tlog = "verified"
        else:
            result = check_envelope(env, trust.keys)
            checked.signers = result.key_ids
            if not result.key_ids:
                checked.rejections.append(
                    f"does not verify under any of the {len(trust.keys)} trusted key(s)"
                )
                return checked
        if trust.tlog_required and item.tlog != "verified":
            checked.rejections.append(
                f"no verified transparency-log entry (the policy requires tlog; entry {item.tlog})"
            )
    checked.payload_digest = hashlib.sha256(payload).hexdigest()
    try:
        checked.statement = parse_statement(payload)  # exactly the verified bytes
    except ProvcheckError as exc:
        checked.rejections.append(exc.diagnostics())
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


def _location(item: _Envelope | _SimpleSig) -> str:
    return f"{item.manifest.digest}#layers/{item.index}"


async def discover_signed(
    source: Source, found: ImageAttestations, options: DiscoveryOptions
) -> ImageAttestations:
    """Add what the signature stores hold to ``found`` (see the module docstring).

    Problems are recorded, never raised, except :class:`ProvcheckError` subclasses that say the
    source itself is unusable mid-way (none are expected: store reads are best effort).
    """
    trust = options.trust
    targets: dict[Digest, _Target] = {found.digest: _Target(found.descriptor, "root")}
    for image in found.images:
        targets.setdefault(image.descriptor.digest, _Target(image.descriptor, "platform"))
        for manifest in image.attestations:
            if manifest.origin is AttestationOrigin.INDEX:
                targets.setdefault(
                    manifest.descriptor.digest,
                    _Target(manifest.descriptor, "attestation-manifest"),
                )
    run = _Stores(source, options)
    await asyncio.gather(*(run.target(t) for t in targets.values()))
    problems = list(run.found.problems)
    signed: list[SignedObject] = []

    # Image signatures and attestation-manifest signatures.
    signed_digests: set[Digest] = set()
    for sig in run.found.signatures:
        role = sig.target.role
        kind = (
            SignedKind.ATTESTATION_MANIFEST
            if role == "attestation-manifest"
            else SignedKind.IMAGE_SIGNATURE
        )
        rejections: list[str] = []
        signers: tuple[str, ...] = ()
        if trust is None:
            rejections.append("not verified: no trusted key configured")
        else:
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
            if trust.tlog_required and sig.tlog != "verified":
                rejections.append(f"no verified transparency-log entry (entry {sig.tlog})")
        check = SignatureCheck(signers, tuple(rejections), sig.tlog)
        signed.append(
            SignedObject(
                kind, sig.origin.value, _location(sig), str(sig.target.descriptor.digest), check
            )
        )
        if check.accepted:
            signed_digests.add(sig.target.descriptor.digest)
        elif trust is not None:
            problems.append(
                Problem(
                    ProblemKind.SIGNATURE,
                    f"{kind} {_location(sig)}: {'; '.join(rejections)}: not used",
                    sig.manifest.digest,
                )
            )

    # Signed attestations.
    checked = [_verify(item, trust) for item in run.found.envelopes]
    for c in checked:
        if c.statement is not None and not c.rejections:
            reasons = _bind(c, found)
            if not c.platforms:
                c.rejections.append(
                    f"its statement is bound to another image ({'; '.join(reasons)})"
                )
    if trust is not None:
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
    additions: dict[Digest, list[AttestationManifest]] = {}
    for c in checked:
        item = c.item
        index_scoped = (
            c.statement is not None
            and all(
                not any(
                    s.digest.get(im.descriptor.digest.algorithm) == im.descriptor.digest.hex
                    for s in c.statement.subjects
                )
                for im in c.platforms
            )
            and bool(c.platforms)
        )
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
                index_scoped,
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
                    f"signed attestation {_location(item)}: {'; '.join(c.rejections)}: not used",
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

    images = tuple(
        _upgrade(image, additions.get(image.descriptor.digest, ()), signed_digests, found)
        for image in found.images
    )
    return dataclasses.replace(
        found,
        images=images,
        problems=(*found.problems, *problems),
        signed=(*found.signed, *signed),
    )


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
