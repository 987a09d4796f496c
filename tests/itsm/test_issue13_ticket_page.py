"""Issue 13: a ticket page's SQL does not grow with its activity. The incident page and the
request page are read with the same number of statements whether the ticket has a couple
of comments and history rows or thirty: the timeline, the people its rows name, the SLA
clocks' "why" log, the watchers and the files are each read once, not once per row.
(Speed is measured by ``bench/ticket_page.py``, not here.)"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.attachments import attachment_add
from core.watchers import watch_add
from itsm import services
from itsm.services.problems import problem_create
from itsm.services.requests import request_comment, request_submit
from tests.itsm.test_requests import mouse  # noqa: F401  (fixture)

# The statements of the busy pages below, pinned: a new one per page is a decision, not
# an accident (session and user, roles, the ticket with its clocks and linked records,
# the timeline in one query per part, the panels, the bell).
INCIDENT_PAGE_SQL = 31  # the calendar hours and holidays kept per process (core.refcache)
REQUEST_PAGE_SQL = 14


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def busy_incident(org, rounds: int):  # type: ignore[no-untyped-def]
    """An incident an agent works: per round a reassignment (a history row naming people),
    a reply, a note, a hold and a resume (clock events caused by audit rows)."""
    org.desk.members.add(org.agent_other)
    incident = services.incident_create(
        actor=org.requester, service=org.service, title="Payslips show the wrong tax code"
    )
    for n in range(rounds):
        assignee = org.agent if n % 2 == 0 else org.agent_other
        incident = services.incident_assign(incident=incident, actor=org.agent, assignee=assignee)
    incident = services.incident_assign(incident=incident, actor=org.agent, assignee=org.agent)
    incident = services.incident_start(incident=incident, actor=org.agent)
    watch_add(record=incident, user=org.incident_manager, actor=org.agent)
    attachment_add(
        target=incident,
        actor=org.agent,
        file=SimpleUploadedFile("log.txt", b"line\n" * 10, content_type="text/plain"),
        public=True,
    )
    problem_create(
        actor=org.problem_manager,
        title="Stale tax table",
        service=org.service,
        incidents=[incident],
    )
    for n in range(rounds):
        services.incident_comment(incident=incident, actor=org.requester, body=f"Any news {n}?")
        services.incident_comment(
            incident=incident, actor=org.agent, body=f"Note {n} for @agent", public=False
        )
        incident = services.incident_hold(
            incident=incident, actor=org.agent, reason="awaiting_vendor"
        )
        incident = services.incident_resume(incident=incident, actor=org.agent)
    return incident


@pytest.mark.parametrize("viewer", ["agent", "requester"])
def test_incident_page_sql_is_the_same_for_two_or_thirty_rows_of_activity(org, viewer) -> None:  # type: ignore[no-untyped-def]
    small = busy_incident(org, rounds=1)
    large = busy_incident(org, rounds=10)
    client = client_for(getattr(org, viewer))
    client.get(f"/incidents/{small.key}/")  # the content types and the session, warmed

    counts = {}
    for incident in (small, large):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/incidents/{incident.key}/")
        assert response.status_code == 200
        counts[incident.key] = len(captured.captured_queries)
    page = response.content.decode()
    assert page.count('<li class="comment') >= 20 if viewer == "agent" else 10
    assert counts[small.key] == counts[large.key], counts
    if viewer == "agent":
        # the busy page shows the reassignments by name and every "why" of its clocks
        assert "Note 9 for" in page and "Assignee" in page and "caused by" in page
        assert counts[large.key] == INCIDENT_PAGE_SQL, counts


def test_the_agents_incident_page_is_pinned(org, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    incident = busy_incident(org, rounds=15)
    client = client_for(org.agent)
    client.get(f"/incidents/{incident.key}/")
    with django_assert_num_queries(INCIDENT_PAGE_SQL):
        assert client.get(f"/incidents/{incident.key}/").status_code == 200


def busy_request(org, item, rounds: int):  # type: ignore[no-untyped-def]
    req = request_submit(actor=org.requester, item=item, answers={})
    for n in range(rounds):
        request_comment(request=req, actor=org.requester, body=f"When {n}?")
        request_comment(request=req, actor=org.support2, body=f"Soon {n}.")
        request_comment(request=req, actor=org.support2, body=f"Note {n}", public=False)
    return req


def test_request_page_sql_is_the_same_for_two_or_thirty_comments(
    org,
    mouse,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    small = busy_request(org, mouse, rounds=1)
    large = busy_request(org, mouse, rounds=10)
    client = client_for(org.support2)
    client.get(f"/requests/{small.key}/")
    counts = {}
    for req in (small, large):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/requests/{req.key}/").status_code == 200
        counts[req.key] = len(captured.captured_queries)
    assert counts[small.key] == counts[large.key] == REQUEST_PAGE_SQL, counts


def test_comments_markdown_is_rendered_as_one_at_a_time_and_cached(db) -> None:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    from core.markdown import _key, render_markdown, render_markdown_many

    texts = ["**bold** and https://example.com", "", "- a\n- b", "**bold** and https://example.com"]
    cache.clear()
    many = render_markdown_many(texts)
    assert many == [render_markdown(t) for t in texts]
    assert many[1] == "" and "<strong>bold</strong>" in many[0] and "<li>a</li>" in many[2]
    # what one page rendered, the next page reads from the cache
    assert cache.get(_key(texts[2])) == many[2]


def test_the_assign_form_lists_each_teams_active_people_as_the_template_loop_did(org) -> None:  # type: ignore[no-untyped-def]
    """The Assign form's people come as plain values rendered in Python (a template loop
    over every member of every team cost a third of a busy page): each team's active
    members by name, me marked, the refused post's choice kept."""
    from django.template import Context, Template

    from core.models import Team
    from core.selectors import team_members

    org.agent_other.is_active = False  # no longer works here: not offered
    org.agent_other.save()
    org.desk.members.add(org.agent_other)
    incident = services.incident_create(actor=org.requester, service=org.service, title="Lost")
    html = client_for(org.agent).get(incident.get_absolute_url()).content.decode()
    teams = list(Team.objects.order_by("tier", "name"))
    posted = {"assignee": str(org.agent.pk)}
    # what the template loop wrote, over the same people in the same order
    old = Template(
        '{% load tandem %}{% for team in teams %}<optgroup label="{{ team.name }}">'
        '{% for m in team.people %}<option value="{{ m.pk }}" '
        '{% if m.pk == user.pk %}data-me="1"{% endif %}'
        '{% if open_form == "assign" and posted.assignee == m.pk|stringformat:"s" %}'
        " selected{% endif %}>{{ m|actor_label }}</option>{% endfor %}</optgroup>{% endfor %}"
    )
    for team in teams:
        team.people = sorted(
            team.members.filter(is_active=True),
            key=lambda u: (u.first_name, u.last_name, u.username, u.pk),
        )
    new = Template("{% load desk %}{% assignee_groups %}")
    for open_form in ("", "assign"):
        context = {
            "teams": teams,
            "team_members": team_members(),
            "user": org.agent,
            "open_form": open_form,
            "posted": posted,
        }
        assert new.render(Context(context)) == old.render(Context(context))
    shown = new.render(Context({**context, "open_form": ""}))
    assert shown in html  # the page shows exactly this
    assert f'value="{org.agent.pk}" data-me="1">' in shown
    assert f'value="{org.agent_other.pk}"' not in shown
    assert f'value="{org.agent.pk}" data-me="1" selected>' in new.render(Context(context))
