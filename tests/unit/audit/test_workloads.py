"""The images of Kubernetes objects, with the JSON pointer a JSONPatch replaces."""

from __future__ import annotations

from typing import Any

import yaml

from provcheck.audit.workloads import ContainerImage, images_of

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers:
        - name: migrate
          image: registry.example/shop/migrate:2.1
      containers:
        - name: web
          image: registry.example/shop/web:1.4@sha256:%s
          ports: [{containerPort: 8080}]
        - name: sidecar
          image: registry.example/mesh/proxy:1.20
""" % ("a" * 64)

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: registry.example/ops/report:7
"""


def _load(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def test_a_deployment_lists_init_containers_first_with_their_pointers() -> None:
    assert images_of(_load(DEPLOYMENT)) == [
        ContainerImage(
            "/spec/template/spec/initContainers/0/image", "registry.example/shop/migrate:2.1"
        ),
        ContainerImage(
            "/spec/template/spec/containers/0/image",
            "registry.example/shop/web:1.4@sha256:" + "a" * 64,
        ),
        ContainerImage(
            "/spec/template/spec/containers/1/image", "registry.example/mesh/proxy:1.20"
        ),
    ]


def test_a_cronjob_reads_the_job_template() -> None:
    assert images_of(_load(CRONJOB)) == [
        ContainerImage(
            "/spec/jobTemplate/spec/template/spec/containers/0/image",
            "registry.example/ops/report:7",
        )
    ]


def test_a_pod_with_ephemeral_containers() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "containers": [{"name": "app", "image": "app:1"}],
            "ephemeralContainers": [{"name": "debugger", "image": "busybox:1.36"}],
        },
    }
    assert images_of(pod) == [
        ContainerImage("/spec/containers/0/image", "app:1"),
        ContainerImage("/spec/ephemeralContainers/0/image", "busybox:1.36"),
    ]


def test_every_kind_with_a_pod_template() -> None:
    for kind in ("StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        obj = {"kind": kind, "spec": {"template": {"spec": {"containers": [{"image": "x:1"}]}}}}
        assert images_of(obj) == [ContainerImage("/spec/template/spec/containers/0/image", "x:1")]


def test_kinds_without_pods_and_odd_shapes_give_nothing() -> None:
    assert images_of({"kind": "Service", "spec": {"containers": [{"image": "x:1"}]}}) == []
    assert images_of({"kind": "ConfigMap", "data": {"image": "x:1"}}) == []
    assert images_of({"kind": "Pod"}) == []
    assert images_of({"kind": "Pod", "spec": "nonsense"}) == []
    assert (
        images_of(
            {"kind": "Pod", "spec": {"containers": [{"name": "no-image"}, "x", {"image": 3}]}}
        )
        == []
    )


def test_replication_controllers_and_pre_1_23_ephemeral_containers_have_images() -> None:
    rc: dict[str, Any] = {
        "kind": "ReplicationController",
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x/rc:1"}]}}},
    }
    assert images_of(rc) == [ContainerImage("/spec/template/spec/containers/0/image", "x/rc:1")]
    old: dict[str, Any] = {
        "kind": "EphemeralContainers",
        "ephemeralContainers": [{"name": "debugger", "image": "x/debug:1"}],
    }
    assert images_of(old) == [ContainerImage("/ephemeralContainers/0/image", "x/debug:1")]


def test_the_kind_given_decides_where_the_pod_spec_is() -> None:
    pod: dict[str, Any] = {"spec": {"containers": [{"name": "a", "image": "x/a:1"}]}}
    assert images_of(pod) == []  # no kind in the object
    assert images_of(pod, "Pod") == [ContainerImage("/spec/containers/0/image", "x/a:1")]
    assert images_of({**pod, "kind": "Pod"}, "ConfigMap") == []
