"""Issue 10 review, #1 with #7: the rollback's notice to a problem's requesters was
written in parallel with the privacy fix and still carried the problem's internal title
(the go-live's "fix is live" notice had lost it) and a workaround never published to
them; the incident rows the requester reads named the defect's key. Requesters read
none of it."""

from __future__ import annotations

from core.models import OutboxMessage
from itsm import services as itsm
from itsm.services import problems as problem_services
from projects import services as ps
from tests.projects.test_release_control import ready_release

__all__ = ["ready_release"]  # the fixture, used by name

TITLE = "INTERNAL: bank gateway 10 MB limit in vendor code"
WORKAROUND = "DRAFT-ONLY: ask ops to raise the limit by hand"


def test_issue10_1_7_rollback_notice_carries_no_internal_text(org, project, ready_release) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 #1/#7: mails to requesters after a rollback carry neither the problem's
    title nor an unpublished workaround."""
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Export fails")
    problem = problem_services.problem_create(
        actor=org.problem_manager, title=TITLE, service=org.service, incidents=[inc]
    )
    problem = problem_services.problem_investigate(problem=problem, actor=org.problem_manager)
    problem = problem_services.problem_mark_known_error(
        problem=problem, actor=org.problem_manager, root_cause="limit", workaround=WORKAROUND
    )
    assert not problem.workaround_published
    defect = ps.incident_to_development(incident=inc, actor=org.agent, reason="bug")
    ps.defect_link_problem(item=defect, actor=org.developer, problem=problem)
    ps.work_start(item=defect, actor=org.developer)
    ps.work_fix(item=defect, actor=org.developer, release=ready_release)
    ps.release_sign_off_uat(release=ready_release, actor=org.support2)
    ps.release_transition(release=ready_release, actor=org.change_manager, name="ready")
    release = ps.release_go_live(release=ready_release, actor=org.change_manager)
    ps.release_roll_back(release=release, actor=org.change_manager, reason="Exports broke")

    withdrawn = OutboxMessage.objects.filter(event="problem.fix_withdrawn").get()
    assert org.requester.email in withdrawn.recipients
    to_requester = [m for m in OutboxMessage.objects.all() if org.requester.email in m.recipients]
    leaks = [m.event for m in to_requester if TITLE in m.subject + m.body]
    leaks += [m.event for m in to_requester if WORKAROUND in m.subject + m.body]
    assert not leaks
    # ...nor the rows of their incident's history they read (the defect's key is internal)
    from core.visibility import parts_for

    rows = parts_for(org.requester, inc).history(inc)
    assert {"fix_released", "fix_rolled_back"} <= {r.action for r in rows}
    assert not [r.comment for r in rows if defect.key in r.comment or TITLE in r.comment]
