"""Random command lines through ``main()``: every one ends with an exit code of the contract and
at most one-line errors, never an exception, a traceback or an internal error.

Seeded (the same argv sequence on every run) and time-bounded. The argv are built from the real
parser's option names, values that make sense, and garbage. Nothing reaches a network: references
are OCI layouts, and a command line whose reference would name a registry is left out (a DNS
look-up of anything but loopback fails the test). Nothing is written outside the test's folder:
it is the working directory, and every ``--output`` names a file in it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provcheck.cli.main import _parser, _verbosity, main
from provcheck.errors import UsageError
from provcheck.oci.reference import LAYOUT_SCHEME, parse_reference
from tests.paths import REAL_DIR

SEED = 8
BUDGET_SECONDS = 4.0
LAYOUTS = [
    f"oci-layout://{REAL_DIR / case / 'oci-layout'}{suffix}"
    for case in ("b-multi-max", "g-sbom-generator", "c-secrets-max", "h-no-attest")
    for suffix in (":1", "", "@sha256:" + "0" * 64)
]
BROKEN_REFS = [
    "oci-layout://",
    "oci-layout:///nonexistent/layout:1",
    f"oci-layout://{REAL_DIR}:1",
    f"oci-layout://{REAL_DIR / 'b-multi-max'}:1",
    f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}:Bad Tag",
    f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}@sha256:zz",
    str(REAL_DIR / "b-multi-max"),
    str(REAL_DIR / "b-multi-max" / "oci-layout") + ":1",
    "Bad/Name:1",
    "https://example.test/x",
    "x@sha256:123",
]
GARBAGE = ["", " ", "-", "--", "é", "😀", "a" * 300, "%s%n", "../x", "\t", "-vvv", "--=x"]
NUMBERS = ["nan", "inf", "-inf", "-1", "0", "0.0", "1e309", "1e-309", "0.001", "5", "1KiB", "64MiB"]
NUMBERS += ["2GiB", "99999999999999999999GiB", "9" * 5000, "1kb", "KiB", "0x10", "1_000"]
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux", "linux/s390x", "a/b/c/d", "/"]
FORMATS = ["text", "json", "sarif", "junit", "provenance", "sbom", "csv", "cyclonedx", "spdx"]
COMMANDS = [["inspect"], ["verify"], ["sbom"], ["policy"], ["policy", "lint"], ["lint"], []]


def _options() -> list[str]:
    """Every option string of every parser of the real command line."""
    out: set[str] = set()

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            out.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)

    walk(_parser())
    out.discard("--version")  # argparse prints it and exits 0: not worth the time
    return sorted(out)


def _files(tmp_path: Path) -> list[str]:
    good = tmp_path / "policy.yaml"
    good.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nname: fuzz\nrules:\n"
        "  provenance: {required: true}\n  platforms: {required: [linux/amd64]}\n"
        "  build-args: {secrets: deny}\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    return [str(p) for p in (good, bad, binary, tmp_path, tmp_path / "missing.yaml")] + [
        str(tmp_path / "out" / "report.json"),
        str(tmp_path / "report.json"),
    ]


def _confined(argv: list[str], rng: random.Random, tmp_path: Path) -> list[str]:
    """``argv`` with every ``--output`` value replaced by a file of the test's folder."""
    outputs = [str(tmp_path / "report.out"), "report.out", str(tmp_path), str(tmp_path / "no/x")]
    out = list(argv)
    for i, arg in enumerate(out):
        if arg.startswith("--output="):
            out[i] = f"--output={rng.choice(outputs)}"
        elif arg == "--output" and i + 1 < len(out):
            out[i + 1] = rng.choice(outputs)
    return out


def _argv(rng: random.Random, options: list[str], files: list[str]) -> list[str]:
    values = [LAYOUTS, BROKEN_REFS, GARBAGE, NUMBERS, PLATFORMS, FORMATS, files]
    argv: list[str] = []
    if rng.random() < 0.2:
        argv.append(rng.choice(["-v", "-vv", "--verbose"]))
    argv += rng.choice(COMMANDS)
    if rng.random() < 0.9:
        argv.append(rng.choice(LAYOUTS if rng.random() < 0.7 else BROKEN_REFS + files))
    if "verify" in argv and rng.random() < 0.8:
        argv += ["--policy", files[0] if rng.random() < 0.7 else rng.choice(files)]
    for _ in range(rng.randint(0, 5)):
        option = rng.choice(options)
        value = rng.choice(rng.choice(values))
        shape = rng.random()
        if shape < 0.45:
            argv += [option, value]
        elif shape < 0.75:
            argv.append(f"{option}={value}")
        elif shape < 0.9:
            argv.append(option)
        else:
            argv.insert(rng.randint(0, len(argv)), value)
    return argv


def _parsed(argv: list[str]) -> argparse.Namespace | None:
    """The namespace of ``argv``, or ``None`` when argparse refuses it (quietly, here)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return _parser().parse_args(argv)
        except SystemExit:
            return None


def _names_a_registry(args: argparse.Namespace | None) -> bool:
    reference = getattr(args, "reference", None)
    if not isinstance(reference, str) or reference.startswith(LAYOUT_SCHEME):
        return False
    try:
        parse_reference(reference)
    except UsageError:
        return False
    return True


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse (and record) every name look-up that is not loopback."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            asked.append(str(host))
            raise OSError(f"the fuzz test allows no network ({host})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield asked


def test_random_command_lines_keep_the_contract(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_network: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    rng = random.Random(SEED)
    options, files = _options(), _files(tmp_path)
    deadline = time.monotonic() + BUDGET_SECONDS
    runs = codes = 0
    seen: set[int] = set()
    while time.monotonic() < deadline:
        argv = _confined(_argv(rng, options, files), rng, tmp_path)
        args = _parsed(argv)
        if _names_a_registry(args):
            continue
        code = main(argv)  # an exception escaping fails the test, with this argv in the trace
        out, err = capsys.readouterr()
        runs += 1
        seen.add(code)
        assert code in (0, 1, 2, 3), (argv, code, err)
        assert "provcheck: error: internal error" not in err, (argv, err)
        if args is None or _verbosity(args) < 2:  # -vv prints tracebacks on purpose
            assert "Traceback" not in err, (argv, err)
            assert "Exception ignored" not in err, (argv, err)
        codes += code != 0
        assert out or code != 0 or "--help" in argv or "-h" in argv or err == "", argv
    assert no_network == []
    assert runs >= 20, runs
    assert {0, 2} <= seen, seen  # the runs reached both successes and refusals
