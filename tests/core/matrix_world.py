"""One record of each type, and a user holding one role, for the role-matrix tests.

The user stands where the matrix's object-level conditions (``core.matrix``) put the
usual holder of the role: a staff user is a member of the team every record belongs to
(the service desk, which also builds the project); a requester raised the incident and
the service request. Nobody tested is an assignee, lead, implementer, approver or
project manager: those personal conditions are the notes of the matrix, not its roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.models import Notification, Tier
from core.roles import Role
from tests.factories import ServiceFactory, TeamFactory, UserFactory

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def png() -> SimpleUploadedFile:
    return SimpleUploadedFile("shot.png", PNG, content_type="image/png")


@dataclass
class World:
    role: Role
    me: Any
    owner: Any
    objects: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.objects[key]


def build_world(role: Role) -> World:  # noqa: PLR0915 - one record of each type, in order
    from core.attachments import attachment_add
    from core.service_roles import service_role_assign
    from itsm.models import (
        CatalogField,
        CatalogItem,
        CatalogTaskTemplate,
        Change,
        FreezeWindow,
        Incident,
        StandardChangeTemplate,
    )
    from itsm.services import canned as canned_services
    from itsm.services import changes as change_services
    from itsm.services import incident_create
    from itsm.services import incident_links as links
    from itsm.services import problems as problem_services
    from itsm.services import requests as request_services
    from itsm.services import saved_views as view_services
    from itsm.services.approvals import approvals_of
    from itsm.services.bulk import bulk_job_create
    from knowledge import services as kb
    from projects import iterations
    from projects import services as project_services
    from projects.capacity import time_log
    from projects.models import Kind, Project
    from projects.services import dev_links, structure
    from projects.services import emergency as emergency_services
    from sla.models import BusinessCalendar, SlaPolicy

    owner = UserFactory(username="owner", roles=[Role.ADMINISTRATOR])
    rita = UserFactory(username="rita", roles=[Role.REQUESTER])
    approver = UserFactory(username="approver", roles=[Role.ADMINISTRATOR])
    me = UserFactory(username="me", roles=[role])
    staff = role != Role.REQUESTER
    requester = rita if staff else me
    ops = TeamFactory(name="Ops", tier=Tier.SERVICE_DESK, members=[owner])
    if staff:
        ops.members.add(me)
    service = ServiceFactory(name="Payroll", support_team=ops, development_team=ops)
    spare_team = TeamFactory(name="Spare team", tier=Tier.APPLICATION_SUPPORT)
    spare_service = ServiceFactory(name="Spare service")
    o: dict[str, Any] = {"ops": ops, "service": service}
    o["team"] = spare_team
    o["spare_service"] = spare_service
    o["service_role"] = service_role_assign(
        service=spare_service, user=owner, role=Role.CHANGE_MANAGER.value, actor=owner
    )
    o["calendar"] = BusinessCalendar.objects.create(name="Spare calendar", always_open=True)
    o["sla_policy"] = SlaPolicy.objects.create(
        name="Spare policy",
        ticket_type="incident",
        priority=5,
        service=spare_service,
        calendar=BusinessCalendar.objects.exclude(pk=o["calendar"].pk).first(),
        response_minutes=60,
        resolution_minutes=600,
    )

    # incidents: the one under test, a child and a related one
    incident = incident_create(actor=requester, service=service, title="Payslip wrong")
    Incident.objects.filter(pk=incident.pk).update(team=ops)
    incident.refresh_from_db()
    other = incident_create(actor=requester, service=service, title="Payslip wrong too")
    Incident.objects.filter(pk=other.pk).update(team=ops)
    links.incident_relate(incident=incident, other=other, actor=owner)
    child = incident_create(actor=requester, service=service, title="Payslip wrong here too")
    Incident.objects.filter(pk=incident.pk).update(major_incident=True)
    incident.refresh_from_db()
    links.incident_child_add(parent=incident, child=child, actor=owner)
    o["child_incident"] = child
    o["incident"], o["other_incident"] = incident, other
    o["incident_attachment"] = attachment_add(
        target=incident, actor=requester, file=png(), public=True
    )

    problem = problem_services.problem_create(
        actor=owner, title="Payslips wrong", service=service, team=ops, incidents=[other]
    )
    o["problem"] = problem
    o["problem_attachment"] = attachment_add(target=problem, actor=owner, file=png())

    item = CatalogItem.objects.create(
        name="Report access", service=service, approval="none", fulfilment_team=ops
    )
    CatalogField.objects.create(item=item, name="why", label="Why", type="text", required=False)
    CatalogTaskTemplate.objects.create(item=item, title="Grant it", order=0)
    o["catalog_item"] = item
    req = request_services.request_submit(actor=requester, item=item, answers={})
    o["request"] = req
    o["task"] = req.tasks.first()
    o["request_attachment"] = attachment_add(target=req, actor=requester, file=png(), public=True)

    template = StandardChangeTemplate.objects.create(
        name="Restart", implementation_plan="a", backout_plan="b", test_plan="c"
    )
    template.services.add(service)
    o["change_template"] = template
    now = timezone.now()
    o["freeze_window"] = FreezeWindow.objects.create(
        name="Year end", start=now + timedelta(days=300), end=now + timedelta(days=310)
    )
    change = change_services.change_create(
        actor=owner,
        title="Tax tables",
        services=[service],
        implementation_plan="a",
        backout_plan="b",
        test_plan="c",
    )
    change = change_services.change_submit(change=change, actor=owner)
    change = change_services.change_assess(change=change, actor=owner, risk_answers={})
    change = change_services.change_request_approval(
        change=change, actor=owner, approvers=[approver]
    )
    Change.objects.filter(pk=change.pk).update(team=ops)
    change.refresh_from_db()
    o["change"] = change
    o["approval"] = approvals_of(change)[0]
    o["change_attachment"] = attachment_add(target=change, actor=owner, file=png())

    project = Project.objects.create(code="PAY", name="Payroll", team=ops, project_manager=approver)
    project.services.add(service)
    o["project"] = project
    release = project_services.release_create(actor=owner, project=project, version="1.0")
    o["release"] = release
    o["iteration"] = iterations.iteration_create(
        actor=owner,
        project=project,
        name="Sprint 1",
        start=timezone.localdate(),
        end=timezone.localdate() + timedelta(days=11),
    )
    o["component"] = structure.component_create(project=project, actor=owner, name="Payslips")
    defect = project_services.work_item_create(
        actor=owner, kind=Kind.DEFECT, project=project, title="Tax code wrong"
    )
    enhancement = project_services.work_item_create(
        actor=owner, kind=Kind.ENHANCEMENT, project=project, title="PDF payslips"
    )
    o["defect"], o["enhancement"] = defect, enhancement
    o["defect_link"] = structure.work_item_link_add(
        item=defect, other=enhancement, kind="relates", actor=owner
    )
    o["enhancement_link"] = o["defect_link"]
    o["defect_dev_link"] = dev_links.dev_link_add(
        item=defect, url="https://git.example.test/pay/pull/1", title="Fix", actor=owner
    )
    o["enhancement_dev_link"] = dev_links.dev_link_add(
        item=enhancement, url="https://git.example.test/pay/pull/2", title="PDF", actor=owner
    )
    o["defect_attachment"] = attachment_add(target=defect, actor=owner, file=png())
    o["enhancement_attachment"] = attachment_add(target=enhancement, actor=owner, file=png())
    emergency = change_services.change_create(
        actor=owner, title="Hotfix", services=[service], type="emergency"
    )
    o["emergency_change"] = emergency
    o["emergency_change_undecided"] = change_services.change_create(
        actor=owner, title="Hotfix 2", services=[service], type="emergency"
    )
    o["emergency_decision"] = emergency_services.emergency_decision_record(
        actor=owner,
        change=emergency,
        release=release,
        project_manager=approver,
        slip_days=2,
    )
    time_log(actor=owner, target=defect, hours="1")

    article = kb.article_create(
        actor=owner, title="Fix payslips", body="Do this.", audience="public", services=[service]
    )
    article = kb.article_transition(article=article, actor=owner, name="publish")
    o["article"] = article
    o["article_attachment"] = attachment_add(target=article, actor=owner, file=png(), public=True)

    o["canned_reply"] = canned_services.canned_reply_create(
        actor=owner, title="Thanks", body="Thank you.", team=ops
    )
    o["saved_view"] = view_services.saved_view_create(
        actor=owner, name="Mine", query={"status": "new"}, team=ops
    )
    o["bulk_job"] = bulk_job_create(
        actor=owner, action="add_watcher", incidents=[other.pk], params={"user": owner.pk}
    )
    o["notification"] = Notification.objects.create(
        user=me, event="incident_assigned", family="assigned", subject="Assigned"
    )
    o["user"] = owner
    from core.tokens import token_create

    # the acting user's own personal token (tokens are theirs only, like notifications)
    o["token"], _secret = token_create(
        user=me, name="matrix", scope="write", expires_at=None, actor=me
    )
    from core.watchers import watch_add
    from projects.services.links import defect_link_incident

    defect_link_incident(item=defect, actor=owner, incident=incident)
    for key in ("incident", "problem", "request", "change", "defect", "enhancement", "article"):
        watch_add(record=o[key], user=owner, actor=owner)
    o["dev_team"] = TeamFactory(name="Builders", tier=Tier.DEVELOPMENT)
    from integrations.services.webhooks import SubscriptionInput, subscription_create

    o["webhook"], _secret = subscription_create(
        actor=owner,
        data=SubscriptionInput(
            name="Matrix", url="https://hooks.example.test/", event_types=["article.needs_review"]
        ),
    )
    return World(role=role, me=me, owner=owner, objects=o)
