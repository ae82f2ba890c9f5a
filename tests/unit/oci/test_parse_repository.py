"""``parse_repository``: the name ``--attestations-repo`` and ``$COSIGN_REPOSITORY`` take."""

from __future__ import annotations

import pytest

from provcheck.errors import InvalidReferenceError
from provcheck.oci.reference import ImageReference, parse_repository


@pytest.mark.parametrize(
    ("text", "registry", "repository"),
    [
        ("127.0.0.1:5000/sigs", "127.0.0.1:5000", "sigs"),
        ("ghcr.io/org/app-signatures", "ghcr.io", "org/app-signatures"),
        ("alpine", "docker.io", "library/alpine"),
        ("localhost/a/b", "localhost", "a/b"),
    ],
)
def test_repositories(text: str, registry: str, repository: str) -> None:
    assert parse_repository(text) == ImageReference(registry, repository)
    assert str(parse_repository(text)) == f"{registry}/{repository}"


@pytest.mark.parametrize(
    "text",
    [
        "ghcr.io/org/app:1",
        "sigs:latest",
        "ghcr.io/org/app@sha256:" + "a" * 64,
        "oci-layout://some/dir",
        "https://ghcr.io/org/app",
        "Not A Repository",
        "",
    ],
)
def test_not_repositories(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_repository(text)
