"""Issue 15: two-way sync with an external tracker, against a fake Jira Cloud on 127.0.0.1
(tools/fake_jira) that the tests start, speaking HTTP to it as to the real service."""

from __future__ import annotations

import json
import time
from datetime import UTC, timedelta

import pytest
import requests
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.test import Client

from core.models import AuditEvent, Comment, OutboxMessage
from core.outbox import outbox_deliver_one
from integrations.models import Connector, InboundDelivery, RemoteLink
from integrations.services.connectors import connector_poll
from projects import services as ps
from projects.models import Kind, WorkItem
from tests.integrations.conftest import PARTNER_EMAIL, PARTNER_TOKEN, WEBHOOK_SECRET
from tools.fake_jira import adf, adf_text

PARTNER = (PARTNER_EMAIL, PARTNER_TOKEN)
# What a defect may send to the tracker with the default field map (and what a create
# must name): nothing else is allowed to leave.
# (``labels``: the marker of the create, ``tandem-<uuid>``, says nothing about the record)
ALLOWED_ISSUE_FIELDS = {"summary", "description", "priority", "project", "issuetype", "labels"}


def remote(jira, method: str, path: str, body=None):  # type: ignore[no-untyped-def]
    """A person at the partner edits Jira through its API (as its web UI would)."""
    answer = requests.request(
        method, f"{jira.url}/rest/api/3{path}", json=body, auth=PARTNER, timeout=5
    )
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


def transition_to(jira, key: str, status: str) -> None:  # type: ignore[no-untyped-def]
    found = remote(jira, "GET", f"/issue/{key}/transitions")["transitions"]
    tid = next(t["id"] for t in found if t["to"]["name"] == status)
    remote(jira, "POST", f"/issue/{key}/transitions", {"transition": {"id": tid}})


def link_of(item: WorkItem) -> RemoteLink:
    return RemoteLink.objects.get(
        content_type=ContentType.objects.get_for_model(item), object_id=item.pk
    )


def sent_bodies(jira) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.body.decode() for r in jira.requests if r.body]


def assert_allowlisted(jira, *secrets: str) -> None:  # type: ignore[no-untyped-def]
    """Only mapped fields in what Tandem sent; none of ``secrets`` anywhere in it."""
    for r in jira.requests:
        if r.method in ("POST", "PUT") and r.path.rstrip("/").endswith(("/issue", r.path)):
            body = r.json or {}
            if "fields" in body:
                assert set(body["fields"]) <= ALLOWED_ISSUE_FIELDS, body["fields"]
    for body in sent_bodies(jira):
        for secret in secrets:
            assert secret.lower() not in body.lower(), f"{secret!r} reached Jira: {body}"


def new_defect(org, project, **fields):  # type: ignore[no-untyped-def]
    return ps.work_item_create(
        actor=org.developer,
        kind=Kind.DEFECT,
        project=project,
        title=fields.pop("title", "Rounding error in net pay"),
        description=fields.pop("description", "Net pay is off by a cent."),
        priority=fields.pop("priority", 2),
        **fields,
    )


def webhook_post(client, connector, jira, payload, *, identifier=None, secret=None):  # type: ignore[no-untyped-def]
    """POST the exact bytes and headers the fake Jira sends for ``payload``."""
    body = json.dumps(payload).encode()
    headers = jira.signed_headers(body, identifier)
    if secret is not None:
        import hashlib
        import hmac

        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature"] = f"sha256={digest}"
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    meta.pop("HTTP_CONTENT_TYPE", None)
    return client.post(
        f"/api/v1/connectors/{connector.pk}/webhook/",
        data=body,
        content_type="application/json",
        **meta,
    )


def issue_event(jira, key: str, event: str = "jira:issue_updated", **extra):  # type: ignore[no-untyped-def]
    payload = {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": event,
        "user": {"displayName": "Dana Partner", "emailAddress": PARTNER_EMAIL},
        "issue": jira.issue(key),
        "changelog": {"id": "1", "items": []},
    }
    payload.update(extra)
    return payload


# --- the Done-when: live server, real webhooks -------------------------------------------------
# PostgreSQL only: the fake's webhook reaches the live server while the test's push holds its
# write, and SQLite locks the whole database (the webhook waits, then answers 503).
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_defect_edited_in_jira_appears_in_tandem_and_a_tandem_comment_in_jira(
    live_server, org, project, connector, fake_jira
) -> None:
    """A defect created in Tandem becomes a Jira issue; edited in Jira (summary, status) it
    changes in Tandem through the real webhook, with zero requests back (no echo); a
    comment added in Tandem appears on the Jira issue and is not copied back; nothing
    outside the field map reached Jira (not the severity, the assignee, the requester of
    its incident, nor an internal note)."""
    fake_jira.webhook_url = f"{live_server.url}/api/v1/connectors/{connector.pk}/webhook/"
    from itsm import services as itsm

    incident = itsm.incident_create(
        actor=org.requester,
        service=org.service,
        title="Net pay wrong",
        impact="high",
        urgency="medium",
    )
    itsm.incident_comment(
        incident=incident, actor=org.agent, body="VIP customer, account 4711", public=False
    )
    defect = new_defect(org, project, severity="critical", assignee=org.developer)
    ps.defect_link_incident(item=defect, actor=org.developer, incident=incident)

    link = link_of(defect)
    assert link.remote_key == "PAY-1" and link.sync_state == RemoteLink.State.OK
    issue = fake_jira.issue("PAY-1")["fields"]
    assert issue["summary"] == "Rounding error in net pay"
    assert adf_text(issue["description"]) == "Net pay is off by a cent."
    assert issue["priority"]["name"] == "High"
    fake_jira.wait_webhooks()  # the issue_created webhook came back, and changed nothing
    assert WorkItem.objects.filter(kind=Kind.DEFECT).count() == 1

    # --- Jira → Tandem: no echo
    before = len(fake_jira.requests)
    remote(fake_jira, "PUT", "/issue/PAY-1", {"fields": {"summary": "Rounding error (PAYE)"}})
    transition_to(fake_jira, "PAY-1", "In Progress")
    requests_by_partner = len(fake_jira.requests) - before
    fake_jira.wait_webhooks()
    assert [w.status for w in fake_jira.webhooks] == [200, 200, 200], fake_jira.webhooks
    defect.refresh_from_db()
    assert (defect.title, defect.status) == ("Rounding error (PAYE)", "in_progress")
    assert len(fake_jira.requests) - before == requests_by_partner  # Tandem sent nothing
    assert not OutboxMessage.objects.filter(
        channel="connector", event="connector.update", object_id=defect.pk
    ).exists()

    # --- Tandem → Jira: a comment
    ps.work_comment(item=defect, actor=org.developer, body="Fixed the rounding in calc.py")
    fake_jira.wait_webhooks()  # its comment_created webhook: Tandem's own, not copied back
    comments = remote(fake_jira, "GET", "/issue/PAY-1/comment")["comments"]
    assert [adf_text(c["body"]) for c in comments] == [
        f"{org.developer.get_full_name()} (Tandem): Fixed the rounding in calc.py"
    ]
    assert fake_jira.webhooks[-1].status == 200
    assert Comment.objects.filter(object_id=defect.pk, body__contains="calc.py").count() == 1

    assert_allowlisted(
        fake_jira,
        "critical",  # the severity is not mapped
        org.requester.email,
        org.requester.get_full_name(),
        "account 4711",  # the incident's internal note
        incident.key,
    )


# --- inbound through the endpoint (the exact bytes the fake sends) ------------------------------
def test_a_remote_comment_becomes_a_work_note_once(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    remote(fake_jira, "POST", "/issue/PAY-1/comment", {"body": adf("Reproduced on 2.3.")})
    issue = fake_jira.issue("PAY-1")
    note = remote(fake_jira, "GET", "/issue/PAY-1/comment")["comments"][0]
    payload = issue_event(fake_jira, "PAY-1", "comment_created", comment=note)
    api = Client()
    with django_capture_on_commit_callbacks(execute=True):
        first = webhook_post(api, connector, fake_jira, payload)
    assert first.status_code == 200, first.content
    assert issue["key"] == "PAY-1"
    notes = Comment.objects.filter(object_id=defect.pk)
    assert [c.body for c in notes] == ["Dana Partner in PAY-1:\n\nReproduced on 2.3."]
    assert notes[0].author == connector.actor
    # the poll meets the same comment again: not copied twice, and nothing goes back
    posts = len(fake_jira.requests_to("POST"))
    connector_poll(connector=connector)
    assert notes.count() == 1
    assert len(fake_jira.requests_to("POST")) == posts


def test_a_bad_or_missing_signature_is_401_and_logged(org, project, connector, fake_jira) -> None:
    api = Client()
    payload = {"timestamp": int(time.time() * 1000), "webhookEvent": "jira:issue_updated"}
    wrong = webhook_post(api, connector, fake_jira, payload, secret="not-the-secret")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "bad_signature" and wrong.json()["message"]
    body = json.dumps(payload).encode()
    unsigned = api.post(
        f"/api/v1/connectors/{connector.pk}/webhook/",
        data=body,
        content_type="application/json",
        HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER="abc",
    )
    assert unsigned.status_code == 401
    assert set(unsigned.json()) >= {"code", "message", "fields", "detail"}
    logged = InboundDelivery.objects.filter(connector=connector, status_code=401)
    assert logged.count() == 2
    assert all(d.outcome == "rejected" for d in logged)
    unknown = api.post(
        "/api/v1/connectors/999/webhook/", data=body, content_type="application/json"
    )
    assert unknown.status_code == 401 and unknown.json()["code"] == "bad_signature"
    past_bigint = api.post(
        f"/api/v1/connectors/{2**64}/webhook/", data=body, content_type="application/json"
    )
    assert past_bigint.status_code == 401


def test_a_webhook_that_is_not_json_is_a_400(connector) -> None:  # type: ignore[no-untyped-def]
    """A form's body is read by the time the view runs, so its signature cannot be checked
    on the bytes sent (schemathesis found a 500 here): trackers send JSON."""
    api = Client()
    form = api.post(f"/api/v1/connectors/{connector.pk}/webhook/", data={"a": "1"})
    assert form.status_code == 400 and "JSON" in form.json()["message"]
    text = api.post(
        f"/api/v1/connectors/{connector.pk}/webhook/", data="x", content_type="text/plain"
    )
    assert text.status_code == 400


def applied_then_edited_here(org, project, connector, jira, capture):  # type: ignore[no-untyped-def]
    """A defect whose Jira edit came in by webhook ``wh-1``, then was edited in Tandem:
    what a replay of that webhook would overwrite. Returns (defect, payload, client)."""
    with capture(execute=True):
        defect = new_defect(org, project)
    remote(jira, "PUT", "/issue/PAY-1", {"fields": {"summary": "From Jira"}})
    payload = issue_event(jira, "PAY-1")
    api = Client()
    first = webhook_post(api, connector, jira, payload, identifier="wh-1")
    assert first.status_code == 200, first.content
    ps.work_item_update(item=defect, actor=org.developer, title="Tandem's title")
    return defect, payload, api


def test_a_replayed_or_stale_webhook_is_refused(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    # the same delivery again (a replay), after the title changed in Tandem
    defect, payload, api = applied_then_edited_here(
        org, project, connector, fake_jira, django_capture_on_commit_callbacks
    )
    again = webhook_post(api, connector, fake_jira, payload, identifier="wh-1")
    assert again.status_code == 409 and again.json()["code"] == "replayed"
    defect.refresh_from_db()
    assert defect.title == "Tandem's title"
    old = dict(payload, timestamp=int((time.time() - 3600) * 1000))
    stale = webhook_post(api, connector, fake_jira, old, identifier="wh-2")
    assert stale.status_code == 400 and stale.json()["code"] == "stale"
    outcomes = list(
        InboundDelivery.objects.order_by("id").values_list("identifier", "outcome", "status_code")
    )
    assert outcomes == [
        ("wh-1", "applied", 200),
        ("wh-1", "rejected", 409),
        ("wh-2", "rejected", 400),
    ]


def test_a_captured_webhook_sent_again_under_a_fresh_identifier_is_a_replay(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """Jira signs the body, not the identifier's header: whoever captured a delivery could
    send it again with a new identifier, and it used to be applied again until its
    timestamp went stale. The body itself is the guard too."""
    defect, payload, api = applied_then_edited_here(
        org, project, connector, fake_jira, django_capture_on_commit_callbacks
    )
    again = webhook_post(api, connector, fake_jira, payload, identifier="wh-forged")
    assert again.status_code == 409 and again.json()["code"] == "replayed", again.content
    assert "repeats the body of webhook wh-1" in again.json()["message"]
    defect.refresh_from_db()
    assert defect.title == "Tandem's title"
    # the next change in Jira (another body) is applied as ever
    remote(fake_jira, "PUT", "/issue/PAY-1", {"fields": {"summary": "Changed again"}})
    later = issue_event(fake_jira, "PAY-1")
    assert webhook_post(api, connector, fake_jira, later, identifier="wh-2").status_code == 200
    defect.refresh_from_db()
    assert defect.title == "Changed again"


def test_a_malformed_payload_never_half_applies(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """A payload whose summary Tandem could take but whose status it cannot (not in the
    status map) changes nothing: one transaction, a 422, logged, the link marked."""
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    payload = issue_event(fake_jira, "PAY-1")
    payload["issue"]["fields"]["summary"] = "Half applied?"
    payload["issue"]["fields"]["status"] = {"name": "Blocked by legal"}
    api = Client()
    answer = webhook_post(api, connector, fake_jira, payload)
    assert answer.status_code == 422, answer.content
    assert "Blocked by legal" in answer.json()["message"]
    defect.refresh_from_db()
    assert defect.title == "Rounding error in net pay"
    assert not AuditEvent.objects.filter(object_id=defect.pk, action="updated").exists()
    assert link_of(defect).sync_state == RemoteLink.State.ERROR
    # not JSON at all; JSON without an issue; a priority that is not an object
    wrong_type = issue_event(fake_jira, "PAY-1")
    wrong_type["issue"]["fields"]["priority"] = "High"
    for bad in (
        b"{not json",
        json.dumps({"webhookEvent": "jira:issue_updated"}).encode(),
        json.dumps(wrong_type).encode(),
    ):
        headers = fake_jira.signed_headers(bad)
        answer = api.post(
            f"/api/v1/connectors/{connector.pk}/webhook/",
            data=bad,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE=headers["X-Hub-Signature"],
            HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER=headers["X-Atlassian-Webhook-Identifier"],
        )
        assert answer.status_code == 400 and answer.json()["code"] == "invalid", answer.content
    assert InboundDelivery.objects.filter(outcome__in=["rejected", "failed"]).count() == 4


# --- conflicts ---------------------------------------------------------------------------------
def test_a_stale_title_loses_to_tandems_later_change_and_the_conflict_is_on_the_timeline(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    remote(fake_jira, "PUT", "/issue/PAY-1", {"fields": {"summary": "Jira's title"}})
    stale_event = issue_event(fake_jira, "PAY-1")  # sent now, but about a change made...
    stale_event["issue"]["fields"]["updated"] = "2020-01-01T00:00:00.000+0000"  # ...long ago
    fake_jira.fail_next(503, method="GET")  # Tandem's push waits for a retry
    with django_capture_on_commit_callbacks(execute=True):
        ps.work_item_update(item=defect, actor=org.developer, title="Tandem's title")
    pending = OutboxMessage.objects.get(channel="connector", event="connector.update")
    assert pending.status == "pending" and pending.attempts == 1
    answer = webhook_post(Client(), connector, fake_jira, stale_event)
    assert answer.status_code == 200, answer.content
    defect.refresh_from_db()
    assert defect.title == "Tandem's title"  # the later writer
    conflict = AuditEvent.objects.get(object_id=defect.pk, action="sync_conflict")
    assert conflict.changes == {"title": ["Tandem's title", "Jira's title"]}
    assert "Kept Tandem's value" in conflict.comment
    # the retry pushes Tandem's title, with no second conflict
    assert outbox_deliver_one(pending.pk)
    assert fake_jira.issue("PAY-1")["fields"]["summary"] == "Tandem's title"
    assert AuditEvent.objects.filter(action="sync_conflict").count() == 1
    page = Client()
    page.force_login(org.developer)
    html = page.get(defect.get_absolute_url()).content.decode()
    assert "sync conflict with the tracker" in html


def test_the_remote_wins_for_status_even_when_tandem_changed_it_later(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    transition_to(fake_jira, "PAY-1", "In Review")
    event = issue_event(fake_jira, "PAY-1")
    event["issue"]["fields"]["updated"] = "2020-01-01T00:00:00.000+0000"
    fake_jira.fail_next(500, method="GET")
    with django_capture_on_commit_callbacks(execute=True):
        ps.work_start(item=defect, actor=org.developer)
    answer = webhook_post(Client(), connector, fake_jira, event)
    assert answer.status_code == 200, answer.content
    defect.refresh_from_db()
    assert defect.status == "in_review"
    conflict = AuditEvent.objects.get(object_id=defect.pk, action="sync_conflict")
    assert conflict.changes == {"status": ["In Progress", "In Review"]}
    assert "the remote decides the status" in conflict.comment


def test_a_push_that_meets_a_newer_remote_value_takes_it(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """The sender's side of the rule: Tandem changed the title, then the remote did (its
    webhook not here yet): the push finds the remote's later value and takes it."""
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    fake_jira.fail_next(503, method="GET")
    with django_capture_on_commit_callbacks(execute=True):
        ps.work_item_update(item=defect, actor=org.developer, title="Tandem's title")
    time.sleep(0.01)
    remote(fake_jira, "PUT", "/issue/PAY-1", {"fields": {"summary": "Jira's later title"}})
    pending = OutboxMessage.objects.get(channel="connector", event="connector.update")
    assert outbox_deliver_one(pending.pk)
    defect.refresh_from_db()
    assert defect.title == "Jira's later title"
    assert fake_jira.issue("PAY-1")["fields"]["summary"] == "Jira's later title"
    conflict = AuditEvent.objects.get(object_id=defect.pk, action="sync_conflict")
    assert conflict.changes == {"title": ["Tandem's title", "Jira's later title"]}


# --- outbound retries --------------------------------------------------------------------------
def test_a_push_retried_after_500_arrives_once(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    fake_jira.fail_next(500, method="POST", path="/comment", count=2)
    with django_capture_on_commit_callbacks(execute=True):
        ps.work_comment(item=defect, actor=org.developer, body="Patched")
    message = OutboxMessage.objects.get(channel="connector", event="connector.comment")
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.order_key == f"connector:{connector.pk}:{message.content_type_id}:{defect.pk}"
    link = link_of(defect)
    assert link.sync_state == "error" and "500" in link.last_error
    assert not outbox_deliver_one(message.pk)  # the second 500
    assert outbox_deliver_one(message.pk)  # the third try goes through
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 3)
    comments = remote(fake_jira, "GET", "/issue/PAY-1/comment")["comments"]
    assert len(comments) == 1 and "Patched" in adf_text(comments[0]["body"])
    assert link_of(defect).sync_state == "ok"


def _creates(jira) -> list:  # type: ignore[no-untyped-def]
    return [r for r in jira.requests_to("POST") if r.path.rstrip("/") == "/rest/api/3/issue"]


def test_a_create_whose_follow_up_read_fails_is_adopted_on_retry_not_made_twice(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """Jira created the issue but the read after the POST failed, so the attempt ended
    without the issue's id: the retry finds the issue by its marker label and takes it,
    it does not create a second one."""
    fake_jira.fail_next(503, method="GET", path="/rest/api/3/issue/")
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    message = OutboxMessage.objects.get(channel="connector", event="connector.create")
    assert (message.status, message.attempts) == ("pending", 1)
    assert len(fake_jira.issues) == 1 and link_of(defect).remote_id == ""
    # the title changes before the retry: its update waits behind the create (same key)
    with django_capture_on_commit_callbacks(execute=True):
        ps.work_item_update(item=defect, actor=org.developer, title="Rounding error (PAYE)")
    update = OutboxMessage.objects.get(channel="connector", event="connector.update")
    assert update.status == "pending"
    assert outbox_deliver_one(message.pk)
    assert len(fake_jira.issues) == 1 and len(_creates(fake_jira)) == 1
    (made,) = fake_jira.issues.values()
    link = link_of(defect)
    assert (link.remote_id, link.remote_key) == (made["id"], "PAY-1")
    assert link.url == f"{fake_jira.url}/browse/PAY-1"
    assert (link.sync_state, link.last_error) == ("ok", "")
    # the issue taken was made with the old title: the retry sent the new one
    assert made["summary"] == "Rounding error (PAYE)"
    assert [r.json for r in fake_jira.requests_to("PUT", "/issue/")] == [
        {"fields": {"summary": "Rounding error (PAYE)"}}
    ]
    assert link.field_versions["title"]["value"] == "Rounding error (PAYE)"
    assert link.field_versions["status"]["value"] == "To Do"
    # each try searched first: the first found nothing, the retry the issue
    jql = f'project = PAY AND labels = "{link.create_label}" ORDER BY created ASC'
    searches = fake_jira.requests_to("GET", "/search/jql")
    assert [s.query["jql"] for s in searches] == [[jql], [jql]]
    # the update that waited finds both sides agreeing: nothing more goes out
    assert outbox_deliver_one(update.pk)
    assert len(fake_jira.requests_to("PUT")) == 1


def test_an_issue_being_created_is_not_imported_before_its_link_holds_it(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """Between the remote create and the link saving its id, the issue's webhook (or the
    poll) finds an issue no link holds yet: its marker names the waiting link, so it is
    ignored (the push takes it), not imported as a second defect."""
    fake_jira.fail_next(503, method="GET", path="/rest/api/3/issue/")
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    api = Client()
    with django_capture_on_commit_callbacks(execute=True):
        answer = webhook_post(
            api, connector, fake_jira, issue_event(fake_jira, "PAY-1", "jira:issue_created")
        )
        result = connector_poll(connector=connector)
    assert answer.status_code == 200 and answer.json()["code"] == "ignored", answer.content
    assert defect.key in answer.json()["message"]
    assert (result.issues, result.changed, result.failed) == (1, 0, 0)
    assert WorkItem.objects.count() == 1
    assert RemoteLink.objects.count() == 1
    message = OutboxMessage.objects.get(channel="connector", event="connector.create")
    assert outbox_deliver_one(message.pk)
    assert link_of(defect).remote_key == "PAY-1" and len(fake_jira.issues) == 1
    # once linked, the same issue's webhooks apply to the defect as usual
    remote(fake_jira, "PUT", "/issue/PAY-1", {"fields": {"summary": "From Jira"}})
    with django_capture_on_commit_callbacks(execute=True):
        answer = webhook_post(api, connector, fake_jira, issue_event(fake_jira, "PAY-1"))
    assert answer.json()["code"] == "updated", answer.content
    defect.refresh_from_db()
    assert defect.title == "From Jira" and WorkItem.objects.count() == 1


def test_a_copy_of_a_linked_issue_carrying_its_marker_is_imported_as_any_issue(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """Jira's Clone copies labels: the marker of a link that already holds its issue says
    nothing about the copy, which comes in as any new remote issue does."""
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    label = link_of(defect).create_label
    made = remote(
        fake_jira,
        "POST",
        "/issue",
        {"fields": {"project": {"key": "PAY"}, "summary": "CLONE", "labels": [label]}},
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = webhook_post(
            Client(),
            connector,
            fake_jira,
            issue_event(fake_jira, made["key"], "jira:issue_created"),
        )
    assert answer.json()["code"] == "created", answer.content
    assert link_of(WorkItem.objects.get(title="CLONE")).remote_id == made["id"]


def test_a_created_issue_carries_its_marker_and_a_retry_after_the_link_holds_it_searches_nothing(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """The marker label is on the issue from its create (and is not a synced field); when
    the link committed the issue's id and a later step failed, the retry finishes the job
    on that issue: no search, no second create."""
    connector.status_map = dict(connector.status_map, open="In Progress")
    connector.save()
    fake_jira.fail_next(500, method="GET", path="/transitions")
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    link = link_of(defect)
    assert link.remote_key == "PAY-1" and link.sync_state == "error"
    issue = fake_jira.issue("PAY-1")["fields"]
    assert issue["labels"] == [link.create_label]
    assert link.create_label == f"tandem-{link.marker.hex}"
    assert issue["status"]["name"] == "To Do"
    assert len(fake_jira.requests_to("GET", "/search/jql")) == 1  # the first try's
    message = OutboxMessage.objects.get(channel="connector", event="connector.create")
    assert outbox_deliver_one(message.pk)
    assert len(fake_jira.requests_to("GET", "/search/jql")) == 1  # none by the retry
    assert len(_creates(fake_jira)) == 1 and len(fake_jira.issues) == 1
    assert fake_jira.issue("PAY-1")["fields"]["status"]["name"] == "In Progress"
    link.refresh_from_db()
    assert link.sync_state == "ok" and "labels" not in link.field_versions
    assert link.field_versions["status"]["value"] == "In Progress"


def test_a_finished_create_delivered_again_leaves_a_jira_edit_alone(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """At-least-once delivery: the create's message sent a second time after the create
    finished must not redo it over what Jira's users changed since (that is a field push's
    job, which weighs conflicts)."""
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    assert link_of(defect).sync_state == "ok"
    (stored,) = [i for i in fake_jira.issues.values() if i["key"] == "PAY-1"]
    stored["summary"] = "Renamed in Jira"  # as Jira's user left it (no webhook here)
    message = OutboxMessage.objects.get(channel="connector", event="connector.create")
    OutboxMessage.objects.filter(pk=message.pk).update(status="pending")
    puts = len(fake_jira.requests_to("PUT"))
    assert outbox_deliver_one(message.pk)
    assert len(fake_jira.requests_to("PUT")) == puts and len(_creates(fake_jira)) == 1
    assert fake_jira.issue("PAY-1")["fields"]["summary"] == "Renamed in Jira"


def test_only_mapped_fields_leave_and_an_unmapped_direction_stays(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """With description mapped "in" only and comments not mapped, neither leaves; the
    severity, estimate and assignee never do."""
    connector.field_map = {"title": "both", "priority": "out", "description": "in"}
    connector.save()
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project, description="Secret stack trace", severity="critical")
        ps.work_item_update(
            item=defect, actor=org.developer, description="More secrets", estimate_hours=5
        )
        ps.work_comment(item=defect, actor=org.developer, body="Internal musing")
    fields = fake_jira.requests_to("POST", "/issue")[0].json["fields"]
    assert set(fields) == {"project", "issuetype", "summary", "priority", "labels"}
    assert fields["labels"] == [link_of(defect).create_label]
    assert_allowlisted(fake_jira, "Secret", "More secrets", "Internal musing", "critical")
    assert not OutboxMessage.objects.filter(channel="connector", event="connector.comment")


# --- the catch-up poll --------------------------------------------------------------------------
def test_the_poll_catches_up_with_what_webhooks_missed(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    made = remote(
        fake_jira,
        "POST",
        "/issue",
        {
            "fields": {
                "project": {"key": "PAY"},
                "issuetype": {"name": "Bug"},
                "summary": "Payslip PDF blank",
                "description": adf("Since Monday.\n\nEvery payslip."),
                "priority": {"name": "Highest"},
            }
        },
    )
    transition_to(fake_jira, made["key"], "In Progress")
    remote(fake_jira, "POST", f"/issue/{made['key']}/comment", {"body": adf("Looking.")})
    with django_capture_on_commit_callbacks(execute=True):
        call_command("connector_poll")
    defect = WorkItem.objects.get(title="Payslip PDF blank")
    assert (defect.kind, defect.priority, defect.status) == ("defect", 1, "in_progress")
    assert defect.description == "Since Monday.\n\nEvery payslip."
    assert defect.reported_by == connector.actor
    assert link_of(defect).remote_key == made["key"]
    assert Comment.objects.filter(object_id=defect.pk, body__endswith="Looking.").count() == 1
    connector.refresh_from_db()
    assert connector.last_polled_at is not None
    search = fake_jira.requests_to("GET", "/search/jql")[-1]
    # the first poll reads from the connector's creation on (a minute early)
    since = (connector.created_at - timedelta(minutes=1)).astimezone(UTC)
    assert search.query["jql"] == [
        f'project = PAY AND updated >= "{since:%Y-%m-%d %H:%M}" ORDER BY updated ASC'
    ]
    # the next poll asks from the last one on, and changes nothing again
    writes = len([r for r in fake_jira.requests if r.method != "GET"])
    with django_capture_on_commit_callbacks(execute=True):
        result = connector_poll(connector=connector)
    assert result.issues == 1 and result.changed == 0
    assert 'updated >= "' in fake_jira.requests_to("GET", "/search/jql")[-1].query["jql"][0]
    assert len([r for r in fake_jira.requests if r.method != "GET"]) == writes
    assert WorkItem.objects.count() == 1
    from integrations.tasks import connectors_poll  # what beat runs

    assert connectors_poll() == {connector.name: 0}


def test_the_poll_pages_through_many_issues(org, project, connector, fake_jira) -> None:
    from integrations.connectors.jira import JiraAdapter

    for n in range(5):
        body = {"fields": {"project": {"key": "PAY"}, "summary": f"Issue {n}"}}
        remote(fake_jira, "POST", "/issue", body)
    fake_jira.page_size = 2
    found = list(JiraAdapter(connector).updated_since(project="PAY", since=None))
    assert [i.values["title"] for i in found] == [f"Issue {n}" for n in range(5)]
    searches = fake_jira.requests_to("GET", "/search/jql")
    assert [s.query.get("nextPageToken") for s in searches] == [None, ["2"], ["4"]]


def test_the_marker_search_takes_only_a_label_and_finds_the_oldest(
    org, project, connector, fake_jira
) -> None:
    from integrations.connectors.jira import JiraAdapter

    adapter = JiraAdapter(connector)
    for summary in ("First", "Second"):
        body = {"fields": {"project": {"key": "PAY"}, "summary": summary, "labels": ["m-1"]}}
        remote(fake_jira, "POST", "/issue", body)
    found = adapter.issue_labelled(project="PAY", label="m-1")
    assert found is not None and found.values["title"] == "First"
    assert found.labels == ("m-1",) and "labels" not in found.values
    assert adapter.issue_labelled(project="PAY", label="m-2") is None
    with pytest.raises(ValueError):
        adapter.issue_labelled(project="PAY", label='m-1" OR project = HR OR labels = "x')
    with pytest.raises(ValueError):
        adapter.issue_labelled(project="PAY OR 1=1", label="m-1")


# --- credentials, the page ---------------------------------------------------------------------
def test_the_api_token_is_encrypted_at_rest_or_read_from_a_setting(connector, settings) -> None:
    from integrations.connectors import secrets
    from tests.integrations.conftest import BOT_TOKEN

    stored = Connector.objects.get(pk=connector.pk)
    assert BOT_TOKEN not in stored.api_token_encrypted
    assert WEBHOOK_SECRET not in stored.webhook_secret_encrypted
    assert secrets.api_token(stored) == BOT_TOKEN
    settings.CONNECTOR_CREDENTIALS = {"PARTNER_JIRA": "from-the-environment"}
    stored.api_token_setting = "PARTNER_JIRA"
    assert secrets.api_token(stored) == "from-the-environment"


def test_the_work_item_page_shows_the_remote_issue_and_a_guarded_resync(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    link = link_of(defect)
    page = Client()
    page.force_login(org.developer)
    html = page.get(defect.get_absolute_url()).content.decode()
    assert f'href="{fake_jira.url}/browse/PAY-1"' in html
    assert 'data-sync-state="ok"' in html and 'data-action="resync"' in html
    # staff outside the project's team see the link, not the button; their POST is refused
    outsider = Client()
    outsider.force_login(org.agent)
    shown = outsider.get(defect.get_absolute_url())
    assert shown.status_code == 200 and 'data-action="resync"' not in shown.content.decode()
    url = f"/integrations/links/{link.pk}/resync/"
    assert outsider.post(url).status_code == 403
    # the project's developer asks: the remote's change comes in, Tandem's goes out
    remote(fake_jira, "PUT", "/issue/PAY-1", {"fields": {"priority": {"name": "Lowest"}}})
    with django_capture_on_commit_callbacks(execute=True):
        answer = page.post(url)
    assert answer.status_code == 302
    defect.refresh_from_db()
    assert defect.priority == 5
    assert AuditEvent.objects.filter(object_id=defect.pk, action="resync_requested").exists()
    assert link_of(defect).sync_state == "ok"


def test_no_connector_means_no_queries_on_the_write_path(
    org, project, django_assert_num_queries
) -> None:
    """Without a connector the handlers answer from the per-process cache."""
    defect = new_defect(org, project)
    from integrations.services import connectors

    connectors._active_mappings()  # warm
    with django_assert_num_queries(0):
        connectors.on_record_commented(comment=Comment(body="x"), record=defect)
    assert not OutboxMessage.objects.filter(channel="connector").exists()


# --- the admin pages ----------------------------------------------------------------------------
def _admin_form(client, url: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from tests.core.test_issue14_config_audit import _form_data

    page = client.get(url)
    assert page.status_code == 200
    data = _form_data(page)
    data["mappings-TOTAL_FORMS"] = data["mappings-INITIAL_FORMS"]  # no new mapping
    return data


def test_the_connector_admin_keeps_secrets_write_only_and_encrypted(
    admin_client, connector, fake_jira
) -> None:
    from integrations.connectors import secrets
    from tests.integrations.conftest import BOT_TOKEN

    url = f"/admin/integrations/connector/{connector.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert BOT_TOKEN not in page and WEBHOOK_SECRET not in page
    assert connector.api_token_encrypted not in page
    assert f"/api/v1/connectors/{connector.pk}/webhook/" in page
    data = _admin_form(admin_client, url)
    assert admin_client.post(url, data).status_code == 302  # secrets left empty: kept
    connector.refresh_from_db()
    assert secrets.api_token(connector) == BOT_TOKEN
    data.update(api_token="rotated-token", webhook_secret="rotated-secret")
    assert admin_client.post(url, data).status_code == 302
    connector.refresh_from_db()
    assert "rotated" not in connector.api_token_encrypted + connector.webhook_secret_encrypted
    assert secrets.api_token(connector) == "rotated-token"
    assert secrets.webhook_secret(connector) == "rotated-secret"
    data.update(field_map='{"title": "both", "assignee": "out"}')
    refused = admin_client.post(url, data)
    assert refused.status_code == 200 and "assignee: out" in refused.content.decode()


def test_only_an_administrator_allows_a_private_tracker(connector, fake_jira) -> None:
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(content_type__app_label="integrations"))
    client = Client()
    client.force_login(clerk)
    page = client.get(f"/admin/integrations/connector/{connector.pk}/change/")
    assert page.status_code == 200
    assert 'name="allow_private"' not in page.content.decode()
    assert 'name="active"' in page.content.decode()


def test_the_fake_jira_runs_for_a_demo() -> None:
    """``python -m tools.fake_jira`` serves the API on the port given."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tools.fake_jira", "--port", str(port), "--account", "a@b.c:t:A"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"127.0.0.1:{port}" in (process.stdout.readline() if process.stdout else "")
        answer = requests.get(
            f"http://127.0.0.1:{port}/rest/api/3/myself", auth=("a@b.c", "t"), timeout=5
        )
        assert answer.status_code == 200 and answer.json()["displayName"] == "A"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_issue_created_in_jira_becomes_a_defect_through_its_webhook(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    made = remote(
        fake_jira,
        "POST",
        "/issue",
        {"fields": {"project": {"key": "PAY"}, "summary": "Tax code 1257L ignored"}},
    )
    api = Client()
    with django_capture_on_commit_callbacks(execute=True):
        answer = webhook_post(
            api, connector, fake_jira, issue_event(fake_jira, made["key"], "jira:issue_created")
        )
    assert answer.status_code == 200 and answer.json()["code"] == "created", answer.content
    defect = WorkItem.objects.get(title="Tax code 1257L ignored")
    assert (defect.kind, defect.project, defect.reported_by) == ("defect", project, connector.actor)
    assert link_of(defect).remote_id == made["id"]
    assert not fake_jira.requests_to("POST", "/rest/api/3/issue")[1:]  # only the partner's
    assert not OutboxMessage.objects.filter(channel="connector").exists()
    # an issue of a project no connector maps is not Tandem's business
    other = issue_event(fake_jira, made["key"], "jira:issue_created")
    other["issue"]["fields"]["project"] = {"key": "HR"}
    other["issue"]["id"], other["issue"]["key"] = "99999", "HR-1"
    ignored = webhook_post(api, connector, fake_jira, other)
    assert ignored.status_code == 200 and ignored.json()["code"] == "ignored"
    assert WorkItem.objects.count() == 1


@pytest.mark.parametrize("who", ["developer", "requester", "nobody here"])
def test_a_defect_from_jira_is_reported_by_its_reporter_when_staff_here(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks, who
) -> None:
    """The Jira reporter's address names the Tandem user who reports the defect (and so
    watches it). A requester never does (a reporter watches the defect's internal notes),
    nor an address nobody here has: then the connector's user reports it, as before."""
    from core.watchers import is_watching

    email = getattr(org, who).email if hasattr(org, who) else "someone@partner.example"
    fake_jira.account(email.upper(), "their-token", "Their Name")  # case does not matter
    answer = requests.post(
        f"{fake_jira.url}/rest/api/3/issue",
        json={"fields": {"project": {"key": "PAY"}, "summary": "Overtime rounded down"}},
        auth=(email.upper(), "their-token"),
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    with django_capture_on_commit_callbacks(execute=True):
        posted = webhook_post(
            Client(),
            connector,
            fake_jira,
            issue_event(fake_jira, answer.json()["key"], "jira:issue_created"),
        )
    assert posted.json()["code"] == "created", posted.content
    defect = WorkItem.objects.get(title="Overtime rounded down")
    expected = org.developer if who == "developer" else connector.actor
    assert defect.reported_by == expected
    assert is_watching(expected, defect)
    if who == "requester":
        assert not is_watching(org.requester, defect)


def test_a_work_item_is_reported_by_staff_only(org, project) -> None:  # type: ignore[no-untyped-def]
    from core.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed, match="reporter"):
        ps.work_item_create(
            actor=org.developer,
            kind=Kind.DEFECT,
            project=project,
            title="Filed for a requester",
            reported_by=org.requester,
        )
    assert not WorkItem.objects.exists()


def test_a_tracker_on_a_private_network_is_refused_unless_allowed(
    org, project, connector, fake_jira, django_capture_on_commit_callbacks
) -> None:
    """The SSRF guard of integrations.http applies to connectors: 127.0.0.1 is refused
    (and retried, not lost) until an Administrator allows private receivers."""
    Connector.objects.filter(pk=connector.pk).update(allow_private=False)
    with django_capture_on_commit_callbacks(execute=True):
        defect = new_defect(org, project)
    message = OutboxMessage.objects.get(channel="connector", event="connector.create")
    assert message.status == "pending" and "private network" in message.last_error
    assert not fake_jira.requests
    Connector.objects.filter(pk=connector.pk).update(allow_private=True)
    assert outbox_deliver_one(message.pk)
    assert link_of(defect).remote_key == "PAY-1"


def test_a_remote_status_becomes_the_earliest_tandem_status_mapped_to_it(connector) -> None:
    """The map is a JSON object (PostgreSQL keeps no key order): the lifecycle decides."""
    from integrations.services.connectors.common import _status_in

    connector.status_map = {"wont_fix": "Done", "closed": "Done", "fixed": "Done", "open": "New"}
    connector.save()
    connector.refresh_from_db()
    assert _status_in(connector, WorkItem(status="in_progress"), "Done") == "fixed"
    assert _status_in(connector, WorkItem(status="closed"), "Done") == "closed"  # already is
    assert _status_in(connector, WorkItem(status="open"), "Review") is None
