"""`provcheck audit` end to end through the real CLI and the real registry: a mixed fleet of
the real cases, a 404, an unreachable port, a hanging server and a tampered image; order,
one result per input, duplicates verified once, exit codes, shards + merge, Kubernetes YAML."""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provcheck.cli import main
from provcheck.report.json import parse_report
from tests.conftest import require_docker_registry
from tests.integration.test_verify_cli import EXPECTED, POLICY
from tests.oci_push import push_layout
from tests.paths import REAL_CASES, REAL_DIR
from tests.registry import RealRegistry, RegistryServer

AMD64_PROVENANCE = "sha256:d262cca6729f52fc1ccb0cd76bc6bac2836067ab3c40e2059702915b124c5e57"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture(scope="module")
def tampered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A reference whose amd64 provenance layer no longer matches its digest (in a registry
    of its own: tampering a blob changes it in every repository)."""
    require_docker_registry()
    with RegistryServer(tmp_path_factory.mktemp("tampered-registry")) as server:
        push_layout(server.url, REAL_DIR / "b-multi-max" / "oci-layout", "lab/tampered")
        data = bytearray(server.blob_data_path(AMD64_PROVENANCE).read_bytes())
        data[100] ^= 0x01
        server.tamper_blob(AMD64_PROVENANCE, bytes(data))
        yield f"{server.host}/lab/tampered:1"


@pytest.fixture(scope="module")
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def hanging_port() -> Iterator[int]:
    """A server that accepts connections (the kernel does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def _audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def _verdict(case: str) -> str:
    return "pass" if EXPECTED[case][0] == 0 else "fail"


def test_a_mixed_fleet_gets_one_result_per_reference_in_order(
    real_registry: RealRegistry,
    tampered: str,
    closed_port: int,
    hanging_port: int,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # b-multi-max is the tampered one: verified (genuine) bytes of the same digest from another
    # registry would rightly be read from the run's content store instead
    cases = [case for case in REAL_CASES if case != "b-multi-max"]
    pinned = f"{real_registry.host}/{real_registry.repositories['g-sbom-generator']}@" + (
        real_registry.root_digest("g-sbom-generator")
    )
    broken = {
        f"{real_registry.host}/lab/no-such-image:1": "not found",
        f"127.0.0.1:{closed_port}/lab/app:1": "ConnectError",
        f"127.0.0.1:{hanging_port}/lab/app:1": "deadline",
        tampered: "did not match its digest",
    }
    fleet = [real_registry.ref(case) for case in cases]
    fleet[3:3] = list(broken)  # broken ones in the middle: the rest goes on, in order
    fleet += [real_registry.ref("g-sbom-generator"), pinned, real_registry.ref("a-single-min")]
    code, out, err = _audit(
        capsys,
        "--policy",
        str(policy),
        "--format",
        "jsonl",
        "--timeout",
        "3",
        "--jobs",
        "4",
        *fleet,
    )
    assert code == 3, err
    records = _lines(out)
    assert [r["subject"]["reference"] for r in records] == fleet
    expected = {real_registry.ref(case): _verdict(case) for case in cases}
    for record in records:
        ref = record["subject"]["reference"]
        if ref == tampered:  # a digest was resolved: the bad layer is an error result
            assert record["verdict"] == "error"
            assert record["subject"]["digest"].startswith("sha256:")
            assert any(broken[ref] in r["message"] for r in record["results"])
        elif ref in broken:
            assert record["verdict"] == "error"
            assert record["subject"]["digest"] is None
            assert broken[ref] in record["error"], record["error"]
            assert parse_report(json.dumps(record)).digest == ""
        elif ref == pinned:
            assert record["verdict"] == "pass"
            assert record["subject"]["digest"] == real_registry.root_digest("g-sbom-generator")
        else:
            assert record["verdict"] == expected[ref], ref
            case = next(c for c in cases if real_registry.ref(c) == ref)
            assert record["subject"]["digest"] == real_registry.root_digest(case)
    assert "provcheck: 17 images: 6 pass, 7 fail, 4 error" in err


def test_copies_of_an_image_are_verified_once(
    real_registry: RealRegistry, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Within one uncached run (a cache would answer the later runs)."""
    server = real_registry.server
    ref = real_registry.ref("g-sbom-generator")
    pinned = f"{real_registry.host}/{real_registry.repositories['g-sbom-generator']}@" + (
        real_registry.root_digest("g-sbom-generator")
    )
    mark = server.mark()
    assert _audit(capsys, "--policy", str(policy), "--cache", "none", ref)[0] == 0
    once = len(server.requests_since(mark))
    mark = server.mark()
    assert _audit(capsys, "--policy", str(policy), "--cache", "none", ref, ref, ref)[0] == 0
    assert len(server.requests_since(mark)) == once > 0
    # the pinned spelling is verified apart (pinning can change a verdict), from the content
    # the tag's verification stored; only its root manifest is fetched again, by digest (the
    # client never stores a tag's answer)
    mark = server.mark()
    code, out, _ = _audit(
        capsys,
        "--policy",
        str(policy),
        "--cache",
        "none",
        "--jobs",
        "1",
        ref,
        ref,
        pinned,
        ref,
        pinned,
    )
    assert code == 0
    again = [entry.path for entry in server.requests_since(mark)][once:]
    assert again == [
        f"/v2/{real_registry.repositories['g-sbom-generator']}/manifests/{pinned.split('@')[1]}"
    ]
    rows = out.splitlines()[1:-1]
    assert [row.split()[-1] for row in rows] == [ref, ref, pinned, ref, pinned]
    assert out.splitlines()[-1] == "5 images: 5 pass, 0 fail, 0 error"


def test_the_exit_code_is_the_worst_verdict(
    real_registry: RealRegistry, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passing, failing = real_registry.ref("b-multi-max"), real_registry.ref("c-secrets-max")
    missing = f"{real_registry.host}/lab/no-such-image:1"
    assert _audit(capsys, "--policy", str(policy), passing)[0] == 0
    assert _audit(capsys, "--policy", str(policy), passing, failing)[0] == 1
    code, out, _ = _audit(capsys, "--policy", str(policy), missing, passing, failing)
    assert code == 3
    first, second, third = out.splitlines()[1:4]
    assert first.startswith("ERROR   -") and "not found" in first
    assert second.startswith("PASS    sha256:")
    assert third.startswith("FAIL    sha256:") and "(not passed: build-args)" in third


def test_two_shards_merged_are_the_unsharded_run(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = [real_registry.ref(case) for case in REAL_CASES]
    fleet += [f"{real_registry.host}/lab/no-such-image:1", fleet[0]]
    (tmp_path / "fleet.txt").write_text("# the fleet\n" + "\n".join(fleet) + "\n")
    base = ["--policy", str(policy), "--from", str(tmp_path / "fleet.txt"), "--format", "jsonl"]
    whole = tmp_path / "whole.jsonl"
    assert _audit(capsys, *base, "--output", str(whole))[0] == 3
    shards = [tmp_path / f"shard{k}.jsonl" for k in range(2)]
    for k, shard in enumerate(shards):
        _audit(capsys, *base, "--shard", f"{k}/2", "--output", str(shard))
    assert all(shard.read_text() for shard in shards)  # both shards got work
    merged = tmp_path / "merged.jsonl"
    code, _, err = _audit(
        capsys, "merge", *map(str, shards), "--format", "jsonl", "--output", str(merged)
    )
    assert code == 3, err
    # the unsharded run, line by line and byte for byte, although the shards interleave
    from provcheck.audit.shard import shard_of

    assert [shard_of(ref, 2) for ref in fleet] != sorted(shard_of(ref, 2) for ref in fleet)
    assert merged.read_text().splitlines() == whole.read_text().splitlines()
    assert merged.read_bytes() == whole.read_bytes()
    # every record says where its input stood, in each shard and in the whole run
    assert [r["inputIndex"] for r in _lines(whole.read_text())] == list(range(len(fleet)))
    for k, shard in enumerate(shards):
        held = [i for i, ref in enumerate(fleet) if shard_of(ref, 2) == k]
        assert [r["inputIndex"] for r in _lines(shard.read_text())] == held
    # the shards given in the other order merge the same
    assert _audit(capsys, "merge", str(shards[1]), str(shards[0]), "--format", "jsonl")[1] == (
        whole.read_text()
    )
    # and merge renders any format, with the exit code of the merged results
    code, out, _ = _audit(capsys, "merge", str(whole))
    assert code == 3 and out.splitlines()[-1] == f"{len(fleet)} images: 5 pass, 7 fail, 1 error"
    assert _audit(capsys, "merge", str(shards[0]), "--format", "text")[0] in (1, 3)


def test_merge_refuses_malformed_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    assert main(["audit", "--policy", "/nonexistent"]) == 2
    capsys.readouterr()
    good.write_text("")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"schemaVersion": "provcheck.report/v1"}\n')
    code, out, err = _audit(capsys, "merge", str(good), str(bad))
    assert code == 2 and out == ""
    assert f"provcheck: error: {bad}:1: report" in err
    bad.write_text("not json\n")
    code, _, err = _audit(capsys, "merge", str(bad))
    assert code == 2 and f"{bad}:1:" in err
    code, _, err = _audit(capsys, "merge", str(bad), "--policy", "p.yaml")
    assert code == 2 and "--policy cannot be used with merge" in err


def _k8s(ref: dict[str, str]) -> str:
    return f"""\
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {{app: shop}}
  template:
    metadata:
      labels: {{app: shop}}
    spec:
      initContainers:
        - name: migrate
          image: "{ref["c-secrets-max"]}"
          command: ["/migrate"]
      containers:
        - name: shop
          image: {ref["b-multi-max"]}
          ports:
            - containerPort: 8080
---
# Source: shop/templates/cronjob.yaml
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: {ref["i-cosign"]}
---
apiVersion: v1
kind: Service
metadata: {{name: shop}}
spec:
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {{name: agent}}
    spec:
      selector: {{matchLabels: {{app: agent}}}}
      template:
        metadata: {{labels: {{app: agent}}}}
        spec:
          containers:
            - {{name: agent, image: "{ref["b-multi-max"]}"}}
  - apiVersion: v1
    kind: Pod
    metadata: {{name: debug}}
    spec:
      containers: [{{name: app, image: "{ref["e3-syntax-evil"]}"}}]
      ephemeralContainers: [{{name: dbg, image: "{ref["d-secret-mount"]}"}}]
"""


def test_kubernetes_yaml_from_a_file_and_stdin(
    real_registry: RealRegistry,
    policy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = {case: real_registry.ref(case) for case in REAL_CASES}
    manifests = tmp_path / "rendered.yaml"
    manifests.write_text(_k8s(ref))
    order = [
        "c-secrets-max",
        "b-multi-max",
        "i-cosign",
        "b-multi-max",
        "e3-syntax-evil",
        "d-secret-mount",
    ]
    code, out, _ = _audit(
        capsys, "--policy", str(policy), "--from", str(manifests), "--format", "jsonl"
    )
    assert code == 1
    records = _lines(out)
    assert [r["subject"]["reference"] for r in records] == [ref[c] for c in order]
    assert [r["verdict"] for r in records] == [_verdict(c) for c in order]
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(manifests.read_bytes())))
    code, stdin_out, _ = _audit(capsys, "--policy", str(policy), "--from", "-", "--format", "jsonl")
    assert (code, stdin_out) == (1, out)


def test_a_bad_input_file_is_a_usage_error_with_its_line(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\nspec:\n  containers:\n    - image: x:1\n  containers: []\n")
    code, out, err = _audit(capsys, "--policy", str(policy), "--from", str(bad))
    assert (code, out) == (2, "")
    assert (
        err == f"provcheck: error: {bad}:5: duplicate key 'containers' (first defined on line 3)\n"
    )


def test_csv_sarif_and_junit_have_one_entry_per_image(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = [real_registry.ref("b-multi-max"), real_registry.ref("c-secrets-max")]
    fleet.append(f"{real_registry.host}/lab/no-such-image:1")
    args = ["--policy", str(policy), *fleet]
    code, out, _ = _audit(capsys, *args, "--format", "csv")
    assert code == 3
    import csv

    rows = list(csv.reader(out.splitlines()))
    assert rows[0][:3] == ["reference", "digest", "verdict"]
    assert [row[0] for row in rows[1:]] == fleet
    assert [row[2] for row in rows[1:]] == ["pass", "fail", "error"]
    assert rows[2][-2] == "build-args" and "not found" in rows[3][-1]
    out_file = tmp_path / "audit.sarif"
    assert _audit(capsys, *args, "--format", "sarif", "--output", str(out_file))[0] == 3
    runs = json.loads(out_file.read_text())["runs"]
    assert [run["properties"]["reference"] for run in runs] == fleet
    assert [run["properties"]["verdict"] for run in runs] == ["pass", "fail", "error"]
    assert runs[2]["invocations"][0]["executionSuccessful"] is False
    _, out, _ = _audit(capsys, *args, "--format", "junit")
    suites = ET.fromstring(out).findall("testsuite")
    assert [suite.get("name") for suite in suites] == fleet
    assert [suite.get("errors") for suite in suites] == ["0", "0", "1"]


def test_an_output_file_is_replaced_only_by_a_finished_run(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = tmp_path / "shard.jsonl"
    ref = real_registry.ref("b-multi-max")
    assert (
        _audit(capsys, "--policy", str(policy), ref, "--format", "jsonl", "--output", str(shard))[0]
        == 0
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")
    report = tmp_path / "report.csv"
    report.write_text("the previous report\n")
    code, out, err = _audit(
        capsys, "merge", str(shard), str(bad), "--format", "csv", "--output", str(report)
    )
    assert (code, out) == (2, "") and f"{bad}:1:" in err
    assert report.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.jsonl",
        "policy.yaml",
        "report.csv",
        "shard.jsonl",
    ]
    assert _audit(capsys, "merge", str(shard), "--format", "csv", "--output", str(report))[0] == 0
    assert report.read_text().splitlines()[1].startswith(f"{ref},sha256:")


def test_markdown_summarises_a_fleet_for_an_auditor(
    real_registry: RealRegistry, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = [real_registry.ref("b-multi-max"), real_registry.ref("c-secrets-max")]
    fleet += [f"{real_registry.host}/lab/no-such-image:1", real_registry.ref("c-secrets-max")]
    code, out, err = _audit(capsys, "--policy", str(policy), "--format", "markdown", *fleet)
    assert code == 3, err
    rows = [line for line in out.splitlines() if line.startswith("| ") and "/lab/" in line]
    assert [row.split(" | ")[3] for row in rows] == [
        "**pass**",
        "**fail**",
        "**error**",
        "**fail**",
    ]
    assert "4 images: 1 pass, 2 fail, 1 error" in out
    failing = out.split("## Failing rules")[1].split("## Errors")[0]
    assert failing.count("### build\\-args (2 images)") == 1
    assert "**Remediation:** " in failing
    assert "no\\-such\\-image:1: " in out.split("## Errors")[1]


def test_since_lists_what_changed_since_a_previous_audit(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c, d = (
        real_registry.ref(case)
        for case in ("b-multi-max", "c-secrets-max", "g-sbom-generator", "a-single-min")
    )
    other = real_registry.ref("i-cosign")  # passes too, another digest
    _, out, _ = _audit(capsys, "--policy", str(policy), "--format", "jsonl", a, b, other)
    now = {r["subject"]["reference"]: r for r in _lines(out)}
    # the previous audit: a failed (then fixed), b passed (now failing), c had other's digest,
    # d was not audited (new), and an image no longer audited (gone)
    previous = {a: now[b], b: now[a], c: now[other], "registry.example/gone:1": now[a]}
    lines = []
    for ref, record in previous.items():
        record = json.loads(json.dumps(record))
        record["subject"]["reference"] = ref
        lines.append(json.dumps(record))
    since = tmp_path / "previous.jsonl"
    since.write_text("\n".join(lines) + "\n")
    args = ["--policy", str(policy), "--since", str(since), a, b, c, d, b]
    code, out, err = _audit(capsys, *args)
    assert code == 1, err
    section = out.split(f"since {since}: ")[1]
    assert section.startswith("1 newly failing, 1 fixed, 1 digest changed, 1 new, 1 gone\n")
    changes = section.splitlines()[1:]
    expected = [("NEWLY FAILING", b), ("FIXED", a), ("DIGEST CHANGED", c), ("NEW", d)]
    expected.append(("GONE", "registry.example/gone:1"))
    assert [(line[:15].strip(), line[16:].split()[0]) for line in changes] == expected
    short = "sha256:[0-9a-f]{12}"
    assert re.search(f"  \\(pass {short} -> fail {short}\\)$", changes[0])  # digests differ
    assert re.search(f"  \\(pass {short} -> pass {short}\\)$", changes[2])
    assert re.search(f"  \\(- -> fail {short}\\)$", changes[3])
    _, md_out, _ = _audit(capsys, *args[:-5], "--format", "markdown", a, b, c, d)
    assert "## Since " in md_out and "| newly failing | " in md_out and "| gone | " in md_out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "\n{not json\n")
    code, out, err = _audit(capsys, "--policy", str(policy), "--since", str(bad), a)
    assert code == 2 and out == ""
    assert f"{bad}:2:" in err
    code, _, err = _audit(capsys, *args, "--format", "csv")
    assert code == 2 and "--since needs --format" in err
