from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provcheck._internal.secrets import looks_like_secret
from provcheck.policy import Policy, evaluate, parse_policy
from provcheck.report import Report, Status, Verdict
from tests.paths import REAL_CASES
from tests.unit.policy.realdata import load_case
from tests.unit.policy.variants import with_configs, with_predicates

HEAD = "apiVersion: provcheck/v1\nkind: Policy\nname: t\n"
ACCEPTANCE = (
    HEAD
    + """\
rules:
  provenance:
    required: true
  platforms:
    required: [linux/amd64]
  frontend:
    allow: [dockerfile.v0, "localhost:5000/docker/dockerfile:1.7*"]
  build-args:
    secrets: deny
"""
)
NOW = datetime(2026, 12, 1, tzinfo=UTC)

# case -> (verdict with on-incomplete fail, with warn, {(rule, platform): status} not pass)
EXPECTED: dict[str, tuple[Verdict, Verdict, dict[tuple[str, str | None], Status]]] = {
    "a-single-min": (
        Verdict.FAIL,
        Verdict.PASS,
        {("build-args", "linux/amd64"): Status.INCOMPLETE},
    ),
    "b-multi-max": (Verdict.PASS, Verdict.PASS, {}),
    "c-secrets-max": (Verdict.FAIL, Verdict.FAIL, {("build-args", "linux/amd64"): Status.FAIL}),
    "d-secret-mount": (Verdict.PASS, Verdict.PASS, {}),
    "e1-syntax-tag": (Verdict.PASS, Verdict.PASS, {}),
    "e3-syntax-evil": (Verdict.FAIL, Verdict.FAIL, {("frontend", "linux/amd64"): Status.FAIL}),
    "f-slsa-v1": (
        Verdict.FAIL,
        Verdict.FAIL,
        {("build-args", "linux/amd64"): Status.FAIL, ("build-args", "linux/arm64"): Status.FAIL},
    ),
    "g-sbom-generator": (Verdict.PASS, Verdict.PASS, {}),
    "h-no-attest": (
        Verdict.FAIL,
        Verdict.FAIL,
        {
            ("provenance", "linux/amd64"): Status.FAIL,
            ("frontend", "linux/amd64"): Status.INCOMPLETE,
            ("build-args", "linux/amd64"): Status.INCOMPLETE,
        },
    ),
    "i-cosign": (Verdict.PASS, Verdict.PASS, {}),
    "n1-default": (
        Verdict.FAIL,
        Verdict.PASS,
        {
            ("build-args", "linux/amd64"): Status.INCOMPLETE,
            ("build-args", "linux/arm64"): Status.INCOMPLETE,
        },
    ),
}


def _policy(text: str = ACCEPTANCE, on_incomplete: str = "fail") -> Policy:
    return parse_policy(
        text.replace("name: t\n", f"name: t\non-incomplete: {on_incomplete}\n"), "t.yaml"
    )


def _run(case: str, text: str = ACCEPTANCE, **kw: Any) -> Report:
    return evaluate(load_case(case), _policy(text, **kw), now=NOW)


def _status(report: Report, rule: str, platform: str | None = "linux/amd64") -> Status:
    (r,) = [r for r in report.results if r.rule == rule and r.platform == platform]
    return r.status


def test_expectations_cover_every_real_case() -> None:
    assert set(EXPECTED) == set(REAL_CASES)


@pytest.mark.parametrize("case", REAL_CASES)
def test_real_case_verdicts(case: str) -> None:
    verdict_fail, verdict_warn, not_pass = EXPECTED[case]
    report = _run(case)
    assert report.verdict is verdict_fail
    assert _run(case, on_incomplete="warn").verdict is verdict_warn
    got = {(r.rule, r.platform): r.status for r in report.results if r.status is not Status.PASS}
    assert got == not_pass
    assert [r.sort_key for r in report.results] == sorted(r.sort_key for r in report.results)
    assert all(r.evidence for r in report.results)


def test_c_secrets_finds_all_three_and_no_harmless_names() -> None:
    (r,) = [r for r in _run("c-secrets-max").results if r.rule == "build-args"]
    assert "AWS_SECRET_ACCESS_KEY, GH_TOKEN, NPM_TOKEN" in r.message
    pointers = {e.pointer for e in r.evidence}
    assert "/predicate/invocation/parameters/args/build-arg:GH_TOKEN" in pointers
    assert "/predicate/buildConfig/llbDefinition/1/op/Op/exec/meta/env/3" in pointers
    assert "/history/9/created_by" in pointers  # RUN |5 … record in the image config
    assert not any(
        "VERSION" in (e.value or "") or "NODE_ENV" in (e.value or "") for e in r.evidence
    )
    assert all("FAKE" not in (e.value or "") for e in r.evidence)
    assert all(e.remediation and "--mount=type=secret" in e.remediation for e in r.evidence)


def test_f_slsa_v1_points_into_v1_paths() -> None:
    (r,) = [
        r
        for r in _run("f-slsa-v1").results
        if r.rule == "build-args" and r.platform == "linux/arm64"
    ]
    pointers = {e.pointer for e in r.evidence}
    assert (
        "/predicate/buildDefinition/externalParameters/request/args/build-arg:GH_TOKEN" in pointers
    )
    assert any(
        p.startswith("/predicate/buildDefinition/internalParameters/buildConfig/llbDefinition/")
        for p in pointers
    )


def test_allow_names_suppresses() -> None:
    text = ACCEPTANCE.replace("secrets: deny", "secrets: deny\n    allow-names: [GH_TOKEN]")
    assert _status(_run("f-slsa-v1", text), "build-args") is Status.PASS


def test_min_mode_with_complete_args_can_pass() -> None:
    def complete(p: dict[str, Any]) -> None:
        p["metadata"]["completeness"]["parameters"] = True

    img = with_predicates(load_case("a-single-min"), complete)
    assert _status(evaluate(img, _policy(), now=NOW), "build-args") is Status.PASS


def test_min_mode_still_fails_on_history_secret() -> None:
    def leak(cfg: dict[str, Any]) -> None:
        cfg["history"].insert(0, {"created_by": "ARG NPM_TOKEN=npm_" + "Ab3" * 12})

    img = with_configs(load_case("n1-default"), leak)
    report = evaluate(img, _policy(), now=NOW)
    assert _status(report, "build-args") is Status.FAIL
    assert "npm_Ab3" not in json.dumps([str(r) for r in report.results])


def test_secret_in_env_of_config_fails_d_secret_mount() -> None:
    def env(cfg: dict[str, Any]) -> None:
        cfg["config"]["Env"].append("DATABASE_URL=postgres://app:s3cr3tpw@db:5432/app")

    report = evaluate(with_configs(load_case("d-secret-mount"), env), _policy(), now=NOW)
    assert _status(report, "build-args") is Status.FAIL
    (r,) = [r for r in report.results if r.rule == "build-args"]
    assert r.evidence[0].pointer == "/config/Env/1"
    assert "s3cr3tpw" not in (r.evidence[0].value or "")


def test_history_free_text_naming_a_secret_is_harmless() -> None:
    def mount(cfg: dict[str, Any]) -> None:
        cfg["history"].append(
            {"created_by": "RUN |1 VERSION=1 /bin/sh -c GH_TOKEN=$(cat /run/secrets/GH_TOKEN) make"}
        )

    assert (
        _status(
            evaluate(with_configs(load_case("d-secret-mount"), mount), _policy(), now=NOW),
            "build-args",
        )
        is Status.PASS
    )


def test_missing_config_makes_build_args_incomplete() -> None:
    img = with_configs(load_case("d-secret-mount"), None)
    assert _status(evaluate(img, _policy(), now=NOW), "build-args") is Status.INCOMPLETE


def _set_source(source: str, digest: str | None = None, purl: str | None = None) -> Any:
    def mutate(p: dict[str, Any]) -> None:
        args = p["invocation"]["parameters"]["args"]
        args["source"] = args["cmdline"] = source
        if purl:
            p["materials"][0]["uri"] = purl
        if digest:
            p["materials"][0]["digest"]["sha256"] = digest

    return mutate


def test_buildkit_syntax_override_is_what_counts() -> None:
    # The recorded Dockerfile says `# syntax=…/dockerfile:1.7`, but BUILDKIT_SYNTAX ran evil.
    img = with_predicates(load_case("e1-syntax-tag"), _set_source("localhost:5000/evil/frontend:1"))
    assert _status(evaluate(img, _policy(), now=NOW), "frontend") is Status.FAIL
    # …and the reverse: Dockerfile names evil, what ran (args.source) is approved.
    img = with_predicates(
        load_case("e3-syntax-evil"),
        _set_source(
            "localhost:5000/docker/dockerfile:1.7",
            purl="pkg:docker/localhost%3A5000/docker/dockerfile@1.7",
        ),
    )
    assert _status(evaluate(img, _policy(), now=NOW), "frontend") is Status.PASS


def test_frontend_digest_pin_in_allow_entry() -> None:
    good = "sha256:dfd9c5a91b6d3bde97f702a74269b714b44514cc2e3b7141a415ffd65b84682d"
    text = ACCEPTANCE.replace(
        '"localhost:5000/docker/dockerfile:1.7*"', f'"localhost:5000/docker/dockerfile:1.7@{good}"'
    )
    assert _status(_run("e1-syntax-tag", text), "frontend") is Status.PASS
    img = with_predicates(
        load_case("e1-syntax-tag"), _set_source("localhost:5000/docker/dockerfile:1.7", "0" * 64)
    )
    assert _status(evaluate(img, _policy(text), now=NOW), "frontend") is Status.FAIL


def test_frontend_pinned() -> None:
    text = ACCEPTANCE.replace('1.7*"]', '1.7*"]\n    pinned: true')
    assert _status(_run("e1-syntax-tag", text), "frontend") is Status.FAIL
    assert _status(_run("b-multi-max", text), "frontend") is Status.PASS  # built-in
    pinned = "localhost:5000/docker/dockerfile:1.7@sha256:" + "d" * 64
    img = with_predicates(load_case("e1-syntax-tag"), _set_source(pinned))
    # what ran is only ever read from the materials, never from the digest in args.source
    assert _status(evaluate(img, _policy(text), now=NOW), "frontend") is Status.INCOMPLETE

    def pinned_material(p: dict[str, Any]) -> None:  # BuildKit adds one with digest=
        _set_source(pinned)(p)
        uri = "pkg:docker/localhost%3A5000/docker/dockerfile@1.7?digest=sha256%3A" + "d" * 64
        p["materials"].insert(0, {"digest": {"sha256": "d" * 64}, "uri": uri})

    img = with_predicates(load_case("e1-syntax-tag"), pinned_material)
    assert _status(evaluate(img, _policy(text), now=NOW), "frontend") is Status.PASS


def test_frontend_reference_normalisation() -> None:
    img = with_predicates(load_case("e1-syntax-tag"), _set_source("docker/dockerfile:1"))
    text = ACCEPTANCE.replace(
        '"localhost:5000/docker/dockerfile:1.7*"', '"docker.io/docker/dockerfile:1"'
    )
    assert (
        _status(evaluate(img, _policy(text), now=NOW), "frontend") is Status.INCOMPLETE
    )  # no material
    text2 = ACCEPTANCE.replace('"localhost:5000/docker/dockerfile:1.7*"', '"docker/dockerfile:1.*"')
    assert _status(evaluate(img, _policy(text2), now=NOW), "frontend") is Status.FAIL


def test_raw_llb_frontend_fails() -> None:
    def raw(p: dict[str, Any]) -> None:
        p["invocation"]["parameters"]["frontend"] = ""

    assert (
        _status(
            evaluate(with_predicates(load_case("c-secrets-max"), raw), _policy(), now=NOW),
            "frontend",
        )
        is Status.FAIL
    )


def test_platforms_normalised_and_missing() -> None:
    text = ACCEPTANCE.replace("[linux/amd64]", "[linux/amd64, linux/arm64/v8, linux/arm]")
    assert _status(_run("b-multi-max", text), "platforms", None) is Status.PASS
    report = _run("f-slsa-v1", text)
    assert _status(report, "platforms", None) is Status.FAIL
    (r,) = [r for r in report.results if r.rule == "platforms"]
    assert "linux/arm/v7" in r.message


def test_provenance_mode_and_age() -> None:
    text = ACCEPTANCE.replace(
        "required: true\n  platforms",
        "required: true\n    mode: max\n    max-age: 30d\n  platforms",
    )
    assert _status(_run("b-multi-max", text), "provenance") is Status.PASS
    assert _status(_run("a-single-min", text), "provenance") is Status.FAIL
    later = evaluate(load_case("b-multi-max"), _policy(text), now=datetime(2027, 6, 1, tzinfo=UTC))
    assert _status(later, "provenance") is Status.FAIL


def test_base_images() -> None:
    text = ACCEPTANCE + '  base-images:\n    allow: ["localhost:5000/lab/base-busybox:*"]\n'
    for case in (
        "c-secrets-max",
        "e1-syntax-tag",
        "e3-syntax-evil",
        "g-sbom-generator",
        "b-multi-max",
        "n1-default",
    ):
        assert _status(_run(case, text), "base-images") is Status.PASS, case
    strict = ACCEPTANCE + '  base-images:\n    allow: ["docker.io/library/*"]\n'
    report = _run("g-sbom-generator", strict)
    (r,) = [r for r in report.results if r.rule == "base-images" and r.platform == "linux/amd64"]
    assert (
        r.status is Status.FAIL
        and "base-busybox" in r.message
        and "sbom-generator" not in r.message
    )


def test_builder_rule() -> None:
    text = ACCEPTANCE + '  builder:\n    allow: ["https://github.com/acme/*"]\n'
    assert _status(_run("b-multi-max", text), "builder") is Status.FAIL

    def bid(p: dict[str, Any]) -> None:
        p["builder"]["id"] = "https://github.com/acme/app/actions/runs/1"

    img = with_predicates(load_case("b-multi-max"), bid)
    assert _status(evaluate(img, _policy(text), now=NOW), "builder") is Status.PASS


def test_malformed_predicate_is_error_not_pass() -> None:
    img = with_predicates(load_case("d-secret-mount"), lambda p: {**p, "invocation": "oops"})
    report = evaluate(img, _policy(), now=NOW)
    assert _status(report, "provenance") is Status.ERROR
    assert report.verdict is Verdict.ERROR


def test_no_platform_images_is_error() -> None:
    import dataclasses

    img = dataclasses.replace(load_case("b-multi-max"), images=())
    assert evaluate(img, _policy(), now=NOW).verdict is Verdict.ERROR


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("GH_TOKEN", "x", True),
        ("VERSION", "1.4.2", False),
        ("NODE_ENV", "production", False),
        ("PATH", "/usr/bin:/bin", False),
        ("X", "ghp_" + "a" * 36, True),
        ("X", "AKIAIOSFODNN7EXAMPLE", True),
        ("X", "xoxb-1234567890-abcdef", True),
        ("X", "-----BEGIN RSA PRIVATE KEY-----", True),
        ("REGISTRY", "https://user:pw@registry.example.com", True),
        ("CTX", "https://xxxxx:xxxxx@github.com/o/r.git", False),
        ("X", "q8Zr4LmN2vXp7TsK9wYb3HcJ6dFg1", True),
        ("GIT_SHA", "3f2c1a9d8e7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d", False),
        ("DB_PASSWORD", "", False),
        ("NPM_AUTH", "dXNlcjpwYXNz", True),
        ("AUTHOR", "Jane Doe", False),
        ("AUTHORIZATION", "Bearer abc", True),
        ("TOKEN_URL", "https://auth.example.com/token", False),
        ("TOKEN_URL", "https://user:hunter2@auth.example.com/token", True),
        ("OIDC_TOKEN_ENDPOINT", "https://issuer.example.com/oauth/token", False),
    ],
)
def test_secret_detection(name: str, value: str, secret: bool) -> None:
    assert (looks_like_secret(name, value) is not None) is secret


_PTYPES = st.sampled_from(["https://slsa.dev/provenance/v0.2", "https://slsa.dev/provenance/v1"])
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "invocation",
                    "parameters",
                    "args",
                    "materials",
                    "uri",
                    "digest",
                    "sha256",
                    "frontend",
                    "buildDefinition",
                    "externalParameters",
                    "request",
                    "source",
                    "build-arg:TOKEN",
                    "metadata",
                    "completeness",
                    "history",
                    "created_by",
                    "config",
                    "Env",
                ]
            )
            | st.text(max_size=5),
            c,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(pred=_json, cfg=_json, ptype=_PTYPES)
def test_evaluate_never_raises(pred: Any, cfg: Any, ptype: str) -> None:
    import dataclasses

    policy = _policy(
        ACCEPTANCE + '  base-images:\n    allow: ["*"]\n  builder:\n    allow: ["*"]\n'
    )
    img = load_case("c-secrets-max")

    def swap(_: dict[str, Any]) -> Any:
        return pred if isinstance(pred, dict) else {"x": pred}

    img = with_predicates(img, swap)
    img = dataclasses.replace(
        img,
        images=tuple(
            dataclasses.replace(pi, config=cfg if isinstance(cfg, dict) else None)
            for pi in img.images
        ),
    )
    img = dataclasses.replace(
        img,
        images=tuple(
            dataclasses.replace(
                pi,
                attestations=tuple(
                    dataclasses.replace(
                        m,
                        layers=tuple(
                            dataclasses.replace(
                                layer,
                                statement=dataclasses.replace(
                                    layer.statement, predicate_type=ptype
                                ),
                            )
                            if layer.statement
                            else layer
                            for layer in m.layers
                        ),
                    )
                    for m in pi.attestations
                ),
            )
            for pi in img.images
        ),
    )
    report = evaluate(img, policy, now=NOW)
    assert report.verdict in (Verdict.PASS, Verdict.FAIL, Verdict.ERROR)


def test_a_naive_evaluation_time_is_a_usage_error_not_a_crash() -> None:
    """A naive ``now`` cannot be compared with the aware times of attestations (``max-age``):
    it was a ``TypeError`` deep in a rule; it is refused up front."""
    from provcheck.errors import UsageError

    policy = _policy(HEAD + "rules:\n  provenance:\n    required: true\n    max-age: 30d\n")
    with pytest.raises(UsageError, match="time zone"):
        evaluate(load_case("a-single-min"), policy, now=datetime(2026, 12, 1))


def test_every_kind_of_problem_that_voids_evidence_has_a_meaning() -> None:
    from provcheck.discovery.model import Problem, ProblemKind
    from provcheck.policy.engine import voided_message

    for kind in ProblemKind:
        if kind.voids_evidence:
            assert voided_message(Problem(kind, "m")).endswith(" (m)")
