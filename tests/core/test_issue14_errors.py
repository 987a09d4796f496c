"""Issue 14: errors are part of the contract.

Every API error answers one JSON shape (``code``, ``message``, ``fields``, ``detail``), in
production as in development; a database outage is a 503 with ``Retry-After``; deleting
configuration that is in use is a 409 naming what uses it; the causes of 500 found with
schemathesis and a bad-input corpus answer 4xx; pages show friendly error pages.
"""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIClient

from config import urls as site_urls
from core.models import Service
from sla.models import BusinessCalendar, SlaPolicy
from tests.conftest import api_as

SHAPE = {"code", "message", "fields", "detail"}


def assert_error(res, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """``res`` is an error in the one shape, with ``status`` (and ``code``)."""
    assert res.status_code == status, (res.status_code, res.content[:300])
    assert res["Content-Type"].startswith("application/json"), res["Content-Type"]
    body = json.loads(res.content)
    assert set(body) >= SHAPE, body
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert body["detail"] == body["message"]
    assert isinstance(body["fields"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body


# --- the one shape, for DRF's own errors ------------------------------------------------


def test_validation_error_names_the_field(org) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.requester).post("/api/v1/incidents/", {"service": org.service.pk}, "json")
    body = assert_error(res, 400, "invalid")
    assert "title" in body["fields"] and body["message"].startswith("title: ")


def test_not_authenticated_is_401_in_the_shape(db) -> None:  # type: ignore[no-untyped-def]
    res = APIClient().get("/api/v1/incidents/")
    assert_error(res, 401, "not_authenticated")
    assert res["WWW-Authenticate"]  # DRF's header kept


def test_not_found_and_method_not_allowed(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.agent)
    assert_error(client.get("/api/v1/incidents/999999/"), 404, "not_found")
    res = client.put("/api/v1/incidents/", {}, format="json")
    assert_error(res, 405, "method_not_allowed")
    assert_error(client.get("/api/v1/no-such-thing/"), 404, "not_found")  # Django's 404


def test_parse_error_and_unsupported_media_type(org) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.requester)
    res = client.post("/api/v1/incidents/", "{not json", content_type="application/json")
    assert_error(res, 400, "parse_error")
    res = client.post("/api/v1/incidents/", "<x/>", content_type="application/xml")
    assert_error(res, 415, "unsupported_media_type")


def test_domain_error_uses_fields(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).post(
        f"/api/v1/incidents/{new_incident.pk}/transitions/assign/",
        {"team": org.desk.pk, "assignee": org.developer.pk},
        format="json",
    )
    body = assert_error(res, 400)
    assert "assignee" in body["fields"]


def test_permission_denied_is_403_in_the_shape(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.requester).post("/api/v1/services/", {"name": "X"}, format="json")
    assert_error(res, 403)


# --- unhandled exceptions: a JSON 500 with a request id, never HTML --------------------


@api_view(["GET"])
@permission_classes([AllowAny])
def _boom(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("kaboom")


@api_view(["GET"])
@permission_classes([AllowAny])
def _db_down(request):  # type: ignore[no-untyped-def]
    raise OperationalError("could not connect to server: Connection refused")


@api_view(["GET"])
@permission_classes([AllowAny])
def _fine(request):  # type: ignore[no-untyped-def]
    return Response({"ok": True})


def _plain_boom(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("kaboom")


# The site's URLs and handlers, with views that fail on purpose in front.
urlpatterns = [
    path("api/v1/boom/", _boom),
    path("api/v1/db-down/", _db_down),
    path("api/v1/fine/", _fine),
    path("api/v1/plain-boom/", _plain_boom),
    path("page-boom/", _plain_boom),
    *site_urls.urlpatterns,
]
handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500


@pytest.mark.parametrize("debug", [False, True])
def test_unhandled_exception_under_api_is_json_500(db, settings, debug) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    client = APIClient(raise_request_exception=False)
    with override_settings(ROOT_URLCONF=__name__):
        for url in ("/api/v1/boom/", "/api/v1/plain-boom/"):
            res = client.get(url, HTTP_X_REQUEST_ID="req-42")
            body = assert_error(res, 500, "server_error")
            assert body["request_id"] == "req-42" and "req-42" in body["message"]
            assert res["X-Request-ID"] == "req-42"
            assert "kaboom" not in res.content.decode()  # no internals leak


def test_unhandled_exception_still_raises_in_the_test_client(db) -> None:  # type: ignore[no-untyped-def]
    """Tests keep seeing the traceback (the handler signals it as Django does)."""
    with override_settings(ROOT_URLCONF=__name__), pytest.raises(RuntimeError):
        APIClient().get("/api/v1/boom/")


def test_every_answer_has_a_request_id(db) -> None:  # type: ignore[no-untyped-def]
    with override_settings(ROOT_URLCONF=__name__):
        res = APIClient().get("/api/v1/fine/")
    assert res.status_code == 200 and len(res["X-Request-ID"]) >= 8
    with override_settings(ROOT_URLCONF=__name__):
        res = APIClient().get("/api/v1/fine/", HTTP_X_REQUEST_ID="<script>")
    assert res["X-Request-ID"] != "<script>"  # not an id we repeat


# --- a database outage: 503 with Retry-After -------------------------------------------


def test_database_outage_in_an_api_view_is_503(db) -> None:  # type: ignore[no-untyped-def]
    with override_settings(ROOT_URLCONF=__name__):
        res = APIClient().get("/api/v1/db-down/")
    assert_error(res, 503, "database_unavailable")
    assert int(res["Retry-After"]) > 0


def test_database_outage_on_real_endpoints_is_503(org) -> None:  # type: ignore[no-untyped-def]
    """The cursor fails as it does when PostgreSQL refuses connections."""
    api, page = api_as(org.agent), Client()
    page.force_login(org.agent)
    refused = OperationalError("connection to server failed: Connection refused")
    with (
        mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=refused),
        mock.patch("django.db.backends.utils.CursorWrapper.executemany", side_effect=refused),
    ):
        res = api.get("/api/v1/incidents/")
        assert_error(res, 503, "database_unavailable")
        assert res["Retry-After"]
        res = page.get("/desk/")
    assert res.status_code == 503 and res["Retry-After"]
    assert "text/html" in res["Content-Type"]
    assert "unavailable" in res.content.decode()


def test_database_outage_in_middleware_is_503_through_handler500(db) -> None:  # type: ignore[no-untyped-def]
    """A failure before the view (the session's load) reaches handler500: still a 503."""
    from django.test import RequestFactory

    from core.errors import server_error

    for url, kind in (("/api/v1/incidents/", "application/json"), ("/desk/", "text/html")):
        request = RequestFactory().get(url)
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError:
            res = server_error(request)
        assert res.status_code == 503 and res["Retry-After"]
        assert res["Content-Type"].startswith(kind)


# --- 409 for configuration in use --------------------------------------------------------


def test_deleting_a_team_in_use_is_409_naming_its_users(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import ServiceFactory

    ServiceFactory(name="Expenses", support_team=org.support, development_team=org.dev)
    ServiceFactory(name="Pensions", support_team=org.support, development_team=org.dev)
    res = api_as(org.admin).delete(f"/api/v1/teams/{org.support.pk}/")
    body = assert_error(res, 409, "in_use")
    assert body["message"].startswith("Team 'App Support' is used by 3 services"), body
    assert body["used_by"]["services"] == 3
    assert org.support.__class__.objects.filter(pk=org.support.pk).exists()


def test_deleting_a_service_in_use_offers_retiring(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.admin).delete(f"/api/v1/services/{org.service.pk}/")
    body = assert_error(res, 409, "in_use")
    assert "Service 'Payroll' is used by 1 incident" in body["message"], body
    assert "retire" in body["message"]
    assert Service.objects.filter(pk=org.service.pk).exists()


def test_deleting_an_sla_policy_or_calendar_in_use_is_409(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    admin = api_as(org.admin)
    from sla.models import SlaClock

    clock = SlaClock.objects.first()
    assert clock is not None, "the incident started a clock"
    policy = clock.policy
    body = assert_error(admin.delete(f"/api/v1/sla-policies/{policy.pk}/"), 409, "in_use")
    assert (
        body["message"].startswith(f"SLA policy '{policy}' is used by ")
        and "SLA clock" in body["message"]
    )
    assert SlaPolicy.objects.filter(pk=policy.pk).exists()
    calendar = policy.calendar
    body = assert_error(admin.delete(f"/api/v1/calendars/{calendar.pk}/"), 409, "in_use")
    assert "policies" in body["message"] or "policy" in body["message"]
    assert BusinessCalendar.objects.filter(pk=calendar.pk).exists()


def test_deleting_configuration_nobody_uses_still_works(org) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import TeamFactory

    team = TeamFactory(name="Spare")
    assert api_as(org.admin).delete(f"/api/v1/teams/{team.pk}/").status_code == 204


# --- the causes of 500 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59+14:00",
        "0001-01-01T00:00:00+14:00",
        "2026-01-01T00:00:00+99:00",
        "2026-01-01T00:00:00+05:17:33",
        "99999-01-01",
        "2026-13-45",
    ],
)
def test_odd_created_after_is_400_not_500(org, value) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).get("/api/v1/incidents/", {"created_after": value})
    body = assert_error(res, 400, "invalid")
    assert "created_after" in body["fields"]
    page = Client()
    page.force_login(org.agent)
    res = page.get("/desk/", {"created_after": value})
    assert res.status_code in (200, 400), res.status_code  # the form shows the error


def test_plausible_created_after_still_filters(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).get("/api/v1/incidents/", {"created_after": "2000-01-01T00:00:00Z"})
    assert res.status_code == 200 and res.json()["count"] == 1


def test_article_without_title_is_400(org) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).post("/api/v1/articles/", {"body": "How to"}, format="json")
    body = assert_error(res, 400, "invalid")
    assert "title" in body["fields"]
    res = api_as(org.agent).post("/api/v1/articles/", {"title": "  ", "body": "x"}, format="json")
    assert_error(res, 400, "invalid")


@pytest.mark.parametrize("bad", ["abc", "1.5", "-1", "9" * 30])
def test_approval_decide_with_a_bad_id_is_404(org, bad) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.change_manager).post(
        f"/api/v1/approvals/{bad}/decide/", {"decision": "approved"}, format="json"
    )
    assert_error(res, 404, "not_found")


@pytest.mark.parametrize("days", ["99999999999", "0", "-5", "abc", "1e3", "9" * 40])
def test_problem_candidates_with_absurd_days_is_400(org, days) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.problem_manager).get("/api/v1/problems/candidates/", {"days": days})
    body = assert_error(res, 400, "invalid")
    assert "days" in body["fields"]
    page = Client()
    page.force_login(org.problem_manager)
    assert page.get("/problems/candidates/", {"days": days}).status_code in (200, 400)


def test_duplicate_holiday_is_400(org) -> None:  # type: ignore[no-untyped-def]
    admin = api_as(org.admin)
    res = admin.post(
        "/api/v1/calendars/",
        {
            "name": "Dublin",
            "timezone": "Europe/Dublin",
            "holidays": [
                {"date": "2026-12-25", "name": "Christmas"},
                {"date": "2026-12-25", "name": "Christmas again"},
            ],
        },
        format="json",
    )
    body = assert_error(res, 400, "invalid")
    assert "holidays" in body["fields"] and "2026-12-25" in body["message"]
    assert not BusinessCalendar.objects.filter(name="Dublin").exists()


def test_deeply_nested_json_is_400(org) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 5000 + "]" * 5000
    res = api_as(org.requester).post("/api/v1/incidents/", deep, content_type="application/json")
    assert_error(res, 400, "parse_error")
    nested = json.dumps({"title": "x", "service": org.service.pk, "extra": [[[[[[1]]]]]]})
    res = api_as(org.requester).post("/api/v1/incidents/", nested, content_type="application/json")
    assert res.status_code in (201, 400)  # shallow nesting is parsed as before


@pytest.mark.parametrize("body", ["null", "[]", "[1, 2]", '"text"', "42", "true"])
def test_a_body_that_is_not_an_object_is_400(org, new_incident, body) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.agent)
    for url in (
        f"/api/v1/incidents/{new_incident.pk}/transitions/assign/",
        "/api/v1/incidents/",
        f"/api/v1/incidents/{new_incident.pk}/comments/",
    ):
        res = client.post(url, body, content_type="application/json")
        assert_error(res, 400)


# --- pages: friendly error pages in the site's look -----------------------------------


def test_page_404_is_friendly(org) -> None:  # type: ignore[no-untyped-def]
    page = Client()
    page.force_login(org.agent)
    res = page.get("/no-such-page/")
    assert res.status_code == 404
    html = res.content.decode()
    assert 'data-testid="error-page"' in html and "Not found" in html and "topbar" in html


def test_page_500_is_friendly_and_needs_no_database(db) -> None:  # type: ignore[no-untyped-def]
    client = Client(raise_request_exception=False)
    with override_settings(ROOT_URLCONF=__name__):
        res = client.get("/page-boom/", HTTP_X_REQUEST_ID="req-7")
    assert res.status_code == 500
    html = res.content.decode()
    assert 'data-testid="error-page"' in html and "req-7" in html and "kaboom" not in html
    from django.template import loader

    with mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError("down"),
    ):
        for name in ("500.html", "503.html", "400.html"):
            assert 'data-testid="error-page"' in loader.get_template(name).render({})


def test_page_403_and_400_templates_render(org) -> None:  # type: ignore[no-untyped-def]
    from django.test import RequestFactory

    from core.errors import bad_request, permission_denied

    request = RequestFactory().get("/desk/")
    request.user = org.agent
    from django.core.exceptions import PermissionDenied, SuspiciousOperation

    res = permission_denied(request, PermissionDenied("Not for you."))
    assert res.status_code == 403 and "Not for you." in res.content.decode()
    res = bad_request(request, SuspiciousOperation("bad"))
    assert res.status_code == 400 and 'data-testid="error-page"' in res.content.decode()
    api_request = RequestFactory().get("/api/v1/incidents/")
    assert_error(bad_request(api_request, SuspiciousOperation("bad")), 400)
    assert_error(permission_denied(api_request, PermissionDenied()), 403)


@pytest.mark.parametrize("name", ["actor", "view", "reply", "project"])
def test_a_body_naming_a_services_own_argument_is_400(org, name) -> None:  # type: ignore[no-untyped-def]
    """PATCH bodies pass unknown fields on to the service to refuse by name; one named like
    the service's own arguments collided in the call (a TypeError, a 500)."""
    from itsm.services import canned
    from itsm.services import saved_views as sv

    view = sv.saved_view_create(actor=org.agent, name="Mine", query={})
    reply = canned.canned_reply_create(actor=org.agent, title="Hi", body="Hello")
    client = api_as(org.agent)
    for url in (f"/api/v1/saved-views/{view.pk}/", f"/api/v1/canned-replies/{reply.pk}/"):
        body = assert_error(client.patch(url, {name: 1}, format="json"), 400, "invalid")
        assert name in body["fields"]


def test_a_body_over_the_upload_limit_is_413_or_400_in_the_shape(org, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"title": "x" * 5000, "service": org.service.pk})
    res = api_as(org.requester).post("/api/v1/incidents/", big, content_type="application/json")
    assert res.status_code in (400, 413), res.status_code
    assert_error(res, res.status_code)
    res = api_as(org.requester).post(
        "/api/v1/incidents/", {"title": "x" * 5000}, format="multipart"
    )
    assert res.status_code in (400, 413), res.status_code
    assert_error(res, res.status_code)


def test_the_browsable_api_keeps_its_page_with_the_same_body(org) -> None:  # type: ignore[no-untyped-def]
    res = api_as(org.agent).get("/api/v1/incidents/999999/", HTTP_ACCEPT="text/html")
    assert res.status_code == 404 and "text/html" in res["Content-Type"]
    assert "not_found" in res.content.decode()


def test_an_unreal_offset_is_named_as_people_write_it(org) -> None:  # type: ignore[no-untyped-def]
    """The message names the offset sent (-14:00), not Python's timedelta of it
    ("-1 day, 10:00:00")."""
    res = api_as(org.agent).get(
        "/api/v1/incidents/", {"created_after": "2026-01-01T00:00:00-14:00"}
    )
    assert res.status_code == 400
    message = res.json()["fields"]["created_after"][0]
    assert "-14:00 is not a real one" in message and "day" not in message
