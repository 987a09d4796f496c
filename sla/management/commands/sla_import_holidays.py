"""Pre-fill a calendar's holidays from the ``holidays`` package (public holidays per
country and region). Idempotent: existing dates are kept, with their names."""

from __future__ import annotations

import holidays
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core import refcache
from sla.models import BusinessCalendar, Holiday


class Command(BaseCommand):
    help = "Add a country's public holidays to a business calendar."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("calendar", help="Calendar name")
        parser.add_argument("--country", help="ISO code, e.g. GB (default: the calendar's)")
        parser.add_argument("--subdiv", help="Region, e.g. ENG, SCT, BY")
        parser.add_argument(
            "--years", nargs="+", type=int, help="Years (default: this year and next)"
        )

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        try:
            calendar = BusinessCalendar.objects.get(name=opts["calendar"])
        except BusinessCalendar.DoesNotExist:
            raise CommandError(f"No calendar named {opts['calendar']!r}.") from None
        country = opts["country"] or calendar.holiday_country
        if not country:
            raise CommandError("Name a --country (the calendar has no holiday country).")
        year = timezone.localdate().year
        years = opts["years"] or [year, year + 1]
        try:
            days = holidays.country_holidays(country, subdiv=opts["subdiv"], years=years)
        except NotImplementedError as exc:
            raise CommandError(str(exc)) from None
        with transaction.atomic():
            existing = set(calendar.holidays.values_list("date", flat=True))
            new = [
                Holiday(calendar=calendar, date=d, name=n[:120])
                for d, n in sorted(days.items())
                if d not in existing
            ]
            Holiday.objects.bulk_create(new)
            refcache.invalidate()  # a bulk insert sends no signal: policies keep calendars
        self.stdout.write(f"{len(new)} holidays added to {calendar} ({country}, {years}).")
