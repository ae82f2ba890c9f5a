"""``threshold`` has one meaning everywhere: the distinct trusted keys or identities whose valid
signatures cover exactly the bytes that chain to a statement (its DSSE payload; the attestation
manifest or index that a simple signature names). Red-team finding 14.1: one key used to meet
``threshold: 2`` through a cosign ``.sig`` over an attestation manifest, and a one-key ``.sig``
over the index made every statement ``index-bound``.

Signatures come from the real cosign 2.5 (committed fixtures/signed, and live ``cosign sign`` /
``cosign attest`` into the real registry) and, for DSSE layers inside the index, from
tests/oci_builder.py with fixed Ed25519 keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provcheck.api import inspect_image, verify_image
from provcheck.attestation.keys import load_public_key, parse_public_key
from provcheck.attestation.signatures import SignedKind, TrustConfig
from provcheck.cli import main
from provcheck.discovery.model import AttestationOrigin, ImageAttestations, TrustLevel
from provcheck.discovery.options import DiscoveryOptions
from provcheck.policy.loader import load_policy
from provcheck.report.model import Report, Status, Verdict
from tests.oci_builder import BuiltImage, ImageBuilder, dsse_envelope, provenance_statement
from tests.paths import FIXTURES_DIR
from tests.reference_tools import reference_tool, run_cosign
from tests.registry import RegistryServer

SIGNED = FIXTURES_DIR / "signed"
KEYS = SIGNED / "keys"
ONE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
TWO = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


def pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def policy(tmp_path: Path, keys: list[bytes], threshold: int, extra: str = "") -> Path:
    """A policy trusting ``keys`` with ``threshold``; ``extra`` adds rules."""
    (tmp_path / "keys").mkdir(parents=True, exist_ok=True)
    names = []
    for i, key in enumerate(keys):
        (tmp_path / "keys" / f"k{i}.pub").write_bytes(key)
        names.append(f"keys/k{i}.pub")
    path = tmp_path / "policy.yaml"
    path.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  signatures:\n    required: true\n"
        f"    keys: [{', '.join(names)}]\n    threshold: {threshold}\n{extra}"
    )
    return path


def signatures(report: Report) -> dict[str | None, tuple[Status, str]]:
    return {r.platform: (r.status, r.message) for r in report.results if r.rule == "signatures"}


def in_index_levels(found: ImageAttestations) -> set[TrustLevel]:
    return {
        layer.trust
        for image in found.images
        for m in image.attestations
        if m.origin is AttestationOrigin.INDEX
        for layer in m.layers
        if layer.statement is not None
    }


P256 = (KEYS / "p256.pub").read_bytes()
OTHER = (KEYS / "other-p256.pub").read_bytes()


# -- the red team's two reproductions, on the committed cosign fixtures -------------------------


def test_one_key_over_an_attestation_manifest_does_not_meet_threshold_two(tmp_path: Path) -> None:
    """cosign signed the amd64 attestation manifest with p256 only: 1 of 2 (used to pass)."""
    ref = f"oci-layout://{SIGNED / 'attestation-manifest-signed'}:1"
    report = verify_image(ref, load_policy(policy(tmp_path, [P256, OTHER], 2)))
    assert report.verdict is Verdict.FAIL
    status, message = signatures(report)["linux/amd64"]
    assert status is Status.FAIL, message
    assert "signed by 1 of 2 required distinct trusted signer(s)" in message
    assert "(threshold 2)" not in message
    # threshold 1 with the same keys: the signature is enough, as before
    one = verify_image(ref, load_policy(policy(tmp_path / "one", [P256, OTHER], 1)))
    assert signatures(one)["linux/amd64"][0] is Status.PASS


def test_one_key_over_the_index_is_not_index_bound_under_threshold_two(tmp_path: Path) -> None:
    """cosign signed the index with p256 only: its statements stay unsigned (used to be
    index-bound whatever the threshold)."""
    ref = f"oci-layout://{SIGNED / 'legacy-p256'}:1"
    keys = (load_public_key(KEYS / "p256.pub"), load_public_key(KEYS / "other-p256.pub"))

    def found(threshold: int) -> ImageAttestations:
        trust = TrustConfig(keys, threshold=threshold)
        return inspect_image(ref, options=DiscoveryOptions(signature_stores=True, trust=trust))

    assert in_index_levels(found(1)) == {TrustLevel.INDEX_BOUND}
    two = found(2)
    assert in_index_levels(two) == {TrustLevel.UNSIGNED}
    from provcheck.attestation.signatures import RejectionReason  # typed, never the text

    (root_sig,) = [
        s
        for s in two.signed
        if s.target == str(two.digest) and s.kind is SignedKind.IMAGE_SIGNATURE
    ]
    assert root_sig.check.rejected_for(RejectionReason.THRESHOLD)
    assert "1 of 2 required" in "; ".join(root_sig.check.messages)
    # a rule that needs index-bound evidence fails on the tag
    extra = "  provenance:\n    required: true\n    min-trust: index-bound\n"
    report = verify_image(ref, load_policy(policy(tmp_path, [P256, OTHER], 2, extra)))
    assert {r.status for r in report.results if r.rule == "provenance"} == {Status.FAIL}


# -- DSSE envelopes inside the index: one pool for every envelope of the same statement ---------


def dsse_image(tmp_path: Path, *envelope_signers: tuple[Ed25519PrivateKey, ...]) -> str:
    """Two platforms; each attestation manifest holds one DSSE envelope of the same provenance
    statement per entry of ``envelope_signers`` (each signed by those keys)."""
    builder = ImageBuilder("threshold")
    for platform in ("linux/amd64", "linux/arm64"):
        entry = builder.add_platform(platform)
        statement = provenance_statement(entry.digest, platform=platform)
        envelopes = [dsse_envelope(statement, [k.sign for k in ks]) for ks in envelope_signers]
        builder.attest_envelopes(entry, envelopes)
    builder.build().write_layout(tmp_path / "layout")
    return f"oci-layout://{tmp_path / 'layout'}:1"


def test_two_keys_in_two_envelopes_of_one_statement_meet_threshold_two(tmp_path: Path) -> None:
    ref = dsse_image(tmp_path, (ONE,), (TWO,))
    report = verify_image(ref, load_policy(policy(tmp_path, [pem(ONE), pem(TWO)], 2)))
    assert report.verdict is Verdict.PASS, signatures(report)
    for status, message in signatures(report).values():
        assert status is Status.PASS
        assert "(threshold 2)" in message
    found = inspect_image(
        ref,
        options=DiscoveryOptions(
            trust=TrustConfig((parse_public_key(pem(ONE)), parse_public_key(pem(TWO))), threshold=2)
        ),
    )
    assert in_index_levels(found) == {TrustLevel.SIGNED}
    for image in found.images:
        for usable in image.statements():
            assert usable.layer.signature is not None
            assert len(usable.layer.signature.signers) == 2


@pytest.mark.parametrize("envelopes", [((ONE,), (ONE,)), ((ONE, ONE),)], ids=["two", "one"])
def test_the_same_key_twice_counts_once(
    tmp_path: Path, envelopes: tuple[tuple[Ed25519PrivateKey, ...], ...]
) -> None:
    ref = dsse_image(tmp_path, *envelopes)
    report = verify_image(ref, load_policy(policy(tmp_path, [pem(ONE), pem(TWO)], 2)))
    assert report.verdict is Verdict.FAIL
    for status, message in signatures(report).values():
        assert status is Status.FAIL
        assert "signed by 1 of 2 required distinct trusted signer(s)" in message


# -- live cosign 2.5 into the real registry -----------------------------------------------------


@dataclass(frozen=True)
class Cosign:
    binary: Path
    home: Path

    def __call__(self, *args: str, experimental: bool = False) -> None:
        done = run_cosign(self.binary, self.home, *args, experimental=experimental)
        assert done.returncode == 0, done.stderr[-2000:]

    def key(self, name: str) -> Path:
        return self.home / f"{name}.key"

    def public(self, name: str) -> bytes:
        return (self.home / f"{name}.pub").read_bytes()


@pytest.fixture(scope="module")
def cosign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cosign]:
    tool = Cosign(reference_tool("cosign"), tmp_path_factory.mktemp("cosign"))
    for name in ("k1", "k2"):
        tool("generate-key-pair", "--output-key-prefix", name)
    yield tool


@dataclass(frozen=True)
class Pushed:
    repo: str
    index: str
    amd64_attestation: str


def push_image(registry: RegistryServer, repository: str) -> Pushed:
    builder = ImageBuilder("threshold")
    amd64 = builder.add_platform("linux/amd64")
    arm64 = builder.add_platform("linux/arm64")
    name = f"{registry.host}/{repository}"
    att = builder.attest(
        amd64,
        [provenance_statement(amd64.digest, platform="linux/amd64", image=name)],
        form="oci-artifact",
    )
    builder.attest(
        arm64,
        [provenance_statement(arm64.digest, platform="linux/arm64", image=name)],
        form="oci-artifact",
    )
    image: BuiltImage = builder.build()
    image.push(registry.url, repository, "1")
    return Pushed(name, image.root_digest, att.digest)


NO_TLOG = ("--tlog-upload=false", "--yes")


def run_cli(ref: str, policy_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["verify", ref, "--policy", str(policy_path), "--format", "json"])
    out = capsys.readouterr().out
    return code, out


def cli_signatures(out: str) -> dict[str, tuple[str, str]]:
    doc = json.loads(out)
    return {
        r["platform"]: (r["status"], r["message"])
        for r in doc["results"]
        if r["rule"] == "signatures"
    }


def test_cosign_one_key_sig_over_the_attestation_manifest_fails_threshold_two(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    cosign(
        "sign",
        "--key",
        str(cosign.key("k1")),
        *NO_TLOG,
        f"{pushed.repo}@{pushed.amd64_attestation}",
    )
    keys = [cosign.public("k1"), cosign.public("k2")]
    code, out = run_cli(f"{pushed.repo}@{pushed.index}", policy(tmp_path, keys, 2), capsys)
    assert code == 1
    status, message = cli_signatures(out)["linux/amd64"]
    assert status == "fail"
    assert "attestation-manifest" in message and "signed by 1 of 2 required" in message
    _, one = run_cli(f"{pushed.repo}@{pushed.index}", policy(tmp_path / "one", keys, 1), capsys)
    assert cli_signatures(one)["linux/amd64"][0] == "pass"


def test_cosign_two_keys_over_the_attestation_manifest_meet_threshold_two(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    target = f"{pushed.repo}@{pushed.amd64_attestation}"
    cosign("sign", "--key", str(cosign.key("k1")), *NO_TLOG, target)  # the .sig tag
    # the other key as a cosign.artifact.sig referrer (the fallback tag on distribution 2.8)
    cosign(
        "sign",
        "--key",
        str(cosign.key("k2")),
        *NO_TLOG,
        "--registry-referrers-mode=oci-1-1",
        target,
        experimental=True,
    )
    keys = [cosign.public("k1"), cosign.public("k2")]
    code, out = run_cli(f"{pushed.repo}@{pushed.index}", policy(tmp_path, keys, 2), capsys)
    results = cli_signatures(out)
    assert results["linux/amd64"][0] == "pass", results
    assert "(threshold 2)" in results["linux/amd64"][1]
    assert results["linux/arm64"][0] == "fail"  # its attestation manifest is not signed
    assert code == 1


def test_cosign_the_same_key_in_two_stores_counts_once(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pushed = push_image(registry_server, unique_repository)
    target = f"{pushed.repo}@{pushed.amd64_attestation}"
    cosign("sign", "--key", str(cosign.key("k1")), *NO_TLOG, target)
    cosign(
        "sign",
        "--key",
        str(cosign.key("k1")),
        *NO_TLOG,
        "--registry-referrers-mode=oci-1-1",
        target,
        experimental=True,
    )
    keys = [cosign.public("k1"), cosign.public("k2")]
    code, out = run_cli(f"{pushed.repo}@{pushed.index}", policy(tmp_path, keys, 2), capsys)
    assert code == 1
    status, message = cli_signatures(out)["linux/amd64"]
    assert status == "fail"
    assert "signed by 1 of 2 required" in message


def test_cosign_index_signatures_by_one_and_by_two_keys(
    registry_server: RegistryServer, unique_repository: str, cosign: Cosign
) -> None:
    pushed = push_image(registry_server, unique_repository)
    ref = f"{pushed.repo}:1"
    keys = (
        parse_public_key(cosign.public("k1")),
        parse_public_key(cosign.public("k2")),
    )
    options = DiscoveryOptions(signature_stores=True, trust=TrustConfig(keys, threshold=2))

    def levels() -> set[TrustLevel]:
        from provcheck.source.registry import RegistryOptions

        registry = RegistryOptions(insecure_registries=frozenset({registry_server.host}))
        return in_index_levels(inspect_image(ref, options=options, registry=registry))

    cosign("sign", "--key", str(cosign.key("k1")), *NO_TLOG, f"{pushed.repo}@{pushed.index}")
    assert levels() == {TrustLevel.UNSIGNED}
    cosign("sign", "--key", str(cosign.key("k2")), *NO_TLOG, f"{pushed.repo}@{pushed.index}")
    assert levels() == {TrustLevel.INDEX_BOUND}


def test_cosign_attestations_by_two_keys_over_one_statement(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
) -> None:
    """Two ``cosign attest`` runs with the same predicate: two envelopes of one statement in
    the ``.att`` tag, each signed by one key; together they meet threshold 2."""
    pushed = push_image(registry_server, unique_repository)
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps(provenance_statement("sha256:" + "0" * 64)["predicate"]))
    target = f"{pushed.repo}@{pushed.index}"
    for name in ("k1", "k2"):
        cosign(
            "attest",
            "--key",
            str(cosign.key(name)),
            "--type",
            "slsaprovenance",
            "--predicate",
            str(predicate),
            *NO_TLOG,
            target,
        )
    from provcheck.source.registry import RegistryOptions

    registry = RegistryOptions(insecure_registries=frozenset({registry_server.host}))
    keys = [cosign.public("k1"), cosign.public("k2")]
    report = verify_image(target, load_policy(policy(tmp_path, keys, 2)), registry=registry)
    assert report.verdict is Verdict.PASS, signatures(report)
    three = verify_image(
        target,
        load_policy(policy(tmp_path / "3", [*keys, P256], 3)),
        registry=registry,
    )
    for status, message in signatures(three).values():
        assert status is Status.FAIL
        assert "signed by 2 of 3 required" in message


def test_a_dsse_signature_and_a_signature_over_its_manifest_count_together(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An in-index DSSE envelope signed by one key, and a cosign ``.sig`` by another over the
    attestation manifest that holds it: both cover bytes that chain to the statement."""
    builder = ImageBuilder("threshold")
    attestations = {}
    for platform in ("linux/amd64", "linux/arm64"):
        entry = builder.add_platform(platform)
        statement = provenance_statement(entry.digest, platform=platform)
        envelope = dsse_envelope(statement, [ONE.sign])
        attestations[platform] = builder.attest_envelopes(entry, [envelope], form="oci-artifact")
    image = builder.build()
    image.push(registry_server.url, unique_repository, "1")
    repo = f"{registry_server.host}/{unique_repository}"
    amd64 = attestations["linux/amd64"].digest
    cosign("sign", "--key", str(cosign.key("k1")), *NO_TLOG, f"{repo}@{amd64}")
    keys = [pem(ONE), cosign.public("k1")]
    code, out = run_cli(f"{repo}@{image.root_digest}", policy(tmp_path, keys, 2), capsys)
    results = cli_signatures(out)
    assert results["linux/amd64"][0] == "pass", results
    assert results["linux/arm64"][0] == "fail"
    assert "signed by 1 of 2 required" in results["linux/arm64"][1]
    assert code == 1
