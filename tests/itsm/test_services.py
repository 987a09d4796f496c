"""Incident services: fields, audit rows and outbox rows written with the change."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.utils import timezone

from core.exceptions import ActionForbidden, IllegalTransition, ValidationFailed
from core.models import AuditEvent, OutboxMessage
from itsm import services
from itsm.models import Incident
from tests.conftest import drive


def audit_of(incident: Incident) -> list[AuditEvent]:
    ct = ContentType.objects.get_for_model(Incident)
    return list(AuditEvent.objects.filter(content_type=ct, object_id=incident.pk))


def test_create_gives_key_priority_desk_queue_and_acknowledgement(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    assert new_incident.key.startswith("INC-")
    assert new_incident.status == "new"
    assert new_incident.priority == 2
    assert new_incident.team == org.desk
    assert new_incident.tier == 1
    [event] = audit_of(new_incident)
    assert event.action == "created" and event.actor == org.requester
    [msg] = OutboxMessage.objects.filter(event="incident.created")
    assert msg.recipients == [org.requester.email]


def test_keys_are_sequential(org) -> None:  # type: ignore[no-untyped-def]
    a = services.incident_create(actor=org.requester, service=org.service, title="a")
    b = services.incident_create(actor=org.requester, service=org.service, title="b")
    assert b.number == a.number + 1


def test_requester_cannot_log_for_someone_else(org) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionForbidden):
        services.incident_create(
            actor=org.requester, requester=org.requester2, service=org.service, title="x"
        )


def test_agent_logs_for_a_caller(org) -> None:  # type: ignore[no-untyped-def]
    inc = services.incident_create(
        actor=org.agent, requester=org.requester2, service=org.service, title="Caller cannot log in"
    )
    assert inc.requester == org.requester2
    assert audit_of(inc)[0].actor == org.agent


def test_assign_to_person_records_response_and_emails_assignee(
    org, new_incident, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        inc = services.incident_assign(
            incident=new_incident, actor=org.agent, assignee=org.agent, comment="Mine"
        )
    assert inc.status == "assigned" and inc.assignee == org.agent
    assert inc.responded_at is not None
    event = audit_of(inc)[-1]
    assert (event.action, event.from_state, event.to_state) == ("assign", "new", "assigned")
    assert event.changes["assignee"][1]["id"] == org.agent.pk
    assert event.comment == "Mine"
    msg = OutboxMessage.objects.get(event="incident.assigned")
    assert msg.recipients == [org.agent.email] and msg.status == "sent"
    assert any(org.agent.email in m.to for m in mail.outbox)


def test_assign_needs_team_or_assignee(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        services.incident_assign(incident=new_incident, actor=org.agent)
    assert "team" in err.value.errors


def test_assignee_must_belong_to_the_team(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        services.incident_assign(
            incident=new_incident, actor=org.agent, team=org.desk, assignee=org.developer
        )
    assert "assignee" in err.value.errors


def test_reassign_to_another_team_takes_its_tier_and_drops_assignee(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    inc = services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    inc = services.incident_assign(incident=inc, actor=org.agent, team=org.support)
    assert (inc.team, inc.tier, inc.assignee) == (org.support, 2, None)


def test_escalate_walks_the_tiers_to_the_services_teams(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    inc = services.incident_escalate(incident=new_incident, actor=org.agent, reason="needs L2")
    assert (inc.status, inc.tier, inc.team, inc.assignee) == ("assigned", 2, org.support, None)
    inc = services.incident_escalate(incident=inc, actor=org.support2, reason="a defect")
    assert (inc.tier, inc.team) == (3, org.dev)
    with pytest.raises(IllegalTransition):
        services.incident_escalate(incident=inc, actor=org.developer, reason="further?")
    actions = [e.action for e in audit_of(inc)]
    assert actions.count("escalate") == 2
    assert OutboxMessage.objects.filter(event="incident.escalated").count() == 2


def test_escalate_requires_a_reason(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        services.incident_escalate(incident=new_incident, actor=org.agent, reason=" ")
    assert "reason" in err.value.errors


def test_escalate_to_a_named_team_must_be_of_the_next_tier(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        services.incident_escalate(incident=new_incident, actor=org.agent, reason="r", team=org.dev)
    assert "team" in err.value.errors
    new_incident.refresh_from_db()
    assert new_incident.tier == 1


def test_escalate_when_service_has_no_next_tier_team(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    org.service.support_team = None
    org.service.save()
    with pytest.raises(ValidationFailed):
        services.incident_escalate(incident=new_incident, actor=org.agent, reason="r")


def test_hold_needs_a_known_reason(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    inc = drive(new_incident, org, "in_progress")
    with pytest.raises(ValidationFailed):
        services.incident_hold(incident=inc, actor=org.agent, reason="lunch")
    inc = services.incident_hold(incident=inc, actor=org.agent, reason="awaiting_vendor")
    assert inc.hold_reason == "awaiting_vendor"
    inc = services.incident_resume(incident=inc, actor=org.agent)
    assert inc.hold_reason == ""


def test_resolve_requires_code_and_notes_and_tells_the_requester(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    inc = drive(new_incident, org, "in_progress")
    with pytest.raises(ValidationFailed) as err:
        services.incident_resolve(
            incident=inc, actor=org.agent, resolution_code="fixed", resolution_notes=""
        )
    assert "resolution_notes" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        services.incident_resolve(
            incident=inc, actor=org.agent, resolution_code="magic", resolution_notes="x"
        )
    assert "resolution_code" in err.value.errors
    inc = services.incident_resolve(
        incident=inc,
        actor=org.agent,
        resolution_code="fixed",
        resolution_notes="Tax code corrected.",
    )
    assert inc.resolved_at is not None
    msg = OutboxMessage.objects.get(event="incident.resolved")
    assert msg.recipients == [org.requester.email]
    assert "Tax code corrected." in msg.body


def test_reopen_by_requester_counts_and_clears_resolution(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    inc = drive(new_incident, org, "resolved")
    inc = services.incident_reopen(incident=inc, actor=org.requester, reason="Still wrong")
    assert (inc.status, inc.reopen_count, inc.resolution_code, inc.resolved_at) == (
        "in_progress",
        1,
        "",
        None,
    )
    assert audit_of(inc)[-1].comment == "Still wrong"


def test_failed_transition_leaves_no_audit_and_no_outbox(org, new_incident, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The audit row and the outbox row are written in the transaction of the change."""
    before_audit = AuditEvent.objects.count()
    before_outbox = OutboxMessage.objects.count()

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("audit store down")

    monkeypatch.setattr("itsm.services.common.audit_record", broken)
    with pytest.raises(RuntimeError):
        services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    new_incident.refresh_from_db()
    assert new_incident.status == "new" and new_incident.assignee is None
    assert AuditEvent.objects.count() == before_audit
    assert OutboxMessage.objects.count() == before_outbox  # the assignment email rolled back


def test_forbidden_transition_changes_nothing(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.count()
    with pytest.raises(ActionForbidden):
        services.incident_assign(incident=new_incident, actor=org.requester, assignee=org.agent)
    assert AuditEvent.objects.count() == before


def test_agent_of_another_team_may_not_work_it(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    inc = services.incident_escalate(incident=new_incident, actor=org.agent, reason="L2")
    with pytest.raises(ActionForbidden):
        services.incident_start(incident=inc, actor=org.agent_other)
    with pytest.raises(ActionForbidden):
        services.incident_start(incident=inc, actor=org.agent)  # tier 1 let go of it
    assert services.incident_start(incident=inc, actor=org.support2).assignee == org.support2


def test_requester_may_only_reopen_close_cancel_own(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionForbidden):
        services.incident_cancel(incident=new_incident, actor=org.requester2)
    inc = services.incident_cancel(incident=new_incident, actor=org.requester)
    assert inc.status == "cancelled"


def test_update_records_changed_fields_only(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_update(
        incident=new_incident, actor=org.agent, title="Tax code wrong", impact="high"
    )
    event = audit_of(new_incident)[-1]
    assert event.action == "updated"
    assert set(event.changes) == {"title"}  # impact was already high
    with pytest.raises(ValidationFailed):
        services.incident_update(incident=new_incident, actor=org.agent, status="closed")
    with pytest.raises(ActionForbidden):
        services.incident_update(incident=new_incident, actor=org.requester, title="mine")


def test_comments_public_and_internal(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_comment(incident=new_incident, actor=org.agent, body="Looking", public=True)
    new_incident.refresh_from_db()
    assert new_incident.responded_at is not None
    assert OutboxMessage.objects.filter(event="incident.reply").count() == 1
    services.incident_comment(
        incident=new_incident, actor=org.agent, body="Check logs", public=False
    )
    assert OutboxMessage.objects.filter(event="incident.reply").count() == 1
    with pytest.raises(ActionForbidden):
        services.incident_comment(
            incident=new_incident, actor=org.requester, body="x", public=False
        )
    with pytest.raises(ActionForbidden):
        services.incident_comment(incident=new_incident, actor=org.requester2, body="x")


def test_requester_reply_resumes_an_incident_waiting_on_them(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    inc = drive(new_incident, org, "in_progress")
    services.incident_hold(incident=inc, actor=org.agent, reason="awaiting_requester")
    services.incident_comment(incident=inc, actor=org.requester, body="Here is the payslip")
    inc.refresh_from_db()
    assert inc.status == "in_progress"
    assert audit_of(inc)[-1].action == "resume" and audit_of(inc)[-1].actor is None


def test_auto_close_after_the_configured_days(org, new_incident, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INCIDENT_AUTO_CLOSE_DAYS = 3
    inc = drive(new_incident, org, "resolved")
    fresh = drive(
        services.incident_create(actor=org.requester, service=org.service, title="fresh"),
        org,
        "resolved",
    )
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        assert services.incident_close_resolved() == 0
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1), tick=False):
        assert services.incident_close_resolved() == 2
        assert services.incident_close_resolved() == 0  # safe to run twice
    inc.refresh_from_db()
    fresh.refresh_from_db()
    assert inc.status == fresh.status == "closed"
    last = audit_of(inc)[-1]
    assert last.action == "close" and last.actor is None


def test_auto_close_skips_reopened(org, new_incident, settings) -> None:  # type: ignore[no-untyped-def]
    inc = drive(new_incident, org, "resolved")
    services.incident_reopen(incident=inc, actor=org.requester, reason="no")
    with time_machine.travel(timezone.now() + timedelta(days=30), tick=False):
        assert services.incident_close_resolved() == 0
