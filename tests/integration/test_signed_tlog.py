"""Transparency-log entries end to end, offline: an image with a cosign ``.att`` (intoto v0.0.2
entry in the ``dev.sigstore.cosign/bundle`` annotation), a ``.sig`` (hashedrekord entry) and a
sigstore bundle v0.3 referrer (dsse entry with inclusion proof and checkpoint), all logged in the
stand-in Rekor of fixtures/signed/tlog/rekor_sim.py, verified with and without its trusted root.

No real cosign artifact with a Rekor entry exists in the fixtures: fixtures/signed was made with
``--tlog-upload=false`` (no entries), and Rekor cannot be reached from the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from provcheck.api import inspect_image, verify_image
from provcheck.attestation.keys import parse_public_key
from provcheck.attestation.signatures import SignedObject, TlogStatus, TrustConfig
from provcheck.attestation.tlog import load_trusted_root
from provcheck.cli import main
from provcheck.discovery.options import DiscoveryOptions
from provcheck.policy.loader import load_policy
from provcheck.report.model import Report, Status, Verdict
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.oci_push import push_layout
from tests.paths import FIXTURES_DIR, load_script
from tests.reference_tools import reference_tool
from tests.registry import RegistryServer

SIM_PATH = FIXTURES_DIR / "signed" / "tlog" / "rekor_sim.py"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SLSA02 = "https://slsa.dev/provenance/v0.2"
REPO = "example.test/app"


sim = load_script(SIM_PATH, "rekor_sim")


def _write_blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _tag(layout: Path, tag: str, manifest: dict[str, Any], media_type: str) -> None:
    desc = _write_blob(layout, sim.compact(manifest))
    index = json.loads((layout / "index.json").read_text())
    index["manifests"].append(
        {"mediaType": media_type, **desc, "annotations": {"org.opencontainers.image.ref.name": tag}}
    )
    (layout / "index.json").write_text(json.dumps(index))


def _statement(index_digest: str) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SLSA02,
        "subject": [{"name": REPO, "digest": {"sha256": index_digest.split(":")[1]}}],
        "predicate": provenance_statement("sha256:" + "0" * 64)["predicate"],
    }


def _empty_config(layout: Path) -> dict[str, Any]:
    return {"mediaType": "application/vnd.oci.image.config.v1+json", **_write_blob(layout, b"{}")}


def build_case(out: Path, rekor: Any, variant: str = "good") -> dict[str, Path | str]:
    """Write the image layout, the trusted root and the signer's key under ``out``.

    ``variant``: ``good``; ``bad-set`` (one byte of every SET flipped); ``other-envelope`` (every
    entry, validly promised, describes other content); ``wrong-logid`` (the entries name a log
    the trusted root does not have); ``bad-proof`` (one hash of the bundle's inclusion proof
    flipped).
    """
    signer = ec.generate_private_key(ec.SECP256R1())
    pem = sim.public_pem(signer)
    builder = ImageBuilder("tlog")
    amd64 = builder.add_platform("linux/amd64")
    builder.attest(amd64, [provenance_statement(amd64.digest, platform="linux/amd64")])
    image = builder.build()
    layout = image.write_layout(out / "layout")
    index_digest = image.root_digest
    hex_ = index_digest.split(":")[1]
    envelope = sim.sign_envelope(signer, _statement(index_digest))
    other = sim.sign_envelope(signer, {**_statement(index_digest), "predicate": {"other": 1}})

    def annotate(body: bytes) -> str:
        text: str = rekor.cosign_annotation(body)
        doc = json.loads(text)
        if variant == "bad-set":
            raw = bytearray(sim.base64.b64decode(doc["SignedEntryTimestamp"]))
            raw[-1] ^= 1
            doc["SignedEntryTimestamp"] = sim.b64(bytes(raw))
        elif variant == "wrong-logid":
            log_id = hashlib.sha256(b"another log").hexdigest()
            payload = doc["Payload"]
            sets = rekor.sign_set(
                payload["body"], payload["integratedTime"], payload["logIndex"], log_id
            )
            doc = {"SignedEntryTimestamp": sim.b64(sets), "Payload": {**payload, "logID": log_id}}
        return json.dumps(doc)

    # cosign .att: intoto v0.0.2 entry of the envelope bytes
    att_body = sim.intoto_v002_body(other if variant == "other-envelope" else envelope, pem)
    att_layer = {
        "mediaType": "application/vnd.dsse.envelope.v1+json",
        **_write_blob(layout, envelope),
        "annotations": {
            "dev.cosignproject.cosign/signature": "",
            "predicateType": SLSA02,
            "dev.sigstore.cosign/bundle": annotate(att_body),
        },
    }
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": _empty_config(layout)}
    _tag(layout, f"sha256-{hex_}.att", {**manifest, "layers": [att_layer]}, OCI_MANIFEST)

    # cosign .sig: hashedrekord entry of the simple-signing payload
    payload = sim.compact(
        {
            "critical": {
                "identity": {"docker-reference": REPO},
                "image": {"docker-manifest-digest": index_digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )
    signature = signer.sign(payload, ec.ECDSA(hashes.SHA256()))
    sig_body = sim.hashedrekord_body(
        payload + b" " if variant == "other-envelope" else payload, signature, pem
    )
    sig_layer = {
        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
        **_write_blob(layout, payload),
        "annotations": {
            "dev.cosignproject.cosign/signature": sim.b64(signature),
            "dev.sigstore.cosign/bundle": annotate(sig_body),
        },
    }
    _tag(layout, f"sha256-{hex_}.sig", {**manifest, "layers": [sig_layer]}, OCI_MANIFEST)

    # sigstore bundle v0.3 referrer (fallback tag): dsse entry with proof and checkpoint
    entry = rekor.bundle_entry(
        sim.dsse_v001_body(other if variant == "other-envelope" else envelope, pem)
    )
    if variant == "bad-set":
        raw = bytearray(sim.base64.b64decode(entry["inclusionPromise"]["signedEntryTimestamp"]))
        raw[-1] ^= 1
        entry["inclusionPromise"]["signedEntryTimestamp"] = sim.b64(bytes(raw))
    elif variant == "bad-proof":
        first = bytearray(sim.base64.b64decode(entry["inclusionProof"]["hashes"][0]))
        first[0] ^= 1
        entry["inclusionProof"]["hashes"][0] = sim.b64(bytes(first))
    hint = parse_public_key(pem).hint
    bundle = sim.key_bundle(envelope, [entry], hint)
    referrer = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", **_write_blob(layout, b"{}")},
        "layers": [{"mediaType": BUNDLE, **_write_blob(layout, bundle)}],
        "subject": {
            "mediaType": image.media_type,
            "digest": index_digest,
            "size": len(image.root_bytes),
        },
        "annotations": {"dev.sigstore.bundle.predicateType": SLSA02},
    }
    referrer_desc = _write_blob(layout, sim.compact(referrer))
    fallback = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, **referrer_desc, "artifactType": BUNDLE}],
    }
    _tag(layout, f"sha256-{hex_}", fallback, OCI_INDEX)

    (out / "trusted_root.json").write_text(json.dumps(rekor.trusted_root()))
    (out / "signer.pub").write_bytes(pem)
    return {"layout": layout, "root": out / "trusted_root.json", "key": out / "signer.pub"}


def _policy(out: Path, tlog: str, root: Path | None) -> Path:
    path = out / "policy.yaml"
    extra = f"    trusted-root: {root.name}\n" if root is not None else ""
    path.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  signatures:\n"
        f"    required: true\n    keys: [signer.pub]\n    tlog: {tlog}\n{extra}"
    )
    return path


def _verify(case: dict[str, Path | str], tlog: str, *, root: bool) -> Report:
    out = Path(case["key"]).parent
    policy = _policy(out, tlog, Path(case["root"]) if root else None)
    return verify_image(f"oci-layout://{case['layout']}:1", load_policy(policy))


def _signed(case: dict[str, Path | str], *, root: bool) -> list[SignedObject]:
    key = parse_public_key(Path(case["key"]).read_bytes(), "signer.pub")
    trusted_root = load_trusted_root(Path(case["root"])) if root else None
    trust = TrustConfig((key,), trusted_root=trusted_root)
    found = inspect_image(
        f"oci-layout://{case['layout']}:1",
        options=DiscoveryOptions(signature_stores=True, trust=trust),
    )
    return sorted(found.signed, key=lambda s: s.origin)


def _messages(report: Report) -> list[str]:
    return [r.message for r in report.results if r.rule == "signatures"]


@pytest.fixture
def good(tmp_path: Path) -> dict[str, Path | str]:
    return build_case(tmp_path, sim.FakeRekor())


def test_every_entry_verifies_with_the_trusted_root(good: dict[str, Path | str]) -> None:
    signed = _signed(good, root=True)
    assert len(signed) == 3  # .att, .sig, bundle
    for obj in signed:
        assert obj.check.accepted, obj
        assert obj.check.tlog is TlogStatus.VERIFIED, obj
    report = _verify(good, "required", root=True)
    assert report.verdict is Verdict.PASS, _messages(report)


def test_cli_trusted_root_flag(
    good: dict[str, Path | str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = Path(good["key"]).parent
    policy = _policy(out, "required", None)
    ref = f"oci-layout://{good['layout']}:1"
    assert main(["verify", ref, "--policy", str(policy)]) == 1
    capsys.readouterr()
    code = main(["verify", ref, "--policy", str(policy), "--trusted-root", str(good["root"])])
    assert code == 0, capsys.readouterr()


def test_required_without_a_trusted_root_says_so(good: dict[str, Path | str]) -> None:
    report = _verify(good, "required", root=False)
    assert report.verdict is Verdict.FAIL
    for message in _messages(report):
        assert "no trusted root with Rekor keys was given" in message, message


def test_optional_without_a_trusted_root_is_accepted_unverified(
    good: dict[str, Path | str],
) -> None:
    report = _verify(good, "optional", root=False)
    assert report.verdict is Verdict.PASS, _messages(report)
    for obj in _signed(good, root=False):
        assert obj.check.accepted
        assert obj.check.tlog is TlogStatus.UNVERIFIED


@pytest.mark.parametrize(
    ("variant", "why", "origins"),
    [
        ("bad-set", "signed entry timestamp does not verify", 3),
        ("other-envelope", "is for another", 3),
        ("wrong-logid", "is not a log of the trusted root", 2),  # .att and .sig; bundle kept
        ("bad-proof", "inclusion proof does not lead to its root hash", 1),
    ],
)
def test_a_bad_entry_rejects_the_signature_whatever_the_policy(
    tmp_path: Path, variant: str, why: str, origins: int
) -> None:
    case = build_case(tmp_path, sim.FakeRekor(), variant)
    rejected = [s for s in _signed(case, root=True) if not s.check.accepted]
    assert len(rejected) == origins, [s.check for s in _signed(case, root=True)]
    for obj in rejected:
        reasons = "; ".join(obj.check.messages)
        assert "transparency-log entry does not verify" in reasons, reasons
        assert why in reasons, reasons
    if origins == 3:  # nothing left to satisfy the rule, even with `tlog: optional`
        report = _verify(case, "optional", root=True)
        assert report.verdict is Verdict.FAIL
        assert all("transparency-log entry does not verify" in m for m in _messages(report)), (
            _messages(report)
        )


def test_integrated_time_outside_the_key_validity(tmp_path: Path) -> None:
    rekor = sim.FakeRekor()
    case = build_case(tmp_path, rekor)
    Path(case["root"]).write_text(
        json.dumps(rekor.trusted_root("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"))
    )
    for obj in _signed(case, root=True):
        assert not obj.check.accepted
        assert "is outside the validity of log key" in "; ".join(obj.check.messages)
    report = _verify(case, "optional", root=True)
    assert [r.status for r in report.results if r.rule == "signatures"] == [Status.FAIL]


def test_verification_with_a_trusted_root_does_no_network_io(
    good: dict[str, Path | str], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    def refuse(self: socket.socket | None, address: object) -> None:
        attempts.append(address)
        raise OSError("network access blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))
    report = _verify(good, "required", root=True)
    assert report.verdict is Verdict.PASS
    assert all(s.check.tlog is TlogStatus.VERIFIED for s in _signed(good, root=True))
    assert attempts == []


@pytest.mark.parametrize("variant", ["good", "bad-set", "other-envelope"])
def test_real_cosign_agrees_offline(
    registry_server: RegistryServer, unique_repository: str, tmp_path: Path, variant: str
) -> None:
    """cosign 2.5 checks the same fixture offline (SIGSTORE_REKOR_PUBLIC_KEY = the stand-in
    log's key): it accepts the good entries and rejects what provcheck rejects."""
    cosign = reference_tool("cosign")
    rekor = sim.FakeRekor()
    case = build_case(tmp_path / "case", rekor, variant)
    rekor_pub = tmp_path / "rekor.pub"
    rekor_pub.write_bytes(
        rekor.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    root = json.loads((Path(case["layout"]) / "index.json").read_text())["manifests"][0]["digest"]
    push_layout(registry_server.url, Path(case["layout"]), unique_repository)
    ref = f"{registry_server.host}/{unique_repository}@{root}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "SIGSTORE_REKOR_PUBLIC_KEY": str(rekor_pub),
    }
    good = variant == "good"
    tags = [s.check.accepted for s in _signed(case, root=True) if s.origin == "cosign-tag"]
    assert tags == [good, good]  # provcheck on the .att and the .sig
    flags = ("--offline", "--allow-http-registry", "--insecure-ignore-sct")
    for command in (["verify-attestation", "--type", "slsaprovenance"], ["verify"]):
        done = subprocess.run(
            [str(cosign), *command, "--key", str(case["key"]), *flags, ref],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert (done.returncode == 0) is good, done.stderr[-2000:]
