"""``inspect --format provenance`` redacts without failing open, through the real CLI: a predicate
that does not parse is swept by shape (it used to be printed raw, secrets and all), one that
cannot be swept is refused; a short secret value is replaced where it stands, not wherever the
same word appears; and the command never loads the policy package."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from provcheck.cli import main
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.paths import REAL_DIR

TOKEN = "ghp_FAKEhostileRedact00000000000000000000"
REFUSED = "provcheck: error: cannot redact this provenance; --show-secrets prints it as is\n"


def _predicate(case: str) -> dict[str, Any]:
    """The linux/amd64 predicate of a real case, as buildx printed it."""
    recorded = json.loads((REAL_DIR / case / "inspect.provenance.json").read_text())
    predicate: dict[str, Any] = recorded["linux/amd64"]["SLSA"]
    return predicate


def _layout(tmp_path: Path, predicate: dict[str, Any], slsa: str = "v0.2") -> str:
    builder = ImageBuilder("redact")
    entry = builder.add_platform("linux/amd64")
    statement = provenance_statement(entry.digest, slsa="v1" if slsa == "v1" else "v0.2")
    builder.attest(entry, [{**statement, "predicate": predicate}])
    return f"oci-layout://{builder.build().write_layout(tmp_path / 'layout')}:1"


def _run(capsys: pytest.CaptureFixture[str], ref: str) -> tuple[int, str, str]:
    code = main(["inspect", ref, "--format", "provenance"])
    out, err = capsys.readouterr()
    return code, out, err


def _no_piece_of(secret: str, out: str) -> bool:
    return not any(secret[i : i + 8] in out for i in range(len(secret) - 7))


def _v02_with_token() -> dict[str, Any]:
    """b-multi-max with a GitHub token as a build arg and in an LLB exec env."""
    predicate = _predicate("b-multi-max")
    predicate["invocation"]["parameters"]["args"]["build-arg:GH_TOKEN"] = TOKEN
    exec_op = {"exec": {"meta": {"args": ["/bin/sh", "-c", "true"], "env": [f"GH_TOKEN={TOKEN}"]}}}
    predicate["buildConfig"]["llbDefinition"].append({"id": "step5", "op": {"Op": exec_op}})
    return predicate


def _break_v02(predicate: dict[str, Any]) -> None:
    predicate["builder"]["id"] = 5


def _break_v1(predicate: dict[str, Any]) -> None:
    predicate["runDetails"]["builder"]["id"] = 5


@pytest.mark.parametrize("slsa", ["v0.2", "v1"])
def test_a_predicate_that_does_not_parse_is_still_redacted(
    slsa: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if slsa == "v0.2":
        predicate, token, breaking = _v02_with_token(), TOKEN, _break_v02
    else:
        predicate = _predicate("f-slsa-v1")
        token = predicate["buildDefinition"]["externalParameters"]["request"]["args"][
            "build-arg:GH_TOKEN"
        ]
        breaking = _break_v1
    code, parsed, err = _run(capsys, _layout(tmp_path / "ok", predicate, slsa))
    assert (code, err) == (
        0,
        "provcheck: 2 secret value(s) redacted (--show-secrets prints them)\n",
    )
    broken = copy.deepcopy(predicate)
    breaking(broken)
    code, out, swept_err = _run(capsys, _layout(tmp_path / "broken", broken, slsa))
    assert code == 0
    assert _no_piece_of(token, out)
    assert swept_err == err  # the sweep by shape finds what the parser finds
    expected = json.loads(parsed)
    breaking(expected["SLSA"])
    assert json.loads(out) == expected  # and replaces it the same way, nothing else


@pytest.mark.parametrize(
    "where",
    [
        ("invocation", "parameters", "args", "build-arg:GH_TOKEN"),
        ("buildConfig", "llbDefinition", -1, "op", "Op", "exec", "meta", "env"),
    ],
)
def test_a_predicate_that_cannot_be_swept_is_refused(
    where: tuple[str | int, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predicate = _v02_with_token()
    _break_v02(predicate)
    node: Any = predicate
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = {"hidden": [f"GH_TOKEN={TOKEN}"]}  # not a value the sweep can judge
    code, out, err = _run(capsys, _layout(tmp_path, predicate))
    assert (code, out, err) == (3, "", REFUSED)


def test_a_short_secret_is_replaced_where_it_stands_and_counted_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predicate = _predicate("b-multi-max")
    args = predicate["invocation"]["parameters"]["args"]
    args.update({"build-arg:DB_PASSWORD": "admin", "build-arg:ADMIN_USER": "admin"})
    meta = {
        "args": ["/bin/sh", "-c", "DB_PASSWORD=admin ./setup && echo admin"],
        "env": ["DB_PASSWORD=admin", "USER=admin", "MY_DB_PASSWORD=admin"],
    }
    predicate["buildConfig"]["llbDefinition"].append(
        {"id": "step5", "op": {"Op": {"exec": {"meta": meta}}}}
    )
    code, out, err = _run(capsys, _layout(tmp_path, predicate))
    # the arg, the two env entries, and the NAME=value in the command line: 4 strings
    assert (code, err) == (
        0,
        "provcheck: 4 secret value(s) redacted (--show-secrets prints them)\n",
    )
    shown = json.loads(out)["SLSA"]
    assert shown["invocation"]["parameters"]["args"] == {
        "build-arg:ADMIN_USER": "admin",
        "build-arg:DB_PASSWORD": "…(5 chars, redacted)",
        "build-arg:VERSION": "2.0.0",
    }
    assert shown["buildConfig"]["llbDefinition"][-1]["op"]["Op"]["exec"]["meta"] == {
        "args": ["/bin/sh", "-c", "DB_PASSWORD=…(5 chars, redacted) ./setup && echo admin"],
        "env": [
            "DB_PASSWORD=…(5 chars, redacted)",
            "USER=admin",
            "MY_DB_PASSWORD=…(5 chars, redacted)",
        ],
    }
    expected = copy.deepcopy(predicate)
    expected["invocation"]["parameters"]["args"] = shown["invocation"]["parameters"]["args"]
    expected["buildConfig"]["llbDefinition"][-1] = shown["buildConfig"]["llbDefinition"][-1]
    assert shown == expected  # nothing else changed


def test_inspect_provenance_does_not_load_the_policy_package() -> None:
    ref = f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}:1"
    script = (
        "import contextlib, io, json, sys\n"
        "from provcheck.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main(['inspect', '--format', 'provenance', {ref!r}])\n"
        "print(code, json.dumps(sorted(sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    code, modules = run.stdout.split(" ", 1)
    loaded = set(json.loads(modules))
    assert code == "0"
    assert "provcheck.views.buildx" in loaded  # the command ran the view
    assert not loaded & {"provcheck.policy", "yaml", "jsonschema", "cryptography"}
