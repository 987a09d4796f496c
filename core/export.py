"""CSV exports of lists, streamed: the rows are read as ``values()`` over a server-side
cursor (``iterator(chunk_size=…)``) and written out a buffer at a time, so an export of
100 000 rows holds one chunk in memory, not the list, and runs one query.

Every list (the desk's queues, problems, changes, requests, work items, SLA breaches)
builds its queryset exactly as its page or API does (the same selector, so the same
visibility, and the same filterset) and hands it here with its columns. Columns read plain
fields and related fields through ``values()`` lookups, never a model method, so a row
costs no query of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

CHUNK_ROWS = 2000  # rows fetched per round trip from the cursor
FLUSH_BYTES = 64 * 1024  # text written per streamed piece

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection,
# OWASP): a title like ``=HYPERLINK(…)`` typed by a requester must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One column: its header, the ``values()`` lookups it reads, and how those values
    become the cell (``cell(*values)``; by default the one value as it is)."""

    header: str
    fields: tuple[str, ...]
    cell: Callable[..., Any] | None = None

    def render(self, row: dict[str, Any]) -> Any:
        values = [row[f] for f in self.fields]
        return self.cell(*values) if self.cell else values[0]


def col(header: str, field: str, cell: Callable[..., Any] | None = None) -> Column:
    return Column(header, (field,), cell)


def key_col(prefix: str, header: str = "Key") -> Column:
    """``INC-1042`` from the number (the key is not a column)."""
    return Column(header, ("number",), lambda n: f"{prefix}-{n}")


def choice_col(header: str, field: str, choices: Iterable[tuple[Any, Any]]) -> Column:
    """The choice's label (``In progress``), not its stored value."""
    labels = {value: str(label) for value, label in choices}
    return Column(header, (field,), lambda v: labels.get(v, v))


def person_col(header: str, relation: str) -> Column:
    """A user by full name, else username (what the pages show)."""

    def cell(first: str | None, last: str | None, username: str | None) -> str:
        return f"{first or ''} {last or ''}".strip() or (username or "")

    return Column(
        header,
        (f"{relation}__first_name", f"{relation}__last_name", f"{relation}__username"),
        cell,
    )


def safe_cell(value: Any, tz: tzinfo | None = None) -> Any:
    """A value as a CSV cell: date-times in ``tz`` (the current time zone by default),
    booleans as yes/no, nothing as empty, and text that a spreadsheet would run as a
    formula prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str):  # the common case first: this runs once per cell
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(tz or timezone.get_current_timezone())
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return value  # a number is never a formula, and -3 must stay a number
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_lines(rows: QuerySet[Any], columns: Sequence[Column]) -> Iterator[str]:
    """The CSV text of ``rows`` (header first), in pieces of about FLUSH_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # the BOM: spreadsheets then read the file as UTF-8
    writer.writerow([c.header for c in columns])
    if rows.query.is_empty():  # a selector's none() lacks the list's annotations
        yield buffer.getvalue()
        return
    fields = list(dict.fromkeys(f for c in columns for f in c.fields))
    # values() reads only the columns' lookups (its joins replace select_related); what a
    # page prefetches per object has no place in a values() row.
    values = rows.prefetch_related(None).values(*fields)
    tz = timezone.get_current_timezone()  # once: looking it up costs more than the cell
    for row in values.iterator(chunk_size=CHUNK_ROWS):
        writer.writerow([safe_cell(c.render(row), tz) for c in columns])
        if buffer.tell() >= FLUSH_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(
    rows: QuerySet[Any], columns: Sequence[Column], filename: str
) -> StreamingHttpResponse:
    """Stream ``rows`` as a CSV download named ``filename`` (a date is added)."""
    stem = filename.removesuffix(".csv")
    name = f"{stem}-{timezone.localdate():%Y-%m-%d}.csv"
    response = StreamingHttpResponse(csv_lines(rows, columns), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"  # what a user may see is not for shared caches
    return response


def wants_csv(request: HttpRequest) -> bool:
    """A list page answers with its CSV when asked ``?export=csv``: the same view, so the
    export can never filter differently from the page."""
    return request.GET.get("export") == "csv"
