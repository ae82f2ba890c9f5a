"""What a review of the command line found (2026-12), through the real CLI: attestation text in
error lines, local folders that shadow registry references, one timeout check, key files that
are FIFOs, a stale ``sbom --output`` file, ``--option=--``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provcheck.cli import main
from provcheck.errors import UsageError
from provcheck.source.deadline import Deadline
from provcheck.source.registry.transport import registry_error_detail
from tests.oci_builder import ImageBuilder
from tests.paths import REAL_DIR
from tests.registry import RealRegistry

PROVCHECK = Path(sys.executable).parent / "provcheck"
B_MULTI = REAL_DIR / "b-multi-max" / "oci-layout"
B_REF = f"oci-layout://{B_MULTI}:1"
G_REF = f"oci-layout://{REAL_DIR / 'g-sbom-generator' / 'oci-layout'}:1"
I_COSIGN_KEY = REAL_DIR / "i-cosign" / "cosign.pub"
HOSTILE_ARCH = "amd64\x1b[2K\rverdict: PASS"
POLICY = "apiVersion: provcheck/v1\nkind: Policy\nname: p\nrules:\n  provenance: {required: true}\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


# -- 1. control characters from an attestation never reach the terminal raw -----------------------


@pytest.fixture
def hostile_layout(tmp_path: Path) -> str:
    """An index whose only platform has an architecture that rewrites the terminal line."""
    builder = ImageBuilder("app")
    builder.add_platform(f"linux/{HOSTILE_ARCH}")
    return f"oci-layout://{builder.build().write_layout(tmp_path / 'layout')}:1"


def _one_safe_line(text: str) -> None:
    assert text.count("\n") == 1 and text.endswith("\n"), text
    assert not any(c in text[:-1] for c in "\x1b\r\n"), text


def test_an_error_line_escapes_what_the_image_says(
    hostile_layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "inspect", hostile_layout, "--platform", "linux/arm64")
    assert (code, out) == (2, "")
    _one_safe_line(err)
    assert err.startswith("provcheck: error: ") and "has no platform linux/arm64" in err
    assert "amd64\\x1b[2k\\rverdict: pass" in err  # shown, visibly (platforms are lower-cased)
    # the error report of verify carries the same escaped line
    output = tmp_path / "report.json"
    argv = ["verify", hostile_layout, "--policy", str(_policy(tmp_path)), "--format", "json"]
    code, _, err = _run(capsys, *argv, "--platform", "linux/arm64", "--output", str(output))
    assert code == 2
    _one_safe_line(err)
    message = json.loads(output.read_text())["error"]
    assert "\x1b" not in message and "\r" not in message
    assert "\\x1b[2k\\r" in message


def test_a_policy_files_mistakes_stay_one_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one error of several lines keeps them, each escaped."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: provcheck/v1\nkind: Policy\nname: x\nrules: {nope: {}, nada: {}}\n")
    code, _, err = _run(capsys, "verify", B_REF, "--policy", str(bad))
    assert code == 2
    lines = err.splitlines()
    assert lines[0] == "provcheck: error: 2 mistakes in the policy file:"
    assert len(lines) == 3 and all("nope" in line or "nada" in line for line in lines[1:])


def test_a_registry_error_body_is_escaped_as_everything_else() -> None:
    body = {"errors": [{"code": "DENIED", "message": "no\x1b[2K\rverdict: PASS\u202e"}]}
    detail = registry_error_detail(json.dumps(body).encode())
    assert detail == "DENIED: no\\x1b[2K\\rverdict: PASS\\u202e"


# -- 2. a plain local folder does not hide a registry reference -----------------------------------


def test_a_folder_named_like_a_repository_is_not_a_layout(
    real_registry: RealRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref = real_registry.ref("b-multi-max")
    repository = tmp_path / ref.rsplit(":", 1)[0]  # ./127.0.0.1:PORT/lab/b-multi-max/
    repository.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "inspect", ref, "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["reference"].startswith(real_registry.host)
    # a folder that looks like a layout still gets the hint, and one that holds a layout too
    (repository / "index.json").write_text("{}")
    code, out, err = _run(capsys, "inspect", ref)
    assert (code, out) == (2, "")
    assert "is a local folder" in err and f"did you mean oci-layout://{ref}?" in err
    (repository / "index.json").unlink()
    (repository / "oci-layout").mkdir()
    code, _, err = _run(capsys, "inspect", ref)
    assert code == 2 and "holds one: did you mean oci-layout://" in err


# -- 3. one timeout check, for the library and the command line -----------------------------------


@pytest.mark.parametrize("value", ["1e309", "nan", "0", "-1"])
def test_the_cli_refuses_a_timeout_with_the_librarys_words(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError) as refused:
        Deadline(float(value))
    code, out, err = _run(capsys, "inspect", B_REF, f"--timeout={value}")
    assert (code, out) == (2, "")
    assert err == f"provcheck inspect: error: argument --timeout: {refused.value.diagnostics()}\n"


def test_parsing_a_timeout_does_not_load_asyncio() -> None:
    script = (
        "import sys\n"
        "from provcheck.cli.main import _parser\n"
        "assert _parser().parse_args(['inspect', 'x', '--timeout', '2.5']).timeout == 2.5\n"
        "print('asyncio' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "False\n", done.stderr


# -- 5. --key and --trusted-root are read as the files a policy names -----------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["inspect", B_REF, "--key", "fifo"],
        ["verify", B_REF, "--policy", "policy.yaml", "--key", "fifo"],
        ["verify", B_REF, "--policy", "policy.yaml", "--trusted-root", "fifo"],
        ["audit", B_REF, "--policy", "policy.yaml", "--key", "fifo"],
        ["audit", B_REF, "--policy", "policy.yaml", "--trusted-root", "fifo"],
    ],
)
def test_a_key_file_that_is_a_fifo_is_refused_without_blocking(
    argv: list[str], tmp_path: Path
) -> None:
    os.mkfifo(tmp_path / "fifo")  # nobody writes to it: opening it to read would block
    _policy(tmp_path)
    done = subprocess.run(
        [str(PROVCHECK), *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    what = "trusted root" if "--trusted-root" in argv else "key file"
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"provcheck: error: fifo: cannot read the {what}: not a regular file\n"


def test_key_files_are_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.pub").write_bytes(I_COSIGN_KEY.read_bytes())
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "inspect", B_REF, "--key", "keys/cosign.pub")
    assert (code, err) == (0, "")
    code, _, err = _run(capsys, "inspect", B_REF, "--key", "keys/missing.pub")
    assert code == 2
    assert err == (
        "provcheck: error: keys/missing.pub: cannot read the key file: No such file or directory\n"
    )
    (tmp_path / "big.pub").write_bytes(b"x" * (1024 * 1024))
    code, _, err = _run(capsys, "inspect", B_REF, "--key", "big.pub")
    assert code == 2 and "big.pub: key file is larger than" in err


# -- 7. sbom --output leaves no export of an earlier run ------------------------------------------


def _stale(tmp_path: Path) -> tuple[Path, Path]:
    output = tmp_path / "sbom.json"
    output.write_text("export of an earlier run\n")
    old = tmp_path / "sbom.json.old-inode"
    os.link(output, old)  # a rewrite in place would change this one too; a rename does not
    return output, old


@pytest.mark.parametrize(
    "failure",
    [["--platform", "linux/s390x"], ["--format", "spdx"], ["--max-attestation-size", "1KiB"]],
)
def test_a_failed_sbom_run_removes_the_earlier_export(
    failure: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output, old = _stale(tmp_path)
    code, out, err = _run(capsys, "sbom", G_REF, *failure, "--output", str(output))
    assert code in (2, 3) and out == "" and "provcheck: error: " in err
    assert not output.exists()
    assert old.read_text() == "export of an earlier run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [old.name]  # no temporary file


def test_a_good_sbom_run_replaces_the_export_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output, old = _stale(tmp_path)
    code, out, err = _run(capsys, "sbom", G_REF, "--format", "csv", "--output", str(output))
    assert (code, out, err) == (0, "", "")
    assert output.read_text().startswith("platform,source,name,version,")
    assert old.read_text() == "export of an earlier run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([output.name, old.name])


# -- 8. --option=-- is refused after parsing -------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["inspect", B_REF, "--platform=--"],
        ["inspect", B_REF, "--timeout=--"],
        ["inspect", B_REF, "--max-attestation-size=--"],
        ["sbom", G_REF, "--output=--"],
        ["verify", B_REF, "--policy", "p.yaml", "--trusted-root=--"],
    ],
)
def test_an_option_given_dash_dash_as_its_value_is_a_usage_error(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *argv)
    option = next(a for a in argv if a.endswith("=--")).removesuffix("=--")
    assert (code, out) == (2, "")
    assert err.endswith(f"error: argument {option}: expected a value, not '--'\n")
    assert err.count("\n") == 1
