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
(as the ``build-args`` rule finds them) replaced by the redaction marker of the reports; a
predicate the rule cannot read is swept by shape instead, or refused (:class:`AttestationError`).
The secret tables are imported only when redacting, and never with the policy package.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from provcheck._internal.gojson import GoStruct
from provcheck.discovery.model import (
    AttestationManifest,
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
)
from provcheck.errors import AttestationError, ProvcheckError
from provcheck.predicates import SLSA_PROVENANCE_PREFIX, SPDX_DOCUMENT
from provcheck.predicates.slsa import BUILD_ARG_PREFIX, parse_provenance_predicate, pointer_join

_PREDICATE = "/predicate"
_CANNOT_REDACT: Final = "cannot redact this provenance; --show-secrets prints it as is"


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


@dataclass(frozen=True, slots=True)
class _Secret:
    """A secret value, where it is (a pointer into the predicate) and what replaces it."""

    pointer: str
    shown: str
    name: str
    value: str


def _parsed_secrets(predicate: Any, predicate_type: str) -> list[_Secret]:
    """Every secret build arg and LLB ``env`` entry, found as the ``build-args`` rule finds
    them. Raises :class:`ProvcheckError` when the predicate does not parse."""
    from provcheck._internal.secrets import looks_like_secret
    from provcheck.report.redaction import redact, redact_assignment

    provenance = parse_provenance_predicate(predicate, predicate_type)
    args = [(arg, arg.key[len(BUILD_ARG_PREFIX) :]) for arg in provenance.all_build_args()]
    out = [
        _Secret(arg.pointer, redact(arg.value), name, arg.value)
        for arg, name in args
        if looks_like_secret(name, arg.value) is not None
    ]
    out.extend(
        _Secret(env.pointer, redact_assignment(env.name, env.value), env.name, env.value)
        for env in provenance.llb_env
        if looks_like_secret(env.name, env.value) is not None
    )
    return [
        _Secret(s.pointer[len(_PREDICATE) :], s.shown, s.name, s.value)
        for s in out
        if s.pointer.startswith(_PREDICATE + "/")
    ]


def _swept_secrets(predicate: Any) -> list[_Secret]:
    """For a predicate that does not parse: every ``build-arg:*`` value and every ``env`` list
    entry (``NAME=value``) anywhere in it that looks like a secret, judged as the parser's
    values are. Raises :class:`AttestationError` when a ``build-arg:*`` value is an object or
    a list, or an ``env`` is anything but a list of strings: what it holds cannot be judged."""
    from provcheck._internal.secrets import looks_like_secret
    from provcheck.report.redaction import redact, redact_assignment

    out: list[_Secret] = []
    stack: list[tuple[str, Any]] = [("", predicate)]
    while stack:
        pointer, node = stack.pop()
        if isinstance(node, list):
            stack.extend((pointer_join(pointer, i), item) for i, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            here = pointer_join(pointer, key)
            if key.startswith(BUILD_ARG_PREFIX) and value is not None:
                if isinstance(value, dict | list):
                    raise AttestationError(_CANNOT_REDACT)
                name, text = key[len(BUILD_ARG_PREFIX) :], str(value)
                if looks_like_secret(name, text) is not None:
                    out.append(_Secret(here, redact(text), name, text))
            elif key == "env":
                if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
                    raise AttestationError(_CANNOT_REDACT)
                for i, entry in enumerate(value):
                    name, _, text = entry.partition("=")
                    if looks_like_secret(name, text) is not None:
                        shown = redact_assignment(name, text)
                        out.append(_Secret(pointer_join(here, i), shown, name, text))
            else:
                stack.append((here, value))
    return out


def _sweep(node: Any, rewrites: list[Callable[[str], str]]) -> tuple[Any, int]:
    """``node`` with ``rewrites`` applied to each of its strings; how many strings changed."""
    if isinstance(node, str):
        text = node
        for rewrite in rewrites:
            text = rewrite(text)
        return text, int(text != node)
    if isinstance(node, list):
        items = [_sweep(item, rewrites) for item in node]
        return [item for item, _ in items], sum(n for _, n in items)
    if isinstance(node, dict):
        pairs = {key: _sweep(value, rewrites) for key, value in node.items()}
        return {k: v for k, (v, _) in pairs.items()}, sum(n for _, n in pairs.values())
    return node, 0


def _copies(secret: _Secret) -> Callable[[str], str]:
    """What redacts the other copies of ``secret`` in a string: every ``NAME=value`` (an env
    entry, a history-like command line); every copy of a value that is a secret by itself (a
    token format, a URL with a credential, a high-entropy string), since such a value can be
    told from ordinary text. A value that is secret only by its name (``DB_PASSWORD=admin``)
    is not replaced elsewhere: ``admin`` may be any word of the document."""
    from provcheck._internal.secrets import looks_like_secret
    from provcheck.report.redaction import redact, redact_assignment

    value = secret.value
    if looks_like_secret(None, value) is not None:
        shown = redact(value)
        return lambda text: text.replace(value, shown)
    assignment = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(secret.name)}={re.escape(value)}")
    shown = redact_assignment(secret.name, value)
    return lambda text: assignment.sub(lambda _: shown, text)


def _redacted_predicate(predicate: Any, predicate_type: str) -> tuple[Any, int]:
    """A copy of ``predicate`` with its secrets redacted, and how many strings were. A
    predicate that does not parse is swept by shape (:func:`_swept_secrets`), never printed
    unchecked."""
    try:
        secrets = _parsed_secrets(predicate, predicate_type)
    except ProvcheckError:
        secrets = _swept_secrets(predicate)
    if not secrets:
        return predicate, 0
    out = copy.deepcopy(predicate)
    for secret in secrets:
        _replace_at(out, secret.pointer, secret.shown)
    # Longest first, so that a secret containing another is replaced whole.
    ordered = sorted(secrets, key=lambda s: len(s.value), reverse=True)
    swept, copies = _sweep(out, [_copies(s) for s in ordered])
    return swept, len(secrets) + copies


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
