"""Issue 10 #19: recurring-incident candidates were whole service+category buckets
(38–65 incidents, cancelled ones included). Now: clusters of incidents of one service
that describe the same thing, cancelled and already-linked ones left out, strongest first,
at a cost bounded by the window and the candidate limit."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from core.models import Service
from itsm import services
from itsm.models import Incident
from itsm.selectors import recurring_incidents
from itsm.services import problems as ps
from tests.conftest import api_as

EXPORT = [
    ("Payroll export to bank fails", "The bank file export stops with a timeout."),
    ("Payroll export fails", "Export to the bank times out after 30 s."),
    ("Bank export of payroll failed", "Export job timeout again"),
    ("payroll export to the bank failing", ""),
]
TAX = [
    ("Payslip shows wrong tax code", "My November payslip has tax code 0T."),
    ("Wrong tax code on payslip", ""),
    ("Payslip has the wrong tax code", "Emergency tax code applied"),
]
NOISE = [
    ("Cannot download P60", ""),
    ("Overtime missing from this month's run", ""),
    ("Login loops back to the start page", ""),
]


def _raise(org, service, title, description=""):  # type: ignore[no-untyped-def]
    return services.incident_create(
        actor=org.requester, service=service, title=title, description=description
    )


def _data(org):  # type: ignore[no-untyped-def]
    export = [_raise(org, org.service, t, d) for t, d in EXPORT]
    tax = [_raise(org, org.service, t, d) for t, d in TAX]
    noise = [_raise(org, org.service, t, d) for t, d in NOISE]
    cancelled = _raise(org, org.service, "Payroll export to bank fails", "timeout")
    services.incident_cancel(incident=cancelled, actor=org.requester)
    linked = _raise(org, org.service, "Payroll export to bank fails again", "")
    ps.problem_create(
        actor=org.problem_manager, title="Export", service=org.service, incidents=[linked]
    )
    old = [_raise(org, org.service, "Payslip shows wrong tax code", "") for _ in range(3)]
    Incident.objects.filter(pk__in=[i.pk for i in old]).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    hr = Service.objects.create(name="HR Portal")
    leave = [
        _raise(org, hr, t)
        for t in ("Leave request stuck in approval", "Leave request stuck", "Leave stuck")
    ]
    return export, tax, noise, cancelled, linked, leave


def test_issue10_19_clusters_by_what_happened_strongest_first(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #19: one cluster per thing that happened, per service; cancelled, linked,
    unrelated and out-of-window incidents left out; the largest, most alike first."""
    export, tax, noise, cancelled, linked, leave = _data(org)
    groups = recurring_incidents(days=30)
    assert [(g.service, g.count) for g in groups][0] == ("Payroll", 4)
    assert sorted((g.service, g.count) for g in groups) == [
        ("HR Portal", 3),
        ("Payroll", 3),
        ("Payroll", 4),
    ]
    by_keys = {frozenset(g.keys): g for g in groups}
    assert frozenset(i.key for i in export) in by_keys
    assert frozenset(i.key for i in tax) in by_keys
    assert frozenset(i.key for i in leave) in by_keys
    every = {k for g in groups for k in g.keys}
    assert cancelled.key not in every and linked.key not in every
    assert not every & {i.key for i in noise}
    top = groups[0]
    assert "export" in top.title.lower() and "export" in top.terms
    assert 0 < top.similarity <= 100 and top.first_seen <= top.last_seen
    # Ties in size: the more alike first.
    assert groups[1].similarity >= groups[2].similarity
    assert recurring_incidents(days=30, minimum=4) == [top]


def test_issue10_19_cost_is_bounded(org, django_assert_num_queries, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #19: one query, whatever the number of incidents, and at most the
    candidate limit read (the most recent)."""
    from itsm import recurring

    _data(org)
    with django_assert_num_queries(1):
        recurring_incidents(days=30)
    monkeypatch.setattr(recurring, "CANDIDATE_LIMIT", 3)
    groups = recurring_incidents(days=30, minimum=2)
    assert sum(g.count for g in groups) <= 3


def test_issue10_19_page_and_api(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #19: the page and the API list the clusters, strongest first."""
    export, *_ = _data(org)
    c = Client()
    c.force_login(org.problem_manager)
    page = c.get("/problems/candidates/").content.decode()
    rows = page.split('data-count="')[1:]
    assert [r.split('"')[0] for r in rows] == ["4", "3", "3"]
    assert export[0].key in rows[0] and "Create problem" in rows[0]
    body = api_as(org.problem_manager).get("/api/v1/problems/candidates/").json()
    assert [g["count"] for g in body] == [4, 3, 3]
    assert set(body[0]["keys"]) == {i.key for i in export} and body[0]["title"]
    api = api_as(org.agent)
    assert api.get("/api/v1/problems/candidates/?days=1000").status_code == 400
