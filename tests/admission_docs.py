"""``AdmissionReview`` requests shaped as the API server (v1.30) sends them to a webhook.

Field for field as the API server builds them (``k8s.io/apiserver/pkg/admission/plugin/webhook/
request``): ``kind``/``resource`` and their ``request*`` twins, ``userInfo``, the typed
``options`` of the operation, ``object`` and ``oldObject`` (``null`` where the operation has
none), ``dryRun``; objects carry the metadata and defaults the API server fills in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

Doc = dict[str, Any]

_OPTIONS = {
    "CREATE": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl"},
    "UPDATE": {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl"},
    "DELETE": {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "propagationPolicy": "Background",
    },
}


def container(name: str, image: str) -> Doc:
    """A container as the API server stores it (defaults filled in)."""
    return {
        "name": name,
        "image": image,
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }


def pod_spec(images: Sequence[str], init_images: Sequence[str] = ()) -> Doc:
    """A Pod spec running ``images`` (after ``init_images``)."""
    spec: Doc = {
        "containers": [container(f"c{i}", image) for i, image in enumerate(images)],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "securityContext": {},
        "schedulerName": "default-scheduler",
    }
    if init_images:
        spec["initContainers"] = [container(f"init{i}", im) for i, im in enumerate(init_images)]
    return spec


def _metadata(name: str, namespace: str, **extra: Any) -> Doc:
    return {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid4()),
        "creationTimestamp": None,
        "labels": {"app": name},
        **extra,
    }


def pod(name: str, namespace: str, images: Sequence[str], init_images: Sequence[str] = ()) -> Doc:
    """A Pod object."""
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _metadata(name, namespace),
        "spec": pod_spec(images, init_images),
        "status": {},
    }


def deployment(name: str, namespace: str, images: Sequence[str], generation: int = 1) -> Doc:
    """An apps/v1 Deployment object."""
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": _metadata(name, namespace, generation=generation),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": name}},
                "spec": pod_spec(images),
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {},
    }


def cronjob(name: str, namespace: str, images: Sequence[str]) -> Doc:
    """A batch/v1 CronJob object."""
    template = {
        "metadata": {"creationTimestamp": None},
        "spec": {**pod_spec(images), "restartPolicy": "OnFailure"},
    }
    return {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "metadata": _metadata(name, namespace),
        "spec": {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "jobTemplate": {
                "metadata": {"creationTimestamp": None},
                "spec": {"template": template},
            },
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
        },
        "status": {},
    }


def review(
    *,
    group: str,
    version: str,
    kind: str,
    resource: str,
    operation: str,
    namespace: str,
    name: str,
    obj: Doc | None,
    old: Doc | None = None,
    sub_resource: str | None = None,
    dry_run: bool = False,
    uid: str | None = None,
) -> Doc:
    """An ``admission.k8s.io/v1`` ``AdmissionReview`` request."""
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    request: Doc = {
        "uid": uid or str(uuid.uuid4()),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {
            "username": "kubernetes-admin",
            "groups": ["system:masters", "system:authenticated"],
        },
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": _OPTIONS.get(operation),
    }
    if sub_resource is not None:
        request["subResource"] = sub_resource
        request["requestSubResource"] = sub_resource
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def pod_create(
    images: Sequence[str],
    *,
    namespace: str = "shop",
    init_images: Sequence[str] = (),
    dry_run: bool = False,
    name: str = "web",
) -> Doc:
    """``kubectl run``/``apply`` of a Pod."""
    obj = pod(name, namespace, images, init_images)
    return review(
        group="",
        version="v1",
        kind="Pod",
        resource="pods",
        operation="CREATE",
        namespace=namespace,
        name=name,
        obj=obj,
        dry_run=dry_run,
    )


def deployment_update(
    images: Sequence[str], old_images: Sequence[str], *, namespace: str = "shop"
) -> Doc:
    """``kubectl set image``: an UPDATE of a Deployment, its previous state in ``oldObject``."""
    return review(
        group="apps",
        version="v1",
        kind="Deployment",
        resource="deployments",
        operation="UPDATE",
        namespace=namespace,
        name="api",
        obj=deployment("api", namespace, images, generation=2),
        old=deployment("api", namespace, old_images, generation=1),
    )


def cronjob_create(images: Sequence[str], *, namespace: str = "shop") -> Doc:
    """The CREATE of a CronJob."""
    return review(
        group="batch",
        version="v1",
        kind="CronJob",
        resource="cronjobs",
        operation="CREATE",
        namespace=namespace,
        name="report",
        obj=cronjob("report", namespace, images),
    )


def ephemeral_debug(images: Sequence[str], debug_image: str, *, namespace: str = "shop") -> Doc:
    """``kubectl debug -it web --image=DEBUG``: an UPDATE of the ``pods/ephemeralcontainers``
    subresource whose object is the Pod with the new ephemeral container."""
    old = pod("web", namespace, images)
    new = json.loads(json.dumps(old))
    new["spec"]["ephemeralContainers"] = [
        {**container("debugger-x7k2p", debug_image), "stdin": True, "tty": True}
    ]
    return review(
        group="",
        version="v1",
        kind="Pod",
        resource="pods",
        operation="UPDATE",
        namespace=namespace,
        name="web",
        obj=new,
        old=old,
        sub_resource="ephemeralcontainers",
    )


def ephemeral_debug_before_1_23(debug_image: str, *, namespace: str = "shop") -> Doc:
    """The same before Kubernetes 1.23: the subresource took an ``EphemeralContainers`` object
    (only the ephemeral containers, at its top)."""

    def containers(with_debug: bool) -> Doc:
        return {
            "kind": "EphemeralContainers",
            "apiVersion": "v1",
            "metadata": _metadata("web", namespace),
            "ephemeralContainers": [container("debugger-x7k2p", debug_image)] if with_debug else [],
        }

    doc = review(
        group="",
        version="v1",
        kind="EphemeralContainers",
        resource="pods",
        operation="UPDATE",
        namespace=namespace,
        name="web",
        obj=containers(True),
        old=containers(False),
        sub_resource="ephemeralcontainers",
    )
    return doc


def pod_delete(images: Sequence[str], *, namespace: str = "shop") -> Doc:
    """``kubectl delete pod``: no ``object``, the Pod in ``oldObject``."""
    return review(
        group="",
        version="v1",
        kind="Pod",
        resource="pods",
        operation="DELETE",
        namespace=namespace,
        name="web",
        obj=None,
        old=pod("web", namespace, images),
    )


def body(doc: Doc) -> bytes:
    """``doc`` as the API server sends it (compact JSON)."""
    return json.dumps(doc, separators=(",", ":")).encode()
