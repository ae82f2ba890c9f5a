"""`provcheck verify` on images whose build replaced the frontend or a base image with a named
context (`--build-context NAME=docker-image://…|oci-layout://…`), pushed into the real registry
(issue 14.2, 14.3). The statements carry the `context:*` args and the materials BuildKit writes:
`pkg:docker/…?digest=…` for a pinned docker-image context, `pkg:oci/<context name>…` for an
oci-layout one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import pytest

from provcheck.cli import main
from tests.oci_builder import ImageBuilder, material, provenance_statement
from tests.registry import RegistryServer

BOTH = ("linux/amd64", "linux/arm64")
GOOD = "docker.io/docker/dockerfile:1.7@sha256:" + "a" * 64
GOOD_PURL = "pkg:docker/docker/dockerfile@1.7"
EVIL = "docker.io/evil/frontend:1@sha256:" + "e" * 64
EVIL_PURL = "pkg:docker/evil/frontend@1"
LAYOUT = "sha256:" + "4" * 64
POLICY = f"""\
apiVersion: provcheck/v1
kind: Policy
name: named-contexts
rules:
  frontend:
    allow: [dockerfile.v0, "{GOOD}"]
    pinned: true
  base-images:
    allow: ["docker.io/library/*"]
"""


def _pinned(purl: str, digest: str) -> str:
    return f"{purl}?digest={quote(digest, safe='')}"


def _verify(
    statement: dict[str, Any],
    server: RegistryServer,
    repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, dict[str, Any]]:
    builder = ImageBuilder("contexts")
    for platform in BOTH:
        entry = builder.add_platform(platform)
        builder.attest(entry, [provenance_statement(entry.digest, platform=platform, **statement)])
    builder.build().push(server, repository)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    ref = f"{server.host}/{repository}:1"
    code = main(["verify", ref, "--policy", str(policy), "--format", "json"])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, report


def _results(report: dict[str, Any], rule: str) -> dict[str | None, tuple[str, str]]:
    return {
        r["platform"]: (r["status"], r["message"]) for r in report["results"] if r["rule"] == rule
    }


@pytest.mark.parametrize("slsa", ["v0.2", "v1"])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_pinned_frontend_swapped_by_a_named_context_fails(
    slsa: Literal["v0.2", "v1"],
    mode: Literal["min", "max"],
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    digest = EVIL.rpartition("@")[2]
    code, report = _verify(
        {
            "slsa": slsa,
            "mode": mode,
            "source": GOOD,
            "contexts": {GOOD: f"docker-image://{EVIL}"},
            "materials": [material(_pinned(EVIL_PURL, digest), digest)],
        },
        registry_server,
        unique_repository,
        tmp_path,
        capsys,
    )
    assert code == 1
    results = _results(report, "frontend")
    assert set(results) == set(BOTH)
    for status, message in results.values():
        assert status == "fail" and "evil/frontend" in message, message


def test_the_same_pinned_frontend_without_the_context_passes(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    digest = GOOD.rpartition("@")[2]
    code, report = _verify(
        {
            "source": GOOD,
            "materials": [
                material(GOOD_PURL, digest),
                material(_pinned(GOOD_PURL, digest), digest),
            ],
        },
        registry_server,
        unique_repository,
        tmp_path,
        capsys,
    )
    assert {s for s, _ in _results(report, "frontend").values()} == {"pass"}
    assert code == 0


def test_base_image_from_an_oci_layout_fails_a_registry_allow_list(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    purl = f"pkg:oci/alpine?digest={quote(LAYOUT, safe='')}&platform=linux%2Famd64"
    code, report = _verify(
        {
            "mode": "min",
            "contexts": {"alpine": f"oci-layout://mylayout@{LAYOUT}"},
            "materials": [material(purl, LAYOUT)],
        },
        registry_server,
        unique_repository,
        tmp_path,
        capsys,
    )
    assert code == 1
    for status, message in _results(report, "base-images").values():
        assert status == "fail" and "oci-layout://docker.io/library/alpine" in message, message
