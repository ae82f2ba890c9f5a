"""Inside one rule an error beats a failure (exit 3 beats 1), and the message keeps the failure.

Each case is an OCI layout made with :mod:`tests.oci_builder`, verified through the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provcheck.cli import main
from tests.oci_builder import ImageBuilder, provenance_statement

TOKEN = "ghp_" + "a1B2" * 9
POLICY = "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  build-args: {}\n"


def _image(tmp_path: Path) -> str:
    """One platform, two provenance statements: one records a secret build arg, the other is
    malformed (it could hold anything)."""
    builder = ImageBuilder("app")
    entry = builder.add_platform("linux/amd64")
    leaky = provenance_statement(entry.digest, build_args={"GH_TOKEN": TOKEN})
    malformed = provenance_statement(entry.digest)
    malformed["predicate"]["invocation"] = "oops"
    builder.attest(entry, [leaky, malformed])
    return f"oci-layout://{builder.build().write_layout(tmp_path / 'layout')}:1"


def test_a_secret_beside_unreadable_provenance_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _image(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    code = main(["verify", ref, "--policy", str(policy), "--format", "json"])
    out = capsys.readouterr().out
    (result,) = json.loads(out)["results"]
    assert code == 3
    assert result["status"] == "error"
    assert result["message"].startswith("provenance could not be read: ")
    assert result["message"].endswith(
        "also 1 secret(s) passed as build arguments or environment: GH_TOKEN"
    )
    assert "/predicate/invocation/parameters/args/build-arg:GH_TOKEN" in {
        e["pointer"] for e in result["evidence"]
    }
    assert TOKEN not in out


@pytest.mark.parametrize(
    ("rule", "body", "failure"),
    [
        ("frontend", "allow: [none]", "frontend 'dockerfile.v0' is not approved"),
        ("builder", "allow: [none]", "no builder id is recorded"),
    ],
)
def test_a_failure_beside_unreadable_provenance_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str, body: str, failure: str
) -> None:
    # the rule reads the statement it can and names its failure, but answers error (exit 3)
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"apiVersion: provcheck/v1\nkind: Policy\nrules:\n  {rule}: {{{body}}}\n")
    code = main(["verify", _image(tmp_path), "--policy", str(policy), "--format", "json"])
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert code == 3
    assert result["status"] == "error"
    assert result["message"].startswith("provenance could not be read: ")
    assert f"; also {failure}" in result["message"]
