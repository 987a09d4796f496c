"""Issue 13: the desk's queue rows are built in one pass of Python (``{% queue_rows %}``)
and write the same HTML, byte for byte, as the template loop they replace, for every column
choice and every kind of row."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django import forms
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.template import Context, Template
from django.test import Client
from django.utils import timezone
from django.utils.safestring import mark_safe

from core.models import Service
from itsm import services
from itsm.models import DEFAULT_COLUMNS, DESK_COLUMNS, Incident
from itsm.templatetags.desk import queue_rows
from itsm.views.desk_widgets import DESK_WIDGETS
from sla.models import SlaClock, SlaPolicy
from sla.selectors import ClockView
from tests.conftest import api_as, drive

# The loop of templates/itsm/_queue.html before issue 13, kept as the reference.
BEFORE = Template(
    (Path(__file__).parent / "reference" / "issue13_queue_rows_before.html").read_text()
)
ALL = [key for key, _ in DESK_COLUMNS]
COLUMN_SETS = [
    ALL,
    list(DEFAULT_COLUMNS),
    [c for c in ALL if c != "requester"],  # the title cell names the requester instead
    [],
    *[[c] for c in ALL],
]
NOW = datetime(2026, 3, 9, 23, 50, 7, 123456, tzinfo=UTC)


def _clock(target: str, level: str, *, due: datetime | None, remaining: float) -> ClockView:
    policy = SlaPolicy(name='P1 <"gold"> & co')
    clock = SlaClock(target=target, policy=policy, target_seconds=4 * 3600)
    state = {"met": "met", "cancelled": "cancelled", "paused": "paused"}.get(level, "running")
    return ClockView(
        clock, target, state, level == "breached", due, 3600, remaining, 81, level,
        working_day=8 * 3600 if target == "resolution" else None,
    )  # fmt: skip


CLOCKS = [
    [],
    [_clock("response", "ok", due=NOW + timedelta(hours=2), remaining=7200)],
    [
        _clock("response", "warning", due=NOW + timedelta(minutes=30), remaining=1800),
        _clock("resolution", "danger", due=NOW + timedelta(days=40), remaining=30 * 3600),
    ],
    [
        _clock("response", "breached", due=NOW - timedelta(hours=1), remaining=-3600),
        _clock("resolution", "paused", due=NOW + timedelta(days=2), remaining=9000),
    ],
    [
        _clock("response", "met", due=NOW, remaining=100),
        _clock("resolution", "cancelled", due=None, remaining=0),
    ],
    [_clock("resolution", "paused", due=None, remaining=-5)],
]


def _rows(org) -> list[Incident]:  # type: ignore[no-untyped-def]
    """Unsaved incidents with every kind of row the queue shows: major, hypercare, a
    linked defect with and without a release, unassigned, takeable (new or assigned in my
    team) or not, no team, a requester without a full name, text that needs escaping,
    every SLA level, dates across a month and a year's end."""
    User = get_user_model()
    named = User(pk=9001, username="jo", first_name="Jo <b>", last_name="O'Neil", email="j@x.io")
    bare = User(pk=9002, username="caller&1", email='"q"@x.io')
    service = Service(pk=9003, name="Pay & <roll>")
    rows = []
    statuses = ["new", "assigned", "in_progress", "on_hold", "resolved", "new", "cancelled"]
    for i in range(14):
        status = statuses[i % len(statuses)]
        created = NOW - timedelta(days=i * 17, minutes=i * 7)
        inc = Incident(
            status=status,
            pk=100 + i,
            number=100 + i,
            title=["Printer <jammed> & 'stuck'", 'Quote "this"', "Plain"][i % 3],
            priority=1 + i % 5,
            tier=1 + i % 3,
            major_incident=i % 4 == 0,
            service=service,
            team=None if i % 6 == 5 else (org.desk if i % 3 else org.support),
            assignee=[None, org.agent, named, None][i % 4],
            requester=bare if i % 2 else named,
            created_at=created,
            updated_at=NOW - timedelta(seconds=i * 5000, microseconds=i * 37),
        )
        inc.clock_views = CLOCKS[i % len(CLOCKS)]
        inc.extra = {
            "defect": [
                None,
                {"key": "DEF-7", "status": "in_progress", "target_release": "Pay 2.1 <rc>"},
                {"key": "DEF-8", "status": "new", "target_release": None},
            ][i % 3],
            "hypercare": [
                [],
                [{"release": "Pay 2.0", "team": "Payroll Dev"}],
                [{"release": "R&1", "team": "A"}, {"release": "R2", "team": 'B "x"'}],
            ][i % 3 if i % 2 else 0],
        }
        inc.age_label = f"{i}d"
        inc.idle_label = "just now" if i == 0 else f"{i}h ago"
        rows.append(inc)
    return rows


def _context(org, rows, columns, bulk) -> dict:  # type: ignore[no-untyped-def]
    return {
        "page": Paginator(rows, 50).page(1),
        "columns": columns,
        "bulk": bulk,
        "request": SimpleNamespace(user=org.agent),
        "csrf_token": "t0ken<&>",
        "return_to": "/desk/?queue=team-1&q=a%26b&x=<1>",
    }


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "America/St_Johns"])
def test_queue_rows_write_the_old_loops_html_for_every_column_and_row_kind(org, zone) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(org)
    with timezone.override(zone):
        for columns in COLUMN_SETS:
            for bulk in (True, False):
                context = _context(org, rows, columns, bulk)
                before = BEFORE.render(Context(context))
                after = queue_rows(Context(context))
                assert after == before, (columns, bulk)
    # the rows above are varied indeed: each kind appears at least once
    html = BEFORE.render(Context(_context(org, rows, ALL, True)))
    for mark in (
        'class="badge major"',
        'class="badge hypercare"',
        "release Pay 2.1 &lt;rc&gt;",
        'title="The linked defect"',
        'data-action="take"',
        *[f'class="clock {level}"' for level in ("ok", "warning", "danger", "breached")],
        *[f'class="clock {level}"' for level in ("paused", "met", "cancelled")],
        "if resumed now",
        "<td>— ",
        "<td>—",
    ):
        assert mark in html, mark


def _unmasked(html: bytes) -> bytes:
    return re.sub(rb"[A-Za-z0-9]{64}", b"(token)", html)


def _tbody(html: str) -> str:
    return html[html.index("<tbody>") + len("<tbody>\n    ") : html.index("\n    </tbody>")]


def test_the_desk_page_rows_are_the_old_loops_rows(org) -> None:  # type: ignore[no-untyped-def]
    """Through the page: real incidents, their real clocks and extension fields, the
    request's CSRF token and return address, and the take form where the agent may."""
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        late = services.incident_create(
            actor=org.requester, service=org.service, title="Late", impact="high", urgency="high"
        )
    with time_machine.travel(NOW - timedelta(hours=5), tick=False):
        for state in ("new", "assigned", "in_progress", "on_hold", "resolved", "cancelled"):
            inc = services.incident_create(
                actor=org.requester, service=org.service, title=f"<{state}> & co"
            )
            drive(inc, org, state)
        services.incident_create(
            actor=org.agent,
            requester=org.requester,
            service=org.service,
            title="Major",
            major_incident=True,
        )
    client = Client()
    client.force_login(org.agent)
    with time_machine.travel(NOW, tick=False):
        for columns in (ALL, list(DEFAULT_COLUMNS), ["title", "sla"]):
            url = f"/desk/?queue=all&cols={','.join(columns)}"
            res = client.get(url)
            assert res.status_code == 200
            # the page's own context (the first template rendered: the desk)
            before = BEFORE.render(Context(res.context[0].flatten()))
            page = res.content.decode()
            assert _tbody(page) == before, columns
            assert late.key in page and "Assign to me" in page
            if "sla" in columns:
                assert 'class="clock breached"' in page


def _old_get_sla(self, incident):  # type: ignore[no-untyped-def]
    """``IncidentSerializer.get_sla`` before issue 13: a clock serializer per row."""
    from sla.api.serializers import clocks_data
    from sla.selectors import ticket_clocks

    return clocks_data(ticket_clocks(incident))


@pytest.mark.parametrize("reader", ["agent", "requester"])
def test_the_incident_list_writes_the_same_json_as_before(org, monkeypatch, reader) -> None:  # type: ignore[no-untyped-def]
    from itsm.api.serializers import IncidentSerializer

    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        services.incident_create(
            actor=org.requester, service=org.service, title="Late", impact="high", urgency="high"
        )
    with time_machine.travel(NOW - timedelta(hours=5), tick=False):
        for state in ("new", "assigned", "in_progress", "on_hold", "resolved", "cancelled"):
            inc = services.incident_create(
                actor=org.requester, service=org.service, title=f"<{state}> & co"
            )
            drive(inc, org, state)
    client = api_as(getattr(org, reader))
    with time_machine.travel(NOW, tick=False):
        urls = ["/api/v1/incidents/", "/api/v1/incidents/?ordering=priority&page_size=3"]
        after = [client.get(url).content for url in urls]
        monkeypatch.setattr(IncidentSerializer, "get_sla", _old_get_sla)
        before = [client.get(url).content for url in urls]
    assert after == before
    assert b'"level":"breached"' in after[0] and b'"level":"paused"' in after[0]


class _Widgets(forms.Form):
    """Every widget kind ``DESK_WIDGETS`` writes, with groups, ids, classes, booleans and
    text that needs escaping."""

    plain = forms.ChoiceField(choices=[("", "Any"), ("a&b", "A <&> B"), (3, "Three")])
    grouped = forms.ChoiceField(
        choices=[("Fruit", [("1", "Apple"), ("2", 'Pear "x"')]), ("3", "Other")],
        widget=forms.Select(attrs={"class": "wide", "data-x": "<q>", "autofocus": True}),
    )
    many = forms.MultipleChoiceField(choices=[("1", "One"), ("2", "Two")], required=False)
    boxes = forms.MultipleChoiceField(
        choices=[("new", "New"), ("x<y", mark_safe("<b>Safe</b>")), ("G", [("g1", "G 1")])],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "toggles"}),
        required=False,
    )
    radio = forms.ChoiceField(choices=[("1", "One"), ("2", "Two")], widget=forms.RadioSelect)
    text = forms.CharField(required=False)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"plain": "a&b", "grouped": "2", "many": ["1", "2"], "boxes": ["x<y", "g1"], "radio": "2"},
        {"plain": "nope", "boxes": ["zzz"], "text": '"hi"'},  # invalid: errors, aria-invalid
    ],
)
def test_the_desk_widgets_write_djangos_html(data) -> None:  # type: ignore[no-untyped-def]
    for auto_id in ("id_%s", False):
        django_form = _Widgets(data or None, auto_id=auto_id)
        ours = _Widgets(data or None, auto_id=auto_id, renderer=DESK_WIDGETS)
        django_form.is_valid(), ours.is_valid()
        for name in django_form.fields:
            assert str(ours[name]) == str(django_form[name]), (name, auto_id)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status=new&status=in_progress&priority=1&tier=2&major_incident=true&sla=breached",
        "team={team}&service={service}&assignee={agent}&older_than_days=30",
        "team=999999&status=bogus&priority=9",  # invalid: the form shows its errors
    ],
)
def test_the_desk_filter_form_is_djangos_html(org, query) -> None:  # type: ignore[no-untyped-def]
    """The whole desk page with the Python widgets equals the page with Django's."""
    from django.forms.renderers import get_default_renderer

    from itsm.views import desk

    url = "/desk/?queue=all&" + query.format(
        team=org.desk.pk, service=org.service.pk, agent=org.agent.pk
    )
    services.incident_create(actor=org.requester, service=org.service, title="One")
    client = Client()
    client.force_login(org.agent)
    with time_machine.travel(NOW, tick=False):
        ours = client.get(url)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(desk, "DESK_WIDGETS", get_default_renderer())
            theirs = client.get(url)
    assert ours.status_code == theirs.status_code == 200
    # the CSRF token is masked afresh for each response
    assert _unmasked(ours.content) == _unmasked(theirs.content)
    assert b'<select name="team"' in ours.content


@pytest.mark.parametrize("chosen", ["", "{team}", "999999"])
def test_the_team_select_from_the_teams_read_once_is_djangos(org, chosen) -> None:  # type: ignore[no-untyped-def]
    """The desk reads every team once (the bulk bar's, the share menu's and the filter's);
    the team filter's options stay those of its own query."""
    from django.http import QueryDict

    from itsm.filters import IncidentFilter

    query = f"queue=all&team={chosen.format(team=org.desk.pk)}"
    client = Client()
    client.force_login(org.agent)
    page = client.get(f"/desk/?{query}").content.decode()
    shown = page[page.index('<select name="team"') :]
    shown = shown[: shown.index("</select>")]
    fresh = IncidentFilter(QueryDict(query), queryset=Incident.objects.all())
    fresh.is_valid()
    expected = str(fresh.form["team"])
    assert shown == expected[: expected.index("</select>")]
    assert org.dev.name in shown and "Any team" in shown


def test_a_pages_clocks_share_their_policies_and_calendars(org) -> None:  # type: ignore[no-untyped-def]
    """A page's clocks hold one object per policy and per calendar (their specs are built
    once per calendar: sla.selectors.calendar_spec, kept per process)."""
    from itsm import selectors

    for i in range(4):
        services.incident_create(
            actor=org.requester, service=org.service, title=f"t{i}", impact="high"
        )
    rows = list(selectors.incident_list(org.agent).order_by("-id"))
    clocks = [c for inc in rows for c in inc.prefetched_clocks]  # sla.selectors.clock_prefetch
    assert len(clocks) == 8
    assert len({id(c.policy) for c in clocks}) == len({c.policy_id for c in clocks}) < 8
    calendars = {id(c.policy.calendar) for c in clocks}
    assert len(calendars) == len({c.policy.calendar_id for c in clocks})


# The desk's option loops before issue 13, kept as the reference.
OPTIONS_BEFORE = Template(
    '<select id="id_assignee" name="assignee"><option value="">Anyone</option>'
    '{% for pk, label in assignee_choices %}<option value="{{ pk }}" '
    "{% if filter.form.assignee.value|stringformat:'s' == pk|stringformat:'s' %}selected"
    "{% endif %}>{{ label }}</option>{% endfor %}</select>"
    '{% for n, label in age_choices %}<option value="{{ n }}" '
    "{% if filter.form.older_than_days.value|stringformat:'s' == n|stringformat:'s' %}"
    "selected{% endif %}>{{ label }}</option>{% endfor %}@@"
    '{% for n, label in idle_choices %}<option value="{{ n }}" '
    "{% if filter.form.idle_hours.value|stringformat:'s' == n|stringformat:'s' %}"
    "selected{% endif %}>{{ label }}</option>{% endfor %}"
)


@pytest.mark.parametrize(
    "query", ["", "assignee={me}&older_than_days=7&idle_hours=5", "assignee={other}&idle_hours=x"]
)
def test_the_desk_option_lists_are_the_old_loops(org, query) -> None:  # type: ignore[no-untyped-def]
    from core.models import Team

    Team.objects.get(pk=org.desk.pk).members.add(org.agent_other)  # someone besides me
    client = Client()
    client.force_login(org.agent)
    url = "/desk/?queue=all&" + query.format(me=org.agent.pk, other=org.agent_other.pk)
    res = client.get(url)
    page = res.content.decode()
    before = OPTIONS_BEFORE.render(Context(res.context[0].flatten()))
    assignee, age, idle = before.replace("</select>", "</select>@@").split("@@")
    assert assignee in page and age in page and idle in page
    assert "selected>" in before or not query


def test_the_bulk_bars_assign_groups_are_the_old_loops(org) -> None:  # type: ignore[no-untyped-def]
    from core.models import Team
    from itsm.templatetags.desk import bulk_assign_groups
    from itsm.views.bulk import bulk_bar_context

    Team.objects.filter(pk=org.desk.pk).update(name='Desk <&> "A"')
    Team.objects.get(pk=org.desk.pk).members.add(org.requester2)
    org.requester2.first_name = org.requester2.last_name = ""  # a username only
    org.requester2.save()
    bulk = bulk_bar_context(org.agent)  # its people as (id, name)
    # the old loop read User objects: the same people, in the same order
    users = type(org.agent).objects.in_bulk([pk for _, ms in bulk["teams"] for pk, _ in ms])
    as_users = [(t, [users[pk] for pk, _ in ms]) for t, ms in bulk["teams"]]
    before = Template(
        (Path(__file__).parent / "reference" / "issue13_bulk_assign_before.html").read_text()
    ).render(Context({"bulk": {"teams": as_users}}))
    assert bulk_assign_groups(bulk["teams"]) == before
    assert "requester2 (Desk &lt;&amp;&gt; &quot;A&quot;)" in before
    assert before.count("<optgroup") == Team.objects.count()
