"""Issue 13: creating an incident through the API costs a handful of statements, and its
detail a few, with the same rows written and the same body answered as before."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core import refcache
from core.models import AuditEvent, Notification, OutboxMessage, Sequence
from core.services import key_sequences_forget_orphans, sequence_next, sequence_set
from itsm.models import Incident
from sla.models import SlaClock, SlaClockEvent

URL = "/api/v1/incidents/"

# Per request, counted with token authentication as in production; the "+ 2" is the
# service's atomic(): SAVEPOINT/RELEASE here, BEGIN/COMMIT in production. The create:
# token and user, the service named (the body's validation), [the requester named, by
# an agent], the number (one UPDATE … RETURNING), the incident, its audit row, the
# clocks (one INSERT), their start events (one INSERT), the incident's SLA due moment
# for the queues' order (one UPDATE: Incident.sla_due_at), the recipient's notification
# preferences, the outbox row, the in-app notification, the hypercare releases of the
# service (projects), then for the response what other apps add (defects, hypercare
# routes) and the reader's roles. The intake team and the SLA policy with its calendar
# are kept per process (core.refcache).
CREATE_AS_REQUESTER = 15 + 2
CREATE_AS_AGENT = CREATE_AS_REQUESTER + 1
# The detail: token and user, roles, the incident (with service, team, people; its
# problem, cause and master fetched apart only when it has one), its clocks (with policy
# and calendar; the calendar's hours and holidays are kept per process:
# sla.selectors.calendar_spec), defects, hypercare routes.
DETAIL = 6


@pytest.fixture
def settled(org) -> None:  # type: ignore[no-untyped-def]
    """The organisation's teams and policies as if set up long ago and committed: the
    test's own transaction made them, so ``core.refcache`` would not keep them otherwise."""
    refcache._state.dirty_in = None


def _token_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _rows(incident: Incident) -> dict[str, Any]:
    ct = ContentType.objects.get_for_model(Incident)
    clocks = SlaClock.objects.filter(content_type=ct, object_id=incident.pk)
    return {
        "audit": list(
            AuditEvent.objects.filter(content_type=ct, object_id=incident.pk).values_list(
                "action", "to_state"
            )
        ),
        "outbox": list(
            OutboxMessage.objects.filter(content_type=ct, object_id=incident.pk).values_list(
                "event", "recipients"
            )
        ),
        "notifications": Notification.objects.filter(
            content_type=ct, object_id=incident.pk
        ).count(),
        "clocks": sorted(
            clocks.values_list("target", "state", "policy__name", "priority", "team_id")
        ),
        "events": sorted(
            SlaClockEvent.objects.filter(clock__in=clocks).values_list(
                "clock__target", "kind", "audit_event__action", "elapsed_seconds"
            )
        ),
    }


@pytest.mark.parametrize("who", ["requester", "agent"])
def test_create_api_statements_pinned_and_rows_written(
    org, settled, who, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    user = getattr(org, who)
    client = _token_client(user)
    body = {"title": "Payslip wrong", "service": org.service.pk, "impact": "high"}
    if who == "agent":
        body["requester"] = org.requester.pk
    client.post(URL, body, format="json")  # the first use of the number sequence
    expected = CREATE_AS_REQUESTER if who == "requester" else CREATE_AS_AGENT
    with django_assert_num_queries(expected):
        res = client.post(URL, body, format="json")
    assert res.status_code == 201, res.content
    incident = Incident.objects.get(pk=res.json()["id"])
    assert _rows(incident) == {
        "audit": [("created", "new")],
        "outbox": [("incident.created", ["requester@example.test"])],
        "notifications": 1,
        "clocks": [
            ("resolution", "running", "Incident P2", 2, org.desk.pk),
            ("response", "running", "Incident P2", 2, org.desk.pk),
        ],
        "events": [
            ("resolution", "started", "created", 0.0),
            ("response", "started", "created", 0.0),
        ],
    }


@pytest.mark.parametrize("who", ["requester", "agent"])
def test_create_answers_what_the_detail_reads_back(org, who) -> None:  # type: ignore[no-untyped-def]
    """The create's body is built from what it knows: it must equal the incident read
    back, field for field (clocks, team, requester, extension fields, status line)."""
    client = _token_client(getattr(org, who))
    body = {"title": "VPN down", "service": org.service.pk, "urgency": "high"}
    if who == "agent":
        body["requester"] = org.requester.pk
    created = client.post(URL, body, format="json")
    assert created.status_code == 201, created.content
    read = client.get(f"{URL}{created.json()['id']}/")
    assert created.json() == read.json()
    assert [c["target"] for c in created.json()["sla"]] == ["response", "resolution"]


def test_create_in_a_release_hypercare_answers_its_route(org) -> None:  # type: ignore[no-untyped-def]
    """A subscriber of the create (projects: hypercare) writes in its transaction; the
    response shows what it wrote, as the detail does."""
    from projects.models import Project, Release

    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    release = Release.objects.create(
        project=project, version="2.3", status="live", went_live_at=timezone.now()
    )
    client = _token_client(org.agent)
    created = client.post(URL, {"title": "Tax wrong", "service": org.service.pk}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["hypercare"] == [
        {
            "release": str(release),
            "release_id": release.pk,
            "team": "Payroll Dev",
            "team_id": org.dev.pk,
        }
    ]
    assert created.json() == client.get(f"{URL}{created.json()['id']}/").json()


def test_detail_api_statements_pinned(
    org, settled, new_incident, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    client = _token_client(org.agent)
    client.get(f"{URL}{new_incident.pk}/")
    with django_assert_num_queries(DETAIL):
        res = client.get(f"{URL}{new_incident.pk}/")
    assert res.status_code == 200 and res.json()["key"] == new_incident.key


def test_sequence_next_takes_each_number_once_in_one_statement(db) -> None:  # type: ignore[no-untyped-def]
    assert not Sequence.objects.filter(name="bench").exists()
    assert sequence_next("bench") == 1001  # the row is made on first use (default 1000)
    with CaptureQueriesContext(connection) as ctx:
        taken = [sequence_next("bench") for _ in range(3)]
    assert taken == [1002, 1003, 1004]
    assert len(ctx.captured_queries) == 3
    if connection.vendor == "sqlite":  # the row is the counter (PostgreSQL: its sequence)
        assert Sequence.objects.get(name="bench").last_value == 1004


def test_sequence_set_moves_the_next_number(db) -> None:  # type: ignore[no-untyped-def]
    sequence_set("bench", 5000)  # no number taken yet
    assert sequence_next("bench") == 5001
    sequence_set("bench", 7000)  # and once numbers were taken
    assert [sequence_next("bench"), sequence_next("bench")] == [7001, 7002]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has one writer: the row lock is its way"
)
@pytest.mark.django_db(transaction=True)
def test_a_create_does_not_wait_for_another_create_to_commit() -> None:
    """Two creates at once: the second takes its number while the first, which took one,
    has not committed. With a counter row locked until commit, every create waited for the
    one before it (29 creates/s under load, issue 13)."""
    import threading

    from django.db import connections, transaction

    sequence_next("bench")  # made (row and sequence), committed
    taken: list[object] = []

    def other() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
            with transaction.atomic():
                taken.append(sequence_next("bench"))
        except Exception as exc:  # noqa: BLE001 - the test reports what the thread met
            taken.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        mine = sequence_next("bench")
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
    assert taken and isinstance(taken[0], int), taken
    assert {mine, taken[0]} == {1002, 1003}
    key_sequences_forget_orphans()  # nothing to drop while the row is there
    assert sequence_next("bench") == 1004


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps no sequence")
def test_a_flushed_name_starts_again_from_its_row(db) -> None:  # type: ignore[no-untyped-def]
    assert sequence_next("bench") == 1001
    Sequence.objects.filter(name="bench").delete()  # as a flush leaves it
    key_sequences_forget_orphans()
    assert sequence_next("bench") == 1001
