"""Issue 14: Idempotency-Key on API POSTs, and the purge of expired keys."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
import time_machine
from django.db import OperationalError, connection
from django.utils import timezone

from core.models import IdempotencyKey
from core.tasks import idempotency_keys_purge
from itsm.models import Incident
from tests.conftest import api_as, drive

URL = "/api/v1/incidents/"


def _body(org) -> dict:  # type: ignore[no-untyped-def]
    return {
        "title": "Printer on fire",
        "service": org.service.pk,
        "impact": "low",
        "urgency": "low",
    }


def test_retried_create_with_same_key_makes_one_record(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.requester)
    key = str(uuid.uuid4())
    first = client.post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201, first.content
    assert not first.has_header("Idempotent-Replayed")
    again = client.post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    assert Incident.objects.filter(title="Printer on fire").count() == 1


def test_same_key_other_body_is_422_and_creates_nothing(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.requester)
    key = str(uuid.uuid4())
    assert client.post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    other = {**_body(org), "title": "Another"}
    res = client.post(URL, other, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert res.status_code == 422, res.content
    assert res.json()["code"] == "idempotency_key_reused"
    assert not Incident.objects.filter(title="Another").exists()


def test_keys_are_per_user(org) -> None:  # type: ignore[no-untyped-def]
    key = str(uuid.uuid4())
    assert (
        api_as(org.requester)
        .post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key)
        .status_code
        == 201
    )
    res = api_as(org.requester2).post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert res.status_code == 201
    assert not res.has_header("Idempotent-Replayed")
    assert Incident.objects.filter(title="Printer on fire").count() == 2


def test_failed_first_request_keeps_nothing_and_its_retry_runs(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.requester)
    key = str(uuid.uuid4())
    bad = {**_body(org), "service": 999999}
    assert client.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 400
    assert client.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 400
    assert IdempotencyKey.objects.get(key=key).response_status is None


def test_retried_transition_replays_and_fires_once(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    incident = drive(new_incident, org, "assigned")
    client = api_as(org.agent)
    url = f"{URL}{incident.key}/transitions/start/"
    key = str(uuid.uuid4())
    tag = client.get(f"{URL}{incident.key}/")["ETag"]
    first = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY=key, HTTP_IF_MATCH=tag)
    assert first.status_code == 200, first.content
    # the retry replays, though its If-Match is now stale and the state moved on
    again = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY=key, HTTP_IF_MATCH=tag)
    assert again.status_code == 200, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["status"] == "in_progress"
    from core.models import AuditEvent

    assert AuditEvent.objects.filter(object_id=incident.pk, action="start").count() == 1


def test_bad_key_is_400(org) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.requester).post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY="a b")
    assert res.status_code == 400
    assert not Incident.objects.filter(title="Printer on fire").exists()


def test_key_in_progress_is_409(org, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A key whose first request has not answered yet (its row is locked on PostgreSQL;
    here, a row without an answer that another request holds) answers 409."""
    from core import idempotency

    client = api_as(org.requester)
    key = str(uuid.uuid4())
    row = idempotency.claim(
        user=org.requester,
        key=key,
        method="POST",
        path=URL,
        digest=idempotency.body_digest(_body(org)),
    )

    # the other request holds the row's lock (PostgreSQL's NOWAIT fails at once)
    def locked(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("could not obtain lock on row")

    monkeypatch.setattr(IdempotencyKey.objects, "select_for_update", locked)
    res = client.post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key)
    monkeypatch.undo()
    assert res.status_code == 409, res.content
    assert res.json()["code"] == "idempotency_key_in_progress"
    assert not Incident.objects.filter(title="Printer on fire").exists()
    row.refresh_from_db()
    assert row.response_status is None


def test_keys_expire_after_24_hours_and_are_purged(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.requester)
    key = str(uuid.uuid4())
    assert client.post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    with time_machine.travel(timezone.now() + dt.timedelta(hours=23), tick=False):
        assert idempotency_keys_purge() == 0
        res = client.post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert res["Idempotent-Replayed"] == "true"
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25), tick=False):
        # an expired key is a new key (the purge may not have run yet)
        res = client.post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert res.status_code == 201
        assert not res.has_header("Idempotent-Replayed")
        assert Incident.objects.filter(title="Printer on fire").count() == 2
    with time_machine.travel(timezone.now() + dt.timedelta(hours=50), tick=False):
        assert idempotency_keys_purge() == 1
    assert not IdempotencyKey.objects.exists()


def test_purge_is_scheduled() -> None:
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "core.tasks.idempotency_keys_purge" in tasks


def test_without_key_posts_behave_as_before(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.requester)
    assert client.post(URL, _body(org), format="json").status_code == 201
    assert client.post(URL, _body(org), format="json").status_code == 201
    assert Incident.objects.filter(title="Printer on fire").count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_use_runs_the_action_once(org) -> None:  # type: ignore[no-untyped-def]
    """Several threads send the same create with the same key at once: one record; every
    answer is the first's (201, replayed) or 409 in progress, never a second create."""
    key = str(uuid.uuid4())
    barrier = threading.Barrier(4)
    codes: list[tuple[int, bool]] = []

    def post() -> None:
        try:
            client = api_as(org.requester)
            barrier.wait()
            res = client.post(URL, _body(org), format="json", HTTP_IDEMPOTENCY_KEY=key)
            codes.append((res.status_code, res.has_header("Idempotent-Replayed")))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Incident.objects.filter(title="Printer on fire").count() == 1
    assert codes.count((201, False)) == 1, codes
    assert all(c in ((201, True), (409, False)) for c in codes if c != (201, False)), codes


def test_a_body_nested_beyond_reason_is_400_not_500() -> None:
    from core.exceptions import ValidationFailed
    from core.idempotency import body_digest

    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ValidationFailed):
        body_digest(deep)
    assert body_digest({"b": 1, "a": [1, 2]}) == body_digest({"a": [1, 2], "b": 1})
