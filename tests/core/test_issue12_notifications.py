"""Issue 12: in-app notifications mirror the e-mails (written on the shared outbox path),
per-user preferences say which families also go by e-mail, and the bell counts the unread."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import Notification, NotificationPreference, OutboxMessage
from core.notifications import family_of, preferences_set
from core.services import outbox_email
from itsm import services
from projects.models import Project
from projects.services import work_comment, work_item_create
from tests.conftest import api_as
from tests.factories import UserFactory


@pytest.fixture
def item(org):  # type: ignore[no-untyped-def]
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    return work_item_create(actor=org.developer, kind="defect", project=project, title="Tax")


@pytest.fixture
def dev2(org):  # type: ignore[no-untyped-def]
    user = UserFactory(username="dev.two")
    user.groups.add(*org.developer.groups.all())
    org.dev.members.add(user)
    return user


@pytest.fixture
def agent2(org):  # type: ignore[no-untyped-def]
    user = UserFactory(username="agent2")
    user.groups.add(*org.agent.groups.all())
    org.desk.members.add(user)
    return user


def test_a_mention_writes_a_notification_for_the_mentioned_user(org, item, dev2) -> None:  # type: ignore[no-untyped-def]
    work_comment(item=item, actor=org.developer, body="@dev.two please look")
    [note] = Notification.objects.filter(user=dev2)
    assert note.event == "work_item.mentioned" and note.family == "mentioned"
    assert item.key in note.subject and note.url == f"/work/{item.key}/"
    assert note.read_at is None
    assert not Notification.objects.filter(user=org.developer).exists()  # not the author


def test_an_assignment_writes_a_notification_for_the_assignee(org, new_incident, agent2) -> None:  # type: ignore[no-untyped-def]
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=agent2)
    notes = Notification.objects.filter(user=agent2, event="incident.assigned")
    assert [n.family for n in notes] == ["assigned"]
    assert notes[0].url == new_incident.get_absolute_url()
    # the requester's own e-mail about their incident is mirrored too
    assert Notification.objects.filter(user=org.requester).exists()


def test_preference_off_sends_no_email_but_still_notifies(org, item, dev2) -> None:  # type: ignore[no-untyped-def]
    preferences_set(user=dev2, email={"mentioned": False})
    work_comment(item=item, actor=org.developer, body="@dev.two quiet please")
    assert not OutboxMessage.objects.filter(event="work_item.mentioned").exists()
    assert Notification.objects.filter(user=dev2, event="work_item.mentioned").count() == 1


def test_preference_off_drops_only_that_address_from_a_shared_email(org) -> None:  # type: ignore[no-untyped-def]
    preferences_set(user=org.agent, email={"tickets": False})
    msg = outbox_email(
        event="incident.reply",
        recipients=[org.agent.email, org.requester.email, "list@example.org"],
        subject="s",
        body="b",
    )
    assert msg is not None and sorted(msg.recipients) == sorted(
        [org.requester.email, "list@example.org"]
    )
    assert set(Notification.objects.values_list("user__username", flat=True)) == {
        "agent",
        "requester",
    }


def test_a_team_list_address_notifies_its_members_and_is_always_emailed(org) -> None:  # type: ignore[no-untyped-def]
    org.support.email = "support@example.org"
    org.support.save()
    preferences_set(user=org.support2, email={"delivery": False})
    msg = outbox_email(
        event="release.uat", recipients=["support@example.org"], subject="UAT", body="b"
    )
    assert msg is not None and msg.recipients == ["support@example.org"]
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["support2"]


@pytest.mark.parametrize("mention_email", [True, False])
def test_a_notice_that_gives_way_takes_its_notification_with_it(  # type: ignore[no-untyped-def]
    org, new_incident, agent2, mention_email: bool
) -> None:
    """A mention in the reply that assigns: the assignee is told once, in mail and app,
    whether the mention would have been e-mailed or not."""
    from django.db import transaction

    preferences_set(user=agent2, email={"mentioned": mention_email})
    with transaction.atomic():
        services.incident_comment(
            incident=new_incident, actor=org.agent, body="@agent2 over to you", public=False
        )
        services.incident_assign(incident=new_incident, actor=org.agent, assignee=agent2)
    events = list(Notification.objects.filter(user=agent2).values_list("event", flat=True))
    assert events == ["incident.assigned"], events


def test_nothing_is_written_while_history_is_backfilled(org) -> None:  # type: ignore[no-untyped-def]
    from core.services import outbox_suppressed

    with outbox_suppressed():
        outbox_email(event="incident.reply", recipients=[org.agent.email], subject="s", body="b")
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("event", "family"),
    [
        ("incident.assigned", "assigned"),
        ("incident.escalated", "assigned"),
        ("problem.mentioned", "mentioned"),
        ("change.status_changed", "watched"),
        ("work_item.commented", "watched"),
        ("sla.breached", "sla"),
        ("incident.sla_breached_lead", "sla"),
        ("approval.requested", "approvals"),
        ("change.approved", "approvals"),
        ("incident.reply", "tickets"),
        ("request.fulfilled", "tickets"),
        ("release.live", "delivery"),
    ],
)
def test_each_event_falls_in_its_family(event: str, family: str) -> None:
    assert family_of(event) == family


# --- pages ---------------------------------------------------------------------------------
def _note(user, subject: str = "Hello", url: str = "/desk/") -> Notification:  # type: ignore[no-untyped-def]
    return Notification.objects.create(
        user=user, event="incident.reply", family="tickets", subject=subject, url=url
    )


def test_the_bell_shows_the_unread_count_with_one_query(client, org) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        _note(org.agent, f"n{n}")
    Notification.objects.filter(subject="n0").update(read_at="2026-01-01T00:00Z")
    _note(org.agent_other)
    client.force_login(org.agent)
    html = client.get(reverse("notification_preferences")).content.decode()
    assert 'data-testid="bell-count">2<' in html
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("notification_preferences"))
    bell = [q for q in ctx.captured_queries if 'FROM "core_notification" ' in q["sql"]]
    assert len(bell) == 1, bell


def test_no_count_on_the_bell_when_all_is_read(client, org) -> None:  # type: ignore[no-untyped-def]
    client.force_login(org.agent)
    html = client.get(reverse("notifications")).content.decode()
    assert "bell-count" not in html and 'aria-label="Notifications, 0 unread"' in html


def test_the_notifications_page_lists_mine_and_marks_read(client, org) -> None:  # type: ignore[no-untyped-def]
    mine, other = _note(org.agent, "Mine"), _note(org.agent_other, "Theirs")
    client.force_login(org.agent)
    html = client.get(reverse("notifications")).content.decode()
    assert "Mine" in html and "Theirs" not in html
    response = client.post(reverse("notification_read", args=[mine.pk]), {"open": "1"})
    assert response.status_code == 302 and response["Location"] == "/desk/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.post(reverse("notification_read", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.read_at is None


def test_mark_all_read_touches_only_mine(client, org) -> None:  # type: ignore[no-untyped-def]
    _note(org.agent), _note(org.agent), _note(org.agent_other)
    client.force_login(org.agent)
    client.post(reverse("notification_read_all"))
    assert not Notification.objects.filter(user=org.agent, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=org.agent_other, read_at__isnull=True).count() == 1


def test_the_notifications_page_costs_the_same_with_3_or_30(client, org) -> None:  # type: ignore[no-untyped-def]
    client.force_login(org.agent)
    counts = []
    for n in (3, 30):
        Notification.objects.all().delete()
        for i in range(n):
            _note(org.agent, f"n{i}")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("notifications")).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_the_preferences_page_saves_which_families_email(client, org) -> None:  # type: ignore[no-untyped-def]
    client.force_login(org.agent)
    response = client.post(reverse("notification_preferences"), {"email": ["assigned", "sla"]})
    assert response.status_code == 200
    off = set(
        NotificationPreference.objects.filter(user=org.agent, email=False).values_list(
            "family", flat=True
        )
    )
    assert off == {"mentioned", "watched", "tickets", "approvals", "delivery"}
    html = client.get(reverse("notification_preferences")).content.decode()
    assert 'value="assigned" checked' in html and 'value="mentioned" >' in html


# --- API -----------------------------------------------------------------------------------
def test_api_lists_only_my_notifications(org) -> None:  # type: ignore[no-untyped-def]
    mine = _note(org.agent, "Mine")
    theirs = _note(org.agent_other, "Theirs")
    api = api_as(org.agent)
    data = api.get("/api/v1/notifications/").json()
    assert [n["id"] for n in data["results"]] == [mine.pk]
    assert api.get(f"/api/v1/notifications/{theirs.pk}/").status_code == 404
    assert api.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}


def test_api_marks_read_and_all_read(org) -> None:  # type: ignore[no-untyped-def]
    first, _second = _note(org.agent), _note(org.agent)
    api = api_as(org.agent)
    body = api.post(f"/api/v1/notifications/{first.pk}/read/").json()
    assert body["read_at"] is not None
    assert api.get("/api/v1/notifications/?unread=true").json()["count"] == 1
    assert api.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}


def test_api_needs_a_login(api) -> None:  # type: ignore[no-untyped-def]
    assert api.get("/api/v1/notifications/").status_code in (401, 403)
    assert api.get("/api/v1/notification-preferences/").status_code in (401, 403)


def test_api_preferences_read_and_write(org) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.agent)
    rows = api.get("/api/v1/notification-preferences/").json()
    assert {r["family"] for r in rows} >= {"assigned", "mentioned", "sla"}
    assert all(r["email"] for r in rows)
    response = api.patch(
        "/api/v1/notification-preferences/", [{"family": "sla", "email": False}], format="json"
    )
    assert response.status_code == 200
    assert {r["family"]: r["email"] for r in response.json()}["sla"] is False
    bad = api.put(
        "/api/v1/notification-preferences/", [{"family": "nope", "email": False}], format="json"
    )
    assert bad.status_code == 400
    assert NotificationPreference.objects.filter(user=org.agent).count() == 1
