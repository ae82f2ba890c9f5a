"""Evidence packs end to end: ``verify --evidence`` against the real test registry on real
fixtures (BuildKit images, cosign 2.5 tags, a keyless bundle behind the referrers fallback tag),
then a replay of the pack in a network namespace without interfaces that must give the same
report field by field; tampered packs refused (exit 3, naming the blob); ``audit --evidence``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from provcheck.cli import main
from tests.oci_push import push_layout
from tests.paths import FIXTURES_DIR
from tests.registry import RegistryServer

PROVCHECK = Path(sys.executable).parent / "provcheck"
SIGNED = FIXTURES_DIR / "signed"
I_COSIGN = FIXTURES_DIR / "real" / "i-cosign"
KEYLESS = SIGNED / "keyless"
AT = "2026-12-01T12:00:00Z"
CASES = json.loads((SIGNED / "cases.json").read_text())


def _policy(tmp_path: Path, name: str, body: str, files: dict[str, Path] | None = None) -> Path:
    folder = tmp_path / f"policy-{name}"
    folder.mkdir(parents=True)
    for target, source in (files or {}).items():
        (folder / target).write_bytes(source.read_bytes())
    path = folder / "policy.yaml"
    path.write_text(f"apiVersion: provcheck/v1\nkind: Policy\nname: {name}\nrules:\n{body}")
    return path


def _signed_policy(tmp_path: Path, name: str, key: Path, max_age: str = "400d") -> Path:
    """Provenance no older than ``max_age`` (the signed fixtures were built 2026-01-01),
    signed by ``key``."""
    body = (
        f"  provenance:\n    required: true\n    max-age: {max_age}\n"
        "  signatures:\n    required: true\n    keys: [release.pub]\n"
    )
    return _policy(tmp_path, name, body, {"release.pub": key})


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any] | None, str]:
    """``provcheck ARGS --format json`` in process: exit code, the JSON report, stderr."""
    capsys.readouterr()
    code = main([*args, "--format", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def _replay(
    prefix: list[str], pack: Path, policy: Path, *, pin: str = "", at: str = AT
) -> tuple[int, dict[str, Any] | None, str]:
    """``provcheck verify oci-layout://PACK[PIN] --policy POLICY --at AT`` in a process in a
    network namespace without interfaces."""
    done = subprocess.run(
        [
            *prefix,
            str(PROVCHECK),
            "verify",
            f"oci-layout://{pack}{pin}",
            "--policy",
            str(policy),
            "--at",
            at,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_PROXY": "", "HTTPS_PROXY": "", "HTTP_PROXY": ""},
    )
    return done.returncode, json.loads(done.stdout) if done.stdout else None, done.stderr


def _same_report(original: dict[str, Any], replayed: dict[str, Any]) -> None:
    """Every field equal, except the reference (a registry reference, then the pack)."""
    assert replayed["subject"]["reference"].startswith("oci-layout://")
    original = {
        k: v for k, v in original.items() if k != "inputIndex"
    }  # the audit's, not the report's
    for key in sorted(set(original) | set(replayed)):
        if key == "subject":
            assert replayed[key]["digest"] == original[key]["digest"]
            continue
        if key == "results":
            assert len(replayed[key]) == len(original[key])
            for got, want in zip(replayed[key], original[key], strict=True):
                assert got == want
            continue
        assert replayed[key] == original[key], key


SCHEMA = json.loads((Path(__file__).parents[2] / "provcheck/evidence/pack.schema.json").read_text())


def _pack_members(pack: Path) -> dict[str, list[dict[str, Any]]]:
    """The ``index.json`` entries of a pack by role (the document valid against its schema)."""
    import jsonschema

    index = json.loads((pack / "index.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(index)
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in index["manifests"]:
        out.setdefault(entry["annotations"]["dev.provcheck.evidence.role"], []).append(entry)
    return out


def _member_bytes(pack: Path, entry: dict[str, Any]) -> bytes:
    manifest = json.loads(_blob(pack, entry["digest"]).read_bytes())
    return _blob(pack, manifest["layers"][0]["digest"]).read_bytes()


def _blob(pack: Path, digest: str) -> Path:
    return pack / "blobs" / "sha256" / digest.removeprefix("sha256:")


SIGNED_CASES = [
    # (layout, tag, key, pinned)
    (SIGNED / "legacy-p256", "1", SIGNED / "keys" / "p256.pub", True),
    (SIGNED / "bundle-p256", "1", SIGNED / "keys" / "p256.pub", False),
    (I_COSIGN / "oci-layout", "1", I_COSIGN / "cosign.pub", False),
]


@pytest.mark.parametrize(
    ("layout", "tag", "key", "pinned"), SIGNED_CASES, ids=["legacy-p256", "bundle-p256", "i-cosign"]
)
def test_pack_replays_offline_to_the_same_report(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: list[str],
    layout: Path,
    tag: str,
    key: Path,
    pinned: bool,
) -> None:
    digest = push_layout(registry_server.url, layout, unique_repository)[tag]
    ref = f"{registry_server.host}/{unique_repository}" + (f"@{digest}" if pinned else f":{tag}")
    policy = _signed_policy(tmp_path, "release", key)
    pack = tmp_path / "pack"
    code, original, _ = _run(
        capsys, "verify", ref, "--policy", str(policy), "--at", AT, "--evidence", str(pack)
    )
    assert original is not None and code == 0, original
    assert original["verdict"] == "pass"

    members = _pack_members(pack)
    assert [e["digest"] for e in members["subject"]] == [digest]
    assert members["subject"][0]["annotations"].get("org.opencontainers.image.ref.name") == (
        None if pinned else tag
    )
    tags = {e["annotations"]["org.opencontainers.image.ref.name"] for e in members["tag"]}
    hexdigest = digest.removeprefix("sha256:")
    assert tags & {f"sha256-{hexdigest}.att", f"sha256-{hexdigest}.sig", f"sha256-{hexdigest}"}
    assert all(t.startswith(f"sha256-{hexdigest}") for t in tags), tags  # no digest as a tag
    assert _member_bytes(pack, members["policy"][0]) == policy.read_bytes()
    assert json.loads(_member_bytes(pack, members["report"][0])) == original
    assert len(members["key"]) == 1
    assert b"BEGIN PUBLIC KEY" in _member_bytes(pack, members["key"][0])
    index = json.loads((pack / "index.json").read_text())
    assert index["annotations"]["dev.provcheck.evidence.time"] == AT
    assert index["annotations"]["dev.provcheck.evidence.reference"] == ref

    code, replayed, err = _replay(offline, pack, policy, pin=f"@{digest}" if pinned else "")
    assert replayed is not None, err
    assert code == 0, err
    _same_report(original, replayed)

    # another policy on the same evidence: what that policy gives against the registry
    other = _signed_policy(tmp_path, "other", SIGNED / "keys" / "other-p256.pub")
    _, direct, _ = _run(capsys, "verify", ref, "--policy", str(other), "--at", AT)
    code, replayed_other, err = _replay(offline, pack, other, pin=f"@{digest}" if pinned else "")
    assert direct is not None and replayed_other is not None, err
    assert direct["verdict"] == "fail" and code == 1
    _same_report(direct, replayed_other)


def test_replay_is_really_offline(offline: list[str], tmp_path: Path) -> None:
    """The namespace has no usable interface: a registry reference cannot be reached."""
    policy = _policy(tmp_path, "p", "  provenance:\n    required: true\n")
    done = subprocess.run(
        [*offline, str(PROVCHECK), "verify", "127.0.0.1:5000/x:1", "--policy", str(policy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "127.0.0.1:5000" in done.stderr


def test_keyless_pack_replays_offline(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: list[str],
) -> None:
    pytest.importorskip("sigstore")
    layout = KEYLESS / "layout"
    digest = push_layout(registry_server.url, layout, unique_repository)["1"]
    ref = f"{registry_server.host}/{unique_repository}@{digest}"
    folder = tmp_path / "keyless"
    folder.mkdir()
    for name in ("policy.yaml", "trusted_root.json"):
        (folder / name).write_bytes((KEYLESS / name).read_bytes())
    policy = folder / "policy.yaml"
    pack = tmp_path / "pack"
    code, original, err = _run(
        capsys, "verify", ref, "--policy", str(policy), "--at", AT, "--evidence", str(pack)
    )
    assert original is not None and code == 0, err
    members = _pack_members(pack)
    root = members["trusted-root"][0]
    assert _member_bytes(pack, root) == (KEYLESS / "trusted_root.json").read_bytes()
    code, replayed, err = _replay(offline, pack, policy, pin=f"@{digest}")
    assert replayed is not None and code == 0, err
    _same_report(original, replayed)


def test_real_buildkit_image_replays_with_its_sboms(
    real_registry: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: list[str],
) -> None:
    """b-multi-max (3 platforms, max provenance, SBOMs) against the baseline policy, then the
    pack replayed with the strict policy gives what strict gives against the registry."""
    ref = real_registry.ref("b-multi-max")
    policy = Path("policies/baseline.yaml").resolve()
    pack = tmp_path / "pack"
    code, original, err = _run(
        capsys, "verify", ref, "--policy", str(policy), "--at", AT, "--evidence", str(pack)
    )
    assert original is not None, err
    code2, replayed, err = _replay(offline, pack, policy)
    assert replayed is not None, err
    assert code2 == code
    _same_report(original, replayed)
    assert {r["platform"] for r in replayed["results"] if r["rule"] == "sbom"} == {
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
    }
    strict = Path("policies/strict.yaml").resolve()
    code, direct, _ = _run(capsys, "verify", ref, "--policy", str(strict), "--at", AT)
    code2, replayed, err = _replay(offline, pack, strict)
    assert direct is not None and replayed is not None, err
    assert code2 == code
    _same_report(direct, replayed)


@pytest.fixture(scope="module")
def signed_pack(
    registry_server: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, str]:
    """A pack of legacy-p256 (cosign tags) verified from the registry: (pack, policy, digest)."""
    tmp_path = tmp_path_factory.mktemp("signed-pack")
    repository = f"t/evidence-tamper-{os.urandom(2).hex()}"
    digest = push_layout(registry_server.url, SIGNED / "legacy-p256", repository)["1"]
    policy = _signed_policy(tmp_path, "release", SIGNED / "keys" / "p256.pub")
    pack = tmp_path / "pack"
    ref = f"{registry_server.host}/{repository}:1"
    code = main(["verify", ref, "--policy", str(policy), "--evidence", str(pack), "--at", AT])
    assert code == 0
    return pack, policy, digest


def _tamper_targets(pack: Path) -> list[str]:
    """One blob of each kind: the index, a platform manifest, an attestation layer, the cosign
    tag's manifest and layer, the policy, the key, the report."""
    members = _pack_members(pack)
    index = json.loads(_blob(pack, members["subject"][0]["digest"]).read_bytes())
    platform = json.loads(_blob(pack, index["manifests"][0]["digest"]).read_bytes())
    attestation_manifest = next(
        d
        for d in index["manifests"]
        if d.get("annotations", {}).get("vnd.docker.reference.type") == "attestation-manifest"
    )
    attestation = json.loads(_blob(pack, attestation_manifest["digest"]).read_bytes())
    cosign = members["tag"][0]
    cosign_manifest = json.loads(_blob(pack, cosign["digest"]).read_bytes())
    out = [
        members["subject"][0]["digest"],
        index["manifests"][0]["digest"],
        platform["config"]["digest"],
        attestation["layers"][0]["digest"],
        cosign["digest"],
        cosign_manifest["layers"][0]["digest"],
    ]
    for role in ("policy", "key", "report"):
        entry = members[role][0]
        out.append(json.loads(_blob(pack, entry["digest"]).read_bytes())["layers"][0]["digest"])
        out.append(entry["digest"])
    return out


def test_a_flipped_byte_in_any_blob_is_refused(
    signed_pack: tuple[Path, Path, str], tmp_path: Path, offline: list[str]
) -> None:
    pack, policy, _ = signed_pack
    targets = _tamper_targets(pack)
    assert len(set(targets)) == len(targets) == 12
    for digest in targets:
        copy = tmp_path / f"pack-{digest[7:19]}"
        shutil.copytree(pack, copy)
        path = _blob(copy, digest)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        code, report, err = _replay(offline, copy, policy)
        assert code == 3, (digest, err)
        assert digest in err, err
        assert report is not None and report["verdict"] == "error"
    code, report, err = _replay(offline, pack, policy)
    assert code == 0, err


def test_a_flipped_digest_in_index_json_is_refused(
    signed_pack: tuple[Path, Path, str], tmp_path: Path, offline: list[str]
) -> None:
    pack, policy, _ = signed_pack
    text = (pack / "index.json").read_text()
    for entry in json.loads(text)["manifests"]:
        digest = entry["digest"]
        flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
        copy = tmp_path / f"pack-{digest[7:19]}"
        shutil.copytree(pack, copy)
        (copy / "index.json").write_text(text.replace(digest, flipped))
        code, _, err = _replay(offline, copy, policy)
        assert code == 3, (digest, err)
        assert flipped in err, err


def test_at_changes_a_time_dependent_rule_on_a_registry_reference(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """i-cosign was built 2026-11-26T13:33:25Z; max-age 30d passes on 2026-12-01, fails on
    2027-06-30; the same instant as an RFC 3339 time and as a date gives the same report."""
    digest = push_layout(registry_server.url, I_COSIGN / "oci-layout", unique_repository)["1"]
    ref = f"{registry_server.host}/{unique_repository}@{digest}"
    policy = _signed_policy(tmp_path, "release", I_COSIGN / "cosign.pub", "30d")
    code, early, _ = _run(capsys, "verify", ref, "--policy", str(policy), "--at", "2026-12-01")
    assert early is not None and code == 0
    code, late, _ = _run(capsys, "verify", ref, "--policy", str(policy), "--at", "2027-06-30")
    assert late is not None and code == 1
    failing = {(r["rule"], r["platform"]) for r in late["results"] if r["status"] == "fail"}
    assert failing == {("provenance", "linux/amd64"), ("provenance", "linux/arm64")}
    message = next(r["message"] for r in late["results"] if r["status"] == "fail")
    assert "older than the allowed 30 days" in message
    _, same, _ = _run(
        capsys, "verify", ref, "--policy", str(policy), "--at", "2027-06-30T02:00:00+02:00"
    )
    assert same == {**late, "subject": same["subject"] if same else None}


def test_at_is_validated(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = _policy(tmp_path, "p", "  provenance:\n    required: true\n")
    # the last two are out of datetime's range once in UTC (were an OverflowError traceback)
    bad_times = ("2026-06-30T12:00:00", "yesterday", "2026-02-30")
    for bad in (*bad_times, "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        capsys.readouterr()
        assert main(["verify", "oci-layout://x", "--policy", str(policy), "--at", bad]) == 2
        assert "invalid time" in capsys.readouterr().err


def test_evidence_refuses_to_replace_something_else(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "p", "  provenance:\n    required: true\n")
    target = tmp_path / "notes"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    layout = FIXTURES_DIR / "real" / "a-single-min" / "oci-layout"
    code, _, err = _run(
        capsys,
        "verify",
        f"oci-layout://{layout}",
        "--policy",
        str(policy),
        "--evidence",
        str(target),
    )
    assert code == 2
    assert "not an evidence pack" in err
    assert (target / "keep.txt").read_text() == "mine"


def test_audit_writes_one_pack_per_image(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: list[str],
) -> None:
    one = push_layout(registry_server.url, SIGNED / "legacy-p256", f"{unique_repository}-a")["1"]
    two = push_layout(registry_server.url, SIGNED / "bundle-p256", f"{unique_repository}-b")["1"]
    refs = [
        f"{registry_server.host}/{unique_repository}-a:1",
        f"{registry_server.host}/{unique_repository}-b@{two}",
        f"{registry_server.host}/{unique_repository}-a@{one}",  # the same image again
    ]
    policy = _signed_policy(tmp_path, "release", SIGNED / "keys" / "p256.pub")
    packs = tmp_path / "packs"
    capsys.readouterr()
    code = main(
        [
            "audit",
            "--policy",
            str(policy),
            *refs,
            "--format",
            "jsonl",
            "--at",
            AT,
            "--evidence",
            str(packs),
            "--cache",
            str(tmp_path / "cache"),
        ]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0, lines
    assert sorted(p.name for p in packs.iterdir()) == sorted(
        {d.replace(":", "-") for d in (one, two)}
    )
    for report in lines:
        pack = packs / report["subject"]["digest"].replace(":", "-")
        rc, replayed, err = _replay(offline, pack, policy, pin="@" + report["subject"]["digest"])
        assert replayed is not None and rc == 0, err
        if "@" in report["subject"]["reference"]:
            _same_report(report, replayed)
        else:  # by tag: unsigned trust, as the replay by digest is index-bound
            assert replayed["verdict"] == report["verdict"]


def test_at_before_a_keyless_signature_was_logged_rejects_it(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The keyless bundle's Rekor entry was integrated 2026-01-15T12:01:00Z: a minute before,
    the signature did not exist (the signatures rule fails, reason signed-later); a minute
    after, it verifies. Without --at the clock is used and it verifies."""
    pytest.importorskip("sigstore")
    digest = push_layout(registry_server.url, KEYLESS / "layout", unique_repository)["1"]
    ref = f"{registry_server.host}/{unique_repository}@{digest}"
    folder = tmp_path / "keyless"
    folder.mkdir()
    for name in ("policy.yaml", "trusted_root.json"):
        (folder / name).write_bytes((KEYLESS / name).read_bytes())
    policy = str(folder / "policy.yaml")

    def signatures(*extra: str) -> tuple[int, list[tuple[str, str]]]:
        code, report, err = _run(capsys, "verify", ref, "--policy", policy, *extra)
        assert report is not None, err
        rows = [(r["status"], r["message"]) for r in report["results"] if r["rule"] == "signatures"]
        return code, rows

    code, before = signatures("--at", "2026-01-15T12:00:00Z")
    assert code == 1
    assert [status for status, _ in before] == ["fail", "fail"]
    assert all("after the evaluation time 2026-01-15T12:00:00+00:00" in m for _, m in before)
    code, after = signatures("--at", "2026-01-15T12:02:00Z")
    assert code == 0 and [status for status, _ in after] == ["pass", "pass"]
    code, now = signatures()
    assert code == 0 and now == after


def test_at_never_reads_a_verdict_cached_as_of_now(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    digest = push_layout(registry_server.url, I_COSIGN / "oci-layout", unique_repository)["1"]
    ref = f"{registry_server.host}/{unique_repository}@{digest}"
    policy = _signed_policy(tmp_path, "release", I_COSIGN / "cosign.pub", "3650d")
    cache = str(tmp_path / "cache")
    code, now, _ = _run(capsys, "verify", ref, "--policy", str(policy), "--cache", cache)
    assert code == 0 and now is not None
    code, later, _ = _run(
        capsys, "verify", ref, "--policy", str(policy), "--cache", cache, "--at", "2037-01-01"
    )
    assert code == 1 and later is not None
    assert {r["rule"] for r in later["results"] if r["status"] == "fail"} == {"provenance"}


def test_an_error_run_replaces_the_earlier_pack(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pack never outlives a later run: an image gone from the registry leaves a pack with
    the error report and nothing else."""
    digest = push_layout(registry_server.url, I_COSIGN / "oci-layout", unique_repository)["1"]
    policy = _signed_policy(tmp_path, "release", I_COSIGN / "cosign.pub")
    pack = tmp_path / "pack"
    base = f"{registry_server.host}/{unique_repository}"
    code, _, _ = _run(
        capsys, "verify", f"{base}@{digest}", "--policy", str(policy), "--evidence", str(pack)
    )
    assert code == 0 and "subject" in _pack_members(pack)
    code, report, _ = _run(
        capsys, "verify", f"{base}:gone", "--policy", str(policy), "--evidence", str(pack)
    )
    assert code == 3 and report is not None and report["verdict"] == "error"
    members = _pack_members(pack)
    assert sorted(members) == ["key", "policy", "report"]
    assert json.loads(_member_bytes(pack, members["report"][0]))["verdict"] == "error"


def test_evidence_the_run_did_not_read_is_missing_on_replay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A provenance-only run leaves g-sbom-generator's SBOM layers out of the pack: replayed
    with an sbom rule, that is an error (exit 3), never "no SBOM"."""
    layout = FIXTURES_DIR / "real" / "g-sbom-generator" / "oci-layout"
    only = _policy(tmp_path, "p", "  provenance:\n    required: true\n")
    pack = tmp_path / "pack"
    code, _, _ = _run(
        capsys, "verify", f"oci-layout://{layout}:1", "--policy", str(only), "--evidence", str(pack)
    )
    assert code == 0
    sboms = _policy(tmp_path, "s", "  sbom:\n    required: true\n")
    code, report, _ = _run(capsys, "verify", f"oci-layout://{pack}", "--policy", str(sboms))
    assert code == 3 and report is not None
    assert {(r["rule"], r["status"]) for r in report["results"]} >= {("sbom", "error")}
    assert "not found in oci-layout://" in report["results"][0]["message"]
