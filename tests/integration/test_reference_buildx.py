"""provcheck next to the real `docker buildx imagetools inspect` (buildx 0.13.1), on the real
BuildKit images and on synthetic variants the real data lacks, all in one real registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provcheck.cli import main
from tests.oci_builder import ImageBuilder, provenance_statement, spdx_statement
from tests.paths import REAL_CASES
from tests.reference_tools import reference_tool, run_tool
from tests.registry import RegistryServer

pytestmark = pytest.mark.reflab

TEMPLATES = {"provenance": "{{json .Provenance}}", "sbom": "{{json .SBOM}}"}


def _compare(ref: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    buildx = reference_tool("buildx")
    expected = run_tool(
        buildx, "imagetools", "inspect", "--format", TEMPLATES[fmt], ref, home=tmp_path
    )
    assert expected.returncode == 0, expected.stderr
    # buildx prints secret build args in full; provcheck only with --show-secrets
    assert main(["inspect", ref, "--format", fmt, "--show-secrets"]) == 0
    got = capsys.readouterr().out
    assert got.rstrip("\n") == expected.stdout.rstrip("\n")
    return got


@pytest.mark.parametrize("case", REAL_CASES)
def test_real_cases_match_live_buildx(
    real_registry: Any, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in TEMPLATES:
        _compare(real_registry.refs[case], fmt, tmp_path, capsys)


def _variant(name: str, **kwargs: Any) -> ImageBuilder:
    builder = ImageBuilder(name)
    for platform in kwargs.pop("platforms", ("linux/amd64", "linux/arm64")):
        entry = builder.add_platform(platform)
        statements = [
            spdx_statement(entry.digest, [{"name": "musl", "version": "1.2.5"}], platform=platform),
            provenance_statement(entry.digest, platform=platform, **kwargs),
        ]
        builder.attest(entry, statements, form=kwargs.get("form", "legacy"))
    return builder


VARIANTS: dict[str, dict[str, Any]] = {
    "statement-v1-slsa-v1": {"statement_version": "v1", "slsa": "v1"},
    "statement-v01-slsa-v1": {"slsa": "v1"},
    "statement-v1-slsa-v02": {"statement_version": "v1"},
    "min-mode": {"mode": "min", "build_args": {"VERSION": "1"}},
    "syntax-override": {
        "frontend": "gateway.v0",
        "source": "docker.io/docker/dockerfile:1.7",
        "build_args": {"BUILDKIT_SYNTAX": "docker.io/docker/dockerfile:1.7"},
    },
    "three-platforms": {"platforms": ("linux/amd64", "linux/arm64", "linux/arm/v7")},
    "one-platform": {"platforms": ("linux/amd64",)},
    "escapes": {"build_args": {"URL": "https://x.test/?a=1&b=<2>", "NOTE": "caf\u00e9 \u2028"}},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_synthetic_variants_match_live_buildx(
    registry_server: RegistryServer,
    unique_repository: str,
    variant: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = _variant(variant, **VARIANTS[variant]).build()
    image.push(registry_server, unique_repository)
    ref = f"{registry_server.host}/{unique_repository}:1"
    for fmt in TEMPLATES:
        _compare(ref, fmt, tmp_path, capsys)


def test_several_attestation_manifests_are_not_picked_silently(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """buildx shows whichever attestation manifest arrived last (it varies from run to run);
    provcheck shows the last in index order, every time, and says there were several."""
    builder = ImageBuilder("several")
    entry = builder.add_platform("linux/amd64")
    for invocation in ("first", "second", "third"):
        builder.attest(entry, [provenance_statement(entry.digest, invocation_id=invocation)])
    builder.build().push(registry_server, unique_repository)
    ref = f"{registry_server.host}/{unique_repository}:1"
    buildx = run_tool(
        reference_tool("buildx"),
        "imagetools",
        "inspect",
        "--format",
        TEMPLATES["provenance"],
        ref,
        home=tmp_path,
    )
    assert buildx.returncode == 0
    assert any(f'"buildInvocationID": "{n}"' in buildx.stdout for n in ("first", "second", "third"))
    for _ in range(3):
        assert main(["inspect", ref, "--format", "provenance"]) == 0
        out, err = capsys.readouterr()
        assert '"buildInvocationID": "third"' in out
        assert "3 provenance statements" in err


def test_several_sboms_are_spdx_then_additional(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    builder = ImageBuilder("sboms")
    entry = builder.add_platform("linux/amd64")
    builder.attest(
        entry,
        [
            spdx_statement(entry.digest, [{"name": "a", "version": "1"}]),
            spdx_statement(entry.digest, [{"name": "b", "version": "2"}]),
            provenance_statement(entry.digest),
        ],
    )
    builder.build().push(registry_server, unique_repository)
    ref = f"{registry_server.host}/{unique_repository}:1"
    assert '"AdditionalSPDXs"' in _compare(ref, "sbom", tmp_path, capsys)
