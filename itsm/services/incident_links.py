"""How incidents relate to each other: related links, merging a duplicate into its
master, and major incidents with child incidents that follow the parent's resolution.

Every function here is one action in one transaction with its audit rows, like the rest
of ``itsm.services``; both incidents of an action are locked in id order, so two actions
on the same pair (a merge each way, a link each way) queue rather than deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from core.exceptions import (
    ActionForbidden,
    ConflictError,
    DomainError,
    IllegalTransition,
    NotFound,
    ValidationFailed,
)
from core.models import Comment
from core.services import moment_now, outbox_email
from core.watchers import watch_auto, watchers_of
from itsm import permissions
from itsm.models import Incident, IncidentStatus, ResolutionCode
from itsm.models.incident import OPEN_STATES
from itsm.services.common import Actor, record, save, ticket_link, transitioning

S = IncidentStatus
FINISHED = (S.CLOSED, S.CANCELLED)


def _lock_pair(a: Incident, b: Incident) -> tuple[Incident, Incident]:
    """Both rows locked, the lower id first (a fixed order: no deadlock between two
    actions on the same pair), returned in the order asked."""
    if a.pk == b.pk:
        raise ValidationFailed(f"{a.key} cannot be linked to itself.", field="incident")
    rows = {
        i.pk: i
        for i in Incident.objects.select_for_update().filter(pk__in=[a.pk, b.pk]).order_by("pk")
    }
    return rows[a.pk], rows[b.pk]


def _ensure_works(actor: AbstractBaseUser, *incidents: Incident) -> None:
    """Links between incidents are support's work: the actor must work every one of them
    (its team, its assignee, an Incident Manager), or 403 naming the first it may not."""
    for inc in incidents:
        if not permissions.can_work_incident(actor, inc):
            raise ActionForbidden(
                f"You do not work {inc.key}; ask its team or the Incident Manager."
            )


# --- related incidents --------------------------------------------------------------------
def incident_relate(*, incident: Incident, other: Incident, actor: AbstractBaseUser) -> None:
    """Link two incidents as related (symmetric: each lists the other). Linking twice is
    no change. Audit: ``related_added`` on both."""
    with transaction.atomic():
        one, two = _lock_pair(incident, other)
        _ensure_works(actor, one, two)
        if one.related.filter(pk=two.pk).exists():
            return
        one.related.add(two)  # the M2M is symmetrical: two lists one as well
        record(one, actor, "related_added", changes={"related": (None, two.key)})
        record(two, actor, "related_added", changes={"related": (None, one.key)})


def incident_unrelate(*, incident: Incident, other: Incident, actor: AbstractBaseUser) -> None:
    """Remove a related link (from both sides). 404 when they are not linked.
    Audit: ``related_removed`` on both."""
    with transaction.atomic():
        one, two = _lock_pair(incident, other)
        _ensure_works(actor, one, two)
        if not one.related.filter(pk=two.pk).exists():
            raise NotFound(f"{one.key} and {two.key} are not linked.")
        one.related.remove(two)
        record(one, actor, "related_removed", changes={"related": (two.key, None)})
        record(two, actor, "related_removed", changes={"related": (one.key, None)})


# --- merging duplicates -------------------------------------------------------------------
def incident_merge(
    *, duplicate: Incident, master: Incident, actor: AbstractBaseUser, comment: str = ""
) -> Incident:
    """Close ``duplicate`` as a duplicate of ``master`` and carry its conversation over.

    Preconditions: two different incidents (400), both worked by the actor (403); the
    duplicate open (409, the FSM's ``merge``), no major incident with children (409); the
    master neither closed, cancelled nor itself merged into another (409, naming where
    to merge instead).
    Writes, in one transaction: the duplicate ``closed`` with resolution Duplicate and
    ``duplicate_of`` (audit ``merge``; its SLA clocks stop as closing stops them); its
    comments copied onto the master, each marked "From INC-x" and keeping its visibility
    (an internal note stays internal); its requester and watchers watch the master;
    incidents already merged into the duplicate now point at the master; audit
    ``merged_from`` on the master. Outbox: the duplicate's requester is told their
    ticket is followed under the master. Returns the master."""
    with transaction.atomic():
        dup, main = _lock_pair(duplicate, master)
        _ensure_works(actor, dup, main)
        if main.duplicate_of_id is not None:
            target = Incident.objects.get(pk=main.duplicate_of_id)
            raise IllegalTransition(
                f"{main.key} was itself merged into {target.key}; merge into {target.key}."
            )
        if main.status in FINISHED:
            raise IllegalTransition(
                f"{main.key} is {main.get_status_display().lower()}; merge into an open "
                "incident (or reopen it first)."
            )
        if dup.children.exists():
            raise IllegalTransition(
                f"{dup.key} has child incidents; move them to {main.key} before merging."
            )
        note = comment.strip() or f"Duplicate of {main.key}."
        with transitioning(
            dup, actor, "merge", ensure=permissions.ensure_can_fire, comment=note
        ) as dup:
            # The fields of the same step: one ``merge`` audit row carries them all.
            dup.duplicate_of = main
            dup.resolution_code = ResolutionCode.DUPLICATE
            dup.resolution_notes = f"Duplicate of {main.key}: {main.title}"
            dup.closed_at = moment_now()
        copied = _copy_comments(dup, main)
        followers = [dup.requester, *(w.user for w in watchers_of(dup))]
        watch_auto(record=main, users=followers)
        moved = list(Incident.objects.filter(duplicate_of=dup).values_list("pk", flat=True))
        Incident.objects.filter(pk__in=moved).update(duplicate_of=main)
        record(
            main,
            actor,
            "merged_from",
            changes={"duplicates": (None, dup.key)},
            comment=f"{dup.key} merged in: {copied} comments carried over; "
            f"{', '.join(sorted({str(u) for u in followers}))} now watch {main.key}.",
        )
        outbox_email(
            event="incident.merged",
            recipients=[dup.requester.email],
            subject=f"[{dup.key}] Now followed under {main.key}: {dup.title}",
            body=(
                f"Your incident {dup.key} reports the same issue as {main.key} "
                f"({main.title}). It is closed as a duplicate and followed under "
                f"{main.key}: you are told of its progress there.\n\n{note}\n\n"
                f"{ticket_link(main)}"
            ),
            target=dup,
        )
    return main


def _copy_comments(dup: Incident, main: Incident) -> int:
    """Copy every comment of ``dup`` onto ``main`` as it was written (author, public or
    internal), marked with where it came from. A silent copy: the comments were told
    when written, and the merge's own e-mail tells the requester."""
    ct = ContentType.objects.get_for_model(Incident)
    rows = [
        Comment(
            content_type=ct,
            object_id=main.pk,
            author_id=c.author_id,
            public=c.public,  # never widened: an internal note stays internal
            body=f"*From {dup.key}, {c.created_at:%d %b %Y %H:%M}:*\n\n{c.body}",
        )
        for c in Comment.objects.filter(content_type=ct, object_id=dup.pk).order_by(
            "created_at", "id"
        )
    ]
    Comment.objects.bulk_create(rows)
    return len(rows)


# --- major incidents and their children ---------------------------------------------------
def incident_child_add(*, parent: Incident, child: Incident, actor: AbstractBaseUser) -> Incident:
    """Make ``child`` part of the major incident ``parent``.

    Preconditions: the parent is a major incident (409) and not itself a child (409);
    the child has no children of its own and is not a major incident with children (409),
    is open (409) and not already another's child (409); the actor works both (403).
    Audit: ``child_added`` on the parent, ``parent`` set on the child (``updated``)."""
    with transaction.atomic():
        main, kid = _lock_pair(parent, child)
        _ensure_works(actor, main, kid)
        if not main.major_incident:
            raise IllegalTransition(
                f"{main.key} is not a major incident; declare it one before adding children."
            )
        if main.parent_id is not None:
            raise IllegalTransition(
                f"{main.key} is itself a child incident; it cannot have children."
            )
        if kid.children.exists():
            raise IllegalTransition(
                f"{kid.key} has child incidents of its own; a child cannot have children."
            )
        if kid.parent_id == main.pk:
            raise ConflictError(f"{kid.key} is a child of {main.key} already.")
        if kid.parent_id is not None:
            raise ConflictError(f"{kid.key} is a child of another major incident already.")
        if not kid.is_open or not main.is_open:
            shut = kid if not kid.is_open else main
            raise IllegalTransition(f"{shut.key} is {shut.get_status_display().lower()}.")
        kid.parent = main
        save(kid)
        record(kid, actor, "parent_set", changes={"parent": (None, main)})
        record(main, actor, "child_added", changes={"children": (None, kid.key)})
    return kid


def incident_child_remove(
    *, parent: Incident, child: Incident, actor: AbstractBaseUser
) -> Incident:
    """Detach ``child`` from ``parent`` (404 when it is not its child).
    Audit: ``parent_cleared`` on the child, ``child_removed`` on the parent."""
    with transaction.atomic():
        main, kid = _lock_pair(parent, child)
        _ensure_works(actor, main, kid)
        if kid.parent_id != main.pk:
            raise NotFound(f"{kid.key} is not a child of {main.key}.")
        kid.parent = None
        save(kid)
        record(kid, actor, "parent_cleared", changes={"parent": (main, None)})
        record(main, actor, "child_removed", changes={"children": (kid.key, None)})
    return kid


@dataclass
class CascadeResult:
    resolved: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why


def children_resolve(*, parent: Incident, actor: Actor) -> CascadeResult:
    """Resolve the open children of a just-resolved major incident with its resolution
    code and notes. Called by ``incident_resolve`` in its transaction, the parent locked.

    The parent's resolution is the decision, so each child walks its lifecycle in the
    parent's name whatever queue holds it: as Tandem (``actor=None``; the comment names
    the parent and who resolved it), each step through its own service (resume, assign,
    then ``incident_resolve`` with its implied start) — own audit rows, SLA clocks
    stopped, requester told. A child that cannot be resolved is left open and named in
    the parent's ``children_resolved`` audit row."""
    from itsm.services.incidents import incident_assign, incident_resolve, incident_resume

    result = CascadeResult()
    kids = list(
        Incident.objects.filter(parent=parent, status__in=[s.value for s in OPEN_STATES])
        .select_related("team")
        .order_by("pk")
    )
    if not kids:
        return result
    why = f"Resolved with major incident {parent.key}" + (f" by {actor}." if actor else ".")
    for kid in kids:
        try:
            with transaction.atomic():  # a savepoint: one child failing leaves the others
                if kid.status == S.ON_HOLD:
                    kid = incident_resume(incident=kid, actor=None, comment=why)
                if kid.status == S.NEW:
                    if kid.team_id is None:
                        raise ValidationFailed(f"{kid.key} is in no team's queue.")
                    kid = incident_assign(incident=kid, actor=None, team=kid.team, comment=why)
                incident_resolve(
                    incident=kid,
                    actor=None,
                    resolution_code=parent.resolution_code,
                    resolution_notes=parent.resolution_notes,
                    comment=why,
                )
            result.resolved.append(kid.key)
        except DomainError as exc:
            result.skipped[kid.key] = exc.message
    record(
        parent,
        actor,
        "children_resolved",
        comment=f"Resolved {len(result.resolved)} child incidents"
        + (f" ({', '.join(result.resolved)})" if result.resolved else "")
        + (
            "; left open: " + "; ".join(f"{k} ({w})" for k, w in result.skipped.items()) + "."
            if result.skipped
            else "."
        ),
    )
    return result
