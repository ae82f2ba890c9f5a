"""Reading an ``admission.k8s.io/v1`` ``AdmissionReview`` request strictly, and what it asks.

Only the fields the gate acts on are checked and kept; the rest is tolerated (the API server
adds fields over time). The images come from ``request.object`` only: an ``UPDATE`` is judged
by the object it would leave, never by ``oldObject``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from provcheck._internal.jsonload import load_json_object
from provcheck.audit.workloads import WORKLOAD_KINDS, ContainerImage, images_of
from provcheck.errors import AdmissionRequestError

API_VERSION: Final = "admission.k8s.io/v1"
KIND: Final = "AdmissionReview"
MAX_REVIEW_BYTES: Final = 3 * 1024 * 1024
"""The API server's cap on a request body (3 MiB)."""
EVALUATED_SUBRESOURCES: Final = frozenset({"", "ephemeralcontainers"})
"""Subresources whose object carries images the kubelet would run (``pods/status``,
``pods/binding`` and the like change no image)."""
_MAX_UID: Final = 128


class Operation(StrEnum):
    """``request.operation``."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """The parts of ``request`` the gate reads. ``kind`` is ``request.kind.kind`` (the kind the
    object is evaluated as); ``images`` is empty when there is nothing to verify."""

    uid: str
    kind: str
    operation: Operation
    namespace: str | None
    name: str | None
    sub_resource: str
    dry_run: bool
    images: tuple[ContainerImage, ...]


def _string(value: object, where: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise AdmissionRequestError(f"{where} must be a non-empty string")
    return value


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AdmissionRequestError(f"{where} must be an object")
    return value


def parse_review(body: bytes) -> AdmissionRequest:
    """Read ``body`` as an ``AdmissionReview`` request.

    Raises :class:`AdmissionRequestError` for a body over :data:`MAX_REVIEW_BYTES`, that is
    not strict JSON, not an ``admission.k8s.io/v1`` ``AdmissionReview``, has no ``request``,
    no ``request.uid``, no ``request.kind.kind``, an unknown operation, or (for ``CREATE`` and
    ``UPDATE`` of a kind with Pod templates) no ``request.object``.
    """
    if len(body) > MAX_REVIEW_BYTES:
        raise AdmissionRequestError(
            f"the AdmissionReview is larger than {MAX_REVIEW_BYTES} bytes (the API server's cap)"
        )
    doc = load_json_object(body, "the AdmissionReview", AdmissionRequestError)
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != KIND:
        raise AdmissionRequestError(
            f"not an {API_VERSION} {KIND} (apiVersion {str(doc.get('apiVersion'))[:60]!r}, "
            f"kind {str(doc.get('kind'))[:60]!r})"
        )
    request = _object(doc.get("request"), "request")
    uid = _string(request.get("uid"), "request.uid", required=True)
    assert uid is not None
    if len(uid) > _MAX_UID:
        raise AdmissionRequestError(f"request.uid is longer than {_MAX_UID} characters")
    kind_of = _object(request.get("kind"), "request.kind").get("kind")
    kind = _string(kind_of, "request.kind.kind", required=True)
    assert kind is not None
    op = request.get("operation")
    try:
        operation = Operation(op if isinstance(op, str) else "")
    except ValueError as exc:
        raise AdmissionRequestError(f"request.operation {str(op)[:40]!r} is unknown") from exc
    dry_run = request.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise AdmissionRequestError("request.dryRun must be a boolean")
    sub_resource = _string(request.get("subResource"), "request.subResource") or ""
    images: tuple[ContainerImage, ...] = ()
    evaluated = (
        operation in (Operation.CREATE, Operation.UPDATE)
        and kind in WORKLOAD_KINDS
        and sub_resource in EVALUATED_SUBRESOURCES
    )
    if evaluated:
        images = tuple(images_of(_object(request.get("object"), "request.object"), kind))
    return AdmissionRequest(
        uid=uid,
        kind=kind,
        operation=operation,
        namespace=_string(request.get("namespace"), "request.namespace"),
        name=_string(request.get("name"), "request.name"),
        sub_resource=sub_resource,
        dry_run=dry_run,
        images=images,
    )
