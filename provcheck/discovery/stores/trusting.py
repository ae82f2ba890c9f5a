"""Verifying, thresholding and binding what the signature stores hold.

Signatures and statements that verify under the trusted keys and bind to a platform become
evidence; everything rejected becomes a :class:`Problem` and a :class:`SignedObject` with its
reasons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from provcheck.attestation.binding import Binding, BindingStatus, bind_statement
from provcheck.attestation.cosign import SIMPLE_SIGNING_TYPE, verify_simple_signing
from provcheck.attestation.dsse import b64decode_any
from provcheck.attestation.signatures import (
    SignatureCheck,
    SignedKind,
    SignedObject,
    TrustConfig,
)
from provcheck.attestation.statement import Statement
from provcheck.attestation.tlog import MessageMaterial, check_tlog, tlog_required_reason
from provcheck.attestation.verify import verify_statement_envelope
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
from provcheck.discovery.stores.found import RawSbom, SimpleSig, StoredEnvelope, location
from provcheck.errors import ProvcheckError
from provcheck.oci.digest import Digest


@dataclass(slots=True)
class _Checked:
    item: StoredEnvelope
    statement: Statement | None
    signers: tuple[str, ...]
    rejections: list[str]
    payload_digest: str | None
    bound: list[tuple[PlatformImage, Binding]]
    """The platforms the statement binds to, each with its binding (computed once)."""


def _verify(item: StoredEnvelope, trust: TrustConfig | None) -> _Checked:
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
            checked.bound.append((image, binding))
        elif any("subjects" not in r for r in binding.reasons):
            reasons.extend(r for r in binding.reasons if r not in reasons and "subjects" not in r)
    if not checked.bound:
        reasons.insert(
            0,
            f"subjects name {subjects[:200] or 'nothing'}, not {found.digest.short} "
            "or any of its platform manifests",
        )
    return reasons


def _check_signature(sig: SimpleSig, trust: TrustConfig | None) -> SignatureCheck:
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


def image_signatures(
    signatures: list[SimpleSig], trust: TrustConfig | None
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
                kind, sig.origin.value, location(sig), str(sig.target.descriptor.digest), check
            )
        )
        if check.accepted:
            covered.add(sig.target.descriptor.digest)
        elif trust is not None:
            problems.append(
                Problem(
                    ProblemKind.SIGNATURE,
                    f"{kind} {location(sig)}: {'; '.join(check.rejections)}: not used",
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
    return bool(c.bound) and all(b.status is BindingStatus.INDEX for _, b in c.bound)


def signed_attestations(
    envelopes: list[StoredEnvelope], found: ImageAttestations, trust: TrustConfig | None
) -> tuple[list[SignedObject], dict[Digest, list[AttestationManifest]], list[Problem]]:
    """Verify, bind and threshold every envelope; accepted statements become attestation
    manifests of the platforms they bind to, rejected ones problems."""
    checked = [_verify(item, trust) for item in envelopes]
    for c in checked:
        if c.statement is not None and not c.rejections:
            reasons = _bind(c, found)
            if not c.bound:
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
                location(item),
                str(item.target.descriptor.digest),
                check,
                c.statement.predicate_type if c.statement else item.hint,
                c.payload_digest,
                _index_scoped(c),
                tuple(image.platform.key for image, _ in c.bound) if not c.rejections else (),
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
                    f"{location(item)}: {'; '.join(c.rejections)}: not used",
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
                AttestationManifest(item.manifest, item.form, item.origin, (layer,))
            )
    return signed, additions, problems


def add_raw_sboms(
    raw_sboms: list[RawSbom],
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
                    f"SBOM referrer {location(raw)} describes "
                    f"{raw.target.descriptor.digest.short}, which is neither "
                    f"{found.digest.short} nor one of its platform manifests: not used",
                    raw.manifest.digest,
                )
            )
    return problems


def upgrade_image(
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
