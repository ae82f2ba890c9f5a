"""What discovery fetches: only the layers and configs that a caller needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from provcheck.discovery.limits import Limits
from provcheck.predicates import PredicateKind
from provcheck.source.base import ATTESTATION_MAX_BYTES

if TYPE_CHECKING:
    from provcheck.attestation.signatures import TrustConfig
    from provcheck.discovery.offload import Offload
    from provcheck.oci.reference import ImageReference


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    """Controls what :func:`discover` downloads.

    ``kinds``: predicate kinds whose layers are fetched; a layer without a predicate-type
    annotation is always fetched (its kind is unknown until it is read). ``image_configs``:
    fetch each platform's image config (needed to read build args leaked into history or Env).
    ``platforms``: only these platforms (normalised keys); empty means all. Nothing of the
    others is read (they are listed in ``ImageAttestations.others``); one the index lacks raises
    :class:`~provcheck.errors.PlatformNotFoundError` before anything below the index is read.
    """

    kinds: frozenset[PredicateKind] = field(default_factory=lambda: frozenset(PredicateKind))
    image_configs: bool = False
    platforms: frozenset[str] = frozenset()
    max_layer_bytes: int = ATTESTATION_MAX_BYTES
    concurrency: int = 8
    signature_stores: bool = False
    """Also read cosign tags and referrers (signed attestations, signatures): opt-in."""
    trust: TrustConfig | None = None
    """Keys/identities to verify signatures with; ``None`` reports them but never trusts them."""
    image_signatures: bool = True
    """With the stores: also read image signatures (cosign ``.sig``) and signatures over
    attestation manifests. A policy without a ``signatures`` rule does not need them."""
    index_attestations: bool = True
    """Read the attestation manifests the index lists (a policy with only the ``vsa`` rule
    needs none: the summary it checks is in the root's stores)."""
    platform_stores: bool = True
    """With the stores: also read those of each platform manifest and in-index attestation
    manifest, not only the root's (a policy with only the ``vsa`` rule needs the root's)."""
    limits: Limits = field(default_factory=Limits)
    """The most work the whole image may cost (see :mod:`provcheck.discovery.limits`)."""
    offload: Offload = False
    """Where signature verification, the parsing of large statements and (in
    :func:`~provcheck.api.verify_image_async` and :func:`~provcheck.cache.verify.verify_cached`,
    through :func:`~provcheck.api.evaluate_async`) the policy's evaluation run
    (:mod:`provcheck.discovery.offload`): ``False``
    inline on the event loop (the CLI), ``True`` in a worker thread, or in the executor given
    (a server, so that verifying one image does not stall the others)."""
    attestations_repository: ImageReference | None = None
    """Another repository (any registry; its tag or digest is ignored) whose signature stores
    are read too, as cosign's ``COSIGN_REPOSITORY`` keeps them: cosign ``.att``/``.sig`` tags
    and referrers named by the image's digests. What is found there binds to the image by
    digest exactly as at home; read with the credentials of its own registry host."""
