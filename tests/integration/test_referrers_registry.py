"""The referrers path against two real registries: Debian's docker-registry (distribution 2.8, no
referrers API: 404, so the ``sha256-<hex>`` fallback tag is read) and go-containerregistry's
registry with its OCI 1.1 referrers API (tests/referrers_registry.py), where the same referrers
are found through ``GET /v2/<name>/referrers/<digest>`` and no fallback tag exists. Referrers
come from the committed ``oras attach`` fixture and from the real cosign 2.5.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from provcheck.api import inspect_image
from provcheck.attestation.keys import load_public_key
from provcheck.attestation.signatures import SignedKind, TrustConfig
from provcheck.discovery.model import AttestationOrigin, ImageAttestations
from provcheck.discovery.options import DiscoveryOptions
from provcheck.oci.reference import parse_repository
from provcheck.predicates import PredicateKind
from provcheck.source.registry import RegistryOptions
from tests.oci_builder import ImageBuilder
from tests.oci_push import push_blob, push_layout, push_manifest
from tests.paths import FIXTURES_DIR
from tests.reference_tools import reference_tool, run_cosign
from tests.referrers_registry import ReferrersRegistry, require_referrers_registry
from tests.registry import RegistryServer

STORES = FIXTURES_DIR / "sbom-stores"
SBOM_ONLY = DiscoveryOptions(kinds=frozenset({PredicateKind.SBOM}), signature_stores=True)
Kind = Literal["distribution", "referrers-api"]
KINDS: list[Kind] = ["distribution", "referrers-api"]
NO_DOCKER_CONFIG = RegistryOptions(docker_config_dir=Path("/nonexistent/provcheck-no-config"))


@pytest.fixture(scope="module")
def referrers_registry() -> Iterator[ReferrersRegistry]:
    with ReferrersRegistry(require_referrers_registry()) as server:
        yield server


def _url(kind: Kind, registry_server: RegistryServer, referrers: ReferrersRegistry) -> str:
    return registry_server.url if kind == "distribution" else referrers.url


def _host(kind: Kind, registry_server: RegistryServer, referrers: ReferrersRegistry) -> str:
    return registry_server.host if kind == "distribution" else referrers.host


def _layout_tags(layout: Path) -> dict[str, dict[str, object]]:
    index = json.loads((layout / "index.json").read_text())
    return {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}


def push_without_fallback_tags(url: str, layout: Path, repository: str) -> None:
    """Push tag ``1`` of ``layout`` and every referrer manifest its fallback tags list, by
    digest only: a registry with the API lists them from their ``subject``."""
    blobs = layout / "blobs" / "sha256"
    push_layout(url, layout, repository, tags=["1"])
    for tag, entry in _layout_tags(layout).items():
        if tag == "1":
            continue
        fallback = json.loads((blobs / str(entry["digest"]).split(":")[1]).read_bytes())
        for referrer in fallback["manifests"]:
            body = (blobs / referrer["digest"].split(":")[1]).read_bytes()
            manifest = json.loads(body)
            for blob in [manifest["config"], *manifest["layers"]]:
                push_blob(url, repository, (blobs / blob["digest"].split(":")[1]).read_bytes())
            push_manifest(url, repository, referrer["digest"], body, referrer["mediaType"])


def _sbom_rows(found: ImageAttestations) -> set[tuple[str, str, str, str]]:
    return {
        (image.platform.key, usable.manifest.origin.value, usable.source, usable.layer.trust.value)
        for image in found.images
        for usable in image.statements(PredicateKind.SBOM)
    }


@pytest.mark.parametrize("kind", KINDS)
def test_oras_sbom_referrers_on_both_registries(
    kind: Kind,
    registry_server: RegistryServer,
    referrers_registry: ReferrersRegistry,
    unique_repository: str,
) -> None:
    layout = STORES / "oras-referrers"
    expected = _sbom_rows(inspect_image(f"oci-layout://{layout}:1", options=SBOM_ONLY))
    assert {origin for _, origin, _, _ in expected} == {"referrers-tag"}
    url = _url(kind, registry_server, referrers_registry)
    if kind == "distribution":
        push_layout(url, layout, unique_repository)
        origin = AttestationOrigin.REFERRERS_TAG
    else:
        push_without_fallback_tags(url, layout, unique_repository)
        origin = AttestationOrigin.REFERRERS
    before = len(referrers_registry.requests())
    ref = f"{_host(kind, registry_server, referrers_registry)}/{unique_repository}:1"
    found = inspect_image(ref, options=SBOM_ONLY, registry=NO_DOCKER_CONFIG)
    assert not [p for p in found.all_problems() if p.kind.rejects]
    assert _sbom_rows(found) == {(p, origin.value, s, t) for p, _, s, t in expected}
    if kind == "referrers-api":
        paths = [path for _, path in referrers_registry.requests()[before:]]
        api = [p for p in paths if p.startswith(f"/v2/{unique_repository}/referrers/")]
        assert api, paths
        fallback = [
            p for p in paths if "/manifests/sha256-" in p and not p.endswith((".att", ".sig"))
        ]
        assert fallback == []  # the API answered: no fallback tag is read


def _cosign(home: Path, *args: str, repository: str | None = None) -> None:
    tool = reference_tool("cosign")
    done = run_cosign(tool, home, *args, repository=repository, experimental=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def cosign_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cosign")
    _cosign(home, "generate-key-pair", "--output-key-prefix", "k1")
    return home


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("elsewhere", [False, True], ids=["home", "attestations-repo"])
def test_cosign_referrer_signature_on_both_registries(
    kind: Kind,
    elsewhere: bool,
    registry_server: RegistryServer,
    referrers_registry: ReferrersRegistry,
    unique_repository: str,
    cosign_home: Path,
) -> None:
    """``cosign sign --registry-referrers-mode=oci-1-1``: a referrer through the API where there
    is one, the fallback tag where there is none; at home or in the ``--attestations-repo``.

    cosign 2.5 writes referrers into the image's own repository whatever ``COSIGN_REPOSITORY``
    says (seen here), so the other repository gets its referrer as a mirror would: the same
    image pushed there too, signed there."""
    host = _host(kind, registry_server, referrers_registry)
    builder = ImageBuilder(f"referrers-{kind}-{elsewhere}")
    builder.add_platform("linux/amd64")
    image = builder.build()
    url = _url(kind, registry_server, referrers_registry)
    image.push(url, unique_repository, "1")
    ref = f"{host}/{unique_repository}@{image.root_digest}"
    store = f"{host}/{unique_repository}-signatures" if elsewhere else None
    if store is not None:
        image.push(url, f"{unique_repository}-signatures", "1")
    _cosign(
        cosign_home,
        "sign",
        "--key",
        str(cosign_home / "k1.key"),
        "--tlog-upload=false",
        "--allow-http-registry",
        "--registry-referrers-mode=oci-1-1",
        f"{store}@{image.root_digest}" if store is not None else ref,
    )
    options = DiscoveryOptions(
        signature_stores=True,
        trust=TrustConfig((load_public_key(cosign_home / "k1.pub"),)),
        attestations_repository=parse_repository(store) if store else None,
    )
    found = inspect_image(ref, options=options, registry=NO_DOCKER_CONFIG)
    (signed,) = found.signed
    assert signed.kind is SignedKind.IMAGE_SIGNATURE
    assert signed.check.accepted, signed.check.messages
    expected = "referrers" if kind == "referrers-api" else "referrers-tag"
    assert signed.origin == expected
    assert found.attestations_repository == store
    assert not list(found.all_problems())
    if store is not None:  # not at home
        home_only = inspect_image(
            ref,
            options=DiscoveryOptions(signature_stores=True, trust=options.trust),
            registry=NO_DOCKER_CONFIG,
        )
        assert home_only.signed == ()
