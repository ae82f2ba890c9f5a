"""``build-args`` on image-config history records, read the way BuildKit writes them.

The records are BuildKit-shaped (``dispatchArg``: ``"ARG " + " ".join(NAME[=value])``;
``runCommandString``: ``"RUN |N " + N NAME=value items + args``, no quoting) and go into the real
min-mode case ``a-single-min`` (no build args in its provenance, so history is all there is) or
the max-mode case ``c-secrets-max`` (Dockerfile and build args recorded).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provcheck.policy import evaluate, parse_policy
from provcheck.report import ReportFormat, RuleResult, Status, render
from tests.paths import real_case
from tests.unit.policy.realdata import load_case
from tests.unit.policy.test_engine import ACCEPTANCE, NOW
from tests.unit.policy.variants import with_configs, with_predicates

PASSWORD = "correct horse battery staple"


def _history(records: Sequence[str]) -> list[dict[str, Any]]:
    return [{"created_by": r, "comment": "buildkit.dockerfile.v0"} for r in records]


def _build_args(case: str, records: Sequence[str], dockerfile: str | None = None) -> RuleResult:
    """The ``build-args`` result of ``case`` with ``records`` appended to its history."""

    def add(cfg: dict[str, Any]) -> None:
        cfg["history"] = [*cfg.get("history", []), *_history(records)]

    image = with_configs(load_case(case), add)
    if dockerfile is not None:

        def set_dockerfile(pred: dict[str, Any]) -> None:
            meta = pred["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]
            meta["source"]["infos"][0]["data"] = base64.b64encode(dockerfile.encode()).decode()

        image = with_predicates(image, set_dockerfile)
    report = evaluate(image, parse_policy(ACCEPTANCE, "t.yaml"), now=NOW)
    (result,) = [r for r in report.results if r.rule == "build-args"]
    return result


def _history_evidence(result: RuleResult) -> list[str | None]:
    return [e.value for e in result.evidence if e.pointer.startswith("/history/")]


def test_min_mode_secret_after_a_value_with_spaces_is_found() -> None:
    # docker buildx build --provenance=mode=min --build-arg "GREETING=hello world"
    #   --build-arg "DB_PASSWORD=correct horse battery staple"; Dockerfile: ARG GREETING DB_PASSWORD
    result = _build_args(
        "a-single-min",
        [
            f"ARG GREETING=hello world DB_PASSWORD={PASSWORD}",
            f"RUN |2 GREETING=hello world DB_PASSWORD={PASSWORD} /bin/sh -c ./configure",
        ],
    )
    assert result.status is Status.FAIL
    assert result.message.endswith(": DB_PASSWORD")
    assert _history_evidence(result) == ["DB_PASSWORD=…(28 chars, redacted)"] * 2


def test_name_without_value_is_not_glued_to_the_next_name() -> None:
    result = _build_args(
        "a-single-min",
        [
            "ARG GREETING DB_PASSWORD=s3cr3t value",
            "RUN |2 GREETING= DB_PASSWORD=s3cr3t value /bin/sh -c make",
        ],
    )
    assert result.message.endswith(": DB_PASSWORD")
    assert _history_evidence(result) == ["DB_PASSWORD=…(12 chars, redacted)"] * 2


def test_last_run_value_ends_where_its_arg_value_ends() -> None:
    # exec form (RUN ["make", "install"]): no shell marks where the value ends
    result = _build_args(
        "a-single-min",
        [
            "ARG DB_PASSWORD=correct horse battery=staple",
            "RUN |1 DB_PASSWORD=correct horse battery=staple make install",
        ],
    )
    assert result.message.endswith(": DB_PASSWORD")
    assert _history_evidence(result) == ["DB_PASSWORD=…(28 chars, redacted)"] * 2


def test_replaced_env_value_is_found_in_its_history_record() -> None:
    # ENV DB_PASSWORD=… then ENV DB_PASSWORD= : the config's Env no longer shows it
    result = _build_args("a-single-min", ["ENV DB_PASSWORD=hunter2 x", "ENV DB_PASSWORD="])
    assert result.status is Status.FAIL
    assert _history_evidence(result) == ["DB_PASSWORD=…(9 chars, redacted)"]


def test_run_value_set_by_env_ends_where_the_env_value_ends() -> None:
    result = _build_args(
        "a-single-min",
        [
            "ARG DB_PASSWORD=a b",
            "ENV DB_PASSWORD=c d e",
            "RUN |1 DB_PASSWORD=c d e make install",
        ],
    )
    assert _history_evidence(result) == [f"DB_PASSWORD=…({n} chars, redacted)" for n in (3, 5, 5)]


def test_dockerfile_names_keep_a_harmless_value_whole() -> None:
    # max mode: the Dockerfile and the build-arg value are in the provenance
    dockerfile = real_case("c-secrets-max").joinpath("Dockerfile").read_text()
    dockerfile = dockerfile.replace("ARG VERSION\n", "ARG VERSION\nARG CFLAGS\n")
    records = ["ARG CFLAGS=-O2 PASSWORD_POLICY=strict"]

    def cflags(pred: dict[str, Any]) -> None:
        pred["invocation"]["parameters"]["args"]["build-arg:CFLAGS"] = "-O2 PASSWORD_POLICY=strict"

    def add(cfg: dict[str, Any]) -> None:
        cfg["history"] = [*cfg["history"], *_history(records)]

    image = with_configs(with_predicates(load_case("c-secrets-max"), cflags), add)

    def set_dockerfile(pred: dict[str, Any]) -> None:
        meta = pred["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]
        meta["source"]["infos"][0]["data"] = base64.b64encode(dockerfile.encode()).decode()

    report = evaluate(
        with_predicates(image, set_dockerfile), parse_policy(ACCEPTANCE, "t.yaml"), now=NOW
    )
    (result,) = [r for r in report.results if r.rule == "build-args"]
    assert "PASSWORD_POLICY" not in result.message
    assert result.message.endswith(": AWS_SECRET_ACCESS_KEY, GH_TOKEN, NPM_TOKEN")


def test_base_image_record_cannot_hide_behind_dockerfile_names() -> None:
    # the Dockerfile declares ARG GREETING alone; a base image's record declares two names
    result = _build_args(
        "c-secrets-max",
        ["ARG GREETING=hello DB_PASSWORD=hunter2"],
        dockerfile="FROM scratch\nARG GREETING\n",
    )
    assert "DB_PASSWORD" in result.message
    assert "DB_PASSWORD=…(7 chars, redacted)" in _history_evidence(result)


def test_real_history_records_are_read_as_before() -> None:
    result = _build_args("c-secrets-max", [])
    # five ARG records (two harmless) and RUN |5 VERSION=… NODE_ENV=… GH_TOKEN=… … /bin/sh -c …
    expected = [
        "GH_TOKEN=ghp_…(42 chars, redacted)",
        "NPM_TOKEN=npm_…(41 chars, redacted)",
        "AWS_SECRET_ACCESS_KEY=…(41 chars, redacted)",
    ]
    assert _history_evidence(result) == expected * 2


# letters that no hex digest, JSON key or report word strings 8 of together
_WORDS = st.lists(st.text("gkqvxzGKQVXZ", min_size=1, max_size=9), min_size=1, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(greeting=_WORDS, password=_WORDS)
def test_min_mode_history_password_is_attributed_and_redacted_whole(
    greeting: list[str], password: list[str]
) -> None:
    hello, secret = " ".join(greeting), " ".join(password)
    records = [
        f"ARG GREETING={hello} DB_PASSWORD={secret}",
        f"RUN |2 GREETING={hello} DB_PASSWORD={secret} /bin/sh -c make",
    ]

    def add(cfg: dict[str, Any]) -> None:
        cfg["history"] = [*cfg.get("history", []), *_history(records)]

    report = evaluate(
        with_configs(load_case("a-single-min"), add), parse_policy(ACCEPTANCE, "t.yaml"), now=NOW
    )
    (result,) = [r for r in report.results if r.rule == "build-args"]
    assert result.message.endswith(": DB_PASSWORD")
    assert _history_evidence(result) == [f"DB_PASSWORD=…({len(secret)} chars, redacted)"] * 2
    for fmt in ReportFormat:
        out = render(report, fmt)
        for i in range(len(secret) - 7):
            assert secret[i : i + 8] not in out
