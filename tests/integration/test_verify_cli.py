"""`provcheck verify` end to end on the real BuildKit images, through the real registry and
through OCI layouts: the verdicts of fixtures/real/README.md, exit codes, every output format."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from provcheck.cli import main
from provcheck.report import Status
from tests.gate_support import POLICY_TEXT
from tests.paths import REAL_CASES, REAL_DIR

# The acceptance policy: provenance, platforms [linux/amd64], frontend and build-args.
POLICY = POLICY_TEXT

# What fixtures/real/README.md says a correct verifier concludes, as (exit code, rule -> status).
EXPECTED: dict[str, tuple[int, dict[str, set[str]]]] = {
    # min mode: build args stripped, so "no secrets" cannot be proven
    "a-single-min": (1, {"build-args": {"incomplete"}, "provenance": {"pass"}}),
    "b-multi-max": (0, {"build-args": {"pass"}, "frontend": {"pass"}, "platforms": {"pass"}}),
    "c-secrets-max": (1, {"build-args": {"fail"}, "frontend": {"pass"}}),
    "d-secret-mount": (0, {"build-args": {"pass"}}),
    "e1-syntax-tag": (0, {"frontend": {"pass"}}),
    "e3-syntax-evil": (1, {"frontend": {"fail"}}),
    "f-slsa-v1": (1, {"build-args": {"fail"}, "provenance": {"pass"}}),
    "g-sbom-generator": (0, {"provenance": {"pass"}}),
    "h-no-attest": (1, {"provenance": {"fail"}}),
    "i-cosign": (0, {"provenance": {"pass"}}),
    "n1-default": (1, {"build-args": {"incomplete"}, "frontend": {"pass"}}),
}

SECRETS = {
    "c-secrets-max": ["ghp_FAKEreflab", "npm_FAKEreflab", "FAKEreflabAWSsecretKEY"],
    "f-slsa-v1": ["ghp_FAKEslsaV1leak"],
}


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _verify(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _statuses(report: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for result in report["results"]:
        out.setdefault(result["rule"], set()).add(result["status"])
    return out


def _check(case: str, code: int, out: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(out)
    expected_code, expected_rules = EXPECTED[case]
    assert code == expected_code, out
    assert report["verdict"] == ("pass" if expected_code == 0 else "fail")
    statuses = _statuses(report)
    for rule, status in expected_rules.items():
        assert statuses[rule] == status, (rule, statuses)
    return report


@pytest.mark.parametrize("case", REAL_CASES)
def test_layout_verdicts(case: str, policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = f"oci-layout://{REAL_DIR / case / 'oci-layout'}:1"
    code, out, _ = _verify(ref, "--policy", str(policy), "--format", "json", capsys=capsys)
    report = _check(case, code, out)
    assert report["subject"]["reference"] == ref


@pytest.mark.parametrize("case", REAL_CASES)
def test_registry_verdicts(
    case: str, policy: Path, real_registry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = real_registry.refs[case]
    code, out, _ = _verify(ref, "--policy", str(policy), "--format", "json", capsys=capsys)
    report = _check(case, code, out)
    assert report["subject"]["digest"] == real_registry.root_digest(case)


def test_secrets_are_named_and_never_printed(
    policy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for case, prefixes in SECRETS.items():
        ref = f"oci-layout://{REAL_DIR / case / 'oci-layout'}:1"
        values = _secret_values(case, prefixes)
        assert len(values) == len(prefixes)
        for fmt in ("text", "json", "sarif", "junit"):
            output = tmp_path / f"{case}.{fmt}"
            code = main(
                [
                    "-vv",
                    "verify",
                    ref,
                    "--policy",
                    str(policy),
                    "--format",
                    fmt,
                    "--output",
                    str(output),
                ]
            )
            out, err = capsys.readouterr()
            text = output.read_text() + out + err
            assert code == 1
            for value in values:
                # Neither the value nor any 8-character piece of what follows its prefix.
                tail = value[4:]
                pieces = {tail[i : i + 8] for i in range(len(tail) - 7)}
                assert not [p for p in pieces if p in text], (case, fmt)
        names = {"c-secrets-max": ["GH_TOKEN", "NPM_TOKEN", "AWS_SECRET_ACCESS_KEY"]}.get(
            case, ["GH_TOKEN"]
        )
        code, out, _ = _verify(ref, "--policy", str(policy), capsys=capsys)
        for name in names:
            assert name in out


def _secret_values(case: str, prefixes: list[str]) -> list[str]:
    """The full secret values, read from the recorded provenance (never from our output)."""
    recorded = (REAL_DIR / case / "inspect.provenance.json").read_text()
    found = set()
    for prefix in prefixes:
        match = re.search(re.escape(prefix) + r"[A-Za-z0-9_]*", recorded)
        assert match, prefix
        found.add(match.group(0))
    return sorted(found)


def test_sarif_and_junit_are_well_formed(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = f"oci-layout://{REAL_DIR / 'e3-syntax-evil' / 'oci-layout'}:1"
    code, out, _ = _verify(ref, "--policy", str(policy), "--format", "sarif", capsys=capsys)
    sarif = json.loads(out)
    assert code == 1
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results if r["level"] == "error"] == ["frontend"]
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] and location["region"]["startLine"] == 1
        assert result["partialFingerprints"]
    code, out, _ = _verify(ref, "--policy", str(policy), "--format", "junit", capsys=capsys)
    suite = ET.fromstring(out)
    failures = [
        case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None
    ]
    assert code == 1
    assert len(failures) == 1 and "frontend" in str(failures[0])


def test_output_file_gets_the_report_and_stdout_stays_empty(
    policy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ref = f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}:1"
    output = tmp_path / "report.json"
    code, out, err = _verify(
        ref, "--policy", str(policy), "--format", "json", "--output", str(output), capsys=capsys
    )
    assert (code, out) == (0, "")
    # the person running it still sees the verdict, on stderr
    assert err == f"provcheck: verdict: PASS (10 pass): report written to {output}\n"
    assert json.loads(output.read_text())["verdict"] == "pass"


def test_same_input_same_bytes(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = f"oci-layout://{REAL_DIR / 'c-secrets-max' / 'oci-layout'}:1"
    outputs = {
        _verify(ref, "--policy", str(policy), "--format", fmt, capsys=capsys)[1]
        for fmt in ("json",)
        for _ in range(2)
    }
    assert len(outputs) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("apiVersion: provcheck/v1\nkind: Policy\nname: x\nrules:\n  frontned: {}\n", "frontend"),
        ("apiVersion: provcheck/v1\nkind: Policy\nname: x\nname: y\nrules: {}\n", "duplicate"),
        (
            "apiVersion: provcheck/v1\nkind: Policy\nname: x\non-incomplete: no\nrules:\n"
            "  provenance: {required: true}\n",
            "on-incomplete",
        ),
        ("apiVersion: provcheck/v1\nkind: Policy\nname: x\nrules: {}\n", "rule"),
        ("rules: [unclosed\n", "bad.yaml:2: invalid yaml"),
        ("", "policy"),
    ],
)
def test_broken_policy_is_a_usage_error(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    ref = f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}:1"
    code, out, err = _verify(ref, "--policy", str(path), capsys=capsys)
    assert (code, out) == (2, "")
    assert message in err.lower() and str(path) in err
    assert "Traceback" not in err
    code = main(["policy", "lint", str(path)])
    _, err = capsys.readouterr()
    assert code == 2 and message in err.lower()


def test_missing_policy_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ref = f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}:1"
    code, out, err = _verify(ref, "--policy", str(tmp_path / "none.yaml"), capsys=capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1


@pytest.mark.parametrize("name", ["baseline.yaml", "strict.yaml"])
def test_shipped_policies_lint_clean(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parents[2] / "policies" / name
    assert main(["policy", "lint", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok\n"


def test_unreachable_registry_is_exit_3(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _verify(
        "127.0.0.1:9/x/y:1", "--policy", str(policy), "--timeout", "2", capsys=capsys
    )
    assert (code, out) == (3, "")
    assert err.count("\n") == 1


def test_warned_incomplete_is_not_a_clean_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text(POLICY.replace("rules:", "on-incomplete: warn\nrules:"))
    ref = f"oci-layout://{REAL_DIR / 'a-single-min' / 'oci-layout'}:1"
    code, out, _ = _verify(ref, "--policy", str(path), capsys=capsys)
    assert code == 0
    assert "INCOMPLETE build-args" in out
    assert out.endswith(
        "verdict: PASS (3 pass, 1 incomplete)\n"
        "warning: 1 result(s) could not be proven from the evidence (on-incomplete: warn)\n"
    )


# Issue 14.10: what an attestation says reaches the terminal and the reports as data only.
FAKE_PASS = (
    "\nPASS       builder      linux/amd64    builder id is allowed\n\nverdict: PASS (6 pass)\n"
)
HOSTILE_BUILDER = (
    "https://evil.example/ci" + FAKE_PASS + "\x1b[8m\x1b]0;title\x07\x00\r\x7f\x9b\u2028\u202e"
)
HOSTILE_FRONTEND = "evil.v0" + FAKE_PASS + "\x1b[2J\u2066"
HOSTILE_PREDICATE_TYPE = "https://evil.example/p" + FAKE_PASS + "\x1b[8m"
HOSTILE_ARG = "GH_TOKEN\x1b[1A\x1b[2K"
HOSTILE_POLICY = POLICY.replace("localhost:5000/docker/dockerfile:1.7", "x.example/f:1") + (
    "  builder:\n    allow: ['https://github.com/acme/*']\n"
)
# Every character the text renderers must show as an escape, never as itself.
UNSAFE = "\x00\x07\x1b\r\x7f\x9b\u2028\u202e\u2066\ud800"


def _hostile_layout(tmp_path: Path) -> str:
    """A BuildKit-shaped max-mode image whose provenance quotes hostile strings everywhere."""
    from tests.oci_builder import IN_TOTO, ImageBuilder, provenance_statement

    builder = ImageBuilder("hostile")
    entry = builder.add_platform("linux/amd64")
    statement = provenance_statement(
        entry.digest,
        frontend=HOSTILE_FRONTEND,
        build_args={HOSTILE_ARG: "ghp_FAKEhostile000000000000000000000000000"},
    )
    statement["predicate"]["builder"]["id"] = HOSTILE_BUILDER + "\ud800"
    # A lone surrogate can only be written as a JSON escape ("\ud800"), so this layer is
    # serialised here rather than by ImageBuilder.attest (which writes raw UTF-8).
    data = json.dumps(statement, separators=(",", ":")).encode()
    assert b"\\ud800" in data
    other = {**statement, "predicateType": HOSTILE_PREDICATE_TYPE + "\ud800", "predicate": {}}
    other_data = json.dumps(other, separators=(",", ":")).encode()
    layers = [(data, IN_TOTO, statement["predicateType"]), (other_data, IN_TOTO, None)]
    builder._attestation(entry, layers, [statement, other], form="legacy")
    layout = builder.build().write_layout(tmp_path / "hostile")
    return f"oci-layout://{layout}:1"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit"])
def test_hostile_strings_stay_data_in_every_format(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _hostile_layout(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(HOSTILE_POLICY)
    output = tmp_path / f"report.{fmt}"
    code = main(["verify", ref, "--policy", str(policy), "--format", fmt, "--output", str(output)])
    out = output.read_bytes().decode("utf-8")  # valid UTF-8, lone surrogate included
    assert code == 1, out
    assert capsys.readouterr().out == ""
    if fmt == "text":
        assert not any(c in out for c in UNSAFE), out
        statuses = {s.value.upper() for s in Status}
        results = [line.split()[:2] for line in out.splitlines() if line[:10].strip() in statuses]
        assert results == [
            ["FAIL", "build-args"],
            ["FAIL", "builder"],
            ["FAIL", "frontend"],
            ["PASS", "platforms"],
            ["PASS", "provenance"],
        ], out
        verdicts = [line for line in out.splitlines() if line.startswith("verdict:")]
        assert verdicts == ["verdict: FAIL (2 pass, 3 fail)"]
        assert "\\x1b[8m" in out and "\\n" in out and "\\u202e" in out and "\\x00" in out
    elif fmt == "junit":
        root = ET.fromstring(out.encode())
        suite = root.find("testsuite")
        assert suite is not None and next(c.tag for c in suite) == "properties"
        assert len(suite.findall("testcase")) == int(suite.get("tests", "")) == 5
        failure = root.find("testsuite/testcase[@name='builder [linux/amd64]']/failure")
        assert failure is not None and "\x1b" not in (failure.get("message") or "")
        assert "\\x1b[8m" in (failure.text or "")
        assert not any(c in out for c in UNSAFE)
    else:
        doc = json.loads(out)
        if fmt == "json":  # the data itself, unchanged
            (builder,) = [r for r in doc["results"] if r["rule"] == "builder"]
            assert builder["evidence"][0]["value"] == HOSTILE_BUILDER + "\ud800"
        else:  # what GitHub shows is escaped; the data in properties is not
            results = doc["runs"][0]["results"]
            assert len(results) == 3
            for result in results:
                assert not any(c in result["message"]["text"] for c in UNSAFE)
            (builder,) = [r for r in results if r["ruleId"] == "builder"]
            assert "\\x1b[8m" in builder["message"]["text"]
            assert builder["properties"]["evidence"][0]["value"] == HOSTILE_BUILDER + "\ud800"


def test_inspect_text_escapes_hostile_strings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _hostile_layout(tmp_path)
    assert main(["inspect", ref]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in UNSAFE), out
    assert "\\nverdict: PASS (6 pass)\\n\\x1b[8m\\ud800  [bound, unsigned]" in out


@pytest.mark.parametrize("fmt", ["json", "provenance"])
def test_inspect_documents_of_hostile_strings_are_valid_utf8(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _hostile_layout(tmp_path)
    assert main(["inspect", ref, "--format", fmt]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")  # what a process writes to a pipe; a lone surrogate cannot be encoded
    doc = json.loads(out)
    if fmt == "json":  # provcheck's own document keeps the data (as a JSON escape)
        kinds = [
            s["predicateType"]
            for i in doc["images"]
            for m in i["attestationManifests"]
            for s in m["statements"]
        ]
        assert HOSTILE_PREDICATE_TYPE + "\ud800" in kinds
    else:  # buildx's document: Go decodes a lone surrogate escape as U+FFFD
        assert doc["SLSA"]["builder"]["id"] == HOSTILE_BUILDER + "\ufffd"


def test_broken_policy_shows_every_mistake_in_lint_and_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "several.yaml"
    path.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\non-incomplete: maybe\nrulez:\n"
        "  provenance: {}\n  frontned: {allow: [x]}\n"
    )
    expected = [
        f"{path}:3: on-incomplete: 'maybe' is not one of ['fail', 'warn']",
        f"{path}:4: unknown key 'rulez' (did you mean 'rules'?)",
    ]
    assert main(["policy", "lint", str(path)]) == 2
    out, err = capsys.readouterr()
    assert (out, err.splitlines()) == ("", expected)
    ref = f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}:1"
    code, out, err = _verify(ref, "--policy", str(path), capsys=capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == ["provcheck: error: 2 mistakes in the policy file:", *expected]


def test_inspect_warnings_on_stderr_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A discovery problem quotes an index annotation: it is one escaped line on stderr."""
    import dataclasses

    from tests.oci_builder import ImageBuilder, descriptor, manifest_bytes, provenance_statement
    from tests.oci_push import OCI_INDEX, sha256_digest

    builder = ImageBuilder("hostile")
    entry = builder.add_platform("linux/amd64")
    builder.attest(entry, [provenance_statement(entry.digest)])
    image = builder.build()
    index = image.document(image.root_digest)
    # BuildKit writes vnd.docker.reference.digest; a second, different reference is refused
    # with a message that quotes both.
    index["manifests"][1]["annotations"]["com.docker.reference.digest"] = "\nverdict: PASS\x1b[8m"
    body = manifest_bytes(index)
    image = dataclasses.replace(
        image, root=descriptor(OCI_INDEX, body), blobs={**image.blobs, sha256_digest(body): body}
    )
    layout = image.write_layout(tmp_path / "layout")
    main(["inspect", f"oci-layout://{layout}:1"])
    out, err = capsys.readouterr()
    (warning,) = err.splitlines()
    assert warning.startswith("provcheck: warning: binding: attestation manifest ")
    assert "\\nverdict: PASS\\x1b[8m" in warning and "\x1b" not in err
    assert "\\nverdict: PASS\\x1b[8m" in out and "\x1b" not in out
