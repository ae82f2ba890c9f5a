"""The documents ``docker buildx imagetools inspect`` prints for ``{{json .Provenance}}`` and
``{{json .SBOM}}``, built from verified and bound statements only.

buildx's selection rules (formats.md §3.1): per platform, walk the attestation manifests in index
order; provenance is the first layer whose predicate type starts with
``https://slsa.dev/provenance/`` in each manifest, a later manifest replacing an earlier one;
SBOMs are every ``https://spdx.dev/Document`` layer, the first as ``SPDX`` and the rest as
``AdditionalSPDXs``. One platform key prints the bare shape, several print a map keyed by
``os/arch[/variant]``. Unlike buildx, statements that are unbound, tampered or mislabelled
never appear here.

:func:`redacted_provenance_document` is the same document with every secret build-arg value
(as the ``build-args`` rule finds them) replaced by the redaction marker of the reports.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from provcheck.discovery.model import (
    AttestationManifest,
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
)
from provcheck.errors import ProvcheckError
from provcheck.policy.secrets import looks_like_secret
from provcheck.predicates import SLSA_PROVENANCE_PREFIX, SPDX_DOCUMENT
from provcheck.predicates.slsa import parse_provenance_predicate
from provcheck.report.redaction import redact, redact_assignment
from provcheck.views.gojson import GoStruct

_PREDICATE = "/predicate"


def _in_index(image: PlatformImage) -> list[AttestationManifest]:
    """buildx reads only the attestation manifests listed in the index."""
    return [m for m in image.attestations if m.origin is AttestationOrigin.INDEX]


def _chosen_provenance(image: PlatformImage) -> tuple[Any, str] | None:
    """(predicate, predicate type) of the provenance buildx shows for ``image``."""
    chosen: tuple[Any, str] | None = None
    for manifest in _in_index(image):
        for layer in manifest.layers:
            statement = layer.statement
            if (
                layer.usable
                and statement is not None
                and statement.predicate_type.startswith(SLSA_PROVENANCE_PREFIX)
            ):
                chosen = (statement.predicate, statement.predicate_type)
                break
    return chosen


def _provenance(image: PlatformImage) -> dict[str, Any]:
    chosen = _chosen_provenance(image)
    return GoStruct() if chosen is None else GoStruct(SLSA=chosen[0])


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _replace_at(document: Any, pointer: str, value: str) -> None:
    """Set the value at the RFC 6901 ``pointer`` (relative to the predicate) of ``document``."""
    *parents, last = _tokens(pointer)
    node = document
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _secret_places(predicate: Any, predicate_type: str) -> list[tuple[str, str, str]]:
    """(pointer into the predicate, replacement, secret value) of every secret build arg and
    LLB ``env`` entry, found as the ``build-args`` rule finds them."""
    try:
        provenance = parse_provenance_predicate(predicate, predicate_type)
    except ProvcheckError:
        return []
    out: list[tuple[str, str, str]] = []
    for arg in provenance.all_build_args():
        name = arg.build_arg_name
        if looks_like_secret(name, arg.value) is not None:
            out.append((arg.pointer, redact(arg.value), arg.value))
    out.extend(
        (env.pointer, redact_assignment(env.name, env.value), env.value)
        for env in provenance.llb_env
        if looks_like_secret(env.name, env.value) is not None
    )
    return [
        (pointer[len(_PREDICATE) :], shown, value)
        for pointer, shown, value in out
        if pointer.startswith(_PREDICATE + "/")
    ]


def _sweep(node: Any, secrets: list[str]) -> tuple[Any, int]:
    """``node`` with every other copy of a secret value in a string redacted; the count."""
    if isinstance(node, str):
        text = node
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, redact(secret))
        return text, int(text != node)
    if isinstance(node, list):
        items = [_sweep(item, secrets) for item in node]
        return [item for item, _ in items], sum(n for _, n in items)
    if isinstance(node, dict):
        pairs = {key: _sweep(value, secrets) for key, value in node.items()}
        return {k: v for k, (v, _) in pairs.items()}, sum(n for _, n in pairs.values())
    return node, 0


def _redacted_predicate(predicate: Any, predicate_type: str) -> tuple[Any, int]:
    """A copy of ``predicate`` with its secrets redacted, and how many values were."""
    places = _secret_places(predicate, predicate_type)
    if not places:
        return predicate, 0
    out = copy.deepcopy(predicate)
    for pointer, shown, _ in places:
        _replace_at(out, pointer, shown)
    # Longest first, so that a secret containing another is replaced whole.
    secrets = sorted({value for _, _, value in places if len(value) >= 4}, key=len, reverse=True)
    swept, copies = _sweep(out, secrets)
    return swept, len(places) + copies


def _sbom(image: PlatformImage) -> dict[str, Any]:
    documents = [
        layer.statement.predicate
        for manifest in _in_index(image)
        for layer in manifest.layers
        if layer.usable
        and layer.statement is not None
        and layer.statement.predicate_type == SPDX_DOCUMENT
    ]
    out = GoStruct()  # buildx's SBOM struct: SPDX, then AdditionalSPDXs
    if documents:
        out["SPDX"] = documents[0]
    if len(documents) > 1:
        out["AdditionalSPDXs"] = documents[1:]
    return out


def _document(
    found: ImageAttestations, per_image: Callable[[PlatformImage], dict[str, Any]]
) -> dict[str, Any]:
    keys = {image.platform.key for image in found.images}
    if len(keys) <= 1:
        return per_image(found.images[0]) if found.images else {}
    out: dict[str, Any] = {}
    for image in found.images:
        value = per_image(image)
        if value:
            out[image.platform.key] = value
    return out


def provenance_document(found: ImageAttestations) -> dict[str, Any]:
    """The value buildx prints for ``{{json .Provenance}}``."""
    return _document(found, _provenance)


def redacted_provenance_document(found: ImageAttestations) -> tuple[dict[str, Any], int]:
    """:func:`provenance_document` with each secret build-arg value replaced by the reports'
    redaction marker (same shape and keys), and the number of values redacted."""
    counts: list[int] = []

    def per_image(image: PlatformImage) -> dict[str, Any]:
        chosen = _chosen_provenance(image)
        if chosen is None:
            return GoStruct()
        predicate, count = _redacted_predicate(*chosen)
        counts.append(count)
        return GoStruct(SLSA=predicate)

    return _document(found, per_image), sum(counts)


def sbom_document(found: ImageAttestations) -> dict[str, Any]:
    """The value buildx prints for ``{{json .SBOM}}``."""
    return _document(found, _sbom)
