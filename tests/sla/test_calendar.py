"""Business-time arithmetic: overnight, weekends, holidays, daylight saving, long targets."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.calendar import CalendarSpec

LONDON = ZoneInfo("Europe/London")
NINE_TO_FIVE = {d: ((time(9), time(17)),) for d in range(5)}
HOUR = 3600


def office(holidays: tuple[date, ...] = ()) -> CalendarSpec:
    return CalendarSpec(tz=LONDON, hours=NINE_TO_FIVE, holidays=frozenset(holidays))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "seconds", "due"),
    [
        (local(2026, 11, 23, 10), 2 * HOUR, local(2026, 11, 23, 12)),  # same day
        (local(2026, 11, 23, 16), 2 * HOUR, local(2026, 11, 24, 10)),  # overnight
        (local(2026, 11, 27, 16), 2 * HOUR, local(2026, 11, 30, 10)),  # over the weekend
        (local(2026, 11, 28, 12), 1 * HOUR, local(2026, 11, 30, 10)),  # raised on a Saturday
        (local(2026, 11, 23, 7), 30 * 60, local(2026, 11, 23, 9, 30)),  # before opening
        (local(2026, 11, 23, 17), 60, local(2026, 11, 24, 9, 1)),  # exactly at closing
        (local(2026, 11, 23, 10), 24 * HOUR, local(2026, 11, 26, 10)),  # three business days
        (local(2026, 11, 23, 10), 80 * HOUR, local(2026, 12, 7, 10)),  # ten business days
    ],
)
def test_add_business_time(start: datetime, seconds: int, due: datetime) -> None:
    assert office().add(start, seconds) == due
    assert office().business_seconds(start, due) == seconds


def test_holidays_are_skipped() -> None:
    christmas = office(holidays=(date(2026, 12, 25), date(2026, 12, 28)))
    # Thursday 24th 16:00 + 2h: Friday 25th and Monday 28th are holidays
    assert christmas.add(local(2026, 12, 24, 16), 2 * HOUR) == local(2026, 12, 29, 10)
    assert christmas.business_seconds(local(2026, 12, 24, 9), local(2026, 12, 30, 9)) == 16 * HOUR


def test_daylight_saving_spring_forward_keeps_wall_clock_hours() -> None:
    # Clocks go forward on Sunday 29 March 2026: Friday 16:00 GMT + 2h is Monday 10:00 BST.
    due = office().add(local(2026, 3, 27, 16), 2 * HOUR)
    assert due == local(2026, 3, 30, 10)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 9, tzinfo=UTC)


def test_daylight_saving_day_has_23_and_25_hours() -> None:
    every_day = CalendarSpec(tz=LONDON, hours={d: ((time(0), time(0)),) for d in range(7)})
    assert every_day.business_seconds(local(2026, 3, 29), local(2026, 3, 30)) == 23 * HOUR
    assert every_day.business_seconds(local(2026, 10, 25), local(2026, 10, 26)) == 25 * HOUR
    assert every_day.add(local(2026, 3, 29), 23 * HOUR) == local(2026, 3, 30)


def test_split_shifts() -> None:
    split = CalendarSpec(tz=LONDON, hours={0: ((time(8), time(12)), (time(13), time(17)))})
    assert split.add(local(2026, 11, 23, 11), 2 * HOUR) == local(2026, 11, 23, 14)
    assert split.business_seconds(local(2026, 11, 23, 11), local(2026, 11, 23, 14)) == 2 * HOUR


def test_always_open_is_plain_time() -> None:
    always = CalendarSpec(tz=LONDON, always_open=True)
    start = local(2026, 3, 28, 23)
    assert always.add(start, 4 * HOUR) == start + timedelta(hours=4)
    assert always.business_seconds(start, start + timedelta(days=2)) == 48 * HOUR


def test_a_calendar_without_working_time_is_refused() -> None:
    with pytest.raises(ValueError, match="no working time"):
        CalendarSpec(tz=LONDON, hours={}).add(local(2026, 11, 23, 10), 60)


def test_zero_or_backwards_is_zero() -> None:
    assert office().business_seconds(local(2026, 11, 23, 12), local(2026, 11, 23, 10)) == 0
    assert office().add(local(2026, 11, 23, 12), 0) == local(2026, 11, 23, 12)


def test_import_holidays_command(db) -> None:  # type: ignore[no-untyped-def]
    from io import StringIO

    from django.core.management import CommandError, call_command

    from sla.models import BusinessCalendar

    cal = BusinessCalendar.objects.create(name="UK office", holiday_country="GB")
    out = StringIO()
    call_command(
        "sla_import_holidays", "UK office", "--subdiv", "ENG", "--years", "2026", stdout=out
    )
    dates = set(cal.holidays.values_list("date", flat=True))
    assert date(2026, 12, 25) in dates and date(2026, 4, 3) in dates  # Christmas, Good Friday
    call_command("sla_import_holidays", "UK office", "--years", "2026", stdout=out)
    assert cal.holidays.count() == len(dates)  # idempotent
    assert date(2026, 12, 25) in cal.spec().holidays
    with pytest.raises(CommandError):
        call_command("sla_import_holidays", "Nope")
    with pytest.raises(CommandError):
        call_command("sla_import_holidays", "UK office", "--country", "XX")


def test_long_spans_sum_whole_days_exactly_as_walking_every_window() -> None:
    """Issue 13: a clock that has run for months reads its whole days from each day's
    total; the result is the walk's, window for window (DST, holidays, a shift to
    midnight, a weekend day, spans starting and ending mid-window and off-hours)."""
    import random

    shifts = CalendarSpec(
        tz=ZoneInfo("Europe/London"),
        hours={
            0: ((time(8), time(12)), (time(13), time(17))),
            1: ((time(9), time(17)),),
            2: ((time(9), time(17)),),
            3: ((time(9), time(17)),),
            4: ((time(16), time(0)),),  # a late shift to midnight
            6: ((time(10), time(14)),),
        },
        holidays=frozenset({date(2026, 12, 25), date(2026, 12, 28), date(2027, 4, 2)}),
    )
    rng = random.Random(13)
    for spec in (office((date(2026, 12, 25), date(2027, 1, 1))), shifts):
        for _ in range(300):
            start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(700_000))
            end = start + timedelta(minutes=rng.randrange(1, 400_000))
            assert spec.business_seconds(start, end) == spec._walked_seconds(start, end)
            # and again, from the days it kept
            assert spec.business_seconds(start, end) == spec._walked_seconds(start, end)
