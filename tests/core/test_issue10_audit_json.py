"""Issue 10 #4: every audited value, of every field type, is stored as JSON.

Setting a work item's estimate (a Decimal) answered 500 "Object of type Decimal is not JSON
serializable" on the page and through the API, because the audit trail's value converter
knew only model rows and things with ``isoformat``.
"""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

import pytest
from django.db import models
from django.test import Client

from core.models import AuditEvent, Tier
from core.services import audit_record, jsonable
from projects.models import Kind, WorkItem
from tests.conftest import api_as


class Colour(models.TextChoices):
    RED = "red", "Red"


class Size(models.IntegerChoices):
    BIG = 3, "Big"


def test_issue10_4_jsonable_every_field_type(org) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #4: each value type an audited field can hold becomes plain JSON."""
    at = datetime.datetime(2026, 11, 25, 9, 11, 35, tzinfo=datetime.UTC)
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    values = {
        "decimal": (Decimal("2.50"), "2.5"),
        "decimal_int": (Decimal("20.0"), "20"),
        "date": (datetime.date(2026, 11, 25), "2026-11-25"),
        "datetime": (at, "2026-11-25T09:11:35+00:00"),
        "time": (datetime.time(19, 30), "19:30:00"),
        "timedelta": (datetime.timedelta(hours=2), "P0DT02H00M00S"),
        "uuid": (uid, str(uid)),
        "model": (org.service, {"id": org.service.pk, "label": "Payroll"}),
        "text_choice": (Colour.RED, "red"),
        "int_choice": (Size.BIG, 3),
        "tier": (Tier.DEVELOPMENT, 3),
        "list": ([Decimal("1.5"), at.date()], ["1.5", "2026-11-25"]),
        "tuple": ((1, "a"), [1, "a"]),
        "set": ({"b", "a"}, ["a", "b"]),
        "dict": ({"when": at.date(), 1: Decimal("3")}, {"when": "2026-11-25", "1": "3"}),
        "none": (None, None),
        "bool": (True, True),
        "float_nan": (float("nan"), "nan"),
        "queryset": (
            type(org.service).objects.filter(pk=org.service.pk),
            [{"id": org.service.pk, "label": "Payroll"}],
        ),
    }
    for name, (value, expected) in values.items():
        got = jsonable(value)
        assert got == expected, name
        json.dumps(got, allow_nan=False)  # strict JSON, as PostgreSQL's jsonb wants it
    # And through the database, as the audit trail writes them.
    event = audit_record(
        target=org.service,
        actor=org.admin,
        action="updated",
        changes={name: (None, value) for name, (value, _) in values.items()},
    )
    event.refresh_from_db()
    assert event.changes["decimal"] == [None, "2.5"]
    assert event.changes["timedelta"] == [None, "P0DT02H00M00S"]


@pytest.fixture
def project(org):  # type: ignore[no-untyped-def]
    from projects.models import Project

    p = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    p.services.add(org.service)
    return p


@pytest.mark.parametrize("kind,path", [("enhancement", "enhancements"), ("defect", "defects")])
def test_issue10_4_estimate_hours_through_the_api(org, project, kind, path) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #4: POST and PATCH with estimate_hours answer 2xx and audit the estimate."""
    api = api_as(org.developer)
    res = api.post(
        f"/api/v1/{path}/",
        {"project": "PAY", "title": "Export to CSV", "estimate_hours": "2.5"},
        format="json",
    )
    assert res.status_code == 201, res.content
    key = res.json()["key"]
    res = api.patch(f"/api/v1/{path}/{key}/", {"estimate_hours": "8"}, format="json")
    assert res.status_code == 200, res.content
    item = WorkItem.objects.get(kind=kind)
    assert item.estimate_hours == Decimal("8")
    rows = AuditEvent.objects.filter(object_id=item.pk, content_type__model="workitem")
    created, updated = rows.get(action="created"), rows.get(action="updated")
    assert created.changes["estimate_hours"] == [None, "2.5"]
    assert updated.changes["estimate_hours"] == ["2.5", "8"]
    history = api.get(f"/api/v1/{path}/{key}/history/")
    assert history.status_code == 200


def test_issue10_4_estimate_hours_on_the_page(org, project) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #4: the New work item page with Estimate hours creates the item."""
    c = Client()
    c.force_login(org.developer)
    res = c.post(
        "/work/new/",
        {"kind": Kind.DEFECT, "project": "PAY", "title": "Totals wrong", "estimate_hours": "3.5"},
    )
    assert res.status_code == 302, res.content.decode()[:500]
    item = WorkItem.objects.get()
    assert item.estimate_hours == Decimal("3.5")
    assert c.get(res["Location"]).status_code == 200
