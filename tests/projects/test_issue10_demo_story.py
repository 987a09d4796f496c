"""Issue 10 #16 review: the projects demo goes through the services too — the tax-year
release is planned with its deploying change (audited on the release), not attached by a
bare UPDATE afterwards; its per-service Problem Manager is named through the audited
service (#20); and its time entries keep the team whose work it was (#23)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from core.models import Service
from core.selectors import history_of
from projects.models import Release, TimeEntry


@pytest.mark.django_db
def test_issue10_16_demo_release_has_its_change_through_the_service() -> None:
    """Issue 10 #16: the release's own history records its change."""
    call_command("seed_demo", stdout=io.StringIO())
    release = Release.objects.get(project__code="PAY", version="2.3")
    assert release.change is not None
    created = history_of(release).get(action="created")
    assert created.changes.get("change", [None, None])[1] not in (None, "")
    assert not TimeEntry.objects.filter(team__isnull=True).exists()
    # the demo's per-service Problem Manager is named through the audited service (#20)
    payroll = Service.objects.get(name="Payroll")
    assert history_of(payroll).filter(action="service_role_assigned").exists()
    call_command("seed_demo", stdout=io.StringIO())  # still idempotent
