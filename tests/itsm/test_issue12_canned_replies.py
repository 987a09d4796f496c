"""Issue 12, canned replies: personal and team replies kept through services (who may,
one audit row each), placeholders from a fixed list filled by plain replacement (names and
titles never executed, an unknown one refused naming it), the API with its render action,
the management page, and the picker on a ticket's reply box with the user's replies only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.exceptions import ActionForbidden, NotFound, ValidationFailed
from core.models import AuditEvent
from itsm.models import CannedReply, CatalogItem
from itsm.services import canned
from itsm.services.requests import request_submit
from tests.conftest import api_as

HELLO = "Hello {{ requester.first_name }}, {{ ticket.key }} ({{ ticket.title }}) is with us."


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _audit(reply_pk: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(content_type__model="cannedreply", object_id=reply_pk)
        .order_by("id")
        .values_list("action", flat=True)
    )


@pytest.fixture
def replies(org):  # type: ignore[no-untyped-def]
    """The desk's shared reply, the agent's own, and one of another desk's and person's."""
    return {
        "desk": canned.canned_reply_create(
            actor=org.agent, title="Acknowledge", body=HELLO, team=org.desk
        ),
        "mine": canned.canned_reply_create(
            actor=org.agent, title="Need a screenshot", body="Send a screenshot, please."
        ),
        "other_desk": canned.canned_reply_create(
            actor=org.agent_other, title="Branch only", body="Branch text", team=org.other_desk
        ),
        "theirs": canned.canned_reply_create(
            actor=org.agent_other, title="Private to another", body="Not yours"
        ),
    }


# --- services and permissions ----------------------------------------------------------
def test_create_update_delete_write_one_audit_row_each(org) -> None:  # type: ignore[no-untyped-def]
    reply = canned.canned_reply_create(actor=org.agent, title=" Hi ", body=HELLO, team=org.desk)
    assert (reply.title, reply.team, reply.owner, reply.created_by) == (
        "Hi",
        org.desk,
        None,
        org.agent,
    )
    canned.canned_reply_update(reply=reply, actor=org.agent, body="Thanks {{ agent.name }}")
    reply.refresh_from_db()
    assert reply.body == "Thanks {{ agent.name }}"
    pk = reply.pk
    canned.canned_reply_delete(reply=reply, actor=org.agent)
    assert not CannedReply.objects.filter(pk=pk).exists()
    assert _audit(pk) == ["created", "updated", "deleted"]
    updated = AuditEvent.objects.get(object_id=pk, action="updated")
    assert set(updated.changes) == {"body"}


def test_a_personal_reply_is_its_owners_alone(org, replies) -> None:  # type: ignore[no-untyped-def]
    mine = replies["mine"]
    assert mine.owner == org.agent and mine.team is None
    for outsider in (org.agent_other, org.admin):
        with pytest.raises(ActionForbidden):
            canned.canned_reply_update(reply=mine, actor=outsider, title="Taken")
        with pytest.raises(ActionForbidden):
            canned.canned_reply_delete(reply=mine, actor=outsider)
    assert _audit(mine.pk) == ["created"]


def test_a_team_reply_is_managed_by_its_members_and_administrators(org, replies) -> None:  # type: ignore[no-untyped-def]
    desk = replies["desk"]
    with pytest.raises(ActionForbidden):
        canned.canned_reply_update(reply=desk, actor=org.agent_other, title="Mine now")
    with pytest.raises(ActionForbidden, match="Only members of Branch Desk"):
        canned.canned_reply_create(actor=org.agent, title="x", body="y", team=org.other_desk)
    canned.canned_reply_update(reply=desk, actor=org.admin, title="Acknowledge (v2)")
    admin_made = canned.canned_reply_create(actor=org.admin, title="a", body="b", team=org.desk)
    assert admin_made.team == org.desk


def test_requesters_keep_no_canned_replies(org) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionForbidden):
        canned.canned_reply_create(actor=org.requester, title="x", body="y")
    assert list(canned.canned_replies_usable(org.requester)) == []


def test_the_usable_replies_are_the_users_own_and_their_teams(org, replies) -> None:  # type: ignore[no-untyped-def]
    assert [r.title for r in canned.canned_replies_usable(org.agent)] == [
        "Need a screenshot",  # personal first
        "Acknowledge",
    ]
    # an Administrator sees every team's on the page (to look after them), nobody's own
    visible = {r.title for r in canned.canned_replies_visible(org.admin)}
    assert visible == {"Acknowledge", "Branch only"}


def test_scope_is_fixed_and_text_is_checked_on_every_save(org, replies) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="cannot be edited: team"):
        canned.canned_reply_update(reply=replies["mine"], actor=org.agent, team=org.desk)
    with pytest.raises(ValidationFailed) as err:
        canned.canned_reply_create(actor=org.agent, title="  ", body="")
    assert set(err.value.errors) == {"title", "body"}
    with pytest.raises(ValidationFailed, match="at most 120"):
        canned.canned_reply_create(actor=org.agent, title="t" * 121, body="x")
    with pytest.raises(ValidationFailed, match="NUL"):
        canned.canned_reply_create(actor=org.agent, title="a\x00b", body="x")
    with pytest.raises(ValidationFailed, match="at most 20,000"):
        canned.canned_reply_create(actor=org.agent, title="long", body="x" * 20_001)


def test_an_unknown_placeholder_is_refused_naming_it(org, replies) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match=r"Unknown placeholder \{\{ requester.password \}\}"):
        canned.canned_reply_create(
            actor=org.agent, title="x", body="Hi {{requester.password}} {{ ticket.key }}"
        )
    with pytest.raises(ValidationFailed, match=r"\{\{ request.user \}\}") as err:
        canned.canned_reply_update(
            reply=replies["mine"], actor=org.agent, body="{{ request.user }}"
        )
    assert "body" in err.value.errors
    assert CannedReply.objects.get(pk=replies["mine"].pk).body == "Send a screenshot, please."


# --- placeholders ----------------------------------------------------------------------
def test_placeholders_fill_for_an_incident(org, new_incident, replies) -> None:  # type: ignore[no-untyped-def]
    org.requester.first_name = "Rita"
    org.agent.first_name, org.agent.last_name = "Alex", "Agent"
    body = "{{ requester.first_name }}|{{requester.name}}|{{ ticket.key }}|{{ ticket.title }}|"
    body += "{{ ticket.service }}|{{ ticket.url }}|{{ agent.first_name }}|{{ agent.name }}"
    reply = canned.canned_reply_create(actor=org.agent, title="all", body=body)
    filled = canned.canned_render(reply=reply, ticket=new_incident, agent=org.agent)
    assert filled.split("|") == [
        "Rita",
        org.requester.get_full_name(),
        new_incident.key,
        "Payslip shows wrong tax code",
        "Payroll",
        f"http://tandem.test/incidents/{new_incident.key}/",
        "Alex",
        "Alex Agent",
    ]


def test_names_and_titles_are_text_never_template_or_markup(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    org.requester.first_name = "{{ agent.name }}{% debug %}"
    org.requester.save()
    new_incident.title = "<script>alert(1)</script> **bold** {{ settings.SECRET_KEY }}"
    reply = canned.canned_reply_create(
        actor=org.agent, title="x", body="Hi {{ requester.first_name }}: {{ ticket.title }}"
    )
    filled = canned.canned_render(reply=reply, ticket=new_incident, agent=org.agent)
    # filled once, in one pass: a value that reads like a placeholder or a tag stays text,
    # escaped for Markdown so the reply shows it as typed
    assert filled == (
        r"Hi \{\{ agent.name \}\}\{% debug %\}: \<script\>alert(1)\</script\> \*\*bold\*\* "
        r"\{\{ settings.SECRET\_KEY \}\}"
    )
    from core.markdown import render_rich_text

    html = render_rich_text(filled)
    assert "<script" not in html and "<strong>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **bold**" in html


def test_placeholders_fill_for_a_service_request(org, replies) -> None:  # type: ignore[no-untyped-def]
    item = CatalogItem.objects.create(
        name="VPN access", service=org.service, fulfilment_team=org.support
    )
    req = request_submit(actor=org.requester, item=item, answers={})
    ticket = canned.canned_ticket(org.agent, req.key.lower())
    filled = canned.canned_render(reply=replies["desk"], ticket=ticket, agent=org.agent)
    assert f"{req.key} (VPN access) is with us" in filled


def test_a_ticket_is_named_by_a_key_the_user_may_see(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="by its key"):
        canned.canned_ticket(org.agent, str(new_incident.pk))
    with pytest.raises(NotFound):
        canned.canned_ticket(org.agent, "INC-999999")
    with pytest.raises(NotFound):
        canned.canned_ticket(org.requester2, new_incident.key)  # someone else's incident


# --- API -------------------------------------------------------------------------------
def test_api_lists_creates_updates_and_deletes(org, replies) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.agent)
    listed = api.get("/api/v1/canned-replies/").json()["results"]
    assert [(r["title"], r["scope"]) for r in listed] == [
        ("Need a screenshot", "personal"),
        ("Acknowledge", "team"),
    ]
    made = api.post(
        "/api/v1/canned-replies/",
        {"title": "Closing", "body": "Closing {{ ticket.key }}.", "team": org.desk.pk},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["team"]["name"] == "Service Desk" and made.json()["owner"] is None
    pk = made.json()["id"]
    patched = api.patch(f"/api/v1/canned-replies/{pk}/", {"title": "Closed"}, format="json")
    assert patched.status_code == 200 and patched.json()["title"] == "Closed"
    assert (
        api.patch(f"/api/v1/canned-replies/{pk}/", {"team": None}, format="json").status_code == 400
    )
    assert api.delete(f"/api/v1/canned-replies/{pk}/").status_code == 204
    assert _audit(pk) == ["created", "updated", "deleted"]


def test_api_refuses_what_the_services_refuse(org, replies) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.agent)
    bad = api.post(
        "/api/v1/canned-replies/", {"title": "x", "body": "{{ ticket.owner }}"}, format="json"
    )
    assert bad.status_code == 400 and "{{ ticket.owner }}" in bad.json()["detail"]
    other = api.post(
        "/api/v1/canned-replies/",
        {"title": "x", "body": "y", "team": org.other_desk.pk},
        format="json",
    )
    assert other.status_code == 403
    for team in (99999, 2**70):
        made = api.post(
            "/api/v1/canned-replies/", {"title": "x", "body": "y", "team": team}, format="json"
        )
        assert made.status_code == 400
    # another person's reply and another team's are not there at all
    for key in ("theirs", "other_desk"):
        assert api.get(f"/api/v1/canned-replies/{replies[key].pk}/").status_code == 404
        assert api.delete(f"/api/v1/canned-replies/{replies[key].pk}/").status_code == 404
    assert api.get("/api/v1/canned-replies/99999999999999999999/").status_code == 404
    assert api_as(org.requester).get("/api/v1/canned-replies/").json()["results"] == []
    assert (
        api_as(org.requester)
        .post("/api/v1/canned-replies/", {"title": "x", "body": "y"}, format="json")
        .status_code
        == 403
    )


def test_api_renders_a_reply_for_a_ticket(org, new_incident, replies) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.agent)
    url = f"/api/v1/canned-replies/{replies['desk'].pk}/render/"
    r = api.get(url, {"ticket": new_incident.key})
    first = org.requester.first_name
    assert r.status_code == 200
    assert r.json() == {
        "body": f"Hello {first}, {new_incident.key} (Payslip shows wrong tax code) is with us."
    }
    assert api.get(url, {"ticket": "INC-424242"}).status_code == 404
    assert api.get(url).status_code == 400
    assert api.get(url, {"ticket": "PRB-1"}).status_code == 400


# --- page ------------------------------------------------------------------------------
def test_page_lists_personal_and_team_replies(org, replies) -> None:  # type: ignore[no-untyped-def]
    page = _client(org.agent).get("/desk/canned/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Need a screenshot" in html and "Acknowledge" in html
    assert "Branch only" not in html and "Private to another" not in html
    assert 'href="/desk/canned/"' in _client(org.agent).get("/desk/").content.decode()
    assert _client(org.requester).get("/desk/canned/").status_code == 404


def test_page_query_count_does_not_grow_with_replies(org, replies) -> None:  # type: ignore[no-untyped-def]
    agent = _client(org.agent)
    agent.get("/desk/canned/")  # warm the session and content types

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert agent.get("/desk/canned/").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for i in range(5):
        canned.canned_reply_create(actor=org.agent, title=f"t{i}", body="b", team=org.desk)
    assert count() == before


def test_page_creates_edits_and_deletes_keeping_the_form_on_errors(org, replies) -> None:  # type: ignore[no-untyped-def]
    agent = _client(org.agent)
    assert agent.get("/desk/canned/new/").status_code == 200
    bad = agent.post(
        "/desk/canned/new/",
        {"title": "Welcome", "body": "Hi {{ requester.nickname }}", "team": org.desk.pk},
    )
    html = bad.content.decode()
    assert bad.status_code == 400 and "{{ requester.nickname }}" in html
    assert 'value="Welcome"' in html and f'value="{org.desk.pk}" selected' in html
    other = agent.post("/desk/canned/new/", {"title": "x", "body": "y", "team": org.other_desk.pk})
    assert other.status_code == 400 and "Choose one of your teams" in other.content.decode()
    ok = agent.post(
        "/desk/canned/new/",
        {"title": "Welcome", "body": "Hi {{ requester.first_name }}", "team": org.desk.pk},
    )
    assert ok.status_code == 302 and ok["Location"] == "/desk/canned/"
    made = CannedReply.objects.get(title="Welcome")
    assert made.team == org.desk
    edit = agent.post(f"/desk/canned/{made.pk}/edit/", {"title": "", "body": "still here"})
    assert edit.status_code == 400 and "still here" in edit.content.decode()
    agent.post(f"/desk/canned/{made.pk}/edit/", {"title": "Welcome!", "body": "Hi"})
    made.refresh_from_db()
    assert made.title == "Welcome!"
    assert agent.post(f"/desk/canned/{made.pk}/delete/").status_code == 302
    assert not CannedReply.objects.filter(pk=made.pk).exists()
    theirs = replies["theirs"].pk
    assert agent.get(f"/desk/canned/{theirs}/edit/").status_code == 404
    assert agent.post(f"/desk/canned/{theirs}/delete/").status_code == 404
    assert agent.get("/desk/canned/99999999999999999999/edit/").status_code == 404


# --- picker ----------------------------------------------------------------------------
def test_picker_on_the_incident_page_has_the_users_replies_filled(
    org, new_incident, replies
) -> None:  # type: ignore[no-untyped-def]
    html = _client(org.agent).get(new_incident.get_absolute_url()).content.decode()
    assert 'data-canned-for="comment-body"' in html and "js/canned.js" in html
    assert "Need a screenshot" in html and "Acknowledge" in html
    assert f"{new_incident.key} (Payslip shows wrong tax code) is with us." in html
    assert "Branch only" not in html and "Private to another" not in html
    # a requester replying on their own incident gets no picker
    own = _client(org.requester).get(new_incident.get_absolute_url()).content.decode()
    assert 'id="comment-body"' in own and "data-canned-for" not in own


def test_picker_on_the_request_page(org, replies) -> None:  # type: ignore[no-untyped-def]
    item = CatalogItem.objects.create(
        name="VPN access", service=org.service, fulfilment_team=org.desk
    )
    req = request_submit(actor=org.requester, item=item, answers={})
    html = _client(org.agent).get(req.get_absolute_url()).content.decode()
    assert 'data-canned-for="comment-body"' in html
    assert f"{req.key} (VPN access) is with us." in html


def test_picker_costs_the_same_queries_however_many_replies(org, new_incident, replies) -> None:  # type: ignore[no-untyped-def]
    agent = _client(org.agent)
    url = new_incident.get_absolute_url()
    agent.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert agent.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for i in range(5):
        canned.canned_reply_create(actor=org.agent, title=f"t{i}", body="b {{ ticket.key }}")
    assert count() == before
