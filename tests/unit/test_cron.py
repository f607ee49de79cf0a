"""Spring's 6-field cron dialect (definitions/cron.py), in UTC and across DST transitions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from definitions.cron import CronError, CronExpression, parse, zone


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def upcoming(expression: str, after: str, zone_id: str = "UTC", count: int = 4) -> list[str]:
    """The next `count` fire times after `after`, as ISO strings in the zone."""
    cron = parse(expression)
    found, instant = [], ms(after)
    for _ in range(count):
        following = cron.next_after(instant, zone_id)
        assert following is not None
        found.append(datetime.fromtimestamp(following / 1000, ZoneInfo(zone_id)).isoformat())
        instant = following
    return found


def test_seconds_come_first_and_steps_count_from_zero() -> None:
    assert upcoming("*/20 * * * * *", "2026-01-01T00:00:00+00:00") == [
        "2026-01-01T00:00:20+00:00",
        "2026-01-01T00:00:40+00:00",
        "2026-01-01T00:01:00+00:00",
        "2026-01-01T00:01:20+00:00",
    ]


def test_a_step_from_a_value_runs_to_the_end_of_the_field() -> None:
    assert upcoming("5/20 * * * * *", "2026-01-01T00:00:00+00:00") == [
        "2026-01-01T00:00:05+00:00",
        "2026-01-01T00:00:25+00:00",
        "2026-01-01T00:00:45+00:00",
        "2026-01-01T00:01:05+00:00",
    ]


def test_ranges_lists_and_a_stepped_range() -> None:
    assert upcoming("0 0 9-17/4 * * *", "2026-01-01T10:00:00+00:00", count=3) == [
        "2026-01-01T13:00:00+00:00",
        "2026-01-01T17:00:00+00:00",
        "2026-01-02T09:00:00+00:00",
    ]
    assert upcoming("0 15,45 8 * * *", "2026-01-01T08:20:00+00:00", count=2) == [
        "2026-01-01T08:45:00+00:00",
        "2026-01-02T08:15:00+00:00",
    ]


def test_day_and_month_names_in_any_case() -> None:
    # 2026-01-02 is a Friday: the next weekday is Monday the 5th.
    assert upcoming("0 0 9 * * mon-FRI", "2026-01-02T10:00:00+00:00", count=2) == [
        "2026-01-05T09:00:00+00:00",
        "2026-01-06T09:00:00+00:00",
    ]
    assert upcoming("0 0 0 1 JAN,jul ?", "2026-02-01T00:00:00+00:00", count=2) == [
        "2026-07-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    ]


def test_sunday_is_both_zero_and_seven_and_mon_sun_is_a_week() -> None:
    # 2026-01-04 is a Sunday.
    for expression in ("0 0 0 * * 0", "0 0 0 * * 7", "0 0 0 * * SUN"):
        assert upcoming(expression, "2026-01-01T00:00:00+00:00", count=1) == ["2026-01-04T00:00:00+00:00"]
    assert len(upcoming("0 0 0 * * MON-SUN", "2026-01-01T00:00:00+00:00", count=7)) == 7


def test_question_mark_is_any_day() -> None:
    assert upcoming("0 0 12 ? * *", "2026-01-01T13:00:00+00:00", count=1) == ["2026-01-02T12:00:00+00:00"]


def test_both_day_fields_must_match_as_in_spring() -> None:
    # Friday the 13th, not "the 13th or any Friday" as Unix cron reads it.
    assert upcoming("0 0 0 13 * FRI", "2026-01-01T00:00:00+00:00", count=2) == [
        "2026-02-13T00:00:00+00:00",
        "2026-03-13T00:00:00+00:00",
    ]


def test_last_day_of_month_and_days_before_it() -> None:
    assert upcoming("0 0 0 L * *", "2026-01-02T00:00:00+00:00", count=3) == [
        "2026-01-31T00:00:00+00:00",
        "2026-02-28T00:00:00+00:00",
        "2026-03-31T00:00:00+00:00",
    ]
    assert upcoming("0 0 0 L-2 * *", "2028-02-01T00:00:00+00:00", count=1) == ["2028-02-27T00:00:00+00:00"]


def test_nearest_weekday_stays_in_the_month() -> None:
    # 2026-02-15 is a Sunday: Monday the 16th. 2026-08-01 is a Saturday: Monday the 3rd,
    # because Friday the 31st is in another month.
    assert upcoming("0 0 0 15W * *", "2026-02-01T00:00:00+00:00", count=1) == ["2026-02-16T00:00:00+00:00"]
    assert upcoming("0 0 0 1W * *", "2026-07-31T00:00:00+00:00", count=1) == ["2026-08-03T00:00:00+00:00"]
    # 2026-05-31 is a Sunday: the last weekday of May is Friday the 29th.
    assert upcoming("0 0 0 LW * *", "2026-05-01T00:00:00+00:00", count=1) == ["2026-05-29T00:00:00+00:00"]


def test_last_and_nth_weekday_of_the_month() -> None:
    assert upcoming("0 0 0 ? * 5L", "2026-01-01T00:00:00+00:00", count=2) == [
        "2026-01-30T00:00:00+00:00",
        "2026-02-27T00:00:00+00:00",
    ]
    assert upcoming("0 0 0 ? * MON#2", "2026-01-01T00:00:00+00:00", count=2) == [
        "2026-01-12T00:00:00+00:00",
        "2026-02-09T00:00:00+00:00",
    ]


def test_macros() -> None:
    assert upcoming("@hourly", "2026-01-01T00:30:00+00:00", count=1) == ["2026-01-01T01:00:00+00:00"]
    assert upcoming("@daily", "2026-01-01T00:30:00+00:00", count=1) == ["2026-01-02T00:00:00+00:00"]
    assert upcoming("@weekly", "2026-01-01T00:30:00+00:00", count=1) == ["2026-01-04T00:00:00+00:00"]
    assert upcoming("@monthly", "2026-01-01T00:30:00+00:00", count=1) == ["2026-02-01T00:00:00+00:00"]
    assert upcoming("@yearly", "2026-01-01T00:30:00+00:00", count=1) == ["2027-01-01T00:00:00+00:00"]


def test_a_leap_day_schedule_waits_for_the_next_leap_year() -> None:
    assert upcoming("0 0 0 29 2 *", "2026-01-01T00:00:00+00:00", count=2) == [
        "2028-02-29T00:00:00+00:00",
        "2032-02-29T00:00:00+00:00",
    ]


def test_a_date_that_never_comes_has_no_next_time() -> None:
    assert parse("0 0 0 30 2 *").next_after(ms("2026-01-01T00:00:00+00:00")) is None


def test_the_next_time_is_strictly_after_the_given_instant() -> None:
    cron = parse("0 0 12 * * *")
    noon = ms("2026-01-01T12:00:00+00:00")
    assert cron.next_after(noon) == ms("2026-01-02T12:00:00+00:00")
    assert cron.next_after(noon - 1) == noon


def test_a_time_zone_moves_the_instant() -> None:
    assert upcoming("0 0 9 * * *", "2026-01-01T00:00:00+00:00", "Asia/Kolkata", count=1) == [
        "2026-01-01T09:00:00+05:30"
    ]
    assert parse("0 0 9 * * *").next_after(ms("2026-01-01T00:00:00+00:00"), "Asia/Kolkata") == ms(
        "2026-01-01T03:30:00+00:00"
    )


def test_a_wall_clock_time_skipped_by_spring_forward_does_not_fire_that_day() -> None:
    # New York skips 02:00-03:00 on 2026-03-08.
    assert upcoming("0 30 2 * * *", "2026-03-07T00:00:00-05:00", "America/New_York", count=3) == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]


def test_every_hour_across_spring_forward_keeps_an_hour_apart() -> None:
    assert upcoming("0 0 * * * *", "2026-03-08T00:30:00-05:00", "America/New_York", count=3) == [
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
    ]


def test_a_wall_clock_time_repeated_by_fall_back_fires_at_both_instants() -> None:
    # New York repeats 01:00-02:00 on 2026-11-01.
    assert upcoming("0 0 * * * *", "2026-11-01T00:30:00-04:00", "America/New_York", count=4) == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T03:00:00-05:00",
    ]
    assert upcoming("0 30 1 * * *", "2026-10-31T12:00:00-04:00", "America/New_York", count=3) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_a_yearly_time_after_a_transition_uses_the_offset_of_its_own_day() -> None:
    # From winter (EST) to a July date (EDT): noon local, not 13:00.
    assert upcoming("0 0 12 1 7 *", "2026-01-01T00:00:00-05:00", "America/New_York", count=1) == [
        "2026-07-01T12:00:00-04:00"
    ]


def test_southern_hemisphere_transitions() -> None:
    # Sydney moves forward on 2026-10-04 at 02:00 (to 03:00).
    assert upcoming("0 30 2 * * *", "2026-10-03T00:00:00+10:00", "Australia/Sydney", count=2) == [
        "2026-10-03T02:30:00+10:00",
        "2026-10-05T02:30:00+11:00",
    ]


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("* * * * *", "must consist of 6 fields (found 5"),
        ("* * * * * * *", "must consist of 6 fields (found 7"),
        ("60 * * * * *", "second value 60 must be between 0 and 59"),
        ("* * 24 * * *", "hour value 24 must be between 0 and 23"),
        ("* * * 0 * *", "day-of-month value 0 must be between 1 and 31"),
        ("* * * * 13 *", "month value 13 must be between 1 and 12"),
        ("* * * * * 8", "day-of-week value 8 must be between 0 and 7"),
        ("* * * * FOO *", "'FOO' is not a valid month value"),
        ("*/0 * * * * *", "step '0' of the second field"),
        ("0 0 10-5 * * *", "range '10-5' of the hour field runs backwards"),
        ("0 0 0 * * SUN-MON", "range 'SUN-MON' of the day-of-week field runs backwards"),
        ("0 0 0 ? * MON#6", "n#m takes m from 1 to 5"),
        ("0 0 0 L-40 * ?", "L-n takes n from 1 to 30"),
        ("0 0 0 ? * L", "'L' alone in the day-of-week field"),
        ("0 0 0 1,,2 * ?", "empty value in the day-of-month field"),
    ],
)
def test_bad_expressions_name_the_problem(expression: str, problem: str) -> None:
    with pytest.raises(CronError) as raised:
        CronExpression.parse(expression)
    assert problem in str(raised.value)
    assert expression in str(raised.value)


def test_unknown_zone_is_an_error_naming_it() -> None:
    with pytest.raises(CronError, match="Unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
    with pytest.raises(CronError, match="Unknown time zone"):
        parse("* * * * * *").next_after(0, "Not/AZone")
    assert str(zone("Z")) == "UTC"
