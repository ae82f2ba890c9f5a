"""Key files and trusted roots: asked of a resolver once, parsed when the policy is loaded, never
read again while images are verified (real i-cosign image and key, the keyless fixture's root)."""

from __future__ import annotations

import asyncio
import builtins
import importlib.util
import io
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from provcheck.api import verification_options, verify_image
from provcheck.attestation.tlog import TrustedRoot
from provcheck.discovery.buildkit import discover
from provcheck.discovery.stores import discover_signed
from provcheck.errors import KeyResolutionError, PolicyMistakesError
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.policy import evaluate, lint_policy, load_policy, parse_policy
from provcheck.policy.model import Policy, SignaturesOptions
from provcheck.policy.resolver import FileResolver, MappingResolver
from provcheck.report.model import Report, Verdict
from provcheck.source.layout import LayoutSource
from tests.paths import FIXTURES_DIR

NOW = datetime(2026, 12, 1, tzinfo=UTC)
I_COSIGN = FIXTURES_DIR / "real" / "i-cosign"
KEYLESS = FIXTURES_DIR / "signed" / "keyless"
ROOT_BYTES = (KEYLESS / "trusted_root.json").read_bytes()
KEY_BYTES = (I_COSIGN / "cosign.pub").read_bytes()
POLICY = b"""\
apiVersion: provcheck/v1
kind: Policy
rules:
  provenance: {required: true, min-trust: signed}
  signatures:
    required: true
    keys: [keys/cosign.pub]
    trusted-root: keys/trusted_root.json
"""
FILES = {"keys/cosign.pub": KEY_BYTES, "keys/trusted_root.json": ROOT_BYTES}


class CountingResolver:
    """A :class:`MappingResolver` that counts what it was asked."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.inner = MappingResolver(files)
        self.calls: list[str] = []

    def resolve(self, name: str) -> bytes:
        self.calls.append(name)
        return self.inner.resolve(name)


class ReplaySource:
    """An OCI layout read once (``record``), then served from memory with no file I/O."""

    def __init__(self, layout: Path) -> None:
        self.layout = LayoutSource(layout)
        self.seen: dict[tuple[str, str], Any] = {}
        self.replay = False

    @property
    def display_name(self) -> str:
        return "replay"

    async def _get(self, key: tuple[str, str], call: Callable[[], Any]) -> Any:
        if not self.replay:
            self.seen[key] = await call()
        return self.seen[key]

    async def resolve(self, reference: str | Digest) -> tuple[Descriptor, bytes]:
        result: tuple[Descriptor, bytes] = await self._get(
            ("resolve", str(reference)), lambda: self.layout.resolve(reference)
        )
        return result

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        key = ("manifest", str(descriptor.digest))
        data: bytes = await self._get(key, lambda: self.layout.fetch_manifest(descriptor))
        return data

    async def fetch_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        key = ("blob", str(descriptor.digest))
        data: bytes = await self._get(key, lambda: self.layout.fetch_blob(descriptor, max_bytes))
        return data

    async def fetch_tag(self, tag: str) -> tuple[Descriptor, bytes] | None:
        found: tuple[Descriptor, bytes] | None = await self._get(
            ("tag", tag), lambda: self.layout.fetch_tag(tag)
        )
        return found

    async def referrers(self, digest: Digest) -> tuple[Descriptor, ...] | None:
        found: tuple[Descriptor, ...] | None = await self._get(
            ("referrers", str(digest)), lambda: self.layout.referrers(digest)
        )
        return found

    async def aclose(self) -> None:
        await self.layout.aclose()


async def _verify(source: ReplaySource, policy: Policy) -> Report:
    """``verify_image`` on ``source``: discovery, the signature stores, the policy."""
    options = verification_options(policy)
    root = await source.resolve("1")
    found = await discover(source, root, reference="replay:1", options=options)
    found = await discover_signed(source, found, options)
    return evaluate(found, policy, now=NOW)


def _forbid_file_io(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every way to open or read a file raise; return what was attempted."""
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        attempts.append(repr(args[:1]))
        raise AssertionError(f"file I/O during verification: {args[:1]!r}")

    for target, name in (
        (builtins, "open"),
        (io, "open"),
        (os, "open"),
        (Path, "open"),
        (Path, "read_bytes"),
        (Path, "read_text"),
    ):
        monkeypatch.setattr(target, name, refuse)
    return attempts


def test_keys_and_the_trusted_root_are_parsed_once_however_many_images() -> None:
    resolver = CountingResolver(FILES)
    policy = parse_policy(POLICY, "p.yaml", resolver=resolver)
    opts = policy.rules["signatures"]
    assert isinstance(opts, SignaturesOptions)
    assert isinstance(opts.trusted_root, TrustedRoot)
    assert [k.source for k in opts.keys] == ["keys/cosign.pub"]
    layout = f"oci-layout://{I_COSIGN / 'oci-layout'}:1"
    for _ in range(5):
        report = verify_image(layout, policy, now=NOW)
        assert report.verdict is Verdict.PASS, [(r.rule, r.message) for r in report.results]
    assert sorted(resolver.calls) == ["keys/cosign.pub", "keys/trusted_root.json"]


def test_verifying_with_keys_and_a_trusted_root_reads_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, data in FILES.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "p.yaml").write_bytes(POLICY)
    policy = load_policy(tmp_path / "p.yaml")
    source = ReplaySource(I_COSIGN / "oci-layout")
    first = asyncio.run(_verify(source, policy))
    assert first.verdict is Verdict.PASS
    source.replay = True
    attempts = _forbid_file_io(monkeypatch)
    for _ in range(3):
        again = asyncio.run(_verify(source, policy))
        assert again.verdict is Verdict.PASS, [(r.rule, r.message) for r in again.results]
    assert attempts == []


def test_keyless_verification_reads_the_trusted_root_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if importlib.util.find_spec("sigstore") is None:
        pytest.skip("the sigstore extra is not installed")
    shutil.copy(KEYLESS / "trusted_root.json", tmp_path / "trusted_root.json")
    shutil.copy(KEYLESS / "policy.yaml", tmp_path / "policy.yaml")
    policy = load_policy(tmp_path / "policy.yaml")
    source = ReplaySource(KEYLESS / "layout")
    first = asyncio.run(_verify(source, policy))
    signatures = [r for r in first.results if r.rule == "signatures"]
    assert signatures and all(r.status.value == "pass" for r in signatures), signatures
    source.replay = True
    attempts = _forbid_file_io(monkeypatch)
    again = asyncio.run(_verify(source, policy))
    assert [r.status for r in again.results] == [r.status for r in first.results]
    assert attempts == []


def test_keys_held_in_memory_verify_with_no_file_at_all() -> None:
    policy = parse_policy(POLICY, "secret:tenant-a", resolver=MappingResolver(FILES))
    report = verify_image(f"oci-layout://{I_COSIGN / 'oci-layout'}:1", policy, now=NOW)
    assert report.verdict is Verdict.PASS


def test_without_a_resolver_a_named_key_is_a_mistake_on_its_line() -> None:
    with pytest.raises(PolicyMistakesError) as caught:
        parse_policy(POLICY, "p.yaml")
    assert caught.value.messages == (
        "p.yaml:7: keys/cosign.pub: cannot read the key file: no resolver to read it from "
        "(load_policy(path) reads files next to the policy; parse_policy needs resolver=)",
        "p.yaml:8: keys/trusted_root.json: cannot read the trusted root: no resolver to read it "
        "from (load_policy(path) reads files next to the policy; parse_policy needs resolver=)",
    )


def test_lint_reports_a_bad_trusted_root_and_an_oversized_key(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.pub").write_bytes(b"x" * (64 * 1024 + 1))
    (tmp_path / "keys" / "trusted_root.json").write_text('{"tlogs": [{}]}')
    (tmp_path / "p.yaml").write_bytes(POLICY)
    assert lint_policy(tmp_path / "p.yaml") == [
        f"{tmp_path / 'p.yaml'}:7: keys/cosign.pub: key file is larger than 65536 bytes",
        f"{tmp_path / 'p.yaml'}:8: keys/trusted_root.json: tlogs[0] has no publicKey",
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_as_a_key_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "cosign.pub")
    with pytest.raises(KeyResolutionError) as caught:
        FileResolver(tmp_path).resolve("cosign.pub")
    assert caught.value.reason == "not a regular file"
    (tmp_path / "p.yaml").write_bytes(POLICY.replace(b"keys/", b""))
    (tmp_path / "trusted_root.json").write_bytes(ROOT_BYTES)
    assert lint_policy(tmp_path / "p.yaml") == [
        f"{tmp_path / 'p.yaml'}:7: {tmp_path / 'cosign.pub'}: cannot read the key file: "
        "not a regular file"
    ]


def test_a_missing_name_of_an_in_memory_resolver_is_typed() -> None:
    with pytest.raises(KeyResolutionError) as caught:
        MappingResolver(FILES).resolve("other.pub")
    assert (caught.value.location, caught.value.reason) == (
        "other.pub",
        "not among the 2 file(s) given",
    )


def test_cli_verify_names_the_line_of_a_bad_trusted_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from provcheck.cli import main

    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.pub").write_bytes(KEY_BYTES)
    (tmp_path / "keys" / "trusted_root.json").write_text('{"tlogs": [{}]}')
    (tmp_path / "p.yaml").write_bytes(POLICY)
    code = main(
        [
            "verify",
            f"oci-layout://{I_COSIGN / 'oci-layout'}:1",
            "--policy",
            str(tmp_path / "p.yaml"),
        ]
    )
    assert code == 2
    assert f"{tmp_path / 'p.yaml'}:8: keys/trusted_root.json: tlogs[0] has no publicKey" in (
        capsys.readouterr().err
    )
