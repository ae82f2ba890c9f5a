"""A replay of the pack of a digest-pinned run, named ``oci-layout://DIR`` (no tag, no pin: the
pack's subject), evaluates as pinned, as the run did: its in-index statements are
``index-bound`` in the replay too, and the report equals the original field by field, trust
included. The pack of a run by tag replays as unpinned, as that run was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_evidence_packs import (
    AT,
    _policy,
    _replay,
    _run,
    _same_report,
)
from tests.oci_push import push_layout
from tests.paths import FIXTURES_DIR
from tests.registry import RegistryServer

MULTI = FIXTURES_DIR / "real" / "b-multi-max" / "oci-layout"


@pytest.mark.parametrize(("pinned", "trust"), [(True, "index-bound"), (False, "unsigned")])
def test_replay_of_the_subject_keeps_the_runs_pinning(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: list[str],
    pinned: bool,
    trust: str,
) -> None:
    digest = push_layout(registry_server.url, MULTI, unique_repository)["1"]
    repo = f"{registry_server.host}/{unique_repository}"
    ref = f"{repo}@{digest}" if pinned else f"{repo}:1"
    rules = _policy(tmp_path, "in-index", "  provenance:\n    required: true\n")
    pack = tmp_path / "pack"
    code, original, _ = _run(
        capsys, "verify", ref, "--policy", str(rules), "--at", AT, "--evidence", str(pack)
    )
    assert original is not None and code == 0, original
    provenance = [r for r in original["results"] if r["rule"] == "provenance"]
    assert provenance and {r["trust"] for r in provenance} == {trust}

    code, replayed, err = _replay(offline, pack, rules)
    assert replayed is not None and code == 0, err
    _same_report(original, replayed)
