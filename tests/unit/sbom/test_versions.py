from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provcheck.errors import SbomError
from provcheck.sbom.versions import (
    VersionUnknownError,
    compare_debian,
    compare_generic,
    compare_pep440,
    compare_semver,
    compare_versions,
    parse_purl,
    parse_purl_pattern,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.9.0", "1.10.0"),
        ("v1.2.3", "v1.2.4"),
        # Go pseudo-versions sort before the release they precede and by timestamp
        ("v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-aaaaaaaaaaaa"),
        ("v0.0.0-20191109021931-daa7c04131f5", "v0.1.0"),
        ("v1.2.3", "v1.2.4-0.20200101000000-abcdefabcdef"),
        ("v1.2.4-0.20200101000000-abcdefabcdef", "v1.2.4"),
    ],
)
def test_semver_ordering(a: str, b: str) -> None:
    assert compare_semver(a, b) < 0
    assert compare_semver(b, a) > 0


def test_semver_ignores_build_metadata_and_v_prefix() -> None:
    assert compare_semver("v2.0.0+incompatible", "2.0.0") == 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("5.3.1", "5.4"),
        ("5.4rc1", "5.4"),
        ("5.4.dev0", "5.4a1"),
        ("5.4", "5.4.post1"),
        ("1!0.1", "1!0.2"),
        ("2.0", "1!0.1"),
    ],
)
def test_pep440_ordering(a: str, b: str) -> None:
    assert compare_pep440(a, b) < 0
    assert compare_pep440("5.4.0", "5.4") == 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("5.6.0~rc1-1", "5.6.0-1"),
        ("5.6.0-1", "5.6.0-1+deb12u1"),
        ("5.6.1-1", "5.6.2-1"),
        ("1.0-1", "1:0.9-1"),
        ("2.36-9+deb12u4", "2.36-9+deb12u10"),
        ("1.0~~", "1.0~"),
        ("1.0~", "1.0"),
        ("1.0", "1.0a"),
        ("1.0a", "1.0+"),
        ("1.2-3-4", "1.2-3-5"),
    ],
)
def test_debian_ordering(a: str, b: str) -> None:
    assert compare_debian(a, b) < 0
    assert compare_debian(b, a) > 0


def test_debian_equal_and_invalid() -> None:
    assert compare_debian("0:1.0", "1.0") == 0
    with pytest.raises(ValueError):
        compare_debian("abc", "1.0")


def test_generic_ordering_is_numeric_aware() -> None:
    assert compare_generic("1.10", "1.9") > 0
    assert compare_generic("3.18.4-r0", "3.18.10-r0") < 0


def test_compare_versions_names_the_ordering_when_it_cannot() -> None:
    with pytest.raises(SbomError, match="semver"):
        compare_versions("npm", "not-a-version", "1.0.0")
    with pytest.raises(SbomError, match="pep440"):
        compare_versions("pypi", "1.0", "banana split")


def test_parse_purl_decodes_and_normalises() -> None:
    purl = parse_purl("pkg:pypi/Py_YAML.x@5.3.1?foo=bar#sub")
    assert (purl.type, purl.namespace, purl.name, purl.version) == (
        "pypi",
        "",
        "py-yaml-x",
        "5.3.1",
    )
    purl = parse_purl("pkg:npm/%40angular/core@1.0.0")
    assert (purl.namespace, purl.name) == ("@angular", "core")
    purl = parse_purl("pkg:deb/debian/tzdata@1%3A2024a-1")
    assert purl.version == "1:2024a-1"
    purl = parse_purl("pkg:golang/github.com/Foo/Bar@v1.0.0")
    assert (purl.namespace, purl.name) == ("github.com/Foo", "Bar")
    with pytest.raises(SbomError):
        parse_purl("npm/left-pad")


@pytest.mark.parametrize(
    ("pattern", "purl", "expected"),
    [
        ("pkg:pypi/pyyaml@<5.4", "pkg:pypi/PyYAML@5.3.1", True),
        ("pkg:pypi/pyyaml@<5.4", "pkg:pypi/pyyaml@5.4", False),
        ("pkg:pypi/pyyaml@<5.4", "pkg:pypi/pyyaml@5.4rc1", True),
        ("pkg:pypi/pyyaml@<5.4", "pkg:npm/pyyaml@1.0.0", False),
        ("pkg:npm/event-stream", "pkg:npm/event-stream@3.3.6", True),
        ("pkg:npm/event-stream", "pkg:npm/%40evil/event-stream@3.3.6", False),
        ("pkg:npm/@scope/pkg@>=1.0.0,<2.0.0", "pkg:npm/%40scope/pkg@1.5.0", True),
        ("pkg:npm/@scope/pkg@>=1.0.0,<2.0.0", "pkg:npm/%40scope/pkg@2.0.0-rc.1", True),
        ("pkg:npm/@scope/pkg@>=1.0.0,<2.0.0", "pkg:npm/%40scope/pkg@2.0.0", False),
        ("pkg:deb/debian/xz-utils@>=5.6.0,<5.6.2", "pkg:deb/debian/xz-utils@5.6.1-1", True),
        ("pkg:deb/debian/xz-utils@>=5.6.0,<5.6.2", "pkg:deb/debian/xz-utils@5.6.2-1", False),
        ("pkg:deb/debian/xz-utils@>=5.6.0,<5.6.2", "pkg:deb/debian/xz-utils@5.6.0~rc1-1", False),
        ("pkg:deb/debian/xz-utils@>=5.6.0,<5.6.2", "pkg:deb/ubuntu/xz-utils@5.6.1-1", False),
        ("pkg:deb/*/xz-utils@>=5.6.0,<5.6.2", "pkg:deb/ubuntu/xz-utils@5.6.1-1", True),
        ("pkg:golang/golang.org/x/net@<0.17.0", "pkg:golang/golang.org/x/net@v0.16.0", True),
        (
            "pkg:golang/golang.org/x/net@<0.17.0",
            "pkg:golang/golang.org/x/net@v0.0.0-20191109021931-daa7c04131f5",
            True,
        ),
        ("pkg:golang/golang.org/x/net@<0.17.0", "pkg:golang/golang.org/x/net@v0.17.0", False),
        ("pkg:golang/golang.org/x/*", "pkg:golang/golang.org/x/crypto@v0.1.0", True),
        (
            "pkg:maven/org.apache.logging.log4j/log4j-core@>=2.0,<2.15.0",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            True,
        ),
        ("pkg:npm/left-pad@=1.0.0", "pkg:npm/left-pad@1.0.0", True),
        ("pkg:npm/left-pad@!=1.0.0", "pkg:npm/left-pad@1.0.0", False),
        ("pkg:npm/left-pad@1.0.0", "pkg:npm/left-pad@1.0.1", False),
    ],
)
def test_pattern_matching(pattern: str, purl: str, expected: bool) -> None:
    assert parse_purl_pattern(pattern).matches(parse_purl(purl)) is expected


def test_pattern_match_with_unreadable_version_is_unknown_not_a_miss() -> None:
    pattern = parse_purl_pattern("pkg:pypi/pyyaml@<5.4")
    with pytest.raises(VersionUnknownError, match="pep440"):
        pattern.matches(parse_purl("pkg:pypi/pyyaml@weird version"))
    with pytest.raises(VersionUnknownError, match="no version"):
        pattern.matches(parse_purl("pkg:pypi/pyyaml"))
    assert pattern.matches(parse_purl("pkg:pypi/other@weird version")) is False


@pytest.mark.parametrize(
    "pattern",
    [
        "pypi/pyyaml",
        "pkg:pypi/pyyaml@<not a version",
        "pkg:npm/x@>=banana",
        "pkg:deb/x?arch=amd64",
        "pkg:npm/x@<",
    ],
)
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(SbomError):
        parse_purl_pattern(pattern)


_SEMVERS = st.builds(
    lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 20),
    st.sampled_from(["", "alpha", "alpha.1", "beta.2", "rc.1", "0.20200101000000-abc"]),
)
_DEBS = st.from_regex(r"\A([0-9]:)?[0-9][0-9a-z.+~]{0,6}(-[0-9a-z.+~]{1,4})?\Z")


@given(_SEMVERS, _SEMVERS, _SEMVERS)
def test_semver_is_a_total_order(a: str, b: str, c: str) -> None:
    assert compare_semver(a, b) == -compare_semver(b, a)
    if compare_semver(a, b) <= 0 and compare_semver(b, c) <= 0:
        assert compare_semver(a, c) <= 0


@given(_DEBS, _DEBS, _DEBS)
def test_debian_is_a_total_order(a: str, b: str, c: str) -> None:
    assert compare_debian(a, b) == -compare_debian(b, a)
    if compare_debian(a, b) <= 0 and compare_debian(b, c) <= 0:
        assert compare_debian(a, c) <= 0


@given(st.text(max_size=60))
def test_pattern_parsing_never_raises_anything_but_sbom_error(text: str) -> None:
    with contextlib.suppress(SbomError):
        parse_purl_pattern(text)
