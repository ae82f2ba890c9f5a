"""The container images of a Kubernetes object, with the JSON pointer of each image field.

Pods and the Pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
CronJobs; every ``containers``, ``initContainers`` and ``ephemeralContainers`` entry. The
pointer (RFC 6901) is what a mutating webhook's JSONPatch replaces to pin the image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

CONTAINER_FIELDS: Final = ("initContainers", "containers", "ephemeralContainers")
"""The lists of containers of a Pod spec, in the order the kubelet starts them."""

_POD_SPEC_PATHS: Final[dict[str, tuple[str, ...]]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "EphemeralContainers": (),
}
"""Where each kind keeps its Pod spec (``EphemeralContainers``, what the
``pods/ephemeralcontainers`` subresource took before Kubernetes 1.23, keeps its
``ephemeralContainers`` at the top)."""

WORKLOAD_KINDS: Final = frozenset(_POD_SPEC_PATHS)


@dataclass(frozen=True, slots=True)
class ContainerImage:
    """One image field: ``path`` is its JSON pointer in the object, ``image`` its value."""

    path: str
    image: str


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def images_of(obj: Mapping[str, Any], kind: str | None = None) -> list[ContainerImage]:
    """The images of ``obj`` in document order (init containers first); ``[]`` for a kind
    without a Pod spec. ``kind`` (default: the object's own ``kind``) says where the Pod spec
    is: an admission webhook takes it from the request, not from the object. Entries that are
    not containers with a string ``image`` are left out (the API server would refuse them;
    this reads, it does not validate)."""
    path = _POD_SPEC_PATHS.get(str(obj.get("kind")) if kind is None else kind)
    if path is None:
        return []
    spec: Any = obj
    for key in path:
        spec = spec.get(key) if isinstance(spec, Mapping) else None
    if not isinstance(spec, Mapping):
        return []
    prefix = "".join(f"/{_escape(key)}" for key in path)
    found: list[ContainerImage] = []
    for field in CONTAINER_FIELDS:
        containers = spec.get(field)
        if not isinstance(containers, list):
            continue
        for index, container in enumerate(containers):
            image = container.get("image") if isinstance(container, Mapping) else None
            if isinstance(image, str):
                found.append(ContainerImage(f"{prefix}/{field}/{index}/image", image))
    return found
