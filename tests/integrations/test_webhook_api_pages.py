"""Issue 15, outbound webhooks: the API (/api/v1/webhooks/), the pages and the admin, who may
use them, and bad input answered with a clear 4xx in the one error shape."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.models import AuditEvent, OutboxMessage
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.services import webhooks as hooks
from integrations.webhooks import catalogue
from integrations.webhooks import secrets as hooks_secrets
from tests.conftest import api_as

GOOD = {
    "name": "Ops bus",
    "url": "https://hooks.example.test/tandem",
    "event_types": ["incident.created", "incident.transitioned"],
}


def make(org: Any, **fields: Any) -> WebhookSubscription:
    data = {**GOOD, **fields}
    sub, _ = hooks.subscription_create(actor=org.admin, data=hooks.SubscriptionInput(**data))
    return sub


# --- API -----------------------------------------------------------------------------------
def test_create_answers_the_secret_once_and_keeps_no_plain_copy(org) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.admin)
    body = {**GOOD, "services": [org.service.pk], "priorities": [1, 2]}
    created = api.post("/api/v1/webhooks/", body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["secret"].startswith("whsec_")
    assert data["owner"]["id"] == org.admin.pk and data["services"] == [org.service.pk]
    assert data["priorities"] == [1, 2] and data["is_active"] and not data["allow_private"]
    again = api.get(f"/api/v1/webhooks/{data['id']}/").json()
    assert "secret" not in again
    sub = WebhookSubscription.objects.get(pk=data["id"])
    assert data["secret"] not in sub.secret_encrypted
    audit = AuditEvent.objects.get(object_id=sub.pk, action="created", actor=org.admin)
    assert data["secret"] not in str(audit.changes)
    rotated = api.post(f"/api/v1/webhooks/{sub.pk}/rotate-secret/")
    assert rotated.status_code == 200
    assert (
        rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != data["secret"]
    )
    assert rotated.json()["previous_secret_expires_at"]


def test_a_retried_create_replays_without_the_secret(
    org, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """core.idempotency keeps the first answer in plain JSON for a day: not the secret."""
    from core.models import IdempotencyKey

    api = api_as(org.admin)
    headers = {"Idempotency-Key": "7f1d2c3e-hook"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/webhooks/", GOOD, format="json", headers=headers)
    assert first.status_code == 201 and first.json()["secret"].startswith("whsec_")
    kept = IdempotencyKey.objects.get(key="7f1d2c3e-hook")
    assert "whsec_" not in str(kept.response_body)
    again = api.post("/api/v1/webhooks/", GOOD, format="json", headers=headers)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and "whsec_" not in again.content.decode()
    assert WebhookSubscription.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "ftp://hooks.example.test/"}, "url"),
        ({"url": "https://user:pw@hooks.example.test/"}, "url"),
        ({"url": "http://10.0.0.5/hook"}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "http://localhost:8000/"}, "url"),
        ({"url": "https://hooks.example.test:99999/"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["incident.exploded"]}, "event_types"),
        ({"priorities": [9]}, "priorities"),
        ({"services": [999999]}, "services"),
        ({"projects": ["NOPE"]}, "projects"),
        ({"name": ""}, "name"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(org, change, field) -> None:  # type: ignore[no-untyped-def]
    answer = api_as(org.admin).post("/api/v1/webhooks/", {**GOOD, **change}, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["fields"], answer.json()
    assert not WebhookSubscription.objects.exists()


def test_a_private_receiver_is_accepted_when_an_administrator_allows_it(org) -> None:  # type: ignore[no-untyped-def]
    body = {**GOOD, "url": "http://10.0.0.5/hook", "allow_private": True}
    assert api_as(org.admin).post("/api/v1/webhooks/", body, format="json").status_code == 201


def test_a_patch_validates_the_url_against_the_private_flag(org) -> None:  # type: ignore[no-untyped-def]
    sub = make(org, url="http://10.0.0.5/hook", allow_private=True)
    api = api_as(org.admin)
    answer = api.patch(f"/api/v1/webhooks/{sub.pk}/", {"allow_private": False}, format="json")
    assert answer.status_code == 400 and "url" in answer.json()["fields"]
    sub.refresh_from_db()
    assert sub.allow_private  # nothing half-written


def test_only_administrators_use_the_api_but_anyone_reads_the_schema(org) -> None:  # type: ignore[no-untyped-def]
    sub = make(org)
    for user in (org.agent, org.incident_manager, org.requester):
        api = api_as(user)
        assert api.get("/api/v1/webhooks/").status_code == 403
        assert api.post("/api/v1/webhooks/", GOOD, format="json").status_code == 403
        assert api.post(f"/api/v1/webhooks/{sub.pk}/ping/").status_code == 403
    schema = api_as(org.requester).get("/api/v1/webhooks/schema/")
    assert schema.status_code == 200
    doc = schema.json()
    assert doc["properties"]["version"] == {"const": catalogue.PAYLOAD_VERSION}
    listed = {t["type"] for t in doc["x-event-types"]}
    assert {"incident.transitioned", "change.approved", "release.gate_evaluated"} <= listed
    assert "webhook.ping" in listed


def test_ping_redeliver_and_delete(org) -> None:  # type: ignore[no-untyped-def]
    sub = make(org)
    api = api_as(org.admin)
    pinged = api.post(f"/api/v1/webhooks/{sub.pk}/ping/")
    assert pinged.status_code == 202 and pinged.json()["event_type"] == "webhook.ping"
    not_dead = pinged.json()["id"]
    answer = api.post(
        f"/api/v1/webhooks/{sub.pk}/redeliver/", {"deliveries": [not_dead]}, format="json"
    )
    assert answer.status_code == 400 and "deliveries" in answer.json()["fields"]
    assert api.post(f"/api/v1/webhooks/{sub.pk}/redeliver/", {}, format="json").status_code == 400
    off = api.patch(f"/api/v1/webhooks/{sub.pk}/", {"is_active": False}, format="json")
    assert off.status_code == 200 and not off.json()["is_active"]
    assert api.post(f"/api/v1/webhooks/{sub.pk}/ping/").status_code == 409
    assert (
        api.post(f"/api/v1/webhooks/{sub.pk}/redeliver/", {"all_dead": True}, format="json")
    ).status_code == 409
    on = api.patch(f"/api/v1/webhooks/{sub.pk}/", {"is_active": True}, format="json")
    assert on.json()["is_active"] and on.json()["consecutive_failures"] == 0
    assert api.delete(f"/api/v1/webhooks/{sub.pk}/").status_code == 204
    assert api.get(f"/api/v1/webhooks/{sub.pk}/").status_code == 404
    assert not WebhookDelivery.objects.exists()


def test_the_deliveries_list_costs_the_same_for_more_rows(
    org, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    sub = make(org)
    api = api_as(org.admin)
    for _ in range(3):
        hooks.webhook_ping(subscription=sub, actor=org.admin)
    with django_assert_max_num_queries(12) as few:
        assert api.get(f"/api/v1/webhooks/{sub.pk}/deliveries/").status_code == 200
    for _ in range(10):
        hooks.webhook_ping(subscription=sub, actor=org.admin)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api.get(f"/api/v1/webhooks/{sub.pk}/deliveries/").status_code == 200


# --- pages ---------------------------------------------------------------------------------
def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_pages_are_for_administrators(org) -> None:  # type: ignore[no-untyped-def]
    sub = make(org)
    for user in (org.agent, org.requester, org.change_manager):
        client = signed_in(user)
        for url in ("/integrations/webhooks/", f"/integrations/webhooks/{sub.pk}/"):
            assert client.get(url).status_code == 403
        assert client.post(f"/integrations/webhooks/{sub.pk}/ping/").status_code == 403
        assert 'data-nav="webhooks"' not in client.get("/knowledge/").content.decode()
    assert not OutboxMessage.objects.filter(channel="webhook").exists()
    admin = signed_in(org.admin)
    assert 'data-nav="webhooks"' in admin.get("/knowledge/").content.decode()
    listing = admin.get("/integrations/webhooks/").content.decode()
    assert f'data-webhook="{sub.pk}"' in listing and 'data-action="new-webhook"' in listing


def test_the_subscription_page_offers_what_its_state_allows(org) -> None:  # type: ignore[no-untyped-def]
    sub = make(org)
    client = signed_in(org.admin)
    page = client.get(f"/integrations/webhooks/{sub.pk}/").content.decode()
    for action in ("edit", "ping", "rotate", "disable", "delete"):
        assert f'data-action="{action}"' in page, action
    assert 'data-action="enable"' not in page
    assert 'data-action="redeliver-all"' not in page  # nothing is dead
    assert "whsec_" not in page
    assert client.post(f"/integrations/webhooks/{sub.pk}/disable/").status_code == 302
    page = client.get(f"/integrations/webhooks/{sub.pk}/").content.decode()
    assert 'data-action="enable"' in page and 'data-testid="webhook-disabled"' in page
    assert 'data-action="ping"' not in page and 'data-action="disable"' not in page
    # what the page no longer offers is refused too
    assert client.post(f"/integrations/webhooks/{sub.pk}/ping/").status_code == 409
    assert client.post(f"/integrations/webhooks/{sub.pk}/enable/").status_code == 302
    sub.refresh_from_db()
    assert sub.is_active


def test_create_on_the_page_shows_the_secret_once(org) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(org.admin)
    form = client.get("/integrations/webhooks/new/").content.decode()
    assert 'value="incident.transitioned"' in form and 'value="release.gate_evaluated"' in form
    assert 'data-testid="allow-private"' in form
    answer = client.post(
        "/integrations/webhooks/new/",
        {
            "name": "Page hook",
            "url": "https://hooks.example.test/p",
            "event_types": ["incident.created", "problem.known_error"],
            "priorities": ["1"],
            "services": [org.service.pk],
            "owner": org.incident_manager.username,
        },
    )
    # Post/Redirect/Get (core.once): 303 to the detail page, which shows the secret once
    sub = WebhookSubscription.objects.get(name="Page hook")
    detail = f"/integrations/webhooks/{sub.pk}/"
    assert answer.status_code == 303 and answer["Location"] == detail
    assert "whsec_" not in answer.content.decode()
    assert sub.event_types == ["incident.created", "problem.known_error"]
    assert sub.priorities == [1] and list(sub.services.all()) == [org.service]
    assert sub.owner == org.incident_manager
    first = client.get(detail)
    shown = first.content.decode()
    assert 'data-testid="webhook-secret"' in shown and "whsec_" in shown
    assert "will not be shown again" in shown
    assert "no-store" in first["Cache-Control"]
    secret = first.context["secret"]
    assert hooks_secrets.decrypt(sub.secret_encrypted) == secret
    assert "whsec_" not in client.get(detail).content.decode()  # the reload
    assert WebhookSubscription.objects.count() == 1
    rotated = client.post(f"/integrations/webhooks/{sub.pk}/rotate/")
    assert rotated.status_code == 303 and rotated["Location"] == detail
    assert "whsec_" not in rotated.content.decode()
    after = client.get(detail)
    new_secret = after.context["secret"]
    assert new_secret.startswith("whsec_") and new_secret != secret
    assert new_secret in after.content.decode() and "no-store" in after["Cache-Control"]
    assert "whsec_" not in client.get(detail).content.decode()
    edit = client.post(
        f"/integrations/webhooks/{sub.pk}/edit/",
        {"name": "Page hook 2", "url": "ftp://x.test/", "event_types": ["incident.created"]},
    )
    assert edit.status_code == 400 and "http://" in edit.content.decode()
    sub.refresh_from_db()
    assert sub.name == "Page hook"  # nothing half-written


def test_bad_input_on_the_page_is_a_400(org) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(org.admin)
    answer = client.post(
        "/integrations/webhooks/new/",
        {"name": "X", "url": "http://192.168.1.1/", "event_types": ["incident.created"]},
    )
    assert answer.status_code == 400 and "private address" in answer.content.decode()
    answer = client.post("/integrations/webhooks/new/", {"name": "X", "url": "https://a.test/"})
    assert answer.status_code == 400
    answer = client.post(
        "/integrations/webhooks/new/",
        {
            "name": "X",
            "url": "https://a.test/",
            "event_types": ["incident.created"],
            "owner": "nobody",
        },
    )
    assert answer.status_code == 400 and "No active user nobody" in answer.content.decode()
    sub = make(org)
    assert client.post(f"/integrations/webhooks/{sub.pk}/redeliver/", {}).status_code == 400
    assert client.post("/integrations/webhooks/999999/ping/").status_code == 404
    assert not WebhookSubscription.objects.exclude(pk=sub.pk).exists()


def test_the_admin_lists_subscriptions_without_their_secrets(org) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    sub = make(org)
    root = get_user_model().objects.create_superuser("root", "root@example.test", "pw")
    client = signed_in(root)
    listing = client.get("/admin/integrations/webhooksubscription/")
    assert listing.status_code == 200 and sub.name in listing.content.decode()
    detail = client.get(f"/admin/integrations/webhooksubscription/{sub.pk}/change/")
    assert detail.status_code == 200
    assert sub.secret_encrypted not in detail.content.decode()
    done = client.post(
        "/admin/integrations/webhooksubscription/",
        {"action": "disable", "_selected_action": [sub.pk]},
    )
    assert done.status_code == 302
    sub.refresh_from_db()
    assert not sub.is_active
