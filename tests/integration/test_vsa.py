"""Signed verification summaries: ``verify --format vsa [--sign-key] [--attach]`` and the ``vsa``
rule, end to end through the CLI against the real docker-registry, checked by the real cosign 2.5.

Each refusal the issue names (forged, replayed, stale, wrong policy, FAILED, unsigned) has its
own test; the summaries are attached by provcheck itself, and one by ``cosign attest``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from provcheck.attestation.signing import load_signing_key
from provcheck.cli import main
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference
from provcheck.policy.loader import load_policy
from provcheck.predicates import SLSA_VSA_V1
from provcheck.source.registry import RegistryClient
from provcheck.vsa.attach import attach_attestation
from provcheck.vsa.run import Summary, summarise_async
from tests.cosign_tool import Cosign
from tests.oci_builder import ImageBuilder, provenance_statement, spdx_statement
from tests.reference_tools import reference_tool
from tests.registry import RegistryServer

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def write_key(
    directory: Path, name: str, key: PrivateKey, password: bytes | None = None
) -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    private = directory / f"{name}.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    public = directory / f"{name}.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return KeyPair(private, public)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    where = tmp_path_factory.mktemp("vsa-keys")
    return {
        "ecdsa": write_key(where, "ecdsa", ec.generate_private_key(ec.SECP256R1())),
        "ed25519": write_key(where, "ed25519", ed25519.Ed25519PrivateKey.generate()),
        "rsa": write_key(where, "rsa", rsa.generate_private_key(65537, 2048)),
        "other": write_key(where, "other", ec.generate_private_key(ec.SECP256R1())),
    }


@dataclass(frozen=True)
class Pushed:
    repo: str
    digest: str

    @property
    def pinned(self) -> str:
        return f"{self.repo}@{self.digest}"


def push_image(
    registry: RegistryServer, repository: str, name: str = "vsa", *, tamper: bool = False
) -> Pushed:
    """A two-platform BuildKit-shaped image with max provenance and an SBOM per platform
    (``tamper``: the first provenance statement's bytes no longer match its digest)."""
    builder = ImageBuilder(name)
    image_name = f"{registry.host}/{repository}"
    for platform in ("linux/amd64", "linux/arm64"):
        entry = builder.add_platform(platform)
        builder.attest(
            entry,
            [
                provenance_statement(entry.digest, platform=platform, image=image_name),
                spdx_statement(
                    entry.digest,
                    [{"name": "zlib", "version": "1.3", "purl": "pkg:deb/debian/zlib@1.3"}],
                    platform=platform,
                    image=image_name,
                ),
            ],
        )
    built = builder.build()
    if tamper:
        layer = built.document(built.attestations[0].digest)["layers"][0]["digest"]
        forged = built.blobs[layer].replace(b"dockerfile.v0", b"dockerfile.vX")
        built = built.tampered(layer, forged)
    built.push(registry, repository, "1")
    return Pushed(image_name, built.root_digest)


FULL_POLICY = """\
apiVersion: provcheck/v1
kind: Policy
name: ci
rules:
  provenance:
    required: true
  sbom:
    required: true
"""

FAILING_POLICY = """\
apiVersion: provcheck/v1
kind: Policy
name: strict
rules:
  provenance:
    required: true
  frontend:
    allow: [docker.io/docker/dockerfile-never*]
"""


def write_policy(directory: Path, text: str, name: str = "policy.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def vsa_policy(
    directory: Path,
    pub: Path,
    *,
    policy_digest: str | None = None,
    max_age: str | None = None,
) -> Path:
    """A gate's policy with only the ``vsa`` rule; the key is copied next to it (relative)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "keys").mkdir(exist_ok=True)
    (directory / "keys" / "ci-vsa.pub").write_bytes(pub.read_bytes())
    lines = [
        "apiVersion: provcheck/v1",
        "kind: Policy",
        "name: gate",
        "rules:",
        "  vsa:",
        "    keys: [keys/ci-vsa.pub]",
    ]
    if policy_digest is not None:
        lines.append(f"    policy-digest: {policy_digest}")
    if max_age is not None:
        lines.append(f"    max-age: {max_age}")
    return write_policy(directory, "\n".join(lines) + "\n", "gate.yaml")


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_vsa(
    capsys: pytest.CaptureFixture[str],
    ref: str,
    policy: Path,
    key: Path,
    *extra: str,
) -> tuple[int, dict[str, Any]]:
    """Run ``verify --format vsa --sign-key KEY --attach``; return the code and the envelope."""
    code, out, err = run_cli(
        capsys,
        "verify",
        ref,
        "--policy",
        str(policy),
        "--format",
        "vsa",
        "--sign-key",
        str(key),
        "--attach",
        *extra,
    )
    assert out, err
    envelope: dict[str, Any] = json.loads(out)
    return code, envelope


def attach_summary(ref: str, policy: Path, key: Path, now: datetime) -> Summary:
    """Sign and attach a summary of verifying ``ref`` as if made at ``now`` (the library's
    ``now``: the command line refuses ``--at`` with ``--format vsa``)."""
    return asyncio.run(
        summarise_async(
            ref,
            load_policy(policy),
            str(policy),
            policy.read_bytes(),
            sign_key=load_signing_key(key, {}),
            attach=True,
            now=now,
        )
    )


def statement_of(envelope: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return statement


def gate(capsys: pytest.CaptureFixture[str], ref: str, policy: Path) -> tuple[int, dict[str, Any]]:
    """The gate's verification (JSON report) and its one ``vsa`` result."""
    code, out, _ = run_cli(capsys, "verify", ref, "--policy", str(policy), "--format", "json")
    doc = json.loads(out)
    (result,) = [r for r in doc["results"] if r["rule"] == "vsa"]
    return code, result


def gate_rejects(
    capsys: pytest.CaptureFixture[str], ref: str, policy: Path, reason: str, code: int = 1
) -> dict[str, Any]:
    """The gate fails ``ref`` with exit ``code`` and a ``VSA rejected (reason)`` message."""
    got, result = gate(capsys, ref, policy)
    assert (got, result["status"]) == (code, "fail")
    assert result["message"].startswith(f"VSA rejected ({reason})"), result["message"]
    return result


def attach_raw(registry: RegistryServer, pushed: Pushed, envelope: bytes) -> None:
    """Add ``envelope`` (any bytes) to the image's ``.att`` tag, as a writer of the repo can."""
    reference = ImageReference.parse(pushed.pinned)

    async def run() -> None:
        async with RegistryClient() as client:
            source = client.source(reference)
            await attach_attestation(source, Digest.parse(pushed.digest), envelope, SLSA_VSA_V1)

    asyncio.run(run())


def att_layers(registry: RegistryServer, repository: str, pushed: Pushed) -> list[dict[str, Any]]:
    """The layers of the image's cosign ``.att`` manifest, read from the registry directly."""
    import httpx

    tag = f"sha256-{pushed.digest.split(':')[1]}.att"
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    answer = httpx.get(f"{registry.url}/v2/{repository}/manifests/{tag}", headers=accept)
    answer.raise_for_status()
    layers: list[dict[str, Any]] = answer.json()["layers"]
    return layers


# -- cosign accepts what provcheck attaches; provcheck finds it -----------------------------------


@pytest.fixture(scope="module")
def cosign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cosign]:
    yield Cosign(reference_tool("cosign"), tmp_path_factory.mktemp("cosign-vsa"))


def cosign_verify(
    cosign: Cosign, pub: Path, ref: str, repository: str | None = None
) -> subprocess.CompletedProcess[str]:
    return cosign.run(
        "verify-attestation",
        "--key",
        str(pub),
        "--type",
        SLSA_VSA_V1,
        "--insecure-ignore-tlog=true",
        ref,
        repository=repository,
    )


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519", "rsa"])
def test_cosign_verifies_the_attached_vsa_and_the_rule_accepts_it(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    code, envelope = make_vsa(capsys, pushed.pinned, policy, keys[kind].private)
    assert code == 0
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = statement_of(envelope)
    assert statement["subject"] == [
        {"name": pushed.repo, "digest": {"sha256": pushed.digest.split(":")[1]}}
    ]
    assert statement["predicate"]["verificationResult"] == "PASSED"
    assert statement["predicate"]["policy"]["digest"] == {"sha256": sha256_of(policy)[7:]}

    done = cosign_verify(cosign, keys[kind].public, pushed.pinned)
    assert done.returncode == 0, done.stderr[-3000:]
    # cosign prints the verified envelope: it is the one provcheck wrote
    printed = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert statement_of(printed[0]) == statement
    wrong = cosign_verify(cosign, keys["other"].public, pushed.pinned)
    assert wrong.returncode != 0

    gate_policy = vsa_policy(tmp_path / "gate", keys[kind].public, policy_digest=sha256_of(policy))
    gate_code, result = gate(capsys, pushed.pinned, gate_policy)
    assert (gate_code, result["status"]) == (0, "pass"), result
    assert "PASSED at" in result["message"]


def test_a_vsa_attached_to_the_attestations_repository_is_where_cosign_and_the_rule_look(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--attestations-repo`` (cosign's ``COSIGN_REPOSITORY``): the summary goes there, not
    to the image's repository; cosign and the gate find it there, and only there."""
    pushed = push_image(registry_server, unique_repository)
    elsewhere = f"{registry_server.host}/{unique_repository}-attestations"
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    code, _ = make_vsa(
        capsys, pushed.pinned, policy, keys["ecdsa"].private, "--attestations-repo", elsewhere
    )
    assert code == 0
    assert len(att_layers(registry_server, f"{unique_repository}-attestations", pushed)) == 1
    with pytest.raises(httpx.HTTPStatusError, match="404"):
        att_layers(registry_server, unique_repository, pushed)
    done = cosign_verify(cosign, keys["ecdsa"].public, pushed.pinned, repository=elsewhere)
    assert done.returncode == 0, done.stderr[-3000:]

    gate_policy = vsa_policy(tmp_path / "gate", keys["ecdsa"].public)
    code, out, _ = run_cli(
        capsys, "verify", pushed.pinned, "--policy", str(gate_policy), "--format", "json",
        "--attestations-repo", elsewhere,
    )  # fmt: skip
    (result,) = [r for r in json.loads(out)["results"] if r["rule"] == "vsa"]
    assert (code, result["status"]) == (0, "pass"), result
    assert gate(capsys, pushed.pinned, gate_policy)[1]["status"] == "fail"


def test_inspect_lists_the_attached_vsa_and_attaching_again_appends(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path, FULL_POLICY)
    make_vsa(capsys, pushed.pinned, policy, keys["ecdsa"].private)
    make_vsa(capsys, pushed.pinned, policy, keys["ed25519"].private)
    code, out, err = run_cli(capsys, "inspect", pushed.pinned, "--format", "json")
    assert code == 0, err
    text = json.dumps(json.loads(out))
    assert text.count(SLSA_VSA_V1) >= 2, text[:3000]
    # the first summary was kept: cosign still verifies it with the first key, and the second
    for kind in ("ecdsa", "ed25519"):
        done = cosign_verify(cosign, keys[kind].public, pushed.pinned)
        assert done.returncode == 0, done.stderr[-3000:]
    assert len(att_layers(registry_server, unique_repository, pushed)) == 2
    # a key's next summary replaces its own earlier one, not the other key's
    _, latest = make_vsa(capsys, pushed.pinned, policy, keys["ecdsa"].private)
    layers = att_layers(registry_server, unique_repository, pushed)
    assert len(layers) == 2
    assert (
        layers[-1]["digest"]
        == "sha256:"
        + hashlib.sha256(
            json.dumps(latest, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    )
    for kind in ("ecdsa", "ed25519"):
        assert cosign_verify(cosign, keys[kind].public, pushed.pinned).returncode == 0


def test_cosign_attest_of_a_vsa_predicate_is_accepted_by_the_rule(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Interop: a VSA written by provcheck (unsigned statement), attested by the real cosign."""
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    code, out, _ = run_cli(
        capsys, "verify", pushed.pinned, "--policy", str(policy), "--format", "vsa"
    )
    assert code == 0
    predicate = tmp_path / "vsa.json"
    predicate.write_text(json.dumps(json.loads(out)["predicate"]))
    made = cosign.run("generate-key-pair", "--output-key-prefix", "interop")
    assert made.returncode == 0, made.stderr
    done = cosign.run(
        "attest",
        "--key",
        str(cosign.home / "interop.key"),
        "--type",
        SLSA_VSA_V1,
        "--predicate",
        str(predicate),
        "--tlog-upload=false",
        pushed.pinned,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    gate_policy = vsa_policy(tmp_path / "gate", cosign.home / "interop.pub", max_age="1h")
    gate_code, result = gate(capsys, pushed.pinned, gate_policy)
    assert (gate_code, result["status"]) == (0, "pass"), result
    # provcheck appends its own summary to cosign's .att manifest: cosign's stays valid
    make_vsa(capsys, pushed.pinned, policy, keys["ed25519"].private)
    for pub in (cosign.home / "interop.pub", keys["ed25519"].public):
        verified = cosign_verify(cosign, pub, pushed.pinned)
        assert verified.returncode == 0, verified.stderr[-3000:]
    assert gate(capsys, pushed.pinned, gate_policy)[1]["status"] == "pass"


# -- refusals, one each ---------------------------------------------------------------------------


def test_forged_vsa_signed_by_an_unknown_key_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    make_vsa(capsys, pushed.pinned, policy, keys["other"].private)
    gate_rejects(
        capsys, pushed.pinned, vsa_policy(tmp_path / "gate", keys["ecdsa"].public), "forged"
    )


def test_forged_vsa_with_a_tampered_payload_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A FAILED summary rewritten to PASSED keeps its signature, which no longer verifies."""
    pushed = push_image(registry_server, unique_repository)
    failing = write_policy(tmp_path / "ci", FAILING_POLICY)
    code, out, _ = run_cli(
        capsys,
        "verify",
        pushed.pinned,
        "--policy",
        str(failing),
        "--format",
        "vsa",
        "--sign-key",
        str(keys["ecdsa"].private),
    )
    assert code == 1
    envelope = json.loads(out)
    statement = statement_of(envelope)
    statement["predicate"]["verificationResult"] = "PASSED"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    attach_raw(registry_server, pushed, json.dumps(envelope).encode())
    gate_rejects(
        capsys, pushed.pinned, vsa_policy(tmp_path / "gate", keys["ecdsa"].public), "forged"
    )


def test_replayed_vsa_of_another_digest_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A genuine PASSED summary of image B copied into image A's ``.att`` tag."""
    a = push_image(registry_server, unique_repository, "a")
    b = push_image(registry_server, unique_repository + "-b", "b")
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    _, envelope_b = make_vsa(capsys, b.pinned, policy, keys["ecdsa"].private)
    attach_raw(registry_server, a, json.dumps(envelope_b).encode())
    # a statement bound to another image voids evidence, as everywhere: exit 3
    gate_rejects(
        capsys, a.pinned, vsa_policy(tmp_path / "gate", keys["ecdsa"].public), "replayed", code=3
    )


def test_stale_vsa_fails_max_age(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    summary = attach_summary(pushed.pinned, policy, keys["ecdsa"].private, three_hours_ago)
    assert summary.attached is not None
    gate_policy = vsa_policy(tmp_path / "gate", keys["ecdsa"].public, max_age="2h")
    gate_rejects(capsys, pushed.pinned, gate_policy, "stale")
    # the same summary is fresh enough for a gate that allows a day
    lenient = vsa_policy(tmp_path / "lenient", keys["ecdsa"].public, max_age="1d")
    assert gate(capsys, pushed.pinned, lenient)[1]["status"] == "pass"


def test_vsa_from_the_future_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
) -> None:
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    attach_summary(
        pushed.pinned, policy, keys["ecdsa"].private, datetime.now(UTC) + timedelta(hours=1)
    )
    from provcheck.api import verify_image
    from provcheck.report.model import Status

    report = verify_image(pushed.pinned, load_policy(vsa_policy(tmp_path, keys["ecdsa"].public)))
    (result,) = [r for r in report.results if r.rule == "vsa"]
    assert result.status is Status.FAIL
    assert result.message.startswith("VSA rejected (future)"), result.message


def test_vsa_for_another_policy_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    lax = write_policy(tmp_path / "lax", FULL_POLICY.replace("  sbom:\n    required: true\n", ""))
    required = write_policy(tmp_path / "ci", FULL_POLICY)
    make_vsa(capsys, pushed.pinned, lax, keys["ecdsa"].private)
    gate_policy = vsa_policy(
        tmp_path / "gate", keys["ecdsa"].public, policy_digest=sha256_of(required)
    )
    result = gate_rejects(capsys, pushed.pinned, gate_policy, "wrong-policy")
    assert sha256_of(required) in result["message"]


def test_failed_vsa_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    failing = write_policy(tmp_path / "ci", FAILING_POLICY)
    code, envelope = make_vsa(capsys, pushed.pinned, failing, keys["ecdsa"].private)
    assert code == 1  # the exit code follows the verdict; the summary records it
    predicate = statement_of(envelope)["predicate"]
    assert (predicate["verificationResult"], predicate["verifiedLevels"]) == ("FAILED", [])
    gate_rejects(
        capsys, pushed.pinned, vsa_policy(tmp_path / "gate", keys["ecdsa"].public), "failed"
    )


def test_an_error_verdict_exits_3_and_its_summary_says_failed(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository, tamper=True)
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    code, envelope = make_vsa(capsys, pushed.pinned, policy, keys["ecdsa"].private)
    assert code == 3
    predicate = statement_of(envelope)["predicate"]
    assert (predicate["verificationResult"], predicate["verifiedLevels"]) == ("FAILED", [])
    gate_rejects(
        capsys, pushed.pinned, vsa_policy(tmp_path / "gate", keys["ecdsa"].public), "failed"
    )


def test_unsigned_vsa_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    code, out, _ = run_cli(
        capsys, "verify", pushed.pinned, "--policy", str(policy), "--format", "vsa"
    )
    assert code == 0
    unsigned = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(out.strip().encode()).decode(),
        "signatures": [],
    }
    attach_raw(registry_server, pushed, json.dumps(unsigned).encode())
    gate_rejects(
        capsys, pushed.pinned, vsa_policy(tmp_path / "gate", keys["ecdsa"].public), "unsigned"
    )


def test_no_vsa_at_all_fails(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    code, result = gate(capsys, pushed.pinned, vsa_policy(tmp_path, keys["ecdsa"].public))
    assert (code, result["status"]) == (1, "fail")
    assert "(missing;" in result["message"]


# -- the fast path -------------------------------------------------------------------------------


def test_a_vsa_only_policy_fetches_no_attestation_layer(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    mark = registry_server.mark()
    make_vsa(capsys, pushed.pinned, policy, keys["ecdsa"].private)
    full = [e for e in registry_server.requests_since(mark) if e.method == "GET"]
    mark = registry_server.mark()
    code, result = gate(capsys, pushed.pinned, vsa_policy(tmp_path / "gate", keys["ecdsa"].public))
    assert (code, result["status"]) == (0, "pass")
    fast = registry_server.requests_since(mark)
    blobs = [e.path for e in fast if "/blobs/" in e.path]
    # one blob: the summary's envelope (no provenance, SBOM or config blob)
    assert len(blobs) == 1, blobs
    assert len(fast) < len(full), (fast, full)


# -- signing keys ---------------------------------------------------------------------------------


def test_encrypted_signing_key_needs_the_password_variable(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed = push_image(registry_server, unique_repository)
    policy = write_policy(tmp_path, FULL_POLICY)
    pair = write_key(tmp_path / "k", "enc", ec.generate_private_key(ec.SECP256R1()), b"s3cret-pw")
    args = ["verify", pushed.pinned, "--policy", str(policy), "--format", "vsa"]
    args += ["--sign-key", str(pair.private)]
    monkeypatch.delenv("PROVCHECK_SIGN_KEY_PASSWORD", raising=False)
    code, out, err = run_cli(capsys, *args)
    assert (code, out) == (2, "")
    assert "encrypted" in err and "PROVCHECK_SIGN_KEY_PASSWORD" in err
    monkeypatch.setenv("PROVCHECK_SIGN_KEY_PASSWORD", "wrong")
    code, out, err = run_cli(capsys, *args)
    assert (code, out) == (2, "")
    assert "s3cret" not in err and "wrong" in err  # "(or the password is wrong)"
    monkeypatch.setenv("PROVCHECK_SIGN_KEY_PASSWORD", "s3cret-pw")
    code, out, _ = run_cli(capsys, *args)
    assert code == 0
    assert json.loads(out)["signatures"]


# -- the command line -----------------------------------------------------------------------------

LAYOUT = "oci-layout://fixtures/real/g-sbom-generator/oci-layout:1"
BASELINE = "policies/baseline.yaml"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--sign-key", "{key}"], "go with --format vsa"),
        (["--attach"], "go with --format vsa"),
        (["--format", "vsa", "--attach"], "--attach needs --sign-key"),
        (["--format", "vsa", "--sign-key", "{key}", "--attach"], "needs a registry reference"),
        (["--format", "vsa", "--key", "{pub}"], "--key/--trusted-root"),
        (["--format", "vsa", "--platform", "linux/amd64"], "--platform cannot narrow it"),
        (["--format", "vsa", "--cache", "{tmp}"], "--cache none"),
        (["--format", "vsa", "--at", "2026-06-30"], "when the verification ran"),
    ],
)
def test_options_that_do_not_fit_a_summary_are_usage_errors(
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    expected: str,
) -> None:
    from tests.paths import REPO_ROOT

    monkeypatch.chdir(REPO_ROOT)
    filled = [
        e.format(key=keys["ecdsa"].private, pub=keys["ecdsa"].public, tmp=tmp_path) for e in extra
    ]
    code, out, err = run_cli(capsys, "verify", LAYOUT, "--policy", BASELINE, *filled)
    assert (code, out) == (2, "")
    assert expected in err, err


def test_output_file_is_replaced_and_removed_by_a_run_that_cannot_verify(
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.paths import REPO_ROOT

    monkeypatch.chdir(REPO_ROOT)
    output = tmp_path / "vsa.json"
    args = ["verify", LAYOUT, "--policy", BASELINE, "--format", "vsa", "--output", str(output)]
    code, out, err = run_cli(capsys, *args, "--sign-key", str(keys["ed25519"].private))
    assert (code, out) == (0, "")
    assert "summary written to" in err
    assert statement_of(json.loads(output.read_text()))["predicateType"] == SLSA_VSA_V1
    missing = "oci-layout://fixtures/real/no-such-case/oci-layout:1"
    code, _, _ = run_cli(capsys, "verify", missing, *args[2:])
    assert code in (2, 3)
    assert not output.exists()  # no stale summary is left behind


def test_a_vsa_pass_is_cached_within_max_age_and_a_fail_never(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pass is kept until the summary gets older than ``max-age`` (within the stores' hour;
    tests/integration/test_admission_vsa.py checks the expiry); a fail is looked at again on
    every run, so that a summary attached after it counts at once."""
    pushed = push_image(registry_server, unique_repository)
    gate_policy = vsa_policy(tmp_path / "gate", keys["ecdsa"].public, max_age="1d")
    args = ["verify", pushed.pinned, "--policy", str(gate_policy), "--cache", str(tmp_path / "c")]
    assert run_cli(capsys, *args)[0] == 1  # no summary yet
    make_vsa(
        capsys, pushed.pinned, write_policy(tmp_path / "ci", FULL_POLICY), keys["ecdsa"].private
    )
    assert run_cli(capsys, *args)[0] == 0  # the fail was not kept
    mark = registry_server.mark()
    assert run_cli(capsys, *args)[0] == 0
    assert registry_server.requests_since(mark) == [], "the pass was not answered from the cache"


def test_the_vsa_rule_keeps_its_own_keys_beside_a_signatures_rule(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The summary's key is trusted by the vsa rule only: the signatures rule (another key)
    neither accepts it as a signed attestation nor hides it from the vsa rule."""
    pushed = push_image(registry_server, unique_repository)
    make_vsa(
        capsys, pushed.pinned, write_policy(tmp_path / "ci", FULL_POLICY), keys["ecdsa"].private
    )
    gate_policy = vsa_policy(tmp_path / "gate", keys["ecdsa"].public)
    (tmp_path / "gate" / "keys" / "other.pub").write_bytes(keys["other"].public.read_bytes())
    gate_policy.write_text(gate_policy.read_text() + "  signatures:\n    keys: [keys/other.pub]\n")
    code, out, _ = run_cli(
        capsys, "verify", pushed.pinned, "--policy", str(gate_policy), "--format", "json"
    )
    doc = json.loads(out)
    statuses = {(r["rule"], r["status"]) for r in doc["results"]}
    assert ("vsa", "pass") in statuses
    assert ("signatures", "fail") in statuses
    assert code == 1


# -- the write path through TLS and basic auth ----------------------------------------------------


def test_attach_pushes_with_credentials_over_tls(
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A TLS + htpasswd registry: the uploads and the manifest PUT authenticate like reads, and
    the password is never printed."""
    import ssl

    import bcrypt
    import httpx
    import trustme

    from tests.conftest import require_docker_registry
    from tests.oci_push import push_layout
    from tests.paths import REAL_DIR

    require_docker_registry()
    user, password = "ci", "push-Pa55word-never-printed"
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.3")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "htpasswd").write_text(f"{user}:{hashed}\n")
    server = RegistryServer(
        tmp_path / "registry",
        htpasswd=tmp_path / "htpasswd",
        tls_cert=tmp_path / "cert.pem",
        tls_key=tmp_path / "key.pem",
        bind_host="127.0.0.3",
    )
    verify = ssl.create_default_context(cafile=tmp_path / "ca.pem")
    with server, httpx.Client(auth=(user, password), verify=verify) as client:
        layout = REAL_DIR / "g-sbom-generator" / "oci-layout"
        digest = push_layout(server.url, layout, "lab/g", client=client, tags=["1"])["1"]
        docker = tmp_path / "docker"
        docker.mkdir()
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        (docker / "config.json").write_text(json.dumps({"auths": {server.host: {"auth": auth}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(docker))
        ref = f"{server.host}/lab/g@{digest}"
        policy = write_policy(tmp_path / "ci", FULL_POLICY)
        ca_file = str(tmp_path / "ca.pem")
        code, envelope = make_vsa(capsys, ref, policy, keys["ecdsa"].private, "--ca-file", ca_file)
        assert code == 0
        gate_policy = vsa_policy(tmp_path / "gate", keys["ecdsa"].public)
        code, out, err = run_cli(
            capsys, "verify", ref, "--policy", str(gate_policy), "--ca-file", ca_file
        )
        assert code == 0, err
        assert password not in out + err
        pushes = [e for e in server.access_log_lines() if e.method in ("POST", "PUT")]
        assert {e.status for e in pushes} <= {401, 201, 202} and any(
            e.status == 201 for e in pushes
        )
    assert statement_of(envelope)["subject"][0]["digest"] == {"sha256": digest.split(":")[1]}


@pytest.mark.parametrize("size", [100 << 20, 1 << 40], ids=["100MiB", "1TiB"])
def test_attach_keeps_a_hostile_att_layer_it_cannot_read_and_does_not_trust_it(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    size: int,
) -> None:
    """A writer of the repository left in the ``.att`` tag a layer that claims to be a VSA but
    declares ``size`` (over the cap of one attestation): verifying does not count it against
    the image's 1 GiB budget (it is never fetched: 1 TiB refused the whole image), attaching
    neither fails on it (it cannot be the signer's own summary to supersede) nor drops it, and
    the gate accepts only the signer's summary."""
    from tests.oci_push import push_blob as push_raw_blob
    from tests.oci_push import push_manifest as push_raw_manifest

    pushed = push_image(registry_server, unique_repository)
    small = push_raw_blob(registry_server.url, unique_repository, b'{"payload":"x"}')
    config = push_raw_blob(registry_server.url, unique_repository, b"{}")
    hostile = {
        "mediaType": "application/vnd.dsse.envelope.v1+json",
        "digest": small,
        "size": size,
        "annotations": {"predicateType": SLSA_VSA_V1, "x-hostile": "kept"},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config,
            "size": 2,
        },
        "layers": [hostile],
    }
    tag = f"sha256-{pushed.digest.split(':')[1]}.att"
    push_raw_manifest(
        registry_server.url,
        unique_repository,
        tag,
        json.dumps(manifest).encode(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    policy = write_policy(tmp_path / "ci", FULL_POLICY)
    code, _ = make_vsa(capsys, pushed.pinned, policy, keys["ecdsa"].private)
    assert code == 0
    layers = att_layers(registry_server, unique_repository, pushed)
    assert layers[0] == hostile and len(layers) == 2
    code, result = gate(capsys, pushed.pinned, vsa_policy(tmp_path / "gate", keys["ecdsa"].public))
    assert result["status"] == "pass", result["message"]


def test_the_gate_keeps_no_vsa_verdict_in_memory_past_its_max_age(
    registry_server: RegistryServer,
    unique_repository: str,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A ``vsa`` rule with ``max-age`` judges by the clock: once the summary is older than
    ``max-age``, the next review is denied, not answered from the gate's in-memory verdict
    (10 s) nor from the cache. The summary is made 1 day minus 8 s ago (the library's ``now``:
    the command line refuses ``--at`` with ``--format vsa``)."""
    from provcheck.admission import Decision, Gate
    from provcheck.cache import open_cache
    from provcheck.source.registry import RegistryOptions
    from tests import admission_docs as docs

    pushed = push_image(registry_server, unique_repository)
    made = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1) + timedelta(seconds=8)
    ci = write_policy(tmp_path / "ci", FULL_POLICY)
    attach_summary(pushed.pinned, ci, keys["ecdsa"].private, made)
    path = vsa_policy(tmp_path / "gate", keys["ecdsa"].public, max_age="1d")

    async def run() -> tuple[Decision, datetime, Decision]:
        cache = open_cache(str(tmp_path / "cache"))
        gate = Gate(load_policy(path), path.read_bytes(), cache, registry=RegistryOptions())
        body = docs.body(docs.pod_create([pushed.pinned]))
        try:
            first = (await gate.review(body, mutate=False)).decision
            answered = datetime.now(UTC)
            stale = made + timedelta(days=1, seconds=1)
            await asyncio.sleep(max((stale - datetime.now(UTC)).total_seconds(), 0.0))
            return first, answered, (await gate.review(body, mutate=False)).decision
        finally:
            await gate.aclose()

    first, answered, second = asyncio.run(run())
    assert second is Decision.DENIED
    if answered < made + timedelta(days=1):  # the first review ran before it went stale
        assert first is Decision.ALLOWED
