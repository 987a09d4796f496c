"""Who is told about a comment or a state change, besides what each service e-mails itself:
the people ``@mentioned`` in a comment and the record's watchers.

Called from the shared write paths only — ``core.services.comment_create`` (every
record's comment service) and ``core.services.audit_record`` (every state change) — so
each record type gets them without a line of its own. Everyone is told only what the
record's visibility policy (``core.visibility.parts_for``) lets them read: an internal
note reaches only those who read internal notes, a history step only those whose
timeline shows it. Nobody is told of their own action, and nobody twice in one
transaction: a watcher's notice or a mention gives way to any other e-mail about the same
record to the same address in that transaction, written before it or after it (the
assignee's "assigned to you", the requester's "new reply", which carry the comment too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import Q

from core.markdown import mentioned_names
from core.models import AuditEvent, Comment, Notification, OutboxMessage
from core.visibility import parts_for

MAX_MENTIONS = 20

# How a record type is named in an event ("incident.mentioned", "work_item.commented").
_KIND = {"servicerequest": "request", "workitem": "work_item"}


def record_kind(record: models.Model) -> str:
    name = record._meta.model_name or "record"
    return _KIND.get(name, name)


def record_link(record: models.Model) -> str:
    url = getattr(record, "get_absolute_url", None)
    return f"{settings.TANDEM_BASE_URL}{url()}" if callable(url) else ""


def _label(record: models.Model) -> str:
    from core.watchers import record_key

    key = record_key(record)
    title = getattr(record, "title", "")
    return f"{key} ({title})" if title and title != key else key


def _subject(record: models.Model, what: str) -> str:
    """``[DEF-1011] Dana mentioned you: Push notifications stopped``."""
    from core.watchers import record_key

    title = getattr(record, "title", "")
    return f"[{record_key(record)}] {what}" + (f": {title}" if title else "")


# --- told once per transaction -------------------------------------------------------------
@dataclass
class _Scope:
    """What was e-mailed in one transaction, per record: addresses told, and the notices
    (a watcher's, a mention) that give way if a service e-mails the same address later."""

    block: Any
    told: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    yielding: dict[tuple[int, int], dict[str, list[int]]] = field(default_factory=dict)
    # the in-app copies of those notices whose e-mail the person turned off (no outbox
    # row to cascade from): they give way too
    yielding_notes: dict[tuple[int, int], dict[str, list[int]]] = field(default_factory=dict)


def _scope() -> _Scope | None:
    """The scope of the transaction under way (its outermost atomic block; a test case's
    own wrapping blocks do not count), or None outside a transaction."""
    conn = connections[DEFAULT_DB_ALIAS]
    blocks = [b for b in conn.atomic_blocks if not getattr(b, "_from_testcase", False)]
    if not blocks:
        return None
    scope: _Scope | None = getattr(conn, "_tandem_notice_scope", None)
    if scope is None or scope.block is not blocks[0]:
        scope = _Scope(block=blocks[0])
        conn._tandem_notice_scope = scope  # type: ignore[attr-defined]

        def _forget(scope: _Scope = scope) -> None:
            if getattr(conn, "_tandem_notice_scope", None) is scope:
                conn._tandem_notice_scope = None  # type: ignore[attr-defined]

        transaction.on_commit(_forget)
    return scope


def _key(record: models.Model) -> tuple[int, int]:
    return (ContentType.objects.get_for_model(record).pk, int(record.pk))


def already_told(record: models.Model) -> set[str]:
    scope = _scope()
    return set(scope.told.get(_key(record), set())) if scope else set()


def note_told(record: models.Model, recipients: list[str]) -> None:
    """``recipients`` were e-mailed about ``record`` (``core.services.outbox_email`` calls
    this): a watcher's notice or a mention to any of them written earlier in the
    transaction goes."""
    scope = _scope()
    if scope is None:
        return
    key = _key(record)
    pending = scope.yielding.get(key, {})
    drop = [pk for r in recipients for pk in pending.pop(r, [])]
    if drop:
        OutboxMessage.objects.filter(pk__in=drop).delete()  # their notifications cascade
    notes = scope.yielding_notes.get(key, {})
    drop_notes = [pk for r in recipients for pk in notes.pop(r, [])]
    if drop_notes:
        Notification.objects.filter(pk__in=drop_notes).delete()
    scope.told.setdefault(key, set()).update(recipients)


def _yielding_notice(record: models.Model, user: Any, event: str, subject: str, body: str) -> None:
    """E-mail ``user`` a notice that a later e-mail about ``record`` to the same address in
    this transaction replaces (``note_told``)."""
    _yielding_notices(record, event, [(user.email, subject, body)])


def _yielding_notices(
    record: models.Model, event: str, messages: list[tuple[str, str, str]]
) -> None:
    """``_yielding_notice`` for many people at once: one INSERT (``outbox_emails``)."""
    from core.services import outbox_emails

    written: list[Notification] = []
    created = outbox_emails(event=event, messages=messages, target=record, written=written)
    scope = _scope()
    if scope is None:
        return
    pending = scope.yielding.setdefault(_key(record), {})
    for message in created:
        pending.setdefault(message.recipients[0], []).append(message.pk)
    quiet = scope.yielding_notes.setdefault(_key(record), {})
    for note in written:
        if note.outbox_message_id is None:
            quiet.setdefault(note.address, []).append(note.pk)  # type: ignore[attr-defined]


# --- mentions ------------------------------------------------------------------------------
def _reads_comment(user: Any, record: models.Model, public: bool) -> bool:
    from core.watchers import may_see

    parts = parts_for(user, record)
    readable = parts.internal_notes or (public and parts.public_replies)
    return readable and may_see(user, record)


def mentioned_users(body: str) -> list[Any]:
    """Active users named ``@username`` in ``body`` (case-insensitive); unknown names are
    ignored."""
    names = mentioned_names(body)[:MAX_MENTIONS]
    if not names:
        return []
    query = Q()
    for name in names:
        query |= Q(username__iexact=name)
    return list(get_user_model().objects.filter(query, is_active=True).order_by("username"))


def notify_mentions(*, comment: Comment, record: models.Model) -> list[Any]:
    """One e-mail per person ``@mentioned`` in ``comment`` who may read it (not the
    author). It gives way to an e-mail the calling service writes later in the same
    transaction to the same address about the same record (an incident's "new reply"
    to its requester carries the comment already). Returns those told."""
    author = comment.author
    told = []
    kind = record_kind(record)
    for user in mentioned_users(comment.body):
        if user.pk == author.pk or not user.email:
            continue
        if not _reads_comment(user, record, comment.public):
            continue
        what = "a reply" if comment.public else "an internal note"
        _yielding_notice(
            record,
            user,
            f"{kind}.mentioned",
            _subject(record, f"{author} mentioned you"),
            f"{author} mentioned you in {what} on {_label(record)}:\n\n"
            f"{comment.body}\n\n{record_link(record)}",
        )
        told.append(user)
    return told


# --- watchers ------------------------------------------------------------------------------
def notify_comment(*, comment: Comment, record: models.Model) -> None:
    """Tell the record's watchers of a new comment: those who may read it (internal
    notes: those who read internal notes), not its author, nobody already told. One
    query for their roles and one INSERT, however many watch."""
    from core.roles import preload_roles
    from core.watchers import watchers_of

    told = already_told(record)
    kind = record_kind(record)
    what = "replied" if comment.public else "added an internal note"
    users = [w.user for w in watchers_of(record)]
    preload_roles(users)
    subject = _subject(record, f"{comment.author} {what}")
    body = (
        f"{comment.author} {what} on {_label(record)}:\n\n{comment.body}\n\n"
        f"{record_link(record)}\n\nYou watch {_label(record)}; stop watching on its page."
    )
    messages = [
        (user.email, subject, body)
        for user in users
        if user.pk != comment.author_id
        and user.email
        and user.email not in told
        and _reads_comment(user, record, comment.public)
    ]
    _yielding_notices(record, f"{kind}.commented", messages)


def _state_label(record: models.Model, state: str) -> str:
    try:
        status = record._meta.get_field("status")
    except Exception:  # a record whose state field has another name
        return state
    return str(dict(status.flatchoices).get(state, state))  # type: ignore[union-attr]


def notify_state_change(*, event: AuditEvent, record: models.Model) -> None:
    """Tell the record's watchers that its state changed: those whose timeline shows the
    step (``Parts.shows_action``), not the actor, nobody already told. One query for
    their roles and one INSERT, however many watch."""
    from core.roles import preload_roles
    from core.watchers import may_see, watchers_of

    users = [w.user for w in watchers_of(record)]
    if not users:
        return
    preload_roles(users)
    told = already_told(record)
    kind = record_kind(record)
    who = str(event.actor) if event.actor is not None else "Tandem"
    old, new = _state_label(record, event.from_state), _state_label(record, event.to_state)
    note = f"\n\n{event.comment}" if event.comment else ""
    subject = _subject(record, f"{old} → {new}")
    body = (
        f"{who} moved {_label(record)} from {old} to {new}.{note}\n\n"
        f"{record_link(record)}\n\nYou watch {_label(record)}; stop watching on its page."
    )
    messages = [
        (user.email, subject, body)
        for user in users
        if user.pk != event.actor_id
        and user.email
        and user.email not in told
        and parts_for(user, record).shows_action(event.action)
        and may_see(user, record)
    ]
    _yielding_notices(record, f"{kind}.status_changed", messages)


def on_audit(*, event: AuditEvent, record: models.Model, changes: dict[str, Any]) -> None:
    """The shared audit path's hook: whoever is assigned (and a work item's reporter, on
    creation) watches the record; a state change tells its watchers."""
    from core.watchers import is_watchable, watch_auto

    if not is_watchable(record):
        return
    users = []
    assigned = changes.get("assignee")
    if assigned and isinstance(assigned[1], models.Model):
        users.append(assigned[1])
    if event.action == "created" and getattr(record, "reported_by_id", None):
        users.append(record.reported_by)  # type: ignore[attr-defined]
    if users:
        watch_auto(record=record, users=users)
    if event.from_state and event.to_state and event.from_state != event.to_state:
        notify_state_change(event=event, record=record)


def on_comment(*, comment: Comment, record: models.Model) -> None:
    """The shared comment path's hook: the author watches; mentions, then watchers."""
    from core.watchers import watch_auto

    watch_auto(record=record, users=[comment.author])
    notify_mentions(comment=comment, record=record)
    notify_comment(comment=comment, record=record)
