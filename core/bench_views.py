"""The floors ``bench/load.py`` measures beside Tandem's endpoints: the least each kind of
request can cost in this stack on this machine. Routed only when ``TANDEM_BENCH_BARE`` is
set (config/urls.py), so production never exposes them.

- the bare view: Django's request/response cycle with every middleware, no database;
- the page floor: a signed-in session (the session and the user read) and one incident row
  read by its key, answered as a few bytes of HTML;
- the API floor: DRF with the project's authentication (token), permission and renderer,
  the same row, answered as JSON;
- the create floor: DRF with a token, one comment INSERT on an incident in a transaction
  (the WAL flush of a commit), answered 201.

Whatever Tandem's page, list, detail or create does costs at least these; the load run
prints each endpoint as a share of its floor."""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import escape
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.contract import ApiContractMixin

ROW = ("id", "number", "title", "status", "priority", "updated_at")


def _row(key: str) -> dict[str, object]:
    """The incident ``INC-<number>``, as a few plain columns (with its key)."""
    number = key.rpartition("-")[2]
    if not number.isdigit():
        raise Http404(key)
    found = apps.get_model("itsm", "Incident").objects.filter(number=int(number))
    row = found.values(*ROW).first()
    if row is None:
        raise Http404(key)
    return {"key": key, **row}


def bench_bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@login_required
def bench_page_floor(request: HttpRequest, key: str) -> HttpResponse:
    row = _row(key)
    return HttpResponse(f"<p>{escape(row['key'])} {escape(row['title'])}</p>")


class BenchApiFloor(ApiContractMixin, APIView):
    def get(self, request: Request, key: str) -> Response:
        return Response(_row(key))


class BenchCreateFloor(ApiContractMixin, APIView):
    def post(self, request: Request, key: str) -> Response:
        incident = _row(key)
        Comment = apps.get_model("core", "Comment")
        with transaction.atomic():
            comment = Comment.objects.create(
                content_type=ContentType.objects.get_for_model(apps.get_model("itsm", "Incident")),
                object_id=incident["id"],
                author=request.user,
                body=str(request.data.get("body", ""))[:200],
                public=False,
            )
        return Response({"id": comment.pk}, status=201)
