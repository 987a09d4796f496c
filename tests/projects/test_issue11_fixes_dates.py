"""Issue 11 review fix: planned dates are bounded in the services (within 10 years of
today, a 400 naming the field): re-planning a release with an emergency slip to year 1
answered 500 (the working-day walk back ran past ``date.min``)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from core.exceptions import ValidationFailed
from projects import services as ps
from projects.iterations import iteration_create, iteration_update
from projects.models import Release
from projects.services.releases import _subtract_working_days
from tests.conftest import api_as


def test_replanning_a_slipped_release_to_year_one_is_a_400(org, release) -> None:  # type: ignore[no-untyped-def]
    Release.objects.filter(pk=release.pk).update(
        planned_date=date(2026, 12, 9), original_planned_date=date(2026, 12, 4)
    )
    release.refresh_from_db()
    with pytest.raises(ValidationFailed) as err:
        ps.release_update(release=release, actor=org.admin, planned_date=date(1, 1, 2))
    assert err.value.errors.keys() == {"planned_date"}
    api = api_as(org.admin)
    api.raise_request_exception = False
    res = api.patch(
        f"/api/v1/releases/{release.pk}/", {"planned_date": "0001-01-02"}, format="json"
    )
    assert res.status_code == 400 and "planned_date" in res.json()["fields"]


def test_release_create_bounds_its_planned_date(org, project) -> None:  # type: ignore[no-untyped-def]
    far = timezone.localdate() + timedelta(days=366 * 11)
    with pytest.raises(ValidationFailed) as err:
        ps.release_create(actor=org.admin, project=project, version="9", planned_date=far)
    assert "planned_date" in err.value.errors
    near = timezone.localdate() + timedelta(days=400)
    assert ps.release_create(actor=org.admin, project=project, version="9", planned_date=near)


def test_the_walk_back_stops_at_the_first_day(project) -> None:  # type: ignore[no-untyped-def]
    assert _subtract_working_days(date(1, 1, 3), 5, project.calendar) >= date.min


def test_iteration_dates_are_bounded_too(org, project) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        iteration_create(
            actor=org.admin, project=project, name="old", start=date(1, 1, 1), end=date(1, 1, 10)
        )
    assert "start" in err.value.errors
    today = timezone.localdate()
    it = iteration_create(
        actor=org.admin, project=project, name="now", start=today, end=today + timedelta(days=9)
    )
    with pytest.raises(ValidationFailed) as err:
        iteration_update(
            iteration=it,
            actor=org.admin,
            start=date(9999, 12, 20),
            end=date(9999, 12, 30),
        )
    assert "start" in err.value.errors
