"""Store a signed attestation where cosign looks for it: the ``sha256-<hex>.att`` tag.

The format is cosign's (formats.md §8.1): an OCI image manifest whose layers are DSSE envelopes
(``application/vnd.dsse.envelope.v1+json``, annotated ``dev.cosignproject.cosign/signature: ""``
and ``predicateType``), and whose config is go-containerregistry's empty config with one
``diff_id`` and one history entry per layer. An existing ``.att`` manifest is appended to, its
layers kept byte for byte (others' attestations are never replaced); an envelope already there
is not added twice. Only the signer's own earlier summaries are superseded (``supersedes``: an
envelope of the same predicate type that verifies under that key is dropped), so that a tag a CI
job attaches to on every run does not grow without end, and a gate reads one summary per signer.
Registries have no conditional writes: two writers appending at the same instant can lose one of
the two layers, as with cosign itself.

A hostile writer of the repository could fill the tag with thousands of layers, each one a
request to read. So an existing manifest over :data:`MAX_ATTACH_MANIFEST_BYTES` or with
:data:`MAX_ATTACH_LAYERS` layers, or (with ``supersedes``) with more than
:data:`MAX_SUPERSEDE_READS` layers that would have to be read, is refused with
:class:`LimitExceededError` before anything is pushed: the tag is left as it was (every layer
kept), and the summary is not attached, which the caller sees (exit 3), rather than appended
next to a stale summary of the same signer that a gate might read instead. A layer over
:data:`SUMMARY_MAX_BYTES` is not one of the signer's summaries: kept, never read.
"""

from __future__ import annotations

import json
from typing import Any, Final

from provcheck.attestation.cosign import SIGNATURE_ANNOTATION
from provcheck.attestation.dsse import check_envelope, parse_envelope
from provcheck.attestation.keys import PublicKey
from provcheck.discovery.stores.found import StoreTag, store_tag
from provcheck.errors import EnvelopeError, LimitExceededError, ManifestError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, load_manifest_json
from provcheck.source.registry.client import RegistrySource
from provcheck.source.registry.push import push_blob, push_manifest

_ZERO_TIME = "0001-01-01T00:00:00Z"

MAX_ATTACH_MANIFEST_BYTES: Final = 1024 * 1024
"""The largest existing ``.att`` manifest appended to (cosign's layers take ~300 bytes each)."""
MAX_ATTACH_LAYERS: Final = 1000
"""The most layers the written ``.att`` manifest may have (an existing one with as many is
refused)."""
MAX_SUPERSEDE_READS: Final = 32
"""The most earlier layers of the summary's predicate type read to find the signer's own (one
per signer is what superseding leaves)."""
SUMMARY_MAX_BYTES: Final = 1024 * 1024
"""A layer larger than this is not a summary provcheck wrote (a few KiB): kept, never read."""


def _compact(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def cosign_config(layers: list[dict[str, Any]]) -> bytes:
    """The config cosign writes for ``layers`` (uncompressed: a diff_id is the layer digest)."""
    return _compact(
        {
            "architecture": "",
            "created": _ZERO_TIME,
            "history": [{"created": _ZERO_TIME} for _ in layers],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
            "config": {},
        }
    )


def _existing_layers(data: bytes, tag: str) -> list[dict[str, Any]]:
    if len(data) > MAX_ATTACH_MANIFEST_BYTES:
        raise LimitExceededError(
            f"tag {tag} is a manifest of {len(data)} bytes, over {MAX_ATTACH_MANIFEST_BYTES}: "
            "not appended to (left as it is)"
        )
    doc = load_manifest_json(data, f"tag {tag}")
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ManifestError(f"tag {tag} is not a cosign attestation manifest: not appended to")
    if len(layers) >= MAX_ATTACH_LAYERS:
        raise LimitExceededError(
            f"tag {tag} has {len(layers)} layers, at most {MAX_ATTACH_LAYERS - 1} are appended "
            "to: not appended to (left as it is)"
        )
    for i, layer in enumerate(layers):
        Descriptor.from_dict(layer, f"tag {tag} layers[{i}]")  # well-formed, or refused
    return list(layers)


def _candidate(layer: dict[str, Any], predicate_type: str) -> Descriptor | None:
    """The descriptor of ``layer`` when it may be a summary of ``predicate_type`` (to read)."""
    annotations = layer.get("annotations")
    if not isinstance(annotations, dict) or annotations.get("predicateType") != predicate_type:
        return None
    descriptor = Descriptor.from_dict(layer)
    if descriptor.size > SUMMARY_MAX_BYTES:
        return None  # not a summary this signer wrote: kept, never read
    return descriptor


def _candidates(
    layers: list[dict[str, Any]], predicate_type: str, tag: str
) -> list[Descriptor | None]:
    """:func:`_candidate` of each layer. Raises :class:`LimitExceededError` past
    :data:`MAX_SUPERSEDE_READS` of them."""
    found = [_candidate(x, predicate_type) for x in layers]
    count = sum(1 for x in found if x is not None)
    if count > MAX_SUPERSEDE_READS:
        raise LimitExceededError(
            f"tag {tag} has {count} layers of {predicate_type}, at most "
            f"{MAX_SUPERSEDE_READS} are read to supersede the signer's own: not appended to "
            "(left as it is)"
        )
    return found


async def _superseded(
    source: RegistrySource, descriptor: Descriptor | None, key: PublicKey
) -> bool:
    """True when ``descriptor`` (a :func:`_candidate`) is an envelope that ``key`` signed."""
    if descriptor is None:
        return False
    data = await source.fetch_blob(descriptor, SUMMARY_MAX_BYTES)
    try:
        envelope = parse_envelope(data)
    except EnvelopeError:
        return False
    return bool(check_envelope(envelope, [key]).key_ids)


async def attach_attestation(
    source: RegistrySource,
    subject: Digest,
    envelope: bytes,
    predicate_type: str,
    *,
    supersedes: PublicKey | None = None,
) -> Descriptor:
    """Add ``envelope`` (a signed DSSE envelope about ``subject``) to ``subject``'s ``.att`` tag
    in ``source``'s repository and return the descriptor of the manifest written; with
    ``supersedes``, drop the earlier envelopes of ``predicate_type`` signed by that key.

    Raises :class:`ManifestError` when the tag holds something that is not a manifest of
    layers, :class:`LimitExceededError` when it is too large to append to (module docstring;
    nothing is pushed then), and the errors of :mod:`provcheck.source.registry.push` (and of
    reading an earlier envelope it may supersede).
    """
    tag = store_tag(subject, StoreTag.ATTESTATIONS)
    existing = await source.fetch_tag(tag)
    layers = _existing_layers(existing[1], tag) if existing is not None else []
    if supersedes is not None:
        found = _candidates(layers, predicate_type, tag)
        dropped = [await _superseded(source, x, supersedes) for x in found]
        layers = [x for x, drop in zip(layers, dropped, strict=True) if not drop]
    blob = await push_blob(source, envelope, mt.DSSE_ENVELOPE)
    if not any(layer.get("digest") == str(blob.digest) for layer in layers):
        layers.append(
            {
                "mediaType": mt.DSSE_ENVELOPE,
                "size": blob.size,
                "digest": str(blob.digest),
                "annotations": {SIGNATURE_ANNOTATION: "", "predicateType": predicate_type},
            }
        )
    config = await push_blob(source, cosign_config(layers), mt.OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "size": config.size, "digest": str(config.digest)},
        "layers": layers,
    }
    return await push_manifest(source, tag, _compact(manifest), mt.OCI_MANIFEST)
