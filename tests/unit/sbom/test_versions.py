from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provcheck.errors import SbomError, VersionUnknownError
from provcheck.sbom.versions import (
    Ordering,
    VersionProblem,
    compare_composer,
    compare_debian,
    compare_pep440,
    compare_semver,
    compare_versions,
    ordering_for,
    parse_purl,
    parse_purl_pattern,
    purl_type,
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


# (type, lower, higher): real versions of each ecosystem. Where a reference implementation was
# at hand its answer was checked: dpkg --compare-versions (deb), rpm.vercmp of rpm 4.18 (rpm),
# Ruby 3.1 Gem::Version (gem), PHP 8.2 version_compare of Composer-normalised versions
# (composer); the others follow the ecosystem's documented ordering.
REAL_ORDER = [
    # maven (Maven ComparableVersion): qualifiers alpha < beta < milestone < rc < snapshot < "" < sp
    ("maven", "2.15.0-rc1", "2.15.0"),
    ("maven", "2.15.0-rc1", "2.15.0-RC2"),
    ("maven", "2.14.1", "2.15.0-rc1"),
    ("maven", "1.0-alpha", "1.0"),
    ("maven", "1.0-alpha-1", "1.0-beta"),
    ("maven", "1.0-beta", "1.0-m1"),
    ("maven", "1.0-m1", "1.0-rc1"),
    ("maven", "1.0-rc1", "1.0-SNAPSHOT"),
    ("maven", "1.0-SNAPSHOT", "1.0"),
    ("maven", "1.0", "1.0-sp1"),
    ("maven", "2.0-beta9", "2.0"),
    ("maven", "5.3.0.RELEASE", "5.3.1.RELEASE"),
    ("maven", "1.9", "1.10"),
    # apk (apk-tools): _alpha < _beta < _pre < _rc < release < _p; -rN revisions
    ("apk", "3.0.8_rc1-r0", "3.0.8-r0"),
    ("apk", "3.0.8-r0", "3.0.8-r1"),
    ("apk", "3.18.4-r0", "3.18.10-r0"),
    ("apk", "1.2.3_alpha", "1.2.3_beta"),
    ("apk", "1.2.3_pre1", "1.2.3_rc1"),
    ("apk", "1.2.3", "1.2.3_p1"),
    ("apk", "2024a-r0", "2024b-r0"),
    # gem (Gem::Version): a letter segment is a pre-release; "-" means ".pre."
    ("gem", "1.0.0.pre", "1.0.0"),
    ("gem", "1.0.0.pre", "1.0.0.pre.1"),
    ("gem", "1.0.0.rc1", "1.0.0"),
    ("gem", "1.0.0-rc1", "1.0.0"),
    ("gem", "1.0.0.a", "1.0.0.b"),
    ("gem", "2.0.0.beta2", "2.0.0.beta10"),
    ("gem", "3.2.0.rc2", "3.2.0"),
    ("gem", "1.9", "1.10"),
    ("gem", "7.0.8", "7.0.8.1"),
    # rpm (rpmvercmp): epoch first; ~ sorts before and ^ after the release
    ("rpm", "2.0", "1:1.0"),
    ("rpm", "1.0-1.el8", "1.0-2.el8"),
    ("rpm", "1.0~rc1", "1.0"),
    ("rpm", "1.0", "1.0^git1"),
    ("rpm", "3.0.7-16.el9", "3.0.7-27.el9"),
    ("rpm", "1.0.1", "1.0.10"),
    # alpm (pacman vercmp): epoch, then rpmvercmp, then pkgrel
    ("alpm", "2.0-1", "1:1.0-1"),
    ("alpm", "1.0rc1-1", "1.0-1"),
    ("alpm", "1.0-1", "1.0-2"),
    # nuget: four parts, labels compared case-insensitively
    ("nuget", "1.0.0-beta", "1.0.0"),
    ("nuget", "1.0.0-alpha.2", "1.0.0-alpha.10"),
    ("nuget", "1.0.0-beta1", "1.0.0-RC1"),
    ("nuget", "1.0.0.1", "1.0.1"),
    ("nuget", "6.0.0-preview.7.21377.19", "6.0.0-rc.1.21451.13"),
    # composer (VersionParser::normalize + version_compare): dev < alpha < beta < RC < "" < patch
    ("composer", "1.0.0-beta1", "1.0.0"),
    ("composer", "1.0.0-beta1", "1.0.0-RC1"),
    ("composer", "1.0.0-RC1", "1.0.0"),
    ("composer", "1.0.0", "1.0.0-patch1"),
    ("composer", "1.0.0-p1", "1.0.1"),
    ("composer", "1.0.0-dev", "1.0.0-alpha1"),
    ("composer", "1.0.0-alpha2", "1.0.0-alpha10"),
    ("composer", "v5.4.9", "5.4.10"),
    ("composer", "2.3", "2.3.0.1"),
    # conan
    ("conan", "1.0.0-rc1", "1.0.0"),
    ("conan", "1.2.9", "1.2.10"),
    # hex, pub, swift: semver 2.0
    ("hex", "1.0.0-rc.1", "1.0.0"),
    ("pub", "2.0.0-dev.1", "2.0.0"),
    ("swift", "5.9.0-beta.1", "5.9.0"),
    # deb (dpkg)
    ("deb", "5.6.0~rc1-1", "5.6.0-1"),
    ("deb", "1.0-1", "1:0.9-1"),
    ("deb", "3.0.11-1~deb12u2", "3.0.11-1"),
    # pypi, npm, golang, cargo
    ("pypi", "5.4rc1", "5.4"),
    ("pypi", "2.0", "1!0.1"),
    ("npm", "2.0.0-rc.1", "2.0.0"),
    ("golang", "v0.0.0-20191109021931-daa7c04131f5", "v0.17.0"),
    ("cargo", "1.0.0-alpha", "1.0.0"),
]
REAL_EQUAL = [
    ("maven", "1.0", "1.0.0"),
    ("maven", "1.0-RC1", "1.0-rc1"),
    ("maven", "1.0.Final", "1.0"),
    ("gem", "1.0", "1.0.0"),
    ("rpm", "0:1.0", "1.0"),
    ("nuget", "1.0", "1.0.0.0"),
    ("nuget", "1.0.0-BETA", "1.0.0-beta"),
    ("composer", "v2.3", "2.3.0.0"),
    ("composer", "1.0.0+build.5", "1.0.0"),
    ("deb", "0:1.0-1", "1.0-1"),
]


@pytest.mark.parametrize(("purl_type", "lower", "higher"), REAL_ORDER)
def test_each_ecosystem_in_its_own_ordering(purl_type: str, lower: str, higher: str) -> None:
    assert compare_versions(purl_type, lower, higher) < 0
    assert compare_versions(purl_type, higher, lower) > 0


@pytest.mark.parametrize(("purl_type", "a", "b"), REAL_EQUAL)
def test_equal_spellings(purl_type: str, a: str, b: str) -> None:
    assert compare_versions(purl_type, a, b) == 0


def test_composer_branches_and_garbage_have_no_order() -> None:
    for text in ("dev-main", "1.x-dev", "banana"):
        with pytest.raises(ValueError):
            compare_composer(text, "1.0.0")


@pytest.mark.parametrize("purl_type", ["generic", "github", "oci", "docker", "swid", "nonsense"])
def test_types_without_an_ordering_are_never_compared(purl_type: str) -> None:
    assert ordering_for(purl_type) is None
    with pytest.raises(VersionUnknownError, match=f"cannot compare versions of pkg:{purl_type}"):
        compare_versions(purl_type, "1.0", "2.0")


def test_unreadable_versions_of_univers_ecosystems_are_not_comparable() -> None:
    for kind, text in [("gem", "not a version!"), ("apk", "x.y"), ("nuget", "banana")]:
        with pytest.raises(VersionUnknownError) as info:
            compare_versions(kind, text, "1.0")
        assert info.value.problem is VersionProblem.UNREADABLE
    with pytest.raises(VersionUnknownError):
        compare_versions("maven", "1." * 200, "1.0")  # over the length cap


# provcheck's own orderings, with univers as the oracle (same ecosystems, independent code)
_ORACLE_CLASSES = {
    "pypi": "PypiVersion",
    "npm": "SemverVersion",
    "cargo": "SemverVersion",
    "hex": "SemverVersion",
    "golang": "GolangVersion",
    "deb": "DebianVersion",
}


def _oracle(purl_type: str, a: str, b: str) -> int:
    from univers import versions

    cls = getattr(versions, _ORACLE_CLASSES[purl_type])
    va, vb = cls(a), cls(b)
    return int(va > vb) - int(va < vb)


@pytest.mark.parametrize(
    ("purl_type", "lower", "higher"),
    [c for c in REAL_ORDER if c[0] in _ORACLE_CLASSES]
    + [
        ("pypi", "5.3.1", "5.4"),
        ("pypi", "5.4.dev0", "5.4a1"),
        ("pypi", "5.4", "5.4.post1"),
        ("npm", "1.0.0-alpha", "1.0.0-alpha.1"),
        ("npm", "1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("npm", "1.0.0-beta.2", "1.0.0-beta.11"),
        ("golang", "v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-aaaaaaaaaaaa"),
        ("golang", "v1.2.3", "v1.2.4-0.20200101000000-abcdefabcdef"),
        ("golang", "v1.2.4-0.20200101000000-abcdefabcdef", "v1.2.4"),
        ("cargo", "1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("deb", "2.36-9+deb12u4", "2.36-9+deb12u10"),
        ("deb", "1.0~~", "1.0~"),
        ("deb", "1.0a", "1.0+"),
    ],
)
def test_own_orderings_agree_with_univers(purl_type: str, lower: str, higher: str) -> None:
    assert compare_versions(purl_type, lower, higher) == _oracle(purl_type, lower, higher) == -1


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
        # pre-releases outside pypi/npm/golang/cargo/deb (a generic ordering missed these)
        (
            "pkg:maven/org.apache.logging.log4j/log4j-core@<2.15.0",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.15.0-rc1",
            True,
        ),
        (
            "pkg:maven/org.apache.logging.log4j/log4j-core@<2.15.0",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.15.0",
            False,
        ),
        ("pkg:apk/alpine/openssl@<3.0.8-r0", "pkg:apk/alpine/openssl@3.0.8_rc1-r0", True),
        ("pkg:apk/alpine/openssl@<3.0.8-r0", "pkg:apk/alpine/openssl@3.0.8-r0", False),
        ("pkg:gem/rails@<7.0.0", "pkg:gem/rails@7.0.0.rc1", True),
        ("pkg:gem/rails@<7.0.0", "pkg:gem/rails@7.0.0", False),
        ("pkg:rpm/redhat/openssl@<2.0", "pkg:rpm/redhat/openssl@1:1.0", False),
        ("pkg:rpm/redhat/openssl@<1:1.0", "pkg:rpm/redhat/openssl@2.0", True),
        ("pkg:composer/laravel/framework@<9.0.0", "pkg:composer/laravel/framework@9.0.0-RC1", True),
        ("pkg:nuget/Newtonsoft.Json@<13.0.1", "pkg:nuget/Newtonsoft.Json@13.0.1-BETA1", True),
        # slashes after the scheme are ignored, in purls and in patterns (purl spec)
        ("pkg:npm/event-stream", "pkg://npm/event-stream@3.3.6", True),
        ("pkg:/maven/org.example/app@<2.0", "pkg:maven/org.example/app@1.0", True),
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
    with pytest.raises(VersionUnknownError, match="no version") as info:
        pattern.matches(parse_purl("pkg:pypi/pyyaml"))
    assert info.value.problem is VersionProblem.MISSING
    assert pattern.matches(parse_purl("pkg:pypi/other@weird version")) is False


def test_a_range_on_a_type_without_an_ordering_is_never_decided() -> None:
    pattern = parse_purl_pattern("pkg:generic/openssl@<3.0.8")
    with pytest.raises(VersionUnknownError, match="cannot compare versions of pkg:generic") as info:
        pattern.matches(parse_purl("pkg:generic/openssl@3.0.7"))
    assert info.value.problem is VersionProblem.NO_ORDERING
    assert parse_purl_pattern("pkg:generic/openssl").matches(parse_purl("pkg:generic/openssl@1"))
    assert pattern.matches(parse_purl("pkg:generic/zlib@1.0")) is False


def test_purl_type_reads_what_the_spec_accepts() -> None:
    assert purl_type("pkg://npm/x@1") == "npm"
    assert purl_type("pkg:/Maven/g/a@1") == "maven"
    assert purl_type("PKG:npm/x") == "npm"
    assert purl_type(" pkg:npm/x") == "npm"
    assert purl_type("npm/x") is None
    assert purl_type("pkg:npm") is None
    assert parse_purl("pkg://npm/%40scope/x@1.0") == parse_purl("pkg:npm/@scope/x@1.0")


def test_univers_is_imported_only_for_its_ecosystems() -> None:
    code = (
        "import sys, provcheck.cli; from provcheck.sbom.versions import parse_purl_pattern as p; "
        "p('pkg:pypi/a@<1'); p('pkg:npm/a@<1.0.0'); p('pkg:deb/d/a@<1'); p('pkg:composer/a/b@<1');"
        " print('univers' in sys.modules); p('pkg:maven/g/a@<1'); print('univers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
    assert {ordering_for(t) for t in ("maven", "gem", "rpm", "apk", "nuget")} == {
        Ordering.MAVEN,
        Ordering.RUBYGEMS,
        Ordering.RPM,
        Ordering.ALPINE,
        Ordering.NUGET,
    }


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


_VERSIONISH = st.text(alphabet="0123456789.-_~^+:abcdeprlstvRCP ", max_size=30)


@given(st.sampled_from(sorted({t for t, _, _ in REAL_ORDER})), _VERSIONISH, _VERSIONISH)
def test_every_ordering_answers_or_says_not_comparable(kind: str, a: str, b: str) -> None:
    try:
        c = compare_versions(kind, a, b)
    except VersionUnknownError as exc:
        assert exc.problem is VersionProblem.UNREADABLE
    else:
        assert c == -compare_versions(kind, b, a)


@given(_SEMVERS, _SEMVERS)
def test_semver_agrees_with_univers(a: str, b: str) -> None:
    assert compare_semver(a, b) == _oracle("npm", a, b)


@given(_DEBS, _DEBS)
def test_debian_agrees_with_univers(a: str, b: str) -> None:
    assert compare_debian(a, b) == _oracle("deb", a, b)
