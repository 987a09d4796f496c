"""The work item page's comment box (``{% comment_box item %}``) posts here: one note
through ``services.work_comment`` (the API's path too), then back to the page. An empty
note is a 400 that shows the page again with the box, its text and the message."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.exceptions import ValidationFailed
from core.views import redirect_next
from itsm.views.problems import ProblemBase as StaffPage
from projects import selectors, services


class WorkItemCommentView(StaffPage):
    def post(self, request: HttpRequest, ref: str) -> HttpResponse:
        from projects.work_views import _detail  # the page's own context

        item = selectors.work_item_get(request.user, ref)
        body = request.POST.get("body", "")
        try:
            services.work_comment(item=item, actor=request.user, body=body)
        except ValidationFailed as exc:
            context = _detail(request, item)
            context.update(comment_error=exc.message, comment_body=body)
            return render(request, "projects/work_detail.html", context, status=400)
        return redirect_next(request, f"{item.get_absolute_url()}#comment-box")
