"""Issue 12, one ticket in few clicks: every action on the incident page posts with HTMX and
is answered with the page's ticket region (chips, actions, SLA panel, fields, watchers,
reply box, timeline), never a full page; a refused action comes back as the region with
its form open, as posted, and its 4xx. The reply box tops the activity with a public /
internal switch, and a requester adds colleagues as participants on their own incident."""

from __future__ import annotations

from django.test import Client

from core.models import AuditEvent, Comment, Watch
from itsm import services
from itsm.models import Incident
from tests.conftest import drive
from tests.itsm.test_requests import mouse  # noqa: F401  (fixture)

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "ticket"}


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _region(response) -> str:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    assert "<html" not in html and 'id="ticket"' in html, html[:300]
    return html


def _url(incident: Incident, action: str = "") -> str:
    return f"/incidents/{incident.key}/{action}"


def _open_form(html: str, name: str) -> bool:
    tag = html[html.index(f'data-transition="{name}"') - 40 :].split(">", 1)[0]
    return " open" in tag


# --- each action answers with the region -------------------------------------------------
def test_take_with_htmx_returns_the_region_with_the_new_state_and_actions(  # type: ignore[no-untyped-def]
    org,
    new_incident,
) -> None:
    r = _client(org.agent).post(_url(new_incident, "take/"), **HTMX)
    assert r.status_code == 200
    html = _region(r)
    assert 'class="badge st-assigned"' in html
    assert 'data-action="take"' not in html  # the holder is not offered it again
    assert 'data-transition="resolve"' in html  # resolve straight from assigned
    assert Incident.objects.get(pk=new_incident.pk).assignee == org.agent


def test_a_take_from_the_queue_row_still_goes_back_to_the_queue(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """An HTMX post aimed at another element (a queue) is not answered with the region."""
    r = _client(org.agent).post(
        _url(new_incident, "take/"),
        {"next": "/desk/"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="queue",
    )
    assert r.status_code == 302 and r["Location"] == "/desk/"


def test_each_transition_with_htmx_returns_the_region_the_new_state_allows(  # type: ignore[no-untyped-def]
    org,
    new_incident,
) -> None:
    agent = _client(org.agent)
    steps = [
        ("assign", {"assignee": org.agent.pk}, "assigned", "start", "resume"),
        ("start", {}, "in_progress", "hold", "start"),
        ("hold", {"reason": "awaiting_vendor"}, "on_hold", "resume", "hold"),
        ("resume", {}, "in_progress", "resolve", "resume"),
        (
            "resolve",
            {"resolution_code": "fixed", "resolution_notes": "Cleared the cache."},
            "resolved",
            "reopen",
            "resolve",
        ),
    ]
    for name, data, state, offered, gone in steps:
        r = agent.post(_url(new_incident, f"transitions/{name}/"), data, **HTMX)
        assert r.status_code == 200, (name, r.content[:300])
        html = _region(r)
        assert f'class="badge st-{state}"' in html, name
        assert f'data-transition="{offered}"' in html, name
        assert f'data-transition="{gone}"' not in html, name
        # the timeline and the SLA panel come back with it
        assert html.index('id="timeline"') > html.index('id="activity"')
    assert Incident.objects.get(pk=new_incident.pk).status == "resolved"
    assert "Cleared the cache." in html  # the resolution, shown in the region


def test_edit_with_htmx_returns_the_region_with_the_new_fields(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    r = _client(org.agent).post(
        _url(new_incident, "edit/"),
        {
            "title": "Payslip tax code wrong for everyone",
            "service": org.service.pk,
            "category": new_incident.category,
            "impact": "high",
            "urgency": "high",
        },
        **HTMX,
    )
    assert r.status_code == 200
    html = _region(r)
    assert "Payslip tax code wrong for everyone" in html
    assert 'class="badge prio-1"' in html  # the priority follows impact × urgency


def test_reply_and_note_with_htmx_return_the_region_with_the_new_entry_first(  # type: ignore[no-untyped-def]
    org,
    new_incident,
) -> None:
    agent = _client(org.agent)
    agent.post(_url(new_incident, "comments/"), {"body": "First reply", "visibility": "public"})
    r = agent.post(
        _url(new_incident, "comments/"),
        {"body": "Checked the logs", "visibility": "internal"},
        **HTMX,
    )
    assert r.status_code == 200
    html = _region(r)
    assert html.index("Checked the logs") < html.index("First reply")  # newest first
    note = html[: html.index("Checked the logs")].rsplit("<li", 1)[1]
    assert "internal" in note  # drawn as an internal note
    assert Comment.objects.get(body="Checked the logs").public is False
    assert Comment.objects.get(body="First reply").public is True
    assert 'id="comment-body" rows="4" required' in html  # the box comes back empty
    assert "Checked the logs</textarea>" not in html


def test_the_page_get_aimed_at_the_region_returns_the_region(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """The shared panels' views (watchers, attachments) redirect to the page; htmx follows
    with the same headers and gets the region."""
    client = _client(org.agent)
    _region(client.get(_url(new_incident), **HTMX))
    assert b"<html" in client.get(_url(new_incident)).content


def test_without_javascript_each_action_still_redirects_to_the_page(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    agent = _client(org.agent)
    assert agent.post(_url(new_incident, "take/"))["Location"] == _url(new_incident)
    r = agent.post(_url(new_incident, "comments/"), {"body": "hi"})
    assert r.status_code == 302 and r["Location"] == _url(new_incident)


# --- refusals: the region, the form open as posted, the reason, a 4xx ---------------------
def test_a_refused_assignment_returns_the_region_with_the_form_as_posted(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    r = _client(org.agent).post(
        _url(new_incident, "transitions/assign/"),
        {"assignee": org.support2.pk, "comment": "over to you"},
        **HTMX,
    )
    assert r.status_code == 400
    html = _region(r)
    assert _open_form(html, "assign") and "is not a member of" in html
    assert "over to you</textarea>" in html
    chosen = html[html.index(f'<option value="{org.support2.pk}"') :].split(">", 1)[0]
    assert "selected" in chosen
    assert "assign" not in AuditEvent.objects.filter(object_id=new_incident.pk).values_list(
        "action", flat=True
    )


def test_an_invalid_transition_form_returns_the_region_with_the_field_error(  # type: ignore[no-untyped-def]
    org,
    new_incident,
) -> None:
    incident = drive(new_incident, org, "in_progress")
    r = _client(org.agent).post(
        _url(incident, "transitions/resolve/"),
        {"resolution_code": "fixed", "comment": "almost"},
        **HTMX,
    )
    assert r.status_code == 400
    html = _region(r)
    assert _open_form(html, "resolve") and "This field is required" in html
    assert "almost</textarea>" in html
    assert Incident.objects.get(pk=incident.pk).status == "in_progress"


def test_a_forbidden_or_impossible_transition_returns_the_region_with_the_reason(  # type: ignore[no-untyped-def]
    org,
    new_incident,
) -> None:
    r = _client(org.requester).post(
        _url(new_incident, "transitions/assign/"), {"assignee": org.agent.pk}, **HTMX
    )
    assert r.status_code == 403
    html = _region(r)
    assert "Not allowed." in html and "data-form-error" in html
    r = _client(org.agent).post(_url(new_incident, "transitions/reopen/"), {"reason": "x"}, **HTMX)
    assert r.status_code == 409
    assert "Not possible now." in _region(r)
    r = _client(org.agent).post(_url(new_incident, "transitions/explode/"), {}, **HTMX)
    assert r.status_code == 403 and "No transition" in _region(r)


def test_a_refused_edit_returns_the_region_with_the_edit_form_open(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    r = _client(org.agent).post(
        _url(new_incident, "edit/"),
        {"title": "", "service": org.service.pk, "impact": "high", "urgency": "bogus"},
        **HTMX,
    )
    assert r.status_code == 400
    html = _region(r)
    assert _open_form(html, "edit") and "errorlist" in html


def test_an_empty_note_keeps_the_box_on_the_side_chosen(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    r = _client(org.agent).post(
        _url(new_incident, "comments/"), {"body": "   ", "visibility": "internal"}, **HTMX
    )
    assert r.status_code == 400
    html = _region(r)
    assert 'id="comment-error"' in html and "The comment is empty." in html
    assert 'value="internal" checked' in html and "visibility-internal" in html
    assert not Comment.objects.exists()


# --- the reply box -----------------------------------------------------------------------
def test_the_reply_box_sits_above_the_timeline_with_a_public_internal_switch(  # type: ignore[no-untyped-def]
    org,
    new_incident,
) -> None:
    html = _client(org.agent).get(_url(new_incident)).content.decode()
    activity = html[html.index('id="activity"') :]
    assert activity.index('id="comment-body"') < activity.index('id="timeline"')
    assert 'data-visibility="public"' in activity and 'data-visibility="internal"' in activity
    assert 'value="public" checked' in activity  # a public reply unless switched
    assert "Public reply" in activity and "Internal work note" in activity
    assert "data-suggest-url=" in activity  # @mention suggestions from the shared box


def test_the_requester_replies_only_in_public(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    requester = _client(org.requester)
    html = requester.get(_url(new_incident)).content.decode()
    assert 'id="comment-body"' in html and 'data-visibility="internal"' not in html
    assert '<input type="hidden" name="visibility" value="public">' in html
    r = requester.post(
        _url(new_incident, "comments/"), {"body": "sneaky", "visibility": "internal"}, **HTMX
    )
    assert r.status_code == 403 and not Comment.objects.filter(body="sneaky").exists()


def test_a_mention_in_the_reply_box_notifies_the_colleague(  # type: ignore[no-untyped-def]
    org,
    new_incident,
    django_capture_on_commit_callbacks,
) -> None:
    from core.models import OutboxMessage

    with django_capture_on_commit_callbacks(execute=True):
        r = _client(org.agent).post(
            _url(new_incident, "comments/"),
            {"body": "@support2 can you look?", "visibility": "internal"},
            **HTMX,
        )
    assert r.status_code == 200
    assert OutboxMessage.objects.filter(recipients=[org.support2.email]).exists()


# --- participants ------------------------------------------------------------------------
def _watch_url(incident: Incident, op: str = "") -> str:
    return f"/watchers/itsm.incident/{incident.pk}/{op}"


def test_a_requester_adds_a_colleague_as_participant_on_their_own_incident(  # type: ignore[no-untyped-def]
    org,
    new_incident,
) -> None:
    requester = _client(org.requester)
    html = requester.get(_url(new_incident)).content.decode()
    assert 'data-action="add-participant"' in html
    r = requester.post(_watch_url(new_incident), {"username": "requester2"})
    assert r.status_code == 302
    assert Watch.objects.filter(user=org.requester2, object_id=new_incident.pk).exists()
    # the participant opens it as the requester does: public replies, not internal notes
    services.incident_comment(incident=new_incident, actor=org.agent, body="pub", public=True)
    services.incident_comment(incident=new_incident, actor=org.agent, body="int", public=False)
    colleague = _client(org.requester2)
    page = colleague.get(_url(new_incident))
    assert page.status_code == 200
    assert b"pub" in page.content and b">int<" not in page.content
    # ... but does not manage its participants
    assert b'data-action="add-participant"' not in page.content
    assert colleague.post(_watch_url(new_incident), {"username": "agent_other"}).status_code == 403
    # the requester sees and removes the colleague they added
    html = requester.get(_url(new_incident)).content.decode()
    assert "@requester2" in html
    r = requester.post(_watch_url(new_incident, "remove/"), {"username": "requester2"})
    assert r.status_code == 302
    assert colleague.get(_url(new_incident)).status_code == 404


def test_a_requester_manages_participants_only_on_their_own_incident(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    theirs = services.incident_create(
        actor=org.requester2, service=org.service, title="other", impact="low", urgency="low"
    )
    requester = _client(org.requester)
    assert requester.post(_watch_url(theirs), {"username": "requester"}).status_code == 404
    # on their own, they add colleagues but do not remove who works it
    services.incident_take(incident=new_incident, actor=org.agent)
    r = requester.post(_watch_url(new_incident, "remove/"), {"username": "agent"})
    assert r.status_code == 403
    assert Watch.objects.filter(user=org.agent, object_id=new_incident.pk).exists()
    # colleagues, not support staff
    r = requester.post(_watch_url(new_incident), {"username": "support2"})
    assert r.status_code == 400 and b"only colleagues" in r.content
    # a participant is added with one audit row
    requester.post(_watch_url(new_incident), {"username": "requester2"})
    assert AuditEvent.objects.filter(object_id=new_incident.pk, action="watcher_added").count() == 1


def test_watchers_post_in_place_from_the_region(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    html = _client(org.agent).get(_url(new_incident)).content.decode()
    watchers = html[html.index('<div data-in-place><section class="panel" id="watchers"') :]
    assert "/watchers/itsm.incident/" in watchers.split("</section>", 1)[0]


# --- the service request page, the same way ----------------------------------------------
def test_request_actions_with_htmx_return_the_region(org, mouse) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from itsm.services import requests as rs

    req = rs.request_submit(actor=org.requester, item=mouse, answers={})
    support = _client(org.support2)
    base = f"/requests/{req.key}/"
    html = support.get(base).content.decode()
    activity = html[html.index('id="activity"') :]
    assert activity.index('id="comment-body"') < activity.index('id="timeline"')
    assert 'data-visibility="internal"' in activity
    r = support.post(base + "transitions/start_fulfilment/", {}, **HTMX)
    assert r.status_code == 200
    html = _region(r)
    assert 'class="badge rst-fulfilling"' in html
    assert 'data-transition="start_fulfilment"' not in html
    task = req.tasks.get()
    r = support.post(base + f"tasks/{task.pk}/complete/", {}, **HTMX)
    assert r.status_code == 200 and 'class="badge rst-fulfilled"' in _region(r)
    r = support.post(base + "comments/", {"body": "Delivered to desk 4"}, **HTMX)
    assert r.status_code == 200 and "Delivered to desk 4" in _region(r)
    # refusals: the region with the reason and the 4xx
    r = support.post(base + "transitions/start_fulfilment/", {}, **HTMX)
    assert r.status_code in (403, 409) and "data-form-error" in _region(r)
    r = support.post(base + "comments/", {"body": " ", "visibility": "internal"}, **HTMX)
    assert r.status_code == 400
    html = _region(r)
    assert 'id="comment-error"' in html and 'value="internal" checked' in html
    # without JavaScript: the redirect, as before
    r = _client(org.requester).post(base + "comments/", {"body": "thanks"})
    assert r.status_code == 302 and r["Location"] == base
