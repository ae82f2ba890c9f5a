"""``verify --format vsa --attach`` on a hostile ``.att`` tag (too many layers to read, too many
layers, too many bytes): refused with exit 3 before anything is pushed, the tag left byte for
byte as it was; at the read cap it still attaches and supersedes. Real docker-registry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from provcheck.attestation.cosign import SIGNATURE_ANNOTATION
from provcheck.oci import mediatypes as mt
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference
from provcheck.predicates import SLSA_VSA_V1
from provcheck.source.registry import RegistryClient
from provcheck.source.registry.push import push_blob, push_manifest
from provcheck.vsa.attach import (
    MAX_ATTACH_LAYERS,
    MAX_ATTACH_MANIFEST_BYTES,
    MAX_SUPERSEDE_READS,
    cosign_config,
)
from tests.integration.test_vsa import (
    FULL_POLICY,
    KeyPair,
    Pushed,
    make_vsa,
    push_image,
    run_cli,
    write_key,
    write_policy,
)
from tests.registry import RegistryServer

Layers = Callable[[Descriptor], list[dict[str, Any]]]


def att_bytes(registry: RegistryServer, repository: str, pushed: Pushed) -> bytes:
    """The image's ``.att`` manifest as the registry stores it."""
    tag = f"sha256-{pushed.digest.split(':')[1]}.att"
    accept = {"Accept": mt.OCI_MANIFEST}
    answer = httpx.get(f"{registry.url}/v2/{repository}/manifests/{tag}", headers=accept)
    answer.raise_for_status()
    return answer.content


def put_att(pushed: Pushed, kept: list[dict[str, Any]], junk: Layers) -> None:
    """Replace the ``.att`` tag with ``kept`` followed by ``junk(blob)`` (one pushed blob), as a
    hostile writer of the repository can."""
    reference = ImageReference.parse(pushed.pinned)
    tag = f"sha256-{pushed.digest.split(':')[1]}.att"

    async def run() -> None:
        async with RegistryClient() as client:
            source = client.source(reference)
            blob = await push_blob(source, b'{"payload":"","signatures":[]}', mt.DSSE_ENVELOPE)
            layers = kept + junk(blob)
            config = await push_blob(source, cosign_config(layers), mt.OCI_CONFIG)
            manifest = {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": {
                    "mediaType": mt.OCI_CONFIG,
                    "size": config.size,
                    "digest": str(config.digest),
                },
                "layers": layers,
            }
            await push_manifest(source, tag, json.dumps(manifest).encode(), mt.OCI_MANIFEST)

    asyncio.run(run())


def layer(blob: Descriptor, predicate_type: str, padding: str = "") -> dict[str, Any]:
    annotations = {SIGNATURE_ANNOTATION: "", "predicateType": predicate_type}
    if padding:
        annotations["padding"] = padding
    return {
        "mediaType": mt.DSSE_ENVELOPE,
        "size": blob.size,
        "digest": str(blob.digest),
        "annotations": annotations,
    }


@pytest.fixture
def setup(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> tuple[Pushed, Path, KeyPair, list[dict[str, Any]]]:
    """An image with one summary of the key attached; the ``.att`` layers."""
    key = write_key(tmp_path / "keys", "ci", ec.generate_private_key(ec.SECP256R1()))
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path, FULL_POLICY)
    code, _ = make_vsa(capsys, pushed.pinned, policy, key.private)
    assert code == 0
    manifest: dict[str, Any] = json.loads(att_bytes(registry_server, unique_repository, pushed))
    layers: list[dict[str, Any]] = manifest["layers"]
    assert len(layers) == 1
    return pushed, policy, key, layers


def attach(
    capsys: pytest.CaptureFixture[str], pushed: Pushed, policy: Path, key: KeyPair
) -> tuple[int, str, str]:
    return run_cli(
        capsys,
        "verify",
        pushed.pinned,
        "--policy",
        str(policy),
        "--format",
        "vsa",
        "--sign-key",
        str(key.private),
        "--attach",
    )


@pytest.mark.parametrize(
    ("junk", "says"),
    [
        (  # with the signer's own: one more to read than the cap
            lambda blob: [layer(blob, SLSA_VSA_V1)] * MAX_SUPERSEDE_READS,
            f"at most {MAX_SUPERSEDE_READS} are read",
        ),
        (  # of another type: nothing to read, but the manifest would pass the layer cap
            lambda blob: [layer(blob, "https://spdx.dev/Document")] * (MAX_ATTACH_LAYERS - 1),
            f"has {MAX_ATTACH_LAYERS} layers",
        ),
        (  # few layers, too many bytes
            lambda blob: [layer(blob, "x", "p" * (MAX_ATTACH_MANIFEST_BYTES // 4))] * 4,
            f"over {MAX_ATTACH_MANIFEST_BYTES}",
        ),
    ],
    ids=["reads", "layers", "bytes"],
)
def test_a_hostile_att_tag_is_refused_with_exit_3_and_left_as_it_was(
    registry_server: RegistryServer,
    unique_repository: str,
    capsys: pytest.CaptureFixture[str],
    setup: tuple[Pushed, Path, KeyPair, list[dict[str, Any]]],
    junk: Layers,
    says: str,
) -> None:
    pushed, policy, key, own = setup
    put_att(pushed, own, junk)
    before = att_bytes(registry_server, unique_repository, pushed)
    code, out, err = attach(capsys, pushed, policy, key)
    assert code == 3, err
    assert out == ""  # no summary is printed that was not attached
    assert says in err and "not appended to (left as it is)" in err, err
    assert att_bytes(registry_server, unique_repository, pushed) == before


def test_at_the_read_cap_the_summary_is_attached_and_supersedes_the_signers_own(
    registry_server: RegistryServer,
    unique_repository: str,
    capsys: pytest.CaptureFixture[str],
    setup: tuple[Pushed, Path, KeyPair, list[dict[str, Any]]],
) -> None:
    pushed, policy, key, own = setup
    put_att(pushed, own, lambda blob: [layer(blob, SLSA_VSA_V1)] * (MAX_SUPERSEDE_READS - 1))
    code, out, err = attach(capsys, pushed, policy, key)
    assert code == 0, err
    manifest: dict[str, Any] = json.loads(att_bytes(registry_server, unique_repository, pushed))
    layers: list[dict[str, Any]] = manifest["layers"]
    # the signer's own earlier one is gone, the other (unverifiable) ones kept, the new one last
    assert len(layers) == MAX_SUPERSEDE_READS
    assert own[0] not in layers
    assert layers[-1]["digest"] != own[0]["digest"]
    assert out
