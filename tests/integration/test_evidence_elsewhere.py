"""Evidence packs of a run with ``--attestations-repo``: the real cosign 2.5 writes the signed
provenance into another repository (and, in one case, into the image's own too); the pack keeps
that repository's tags apart from the image's own (annotated, the repository named in
``index.json``) and a replay in a network namespace without interfaces, given no
``--attestations-repo``, reads the pack's copy of it to the same report, field by field.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from provcheck.api import inspect_image
from provcheck.attestation.keys import load_public_key
from provcheck.attestation.signatures import TrustConfig
from provcheck.cli import main
from provcheck.discovery.model import StoreRepository, TrustLevel
from provcheck.discovery.options import DiscoveryOptions
from tests.integration.test_attestations_repo import (
    NO_TLOG,
    Cosign,
    attested_elsewhere,
    cosign_with_a_key,
    policy,
)
from tests.integration.test_evidence_packs import (
    AT,
    PROVCHECK,
    _pack_members,
    _replay,
    _run,
    _same_report,
)
from tests.registry import RegistryServer

ROLE = "dev.provcheck.evidence.role"
REF_NAME = "org.opencontainers.image.ref.name"
WHERE = "dev.provcheck.evidence.repository"


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Cosign:
    return cosign_with_a_key(tmp_path_factory)


def _tag_entries(pack: Path) -> list[dict[str, Any]]:
    index = json.loads((pack / "index.json").read_text())
    return [e for e in index["manifests"] if e["annotations"][ROLE] == "tag"]


def _record_and_replay(
    capsys: pytest.CaptureFixture[str],
    offline: list[str],
    ref: str,
    store: str,
    rules: Path,
    pack: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """``verify --attestations-repo STORE --evidence PACK``, then the replay without the flag
    (nor ``$COSIGN_REPOSITORY``): the same report. Returns the original."""
    monkeypatch.delenv("COSIGN_REPOSITORY", raising=False)
    args = ["verify", ref, "--policy", str(rules), "--at", AT, "--attestations-repo", store]
    code, original, _ = _run(capsys, *args, "--evidence", str(pack))
    assert original is not None and code == 0, original
    _pack_members(pack)  # valid against the schema
    index = json.loads((pack / "index.json").read_text())
    assert index["annotations"]["dev.provcheck.evidence.attestations-repository"] == store

    code, replayed, err = _replay(offline, pack, rules)
    assert replayed is not None and code == 0, err
    _same_report(original, replayed)
    return original


def test_pack_of_a_run_with_an_attestations_repository_replays_offline(
    registry_server: RegistryServer,
    unique_repository: str,
    signer: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed, store = attested_elsewhere(
        registry_server, unique_repository, signer, tmp_path, "evidence-elsewhere"
    )
    rules = policy(tmp_path, signer)
    pack = tmp_path / "pack"
    _record_and_replay(capsys, offline, pushed.ref, store, rules, pack, monkeypatch)

    hexdigest = pushed.digest.removeprefix("sha256:")
    there = {e[REF_NAME] for e in (t["annotations"] for t in _tag_entries(pack)) if WHERE in e}
    assert there == {f"sha256-{hexdigest}.att"}  # under its tag name, marked as from there

    # audit --evidence records the other repository too (it was dropped before)
    packs = tmp_path / "packs"
    audit = ["audit", "--policy", str(rules), pushed.ref, "-q", "--format", "jsonl"]
    assert main([*audit, "--attestations-repo", store, "--evidence", str(packs)]) == 0
    capsys.readouterr()
    index = json.loads((packs / f"sha256-{hexdigest}" / "index.json").read_text())
    assert index["annotations"]["dev.provcheck.evidence.attestations-repository"] == store

    # Naming another repository for a pack is refused: it holds what was read, not that one.
    code, _, err = _run(
        capsys,
        "verify",
        f"oci-layout://{pack}",
        "--policy",
        str(rules),
        "--attestations-repo",
        f"{registry_server.host}/elsewhere",
    )
    assert code == 2 and "recorded the attestations repository" in err
    # The same repository (here from $COSIGN_REPOSITORY) is the pack's copy: read offline.
    done = subprocess.run(
        [*offline, str(PROVCHECK), "verify", f"oci-layout://{pack}", "--policy", str(rules)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COSIGN_REPOSITORY": store},
    )
    assert done.returncode == 0, done.stderr


def test_the_same_cosign_tag_at_home_and_in_the_attestations_repository_are_both_kept(
    registry_server: RegistryServer,
    unique_repository: str,
    signer: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """cosign attests the image at home and in the other repository: both repositories hold a
    ``sha256-<hex>.att`` tag (different manifests). The pack keeps both, one entry each, and the
    replay finds the statement of each where the original run did."""
    pushed, store = attested_elsewhere(
        registry_server, unique_repository, signer, tmp_path, "evidence-both"
    )
    predicate = tmp_path / "predicate.json"  # written by attest
    signer(
        "attest",
        "--key",
        str(signer.key),
        "--type",
        "slsaprovenance",
        "--predicate",
        str(predicate),
        *NO_TLOG,
        pushed.ref,
    )
    rules = policy(tmp_path, signer)
    pack = tmp_path / "pack"
    _record_and_replay(capsys, offline, pushed.ref, store, rules, pack, monkeypatch)

    att = f"sha256-{pushed.digest.removeprefix('sha256:')}.att"
    same_name = [t for t in _tag_entries(pack) if t["annotations"][REF_NAME] == att]
    assert len(same_name) == 2
    assert len({t["digest"] for t in same_name}) == 2
    assert sorted(WHERE in t["annotations"] for t in same_name) == [False, True]

    options = DiscoveryOptions(
        signature_stores=True, trust=TrustConfig((load_public_key(signer.public),))
    )
    found = inspect_image(f"oci-layout://{pack}", options=options)
    statements = list(found.images[0].statements())
    assert {s.manifest.repository for s in statements} == {
        StoreRepository.IMAGE,
        StoreRepository.ATTESTATIONS_REPO,
    }
    assert all(s.layer.trust is TrustLevel.SIGNED for s in statements)
    assert found.attestations_repository == store
