"""Business-time arithmetic: pure functions over a calendar's working hours, holidays and
time zone. Working hours are wall-clock times in the calendar's zone, so a daylight-saving
change moves them correctly; every sum is done in UTC."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A calendar with no working time at all would make "due" infinitely far away.
MAX_SCAN_DAYS = 3 * 366


@dataclass(frozen=True)
class CalendarSpec:
    tz: ZoneInfo
    always_open: bool = False
    # weekday (0 = Monday) -> working periods (start, end); end 00:00 means midnight
    hours: dict[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    def working_day_seconds(self) -> float | None:
        """The length of a usual working day (the most common one of the week), to speak
        of business time in working days; None for a 24×7 calendar, whose days are days."""
        if self.always_open:
            return None
        lengths = []
        for periods in self.hours.values():
            total = 0.0
            for start, end in periods:
                end_s = 24 * 3600 if end == time(0) else end.hour * 3600 + end.minute * 60
                total += end_s - (start.hour * 3600 + start.minute * 60)
            if total > 0:
                lengths.append(total)
        if not lengths:
            return None
        return max(set(lengths), key=lambda n: (lengths.count(n), n))

    def is_working_day(self, day: date) -> bool:
        """Whether any work happens on ``day`` (for dates that move in working days)."""
        if self.always_open:
            return True
        return day not in self.holidays and bool(self.hours.get(day.weekday()))

    def _day_windows(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        if day in self.holidays:
            return
        for start, end in self.hours.get(day.weekday(), ()):
            ws = datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC)
            end_day = day + timedelta(days=1) if end == time(0) else day
            we = datetime.combine(end_day, end, tzinfo=self.tz).astimezone(UTC)
            if we > ws:
                yield ws, we

    def windows_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC) from ``start`` on, the first one clipped to start."""
        start = start.astimezone(UTC)
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        for _ in range(MAX_SCAN_DAYS):
            for ws, we in self._day_windows(day):
                if we > start:
                    yield max(ws, start), we
            day += timedelta(days=1)

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end).

        Whole days in between come from running sums of each day's total kept per calendar (a queue
        row's clock that has run for months would otherwise build every day's windows on
        every read); the first and last days are walked window by window. The same sums,
        window for window, as walking the whole span (a test compares them)."""
        if end <= start:
            return 0.0
        if self.always_open:
            return (end - start).total_seconds()
        first = start.astimezone(self.tz).date() + timedelta(days=1)
        last = end.astimezone(self.tz).date()  # whole days: first … last - 1
        if (last - first).days < 2:
            return self._walked_seconds(start, end)
        # Every window of a day lies within that day (it ends at midnight at the latest).
        head_end = datetime.combine(first, time(0), tzinfo=self.tz).astimezone(UTC)
        tail_start = datetime.combine(last, time(0), tzinfo=self.tz).astimezone(UTC)
        middle = self._whole_days(first, last)
        return (
            self._walked_seconds(start, head_end) + middle + self._walked_seconds(tail_start, end)
        )

    def _whole_days(self, first: date, last: date) -> float:
        """The working seconds of the days first … last - 1, from running sums of each
        day's total kept on the calendar (built once per process, extended as needed)."""
        anchor, sums = self.__dict__.get("_sums", (None, []))
        if anchor is None or first < anchor:
            anchor, sums = first - timedelta(days=366), [0.0]
        need = (last - anchor).days
        if len(sums) <= need:
            # extended on a copy and swapped in whole: a thread reading meanwhile never
            # sees a half-built list, two extending at once each build a whole one
            sums = list(sums)
        day = anchor + timedelta(days=len(sums) - 1)
        while len(sums) <= need:
            sums.append(
                sums[-1] + sum((we - ws).total_seconds() for ws, we in self._day_windows(day))
            )
            day += timedelta(days=1)
        object.__setattr__(self, "_sums", (anchor, sums))  # a cache, not part of the value
        return sums[need] - sums[(first - anchor).days]

    def _walked_seconds(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        end = end.astimezone(UTC)
        total = 0.0
        for ws, we in self.windows_from(start):
            if ws >= end:
                break
            total += (min(we, end) - ws).total_seconds()
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start``."""
        if self.always_open:
            return start + timedelta(seconds=seconds)
        if seconds <= 0:
            # due now, or at the next moment work is possible
            return start
        remaining = seconds
        for ws, we in self.windows_from(start):
            span = (we - ws).total_seconds()
            if remaining <= span:
                return ws + timedelta(seconds=remaining)
            remaining -= span
        raise ValueError("The calendar has no working time in the next three years.")
