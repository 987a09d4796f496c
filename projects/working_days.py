"""A project's working days, for dates that move in "working days" (a release slip).
The days come from the project's business calendar (sla), else Monday to Friday."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sla.calendar import CalendarSpec


def _is_working(day: date, spec: CalendarSpec | None) -> bool:
    return day.weekday() < 5 if spec is None else spec.is_working_day(day)


def _spec(calendar: Any) -> CalendarSpec | None:
    return calendar.spec() if calendar is not None else None


def add_working_days(start: date, days: int, calendar: Any = None) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself when 0)."""
    spec, day, counted = _spec(calendar), start, 0
    for _ in range(days * 7 + 400):  # a calendar with hardly any working day still ends
        if counted >= days:
            break
        day += timedelta(days=1)
        if _is_working(day, spec):
            counted += 1
    return day


def working_days_between(start: date, end: date, calendar: Any = None) -> int:
    """Working days in (start, end]: how far ``end`` moved from ``start``; negative when
    it moved earlier."""
    if end == start:
        return 0
    spec = _spec(calendar)
    lo, hi, sign = (start, end, 1) if end > start else (end, start, -1)
    count, day = 0, lo
    while day < hi:
        day += timedelta(days=1)
        count += _is_working(day, spec)
    return sign * count
