from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provcheck.errors import SbomError
from provcheck.sbom.licenses import (
    DEPRECATED_LICENSES,
    LicenseAll,
    LicenseAny,
    LicenseRules,
    LicenseTerm,
    LicenseVerdict,
    parse_license_expression,
)

OK, DENIED, NOT_ALLOWED, UNKNOWN, INVALID = (
    LicenseVerdict.OK,
    LicenseVerdict.DENIED,
    LicenseVerdict.NOT_ALLOWED,
    LicenseVerdict.UNKNOWN,
    LicenseVerdict.INVALID,
)


def test_parse_precedence_and_parentheses() -> None:
    node = parse_license_expression("MIT OR Apache-2.0 AND (BSD-2-Clause OR ISC)")
    assert node == LicenseAny(
        (
            LicenseTerm("MIT"),
            LicenseAll(
                (
                    LicenseTerm("Apache-2.0"),
                    LicenseAny((LicenseTerm("BSD-2-Clause"), LicenseTerm("ISC"))),
                )
            ),
        )
    )
    assert str(node) == "MIT OR (Apache-2.0 AND (BSD-2-Clause OR ISC))"


def test_parse_with_and_deprecated_ids() -> None:
    assert parse_license_expression("GPL-2.0 with Classpath-exception-2.0") == LicenseTerm(
        "GPL-2.0-only", "Classpath-exception-2.0"
    )
    assert parse_license_expression("GPL-2.0+") == LicenseTerm("GPL-2.0-or-later")
    assert parse_license_expression("AGPL-3.0") == LicenseTerm("AGPL-3.0-only")
    assert parse_license_expression("LicenseRef-my-license") == LicenseTerm("LicenseRef-my-license")


@pytest.mark.parametrize(
    ("deprecated", "current"),
    [
        ("GPL-2.0-with-classpath-exception", "GPL-2.0-only WITH Classpath-exception-2.0"),
        ("gpl-2.0-WITH-Classpath-Exception", "GPL-2.0-only WITH Classpath-exception-2.0"),
        ("GPL-2.0-with-GCC-exception", "GPL-2.0-only WITH GCC-exception-2.0"),
        ("GPL-3.0-with-GCC-exception", "GPL-3.0-only WITH GCC-exception-3.1"),
        ("GPL-2.0-with-bison-exception", "GPL-2.0-only WITH Bison-exception-2.2"),
        ("GPL-3.0-with-autoconf-exception", "GPL-3.0-only WITH Autoconf-exception-3.0"),
        ("eCos-2.0", "GPL-2.0-or-later WITH eCos-exception-2.0"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("LGPL-2.1", "LGPL-2.1-only"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("GFDL-1.3", "GFDL-1.3-only"),
        ("StandardML-NJ", "SMLNJ"),
        ("BSD-2-Clause-NetBSD", "BSD-2-Clause"),
        ("bzip2-1.0.5", "bzip2-1.0.6"),
    ],
)
def test_deprecated_ids_are_read_as_their_current_form(deprecated: str, current: str) -> None:
    assert parse_license_expression(deprecated) == parse_license_expression(current)
    assert str(parse_license_expression(f"MIT OR {deprecated}")) == f"MIT OR {current}"


def test_every_replacement_is_current() -> None:
    for deprecated, (license_id, exception) in DEPRECATED_LICENSES.items():
        term = parse_license_expression(deprecated)
        assert term == LicenseTerm(license_id, exception)
        assert license_id.casefold() not in {k.casefold() for k in DEPRECATED_LICENSES}


@pytest.mark.parametrize(
    ("allow", "deny", "licenses", "verdict"),
    [
        # a deprecated id in the SBOM matches the current id in a list, and the other way round
        (
            ["GPL-2.0-only WITH Classpath-exception-2.0"],
            [],
            ("GPL-2.0-with-classpath-exception",),
            OK,
        ),
        (
            ["GPL-2.0-with-classpath-exception"],
            [],
            ("GPL-2.0-only WITH Classpath-exception-2.0",),
            OK,
        ),
        (None, ["GPL-2.0-only"], ("GPL-2.0-with-classpath-exception",), DENIED),
        (None, ["LGPL-2.1-only"], ("LGPL-2.1",), DENIED),
        (None, ["LGPL-2.1-or-later"], ("LGPL-2.1+",), DENIED),
        (["GPL-2.0-only"], [], ("GPL-2.0-with-font-exception",), OK),
        (["MIT"], [], ("GPL-2.0-with-classpath-exception",), NOT_ALLOWED),
    ],
)
def test_deprecated_ids_in_rules(
    allow: list[str] | None, deny: list[str], licenses: tuple[str, ...], verdict: LicenseVerdict
) -> None:
    assert LicenseRules.from_lists(allow, deny).check(licenses)[0] is verdict


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GPL-2.0-with-classpath-exception WITH Classpath-exception-2.0",
        "MIT OR",
        "(MIT",
        "MIT)",
        "MIT AND AND Apache-2.0",
        "MIT WITH",
        "Apache License 2.0",
        "MIT WITH (X)",
        "GPL/2",
        "(" * 60 + "MIT" + ")" * 60,
    ],
)
def test_invalid_expressions(text: str) -> None:
    with pytest.raises(SbomError, match="license expression"):
        parse_license_expression(text)


DENY = ["AGPL-3.0-only", "AGPL-3.0-or-later", "SSPL-1.0", "GPL-2.0-only"]
ALLOW = ["MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-only WITH Classpath-exception-2.0"]


@pytest.mark.parametrize(
    ("licenses", "deny_only", "with_allow"),
    [
        (("MIT",), OK, OK),
        (("mit",), OK, OK),  # identifiers compare case-insensitively
        (("AGPL-3.0-only",), DENIED, DENIED),
        (("AGPL-3.0",), DENIED, DENIED),  # deprecated id = -only
        (("MIT OR AGPL-3.0-only",), OK, OK),  # one acceptable branch is enough
        (("MIT AND AGPL-3.0-only",), DENIED, DENIED),
        (("SSPL-1.0 OR AGPL-3.0-or-later",), DENIED, DENIED),
        (("(MIT OR SSPL-1.0) AND (Apache-2.0 OR AGPL-3.0-only)",), OK, OK),
        (("ISC",), OK, NOT_ALLOWED),
        (("ISC OR MIT",), OK, OK),
        (("ISC AND MIT",), OK, NOT_ALLOWED),
        (("MIT", "Apache-2.0"), OK, OK),  # several licenses all apply
        (("MIT", "SSPL-1.0"), DENIED, DENIED),
        # the exception term is allowed explicitly, which wins over GPL-2.0-only being denied
        (("GPL-2.0-only WITH Classpath-exception-2.0",), DENIED, OK),
        (("GPL-2.0-only",), DENIED, DENIED),
        (("MIT WITH Some-exception",), OK, OK),  # the license itself is allowed
        ((), UNKNOWN, UNKNOWN),
        (("NOASSERTION",), UNKNOWN, UNKNOWN),
        (("MIT OR NOASSERTION",), OK, OK),
        (("ISC OR NOASSERTION",), OK, UNKNOWN),
        (("MIT AND NOASSERTION",), OK, UNKNOWN),
        (("NONE",), OK, NOT_ALLOWED),
        (("Apache License 2.0",), INVALID, INVALID),
    ],
)
def test_rules(
    licenses: tuple[str, ...], deny_only: LicenseVerdict, with_allow: LicenseVerdict
) -> None:
    assert LicenseRules.from_lists(None, DENY).check(licenses)[0] is deny_only
    assert LicenseRules.from_lists(ALLOW, DENY).check(licenses)[0] is with_allow


def test_none_passes_only_when_listed() -> None:
    assert LicenseRules.from_lists(["MIT", "NONE"], []).check(("NONE",))[0] is OK
    assert LicenseRules.from_lists(None, ["NONE"]).check(("NONE",))[0] is DENIED


def test_list_entries_must_be_single_licenses() -> None:
    with pytest.raises(SbomError, match="single licenses"):
        LicenseRules.from_lists(["MIT OR Apache-2.0"], [])


_IDS = st.sampled_from(["MIT", "Apache-2.0", "AGPL-3.0-only", "ISC", "NOASSERTION", "NONE"])


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(_IDS)
    op = draw(st.sampled_from([" AND ", " OR "]))
    parts = draw(st.lists(_expressions(depth + 1), min_size=2, max_size=3))
    return "(" + op.join(parts) + ")"


@given(_expressions())
def test_check_never_raises_and_round_trips(text: str) -> None:
    rules = LicenseRules.from_lists(["MIT", "Apache-2.0"], ["AGPL-3.0-only"])
    rules.check((text,))
    node = parse_license_expression(text)
    assert parse_license_expression(str(node)) == node
