from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from provcheck.errors import PolicyError, PolicyMistakesError
from provcheck.policy import lint_policy, load_policy, parse_policy
from provcheck.policy.model import FrontendOptions, PlatformsOptions, ProvenanceOptions
from provcheck.report import OnIncomplete

POLICIES = Path(__file__).resolve().parents[3] / "policies"

ISSUE_EXAMPLE = """\
apiVersion: provcheck/v1
kind: Policy
name: production
on-incomplete: fail
rules:
  provenance:
    required: true
    mode: max
    max-age: 90d
  platforms:
    required: [linux/amd64, linux/arm64/v8]
  frontend:
    allow: [dockerfile.v0, "docker.io/docker/dockerfile:1.*"]
    pinned: false
  build-args:
    secrets: deny
    allow-names: [NPM_CONFIG_REGISTRY]
  base-images:
    allow: ["docker.io/library/*", "registry.example.com/base/*"]
  builder:
    allow: ["https://github.com/acme/*"]
"""

HEAD = "apiVersion: provcheck/v1\nkind: Policy\n"


def _err(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    return info.value.diagnostics()


def test_issue_example_parses() -> None:
    p = parse_policy(ISSUE_EXAMPLE, "p.yaml")
    assert p.name == "production" and p.on_incomplete is OnIncomplete.FAIL
    assert list(p.rules) == [
        "provenance",
        "platforms",
        "frontend",
        "build-args",
        "base-images",
        "builder",
    ]
    prov = p.rules["provenance"]
    assert isinstance(prov, ProvenanceOptions) and prov.max_age == timedelta(days=90)
    plat = p.rules["platforms"]
    assert isinstance(plat, PlatformsOptions) and plat.required == ("linux/amd64", "linux/arm64")
    fe = p.rules["frontend"]
    assert isinstance(fe, FrontendOptions) and not fe.pinned


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (
            HEAD + "rules:\n  frontned:\n    allow: [x]\n",
            ["p.yaml:4", "unknown rule 'frontned'", "did you mean 'frontend'"],
        ),
        (
            HEAD + "rules:\n  frontend:\n    allow: [x]\n    pined: true\n",
            ["p.yaml:6", "unknown key 'pined'", "'pinned'"],
        ),
        (
            HEAD + "rules:\n  provenance: {}\n  provenance: {}\n",
            ["p.yaml:5", "duplicate key 'provenance'", "line 4"],
        ),
        (
            HEAD + "on-incomplete: no\nrules:\n  provenance: {}\n",
            ["p.yaml:3", "on-incomplete", "quote"],
        ),
        (HEAD + "rules:\n  provenance:\n    max-age: 90 days\n", ["p.yaml:5", "duration"]),
        (HEAD + "rules:\n  platforms:\n    required: [linux]\n", ["p.yaml:5", "platform"]),
        (
            HEAD + "rules:\n  platforms:\n    required: [linux/amd64, linux/x86_64]\n",
            ["listed twice"],
        ),
        (HEAD + "rules: {}\n", ["rules"]),
        (HEAD + "rules:\n  provenance:\n    required: yes please\n", ["p.yaml:5", "boolean"]),
        (HEAD + "on: push\nrules:\n  provenance: {}\n", ["p.yaml:3", "not read as a string"]),
        (HEAD + "x: &a [1]\ny: *a\nrules:\n  provenance: {}\n", ["anchors and aliases"]),
        (HEAD + "rules:\n  provenance: [\n", ["p.yaml:", "invalid YAML"]),
        (
            "apiVersion: provcheck/v2\nkind: Policy\nrules:\n  provenance: {}\n",
            ["p.yaml:1", "apiVersion"],
        ),
        ("- a\n- b\n", ["must be a mapping"]),
        ("", ["empty"]),
        (HEAD + "rules:\n  provenance: {}\n---\nfoo: 1\n", ["invalid YAML"]),
        (HEAD + "rules:\n  frontend:\n    allow: []\n", ["p.yaml:5", "allow"]),
        (HEAD + "rules:\n  frontend: {}\n", ["p.yaml:4", "'allow' is a required property"]),
        (HEAD + "rules:\n  build-args:\n    secrets: allow\n", ["p.yaml:5", "deny"]),
    ],
)
def test_bad_policies_have_clear_errors(text: str, needles: list[str]) -> None:
    message = _err(text)
    for needle in needles:
        assert needle in message, message


def test_yaml_bomb_is_rejected() -> None:
    lines = [HEAD + "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    assert "aliases" in _err("\n".join(lines) + "\nrules:\n  provenance: {}\n")


def test_oversized_policy_is_rejected() -> None:
    assert "larger than" in _err(HEAD + "#" * (2 * 1024 * 1024))


def test_rule_with_no_options_uses_defaults() -> None:
    p = parse_policy(HEAD + "rules:\n  provenance:\n  build-args:\n", "p.yaml")
    assert set(p.rules) == {"provenance", "build-args"}


def test_load_and_lint(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(HEAD + "rules:\n  provenance: {}\n")
    assert load_policy(good).name == "good"
    assert lint_policy(good) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "rules:\n  frontned: {allow: [x]}\n")
    (msg,) = lint_policy(bad)
    assert msg.startswith(f"{bad}:4: unknown rule 'frontned'")
    assert lint_policy(tmp_path / "missing.yaml")[0].startswith(
        f"{tmp_path / 'missing.yaml'}: cannot read"
    )
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "UTF-8" in lint_policy(binary)[0]


@pytest.mark.parametrize("name", ["baseline.yaml", "strict.yaml"])
def test_shipped_policies_are_valid(name: str) -> None:
    assert lint_policy(POLICIES / name) == []


# Mistakes at every level: top-level keys, a rule name, rule options, list items, and checks
# made after the schema (duplicate platforms, purl patterns, licences, key files).
SEVERAL_MISTAKES = """\
apiVersion: provcheck/v1
kind: Policy
on-incomplete: maybe
rulez:
  provenance: {}
"""
SEVERAL_MISTAKES_2 = """\
apiVersion: provcheck/v2
kind: Policy
on: push
rules:
  provenance:
    required: yes please
    max-agee: 90d
  frontned:
    allow: [x]
  frontend:
    allow: []
    pined: true
  platforms:
    required: [linux/amd64, linux/amd64]
  sbom:
    deny-packages: ["pkg:pypi/x@<banana"]
    deny-licenses: ["NOT A LICENSE("]
  signatures:
    keys: [missing.pub]
    frobnicate: 1
  build-args:
    secrets: deny
    secrets: deny
"""


def test_lint_reports_every_mistake_with_its_line(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    first.write_text(SEVERAL_MISTAKES)
    assert lint_policy(first) == [
        f"{first}:3: on-incomplete: 'maybe' is not one of ['fail', 'warn']",
        f"{first}:4: unknown key 'rulez' (did you mean 'rules'?)",
    ]
    second = tmp_path / "second.yaml"
    second.write_text(SEVERAL_MISTAKES_2)
    messages = lint_policy(second)
    assert [m.split(": ", 1)[0] for m in messages] == [
        f"{second}:{n}" for n in (1, 3, 6, 7, 8, 11, 12, 14, 16, 17, 19, 20, 23)
    ]
    expected = [
        "apiVersion: 'provcheck/v1' was expected",
        "key 'on' is not read as a string",
        "rules.provenance.required: 'yes please' is not of type 'boolean'",
        "unknown key 'max-agee' in rules.provenance (did you mean 'max-age'?)",
        "unknown rule 'frontned' (did you mean 'frontend'?)",
        "rules.frontend.allow: [] should be non-empty",
        "unknown key 'pined' in rules.frontend (did you mean 'pinned'?)",
        "platform 'linux/amd64' is listed twice",
        "purl pattern 'pkg:pypi/x@<banana'",
        "rules.sbom.deny-licenses: invalid license expression 'NOT A LICENSE('",
        "missing.pub: cannot read the key file",
        "unknown key 'frobnicate' in rules.signatures (expected one of: attestations,",
        "duplicate key 'secrets' (first defined on line 22)",
    ]
    for message, needle in zip(messages, expected, strict=True):
        assert needle in message, (needle, message)
    with pytest.raises(PolicyMistakesError) as caught:
        load_policy(second)
    assert caught.value.messages == tuple(messages)
    assert caught.value.diagnostics().splitlines() == [
        f"{len(messages)} mistakes in the policy file:",
        *messages,
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEAD + "rulez:\n  provenance: {}\n",
            ["p.yaml:3: unknown key 'rulez' (did you mean 'rules'?)"],
        ),
        (
            HEAD + "rules:\n  frontend:\n    alow: [x]\n",
            ["p.yaml:5: unknown key 'alow' in rules.frontend (did you mean 'allow'?)"],
        ),
        (
            HEAD
            + "rules:\n  signatures:\n    identities:\n      - {issuer: x, subjet-regexp: y}\n",
            [
                "p.yaml:6: unknown key 'subjet-regexp' in rules.signatures.identities[0] "
                "(did you mean 'subject-regexp'?)"
            ],
        ),
        (
            HEAD + "rules:\n  build-args:\n    secrets: deny\n    secrets: allow\n",
            [
                "p.yaml:6: duplicate key 'secrets' (first defined on line 5)",
                "p.yaml:6: rules.build-args.secrets: 'allow' is not one of ['deny']",
            ],
        ),
        (
            HEAD + "rules:\n  provenance: {}\n  provenance: {}\n  provenance: {}\n",
            [
                "p.yaml:5: duplicate key 'provenance' (first defined on line 4)",
                "p.yaml:6: duplicate key 'provenance' (first defined on line 4)",
            ],
        ),
    ],
)
def test_unknown_keys_get_the_closest_name_at_every_level(text: str, expected: list[str]) -> None:
    with pytest.raises(PolicyMistakesError) as caught:
        parse_policy(text, "p.yaml")
    assert list(caught.value.messages) == expected
