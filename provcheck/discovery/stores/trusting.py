"""Applying the one verifier to what discovery found: every signature, then the threshold.

:func:`settle` verifies each signature and signed envelope found in the signature stores and in
the index (:mod:`provcheck.attestation.verify`), pools what every valid one covers in one
:class:`~provcheck.attestation.verify.SignerPool`, and decides, per statement, once:

* ``signed``: the statement's own bytes (a DSSE payload, or the in-toto layer) and, for a
  statement in an attestation manifest of the index, that manifest, are covered by valid
  signatures of at least ``threshold`` distinct trusted keys or identities;
* ``index-bound`` (in-index statements): the index is covered so (or was pinned by digest);
* otherwise the trust discovery gave it; a signed envelope below the threshold is rejected.

Everything rejected becomes a :class:`Problem` and, for store content, a :class:`SignedObject`
with typed reasons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from provcheck.attestation.binding import Binding, BindingFailure, BindingStatus, bind_to_image
from provcheck.attestation.signatures import (
    Rejection,
    RejectionReason,
    SignatureCheck,
    SignedKind,
    SignedObject,
    TlogStatus,
    TrustConfig,
)
from provcheck.attestation.statement import Statement
from provcheck.attestation.verify import (
    SignerPool,
    Tally,
    VerifiedPayload,
    verify_simple_signature,
    verify_statement_envelope,
)
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
from provcheck.discovery.stores.found import (
    Found,
    RawSbom,
    SimpleSig,
    StoredEnvelope,
    TargetRole,
    location,
)
from provcheck.oci.digest import Digest
from provcheck.oci.platform import Platform


@dataclass(slots=True)
class _Checked:
    """A stored envelope, what verifying it gave, and what binding and the threshold add."""

    item: StoredEnvelope
    verified: VerifiedPayload
    later: list[Rejection] = field(default_factory=list)
    """Rejections after verification: the binding's, the threshold's."""
    bound: list[tuple[PlatformImage, Binding]] = field(default_factory=list)
    """The platforms the statement binds to, each with its binding (computed once)."""

    @property
    def statement(self) -> Statement | None:
        return self.verified.statement

    @property
    def rejections(self) -> tuple[Rejection, ...]:
        return (*self.verified.rejections, *self.later)

    @property
    def check(self) -> SignatureCheck:
        return dataclasses.replace(self.verified.check, rejections=self.rejections)


def _verify(item: StoredEnvelope, trust: TrustConfig | None) -> _Checked:
    if item.error is not None or item.envelope is None:
        unreadable = Rejection(RejectionReason.UNREADABLE, item.error or "no envelope")
        return _Checked(
            item, VerifiedPayload(None, (), (unreadable,), None, item.tlog_evidence.status)
        )
    keyless = item.keyless is not None
    verified = verify_statement_envelope(
        item.envelope,
        trust,
        keyless_bundle=item.keyless,
        tlog=item.tlog_evidence.status,
        tlog_evidence=None if keyless else item.tlog_evidence,  # a keyless bundle checks its own
        raw_envelope=item.raw,
    )
    return _Checked(item, verified)


def _every_image(found: ImageAttestations) -> tuple[PlatformImage, ...]:
    """The platform images read and those the platform selection left out: a statement binds
    to the whole index (what binds only to a platform left out is dropped afterwards, by
    :func:`~provcheck.discovery.select.select_platforms`, not rejected)."""
    return (*found.images, *found.others)


def _platforms(found: ImageAttestations) -> list[tuple[Digest, Platform]]:
    return [(image.descriptor.digest, image.platform) for image in _every_image(found)]


def _bind(checked: _Checked, found: ImageAttestations) -> tuple[BindingFailure, ...]:
    """Bind the statement to each platform; return the failures when it binds to none."""
    assert checked.statement is not None
    bound = bind_to_image(
        checked.statement,
        image=found.digest,
        is_index=found.is_index,
        platforms=_platforms(found),
        predicate_type_hint=checked.item.hint,
    )
    checked.bound = [
        (image, b) for image, b in zip(_every_image(found), bound.bindings, strict=True) if b.usable
    ]
    return bound.failures


def _signature_kind(sig: SimpleSig) -> SignedKind:
    if sig.target.role is TargetRole.ATTESTATION_MANIFEST:
        return SignedKind.ATTESTATION_MANIFEST
    return SignedKind.IMAGE_SIGNATURE


def _chains_to_statements(sig: SimpleSig, found: ImageAttestations) -> bool:
    """True when what ``sig`` signs chains to statements: an in-index attestation manifest, or
    the index (a signature over a platform manifest only says who pushed)."""
    return sig.target.role is TargetRole.ATTESTATION_MANIFEST or (
        sig.target.role is TargetRole.ROOT and found.is_index
    )


def _with(check: SignatureCheck, tally: Tally) -> SignatureCheck:
    """``check`` with the threshold's rejection, when it is valid and the threshold unmet."""
    if tally.rejection is None or not check.valid:
        return check
    return dataclasses.replace(check, rejections=(*check.rejections, tally.rejection))


def _image_signatures(
    signatures: list[SimpleSig],
    found: ImageAttestations,
    trust: TrustConfig | None,
    pool: SignerPool | None,
) -> tuple[list[SignedObject], list[Problem]]:
    """Simple signatures: what each proves, with the threshold over the manifest or index it
    covers when that chains to statements, and why each rejected one was rejected."""
    checks = [
        verify_simple_signature(
            sig.payload,
            sig.signature,
            sig.target.descriptor.digest,
            trust,
            tlog_evidence=sig.tlog_evidence,
        )
        for sig in signatures
    ]
    if pool is not None:
        for check in checks:
            pool.add(check)
    signed: list[SignedObject] = []
    problems: list[Problem] = []
    for sig, check in zip(signatures, checks, strict=True):
        kind = _signature_kind(sig)
        target = sig.target.descriptor.digest
        if pool is not None and _chains_to_statements(sig, found):
            check = _with(check, pool.tally((str(target),), f"{kind} {target.short}"))
        signed.append(SignedObject(kind, sig.origin.value, location(sig), str(target), check))
        if not check.accepted and trust is not None:
            tail = "" if check.valid else ": not used"
            problems.append(
                Problem(
                    ProblemKind.SIGNATURE,
                    f"{kind} {location(sig)}: {'; '.join(check.messages)}{tail}",
                    sig.manifest.digest,
                )
            )
    return signed, problems


def _index_scoped(c: _Checked) -> bool:
    """True when the statement binds to the platforms through the index, not one manifest."""
    return bool(c.bound) and all(b.status is BindingStatus.INDEX for _, b in c.bound)


def _signed_attestations(
    checked: list[_Checked],
    found: ImageAttestations,
    trust: TrustConfig | None,
    pool: SignerPool | None,
) -> tuple[list[SignedObject], dict[Digest, list[AttestationManifest]], list[Problem]]:
    """Bound and thresholded envelopes: accepted statements become attestation manifests of
    the platforms they bind to, rejected ones problems."""
    if pool is not None:
        for c in checked:
            if c.rejections or c.statement is None:
                continue
            tally = pool.tally((c.check.covers or "",), f"statement {c.item.manifest.digest.short}")
            if tally.rejection is not None:
                c.later.append(tally.rejection)
    signed: list[SignedObject] = []
    additions: dict[Digest, list[AttestationManifest]] = {}
    problems: list[Problem] = []
    for c in checked:
        item = c.item
        check = c.check
        signed.append(
            SignedObject(
                SignedKind.ATTESTATION,
                item.origin.value,
                location(item),
                str(item.target.descriptor.digest),
                check,
                c.statement.predicate_type if c.statement else item.hint,
                c.verified.payload_digest,
                _index_scoped(c),
                tuple(image.platform.key for image, _ in c.bound) if not c.rejections else (),
                item.raw,
            )
        )
        if c.rejections:
            problem_kind = (
                ProblemKind.BINDING
                if check.rejected_for(RejectionReason.BOUND_ELSEWHERE)
                else ProblemKind.SIGNATURE
            )
            problems.append(
                Problem(
                    problem_kind,
                    f"{'signed attestation' if trust is not None else 'attestation envelope'} "
                    f"{location(item)}: {'; '.join(check.messages)}: not used",
                    item.manifest.digest,
                )
            )
            continue
        assert c.statement is not None
        level = TrustLevel.SIGNED if trust is not None else TrustLevel.UNSIGNED
        for image, binding in c.bound:
            layer = AttestationLayer(
                item.layer, item.index, item.hint, c.statement, binding, (), level, check
            )
            additions.setdefault(image.descriptor.digest, []).append(
                AttestationManifest(
                    item.manifest, item.form, item.origin, (layer,), repository=item.repository
                )
            )
    return signed, additions, problems


def _raw_sboms(
    raw_sboms: list[RawSbom],
    found: ImageAttestations,
    additions: dict[Digest, list[AttestationManifest]],
) -> list[Problem]:
    """Bind each synthesised SBOM statement like any statement; return the ones that bind to
    nothing (e.g. an SBOM attached to an in-index attestation manifest) as problems."""
    problems: list[Problem] = []
    for raw in raw_sboms:
        bound = bind_to_image(
            raw.statement,
            image=found.digest,
            is_index=found.is_index,
            platforms=_platforms(found),
            predicate_type_hint=None,
        )
        for image, binding in zip(_every_image(found), bound.bindings, strict=True):
            if not binding.usable:
                continue
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
                    raw.manifest,
                    AttestationForm.OCI_ARTIFACT_SBOM,
                    raw.origin,
                    (layer,),
                    repository=raw.repository,
                )
            )
        if not bound.bound:
            problems.append(
                Problem(
                    ProblemKind.BINDING,
                    f"SBOM referrer {location(raw)} describes "
                    f"{raw.target.descriptor.digest.short}, which is neither "
                    f"{found.digest.short} nor one of its platform manifests: not used",
                    raw.manifest.digest,
                )
            )
    return problems


def _pool_layers(pool: SignerPool, manifests: Iterable[AttestationManifest]) -> None:
    """Add the verified signers of DSSE layers read by BuildKit's layer logic."""
    for manifest in manifests:
        for layer in manifest.layers:
            if layer.signature is not None and not layer.problems:
                pool.add(layer.signature)


def _settle_layer(
    layer: AttestationLayer,
    manifest: AttestationManifest,
    platform: str,
    pool: SignerPool,
    index: Tally | None,
) -> AttestationLayer:
    """The trust of one statement read by BuildKit's layer logic (see the module docstring)."""
    if layer.statement is None or layer.problems:
        return layer
    signature = layer.signature
    covers = signature.covers if signature is not None else None
    chain = [covers or str(layer.descriptor.digest)]
    if manifest.origin is AttestationOrigin.INDEX:
        chain.append(str(manifest.descriptor.digest))
    tally = pool.tally(chain, f"statement {layer.descriptor.digest.short}")
    if tally.met:
        tlog = signature.tlog if signature is not None else TlogStatus.ABSENT
        check = SignatureCheck(tally.signers, (), tlog, chain[0])
        return dataclasses.replace(layer, trust=TrustLevel.SIGNED, signature=check)
    if signature is not None:  # a signed envelope below the threshold is rejected
        assert tally.rejection is not None
        where = f"attestation layer {layer.descriptor.digest.short} for {platform}"
        problem = Problem(
            ProblemKind.SIGNATURE,
            f"{where}: signed envelope rejected: {tally.rejection.message}: not used",
            layer.descriptor.digest,
        )
        rejected = dataclasses.replace(signature, rejections=(tally.rejection,))
        return AttestationLayer(
            layer.descriptor,
            layer.index,
            layer.predicate_type_hint,
            problems=(problem,),
            trust=layer.trust,
            signature=rejected,
        )
    if index is not None and index.met and layer.trust is TrustLevel.UNSIGNED:
        return dataclasses.replace(layer, trust=TrustLevel.INDEX_BOUND)
    return layer


def _settle_manifest(
    manifest: AttestationManifest, platform: str, pool: SignerPool, index: Tally | None
) -> AttestationManifest:
    layers = tuple(_settle_layer(x, manifest, platform, pool, index) for x in manifest.layers)
    return dataclasses.replace(manifest, layers=layers)


def settle(
    found: ImageAttestations, stored: Found, in_index: set[Digest], trust: TrustConfig | None
) -> ImageAttestations:
    """Verify what the stores hold (``stored``) and what the index holds (``found``), apply the
    threshold once per statement, and return ``found`` with the decided trust levels, the
    accepted store statements added and every rejection reported (see the module docstring).

    ``in_index``: the attestation manifests the index lists (a referrer naming one of them is
    not added twice).
    """
    pool = SignerPool(trust.threshold) if trust is not None else None
    checked = [_verify(item, trust) for item in stored.envelopes]
    for c in checked:
        if c.statement is not None and not c.rejections:
            failures = _bind(c, found)
            if not c.bound:
                why = "; ".join(f.message for f in failures)
                c.later.append(
                    Rejection(
                        RejectionReason.BOUND_ELSEWHERE,
                        f"its statement is bound to another image ({why})",
                    )
                )
    referred = [
        (digest, manifest)
        for digest, manifest in stored.attestations
        if manifest.descriptor.digest not in in_index
    ]
    if pool is not None:
        for c in checked:
            pool.add(c.check)
        _pool_layers(pool, (m for image in found.images for m in image.attestations))
        _pool_layers(pool, (m for _, m in referred))
    signatures, signature_problems = _image_signatures(stored.signatures, found, trust, pool)
    attestations, additions, attestation_problems = _signed_attestations(
        checked, found, trust, pool
    )
    by_platform = {image.descriptor.digest: image.platform.key for image in found.images}
    for digest, manifest in referred:
        if pool is not None:
            manifest = _settle_manifest(manifest, by_platform.get(digest, ""), pool, None)
        additions.setdefault(digest, []).append(manifest)
    sbom_problems = _raw_sboms(stored.raw_sboms, found, additions)
    index = pool.tally((str(found.digest),), "index") if pool and found.is_index else None
    images = []
    for image in found.images:
        own = image.attestations
        if pool is not None:
            own = tuple(_settle_manifest(m, image.platform.key, pool, index) for m in own)
        added = additions.get(image.descriptor.digest, ())
        images.append(dataclasses.replace(image, attestations=(*own, *added)))
    return dataclasses.replace(
        found,
        images=tuple(images),
        problems=(
            *found.problems,
            *stored.problems,
            *signature_problems,
            *attestation_problems,
            *sbom_problems,
        ),
        signed=(*found.signed, *signatures, *attestations),
        lookups=(*found.lookups, *stored.lookups),
    )
