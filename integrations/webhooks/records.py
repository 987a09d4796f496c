"""The record types webhooks carry, each as its own API shows it to a given user.

For each type: the model, the selector that scopes it to a user (the API's list: a record
the owner may not open is not delivered to their subscriptions), the serializer of its API
detail (the representation), and how the subscription filters (service, priority, project)
read it. A record type is a webhook's only by this table: tokens, configuration rows and
other audited things make no webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from rest_framework.request import Request


@dataclass(frozen=True)
class RecordType:
    name: str
    model: type[models.Model]
    queryset_for: Callable[[Any], models.QuerySet[Any]]
    serializer: type
    service_ids: Callable[[Any], set[int]]
    project_ids: Callable[[Any], set[int]]
    priority: Callable[[Any], int | None]


def _service(record: Any) -> set[int]:
    return {record.service_id} if getattr(record, "service_id", None) else set()


def _m2m_services(record: Any) -> set[int]:
    return {s.pk for s in record.services.all()}


def _none(record: Any) -> set[int]:
    return set()


def _priority(record: Any) -> int | None:
    return getattr(record, "priority", None)


def _no_priority(record: Any) -> int | None:
    return None


@cache
def record_types() -> dict[type[models.Model], RecordType]:
    """Built on first use (the apps' API modules import models)."""
    from itsm import selectors as itsm_selectors
    from itsm.api.change_serializers import ChangeSerializer
    from itsm.api.problem_serializers import ProblemSerializer
    from itsm.api.request_serializers import ServiceRequestSerializer
    from itsm.api.serializers import IncidentSerializer
    from itsm.models import Change, Incident, Problem, ServiceRequest
    from knowledge import selectors as kb_selectors
    from knowledge.api import ArticleSerializer
    from knowledge.models import Article
    from projects import selectors as project_selectors
    from projects.api.serializers import ReleaseSerializer, WorkItemSerializer
    from projects.models import Release, WorkItem

    types = [
        RecordType(
            "incident",
            Incident,
            itsm_selectors.incident_list,
            IncidentSerializer,
            _service,
            _none,
            _priority,
        ),
        RecordType(
            "request",
            ServiceRequest,
            itsm_selectors.request_list,
            ServiceRequestSerializer,
            lambda r: {r.item.service_id} if r.item_id and r.item.service_id else set(),
            _none,
            _priority,
        ),
        RecordType(
            "problem",
            Problem,
            itsm_selectors.problem_list,
            ProblemSerializer,
            _service,
            _none,
            _priority,
        ),
        RecordType(
            "change",
            Change,
            itsm_selectors.change_list,
            ChangeSerializer,
            _m2m_services,
            _none,
            _no_priority,
        ),
        RecordType(
            "work_item",
            WorkItem,
            project_selectors.work_items,
            WorkItemSerializer,
            lambda w: {s.pk for s in w.project.services.all()},
            lambda w: {w.project_id},
            _priority,
        ),
        RecordType(
            "release",
            Release,
            project_selectors.release_list,
            ReleaseSerializer,
            lambda r: {s.pk for s in r.project.services.all()},
            lambda r: {r.project_id},
            _no_priority,
        ),
        RecordType(
            "article",
            Article,
            kb_selectors.article_list,
            ArticleSerializer,
            _m2m_services,
            _none,
            _no_priority,
        ),
    ]
    return {t.model: t for t in types}


def record_type_of(record: Any) -> RecordType | None:
    model = type(record)._meta.concrete_model or type(record)
    return record_types().get(model)  # type: ignore[arg-type]


def serializer_for(rt: RecordType, user: Any) -> type:
    """The serializer the API answers ``user`` with (articles: the public one for requesters)."""
    if rt.name == "article":
        from core.roles import is_staff_member
        from knowledge.api import PublicArticleSerializer

        if not is_staff_member(user):
            return PublicArticleSerializer
    return rt.serializer


def request_as(user: Any) -> Request:
    """A request as ``user`` would make it, for serializers that read ``request.user``
    (what a user may read of a record) or build links (on TANDEM_BASE_URL's host)."""
    http = HttpRequest()
    base = urlsplit(getattr(settings, "TANDEM_BASE_URL", "") or "http://localhost")
    http.META["SERVER_NAME"] = base.hostname or "localhost"
    http.META["SERVER_PORT"] = str(base.port or (443 if base.scheme == "https" else 80))
    http.META["HTTP_HOST"] = base.netloc or "localhost"
    if base.scheme == "https":
        http.META["wsgi.url_scheme"] = "https"
    host = base.netloc or "localhost"
    http.get_host = lambda: host  # type: ignore[method-assign]  # ours, not a client's
    http.method = "GET"
    http.user = user
    request = Request(http)
    request.user = user
    return request


def representation(rt: RecordType, record: Any, user: Any) -> dict[str, Any] | None:
    """The record as ``user`` reads it from the API's detail, or None when they may not
    open it (re-read through the user's own selector, as the API does)."""
    found = rt.queryset_for(user).filter(pk=record.pk).first()
    if found is None:
        return None
    serializer = serializer_for(rt, user)
    return dict(serializer(found, context={"request": request_as(user)}).data)
