"""deploy/audit-job.yaml, the README's sharded audit: the README shows it verbatim, kubectl
reads it offline as typed Kubernetes objects, and `provcheck audit --from` finds its image.

``kubectl apply --dry-run=client`` needs a cluster (it downloads the OpenAPI schema and the API
groups), so the checks use kubectl's ``--local`` commands, which need none: ``label --local``
decodes every document (known apiVersion/kind, valid YAML), ``set image --local`` decodes
each Job into kubectl's Go types (a field of the wrong type is an error), and the Job that comes
back must still hold every field of the file (a misspelt field is dropped by that decoding)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from provcheck.audit.inputs import read_inputs
from provcheck.cli import main
from tests.integration.test_verify_cli import POLICY
from tests.paths import REPO_ROOT
from tests.registry import RealRegistry

MANIFEST = REPO_ROOT / "deploy" / "audit-job.yaml"
IMAGE = "ghcr.io/example/provcheck:0.1.0"
OTHER = "other.invalid/provcheck:1"  # set image prints nothing when nothing changes


def _kubectl() -> str:
    found = shutil.which("kubectl")
    if found:
        return found
    message = "kubectl not found (apt-get install kubernetes-client)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _run(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KUBECONFIG": os.devnull}
    return subprocess.run(
        [_kubectl(), *args], input=stdin, capture_output=True, text=True, timeout=60, env=env
    )


def _documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc is not None]


def _decode(job: Any) -> subprocess.CompletedProcess[str]:
    """``kubectl set image --local``: decodes the Job into kubectl's Go types and prints it back
    (the image swapped for OTHER), with no cluster."""
    args = ("set", "image", "--local", "--dry-run=client", "-o", "json", "-f", "-", f"*={OTHER}")
    return _run(*args, stdin=json.dumps(job))


def _missing(given: Any, decoded: Any, where: str = "") -> Iterator[str]:
    """The paths of ``given`` that ``decoded`` does not hold (defaults added are fine)."""
    if isinstance(given, dict):
        for key, value in given.items():
            if not isinstance(decoded, dict) or key not in decoded:
                yield f"{where}/{key}"
            else:
                yield from _missing(value, decoded[key], f"{where}/{key}")
    elif isinstance(given, list):
        if not isinstance(decoded, list) or len(decoded) != len(given):
            yield where
        else:
            for index, (one, other) in enumerate(zip(given, decoded, strict=True)):
                yield from _missing(one, other, f"{where}/{index}")
    elif str(given) != str(decoded):
        yield f"{where}: {given!r} became {decoded!r}"


def test_the_readme_shows_the_manifest_verbatim() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert MANIFEST.read_text() in blocks
    assert "deploy/audit-job.yaml" in readme


def test_kubectl_reads_every_document_offline() -> None:
    result = _run(
        "label",
        "--local",
        "--dry-run=client",
        "-o",
        "name",
        "-f",
        "-",
        "x=y",
        stdin=MANIFEST.read_text(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "configmap/provcheck-audit",
        "persistentvolumeclaim/provcheck-audit-out",
        "job.batch/provcheck-audit",
        "job.batch/provcheck-audit-merge",
    ]


def test_kubectl_decodes_each_job_into_its_types_without_losing_a_field() -> None:
    jobs = [doc for doc in _documents() if doc["kind"] == "Job"]
    assert len(jobs) == 2
    for job in jobs:
        result = _decode(job)
        assert result.returncode == 0, result.stderr
        assert list(_missing(job, json.loads(result.stdout.replace(OTHER, IMAGE)))) == []


def test_the_check_catches_a_misspelt_and_a_mistyped_field() -> None:
    (job, _) = [doc for doc in _documents() if doc["kind"] == "Job"]
    job["spec"]["completionModee"] = job["spec"].pop("completionMode")
    result = _decode(job)
    assert result.returncode == 0
    assert list(_missing(job, json.loads(result.stdout.replace(OTHER, IMAGE)))) == [
        "/spec/completionModee"
    ]
    job["spec"]["template"]["spec"]["containers"][0]["args"] = "audit"
    result = _decode(job)
    assert result.returncode != 0
    assert "cannot unmarshal string" in result.stderr


def test_the_shards_are_an_indexed_job_sharing_one_redis_cache() -> None:
    (shards, merge) = [doc for doc in _documents() if doc["kind"] == "Job"]
    spec = shards["spec"]
    assert spec["completionMode"] == "Indexed"
    count = spec["completions"]
    (audit,) = spec["template"]["spec"]["containers"]
    assert f"--shard=$(JOB_COMPLETION_INDEX)/{count}" in audit["args"]
    assert any(arg.startswith("--cache=redis://") for arg in audit["args"])
    env = {item["name"]: item for item in audit["env"]}
    assert env["PROVCHECK_CACHE_HMAC_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "hmac-key"
    assert env["DOCKER_CONFIG"]["value"] == "/etc/provcheck/docker"
    (merger,) = merge["spec"]["template"]["spec"]["containers"]
    assert merger["args"][:2] == ["audit", "merge"]
    assert [a for a in merger["args"] if a.endswith(".jsonl")] == [
        f"/out/shard-{k}.jsonl" for k in range(count)
    ]


def test_audit_from_the_manifest_finds_the_jobs_image(
    real_registry: RealRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the shard pods, the merge Job's init container and its container
    assert read_inputs(str(MANIFEST)) == [IMAGE] * 3
    # the same manifest with the image in the test registry, audited through the CLI
    ref = real_registry.ref("b-multi-max")
    manifest = tmp_path / "audit-job.yaml"
    manifest.write_text(MANIFEST.read_text().replace(IMAGE, ref))
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    code = main(["audit", "--policy", str(policy), "--from", str(manifest), "--format", "jsonl"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["subject"]["reference"] for r in records] == [ref] * 3
    digest = real_registry.root_digest("b-multi-max")
    assert [r["subject"]["digest"] for r in records] == [digest] * 3
    assert code in (0, 1)
