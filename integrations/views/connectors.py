"""Pages of the integrations: the remote link block on a synced record's page and its
Resync action (``services.connectors.remote_link_resync``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from core.views import redirect_next
from itsm.views.problems import ProblemBase as StaffPage


def remote_link_panel(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    """The record page's block: the remote key with its link, the last sync and its state,
    and the Resync button for those ``can_resync`` allows."""
    from integrations.services.connectors import can_resync, connectors_in_use, link_for

    if not connectors_in_use():
        return None  # no query on a site without connectors (the page's count is pinned)
    link = link_for(record)
    if link is None:
        return None
    return {"link": link, "may_resync": can_resync(request.user, link), "record": record}


class RemoteLinkResyncView(StaffPage):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from integrations.models import RemoteLink
        from integrations.services.connectors import remote_link_resync
        from projects import selectors

        link = RemoteLink.objects.select_related("connector").filter(pk=pk).first()
        record = link.record if link is not None else None
        if record is None:
            raise Http404("No such remote link.")
        selectors.work_item_get(request.user, record.key)  # 404 unless they may see it
        remote_link_resync(link=link, actor=request.user)
        return redirect_next(request, f"{record.get_absolute_url()}#remote-link")
