"""deploy/audit-job.yaml, the README's sharded audit: the README shows it verbatim, kubectl
reads it offline as typed Kubernetes objects (tests/kubectl.py: ``kubectl apply --dry-run``
needs a cluster), and `provcheck audit --from` finds its image."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from provcheck.audit.inputs import read_inputs
from provcheck.cli import main
from tests.integration.test_verify_cli import POLICY
from tests.kubectl import OTHER, decode, local_names, missing
from tests.paths import REPO_ROOT
from tests.registry import RealRegistry

MANIFEST = REPO_ROOT / "deploy" / "audit-job.yaml"
IMAGE = "ghcr.io/example/provcheck:0.1.0"


def _documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc is not None]


def _decoded(job: Any) -> Any:
    return json.loads(decode(job).stdout.replace(OTHER, IMAGE))


def test_the_readme_shows_the_manifest_verbatim() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert MANIFEST.read_text() in blocks
    assert "deploy/audit-job.yaml" in readme


def test_kubectl_reads_every_document_offline() -> None:
    result = local_names(MANIFEST.read_text())
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
        result = decode(job)
        assert result.returncode == 0, result.stderr
        assert list(missing(job, _decoded(job))) == []


def test_the_check_catches_a_misspelt_and_a_mistyped_field() -> None:
    (job, _) = [doc for doc in _documents() if doc["kind"] == "Job"]
    job["spec"]["completionModee"] = job["spec"].pop("completionMode")
    assert decode(job).returncode == 0
    assert list(missing(job, _decoded(job))) == ["/spec/completionModee"]
    job["spec"]["template"]["spec"]["containers"][0]["args"] = "audit"
    result = decode(job)
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
