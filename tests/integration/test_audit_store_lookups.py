"""Issue 10: an audit shares the signature-store lookups of a digest within its run. Every tag of
an image already checked used to ask the registry again for its cosign tags, its referrers (API)
and its referrers fallback tag, all 404s; now each (registry, repository, digest) is asked once
a run, with the same verdicts. Against the real docker-registry, counted in its access log; the
tag window is 0 here so that nothing but the store window can share them (in a long audit the
tags of one image are minutes apart)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from provcheck.audit.run import STORE_WINDOW, AuditOptions, run_audit
from provcheck.policy.loader import load_policy
from provcheck.report.model import Report
from provcheck.source.registry import RegistryOptions
from tests.oci_builder import ImageBuilder, provenance_statement, spdx_statement
from tests.oci_push import push_manifest
from tests.paths import REPO_ROOT
from tests.registry import RegistryServer

TAGS = 6


def _push(registry: RegistryServer, repository: str) -> list[str]:
    """One BuildKit-shaped image under ``TAGS`` tags; its references."""
    builder = ImageBuilder("store-lookups")
    amd64 = builder.add_platform("linux/amd64")
    name = f"{registry.host}/{repository}"
    builder.attest(
        amd64,
        [provenance_statement(amd64.digest, image=name), spdx_statement(amd64.digest, image=name)],
    )
    image = builder.build()
    image.push(registry, repository, "t0")
    for i in range(1, TAGS):
        push_manifest(registry.url, repository, f"t{i}", image.root_bytes, image.media_type)
    return [f"{name}:t{i}" for i in range(TAGS)]


def _audit(refs: list[str], tmp_path: Path, store_window: float) -> list[Report]:
    reports: list[Report] = []
    run_audit(
        refs,
        load_policy(REPO_ROOT / "policies" / "baseline.yaml"),
        reports.append,
        registry=RegistryOptions(
            docker_config_dir=tmp_path / "no-docker-config",
            tag_window=0.0,
            store_window=store_window,
        ),
        options=AuditOptions(jobs=1),
    )
    return reports


def _store_lookups(registry: RegistryServer, mark: int) -> Counter[str]:
    return Counter(
        entry.path
        for entry in registry.requests_since(mark)
        if "/referrers/" in entry.path or "/manifests/sha256-" in entry.path
    )


def test_an_audit_asks_each_store_of_a_digest_once(
    registry_server: RegistryServer, unique_repository: str, tmp_path: Path
) -> None:
    refs = _push(registry_server, unique_repository) + _push(
        registry_server, f"{unique_repository}-b"
    )
    mark = registry_server.mark()
    shared = _audit(refs, tmp_path, STORE_WINDOW)
    lookups = _store_lookups(registry_server, mark)
    assert lookups and set(lookups.values()) == {1}, lookups  # once per repository and digest
    assert {path.split("/")[3] for path in lookups} == {
        unique_repository.split("/")[1],
        f"{unique_repository}-b".split("/")[1],
    }

    mark = registry_server.mark()
    unshared = _audit(refs, tmp_path, 0.0)
    again = _store_lookups(registry_server, mark)
    assert set(again) == set(lookups)
    assert set(again.values()) == {TAGS}  # what the audit did before: every tag asks again
    assert [(r.verdict, r.reference, r.digest) for r in shared] == [
        (r.verdict, r.reference, r.digest) for r in unshared
    ]
