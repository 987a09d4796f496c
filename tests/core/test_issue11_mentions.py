"""Issue 11: @mentions in comments on any record, told through the shared comment path."""

from __future__ import annotations

import pytest

from core.models import OutboxMessage, Tier
from core.roles import Role
from itsm import services
from projects.models import Project
from projects.services import work_comment, work_item_create
from tests.factories import TeamFactory, UserFactory


@pytest.fixture
def dev2(org):  # type: ignore[no-untyped-def]
    user = UserFactory(username="dev.two", roles=[Role.DEVELOPER])
    org.dev.members.add(user)
    return user


@pytest.fixture
def item(org):  # type: ignore[no-untyped-def]
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    return work_item_create(actor=org.developer, kind="defect", project=project, title="Tax")


def mentions(event: str = "") -> list[OutboxMessage]:
    qs = OutboxMessage.objects.filter(event__endswith=".mentioned")
    return list(qs.filter(event=event) if event else qs)


def test_a_mention_on_a_work_item_note_reaches_the_mentioned_developer(org, item, dev2) -> None:  # type: ignore[no-untyped-def]
    work_comment(item=item, actor=org.developer, body="@dev.two can you check the `rounding`?")
    [msg] = mentions("work_item.mentioned")
    assert msg.recipients == [dev2.email]
    assert item.key in msg.subject and str(org.developer) in msg.subject
    assert "can you check" in msg.body and f"http://tandem.test/work/{item.key}" in msg.body
    assert (msg.content_type.model, msg.object_id) == ("workitem", item.pk)


def test_case_insensitive_once_per_person_and_unknown_names_ignored(org, item, dev2) -> None:  # type: ignore[no-untyped-def]
    work_comment(item=item, actor=org.developer, body="@Dev.Two and @dev.two, @nobody_here.")
    assert [m.recipients for m in mentions()] == [[dev2.email]]


def test_the_author_is_not_told_of_their_own_mention(org, item) -> None:  # type: ignore[no-untyped-def]
    work_comment(item=item, actor=org.developer, body="note to self @developer")
    assert mentions() == []


def test_a_mention_in_code_mentions_nobody(org, item, dev2) -> None:  # type: ignore[no-untyped-def]
    work_comment(item=item, actor=org.developer, body="run `git log --author=@dev.two`")
    assert mentions() == []


def test_a_requester_mentioned_in_an_internal_note_is_not_told(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    services.incident_comment(
        incident=new_incident, actor=org.agent, body="@requester seems confused", public=False
    )
    assert mentions() == []
    OutboxMessage.objects.all().delete()
    services.incident_comment(
        incident=new_incident, actor=org.agent, body="@requester please restart", public=True
    )
    # The public reply reaches them once: the service's "new reply", which the mention
    # gives way to (it carries the same comment).
    [msg] = [m for m in OutboxMessage.objects.all() if org.requester.email in m.recipients]
    assert msg.event == "incident.reply" and "please restart" in msg.body


def test_staff_who_cannot_see_the_record_are_not_told(org, item) -> None:  # type: ignore[no-untyped-def]
    # A requester (not staff) never sees work items, whatever a note says.
    work_comment(item=item, actor=org.developer, body="ask @requester and @support2")
    assert [m.recipients for m in mentions()] == [[org.support2.email]]


def test_a_mention_on_a_problem(org) -> None:  # type: ignore[no-untyped-def]
    from itsm.services.problems import problem_comment, problem_create

    problem = problem_create(actor=org.problem_manager, service=org.service, title="Rounding")
    problem_comment(problem=problem, actor=org.problem_manager, body="@developer have a look")
    [msg] = mentions("problem.mentioned")
    assert msg.recipients == [org.developer.email] and problem.key in msg.subject


def test_other_desk_staff_outside_an_incident_are_told_only_if_they_may_see_it(
    org, new_incident
) -> None:  # type: ignore[no-untyped-def]
    TeamFactory(name="Elsewhere", tier=Tier.SERVICE_DESK)
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    services.incident_comment(
        incident=new_incident, actor=org.agent, body="@agent_other FYI", public=False
    )
    from core.watchers import may_see

    told = [m.recipients for m in mentions()]
    assert told == ([[org.agent_other.email]] if may_see(org.agent_other, new_incident) else [])
