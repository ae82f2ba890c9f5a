"""Hostile attestations planted next to valid ones (issue 14.6), through the real CLI: each is a
reported problem for that one piece of evidence, the valid evidence is still evaluated, and the
process never dies with a traceback (exit 1 from Python)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provcheck.attestation.cosign import BUNDLE_ANNOTATION
from provcheck.cli import main
from tests.integration import test_signed_tlog as signed_tlog
from tests.oci_builder import ImageBuilder, dsse_envelope, provenance_statement, spdx_statement

DEEP = "[" * 100_000 + "]" * 100_000


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _warnings(err: str) -> list[str]:
    """The warning lines of stderr; besides them only the verdict line of a report format."""
    lines = [line for line in err.splitlines() if not line.startswith("provcheck: verdict: ")]
    assert all(line.startswith("provcheck: warning: ") for line in lines), err
    return lines


def _in_index_layout(tmp_path: Path) -> str:
    """linux/amd64 with valid provenance and SBOM, and beside them in the index: a statement
    whose ``_type`` is a list, an SPDX SBOM whose ``referenceCategory`` is an object, and a DSSE
    layer whose ``dev.sigstore.cosign/bundle`` annotation nests 100,000 levels."""
    builder = ImageBuilder("hostile")
    entry = builder.add_platform("linux/amd64")
    valid = provenance_statement(entry.digest)
    sbom = spdx_statement(entry.digest, [{"name": "zlib", "purl": "pkg:apk/alpine/zlib@1.3"}])
    bad_type = {**valid, "_type": [valid["_type"]]}
    bad_sbom = spdx_statement(entry.digest, [{"name": "x", "purl": "pkg:npm/x@1"}])
    bad_sbom["predicate"]["packages"][0]["externalRefs"][0]["referenceCategory"] = {"a": 1}
    builder.attest(entry, [valid, sbom, bad_type, bad_sbom])
    signer = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    builder.attest_envelopes(
        entry,
        [dsse_envelope(provenance_statement(entry.digest), [signer.sign])],
        layer_annotations=[{BUNDLE_ANNOTATION: DEEP}],
    )
    return f"oci-layout://{builder.build().write_layout(tmp_path / 'layout')}:1"


def test_inspect_reports_each_hostile_layer_and_shows_the_valid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "inspect", _in_index_layout(tmp_path))
    assert code == 3
    warnings = _warnings(err)
    assert any("unsupported statement _type" in w for w in warnings), warnings
    assert "provenance  https://slsa.dev/provenance/v0.2  [bound, unsigned]" in out
    assert "[bound, unsigned; spdx SPDX-2.3, 1 components]" in out  # the valid SBOM
    assert "referenceCategory must be a string, not dict" in out  # the hostile one, rejected
    assert out.count("provenance  https://slsa.dev/provenance/v0.2  [bound, unsigned]") == 2
    code, out, err = _run(capsys, "inspect", _in_index_layout(tmp_path), "--format", "json")
    assert code == 3
    assert json.loads(out)["images"][0]["platform"] == "linux/amd64"


def test_verify_evaluates_the_valid_evidence_and_errors_on_the_hostile_sbom(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  provenance:\n    required: true\n"
        "  frontend:\n    allow: [dockerfile.v0]\n  sbom:\n    required: true\n"
    )
    reference = _in_index_layout(tmp_path)
    code, out, err = _run(capsys, "verify", reference, "--policy", str(policy), "--format", "json")
    assert code == 3, err
    report = json.loads(out)
    status = {r["rule"]: r["status"] for r in report["results"]}
    # the statement whose _type is a list may have been another provenance: what reads
    # provenance cannot pass or fail on what is left, it is an error naming the rejected layer
    provenance = [r for r in report["results"] if r["rule"] in ("provenance", "frontend")]
    assert [r["status"] for r in provenance] == ["error", "error"], report
    assert all("evidence was rejected: it is malformed" in r["message"] for r in provenance)
    assert status["evidence"] == "error"
    sbom = [r for r in report["results"] if r["rule"] == "sbom"]
    assert [r["status"] for r in sbom] == ["error"]
    assert "referenceCategory must be a string, not dict" in sbom[0]["message"]
    assert any("unsupported statement _type" in p for p in report["problems"]), report
    _warnings(err)


# -- signature stores next to a validly signed envelope (the stand-in Rekor) -----------------


class _HostileRekor:
    """The stand-in Rekor, with one hook per kind of entry that build_case asks it for."""

    def __init__(self, *, annotations: Callable[[int, str], str] | None = None) -> None:
        self._rekor = signed_tlog.sim.FakeRekor()
        self._annotations = annotations
        self._calls = 0

    def cosign_annotation(self, body: bytes) -> str:
        text: str = self._rekor.cosign_annotation(body)
        self._calls += 1  # 1: the .att layer, 2: the .sig layer
        return self._annotations(self._calls, text) if self._annotations else text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rekor, name)


def _att_time_out_of_range(call: int, text: str) -> str:
    if call != 1:
        return text
    doc = json.loads(text)
    doc["Payload"]["integratedTime"] = 10**20
    return json.dumps(doc)


def _sig_deep(call: int, text: str) -> str:
    """900 levels: deeper than provcheck reads, shallow enough for build_case's json.loads."""
    return '{"Payload": ' + "[" * 900 + "]" * 900 + "}" if call == 2 else text


def _bundle_material(material: dict[str, Any]) -> Callable[..., bytes]:
    original = signed_tlog.sim.key_bundle

    def key_bundle(envelope: bytes, entries: list[dict[str, Any]], hint: str) -> bytes:
        doc = json.loads(original(envelope, entries, hint))
        doc["verificationMaterial"].update(material)
        return json.dumps(doc).encode()

    return key_bundle


@pytest.mark.parametrize(
    ("variant", "why"),
    [
        ("att-integrated-time", "Payload.integratedTime 1000000000"),
        ("sig-deep-annotation", "nests deeper than 200 levels"),
        ("bundle-public-key-string", "publicKey is not an object"),
        ("bundle-chain-types", "certificates is not a list"),
    ],
)
def test_hostile_signature_evidence_beside_valid_signatures(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variant: str,
    why: str,
) -> None:
    rekor = _HostileRekor()
    if variant == "att-integrated-time":
        rekor = _HostileRekor(annotations=_att_time_out_of_range)
    elif variant == "sig-deep-annotation":
        rekor = _HostileRekor(annotations=_sig_deep)
    elif variant == "bundle-public-key-string":
        monkeypatch.setattr(signed_tlog.sim, "key_bundle", _bundle_material({"publicKey": "h"}))
    else:
        chain = {"x509CertificateChain": {"certificates": ["MIIB"]}}
        monkeypatch.setattr(signed_tlog.sim, "key_bundle", _bundle_material(chain))
    case = signed_tlog.build_case(tmp_path, rekor)
    reference = f"oci-layout://{case['layout']}:1"
    trust = ["--key", str(case["key"]), "--trusted-root", str(case["root"])]
    policy = signed_tlog._policy(tmp_path, "optional", None)

    code, out, err = _run(capsys, "verify", reference, "--policy", str(policy), *trust)
    assert code == 0, (out, err)  # the valid signatures satisfy the policy
    assert why in out, out  # the rejection is in the report
    assert "verdict: PASS" in out

    code, out, err = _run(
        capsys, "inspect", reference, "--format", "json", "--key", str(case["key"])
    )
    assert code in (0, 3), err  # 3 when a rejected signature is reported, never a traceback
    _warnings(err)
    signatures = json.loads(out)["signatures"]
    assert [s for s in signatures if s["accepted"]], signatures  # valid evidence still evaluated
    if variant.startswith("bundle"):
        assert code == 3
        assert any(why in w for w in err.splitlines()), err
