"""Dates and moments typed by people (query strings, forms, bodies), parsed and bounded in
one place, shared by the pages' and the API's filters and by the views that read a date.

A value Python can parse is not always one the database or date arithmetic can use: year
9999 with a negative offset is year 10000 in UTC (``OverflowError``), an offset with seconds
or beyond ±14:00 is no real place's and PostgreSQL refuses it (``DataError``). So every
moment is kept between ``EARLIEST`` and ``LATEST`` and every offset within the world's; a
value outside is a 400 naming the field, never a 500.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.exceptions import ValidationFailed

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_OFFSET_MIN, _OFFSET_MAX = timedelta(hours=-12), timedelta(hours=14)
RANGE_TEXT = f"between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"


class BadMoment(ValueError):
    """``value`` is not a date or moment Tandem can use; the message says why."""


def to_moment(value: Any, *, end_of_day: bool = False) -> datetime:
    """``value`` (ISO date-time, or a date meaning its midnight in the current time zone;
    with ``end_of_day`` the next midnight) as an aware, bounded datetime."""
    if isinstance(value, datetime):
        moment: datetime | None = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
        if end_of_day:
            moment = _add(moment, timedelta(days=1))
    else:
        text = str(value).strip()
        try:
            # a date first: Python's fromisoformat (in parse_datetime) reads "2026-12-06"
            # as that midnight, and ``end_of_day`` would never apply
            day = parse_date(text)
            if day is not None:
                moment = datetime.combine(day, time())
                if end_of_day:
                    moment = _add(moment, timedelta(days=1))
            else:
                moment = parse_datetime(text)
        except (ValueError, OverflowError):  # well-formed but impossible: 2026-02-30, +99:00
            moment = None
        if moment is None:
            raise BadMoment(f"'{text[:40]}' is not a date (YYYY-MM-DD) or ISO 8601 date-time.")
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        offset = moment.utcoffset()
        if (
            offset is None
            or offset % timedelta(minutes=1)
            or not (_OFFSET_MIN <= offset <= _OFFSET_MAX)
        ):
            raise BadMoment(
                f"The time zone offset {_offset_text(offset)} is not a real one (-12:00 to +14:00)."
            )
        in_utc = moment.astimezone(UTC)
    except OverflowError:
        raise BadMoment(f"The date must be {RANGE_TEXT}.") from None
    if not EARLIEST <= in_utc <= LATEST:
        raise BadMoment(f"The date must be {RANGE_TEXT}.")
    return moment


def to_day(value: Any) -> date:
    """``value`` (YYYY-MM-DD) as a bounded date."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        day: date | None = value
    else:
        text = str(value).strip()
        try:
            day = parse_date(text)
        except ValueError:
            day = None
        if day is None:
            raise BadMoment(f"'{text[:40]}' is not a date (YYYY-MM-DD).")
    if not EARLIEST.date() <= day <= LATEST.date():
        raise BadMoment(f"The date must be {RANGE_TEXT}.")
    return day


def _add(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        raise BadMoment(f"The date must be {RANGE_TEXT}.") from None


def parse_moment(raw: Any, field: str, *, end_of_day: bool = False) -> datetime | None:
    """A view's or service's moment parameter: None when empty, a 400 naming ``field`` when
    it is not a usable moment."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return to_moment(raw, end_of_day=end_of_day)
    except BadMoment as exc:
        raise ValidationFailed(str(exc), field=field) from None


def parse_day(raw: Any, field: str) -> date | None:
    """A view's or service's date parameter: None when empty, a 400 naming ``field`` when
    it is not a usable date."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return to_day(raw)
    except BadMoment as exc:
        raise ValidationFailed(str(exc), field=field) from None


class MomentField(forms.DateTimeField):
    """A form field for ``to_moment``: ISO 8601 date-time or a date, bounded."""

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        try:
            return to_moment(value)
        except BadMoment as exc:
            raise ValidationError(str(exc), code="invalid") from None


class DayField(forms.DateField):
    """A form field for ``to_day``: YYYY-MM-DD, bounded."""

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        try:
            return to_day(value)
        except BadMoment as exc:
            raise ValidationError(str(exc), code="invalid") from None


class MomentFilter(django_filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` through ``MomentField`` (documented as a date-time)."""

    field_class = MomentField


class DayFilter(django_filters.DateFilter):
    """``DateFilter`` through ``DayField``."""

    field_class = DayField


def _offset_text(offset: timedelta | None) -> str:
    """An offset as people write it (``-14:00``, ``+05:30:15``), not as a timedelta prints
    it (``-1 day, 10:00:00``)."""
    if offset is None:
        return "(none)"
    sign = "-" if offset < timedelta(0) else "+"
    seconds = int(abs(offset).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02}:{minutes:02}" + (f":{secs:02}" if secs else "")
