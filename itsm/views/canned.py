"""The canned replies page (/desk/canned/): the user's personal replies and their teams',
created, edited and deleted through the same services as the API. A refused save shows the
form again as posted, with what to change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from core.exceptions import DomainError, NotFound, ValidationFailed
from core.ids import parse_id
from core.views import DomainErrorMixin
from itsm.models import PLACEHOLDERS, CannedReply
from itsm.services import canned


class _StaffOnly:
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not canned.can_use_canned_replies(request.user):
            raise NotFound("No such page.")  # requesters keep no canned replies
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class CannedBase(LoginRequiredMixin, DomainErrorMixin, _StaffOnly, View):
    def reply(self, request: HttpRequest, pk: str) -> CannedReply:
        found = canned.canned_replies_visible(request.user).filter(pk=parse_id(pk)).first()
        if found is None:
            raise NotFound("No such canned reply.")
        return found

    def form(
        self,
        request: HttpRequest,
        *,
        reply: CannedReply | None,
        posted: dict[str, str] | None = None,
        error: DomainError | None = None,
    ) -> HttpResponse:
        values = posted or {
            "title": reply.title if reply else "",
            "body": reply.body if reply else "",
            "team": str(reply.team_id or "") if reply else "",
        }
        context = {
            "reply": reply,
            "values": values,
            "teams": canned.shareable_teams(request.user),
            "placeholders": PLACEHOLDERS.items(),
            "error": error,
            "errors": error.errors if error else {},
        }
        status = error.status_code if error else 200
        return render(request, "itsm/canned_form.html", context, status=status)


class CannedListView(CannedBase):
    def get(self, request: HttpRequest) -> HttpResponse:
        replies = list(canned.canned_replies_visible(request.user))
        personal = [r for r in replies if r.is_personal]
        by_team: dict[Any, list[CannedReply]] = {}
        for r in replies:
            if not r.is_personal:
                by_team.setdefault(r.team, []).append(r)
        for r in replies:
            r.may_manage = canned.can_manage_canned_reply(request.user, r)  # type: ignore[attr-defined]
        return render(
            request,
            "itsm/canned.html",
            {"personal": personal, "by_team": list(by_team.items()), "count": len(replies)},
        )


def _posted(request: HttpRequest) -> dict[str, str]:
    return {name: request.POST.get(name, "") for name in ("title", "body", "team")}


class CannedCreateView(CannedBase):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self.form(request, reply=None)

    def post(self, request: HttpRequest) -> HttpResponse:
        posted = _posted(request)
        try:
            team = None
            if posted["team"]:
                team = canned.shareable_teams(request.user).filter(pk=parse_id(posted["team"]))
                team = team.first()
                if team is None:
                    raise ValidationFailed("Choose one of your teams.", field="team")
            canned.canned_reply_create(
                actor=request.user, title=posted["title"], body=posted["body"], team=team
            )
        except DomainError as exc:
            return self.form(request, reply=None, posted=posted, error=exc)
        return redirect("itsm:canned")


class CannedEditView(CannedBase):
    def get(self, request: HttpRequest, pk: str) -> HttpResponse:
        reply = self.reply(request, pk)
        if not canned.can_manage_canned_reply(request.user, reply):
            raise NotFound("No such canned reply.")
        return self.form(request, reply=reply)

    def post(self, request: HttpRequest, pk: str) -> HttpResponse:
        reply = self.reply(request, pk)
        posted = _posted(request)
        posted["team"] = str(reply.team_id or "")  # fixed at creation
        try:
            canned.canned_reply_update(
                reply=reply, actor=request.user, title=posted["title"], body=posted["body"]
            )
        except DomainError as exc:
            return self.form(request, reply=reply, posted=posted, error=exc)
        return redirect("itsm:canned")


class CannedDeleteView(CannedBase):
    def post(self, request: HttpRequest, pk: str) -> HttpResponse:
        canned.canned_reply_delete(reply=self.reply(request, pk), actor=request.user)
        return redirect("itsm:canned")
