"""Checks every service makes on what people type, whichever surface it came through
(page, API, admin): the API's serializers check some of it too, but a page or a script
calls the service directly, so the service is where the rule holds.

- text no longer than its column (``ensure_lengths``): PostgreSQL refuses an over-long
  value with a DataError (a 500), SQLite silently stores it;
- dates a plan can mean (``ensure_date_near``): a planned date in year 1 or 9999 is a
  typo, and date arithmetic on it (working days before or after) overflows (a 500).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import models
from django.utils import timezone

from core.exceptions import ValidationFailed

PLAN_YEARS = 10


def ensure_lengths(model: type[models.Model] | models.Model, values: dict[str, Any]) -> None:
    """400 naming every text field in ``values`` longer than ``model``'s column allows."""
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        try:
            field = model._meta.get_field(name)
        except Exception:  # not a column (a caller's extra argument): nothing to bound
            continue
        limit = getattr(field, "max_length", None)
        if limit and len(value) > limit:
            errors[name] = [f"At most {limit} characters (this has {len(value)})."]
    if errors:
        what = "; ".join(
            f"the {name.replace('_', ' ')} is at most {model._meta.get_field(name).max_length} "  # type: ignore[attr-defined]
            f"characters (this has {len(values[name])})"
            for name in sorted(errors)
        )
        raise ValidationFailed(f"Too long: {what}.", errors=errors)


def ensure_length(value: str | None, field: str, limit: int, noun: str = "") -> None:
    """400 when one text ``value`` is longer than ``limit`` characters."""
    if value and len(value) > limit:
        what = noun or field.replace("_", " ")
        raise ValidationFailed(
            f"The {what} is at most {limit} characters (this has {len(value)}).", field=field
        )


def ensure_date_near(value: date | None, field: str, *, years: int = PLAN_YEARS) -> None:
    """400 naming ``field`` when a planned date is more than ``years`` years from today."""
    if value is None:
        return
    if isinstance(value, datetime):
        value = value.date()
    today = timezone.localdate()
    earliest = today.replace(year=today.year - years, day=min(today.day, 28))
    latest = today.replace(year=today.year + years, day=min(today.day, 28))
    if not earliest <= value <= latest:
        raise ValidationFailed(
            f"The {field.replace('_', ' ')} is within {years} years of today "
            f"({earliest.isoformat()} to {latest.isoformat()}).",
            field=field,
        )
