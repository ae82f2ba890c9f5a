"""`provcheck verify` on variants the real data lacks, built by the fixture builder and pushed
into the real registry: SLSA v1 in Statement v1, min mode, a BUILDKIT_SYNTAX override, secrets
in the image config's Env, several platforms with one left unattested."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from provcheck.cli import main
from tests.oci_builder import ImageBuilder, material, provenance_statement
from tests.registry import RegistryServer

POLICY = """\
apiVersion: provcheck/v1
kind: Policy
name: variants
rules:
  provenance:
    required: true
  platforms:
    required: [linux/amd64, linux/arm64]
  frontend:
    allow: [dockerfile.v0, "docker.io/docker/dockerfile:1.*"]
  build-args:
    secrets: deny
"""
GOOD_SYNTAX = "docker.io/docker/dockerfile:1.7"
EVIL_SYNTAX = "docker.io/evil/frontend:1"
SECRET = "ghp_FAKEvariantLEAK0123456789abcdefghijklmn"
DIGEST = "sha256:" + "d" * 64


def _image(**statement: Any) -> ImageBuilder:
    config = statement.pop("config", None)
    builder = ImageBuilder("variant")
    for platform in ("linux/amd64", "linux/arm64"):
        entry = builder.add_platform(platform, config)
        builder.attest(entry, [provenance_statement(entry.digest, platform=platform, **statement)])
    return builder


def _verify(
    builder: ImageBuilder,
    server: RegistryServer,
    repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, dict[str, Any], str]:
    """Push, verify in JSON; return the exit code, the report and every format's output."""
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


def _status(report: dict[str, Any], rule: str) -> dict[str | None, str]:
    return {r["platform"]: r["status"] for r in report["results"] if r["rule"] == rule}


BOTH = ("linux/amd64", "linux/arm64")


@pytest.mark.parametrize("statement_version", ["v0.1", "v1"])
@pytest.mark.parametrize("slsa", ["v0.2", "v1"])
def test_secret_build_arg_fails_in_every_version(
    statement_version: str,
    slsa: str,
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    builder = _image(
        statement_version=statement_version, slsa=slsa, build_args={"GH_TOKEN": SECRET}
    )
    code, report, everything = _verify(
        builder, registry_server, unique_repository, tmp_path, capsys
    )
    assert code == 1
    assert _status(report, "build-args") == dict.fromkeys(BOTH, "fail")
    assert _status(report, "provenance") == dict.fromkeys(BOTH, "pass")
    assert SECRET[4:12] not in everything and "GH_TOKEN" in everything


def test_min_mode_is_incomplete_not_clean(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    builder = _image(mode="min", slsa="v1", build_args={"VERSION": "1"})
    code, report, _ = _verify(builder, registry_server, unique_repository, tmp_path, capsys)
    assert code == 1
    assert _status(report, "build-args") == dict.fromkeys(BOTH, "incomplete")


def test_min_mode_without_build_args_can_pass(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    builder = _image(mode="min")
    code, report, _ = _verify(builder, registry_server, unique_repository, tmp_path, capsys)
    assert _status(report, "build-args") == dict.fromkeys(BOTH, "pass")
    assert code == 0


def _with_dockerfile(statement: dict[str, Any], text: str) -> dict[str, Any]:
    key = "https://mobyproject.org/buildkit@v1#metadata"
    infos = statement["predicate"]["metadata"][key]["source"]["infos"]
    infos[0]["data"] = base64.b64encode(text.encode()).decode()
    return statement


def test_buildkit_syntax_override_is_judged_by_what_ran(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The recorded Dockerfile names an approved `# syntax=`, but BUILDKIT_SYNTAX ran another."""
    builder = ImageBuilder("override")
    for platform in BOTH:
        entry = builder.add_platform(platform)
        statement = provenance_statement(
            entry.digest,
            platform=platform,
            source=EVIL_SYNTAX,
            build_args={"BUILDKIT_SYNTAX": EVIL_SYNTAX},
            materials=[material("pkg:docker/evil/frontend@1", DIGEST)],
        )
        builder.attest(entry, [_with_dockerfile(statement, f"# syntax={GOOD_SYNTAX}\n")])
    code, report, _ = _verify(builder, registry_server, unique_repository, tmp_path, capsys)
    assert code == 1
    assert _status(report, "frontend") == dict.fromkeys(BOTH, "fail")
    messages = [r["message"] for r in report["results"] if r["rule"] == "frontend"]
    assert all("evil/frontend" in m for m in messages)


def test_approved_syntax_image_passes(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    builder = _image(
        source=GOOD_SYNTAX, materials=[material("pkg:docker/docker/dockerfile@1.7", DIGEST)]
    )
    code, report, _ = _verify(builder, registry_server, unique_repository, tmp_path, capsys)
    assert _status(report, "frontend") == dict.fromkeys(BOTH, "pass")
    assert code == 0


def test_secret_in_image_env_fails_whatever_the_provenance_mode(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = {"config": {"Env": ["PATH=/bin", f"GITHUB_TOKEN={SECRET}"]}}
    builder = _image(mode="min", config=config)
    code, report, everything = _verify(
        builder, registry_server, unique_repository, tmp_path, capsys
    )
    assert code == 1
    assert _status(report, "build-args") == dict.fromkeys(BOTH, "fail")
    pointers = [
        e["pointer"] for r in report["results"] if r["rule"] == "build-args" for e in r["evidence"]
    ]
    assert "/config/Env/1" in pointers
    assert SECRET[4:12] not in everything


def test_unattested_platform_fails_provenance_only_there(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    builder = ImageBuilder("partial")
    amd64 = builder.add_platform("linux/amd64")
    builder.add_platform("linux/arm64")
    builder.add_platform("linux/arm/v7")
    builder.attest(amd64, [provenance_statement(amd64.digest)])
    code, report, _ = _verify(builder, registry_server, unique_repository, tmp_path, capsys)
    assert code == 1
    assert _status(report, "provenance") == {
        "linux/amd64": "pass",
        "linux/arm64": "fail",
        "linux/arm/v7": "fail",
    }
    assert set(_status(report, "platforms").values()) == {"pass"}


def test_missing_required_platform_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    builder = ImageBuilder("amd64-only")
    entry = builder.add_platform("linux/amd64")
    builder.attest(entry, [provenance_statement(entry.digest)])
    code, report, _ = _verify(builder, registry_server, unique_repository, tmp_path, capsys)
    assert code == 1
    assert "fail" in _status(report, "platforms").values()
    messages = [r["message"] for r in report["results"] if r["rule"] == "platforms"]
    assert any("linux/arm64" in m for m in messages)
