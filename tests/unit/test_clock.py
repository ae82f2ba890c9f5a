"""The one RFC 3339 parser (``--at``, exemption expiries, VSA ``timeVerified``) and the evaluation
time: given, or the clock's; never naive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from provcheck._internal.clock import evaluation_time, parse_instant, parse_rfc3339
from provcheck.errors import UsageError


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-06-30T12:00:00Z", datetime(2026, 6, 30, 12, tzinfo=UTC)),
        ("2026-06-30t12:00:00z", datetime(2026, 6, 30, 12, tzinfo=UTC)),
        ("2026-06-30 12:00:00+00:00", datetime(2026, 6, 30, 12, tzinfo=UTC)),
        ("2026-06-30T14:00:00.5+02:00", datetime(2026, 6, 30, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2026-06-30T07:00:00-05:00", datetime(2026, 6, 30, 12, tzinfo=UTC)),
    ],
)
def test_rfc3339_times_are_read_in_utc(text: str, moment: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == moment
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-30T12:00:00",  # no offset
        "2026-06-30T12:00+00:00",  # no seconds
        "2026-06-30T12:00:00+0200",  # offset without a colon
        "2026-W27-2T12:00:00Z",  # an ISO week date
        "20260630T120000Z",  # ISO 8601 basic format
        "2026-06-30",  # a date is not a date-time
        "\u0662\u0660\u0662\u0666-06-30T12:00:00Z",  # non-ASCII digits
        "2026-06-30T12:00:00Z\n",
        "2026-13-30T12:00:00Z",
        "9999-12-31T23:59:59-23:59",  # past datetime.max in UTC
        "0001-01-01T00:00:00+01:00",  # before datetime.min in UTC
    ],
)
def test_other_forms_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_an_instant_may_be_a_date_its_first_second_in_utc() -> None:
    assert parse_instant("2026-06-30") == datetime(2026, 6, 30, tzinfo=UTC)
    assert parse_instant("2026-06-30T12:00:00Z") == datetime(2026, 6, 30, 12, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_instant("2026-6-30")


def test_the_evaluation_time_is_the_given_one_or_the_clock() -> None:
    given = datetime(2026, 6, 30, 12, tzinfo=timezone(timedelta(hours=2)))
    assert evaluation_time(given) is given
    before = datetime.now(UTC)
    assert before <= evaluation_time(None) <= datetime.now(UTC)


def test_a_naive_evaluation_time_is_refused() -> None:
    with pytest.raises(UsageError, match="time zone"):
        evaluation_time(datetime(2026, 6, 30, 12))
