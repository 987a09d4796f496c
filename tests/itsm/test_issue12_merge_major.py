"""Issue 12, incidents among others: related links (symmetric), merging a duplicate into
its master (comments and watchers carried over, internal notes kept internal, the
requester told, SLA clocks stopped, refusals whole), and major incidents whose children
follow the parent's resolution, each child through its own service call."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.exceptions import ActionForbidden, ConflictError, IllegalTransition, ValidationFailed
from core.models import AuditEvent, Comment, OutboxMessage
from core.watchers import watch_add, watchers_of
from itsm import services
from itsm.models import Incident
from itsm.services.incident_links import (
    incident_child_add,
    incident_child_remove,
    incident_merge,
    incident_relate,
    incident_unrelate,
)
from sla.models import SlaClock
from tests.conftest import api_as, drive


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _raise(org, title: str = "Payroll is down", requester=None, major: bool = False) -> Incident:  # type: ignore[no-untyped-def]
    return services.incident_create(
        actor=org.agent,
        requester=requester or org.requester,
        service=org.service,
        title=title,
        major_incident=major,
    )


def _actions(incident: Incident) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_id=incident.pk, content_type__model="incident")
        .order_by("id")
        .values_list("action", flat=True)
    )


def _comments(incident: Incident) -> list[Comment]:
    return list(
        Comment.objects.filter(content_type__model="incident", object_id=incident.pk).order_by("id")
    )


# --- related ------------------------------------------------------------------------------
def test_related_links_are_symmetric_and_audited_on_both(org) -> None:  # type: ignore[no-untyped-def]
    a, b = _raise(org, "A"), _raise(org, "B")
    incident_relate(incident=a, other=b, actor=org.agent)
    assert list(b.related.all()) == [a] and list(a.related.all()) == [b]
    incident_relate(incident=b, other=a, actor=org.agent)  # twice: no change
    assert _actions(a).count("related_added") == 1 == _actions(b).count("related_added")
    incident_unrelate(incident=b, other=a, actor=org.agent)
    assert not a.related.exists() and not b.related.exists()
    assert _actions(a)[-1] == "related_removed" == _actions(b)[-1]


def test_related_link_refusals(org) -> None:  # type: ignore[no-untyped-def]
    a, b = _raise(org, "A"), _raise(org, "B")
    with pytest.raises(ValidationFailed):
        incident_relate(incident=a, other=a, actor=org.agent)
    with pytest.raises(ActionForbidden):  # another desk's agent works neither
        incident_relate(incident=a, other=b, actor=org.agent_other)
    assert not a.related.exists()


# --- merge --------------------------------------------------------------------------------
def test_merge_closes_the_duplicate_and_carries_its_conversation_and_watchers(
    org, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    master = _raise(org, "Payroll down", requester=org.requester)
    dup = _raise(org, "Cannot open payroll", requester=org.requester2)
    services.incident_comment(incident=dup, actor=org.requester2, body="Since 9 am.")
    services.incident_comment(incident=dup, actor=org.agent, body="Caller is VIP.", public=False)
    watch_add(record=dup, user=org.support2, actor=org.agent)
    before = OutboxMessage.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        result = incident_merge(duplicate=dup, master=master, actor=org.agent, comment="Same.")

    assert result.pk == master.pk
    dup.refresh_from_db()
    assert dup.status == "closed" and dup.duplicate_of == master
    assert dup.resolution_code == "duplicate" and dup.closed_at is not None
    assert "merge" in _actions(dup) and _actions(master)[-1] == "merged_from"
    copied = _comments(master)
    assert [(c.public, c.author_id) for c in copied] == [
        (True, org.requester2.pk),
        (False, org.agent.pk),  # an internal note stays internal
    ]
    assert all(c.body.startswith(f"*From {dup.key}") for c in copied)
    watching = {w.user_id for w in watchers_of(master)}
    assert {org.requester2.pk, org.support2.pk, org.agent.pk} <= watching
    told = OutboxMessage.objects.filter(event="incident.merged").get()
    assert told.recipients == [org.requester2.email] and master.key in told.body
    assert OutboxMessage.objects.count() > before
    # the duplicate's requester follows the master: they read its public replies only
    page = _client(org.requester2).get(master.get_absolute_url())
    assert page.status_code == 200
    assert "Since 9 am." in page.content.decode() and "VIP" not in page.content.decode()
    # on their own incident they read where it went, and the step that closed it
    own = _client(org.requester2).get(dup.get_absolute_url()).content.decode()
    assert f"followed under {master.key}" in own and "closed it as a duplicate" in own
    assert (
        api_as(org.requester2)
        .get(f"/api/v1/incidents/{dup.key}/")
        .json()["status_line"]
        .startswith(f"This incident is followed under {master.key}")
    )
    # ...but they do not reply there, nor fire its requester's steps
    from itsm.permissions import can_fire, can_reply_incident

    assert not can_reply_incident(org.requester2, master)
    assert not can_fire(org.requester2, master, "close")


def test_merge_stops_the_duplicates_sla_clocks(org) -> None:  # type: ignore[no-untyped-def]
    master, dup = _raise(org, "M"), _raise(org, "D")
    assert SlaClock.objects.filter(object_id=dup.pk, stopped_at__isnull=True).exists()
    incident_merge(duplicate=dup, master=master, actor=org.agent)
    clocks = SlaClock.objects.filter(object_id=dup.pk, content_type__model="incident")
    assert clocks and all(c.stopped_at is not None or c.state == "cancelled" for c in clocks)
    assert SlaClock.objects.filter(object_id=master.pk, stopped_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("itself", ValidationFailed),
        ("closed_master", IllegalTransition),
        ("cancelled_master", IllegalTransition),
        ("merged_master", IllegalTransition),
        ("closed_duplicate", IllegalTransition),
        ("not_worked", ActionForbidden),
    ],
)
def test_merge_refusals_say_why_and_write_nothing(org, case: str, error: type) -> None:  # type: ignore[no-untyped-def]
    master = _raise(org, "M", requester=org.requester)
    # drive() closes as org.requester
    dup = _raise(
        org, "D", requester=org.requester if case == "closed_duplicate" else org.requester2
    )
    services.incident_comment(incident=dup, actor=org.agent, body="note", public=False)
    actor = org.agent
    if case == "itself":
        master = dup
    elif case == "closed_master":
        master = drive(master, org, "closed")
    elif case == "cancelled_master":
        master = drive(master, org, "cancelled")
    elif case == "merged_master":
        incident_merge(duplicate=master, master=_raise(org, "Top"), actor=org.agent)
    elif case == "closed_duplicate":
        dup = drive(dup, org, "closed")
    elif case == "not_worked":
        actor = org.agent_other
    audits, comments = AuditEvent.objects.count(), Comment.objects.count()
    mails = OutboxMessage.objects.count()
    with pytest.raises(error) as exc:
        incident_merge(duplicate=dup, master=master, actor=actor)
    assert exc.value.message
    if case == "merged_master":
        assert "merge into INC-" in exc.value.message
    dup.refresh_from_db()
    assert dup.duplicate_of is None
    assert (AuditEvent.objects.count(), Comment.objects.count()) == (audits, comments)
    assert OutboxMessage.objects.count() == mails


def test_merge_through_the_api_and_its_refusals_are_4xx(org) -> None:  # type: ignore[no-untyped-def]
    master, dup = _raise(org, "M"), _raise(org, "D")
    agent = api_as(org.agent)
    r = agent.post(f"/api/v1/incidents/{dup.key}/merge/", {"master": dup.key}, format="json")
    assert r.status_code == 400, r.content
    r = agent.post(f"/api/v1/incidents/{dup.key}/merge/", {}, format="json")
    assert r.status_code == 400
    r = agent.post(f"/api/v1/incidents/{dup.key}/merge/", {"master": "INC-999999"}, format="json")
    assert r.status_code == 404
    r = api_as(org.agent_other).post(
        f"/api/v1/incidents/{dup.key}/merge/", {"master": master.key}, format="json"
    )
    assert r.status_code == 403
    r = agent.post(f"/api/v1/incidents/{dup.key}/merge/", {"master": master.key}, format="json")
    assert r.status_code == 200 and r.json()["key"] == master.key
    r = agent.post(f"/api/v1/incidents/{dup.key}/merge/", {"master": master.key}, format="json")
    assert r.status_code == 409
    links = agent.get(f"/api/v1/incidents/{master.key}/links/").json()
    assert [d["key"] for d in links["duplicates"]] == [dup.key]
    mine = api_as(org.requester).get(f"/api/v1/incidents/{dup.key}/links/").json()
    assert mine["duplicate_of"]["key"] == master.key and mine["duplicates"] == []


def test_merge_from_the_page_keeps_the_form_and_says_what_to_change(org) -> None:  # type: ignore[no-untyped-def]
    master, dup = _raise(org, "M"), _raise(org, "D")
    agent = _client(org.agent)
    page = agent.get(dup.get_absolute_url()).content.decode()
    assert 'data-links-form="merge"' in page and 'data-links-form="relate"' in page
    assert 'data-links-form="child_add"' not in page  # not a major incident
    r = agent.post(f"/incidents/{dup.key}/links/merge/", {"other": "INC-424242"})
    body = r.content.decode()
    assert r.status_code == 400
    assert "No incident INC-424242" in body and 'value="INC-424242"' in body
    assert '<details class="action" open data-links-form="merge">' in body
    r = agent.post(f"/incidents/{dup.key}/links/merge/", {"other": master.key, "comment": "x"})
    assert r.status_code == 302 and r["Location"] == master.get_absolute_url()
    page = agent.get(dup.get_absolute_url()).content.decode()
    assert f'data-duplicate-of="{master.key}"' in page
    assert 'data-links-form="merge"' not in page  # closed: nothing more to link
    # someone who does not work them is not offered the forms
    other = _client(org.agent_other).get(master.get_absolute_url()).content.decode()
    assert 'data-links-form="merge"' not in other


# --- major incidents ----------------------------------------------------------------------
def test_children_follow_the_parents_resolution_each_with_its_own_audit_row(
    org, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    parent = _raise(org, "Payroll outage", major=True)
    fresh = _raise(org, "Child new", requester=org.requester2)
    working = drive(_raise(org, "Child working"), org, "in_progress")
    waiting = drive(_raise(org, "Child on hold"), org, "on_hold")
    done = drive(_raise(org, "Child resolved"), org, "resolved")
    for kid in (fresh, working, waiting):
        incident_child_add(parent=parent, child=kid, actor=org.agent)
    done.parent = parent
    done.save()  # a child resolved before: left as it is
    parent = drive(parent, org, "in_progress")

    with django_capture_on_commit_callbacks(execute=True):
        services.incident_resolve(
            incident=parent,
            actor=org.incident_manager,
            resolution_code="workaround",
            resolution_notes="Failed over to the standby.",
        )

    for kid in (fresh, working, waiting):
        kid.refresh_from_db()
        assert kid.status == "resolved", kid.key
        assert kid.resolution_code == "workaround"
        assert kid.resolution_notes == "Failed over to the standby."
        assert _actions(kid).count("resolve") == 1
        resolve = AuditEvent.objects.get(object_id=kid.pk, action="resolve")
        assert parent.key in resolve.comment
        assert not SlaClock.objects.filter(
            object_id=kid.pk,
            content_type__model="incident",
            target="resolution",
            stopped_at__isnull=True,
        ).exists()
    told = OutboxMessage.objects.filter(event="incident.resolved")
    assert org.requester2.email in [r for m in told for r in m.recipients]
    assert _actions(parent)[-1] == "children_resolved"
    done.refresh_from_db()
    assert _actions(done).count("resolve") == 1


def test_a_child_cannot_have_children_and_only_a_major_incident_has_them(org) -> None:  # type: ignore[no-untyped-def]
    parent = _raise(org, "Outage", major=True)
    child = _raise(org, "Child", major=True)
    plain = _raise(org, "Plain")
    with pytest.raises(IllegalTransition, match="not a major incident"):
        incident_child_add(parent=plain, child=child, actor=org.agent)
    incident_child_add(parent=parent, child=child, actor=org.agent)
    with pytest.raises(IllegalTransition, match="child incident"):
        incident_child_add(parent=child, child=plain, actor=org.agent)
    with pytest.raises(IllegalTransition, match="child incidents of its own"):
        incident_child_add(parent=_raise(org, "Other", major=True), child=parent, actor=org.agent)
    with pytest.raises(ConflictError):
        incident_child_add(parent=parent, child=child, actor=org.agent)
    with pytest.raises(ValidationFailed):
        incident_child_add(parent=parent, child=parent, actor=org.agent)
    incident_child_remove(parent=parent, child=child, actor=org.agent)
    child.refresh_from_db()
    assert child.parent is None
    assert _actions(parent)[-2:] == ["child_added", "child_removed"]


def test_children_through_the_api(org) -> None:  # type: ignore[no-untyped-def]
    parent, kid = _raise(org, "Outage", major=True), _raise(org, "Kid")
    agent = api_as(org.agent)
    url = f"/api/v1/incidents/{parent.key}/children/"
    r = agent.post(url, {"incident": kid.key}, format="json")
    assert r.status_code == 201 and [c["key"] for c in r.json()] == [kid.key]
    assert agent.post(url, {"incident": kid.key}, format="json").status_code == 409
    r = agent.post(f"/api/v1/incidents/{kid.key}/children/", {"incident": parent.key})
    assert r.status_code == 409
    assert agent.post(url, {}, format="json").status_code == 400
    assert agent.get(url).json()[0]["status"] == "new"
    assert api_as(org.requester2).get(url).status_code == 404  # not their incident
    assert api_as(org.requester).get(url).json() == []  # theirs: no internal links
    assert agent.delete(f"{url}?incident={kid.key}").status_code == 204
    assert agent.delete(url, {"incident": kid.key}, format="json").status_code == 404
    assert agent.get(url).json() == []


def test_related_through_the_api(org) -> None:  # type: ignore[no-untyped-def]
    a, b = _raise(org, "A"), _raise(org, "B")
    agent = api_as(org.agent)
    r = agent.post(f"/api/v1/incidents/{a.key}/related/", {"incident": b.key}, format="json")
    assert r.status_code == 201
    assert [x["key"] for x in agent.get(f"/api/v1/incidents/{b.key}/related/").json()] == [a.key]
    assert api_as(org.requester).get(f"/api/v1/incidents/{a.key}/related/").json() == []
    r = api_as(org.agent_other).post(
        f"/api/v1/incidents/{a.key}/related/", {"incident": b.key}, format="json"
    )
    assert r.status_code == 403
    r = agent.delete(f"/api/v1/incidents/{b.key}/related/", {"incident": a.key}, format="json")
    assert r.status_code == 204 and not a.related.exists()


def test_the_major_incident_page_lists_children_with_their_state_in_fixed_queries(org) -> None:  # type: ignore[no-untyped-def]
    parent = _raise(org, "Outage", major=True)
    agent = _client(org.agent)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            page = agent.get(parent.get_absolute_url())
        assert page.status_code == 200
        return len(ctx.captured_queries)

    incident_child_add(parent=parent, child=_raise(org, "Kid 1"), actor=org.agent)
    incident_relate(incident=parent, other=_raise(org, "Rel 1"), actor=org.agent)
    count()  # warm-up: the process reads the SLA policies once (core.refcache)
    one = count()
    for n in range(2, 5):
        incident_child_add(parent=parent, child=_raise(org, f"Kid {n}"), actor=org.agent)
        incident_relate(incident=parent, other=_raise(org, f"Rel {n}"), actor=org.agent)
    assert count() == one
    page = agent.get(parent.get_absolute_url()).content.decode()
    assert page.count("data-child=") == 4 and page.count("data-related=") == 4
    assert 'data-links-form="child_add"' in page
    r = agent.post(f"/incidents/{parent.key}/links/child_add/", {"other": parent.key})
    assert r.status_code == 400 and "itself" in r.content.decode()
