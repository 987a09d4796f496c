"""Issue 14: versions (ETag / If-Match / If-None-Match) on every API record."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.api.contract import ApiContractMixin
from itsm import services
from itsm.models import Incident
from tests.conftest import api_as, drive

URL = "/api/v1/incidents/"


def _url(incident: Incident) -> str:
    return f"{URL}{incident.key}/"


def test_detail_carries_etag_and_if_none_match_answers_304(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.agent)
    res = client.get(_url(new_incident))
    assert res.status_code == 200
    tag = res["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    again = client.get(_url(new_incident), HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == tag
    # a list is not one record: no ETag
    assert not client.get(URL).has_header("ETag")


def test_patch_with_current_etag_succeeds_and_moves_it(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.incident_manager)
    tag = client.get(_url(new_incident))["ETag"]
    res = client.patch(_url(new_incident), {"title": "New title"}, format="json", HTTP_IF_MATCH=tag)
    assert res.status_code == 200, res.content
    assert res["ETag"] != tag
    assert res["ETag"] == client.get(_url(new_incident))["ETag"]


def test_patch_with_stale_etag_is_412_says_what_changed_and_writes_nothing(  # type: ignore[no-untyped-def]
    org, new_incident
) -> None:
    client = api_as(org.incident_manager)
    stale = client.get(_url(new_incident))["ETag"]
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    res = client.patch(_url(new_incident), {"title": "Mine"}, format="json", HTTP_IF_MATCH=stale)
    assert res.status_code == 412, res.content
    body = res.json()
    assert body["code"] == "precondition_failed"
    assert f"{new_incident.key} was changed by" in body["detail"]
    assert "status New → Assigned" in body["detail"]
    new_incident.refresh_from_db()
    assert new_incident.title == "Payslip shows wrong tax code"


def test_without_if_match_patch_behaves_as_before(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.incident_manager)
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    res = client.patch(_url(new_incident), {"title": "Mine"}, format="json")
    assert res.status_code == 200


def test_transition_with_stale_etag_is_412_and_does_not_fire(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    incident = drive(new_incident, org, "assigned")
    client = api_as(org.agent)
    stale = client.get(_url(incident))["ETag"]
    services.incident_update(incident=incident, actor=org.incident_manager, title="Edited")
    res = client.post(f"{_url(incident)}transitions/start/", {}, format="json", HTTP_IF_MATCH=stale)
    assert res.status_code == 412, res.content
    incident.refresh_from_db()
    assert incident.status == "assigned"
    fresh = client.get(_url(incident))["ETag"]
    res = client.post(f"{_url(incident)}transitions/start/", {}, format="json", HTTP_IF_MATCH=fresh)
    assert res.status_code == 200, res.content
    assert res["ETag"] not in (stale, fresh)


def test_weak_or_unknown_etag_never_matches_but_star_does(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.incident_manager)
    tag = client.get(_url(new_incident))["ETag"]
    weak = f"W/{tag}"
    res = client.patch(_url(new_incident), {"title": "A"}, format="json", HTTP_IF_MATCH=weak)
    assert res.status_code == 412
    res = client.patch(_url(new_incident), {"title": "B"}, format="json", HTTP_IF_MATCH="*")
    assert res.status_code == 200


def test_records_without_updated_at_are_versioned_by_their_columns(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.admin)
    url = f"/api/v1/teams/{org.desk.pk}/"
    tag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 304
    org.desk.description = "Changed elsewhere"
    org.desk.save()
    res = client.patch(url, {"description": "Mine"}, format="json", HTTP_IF_MATCH=tag)
    assert res.status_code == 412, res.content
    assert client.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 200


def test_sequential_same_etag_one_200_one_412(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    """Two agents read the same version; the first write wins, the second is told."""
    first, second = api_as(org.incident_manager), api_as(org.agent)
    incident = drive(new_incident, org, "assigned")
    tag = first.get(_url(incident))["ETag"]
    a = first.patch(_url(incident), {"title": "First"}, format="json", HTTP_IF_MATCH=tag)
    b = second.post(f"{_url(incident)}transitions/start/", {}, format="json", HTTP_IF_MATCH=tag)
    assert sorted([a.status_code, b.status_code]) == [200, 412]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_same_etag_one_200_one_412(org) -> None:  # type: ignore[no-untyped-def]
    """Two threads, each its own connection, PATCH with the same ETag at once: the row
    lock taken before the version check makes the second wait and then fail."""
    incident = services.incident_create(
        actor=org.requester, service=org.service, title="Race", impact="high", urgency="medium"
    )
    tag = api_as(org.incident_manager).get(_url(incident))["ETag"]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def patch(title: str) -> None:
        try:
            client = api_as(org.incident_manager)
            barrier.wait()
            res = client.patch(_url(incident), {"title": title}, format="json", HTTP_IF_MATCH=tag)
            codes.append(res.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=patch, args=(t,)) for t in ("One", "Two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 412]
    incident.refresh_from_db()
    assert incident.title in ("One", "Two")


def test_every_api_view_keeps_the_contract() -> None:
    """Every DRF view under /api/v1/ has ApiContractMixin (ETag, If-Match, Idempotency-Key)."""
    from django.urls import URLPattern, URLResolver, get_resolver
    from rest_framework.views import APIView

    # the schema and its docs, the router's root, and signing in (no record behind them)
    exempt = {
        "SpectacularAPIView",
        "SpectacularSwaggerView",
        "SpectacularSwaggerSplitView",
        "ObtainAuthToken",
        "ObtainAuthTokenView",
        "APIRootView",
    }
    missing = set()

    def walk(patterns, prefix: str) -> None:  # type: ignore[no-untyped-def]
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                cls = getattr(p.callback, "cls", None)
                if (
                    cls is not None
                    and issubclass(cls, APIView)
                    and cls.__name__ not in exempt
                    and not issubclass(cls, ApiContractMixin)
                ):
                    missing.add(f"{prefix}{p.pattern} {cls.__name__}")

    walk(get_resolver().url_patterns, "/")
    assert not missing, sorted(missing)


def test_another_ticket_type_keeps_the_same_contract(org) -> None:  # type: ignore[no-untyped-def]
    """Problems (the shared TicketViewSet): a keyed create made twice is one problem, its
    ETag guards the edit."""
    from itsm.models import Problem

    client = api_as(org.problem_manager)
    body = {"title": "Tax codes drift", "service": org.service.pk}
    first = client.post("/api/v1/problems/", body, format="json", HTTP_IDEMPOTENCY_KEY="prb-1")
    again = client.post("/api/v1/problems/", body, format="json", HTTP_IDEMPOTENCY_KEY="prb-1")
    assert (first.status_code, again.status_code) == (201, 201), first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Problem.objects.filter(title="Tax codes drift").count() == 1
    url = f"/api/v1/problems/{first.json()['id']}/"
    tag = first["ETag"]
    assert client.get(url)["ETag"] == tag
    assert (
        client.patch(url, {"title": "Drift"}, format="json", HTTP_IF_MATCH=tag).status_code == 200
    )
    res = client.patch(url, {"title": "Again"}, format="json", HTTP_IF_MATCH=tag)
    assert res.status_code == 412
    assert "title Tax codes drift → Drift" in res.json()["detail"]
