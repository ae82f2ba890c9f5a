"""`provcheck verify` through the real registry on secrets the build-args rule used to miss:
build args in BuildKit's history records whose values hold spaces (min mode, where history is
all there is), and credentials in URL userinfo or in token formats it did not know. Every
report format is checked: no secret in full, nor any 8-character piece of one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from provcheck.cli import main
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.registry import RegistryServer

POLICY = """\
apiVersion: provcheck/v1
kind: Policy
name: history
rules:
  provenance:
    required: true
  build-args:
    secrets: deny
"""
PASSWORD = "correct horse battery staple"
GH_CLASSIC = "3f9a0c4b7d2e8f1a6b5c9d0e4f7a2b8c1d6e3f90"
HF = "hf_FAKEabcdefghijklmnopqrstuvwxyzAB"
DIGITALOCEAN = "dop_v1_" + "0123456789abcdef" * 4
SONARQUBE = "squ_" + "0123456789abcdef0123456789abcdef01234567"
SHOPIFY = "shpat_" + "fedcba9876543210" * 2


def _verify_all_formats(
    config: dict[str, Any],
    build_args: dict[str, str] | None,
    server: RegistryServer,
    repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, dict[str, Any], str]:
    """Push a min-mode image with ``config`` (``build_args`` passed, so stripped from the
    provenance); verify in JSON, then text, SARIF and JUnit."""
    builder = ImageBuilder("history")
    entry = builder.add_platform("linux/amd64", config)
    statement = provenance_statement(entry.digest, mode="min", slsa="v1", build_args=build_args)
    builder.attest(entry, [statement])
    builder.build().push(server, repository)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    ref = f"{server.host}/{repository}:1"
    code = main(["verify", ref, "--policy", str(policy), "--format", "json"])
    out, _ = capsys.readouterr()
    report = json.loads(out)
    for fmt in ("text", "sarif", "junit"):
        main(["verify", ref, "--policy", str(policy), "--format", fmt])
        out += capsys.readouterr().out
    return code, report, out


def _build_args(report: dict[str, Any]) -> dict[str, Any]:
    results: list[dict[str, Any]] = [r for r in report["results"] if r["rule"] == "build-args"]
    (result,) = results
    return result


def _assert_no_piece(secret: str, everything: str) -> None:
    assert secret not in everything
    for i in range(len(secret) - 7):
        assert secret[i : i + 8] not in everything, secret[i : i + 8]


def _history(*records: str) -> list[dict[str, str]]:
    return [{"created_by": r, "comment": "buildkit.dockerfile.v0"} for r in records]


def test_min_mode_history_secret_with_spaces_fails_and_is_redacted_whole(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Dockerfile `ARG GREETING DB_PASSWORD`, --build-arg "GREETING=hello world"
    # --build-arg "DB_PASSWORD=correct horse battery staple", --provenance=mode=min
    config = {
        "history": _history(
            f"ARG GREETING=hello world DB_PASSWORD={PASSWORD}",
            f"RUN |2 GREETING=hello world DB_PASSWORD={PASSWORD} /bin/sh -c ./configure # buildkit",
        )
    }
    build_args = {"GREETING": "hello world", "DB_PASSWORD": PASSWORD}
    code, report, everything = _verify_all_formats(
        config, build_args, registry_server, unique_repository, tmp_path, capsys
    )
    result = _build_args(report)
    assert code == 1
    assert result["status"] == "fail"
    assert result["message"].endswith(": DB_PASSWORD")
    assert [e["value"] for e in result["evidence"]] == ["DB_PASSWORD=…(28 chars, redacted)"] * 2
    assert [e["pointer"] for e in result["evidence"]] == [
        "/history/0/created_by",
        "/history/1/created_by",
    ]
    _assert_no_piece(PASSWORD, everything)


def test_url_userinfo_and_token_formats_fail_and_are_redacted(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = {
        "REPO": f"https://{GH_CLASSIC}@github.com/acme/app.git",
        "MIRROR": f"https://:{GH_CLASSIC[::-1]}@registry.example.com/",
        "MODEL": f"https://{HF}@huggingface.co/acme/model",
        "SOURCES": "https://xxxxx:xxxxx@github.com/o/a.git https://bot:hunter2pass@github.com/o/b",
        "DO": DIGITALOCEAN,
        "SONAR": SONARQUBE,
        "SHOP": SHOPIFY,
        "CLONE": "https://git@github.com/acme/app.git",
    }
    config = {"config": {"Env": ["PATH=/bin", *(f"{k}={v}" for k, v in values.items())]}}
    code, report, everything = _verify_all_formats(
        config, None, registry_server, unique_repository, tmp_path, capsys
    )
    result = _build_args(report)
    assert code == 1
    assert result["status"] == "fail"
    assert result["message"].endswith(": DO, MIRROR, MODEL, REPO, SHOP, SONAR, SOURCES")
    shown = {e["value"] for e in result["evidence"]}
    assert "DO=dop_…(71 chars, redacted)" in shown
    assert "SHOP=shpa…(38 chars, redacted)" in shown
    for secret in (GH_CLASSIC, GH_CLASSIC[::-1], HF[3:], DIGITALOCEAN[4:], SONARQUBE[4:]):
        _assert_no_piece(secret, everything)
    _assert_no_piece("hunter2pass", everything)
    _assert_no_piece(SHOPIFY[4:], everything)
