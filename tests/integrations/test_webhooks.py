"""Issue 15, outbound webhooks: signed deliveries to real HTTP receivers on 127.0.0.1.

The receivers are ``tests.integrations.receiver.http_receiver`` (a real server in a thread);
each test verifies what arrived with ``standardwebhooks.Webhook(secret).verify``, as a
receiver would. These subscriptions set ``allow_private=True``: the receivers listen on
127.0.0.1, which Tandem refuses otherwise (see the SSRF tests)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from core.models import Notification, OutboxMessage
from core.roles import Role
from core.tasks import outbox_deliver_pending
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.services import webhook_channel, webhook_events
from integrations.services import webhooks as hooks
from itsm import services
from tests.conftest import drive
from tests.factories import UserFactory
from tests.integrations.receiver import Received, http_receiver


def subscribe(
    actor: Any, url: str, types: list[str], **fields: Any
) -> tuple[WebhookSubscription, str]:
    fields.setdefault("allow_private", True)  # the receivers are on 127.0.0.1
    return hooks.subscription_create(
        actor=actor,
        data=hooks.SubscriptionInput(name="Receiver", url=url, event_types=types, **fields),
    )


def verified(secret: str, got: Received) -> dict[str, Any]:
    return Webhook(secret).verify(got.body, got.headers)  # type: ignore[no-any-return]


def deliver_all() -> None:
    """Deliver what is due, as the periodic sweep does, until nothing more goes."""
    while outbox_deliver_pending():
        pass


def test_each_transition_of_an_incident_arrives_signed_and_in_order(org) -> None:  # type: ignore[no-untyped-def]
    with http_receiver() as receiver:
        sub, secret = subscribe(
            org.admin, receiver.url + "/hook", ["incident.created", "incident.transitioned"]
        )
        incident = services.incident_create(
            actor=org.requester,
            service=org.service,
            title="Payslip wrong",
            impact="high",
            urgency="medium",
        )
        drive(incident, org, "closed")
        deliver_all()
        bodies = [verified(secret, got) for got in receiver.received]
    assert [b["type"] for b in bodies] == ["incident.created"] + ["incident.transitioned"] * 4
    states = [(b["data"]["event"]["from_state"], b["data"]["event"]["to_state"]) for b in bodies]
    assert states[1:] == [
        ("new", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]
    first = bodies[0]
    assert first["version"] == "1" and first["data"]["record_type"] == "incident"
    assert first["data"]["record"]["key"] == incident.key
    # rendered at the time of the event: the created payload shows the incident as new
    assert first["data"]["record"]["status"] == "new"
    assert bodies[-1]["data"]["record"]["status"] == "closed"
    assert bodies[1]["data"]["event"]["actor"]["username"] == org.agent.username
    ids = [got.headers["webhook-id"] for got in receiver.received]
    assert len(set(ids)) == len(ids)
    assert WebhookAttempt.objects.filter(ok=True, response_status=200).count() == len(bodies)
    assert set(WebhookDelivery.objects.values_list("message__status", flat=True)) == {"sent"}
    sub.refresh_from_db()
    assert sub.consecutive_failures == 0


def test_the_secret_is_stored_encrypted_and_never_in_the_audit_trail(org) -> None:  # type: ignore[no-untyped-def]
    from core.models import AuditEvent

    sub, secret = subscribe(org.admin, "https://hooks.example.test/", ["incident.created"])
    assert secret.startswith("whsec_")
    assert secret not in sub.secret_encrypted
    assert webhook_channel.signing_secrets(sub) == [secret]
    for row in AuditEvent.objects.all():
        assert secret not in json.dumps(row.changes) and secret not in row.comment


def test_a_rotated_secret_overlaps_then_the_old_one_stops_verifying(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    with http_receiver() as receiver:
        sub, old = subscribe(org.admin, receiver.url, ["incident.created"])
        sub, new = hooks.subscription_rotate_secret(subscription=sub, actor=org.admin)
        assert new != old
        hooks.webhook_ping(subscription=sub, actor=org.admin)
        deliver_all()
        during = receiver.received[-1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        verified(old, during)
        verified(new, during)
        later = timezone.now() + timedelta(hours=25)
        with time_machine.travel(later, tick=False):
            hooks.webhook_ping(subscription=sub, actor=org.admin)
            deliver_all()
            after = receiver.received[-1]
            assert len(after.headers["webhook-signature"].split(" ")) == 1
            verified(new, after)
            with pytest.raises(WebhookVerificationError):
                verified(old, after)


def test_a_receiver_that_answers_500_twice_gets_it_on_the_third_try(org) -> None:  # type: ignore[no-untyped-def]
    with http_receiver() as receiver:
        receiver.answer(500, body=b"down")
        receiver.answer(500, body=b"still down")
        sub, secret = subscribe(org.admin, receiver.url, ["incident.created"])
        services.incident_create(
            actor=org.requester, service=org.service, title="Slow", impact="low", urgency="low"
        )
        deliver_all()  # tried once, failed: it waits for its back-off
        delivery = WebhookDelivery.objects.get()
        delivery.message.refresh_from_db()
        assert (delivery.message.status, delivery.message.attempts) == ("pending", 1)
        for hours in (2, 4):  # beyond any back-off of the first tries
            with time_machine.travel(timezone.now() + timedelta(hours=hours), tick=False):
                deliver_all()
                last = receiver.received[-1]
                if hours == 4:
                    verified(secret, last)
        assert len(receiver.received) == 3
        # one webhook-id for every try of the delivery
        assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    delivery.message.refresh_from_db()
    assert (delivery.message.status, delivery.message.attempts) == ("sent", 3)
    tries = list(delivery.tries.order_by("id"))
    assert [t.response_status for t in tries] == [500, 500, 200]
    assert tries[0].response_body == "down" and tries[0].retry_at and not tries[0].ok
    assert tries[0].request_headers["webhook-id"] == delivery.webhook_id
    assert tries[2].ok and tries[2].duration_ms >= 0


def test_429_with_retry_after_is_honoured(org) -> None:  # type: ignore[no-untyped-def]
    with http_receiver() as receiver:
        receiver.answer(429, {"Retry-After": "120"})
        sub, _ = subscribe(org.admin, receiver.url, ["incident.created"])
        services.incident_create(
            actor=org.requester, service=org.service, title="Slow", impact="low", urgency="low"
        )
        before = timezone.now()
        deliver_all()
        message = WebhookDelivery.objects.get().message
        message.refresh_from_db()
        wait = (message.available_at - before).total_seconds()
        assert 115 <= wait <= 125, wait
        with time_machine.travel(before + timedelta(seconds=60), tick=False):
            assert outbox_deliver_pending() == 0  # not before the receiver asked
        with time_machine.travel(before + timedelta(seconds=125), tick=False):
            assert outbox_deliver_pending() == 1
    assert len(receiver.received) == 2


def dead_delivery(org, receiver, settings) -> tuple[WebhookSubscription, WebhookDelivery]:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answer(503)
    receiver.answer(503)
    sub, _ = subscribe(org.admin, receiver.url, ["incident.created"])
    services.incident_create(
        actor=org.requester, service=org.service, title="Slow", impact="low", urgency="low"
    )
    deliver_all()
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        deliver_all()
    delivery = WebhookDelivery.objects.select_related("message").get()
    assert delivery.message.status == "failed"
    assert delivery.tries.filter(dead=True).count() == 1
    return sub, delivery


def test_a_dead_delivery_is_redelivered_from_the_page(org, settings, client) -> None:  # type: ignore[no-untyped-def]
    with http_receiver() as receiver:
        sub, delivery = dead_delivery(org, receiver, settings)
        client.force_login(org.admin)
        page = client.get(f"/integrations/webhooks/{sub.pk}/")
        assert page.status_code == 200
        assert f'data-redeliver="{delivery.pk}"' in page.content.decode()
        answer = client.post(
            f"/integrations/webhooks/{sub.pk}/redeliver/", {"delivery": delivery.pk}
        )
        assert answer.status_code == 302
        deliver_all()
        assert len(receiver.received) == 3
    delivery.message.refresh_from_db()
    assert delivery.message.status == "sent"


def test_a_dead_delivery_is_redelivered_through_the_api(org, settings) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import api_as

    with http_receiver() as receiver:
        sub, delivery = dead_delivery(org, receiver, settings)
        api = api_as(org.admin)
        listed = api.get(f"/api/v1/webhooks/{sub.pk}/deliveries/").json()["results"]
        assert listed[0]["status"] == "failed" and listed[0]["attempts"] == 2
        assert [t["response_status"] for t in listed[0]["tries"]] == [503, 503]
        answer = api.post(
            f"/api/v1/webhooks/{sub.pk}/redeliver/", {"all_dead": True}, format="json"
        )
        assert answer.status_code == 200 and answer.json() == {"redelivered": 1}
        deliver_all()
        assert len(receiver.received) == 3
    delivery.message.refresh_from_db()
    assert delivery.message.status == "sent"


def test_a_subscription_that_keeps_failing_is_disabled_and_its_owner_told(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_DISABLE_AFTER_DEAD = 2
    owner = UserFactory(username="hookowner", roles=[Role.ADMINISTRATOR])
    with http_receiver() as receiver:
        for _ in range(3):
            receiver.answer(500)
        sub, _ = subscribe(org.admin, receiver.url, ["incident.created"], owner=owner)
        for n in range(2):
            services.incident_create(
                actor=org.requester,
                service=org.service,
                title=f"Slow {n}",
                impact="low",
                urgency="low",
            )
            deliver_all()
        sub.refresh_from_db()
        assert not sub.is_active and sub.disabled_at and "2 dead deliveries" in sub.disabled_reason
        # nothing more is written for it while it is off
        services.incident_create(
            actor=org.requester, service=org.service, title="Slow 3", impact="low", urgency="low"
        )
        assert WebhookDelivery.objects.count() == 2
    notice = OutboxMessage.objects.get(channel="email", event="webhook.disabled")
    assert notice.recipients == [owner.email]
    assert Notification.objects.filter(user=owner, event="webhook.disabled").exists()
    # enabled again: the count starts afresh
    sub = hooks.subscription_enable(subscription=sub, actor=org.admin)
    assert sub.is_active and sub.consecutive_failures == 0


def test_a_delivered_one_resets_the_failure_count(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    with http_receiver() as receiver:
        receiver.answer(500)
        sub, _ = subscribe(org.admin, receiver.url, ["incident.created"])
        for n in range(2):
            services.incident_create(
                actor=org.requester,
                service=org.service,
                title=f"Slow {n}",
                impact="low",
                urgency="low",
            )
            deliver_all()
            sub.refresh_from_db()
            assert sub.consecutive_failures == (1 if n == 0 else 0)


def test_filters_select_by_service_priority_and_project(org) -> None:  # type: ignore[no-untyped-def]
    from projects.models import Project
    from projects.services import work_item_create
    from tests.factories import ServiceFactory

    other = ServiceFactory(name="Mail", support_team=org.support)
    with http_receiver() as receiver:
        by_service, _ = subscribe(
            org.admin, receiver.url + "/service", ["incident.created"], services=[other]
        )
        by_priority, _ = subscribe(
            org.admin, receiver.url + "/p1", ["incident.created"], priorities=[1]
        )
        services.incident_create(
            actor=org.requester, service=org.service, title="Payroll", impact="low", urgency="low"
        )
        services.incident_create(
            actor=org.requester, service=other, title="Mail", impact="low", urgency="low"
        )
        services.incident_create(
            actor=org.requester,
            service=org.service,
            title="All down",
            impact="high",
            urgency="high",
        )
        project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
        other_project = Project.objects.create(code="HR", name="HR", team=org.dev)
        by_project, _ = subscribe(
            org.admin, receiver.url + "/project", ["work_item.created"], projects=[project]
        )
        for p in (project, other_project):
            work_item_create(project=p, actor=org.developer, kind="defect", title=f"In {p.code}")
        deliver_all()
        paths = sorted(
            (got.path, json.loads(got.body)["data"]["record"]["title"]) for got in receiver.received
        )
    assert paths == [
        ("/p1", "All down"),
        ("/project", "In PAY"),
        ("/service", "Mail"),
    ]
    del by_service, by_priority, by_project


def test_an_owner_who_may_not_read_gets_nothing_of_it(org) -> None:  # type: ignore[no-untyped-def]
    """A requester owning a subscription (an administrator set it up for their portal):
    their own incident's public replies arrive; internal notes, the history they do not
    read and other people's incidents never leave."""
    with http_receiver() as receiver:
        sub, secret = subscribe(
            org.admin,
            receiver.url,
            [
                "incident.created",
                "incident.commented",
                "incident.assigned",
                "incident.transitioned",
            ],
            owner=org.requester,
        )
        mine = services.incident_create(
            actor=org.requester, service=org.service, title="Mine", impact="low", urgency="low"
        )
        services.incident_create(
            actor=org.requester2, service=org.service, title="Theirs", impact="low", urgency="low"
        )
        services.incident_comment(
            incident=mine, actor=org.agent, body="Internal: the vendor owes us.", public=False
        )
        services.incident_comment(incident=mine, actor=org.agent, body="We are on it.", public=True)
        mine = services.incident_assign(incident=mine, actor=org.agent, assignee=org.agent)
        deliver_all()
        bodies = [verified(secret, got) for got in receiver.received]
    text = json.dumps(bodies)
    assert "Theirs" not in text and "vendor owes" not in text
    types = [b["type"] for b in bodies]
    assert types.count("incident.created") == 1 and types.count("incident.commented") == 1
    assert "We are on it." in text
    # "assign" is how support organises itself: not on a requester's timeline
    assert "incident.assigned" not in types and "incident.transitioned" not in types
    assert bodies[0]["data"]["event"]["changes"] == {}  # the field changes are staff's


def test_a_private_receiver_is_refused_unless_allowed(org) -> None:  # type: ignore[no-untyped-def]
    from core.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed, match="private address"):
        subscribe(org.admin, "http://127.0.0.1:9/hook", ["incident.created"], allow_private=False)
    with pytest.raises(ValidationFailed, match="private address"):
        subscribe(org.admin, "http://[::1]/hook", ["incident.created"], allow_private=False)
    with http_receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        # a name passes the check on save; the address it resolves to is refused at delivery
        sub, _ = subscribe(
            org.admin,
            f"http://loopback.example.test.localhost.invalid:{port}/",
            ["incident.created"],
            allow_private=False,
        )
        WebhookSubscription.objects.filter(pk=sub.pk).update(url=f"http://localhost:{port}/")
        hooks.webhook_ping(subscription=sub, actor=org.admin)
        deliver_all()
        assert receiver.received == []
        attempt = WebhookAttempt.objects.get()
        assert "private network" in attempt.error
        hooks.subscription_update(
            subscription=sub, actor=org.admin, data=hooks.SubscriptionInput(allow_private=True)
        )
        with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
            deliver_all()
        assert len(receiver.received) == 1


def test_only_an_administrator_may_allow_private_receivers(org, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.exceptions import ActionForbidden
    from integrations import permissions

    # someone who may manage subscriptions but is not an administrator (a future role)
    monkeypatch.setattr(hooks, "can_manage_webhooks", lambda user: True)
    monkeypatch.setattr(
        hooks, "can_allow_private_receivers", permissions.can_allow_private_receivers
    )
    with pytest.raises(ActionForbidden, match="administrator"):
        subscribe(org.incident_manager, "https://hooks.example.test/", ["incident.created"])
    sub, _ = subscribe(
        org.incident_manager,
        "https://hooks.example.test/",
        ["incident.created"],
        allow_private=False,
    )
    assert not sub.allow_private


def test_ping(org) -> None:  # type: ignore[no-untyped-def]
    with http_receiver() as receiver:
        sub, secret = subscribe(org.admin, receiver.url, ["incident.created"])
        hooks.webhook_ping(subscription=sub, actor=org.admin)
        deliver_all()
        body = verified(secret, receiver.received[0])
    assert body["type"] == "webhook.ping"
    assert body["data"]["subscription"] == {"id": sub.pk, "name": sub.name}
    assert receiver.received[0].headers["Content-Type"] == "application/json"


def test_without_a_subscription_an_action_pays_no_query(org, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    """The no-subscription path reads a per-process copy (core.refcache), not the database:
    the SLA sweep and every action publish these events."""
    from core.models import AuditEvent
    from core.services import AuditRow

    incident = services.incident_create(
        actor=org.requester, service=org.service, title="Quiet", impact="low", urgency="low"
    )
    event = AuditEvent.objects.filter(object_id=incident.pk, action="created").first()
    row = AuditRow(
        content_type_id=event.content_type_id, object_id=incident.pk, action="sla_breached"
    )
    webhook_events.active_subscriptions()  # the copy, read once per process
    with django_assert_num_queries(0):
        webhook_events.on_record_audited(event=event, record=incident, changes={})
        webhook_events.on_audit_rows_written(rows=[row], ids=[event.pk])
    drive(incident, org, "in_progress")
    assert not OutboxMessage.objects.filter(channel="webhook").exists()


def test_an_sla_breach_from_the_sweep_is_delivered(org) -> None:  # type: ignore[no-untyped-def]
    """``AUDIT_ROWS_WRITTEN``: the sweep writes its warnings and breaches in bulk."""
    from sla.services import clocks_sweep

    with http_receiver() as receiver:
        sub, secret = subscribe(
            org.admin, receiver.url, ["incident.sla_warning", "incident.sla_breached"]
        )
        incident = services.incident_create(
            actor=org.requester, service=org.service, title="Down", impact="high", urgency="high"
        )
        with time_machine.travel(timezone.now() + timedelta(days=30), tick=False):
            clocks_sweep()
            deliver_all()
            bodies = [verified(secret, got) for got in receiver.received]
    types = {b["type"] for b in bodies}
    assert "incident.sla_breached" in types
    breach = next(b for b in bodies if b["type"] == "incident.sla_breached")
    assert breach["data"]["record"]["key"] == incident.key
    assert breach["data"]["event"]["action"] == "sla_breached"
    assert "sla" in breach["data"]["event"]["changes"]
