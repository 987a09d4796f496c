"""The incident page's Linked incidents panel posts here: link / unlink related
incidents, add / detach a child of a major incident, merge into a master. Each calls the
same service as the API (``itsm.services.incident_links``). A refused form (a key that
names nothing, a master that is closed...) comes back on the incident page with the
panel's form open, what was typed kept and the reason, with the 4xx status."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from core.concurrency import page_version_checked
from core.exceptions import DomainError, NotFound, ValidationFailed
from core.views import DomainErrorMixin
from itsm import selectors
from itsm.models import Incident
from itsm.services import incident_links

OPS = ("relate", "unrelate", "child_add", "child_remove", "merge")


def _other(request: HttpRequest, op: str) -> Incident:
    ref = request.POST.get("other", "").strip()
    if not ref:
        raise ValidationFailed("Give the incident's key (INC-1042).", field="other")
    try:
        return selectors.incident_get(request.user, ref)
    except NotFound:
        raise ValidationFailed(f"No incident {ref}.", field="other") from None


class IncidentLinksView(LoginRequiredMixin, DomainErrorMixin, View):
    def post(self, request: HttpRequest, ref: str, op: str) -> HttpResponse:
        incident = selectors.incident_get(request.user, ref)
        if op not in OPS:
            raise NotFound(f"No action '{op}' on linked incidents.")
        actor = request.user
        try:
            other = _other(request, op)
            if op == "relate":
                incident_links.incident_relate(incident=incident, other=other, actor=actor)
            elif op == "unrelate":
                incident_links.incident_unrelate(incident=incident, other=other, actor=actor)
            elif op == "child_add":
                incident_links.incident_child_add(parent=incident, child=other, actor=actor)
            elif op == "child_remove":
                incident_links.incident_child_remove(parent=incident, child=other, actor=actor)
            else:
                # merging closes it: from a page before someone else's change, refused
                with page_version_checked(request, incident):
                    master = incident_links.incident_merge(
                        duplicate=incident,
                        master=other,
                        actor=actor,
                        comment=request.POST.get("comment", ""),
                    )
                return redirect("itsm:incident_detail", ref=master.key)
        except DomainError as exc:
            return _refused(request, incident, op, exc)
        return redirect("itsm:incident_detail", ref=incident.key)


def _refused(request: HttpRequest, incident: Incident, op: str, exc: DomainError) -> HttpResponse:
    """The incident page again, the panel's form open as posted, saying what to change."""
    from itsm.views.incidents import _detail_context

    fresh = selectors.incident_get(request.user, incident.pk)
    posted = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    context = _detail_context(request, fresh, links_form=op, links_posted=posted, links_error=exc)
    return render(request, "itsm/incident_detail.html", context, status=exc.status_code)
