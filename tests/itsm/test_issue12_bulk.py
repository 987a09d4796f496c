"""Issue 12, bulk actions on queues: up to 500 incidents, each through its own service call
in its own transaction with its own audit row, progress while it runs, and a summary of
what was done and what was refused and why."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.exceptions import ActionForbidden, ValidationFailed
from core.models import AuditEvent, Watch
from itsm import services
from itsm.models import BulkJob, BulkJobResult, Incident, Problem
from itsm.services import bulk
from itsm.services.problems import problem_create
from tests.conftest import api_as


def _incidents(org: Any, n: int) -> list[Incident]:
    return [
        services.incident_create(
            actor=org.requester, service=org.service, title=f"Payslip {i}", impact="low"
        )
        for i in range(n)
    ]


def _audits(action: str, actor: Any) -> int:
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(Incident), action=action, actor=actor
    ).count()


def _run(capture: Any, **kwargs: Any) -> BulkJob:
    with capture(execute=True):
        job = bulk.bulk_job_create(**kwargs)
    job.refresh_from_db()
    return job


# --- the done-when: 200 assigned, progress, 200 audit rows ----------------------------------
def test_bulk_assign_of_200_incidents_ends_with_200_audit_rows_and_a_summary(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    incidents = _incidents(org, 200)
    seen: list[int] = []
    progress = bulk._progress
    monkeypatch.setattr(bulk, "_progress", lambda pk, done: (seen.append(done), progress(pk, done)))
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="assign",
        incidents=[i.key for i in incidents],
        params={"assignee": org.agent.pk},
    )
    assert job.status == "done" and job.done_count == 200 and job.finished_at
    assert _audits("assign", org.agent) == 200
    assert Incident.objects.filter(assignee=org.agent, status="assigned").count() == 200
    assert BulkJobResult.objects.filter(job=job, ok=True).count() == 200
    # Progress is written as it goes, in batches (not one write per ticket).
    assert seen == list(range(bulk.PROGRESS_EVERY, 201, bulk.PROGRESS_EVERY))
    summary = bulk.bulk_summary(job)
    assert summary["succeeded"] == 200 and summary["refused"] == []


def test_refused_tickets_are_reported_with_the_reason_while_the_others_succeed(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks
) -> None:
    a, b, c = _incidents(org, 3)
    services.incident_cancel(incident=b, actor=org.requester)
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="transition",
        incidents=[a.key, b.key, c.key],
        params={"name": "cancel", "comment": "Raised twice"},
    )
    assert job.status == "done" and job.done_count == 3
    refused = bulk.bulk_job_refused(job)
    assert [(r.key, r.reason) for r in refused] == [
        (b.key, f"Cannot cancel {b.key} while it is cancelled.")
    ]
    assert Incident.objects.get(pk=a.pk).status == "cancelled"
    assert Incident.objects.get(pk=c.pk).status == "cancelled"
    assert bulk.bulk_summary(job)["succeeded"] == 2


def test_a_refused_ticket_is_never_half_written(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """The service fails after its transition fired and the row was saved: the ticket, its
    audit row and its result row all roll back together; the next ticket goes on."""
    a, b = _incidents(org, 2)
    real = services.incidents.outbox_email

    def fail_on_b(**kwargs: Any) -> Any:
        if kwargs.get("target") is not None and kwargs["target"].pk == b.pk:
            raise ValidationFailed("The mail server refused it.")
        return real(**kwargs)

    monkeypatch.setattr(services.incidents, "outbox_email", fail_on_b)
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="assign",
        incidents=[a.pk, b.pk],
        params={"assignee": "agent"},
    )
    b.refresh_from_db()
    assert b.status == "new" and b.assignee_id is None
    assert not AuditEvent.objects.filter(object_id=b.pk, action="assign").exists()
    assert [(r.key, r.ok, r.reason) for r in job.results.all()] == [
        (a.key, True, ""),
        (b.key, False, "The mail server refused it."),
    ]
    assert Incident.objects.get(pk=a.pk).assignee == org.agent


def test_a_member_of_another_team_is_refused_per_ticket(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks
) -> None:
    """Assignee without a team: each ticket's own team decides (the service's rule)."""
    mine = _incidents(org, 1)[0]
    theirs = _incidents(org, 1)[0]
    services.incident_assign(incident=theirs, actor=org.agent, team=org.other_desk)
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.incident_manager,
        action="assign",
        incidents=[mine.key, theirs.key],
        params={"assignee": "agent"},
    )
    assert [(r.key, r.ok) for r in job.results.all()] == [(mine.key, True), (theirs.key, False)]
    assert "not a member of Branch Desk" in bulk.bulk_job_refused(job)[0].reason


# --- refused up front -----------------------------------------------------------------------
def test_more_than_500_incidents_are_refused_before_anything_is_stored(org) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="at most 500"):
        bulk.bulk_job_create(
            actor=org.agent,
            action="assign",
            incidents=[f"INC-{n}" for n in range(1, 502)],
            params={"assignee": "agent"},
        )
    assert not BulkJob.objects.exists()


@pytest.mark.parametrize(
    ("action", "params", "field"),
    [
        ("delete", {}, "action"),
        ("assign", {}, "team"),
        ("assign", {"assignee": "nobody"}, "assignee"),
        ("transition", {"name": "explode"}, "name"),
        ("transition", {"name": "resolve", "resolution_code": "fixed"}, "resolution_notes"),
        ("transition", {"name": "hold", "reason": "bored"}, "reason"),
        ("link_problem", {"problem": "PRB-999"}, "problem"),
        ("add_watcher", {}, "user"),
    ],
)
def test_bad_actions_and_parameters_are_refused_before_anything_runs(  # type: ignore[no-untyped-def]
    org, new_incident, action, params, field
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        bulk.bulk_job_create(
            actor=org.agent, action=action, incidents=[new_incident.key], params=params
        )
    assert field in exc.value.errors
    assert not BulkJob.objects.exists()


def test_unknown_incidents_are_named(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match="No such incidents: INC-99999"):
        bulk.bulk_job_create(
            actor=org.agent,
            action="assign",
            incidents=[new_incident.key, "INC-99999"],
            params={"assignee": "agent"},
        )


def test_requesters_may_not_run_bulk_actions(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionForbidden):
        bulk.bulk_job_create(
            actor=org.requester,
            action="add_watcher",
            incidents=[new_incident.key],
            params={"user": "requester"},
        )


# --- safe to run twice ----------------------------------------------------------------------
def test_the_task_run_twice_does_not_apply_twice(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks
) -> None:
    from itsm.tasks import bulk_job_run

    incidents = _incidents(org, 3)
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="assign",
        incidents=[i.key for i in incidents],
        params={"assignee": "agent"},
    )
    assert bulk_job_run(job.pk) == "not claimed"
    assert _audits("assign", org.agent) == 3
    # A worker died half-way (one ticket done, the job left running); the redelivered
    # message takes the stale job over and does only the rest.
    job.results.exclude(incident_id=incidents[0].pk).delete()
    Incident.objects.exclude(pk=incidents[0].pk).update(assignee=None)
    BulkJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=job.created_at)
    import time_machine

    with time_machine.travel(job.created_at + bulk.STALE_AFTER * 2):
        assert bulk_job_run(job.pk) == "done"
    assert _audits("assign", org.agent) == 5  # 3 + the 2 left, not the first again
    assert job.results.count() == 3


def test_a_running_job_is_not_taken_by_a_second_worker(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    job = BulkJob.objects.create(
        created_by=org.agent,
        action="add_watcher",
        params={"user": org.agent.pk},
        incident_ids=[new_incident.pk],
    )
    assert bulk._claim(job.pk)
    assert bulk.bulk_job_run(job.pk) is None
    assert not job.results.exists()


# --- the other actions, through their own services -------------------------------------------
def test_link_to_a_problem_and_add_a_watcher(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks
) -> None:
    a, b = _incidents(org, 2)
    problem = problem_create(actor=org.problem_manager, title="Tax codes", service=org.service)
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="link_problem",
        incidents=[a.key, b.key],
        params={"problem": problem.key},
    )
    assert job.status == "done"
    assert set(Problem.objects.get(pk=problem.pk).incidents.all()) == {a, b}
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="add_watcher",
        incidents=[a.key, b.key],
        params={"user": "support2"},
    )
    assert Watch.objects.filter(user=org.support2).count() == 2
    assert _audits("watcher_added", org.agent) == 2


def test_resolve_in_bulk_from_assigned_records_the_implied_start(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks
) -> None:
    (a,) = _incidents(org, 1)
    services.incident_assign(incident=a, actor=org.agent, assignee=org.agent)
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="transition",
        incidents=[a.key],
        params={"name": "resolve", "resolution_code": "fixed", "resolution_notes": "Rebooted"},
    )
    assert job.results.get().ok
    assert Incident.objects.get(pk=a.pk).status == "resolved"
    assert _audits("start", org.agent) == 1 and _audits("resolve", org.agent) == 1


# --- API --------------------------------------------------------------------------------------
def test_api_creates_a_job_and_reports_progress_and_results(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks
) -> None:
    a, b = _incidents(org, 2)
    services.incident_cancel(incident=b, actor=org.requester)
    client = api_as(org.agent)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/api/v1/incidents/bulk/",
            {"action": "assign", "incidents": [a.key, b.pk], "params": {"assignee": "agent"}},
            format="json",
        )
    assert r.status_code == 202, r.content
    job_id = r.json()["id"]
    r = client.get(f"/api/v1/bulk-jobs/{job_id}/")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "done" and body["total"] == 2 and body["done_count"] == 2
    assert body["succeeded"] == 1
    assert body["refused"] == [
        {"incident": b.key, "reason": f"Cannot assign {b.key} while it is cancelled."}
    ]


def test_api_refuses_bad_input_with_400(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    client = api_as(org.agent)
    r = client.post(
        "/api/v1/incidents/bulk/",
        {"action": "explode", "incidents": [new_incident.key]},
        format="json",
    )
    assert r.status_code == 400 and "Unknown action" in r.json()["detail"]
    r = client.post(
        "/api/v1/incidents/bulk/",
        {"action": "assign", "incidents": [str(n) for n in range(501)], "params": {"team": 1}},
        format="json",
    )
    assert r.status_code == 400 and "at most 500" in r.json()["detail"]
    assert not BulkJob.objects.exists()


def test_api_job_is_seen_by_its_creator_and_administrators_only(  # type: ignore[no-untyped-def]
    org, new_incident, django_capture_on_commit_callbacks
) -> None:
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="add_watcher",
        incidents=[new_incident.key],
        params={"user": "agent"},
    )
    url = f"/api/v1/bulk-jobs/{job.pk}/"
    assert api_as(org.agent).get(url).status_code == 200
    assert api_as(org.admin).get(url).status_code == 200
    assert api_as(org.agent_other).get(url).status_code == 404
    assert api_as(org.requester).get(url).status_code == 404
    r = api_as(org.requester).post(
        "/api/v1/incidents/bulk/",
        {"action": "add_watcher", "incidents": [new_incident.key], "params": {"user": "agent"}},
        format="json",
    )
    assert r.status_code == 403


def test_job_results_cost_no_query_per_ticket(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks
) -> None:
    def queries(job: BulkJob) -> int:
        client = api_as(org.agent)
        page = Client()
        page.force_login(org.agent)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/v1/bulk-jobs/{job.pk}/").status_code == 200
            assert page.get(f"/desk/bulk/{job.pk}/").status_code == 200
        return len(ctx.captured_queries)

    def cancel_all(n: int) -> BulkJob:
        incidents = _incidents(org, n)
        for i in incidents:  # all refused: each has a row in the summary
            services.incident_cancel(incident=i, actor=org.requester)
        return _run(
            django_capture_on_commit_callbacks,
            actor=org.agent,
            action="transition",
            incidents=[i.key for i in incidents],
            params={"name": "cancel"},
        )

    few = queries(cancel_all(1))
    assert queries(cancel_all(6)) == few


# --- the desk page ----------------------------------------------------------------------------
def _page(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_queue_offers_checkboxes_and_the_bar_to_staff(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    html = _page(org.agent).get("/desk/?queue=all").content.decode()
    assert 'id="bulk-form"' in html
    assert f'class="bulk-pick" name="incidents" value="{new_incident.key}"' in html
    assert 'class="bulk-all"' in html
    assert f'<option value="{org.desk.pk}:{org.agent.pk}">' in html  # a member of my team
    assert f'<option value="{org.support.pk}:">' in html  # another team's queue


def test_the_bar_starts_a_job_and_shows_the_summary_with_refusals(  # type: ignore[no-untyped-def]
    org, transactional_db
) -> None:
    """A small job runs when the request commits: the answer is already its summary."""
    a, b = _incidents(org, 2)
    services.incident_cancel(incident=b, actor=org.requester)
    r = _page(org.agent).post(
        "/desk/bulk/",
        {"action": "assign", "incidents": [a.key, b.key], "assign_to": f":{org.agent.pk}"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "1 succeeded" in html and "1 refused" in html
    assert f"Cannot assign {b.key} while it is cancelled." in html
    assert "every 1s" not in html  # finished: no more polling
    assert Incident.objects.get(pk=a.pk).assignee == org.agent


def test_a_large_job_answers_with_a_polling_progress_bar(  # type: ignore[no-untyped-def]
    org, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """Above the inline size the job goes to Celery; the page polls it every second."""
    incidents = _incidents(org, bulk.INLINE_MAX + 1)
    queued: list[int] = []
    monkeypatch.setattr("itsm.tasks.bulk_job_run.delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        r = _page(org.agent).post(
            "/desk/bulk/",
            {
                "action": "transition",
                "transition": "cancel",
                "incidents": [i.key for i in incidents],
            },
        )
    job = BulkJob.objects.get()
    assert queued == [job.pk]
    html = r.content.decode()
    assert f'hx-get="/desk/bulk/{job.pk}/" hx-trigger="every 1s"' in html
    assert f"0 of {bulk.INLINE_MAX + 1}" in html
    bulk.bulk_job_run(job.pk)
    html = _page(org.agent).get(f"/desk/bulk/{job.pk}/").content.decode()
    assert f"{bulk.INLINE_MAX + 1} succeeded" in html and "every 1s" not in html


def test_the_bar_says_what_to_change_when_refused(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    r = _page(org.agent).post(
        "/desk/bulk/",
        {
            "action": "transition",
            "transition": "resolve",
            "resolution_code": "fixed",
            "incidents": [new_incident.key],
        },
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 400
    assert "Resolve needs resolution notes." in r.content.decode()
    assert not BulkJob.objects.exists()


def test_someone_elses_job_is_not_shown(
    org, new_incident, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="add_watcher",
        incidents=[new_incident.key],
        params={"user": "agent"},
    )
    assert _page(org.agent_other).get(f"/desk/bulk/{job.pk}/").status_code == 404


def test_a_job_whose_message_was_lost_is_started_by_the_sweep(  # type: ignore[no-untyped-def]
    org, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """The broker was down when the job was queued: the request still answers, and the
    periodic sweep starts the job once the broker is back."""
    import time_machine

    from itsm.tasks import bulk_jobs_resume

    incidents = _incidents(org, bulk.INLINE_MAX + 1)

    def broker_down(job_id: int) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("itsm.tasks.bulk_job_run.delay", broker_down)
    job = _run(
        django_capture_on_commit_callbacks,
        actor=org.agent,
        action="add_watcher",
        incidents=[i.key for i in incidents],
        params={"user": "agent"},
    )
    assert job.status == "queued"
    monkeypatch.undo()
    assert bulk_jobs_resume() == 0  # not yet a minute old
    with time_machine.travel(job.created_at + bulk.STALE_AFTER):
        assert bulk_jobs_resume() == 1
    job.refresh_from_db()
    assert job.status == "done" and job.done_count == len(incidents)


def test_select_every_incident_matching_the_queue_beyond_its_page(  # type: ignore[no-untyped-def]
    org, django_capture_on_commit_callbacks
) -> None:
    """A queue of 30 shows 25 rows: once the page is checked the bar offers the 30 the
    queue lists, and the job acts on those (as filtered), not only on the page's rows."""
    ours = _incidents(org, 30)
    other = services.incident_create(
        actor=org.requester,
        service=org.service,
        title="Urgent one",
        impact="high",
        urgency="high",
    )
    query = "queue=all&priority=4&priority=5"  # low impact: the 30, not the urgent one
    html = _page(org.agent).get(f"/desk/?{query}").content.decode()
    assert 'data-bulk-matching="30"' in html and "Select all 30 matching" in html
    with django_capture_on_commit_callbacks(execute=True):
        r = _page(org.agent).post(
            "/desk/bulk/",
            {
                "action": "assign",
                "assign_to": f":{org.agent.pk}",
                "incidents": [i.key for i in ours[:25]],  # the page's checked rows…
                "matching": query,  # …and the choice of every incident matching
            },
        )
    assert r.status_code == 200
    assert BulkJob.objects.get().results.count() == 30
    assert Incident.objects.filter(assignee=org.agent).count() == 30
    assert Incident.objects.get(pk=other.pk).assignee is None
    bad = _page(org.agent).post(
        "/desk/bulk/", {"action": "assign", "assign_to": ":", "matching": "older_than_days=x"}
    )
    assert bad.status_code == 400
