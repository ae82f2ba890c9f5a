"""Audit inputs: lists and Kubernetes YAML (Deployments, CronJobs, Lists, Helm output), by
content, with file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from provcheck.audit.inputs import read_inputs
from provcheck.errors import UsageError

DIGEST = "sha256:" + "b" * 64

HELM = f"""\
---
# Source: shop/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
# Source: shop/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  ports:
    - port: 80
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels:
    helm.sh/chart: shop-0.3.1
    app.kubernetes.io/managed-by: Helm
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: shop
  template:
    metadata:
      labels:
        app.kubernetes.io/name: shop
    spec:
      serviceAccountName: shop
      initContainers:
        - name: wait-db
          image: "registry.example/tools/wait-for:1.0"
          args: ["db:5432"]
      containers:
        - name: shop
          image: "registry.example/shop/app:0.3.1"
          imagePullPolicy: IfNotPresent
---
# Source: shop/templates/cronjob.yaml
apiVersion: batch/v1
kind: CronJob
metadata:
  name: shop-cleanup
spec:
  schedule: "*/30 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: cleanup
              image: registry.example/shop/cleanup@{DIGEST}
---
# Source: shop/templates/tests/empty.yaml
"""

LIST = """\
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent}
    spec:
      selector: {matchLabels: {app: agent}}
      template:
        metadata: {labels: {app: agent}}
        spec:
          containers: [{name: agent, image: "registry.example/obs/agent:3"}]
  - apiVersion: v1
    kind: PodList
    items:
      - apiVersion: v1
        kind: Pod
        metadata: {name: one}
        spec:
          containers: [{name: a, image: "registry.example/a:1"}]
"""


def _file(tmp_path: Path, text: str, name: str = "input") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_plain_list_with_comments_and_blank_lines(tmp_path: Path) -> None:
    text = f"# the fleet\n\nregistry.example/a:1\n  registry.example/b@{DIGEST}  # pinned\n"
    assert read_inputs(_file(tmp_path, text)) == [
        "registry.example/a:1",
        f"registry.example/b@{DIGEST}",
    ]


def test_helm_output_gives_the_workload_images_in_document_order(tmp_path: Path) -> None:
    assert read_inputs(_file(tmp_path, HELM, "rendered.yaml")) == [
        "registry.example/tools/wait-for:1.0",
        "registry.example/shop/app:0.3.1",
        f"registry.example/shop/cleanup@{DIGEST}",
    ]


def test_a_list_kind_and_nested_lists(tmp_path: Path) -> None:
    assert read_inputs(_file(tmp_path, LIST)) == [
        "registry.example/obs/agent:3",
        "registry.example/a:1",
    ]


def test_kubectl_json_output(tmp_path: Path) -> None:
    import json

    pods = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "kind": "Pod",
                "spec": {"containers": [{"name": "a", "image": "registry.example/a:1"}]},
            },
            {
                "kind": "Pod",
                "spec": {"containers": [{"name": "b", "image": "registry.example/b:2"}]},
            },
        ],
    }
    text = json.dumps(pods, indent=4)
    assert read_inputs(_file(tmp_path, text)) == ["registry.example/a:1", "registry.example/b:2"]


def test_stdin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io
    import sys

    stream = io.TextIOWrapper(io.BytesIO(b"registry.example/a:1\n"))
    monkeypatch.setattr(sys, "stdin", stream)
    assert read_inputs("-") == ["registry.example/a:1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("registry.example/a:1\nnot a reference\n", "input:2: one reference a line"),
        ("registry.example/a:1\nUPPER/Case:1\n", "input:2: invalid reference"),
        ("kind: Pod\nkind: Pod\n", "input:2: duplicate key 'kind'"),
        ("kind: Pod\nspec: {containers: [{image: 'x:1'}\n", "input:3: invalid YAML"),
        (
            "kind: Pod\nspec:\n  containers:\n    - image: 'Bad Image'\n",
            "input:4: invalid reference",
        ),
        ("---\n- a\n- b\n", "input:2: a YAML document that is not a Kubernetes object"),
        ("a: &x [1]\nb: *x\n", "input:1: YAML anchors and aliases are not allowed"),
        ("# nothing\n\n", "input: no image references in it"),
        ("kind: ConfigMap\ndata: {a: b}\n", "input: no image references in it"),
    ],
)
def test_mistakes_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        read_inputs(path)
    assert caught.value.diagnostics().startswith(f"{tmp_path}/{message}")


def test_an_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("provcheck.audit.inputs.MAX_INPUT_BYTES", 10)
    with pytest.raises(UsageError, match="larger than 10 bytes"):
        read_inputs(_file(tmp_path, "registry.example/a:1\n"))
