"""Issue 13: reference data kept per process (core.refcache) is dropped when it changes."""

from __future__ import annotations

from django.core.cache import cache

from core import refcache
from core.models import Tier
from itsm import services
from sla.models import SlaPolicy
from sla.services import policy_for


def _settle() -> None:
    """As if the fixtures' rows had been committed long ago (see test_issue13_create)."""
    refcache._state.dirty_in = None


def test_policy_kept_until_a_policy_changes(org, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    _settle()
    first = policy_for("incident", 2, org.service.pk)
    with django_assert_num_queries(0):
        assert policy_for("incident", 2, org.service.pk) is first
    SlaPolicy.objects.filter(pk=first.pk).first().save()  # an edit, through the ORM
    # the transaction that changed it reads fresh, and keeps that for itself only
    with django_assert_num_queries(3):  # the policy, its calendar's hours and holidays
        again = policy_for("incident", 2, org.service.pk)
    assert again is not first and again.pk == first.pk
    with django_assert_num_queries(0):
        assert policy_for("incident", 2, org.service.pk) is again
    assert refcache._entries == {}  # nothing of it for the process: it may roll back


def test_a_new_policy_is_used_by_the_next_create(org) -> None:  # type: ignore[no-untyped-def]
    _settle()
    services.incident_create(actor=org.requester, service=org.service, title="warm")
    general = policy_for("incident", 3, None)
    own = SlaPolicy.objects.create(
        name="Payroll P3",
        ticket_type="incident",
        priority=3,
        service=org.service,
        calendar=general.calendar,
        response_minutes=7,
        resolution_minutes=70,
    )
    inc = services.incident_create(actor=org.requester, service=org.service, title="after")
    assert {c.policy_id for c in inc.sla_clocks.all()} == {own.pk}


def test_intake_team_follows_a_change_of_tier(org) -> None:  # type: ignore[no-untyped-def]
    _settle()
    first = services.incident_create(actor=org.requester, service=org.service, title="a")
    assert first.team == org.desk
    first.team.name = "changed on the copy"  # a caller's copy: the kept team is untouched
    assert (
        services.incident_create(actor=org.requester, service=org.service, title="b").team.name
        == "Service Desk"
    )
    org.desk.tier = Tier.APPLICATION_SUPPORT
    org.desk.save()
    assert (
        services.incident_create(actor=org.requester, service=org.service, title="c").team
        == org.other_desk
    )


def test_the_version_moves_again_when_the_change_commits(
    org, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """Another process may re-read the rows between the save and the commit: the commit
    moves the version once more, so what it kept then is dropped too."""
    with django_capture_on_commit_callbacks(execute=True):
        org.desk.save()
        at_save = cache.get(refcache.VERSION_KEY)
        assert at_save is not None
    assert cache.get(refcache.VERSION_KEY) not in (None, at_save)


def test_another_process_change_is_seen_at_the_next_version_check(
    org, monkeypatch, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    _settle()
    monkeypatch.setattr(refcache, "VERSION_RECHECK", 0.0)  # read the version every time
    first = policy_for("incident", 3, None)
    with django_assert_num_queries(0):
        assert policy_for("incident", 3, None) is first
    cache.set(refcache.VERSION_KEY, "written by another process")  # its change committed
    with django_assert_num_queries(3):
        assert policy_for("incident", 3, None) is not first
