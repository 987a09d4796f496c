"""Attachment pages: download (after the record's permission check), upload from a
record's page, removal. The API's actions live on the ticket viewsets."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from core import attachments
from core.exceptions import DomainError, ValidationFailed
from core.models import Attachment
from core.views import render_domain_error


def attachment_response(att: Attachment, *, download: bool = False) -> FileResponse:
    """Stream a stored file. Raster images are shown inline (previews); everything else
    is a download. The type sent is the sniffed one and the browser may not second-guess
    it (nosniff); a sandboxing CSP stops anything that still tries to run."""
    inline = att.mime_type in attachments.PREVIEW_TYPES and not download
    mime = att.mime_type
    if mime in ("text/html", "image/svg+xml"):  # allowed by settings, never rendered
        mime = "application/octet-stream"
    elif mime == "text/csv":
        mime = "text/csv; charset=utf-8"
    elif mime.startswith("text/") or mime == "application/json":
        mime = "text/plain; charset=utf-8"
    response = FileResponse(
        attachments.attachment_open(att),
        as_attachment=not inline,
        filename=att.name,
        content_type=mime,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def _back(request: HttpRequest, record: Any) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect(record.get_absolute_url())


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    """``/attachments/<id>/``: 404 unless the user may open the record and read the file."""
    try:
        att, _record = attachments.attachment_get(request.user, pk)
    except DomainError as exc:
        return render_domain_error(request, exc)
    return attachment_response(att, download=request.GET.get("download") == "1")


@login_required
@require_POST
def attachment_upload(request: HttpRequest, label: str, object_id: int) -> HttpResponse:
    """The upload form of a record's Attachments panel."""
    try:
        model = attachments.model_for_label(label)
        record = attachments.attachable_for(model).find(request.user, object_id)
        upload = request.FILES.get("file")
        attachments.ensure_upload_kept(request)
        if upload is None:
            raise ValidationFailed("Choose a file to attach.", field="file")
        choice = request.POST.get("public", "")
        public = {"1": True, "0": False}.get(choice)
        attachments.attachment_add(target=record, actor=request.user, file=upload, public=public)
    except DomainError as exc:
        return render_domain_error(request, exc)
    except BadRequest as exc:  # a broken multipart body
        return render_domain_error(request, ValidationFailed(str(exc) or "Bad upload."))
    return _back(request, record)


@login_required
@require_POST
def attachment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        att, record = attachments.attachment_get(request.user, pk)
        attachments.attachment_remove(attachment=att, actor=request.user)
    except DomainError as exc:
        return render_domain_error(request, exc)
    return _back(request, record)
