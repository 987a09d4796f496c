"""Issue 11 review fix: one comment never sends two e-mails to the same person — a
mention gives way to the e-mail the comment's own service writes to that address."""

from __future__ import annotations

from core.models import OutboxMessage
from itsm import services


def sent_to(address: str) -> list[str]:
    return [m.event for m in OutboxMessage.objects.order_by("pk") if address in m.recipients]


def test_agent_reply_mentioning_the_requester_sends_them_one_e_mail(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    OutboxMessage.objects.all().delete()
    services.incident_comment(
        incident=new_incident, actor=org.agent, body="@requester please restart", public=True
    )
    assert sent_to(org.requester.email) == ["incident.reply"]


def test_requester_reply_mentioning_the_agent_sends_them_one_e_mail(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    OutboxMessage.objects.all().delete()
    services.incident_comment(incident=new_incident, actor=org.requester, body="@agent done")
    assert sent_to(org.agent.email) == ["incident.requester_reply"]


def test_request_reply_mentioning_the_requester_sends_them_one_e_mail(org) -> None:  # type: ignore[no-untyped-def]
    from itsm.models import CatalogItem
    from itsm.services import requests as request_services

    item = CatalogItem.objects.create(
        name="Mouse", service=org.service, fulfilment_team=org.support
    )
    req = request_services.request_submit(actor=org.requester, item=item, answers={})
    OutboxMessage.objects.all().delete()
    request_services.request_comment(
        request=req, actor=org.support2, body="@requester which colour?", public=True
    )
    assert sent_to(org.requester.email) == ["request.reply"]


def test_a_mention_without_a_service_e_mail_still_reaches_its_person(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    services.incident_assign(incident=new_incident, actor=org.agent, assignee=org.agent)
    OutboxMessage.objects.all().delete()
    services.incident_comment(
        incident=new_incident, actor=org.agent, body="@support2 a look?", public=False
    )
    assert sent_to(org.support2.email) == ["incident.mentioned"]
