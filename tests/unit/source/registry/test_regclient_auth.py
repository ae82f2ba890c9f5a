"""The WWW-Authenticate parser and the auth flow's pure parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provcheck.source.registry.auth import parse_www_authenticate, plain_http_allowed

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(alphabet=TCHARS, min_size=1, max_size=12)
values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("\té"),
    max_size=40,
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(
    scheme=tokens,
    params=st.dictionaries(tokens.map(str.lower), values, max_size=5),
    space=st.sampled_from(["", " ", "  "]),
)
def test_quoted_params_round_trip(scheme: str, params: dict[str, str], space: str) -> None:
    header = scheme + " " + f",{space}".join(f"{k}={_quote(v)}" for k, v in params.items())
    (challenge,) = parse_www_authenticate(header)
    assert challenge.scheme == scheme.lower()
    assert dict(challenge.params) == params


@given(
    first=st.dictionaries(tokens.map(str.lower), values, min_size=1, max_size=3),
    second=st.dictionaries(tokens.map(str.lower), tokens, min_size=1, max_size=3),
)
def test_two_challenges(first: dict[str, str], second: dict[str, str]) -> None:
    header = (
        "Bearer "
        + ",".join(f"{k}={_quote(v)}" for k, v in first.items())
        + ", Basic "
        + ", ".join(f"{k}={v}" for k, v in second.items())
    )
    bearer, basic = parse_www_authenticate(header)
    assert (bearer.scheme, dict(bearer.params)) == ("bearer", first)
    assert (basic.scheme, dict(basic.params)) == ("basic", second)


@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    parse_www_authenticate(text)


def test_docker_hub_challenge() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull repository:library/busybox:pull",'
        'error="insufficient_scope"'
    )
    (challenge,) = parse_www_authenticate(header)
    assert challenge.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/alpine:pull repository:library/busybox:pull",
        "error": "insufficient_scope",
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Basic realm="a, b"', [("basic", {"realm": "a, b"})]),
        ("Bearer realm=x , service = y", [("bearer", {"realm": "x", "service": "y"})]),
        ('BEARER Realm="q\\"uote"', [("bearer", {"realm": 'q"uote'})]),
        ("Bearer", [("bearer", {})]),
        ('Negotiate abc==, Basic realm="r"', [("negotiate", {}), ("basic", {"realm": "r"})]),
        ("", []),
        ('Bearer realm="unterminated', [("bearer", {"realm": "unterminated"})]),
    ],
)
def test_examples(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert [(c.scheme, dict(c.params)) for c in parse_www_authenticate(header)] == expected


@pytest.mark.parametrize(
    ("host", "port", "insecure", "allowed"),
    [
        ("localhost", None, set(), True),
        ("127.0.0.1", 8080, set(), True),
        ("::1", 80, set(), True),
        ("auth.example.com", None, set(), False),
        ("auth.example.com", None, {"auth.example.com"}, True),
        ("auth.example.com", 5001, {"auth.example.com:5001"}, True),
        ("auth.example.com", 5002, {"auth.example.com:5001"}, False),
    ],
)
def test_plain_http_allowed(host: str, port: int | None, insecure: set[str], allowed: bool) -> None:
    assert plain_http_allowed(host, port, frozenset(insecure)) is allowed
