"""Exemptions: expiry parsing (a date ends at 00:00 UTC; RFC 3339 needs an offset), matching by
namespace and image glob (both when both are given), and when they stop applying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from provcheck.errors import PolicyError
from provcheck.policy.exemptions import Exemption, expired, matching, parse_expiry

FAR = datetime(2099, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2027-01-31", datetime(2027, 1, 31, tzinfo=UTC)),
        ("2027-01-31T12:30:00Z", datetime(2027, 1, 31, 12, 30, tzinfo=UTC)),
        ("2027-01-31t12:30:00z", datetime(2027, 1, 31, 12, 30, tzinfo=UTC)),
        ("2027-01-31T12:30:00+02:00", datetime(2027, 1, 31, 10, 30, tzinfo=UTC)),
        ("2027-01-31T12:30:00.250-05:00", datetime(2027, 1, 31, 17, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_expiry_forms(text: str, moment: datetime) -> None:
    assert parse_expiry(text) == moment


@pytest.mark.parametrize(
    "text",
    [
        "2027-1-31",
        "31/01/2027",
        "2027-01-31T12:30:00",
        "2027-01-31 12:30",
        "tomorrow!!",
        "2027-01-31T12:30+00:00",  # no seconds: not RFC 3339
        "2027-W05-1T12:30:00Z",  # an ISO week date
        "2027-01-31T12:30:00+0200",
        "9999-12-31T23:59:59-23:59",
    ],
)
def test_other_expiries_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_expiry(text)


def test_an_exemption_names_a_namespace_or_an_image_and_has_a_zone() -> None:
    with pytest.raises(PolicyError):
        Exemption(FAR, "why")
    with pytest.raises(PolicyError):
        Exemption(datetime(2099, 1, 1), "why", namespace="a")


def test_matching_needs_every_part_given() -> None:
    both = Exemption(FAR, "r", namespace="legacy", image="registry.example/old/*")
    names = ["registry.example/old/app:1", "registry.example/old/app"]
    assert both.matches("legacy", names)
    assert not both.matches("shop", names)
    assert not both.matches("legacy", ["registry.example/new/app:1"])
    assert Exemption(FAR, "r", image="*/old/*").matches(None, names)  # * matches /
    assert Exemption(FAR, "r", namespace="legacy").matches("legacy", [])
    assert not Exemption(FAR, "r", namespace="legacy").matches(None, names)
    assert both.label == "namespace=legacy image=registry.example/old/*"


def test_an_exemption_stops_applying_at_its_expiry() -> None:
    ends = NOW + timedelta(seconds=1)
    exemption = Exemption(ends, "r", namespace="legacy")
    assert matching([exemption], "legacy", [], NOW) is exemption
    assert matching([exemption], "legacy", [], ends) is None
    assert expired([exemption], ends) == [exemption] and expired([exemption], NOW) == []


def test_the_first_matching_unexpired_exemption_is_used() -> None:
    old = Exemption(NOW, "old", namespace="legacy")
    new = Exemption(FAR, "new", namespace="legacy")
    assert matching([old, new], "legacy", [], NOW) is new


def test_a_bracket_in_an_image_pattern_is_literal_not_a_character_class() -> None:
    """``[::1]:5000/…`` names an IPv6 registry: as a glob class it matched ``1:5000/…`` (another
    registry, whose images were then allowed unverified) and never ``[::1]:5000/…`` itself."""
    ipv6 = Exemption(FAR, "r", image="[::1]:5000/lab/*")
    assert ipv6.matches(None, ["[::1]:5000/lab/tool:1"])
    assert not ipv6.matches(None, ["1:5000/lab/tool:1", ":5000/lab/tool:1"])
    assert matching([ipv6], "shop", ["1:5000/lab/tool", "1:5000/lab/tool:1"], NOW) is None


def test_an_image_pattern_is_normalised_as_images_are() -> None:
    """``nginx:*`` and ``docker.io/nginx:*`` are Docker Hub's ``library/nginx``; neither matches
    the registry host ``nginx`` (``nginx:5000/…``); a pattern starting with a glob is kept."""
    hub = ["docker.io/library/nginx", "docker.io/library/nginx:1.27"]
    host = ["nginx:5000/team/app", "nginx:5000/team/app:1"]
    for pattern in ("nginx:*", "docker.io/nginx:*", "index.docker.io/library/nginx:*"):
        assert Exemption(FAR, "r", image=pattern).matches(None, hub), pattern
        assert not Exemption(FAR, "r", image=pattern).matches(None, host), pattern
    assert Exemption(FAR, "r", image="*nginx*").matches(None, host)
    assert Exemption(FAR, "r", image="team/app").matches(None, ["docker.io/team/app"])
