"""The command-line contract a gate relies on (issue 8): exit codes, tampered evidence, size caps,
no tracebacks (signals, closed pipes, bugs), redacted provenance, --platform, error reports,
hints. Through the real CLI, on the real BuildKit fixtures and a real registry."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import provcheck.api
from provcheck.cli.main import _parser, main
from tests.conftest import require_docker_registry
from tests.oci_push import push_layout
from tests.paths import REAL_DIR
from tests.registry import RegistryServer

B_MULTI = REAL_DIR / "b-multi-max" / "oci-layout"
B_REF = f"oci-layout://{B_MULTI}:1"
# b-multi-max: the linux/amd64 attestation manifest and its provenance layer.
AMD64_ATTESTATION = "sha256:4b3c8f332ec4302f09cb37bf30f120632583540480e87da0724b47957ef50c8d"
AMD64_PROVENANCE = "sha256:d262cca6729f52fc1ccb0cd76bc6bac2836067ab3c40e2059702915b124c5e57"
SCHEMA = Path(provcheck.api.__file__).parent / "report" / "report.schema.json"

POLICY = """\
apiVersion: provcheck/v1
kind: Policy
name: gate
rules:
  provenance:
    required: true
  platforms:
    required: [linux/amd64, linux/arm64]
  frontend:
    allow: [dockerfile.v0]
  build-args:
    secrets: deny
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":")[1]


def _tampered_copy(tmp_path: Path, digest: str) -> Path:
    layout = tmp_path / "layout"
    shutil.copytree(B_MULTI, layout)
    _flip(_blob(layout, digest), 100)
    return layout


# -- 1. exit codes: tampered evidence is 3, whatever the other rules say -------------------------


def _verify_layout(
    capsys: pytest.CaptureFixture[str], layout: Path, policy: Path
) -> tuple[int, str, dict[str, Any]]:
    """``verify --format json`` of a layout: the exit code, stdout and the parsed report."""
    code, out, _ = _run(
        capsys, "verify", f"oci-layout://{layout}:1", "--policy", str(policy), "--format", "json"
    )
    report: dict[str, Any] = json.loads(out)
    return code, out, report


def _assert_provenance_rules_error(code: int, out: str, report: dict[str, Any], why: str) -> None:
    """Exit 3, verdict error, and every rule that reads linux/amd64's provenance an error that
    says ``why``, never the build team's "build with --provenance=mode=max" remediation."""
    assert (code, report["verdict"]) == (3, "error")
    amd64 = {r["rule"]: r for r in report["results"] if r["platform"] == "linux/amd64"}
    for rule in ("provenance", "frontend", "build-args", "evidence"):
        assert amd64[rule]["status"] == "error", amd64[rule]
        assert why in amd64[rule]["message"]
    assert "--provenance=mode=max" not in out


@pytest.mark.parametrize("digest", [AMD64_PROVENANCE, AMD64_ATTESTATION])
def test_a_flipped_byte_in_evidence_is_a_verification_error(
    digest: str, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, report = _verify_layout(capsys, _tampered_copy(tmp_path, digest), policy)
    _assert_provenance_rules_error(code, out, report, "did not match its digest")
    assert not any(r["status"] == "fail" for r in report["results"])


def test_a_missing_provenance_layer_is_a_verification_error(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The index names a provenance layer that is not there (a mirror that dropped it): what
    it said cannot be known, so the rules that read provenance error, never fail."""
    layout = tmp_path / "layout"
    shutil.copytree(B_MULTI, layout)
    _blob(layout, AMD64_PROVENANCE).unlink()
    code, out, report = _verify_layout(capsys, layout, policy)
    _assert_provenance_rules_error(code, out, report, "is missing")


def test_three_beats_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A rule that fails outright (a platform is missing) does not hide tampered evidence."""
    layout = _tampered_copy(tmp_path, AMD64_PROVENANCE)
    strict = tmp_path / "strict.yaml"
    strict.write_text(POLICY.replace("linux/arm64]", "linux/arm64, linux/s390x]"))
    code, _, report = _verify_layout(capsys, layout, strict)
    assert {r["status"] for r in report["results"] if r["rule"] == "platforms"} == {"fail"}
    assert (code, report["verdict"]) == (3, "error")


@pytest.fixture(scope="module")
def own_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry of this module alone: tampering a blob changes it in every repository."""
    require_docker_registry()
    with RegistryServer(tmp_path_factory.mktemp("own-registry")) as server:
        yield server


def test_a_tampered_provenance_layer_in_a_registry_exits_3(
    own_registry: RegistryServer, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """distribution serves a blob as stored (it refuses a tampered manifest with a 500)."""
    push_layout(own_registry.url, B_MULTI, "lab/tampered")
    stored = own_registry.blob_data_path(AMD64_PROVENANCE)
    data = bytearray(stored.read_bytes())
    data[100] ^= 0x01
    own_registry.tamper_blob(AMD64_PROVENANCE, bytes(data))
    ref = f"{own_registry.host}/lab/tampered:1"
    code, out, err = _run(capsys, "verify", ref, "--policy", str(policy))
    assert code == 3
    assert "ERROR      provenance   linux/amd64" in out
    assert "did not match its digest" in out
    assert "verdict: ERROR" in out and "Traceback" not in err


def test_help_has_the_exit_code_table(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["verify", "--help"], ["inspect", "--help"]):
        code, out, _ = _run(capsys, *argv)
        assert code == 0
        assert "exit codes:" in out and "3 beats 1" in out
        for line in (
            "0    pass",
            "1    policy violation",
            "2    usage error",
            "3    fetch or",
            "141  stdout",
        ):
            assert line in out


# -- 2. verify honours --max-attestation-size ----------------------------------------------------


def test_verify_honours_max_attestation_size(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "verify", B_REF, "--policy", str(policy), "--format", "json")
    assert code == 0
    code, out, _ = _run(
        capsys,
        "verify",
        B_REF,
        "--policy",
        str(policy),
        "--format",
        "json",
        "--max-attestation-size",
        "1KiB",
    )
    report = json.loads(out)
    assert (code, report["verdict"]) == (3, "error")
    evidence = [r for r in report["results"] if r["rule"] == "evidence"]
    assert len(evidence) == 3  # one provenance layer of 4 KiB per platform
    assert all("too large" in r["message"] for r in evidence)


# -- 3. no traceback: numbers, bugs, -v anywhere ----------------------------------------------


@pytest.mark.parametrize(
    "option",
    [f"--timeout={v}" for v in ("nan", "inf", "-1", "0", "soon", "")]
    + [f"--max-attestation-size={v}" for v in ("0", "-1KiB", "nan", "1e3", "1TiB", "")],
)
@pytest.mark.parametrize("command", ["inspect", "verify", "sbom"])
def test_invalid_numbers_are_usage_errors(
    command: str, option: str, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--policy", str(policy)] if command == "verify" else []
    code, out, err = _run(capsys, command, B_REF, *extra, option)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "invalid" in err and option.split("=")[0] in err


def test_an_internal_error_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(provcheck.api, "inspect_image", broken)
    code, out, err = _run(capsys, "inspect", B_REF)
    assert (code, out) == (3, "")
    assert err == (
        "provcheck: error: internal error (ZeroDivisionError); run with -vv for the traceback\n"
    )
    # -vv (counted before and after the command) adds the traceback
    for argv in (
        ["-vv", "inspect", B_REF],
        ["inspect", B_REF, "-vv"],
        ["-v", "inspect", "-v", B_REF],
    ):
        code, _, err = _run(capsys, *argv)
        assert code == 3
        assert "Traceback" in err and "ZeroDivisionError: a bug" in err, argv
    code, _, err = _run(capsys, "inspect", B_REF, "-v")
    assert code == 3 and "Traceback" not in err


# -- 4. secrets are redacted in --format provenance -----------------------------------------------


def _secrets(case: str) -> list[str]:
    """The secret build-arg values of a case, read from buildx's recorded output."""
    recorded = json.loads((REAL_DIR / case / "inspect.provenance.json").read_text())
    args = recorded["SLSA"]["invocation"]["parameters"]["args"]
    names = ("GH_TOKEN", "NPM_TOKEN", "AWS_SECRET_ACCESS_KEY")
    return [args[f"build-arg:{name}"] for name in names]


def _shape(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_shape(item) for item in node]
    return type(node).__name__


def test_provenance_is_redacted_unless_show_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    ref = f"oci-layout://{REAL_DIR / 'c-secrets-max' / 'oci-layout'}:1"
    secrets = _secrets("c-secrets-max")
    assert all(len(secret) > 30 for secret in secrets)
    code, out, err = _run(capsys, "inspect", ref, "--format", "provenance")
    assert code == 0
    for secret in secrets:
        pieces = {secret[i : i + 8] for i in range(len(secret) - 7)}
        assert not any(piece in out for piece in pieces), secret[:4]
    assert err == "provcheck: 6 secret value(s) redacted (--show-secrets prints them)\n"
    code, full, err = _run(capsys, "inspect", ref, "--format", "provenance", "--show-secrets")
    assert (code, err) == (0, "")
    recorded = (REAL_DIR / "c-secrets-max" / "inspect.provenance.json").read_text()
    assert full == recorded.rstrip("\n") + "\n"  # buildx's document, byte for byte
    redacted, original = json.loads(out), json.loads(full)
    assert _shape(redacted) == _shape(original)  # buildx's shape and keys
    args = redacted["SLSA"]["invocation"]["parameters"]["args"]
    assert args["build-arg:GH_TOKEN"] == "ghp_…(42 chars, redacted)"
    assert args["build-arg:AWS_SECRET_ACCESS_KEY"] == "…(41 chars, redacted)"
    assert out.count("chars, redacted)") == 6  # three args, and the three LLB env copies


# -- 6. --platform narrows, the platforms rule reads the index -----------------------------------


@pytest.mark.parametrize("where", ["layout", "registry"])
def test_platform_narrows_what_is_evaluated(
    where: str, policy: Path, real_registry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = B_REF if where == "layout" else real_registry.refs["b-multi-max"]
    code, out, _ = _run(
        capsys,
        "verify",
        ref,
        "--policy",
        str(policy),
        "--format",
        "json",
        "--platform",
        "linux/amd64",
    )
    report = json.loads(out)
    assert (code, report["verdict"]) == (0, "pass")
    assert {r["platform"] for r in report["results"]} == {"linux/amd64", None}
    platforms = next(r for r in report["results"] if r["rule"] == "platforms")
    assert platforms["status"] == "pass", platforms
    code, out, _ = _run(capsys, "inspect", ref, "--format", "json", "--platform", "linux/arm/v7")
    assert code == 0
    assert [i["platform"] for i in json.loads(out)["images"]] == ["linux/arm/v7"]


@pytest.mark.parametrize("command", ["inspect", "verify", "sbom"])
def test_a_platform_that_matches_nothing_lists_those_that_exist(
    command: str, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--policy", str(policy)] if command == "verify" else []
    code, out, err = _run(capsys, command, B_REF, *extra, "--platform", "linux/s390x")
    assert (code, out) == (2, "")
    assert "has no platform linux/s390x" in err
    assert "it has: linux/amd64, linux/arm64, linux/arm/v7" in err


# -- 8. a report for every outcome, replaced atomically -------------------------------------------


def _stale(tmp_path: Path, name: str) -> tuple[Path, Path]:
    output = tmp_path / name
    output.write_text("stale report of an earlier run\n")
    old = tmp_path / f"{name}.old-inode"
    os.link(output, old)  # a rewrite in place would change this one too; a rename does not
    return output, old


def _check_error_report(fmt: str, text: str, message: str) -> None:
    if fmt == "json":
        report = json.loads(text)
        jsonschema.validate(report, json.loads(SCHEMA.read_text()))
        assert report["verdict"] == "error" and report["results"] == []
        assert message in report["error"]
    elif fmt == "sarif":
        (run,) = json.loads(text)["runs"]
        (invocation,) = run["invocations"]
        assert invocation["executionSuccessful"] is False
        (note,) = invocation["toolExecutionNotifications"]
        assert note["level"] == "error" and message in note["message"]["text"]
        assert run["properties"]["verdict"] == "error"
    elif fmt == "junit":
        suite = ET.fromstring(text).find("testsuite")
        assert suite is not None and suite.get("errors") == "1"
        error = suite.find("testcase/error")
        assert error is not None and message in (error.get("message") or "")
    else:
        assert message in text and "verdict: ERROR" in text


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "text"])
def test_a_fetch_error_replaces_the_report(
    fmt: str,
    policy: Path,
    registry_server: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output, old = _stale(tmp_path, f"report.{fmt}")
    ref = f"{registry_server.host}/t/never-pushed:1"
    code, out, err = _run(
        capsys, "verify", ref, "--policy", str(policy), "--format", fmt, "--output", str(output)
    )
    assert (code, out) == (3, "")
    assert err.startswith("provcheck: error: ") and err.count("\n") == 1
    assert "Traceback" not in err
    _check_error_report(fmt, output.read_text(), "t/never-pushed")
    assert old.read_text() == "stale report of an earlier run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["policy.yaml", output.name, old.name]
    )  # no temporary file left behind


def test_a_policy_error_and_a_pass_replace_the_report_too(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output, _ = _stale(tmp_path, "report.json")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: provcheck/v1\nkind: Policy\nname: x\nrules: {nope: {}}\n")
    code, out, err = _run(
        capsys, "verify", B_REF, "--policy", str(bad), "--format", "json", "--output", str(output)
    )
    assert (code, out) == (2, "")
    _check_error_report("json", output.read_text(), "nope")
    code, _, err = _run(
        capsys,
        "verify",
        B_REF,
        "--policy",
        str(policy),
        "--format",
        "json",
        "--output",
        str(output),
    )
    assert code == 0 and json.loads(output.read_text())["verdict"] == "pass"
    assert err == f"provcheck: verdict: PASS (10 pass): report written to {output}\n"


def test_an_error_report_on_stdout_in_machine_formats(
    registry_server: RegistryServer, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = f"{registry_server.host}/t/never-pushed:1"
    code, out, _ = _run(capsys, "verify", ref, "--policy", str(policy), "--format", "sarif")
    assert code == 3
    _check_error_report("sarif", out, "t/never-pushed")
    code, out, _ = _run(capsys, "verify", ref, "--policy", str(policy))
    assert (code, out) == (3, "")  # text on stdout: the one line on stderr says it all


# -- 9. hints and help -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "suggested"),
    [
        (str(B_MULTI), f"oci-layout://{B_MULTI}"),
        (f"{B_MULTI}:1", f"oci-layout://{B_MULTI}:1"),
        (str(B_MULTI.parent), f"oci-layout://{B_MULTI}"),
        (f"oci-layout://{B_MULTI.parent}:1", f"oci-layout://{B_MULTI}"),
    ],
)
def test_a_local_folder_gets_a_hint(
    reference: str, suggested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "inspect", reference)
    assert (code, out) == (2, "")
    assert f"did you mean {suggested}?" in err and err.count("\n") == 1


def test_no_arguments_prints_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys)
    assert (code, out) == (2, "")
    for command in ("inspect", "verify", "sbom", "policy", "audit"):
        assert f"    {command} " in err
    assert "exit codes:" in err


def _all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def test_every_option_has_help_text() -> None:
    parsers = list(_all_parsers(_parser()))
    assert len(parsers) == 13  # provcheck, inspect, verify, explain, sbom, policy, policy lint,
    # audit, cache, cache info, cache prune, cache clear, serve
    for parser in parsers:
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, (parser.prog, action.dest)


@pytest.mark.parametrize(
    "argv",
    [
        ["inspect", B_REF, "--format=--"],
        ["inspect", B_REF, "--key=--"],
        ["verify", B_REF, "--policy=--"],
        [f"inspect={B_REF}"],
        ["inspect", "9" * 5000],  # a name too long for a path
    ],
)
def test_odd_arguments_found_by_fuzzing_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "internal error" not in err


def test_output_into_a_pipe_or_through_a_symlink(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A named pipe (like /dev/stdout) is written to, never replaced by a file; a symlink's
    target is replaced and the link stays."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    argv = ["verify", B_REF, "--policy", str(policy), "--format", "json"]
    code, _, _ = _run(capsys, *argv, "--output", str(fifo))
    reader.join(10)
    assert code == 0 and json.loads(got[0])["verdict"] == "pass"
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    target = tmp_path / "real.json"
    target.write_text("stale\n")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    code, _, _ = _run(capsys, *argv, "--output", str(link))
    assert code == 0 and link.is_symlink()
    assert json.loads(target.read_text())["verdict"] == "pass"
