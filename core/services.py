"""Writes every app shares: audit rows, comments, outbox messages, human keys.

They never open a transaction of their own: they are called inside the caller's
``transaction.atomic()`` so that the audit row, the outbox row and the change they
describe commit or roll back together.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone
from django.utils.duration import duration_iso_string
from django.utils.functional import Promise

from core import events
from core.exceptions import ValidationFailed
from core.models import AuditEvent, Comment, OutboxMessage, Sequence, Team

log = logging.getLogger(__name__)

# Set while history is backfilled (demo data, imports): those events happened "then",
# so nobody is notified of them now.
_outbox_suppressed: ContextVar[bool] = ContextVar("outbox_suppressed", default=False)


@contextmanager
def outbox_suppressed() -> Iterator[None]:
    token = _outbox_suppressed.set(True)
    try:
        yield
    finally:
        _outbox_suppressed.reset(token)


# Set while backfilled history is replayed through the services: the audit rows written
# are dated at the moment they stand for (the SLA engine times its clocks by them).
_history_moment: ContextVar[datetime.datetime | None] = ContextVar("history_moment", default=None)


@contextmanager
def history_at(moment: datetime.datetime) -> Iterator[None]:
    """Write audit rows as of ``moment`` (demo data and imports only; notices stay off
    through ``outbox_suppressed``)."""
    token = _history_moment.set(moment)
    try:
        yield
    finally:
        _history_moment.reset(token)


def moment_now() -> datetime.datetime:
    """Now, or the moment ``history_at`` replays: for times a service stamps on its record
    (an incident's response and resolution, a change's end, a go-live) to agree with its
    audit rows."""
    return _history_moment.get() or timezone.now()


def replayed_stamp(record: models.Model, *, created: bool = False) -> None:
    """Under ``history_at``, date ``record``'s automatic timestamps at the replayed moment,
    in its row and on the object: ``auto_now`` ones (``updated_at``), and ``auto_now_add``
    ones (``created_at``) when ``created``. Django stamps them with the wall clock, which a
    replayed past must not show (a demo incident raised "now" and resolved weeks ago).
    Nothing outside ``history_at``."""
    moment = _history_moment.get()
    if moment is None or record.pk is None:
        return
    names = [
        f.attname
        for f in record._meta.concrete_fields
        if getattr(f, "auto_now", False) or (created and getattr(f, "auto_now_add", False))
    ]
    if names:
        type(record)._base_manager.filter(pk=record.pk).update(**dict.fromkeys(names, moment))
        for name in names:
            setattr(record, name, moment)


def sequence_next(name: str) -> int:
    """Take the next number of a human-key sequence (``INC-1042``).

    PostgreSQL: ``nextval`` of the database sequence ``core_key_<name>``, which never waits
    for another transaction: a counter row locked until commit made every create wait for
    the one before it to commit (issue 13). A rolled-back create leaves a gap, as in Jira
    and ServiceNow. The sequence is made on the first use of a name, starting after the
    name's ``core.Sequence`` row (made too, at 1000, when missing).

    SQLite (one writer at a time anyway): the row itself, incremented and read in one
    ``UPDATE … RETURNING`` (SQLite 3.35+), locked until commit."""
    if connection.vendor == "postgresql":
        return _pg_sequence_next(name)
    table = connection.ops.quote_name(Sequence._meta.db_table)
    sql = f"UPDATE {table} SET last_value = last_value + 1 WHERE name = %s RETURNING last_value"
    with connection.cursor() as cursor:
        cursor.execute(sql, [name])
        row = cursor.fetchone()
        if row is None:
            Sequence.objects.get_or_create(name=name)
            cursor.execute(sql, [name])
            row = cursor.fetchone()
    return int(row[0])


KEY_SEQUENCE_PREFIX = "core_key_"


def key_sequence_name(name: str) -> str:
    """The PostgreSQL sequence behind a human-key name (a short lower-case word)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise ValueError(f"Not a key sequence name: {name!r}")
    return f"{KEY_SEQUENCE_PREFIX}{name}"


def _pg_sequence_next(name: str) -> int:
    seq = key_sequence_name(name)
    with connection.cursor() as cursor:
        # nextval(NULL) is NULL (the function is strict): a missing sequence is no error,
        # so the caller's transaction goes on, and the usual case stays one statement
        cursor.execute("SELECT nextval(to_regclass(%s))", [seq])
        value = cursor.fetchone()[0]
        if value is None:
            row, _ = Sequence.objects.get_or_create(name=name)
            try:
                with transaction.atomic():  # a savepoint: another first use may win the race
                    cursor.execute(
                        f"CREATE SEQUENCE IF NOT EXISTS {connection.ops.quote_name(seq)} "
                        f"AS bigint MINVALUE 0 START WITH {int(row.last_value) + 1}"
                    )
            except DatabaseError:
                log.info("key sequence %s was made by another transaction", seq)
            cursor.execute("SELECT nextval(%s)", [seq])
            value = cursor.fetchone()[0]
    return int(value)


def sequence_set(name: str, last_value: int) -> None:
    """The next number ``sequence_next(name)`` takes is ``last_value + 1`` (imports and
    the benchmark's loader, which write numbers themselves)."""
    Sequence.objects.update_or_create(name=name, defaults={"last_value": last_value})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # setval(NULL, …) is NULL: no sequence yet
            cursor.execute(
                "SELECT setval(to_regclass(%s), %s)", [key_sequence_name(name), last_value]
            )


def key_sequences_forget_orphans(using: str = "default") -> None:
    """Drop the key sequences whose ``core.Sequence`` row is gone (after a flush, which
    empties the table but leaves sequences): the next use starts again from the row."""
    from django.db import connections

    conn = connections[using]
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema() "
            "AND starts_with(c.relname, %s) "  # not LIKE, where "_" matches any letter
            "AND NOT EXISTS (SELECT 1 FROM core_sequence s WHERE %s || s.name = c.relname)",
            [KEY_SEQUENCE_PREFIX, KEY_SEQUENCE_PREFIX],
        )
        for (relname,) in cursor.fetchall():
            cursor.execute(f"DROP SEQUENCE IF EXISTS {conn.ops.quote_name(relname)}")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON (str, number, bool, None, list, dict), whatever its type.

    Audit rows store the old and new value of every audited field, and a field can be a
    Decimal (an estimate), a date, a time, a duration, a UUID, a related row, a choice or a
    collection of those. Anything unforeseen falls back to its text rather than failing
    the action that is being recorded."""
    if isinstance(value, Enum):  # choices: store the value, not the member
        return jsonable(value.value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a lazy or subclassed str becomes plain text
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN / Infinity
    if isinstance(value, Decimal):
        # Exact, as text (as DjangoJSONEncoder writes it), without trailing zeros: "2.5".
        return format(value.normalize(), "f")
    if isinstance(value, models.Model):
        return {"id": value.pk, "label": str(value)}
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Promise):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, models.QuerySet | list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "all") and callable(value.all):  # a many-to-many manager
        return [jsonable(v) for v in value.all()]
    return str(value)


_jsonable = jsonable  # the name the audit trail used first


def audit_record(
    *,
    target: models.Model,
    actor: AbstractBaseUser | None,
    action: str,
    from_state: str = "",
    to_state: str = "",
    changes: dict[str, tuple[Any, Any]] | None = None,
    comment: str = "",
) -> AuditEvent:
    """Write one audit row. ``changes`` maps a field to its (old, new) values.

    Side effects (``core.notices.on_audit``), so every record type gets them: whoever an
    audited change assigns watches the record (and a work item's reporter, on creation);
    a row that changes the state tells the record's watchers. Then ``RECORD_AUDITED`` is
    published (``core.events``): webhooks and connector pushes react to it."""
    event = AuditEvent.objects.create(
        content_type=ContentType.objects.get_for_model(target),
        object_id=target.pk,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        changes={k: [jsonable(old), jsonable(new)] for k, (old, new) in (changes or {}).items()},
        comment=comment,
    )
    # created_at is auto_now_add: a replayed row is dated after, and so is its record
    # (raised then, when the row is its creation; last updated then, in any case)
    replayed_stamp(event, created=True)
    replayed_stamp(target, created=action == "created")
    from core import notices  # notices write through this module

    notices.on_audit(event=event, record=target, changes=changes or {})
    events.publish(events.RECORD_AUDITED, event=event, record=target, changes=changes or {})
    return event


# The API's limit on a comment (core.api.serializers), enforced here for every path.
COMMENT_MAX_CHARS = 20_000


def comment_create(
    *, target: models.Model, author: AbstractBaseUser, body: str, public: bool
) -> Comment:
    """Write a public reply or an internal note on ``target`` (the caller checked who may).

    Side effects (``core.notices.on_comment``), the same for every record type: the
    author watches the record; each person ``@mentioned`` who may read the comment gets
    one e-mail (``<record>.mentioned``); then its watchers who may read it
    (``<record>.commented``), never the author and nobody twice. Then
    ``RECORD_COMMENTED`` is published (``core.events``).

    A body over ``COMMENT_MAX_CHARS`` is a 400 whatever the caller (page, API, e-mail in):
    every page that shows the record renders it."""
    if len(body or "") > COMMENT_MAX_CHARS:
        raise ValidationFailed(
            f"A comment is at most {COMMENT_MAX_CHARS:,} characters; attach longer text "
            "(a log, a trace) as a file.",
            field="body",
        )
    comment = Comment.objects.create(
        content_type=ContentType.objects.get_for_model(target),
        object_id=target.pk,
        author=author,
        body=body,
        public=public,
    )
    replayed_stamp(comment, created=True)
    # a reply or a note is news on the record: its last update moves (lists' column and
    # sort, the desk's live poll and "not updated for"), as in JSM and Jira
    if any(f.name == "updated_at" for f in target._meta.concrete_fields):
        target.updated_at = comment.created_at  # type: ignore[attr-defined]
        type(target)._default_manager.filter(pk=target.pk).update(updated_at=comment.created_at)
    from core import notices  # notices write through this module

    notices.on_comment(comment=comment, record=target)
    events.publish(events.RECORD_COMMENTED, comment=comment, record=target)
    return comment


def team_recipients(team: Team | None) -> list[str]:
    """Where a notice to a team goes: its distribution list, else its members."""
    if team is None:
        return []
    if team.email:
        return [team.email]
    return sorted({u.email for u in team.members.all() if u.email})


def outbox_email(
    *,
    event: str,
    recipients: Iterable[str | None],
    subject: str,
    body: str,
    target: models.Model | None = None,
    headers: Mapping[str, str] | None = None,
) -> OutboxMessage | None:
    """Queue an email to be sent after the surrounding transaction commits, and the in-app
    notification of each user it reaches (``core.notifications``): an address whose people
    all turned this family's e-mail off is left out of the e-mail, never out of the app.
    The e-mail's parts, threading and unsubscribe headers come from ``core.mailout``;
    ``headers`` adds to them (an auto-reply's ``Auto-Submitted: auto-replied``).

    Nothing is queued when no recipient has an address, or inside ``outbox_suppressed()``.
    Returns the outbox row, or None when nobody is e-mailed.
    """
    from core import mailout, notifications  # they read the models this module writes

    to = sorted({r for r in recipients if r})
    if not to or _outbox_suppressed.get():
        return None
    plan = notifications.plan_for(event, to)
    mailed = [r for r in to if plan.emails(r)]
    message = None
    if mailed:
        [(wire_subject, payload)] = mailout.email_payloads(
            event=event,
            items=[(mailed, subject, body)],
            target=target,
            plan=plan,
        )
        if headers:
            payload["headers"].update(headers)
        message = OutboxMessage.objects.create(
            channel=OutboxMessage.Channel.EMAIL,
            event=event,
            recipients=mailed,
            subject=wire_subject,
            body=body,
            available_at=timezone.now(),
            content_type=ContentType.objects.get_for_model(target) if target is not None else None,
            object_id=target.pk if target is not None else None,
            payload=payload,
        )
        transaction.on_commit(lambda: _dispatch_outbox(message.pk))
    notifications.write(
        plan, event=event, items=[(r, subject, body, message) for r in to], target=target
    )
    if target is not None:
        from core import notices  # notices write through this module

        # the people turned quiet were told too (in the app): a notice still gives way
        notices.note_told(target, to)
    return message


def outbox_emails(
    *,
    event: str,
    messages: Iterable[tuple[str, str, str]],
    target: models.Model,
    written: list[Any] | None = None,
) -> list[OutboxMessage]:
    """Queue many e-mails about ``target``, one recipient each (``(address, subject,
    body)``), in one INSERT: what ``outbox_email`` does for one, for a record's watchers,
    with the same in-app notifications and preferences (appended to ``written`` when
    given). Nothing inside ``outbox_suppressed()``; addresses left blank are skipped."""
    from core import mailout, notifications

    if _outbox_suppressed.get():
        return []
    wanted = [(to, subject, body) for to, subject, body in messages if to]
    if not wanted:
        return []
    plan = notifications.plan_for(event, sorted({to for to, _, _ in wanted}))
    now = timezone.now()
    ct = ContentType.objects.get_for_model(target)
    mailed = [(to, subject, body) for to, subject, body in wanted if plan.emails(to)]
    wire = mailout.email_payloads(
        event=event,
        items=[([to], subject, body) for to, subject, body in mailed],
        target=target,
        plan=plan,
    )
    rows = [
        OutboxMessage(
            channel=OutboxMessage.Channel.EMAIL,
            event=event,
            recipients=[to],
            subject=wire_subject,
            body=body,
            available_at=now,
            content_type=ct,
            object_id=target.pk,
            payload=payload,
        )
        for (to, _, body), (wire_subject, payload) in zip(mailed, wire, strict=True)
    ]
    created = OutboxMessage.objects.bulk_create(rows) if rows else []
    if any(m.pk is None for m in created):  # PostgreSQL and SQLite 3.35+ return them
        raise RuntimeError("This database returns no ids from a bulk insert.")
    for message in created:
        transaction.on_commit(lambda pk=message.pk: _dispatch_outbox(pk))
    by_address = {m.recipients[0]: m for m in created}
    notes = notifications.write(
        plan,
        event=event,
        items=[(to, subject, body, by_address.get(to)) for to, subject, body in wanted],
        target=target,
    )
    if written is not None:
        written.extend(notes)
    from core import notices  # notices write through this module

    notices.note_told(target, [to for to, _, _ in wanted])
    return created


def _dispatch_outbox(message_id: int) -> None:
    """Hand the message to a worker. If the broker is unreachable the change has still
    committed; the periodic outbox sweep delivers the message later."""
    from core.tasks import outbox_deliver  # tasks import this module

    try:
        outbox_deliver.delay(message_id)
    except Exception:  # broker down: never fail the request that already committed
        log.warning("outbox %s: broker unavailable, left for the sweep", message_id, exc_info=True)


# --- many at once (set work: the SLA sweep) --------------------------------------------------
def _ids_returned(rows: list[Any]) -> None:
    if any(r.pk is None for r in rows):  # PostgreSQL and SQLite 3.35+ return them
        raise RuntimeError("This database returns no ids from a bulk insert.")


def rows_insert(
    model: type[models.Model], names: list[str], rows: list[tuple[Any, ...]], *, ids: bool = False
) -> list[int]:
    """INSERT ``rows`` (tuples of the values of the fields ``names``, as the database
    takes them: see ``db_datetime``; JSON as its text) into ``model``'s table in one
    statement, and return their ids in order when ``ids``.

    For set work (the SLA sweep): ``bulk_create`` builds a model instance and runs each
    field's preparation per row, which cost more than the database's own work on the
    rows. On PostgreSQL the rows travel as one JSON parameter (``json_rows``): a
    thousand-row ``VALUES`` list costs the server more to parse than to insert."""
    if not rows:
        return []
    opts = model._meta
    quote = connection.ops.quote_name
    fields = [opts.get_field(n) for n in names]
    columns = ", ".join(quote(f.column) for f in fields)  # type: ignore[union-attr]
    returning = f" RETURNING {quote(opts.pk.column)}" if ids else ""  # type: ignore[union-attr]
    found: list[int] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # inserted in the array's order, so their ids ascend in it
            cursor.execute(
                f"INSERT INTO {quote(opts.db_table)} ({columns}) "
                f"SELECT {json_rows_select(fields)} "
                f"FROM json_array_elements(%s::json) WITH ORDINALITY AS j(r, n) ORDER BY n"
                f"{returning}",
                [json_rows(rows)],
            )
            if ids:
                found = sorted(row[0] for row in cursor.fetchall())
        else:
            row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
            per = max(1, 30_000 // len(names))  # SQLite's 32 766 parameters, with room
            for start in range(0, len(rows), per):
                part = rows[start : start + per]
                # SQLite returns a multi-row INSERT's ids in its rows' order (bulk_create
                # relies on that too)
                cursor.execute(
                    f"INSERT INTO {quote(opts.db_table)} ({columns}) "
                    f"VALUES {', '.join([row_sql] * len(part))}{returning}",
                    [value for row in part for value in row],
                )
                if ids:
                    found.extend(row[0] for row in cursor.fetchall())
    if ids and len(found) != len(rows):
        raise RuntimeError("This database returns no ids from a bulk insert.")
    return found


def json_rows_select(fields: list[Any]) -> str:
    """PostgreSQL: the SELECT list that reads each element ``r`` of a ``json_rows``
    array as ``fields``' columns (text for a bounded string, so that a value too long
    fails as it would in a plain INSERT rather than being cut)."""
    parts = []
    for i, field in enumerate(fields):
        db_type = field.db_type(connection)
        parts.append(f"(r->>{i})::{'text' if db_type.startswith('varchar') else db_type}")
    return ", ".join(parts)


def json_rows(rows: list[tuple[Any, ...]] | list[list[Any]]) -> str:
    """Rows of plain values as one JSON array of arrays; datetimes as ISO 8601 text.
    A JSON column's value goes as its text (``json.dumps``), which ``->>`` unwraps."""
    return json.dumps(rows, default=_json_value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    raise TypeError(f"json_rows: {type(value).__name__} is not a column value")


def db_datetime(value: datetime.datetime | None) -> Any:
    """An aware datetime as ``rows_insert`` passes it: itself on PostgreSQL, naive UTC
    text on SQLite (what Django stores there)."""
    return connection.ops.adapt_datetimefield_value(value)


class AuditRow(NamedTuple):
    """One row for ``audit_rows_insert``: an audit row by its record's content type and
    id, for callers that hold no record objects."""

    content_type_id: int
    object_id: int
    action: str
    changes: dict[str, tuple[Any, Any]] | None = None
    comment: str = ""


def audit_rows_insert(*, rows: list[AuditRow]) -> list[int]:
    """``audit_record`` for many rows by Tandem itself (no actor) that neither create,
    assign nor change a state, in one INSERT; returns their ids in order.

    ``core.notices.on_audit`` reacts to creations, assignments and state changes only, so
    these rows have no side effect and need no record objects: the SLA sweep writes its
    warnings and breaches this way. Dated as ``history_at`` says."""
    for row in rows:
        if row.action == "created" or "assignee" in (row.changes or {}):
            raise ValueError(f"audit_rows_insert: {row.action!r} has side effects")
    at = db_datetime(moment_now())
    ids = rows_insert(
        AuditEvent,
        [
            "content_type_id",
            "object_id",
            "actor_id",
            "action",
            "from_state",
            "to_state",
            "changes",
            "comment",
            "created_at",
        ],
        [
            (
                r.content_type_id,
                r.object_id,
                None,
                r.action,
                "",
                "",
                json.dumps(
                    {
                        k: [jsonable(old), jsonable(new)]
                        for k, (old, new) in (r.changes or {}).items()
                    }
                ),
                r.comment,
                at,
            )
            for r in rows
        ],
        ids=True,
    )
    events.publish(events.AUDIT_ROWS_WRITTEN, rows=rows, ids=ids)
    return ids


def outbox_is_suppressed() -> bool:
    """Whether ``outbox_suppressed`` is in force: a caller that would build many e-mails
    (the SLA sweep) skips the work of building them."""
    return _outbox_suppressed.get()


class OutboxEmail(NamedTuple):
    """One e-mail for ``outbox_email_many``: ``outbox_email``'s arguments."""

    event: str
    recipients: Iterable[str | None]
    subject: str
    body: str
    target: models.Model | None = None


def outbox_email_many(*, emails: list[OutboxEmail]) -> list[OutboxMessage | None]:
    """``outbox_email`` for many e-mails: the same outbox rows, in-app notifications and
    preferences, with one query per event to resolve the addresses, one INSERT of outbox
    rows and one of notifications. Returns each e-mail's outbox row (None when nobody is
    e-mailed), in the order given."""
    from core import mailout, notifications  # they read the models this module writes
    from core.models import Notification

    if _outbox_suppressed.get():
        return [None] * len(emails)
    tos = [sorted({r for r in e.recipients if r}) for e in emails]
    # An address's users and preference do not depend on the other addresses asked about
    # with it (``plan_for``), so one plan per event serves every e-mail of that event.
    addresses: dict[str, set[str]] = {}
    for email, to in zip(emails, tos, strict=True):
        if to:
            addresses.setdefault(email.event, set()).update(to)
    plans = {event: notifications.plan_for(event, sorted(a)) for event, a in addresses.items()}
    now = timezone.now()
    pending: list[tuple[OutboxEmail, list[str], OutboxMessage | None]] = []
    for email, to in zip(emails, tos, strict=True):
        message = None
        mailed = [r for r in to if plans[email.event].emails(r)] if to else []
        if mailed:
            target = email.target
            [(wire_subject, payload)] = mailout.email_payloads(
                event=email.event,
                items=[(mailed, email.subject, email.body)],
                target=target,
                plan=plans[email.event],
            )
            message = OutboxMessage(
                channel=OutboxMessage.Channel.EMAIL,
                event=email.event,
                recipients=mailed,
                subject=wire_subject,
                payload=payload,
                body=email.body,
                available_at=now,
                content_type=ContentType.objects.get_for_model(target)
                if target is not None
                else None,
                object_id=target.pk if target is not None else None,
            )
        pending.append((email, to, message))
    messages = [m for _, _, m in pending if m is not None]
    if messages:
        OutboxMessage.objects.bulk_create(messages)
        _ids_returned(messages)
        pks = [m.pk for m in messages]
        transaction.on_commit(lambda: [_dispatch_outbox(pk) for pk in pks])
    notes = [
        row
        for email, to, message in pending
        if to
        for row in notifications.notification_rows(
            plans[email.event],
            event=email.event,
            items=[(r, email.subject, email.body, message) for r in to],
            target=email.target,
        )
    ]
    if notes:
        Notification.objects.bulk_create(notes)
    from core import notices  # notices write through this module

    for email, to, _ in pending:
        if to and email.target is not None:
            # the people turned quiet were told too (in the app): a notice still gives way
            notices.note_told(email.target, to)
    return [m for _, _, m in pending]
