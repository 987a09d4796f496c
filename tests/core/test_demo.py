"""The README's first command seeds the demo: it must run on a fresh database, twice."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_seed_demo_runs_and_is_idempotent() -> None:
    from django.contrib.auth import get_user_model

    from itsm.models import Incident
    from knowledge.models import Article

    call_command("seed_demo", stdout=io.StringIO())
    counts = (Incident.objects.count(), Article.objects.count())
    assert counts[0] > 100 and counts[1] >= 6
    assert Article.objects.filter(needs_review=True, status="published").exists()
    assert Article.objects.filter(problem__isnull=False, status="published").exists()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert (Incident.objects.count(), Article.objects.count()) == counts
    assert get_user_model().objects.get(username="agent").check_password("demo")
