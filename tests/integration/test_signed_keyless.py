"""Keyless sigstore bundles (Fulcio certificate, SCT, Rekor entry, identity) end to end, offline,
through the optional ``sigstore`` extra (real sigstore-python, not a mock).

The trust chain is a stand-in made by fixtures/signed/keyless/generate.py (its own Fulcio root
and intermediate, CT log key and the Rekor of fixtures/signed/tlog/rekor_sim.py); the committed
fixture fixtures/signed/keyless/ is a two-platform image with a keyless bundle v0.3 referrer, and
the negative variants are generated per test. Without the extra the tests skip, and fail under
``CI=true`` (like tests/reference_tools.py does for the reference clients).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from provcheck.attestation.signatures import Identity
from provcheck.cli import main
from tests.paths import FIXTURES_DIR, load_script
from tests.reference_tools import skip_or_fail

KEYLESS_DIR = FIXTURES_DIR / "signed" / "keyless"
GOOD_LAYOUT = KEYLESS_DIR / "layout"


gen = load_script(KEYLESS_DIR / "generate.py", "keyless_generate")


@pytest.fixture
def sigstore_extra() -> None:
    """Skip without the ``sigstore`` extra, fail under ``CI=true``."""
    if importlib.util.find_spec("sigstore") is not None:
        return
    message = "the sigstore extra is not installed: pip install 'provcheck[sigstore]'"
    skip_or_fail(message)


def _verify(
    capsys: pytest.CaptureFixture[str],
    layout: Path,
    policy: Path,
    *extra: str,
) -> tuple[int, list[dict[str, Any]]]:
    """``provcheck verify oci-layout://LAYOUT:1 --policy POLICY --format json``, in process."""
    capsys.readouterr()
    code = main(
        ["verify", f"oci-layout://{layout}:1", "--policy", str(policy), "--format", "json", *extra]
    )
    out = capsys.readouterr().out
    results = [r for r in json.loads(out)["results"] if r["rule"] == "signatures"] if out else []
    return code, results


def _policy(tmp_path: Path, **kwargs: Any) -> Path:
    """A policy next to a copy of the committed trusted root."""
    shutil.copy(KEYLESS_DIR / "trusted_root.json", tmp_path / "trusted_root.json")
    path = tmp_path / "policy.yaml"
    path.write_text(gen.policy_text(**kwargs))
    return path


def _block_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []

    def refuse(self: socket.socket | None, address: object) -> None:
        attempts.append(address)
        raise OSError("network access blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))
    return attempts


def _failed_with(results: list[dict[str, Any]], *needles: str) -> None:
    assert [r["platform"] for r in results] == ["linux/amd64", "linux/arm64"], results
    for result in results:
        assert result["status"] == "fail", result
        assert "keyless signature rejected" in result["message"], result["message"]
        for needle in needles:
            assert needle in result["message"], result["message"]


@pytest.mark.usefixtures("sigstore_extra")
def test_sigstore_python_accepts_the_simulated_trust_chain() -> None:
    """The oracle: sigstore-python itself, given only the committed trusted root."""
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity as SigstoreIdentity

    index = json.loads((GOOD_LAYOUT / "index.json").read_text())
    blobs = GOOD_LAYOUT / "blobs" / "sha256"
    fallback = json.loads((blobs / index["manifests"][1]["digest"][7:]).read_bytes())
    referrer = json.loads((blobs / fallback["manifests"][0]["digest"][7:]).read_bytes())
    assert referrer["artifactType"] == gen.BUNDLE_MEDIA_TYPE
    raw = (blobs / referrer["layers"][0]["digest"][7:]).read_bytes()
    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(KEYLESS_DIR / "trusted_root.json")))
    payload_type, payload = verifier.verify_dsse(
        Bundle.from_json(raw), SigstoreIdentity(identity=gen.SUBJECT, issuer=gen.ISSUER)
    )
    assert payload_type == "application/vnd.in-toto+json"
    assert json.loads(payload)["subject"][0]["digest"]["sha256"] == index["manifests"][0][
        "digest"
    ].removeprefix("sha256:")


@pytest.mark.usefixtures("sigstore_extra")
def test_committed_fixture_verifies_offline(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = _block_network(monkeypatch)
    code, results = _verify(capsys, GOOD_LAYOUT, KEYLESS_DIR / "policy.yaml")
    assert code == 0, results
    assert [(r["platform"], r["status"], r["trust"]) for r in results] == [
        ("linux/amd64", "pass", "signed"),
        ("linux/arm64", "pass", "signed"),
    ]
    assert all("trusted identity" in r["message"] for r in results)
    # The evidence names who signed, from the certificate, not the policy's pattern.
    signer = f"signed by {gen.SUBJECT} (issuer {gen.ISSUER})"
    assert all(any(signer in (e["value"] or "") for e in r["evidence"]) for r in results)
    assert attempts == []


@pytest.mark.usefixtures("sigstore_extra")
def test_trusted_root_from_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = _policy(tmp_path, trusted_root=None)
    code, _ = _verify(
        capsys, GOOD_LAYOUT, policy, "--trusted-root", str(KEYLESS_DIR / "trusted_root.json")
    )
    assert code == 0


@pytest.mark.usefixtures("sigstore_extra")
def test_subject_that_does_not_match(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pattern = r"^https://github.com/acme/.+/\.github/workflows/deploy\.yml@refs/tags/v.+$"
    code, results = _verify(capsys, GOOD_LAYOUT, _policy(tmp_path, subject_regexp=pattern))
    assert code == 1
    _failed_with(results, f"identity {gen.ISSUER} {pattern}", "does not match", gen.SUBJECT)


@pytest.mark.usefixtures("sigstore_extra")
def test_wrong_issuer(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    issuer = "https://accounts.google.com"
    code, results = _verify(capsys, GOOD_LAYOUT, _policy(tmp_path, issuer=issuer))
    assert code == 1
    _failed_with(results, f"certificate issuer '{gen.ISSUER}' is not '{issuer}'")


@pytest.mark.usefixtures("sigstore_extra")
def test_without_a_trusted_root_fails_and_fetches_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = _block_network(monkeypatch)
    code, results = _verify(capsys, GOOD_LAYOUT, _policy(tmp_path, trusted_root=None))
    assert code == 1
    _failed_with(results, "keyless verification needs a trusted root")
    assert attempts == []


@pytest.mark.usefixtures("sigstore_extra")
@pytest.mark.parametrize(
    ("variant", "why"),
    [
        ("tampered-payload", "DSSE: invalid signature"),
        ("no-tlog", "without a transparency-log entry (keyless always requires one)"),
        ("expired", "cert is not valid at validation time"),
        ("untrusted-ca", "failed to build timestamp certificate chain"),
        ("bad-sct", "failed to verify SCT on signing certificate"),
    ],
)
def test_a_bad_bundle_is_rejected(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variant: str,
    why: str,
) -> None:
    case = gen.build_case(tmp_path, variant)
    attempts = _block_network(monkeypatch)
    code, results = _verify(capsys, case["layout"], case["policy"])
    assert code == 1
    _failed_with(results, why)
    assert attempts == []


@pytest.mark.usefixtures("sigstore_extra")
def test_a_generated_good_case_verifies(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The generator itself (fresh keys) still gives a bundle provcheck accepts."""
    case = gen.build_case(tmp_path, "good")
    code, results = _verify(capsys, case["layout"], case["policy"])
    assert code == 0, results


def test_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from provcheck.attestation._sigstore import verify_keyless_dsse
    from provcheck.attestation.tlog import load_trusted_root
    from provcheck.errors import VerificationError

    for module in ("sigstore", "sigstore.models", "sigstore.verify", "sigstore.verify.policy"):
        monkeypatch.setitem(sys.modules, module, None)
    bundle = json.dumps({"verificationMaterial": {"tlogEntries": [{}]}}).encode()
    identity = Identity(gen.ISSUER, gen.SUBJECT_REGEXP)
    with pytest.raises(VerificationError, match=r"pip install 'provcheck\[sigstore\]'"):
        verify_keyless_dsse(
            bundle, (identity,), load_trusted_root(KEYLESS_DIR / "trusted_root.json")
        )
