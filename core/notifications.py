"""In-app notifications and who wants which news by e-mail.

Every e-mail Tandem writes goes through ``core.services.outbox_email`` / ``outbox_emails``;
those ask this module, once per call, which users the addresses belong to (``plan_for``)
and whether each still wants that family of news by e-mail, then write the outbox rows for
the addresses that do and one ``Notification`` per user reached (``write``). So every
service's notice becomes an in-app notification without a line of its own, and a
preference is honoured in one place.

Reads (the bell's count, the list) and the reader's own writes (mark read, preferences)
are here too; they are the reader's bookkeeping, not domain actions, so they write no
audit row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from core.exceptions import NotFound, ValidationFailed
from core.models import Notification, NotificationFamily, NotificationPreference, OutboxMessage

F = NotificationFamily

_ASSIGNED = {"assigned", "escalated", "reopened", "unassigned_lead"}
_WATCHED = {"commented", "status_changed"}


def family_of(event: str) -> str:
    """Sort an outbox event (``incident.assigned``, ``sla.breached``…) into the family a
    person turns e-mail on or off for."""
    kind, _, what = event.partition(".")
    if what in _ASSIGNED:
        return F.ASSIGNED
    if what == "mentioned":
        return F.MENTIONED
    if what in _WATCHED:
        return F.WATCHED
    if kind == "sla" or what.startswith("sla_"):
        return F.SLA
    if kind == "approval" or what in ("approved", "rejected"):
        return F.APPROVALS
    if kind in ("incident", "request"):
        return F.TICKETS
    return F.DELIVERY


@dataclass
class Plan:
    """Who the addresses of one outbox call reach, and which of them are e-mailed."""

    family: str
    users_at: dict[str, list[int]] = field(default_factory=dict)
    quiet: set[str] = field(default_factory=set)  # every user at it turned this e-mail off
    own: set[str] = field(default_factory=set)  # a person's own address (not a team's list)

    def emails(self, address: str) -> bool:
        return address not in self.quiet


def plan_for(event: str, addresses: Sequence[str]) -> Plan:
    """Resolve addresses to active users: their own address (one query, with whether they
    turned this family's e-mail off), else a team's distribution list, whose members are
    told in the app while the list itself is always e-mailed (one query, only when some
    address is not a person's)."""
    family = family_of(event)
    plan = Plan(family)
    if not addresses:
        return plan
    User = get_user_model()
    off = NotificationPreference.objects.filter(user=OuterRef("pk"), family=family, email=False)
    wants: dict[str, list[bool]] = {}
    rows = User.objects.filter(email__in=addresses, is_active=True).annotate(off=Exists(off))
    for pk, email, quiet in rows.values_list("pk", "email", "off"):
        plan.users_at.setdefault(email, []).append(pk)
        wants.setdefault(email, []).append(not quiet)
    plan.quiet = {a for a, w in wants.items() if not any(w)}
    plan.own = set(wants)
    unknown = [a for a in addresses if a not in plan.users_at]
    if unknown:
        members = User.objects.filter(tandem_teams__email__in=unknown, is_active=True)
        for pk, email in members.values_list("pk", "tandem_teams__email").distinct():
            plan.users_at.setdefault(email, []).append(pk)
    return plan


def write(
    plan: Plan,
    *,
    event: str,
    items: Iterable[tuple[str, str, str, OutboxMessage | None]],
    target: models.Model | None,
) -> list[Notification]:
    """One notification per user reached by ``items`` (``(address, subject, body,
    outbox row or None)``), in one INSERT; a user reached twice (own address and a list)
    gets one."""
    rows = notification_rows(plan, event=event, items=items, target=target)
    return Notification.objects.bulk_create(rows) if rows else []


def notification_rows(
    plan: Plan,
    *,
    event: str,
    items: Iterable[tuple[str, str, str, OutboxMessage | None]],
    target: models.Model | None,
) -> list[Notification]:
    """The unsaved rows ``write`` inserts, so a caller writing many notices (the SLA
    sweep, through ``core.services.outbox_email_many``) inserts them all at once."""
    ct = ContentType.objects.get_for_model(target) if target is not None else None
    url = getattr(target, "get_absolute_url", None)
    link = str(url()) if callable(url) else ""
    seen: set[int] = set()
    rows = []
    for address, subject, body, message in items:
        for user_id in plan.users_at.get(address, []):
            if user_id in seen:
                continue
            seen.add(user_id)
            note = Notification(
                user_id=user_id,
                event=event,
                family=plan.family,
                subject=subject[:255],
                body=body,
                url=link[:300],
                content_type=ct,
                object_id=target.pk if target is not None else None,
                outbox_message=message,
            )
            note.address = address  # type: ignore[attr-defined]  # for core.notices
            rows.append(note)
    return rows


# --- reads -------------------------------------------------------------------------------
def notifications_for(user: Any) -> QuerySet[Notification]:
    """The user's own notifications, newest first (nobody reads another's)."""
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(user=user).only(
        "id", "event", "family", "subject", "body", "url", "created_at", "read_at", "user_id"
    )


def unread_count(user: Any) -> int:
    """The bell's number: one COUNT over the partial index of unread rows."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def preferences_for(user: Any) -> list[tuple[str, str, bool]]:
    """Every family as ``(value, label, e-mail on)``; a family without a row is on."""
    off = set(
        NotificationPreference.objects.filter(user=user, email=False).values_list(
            "family", flat=True
        )
    )
    return [(value, label, value not in off) for value, label in F.choices]


# --- the reader's writes -------------------------------------------------------------------
def notification_mark_read(*, user: Any, notification_id: int | None) -> Notification:
    """Mark one of the user's notifications read (again is harmless); 404 for another's."""
    with transaction.atomic():
        found = (
            Notification.objects.select_for_update().filter(user=user, pk=notification_id).first()
            if notification_id is not None
            else None
        )
        if found is None:
            raise NotFound("No such notification.")
        if found.read_at is None:
            found.read_at = timezone.now()
            found.save(update_fields=["read_at"])
    return found


def notification_mark_all_read(*, user: Any) -> int:
    """Mark every unread notification of the user read, in one UPDATE; returns how many."""
    with transaction.atomic():
        return Notification.objects.filter(user=user, read_at__isnull=True).update(
            read_at=timezone.now()
        )


def preferences_set(*, user: Any, email: dict[str, bool]) -> list[tuple[str, str, bool]]:
    """Set whether each named family also goes by e-mail; unnamed families keep theirs.
    400 naming an unknown family (nothing is written then)."""
    unknown = sorted(set(email) - set(F.values))
    if unknown:
        raise ValidationFailed(f"No notification family {', '.join(unknown)}.")
    with transaction.atomic():
        for family, on in email.items():
            NotificationPreference.objects.update_or_create(
                user=user, family=family, defaults={"email": bool(on)}
            )
    return preferences_for(user)


def preferences_unsubscribe(*, token: str) -> tuple[Any, str]:
    """Turn one family's e-mail off for the user a signed unsubscribe link names
    (``core.mailout.unsubscribe_token``), without sign-in (RFC 8058 one-click). Again is
    harmless. 400 for a link that was changed or cut short, 404 for a user who is gone.
    Returns ``(user, family)``."""
    from django.core import signing

    from core import mailout

    try:
        user_id, family = mailout.unsubscribe_read(token)
    except (signing.BadSignature, ValueError) as exc:
        raise ValidationFailed(
            "This unsubscribe link is not valid: it may have been cut short or changed. "
            "Open it exactly as it is in the e-mail, or sign in and change your "
            "notification settings."
        ) from exc
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("Nobody is subscribed with this link any more.")
    preferences_set(user=user, email={family: False})
    return user, family


def unsubscribe_preview(*, token: str) -> tuple[Any, str]:
    """What ``preferences_unsubscribe`` would do, for the confirmation page (a GET only
    shows it: a mail scanner that follows links unsubscribes nobody)."""
    from django.core import signing

    from core import mailout

    try:
        user_id, family = mailout.unsubscribe_read(token)
    except (signing.BadSignature, ValueError) as exc:
        raise ValidationFailed(
            "This unsubscribe link is not valid: it may have been cut short or changed."
        ) from exc
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("Nobody is subscribed with this link any more.")
    return user, family
