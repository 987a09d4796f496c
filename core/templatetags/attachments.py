"""``{% attachments_panel record %}``: a record page's Attachments panel (list with image
thumbnails, upload form when the user may attach), from the record's visibility policy
and the same permission rule the upload service checks."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from core import attachments
from core.roles import Role, has_role
from core.views import return_path
from core.visibility import parts_for

register = template.Library()


@register.inclusion_tag("core/_attachments.html", takes_context=True)
def attachments_panel(context: template.Context, record: Any) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    files = list(parts_for(user, record).attachments(record))
    can_attach = attachments.may_attach(user, record)
    # attachments.may_remove, asked once per visibility rather than once per file.
    admin = has_role(user, Role.ADMINISTRATOR)
    may = {vis: attachments.may_attach(user, record, vis) for vis in {f.public for f in files}}
    return {
        "record": record,
        "files": [(f, admin or (f.uploaded_by_id == user.pk and may[f.public])) for f in files],
        "can_attach": can_attach,
        "choose_visibility": can_attach and attachments.may_choose_visibility(user, record),
        "public_side": attachments.attachable_for(record).public_side,
        "default_public": bool(attachments.attachable_for(record).default_public),
        "upload_url": reverse("attachment_upload", args=[record._meta.label_lower, record.pk]),
        "next": return_path(request, record),
        "csrf_token": context.get("csrf_token"),
        "max_bytes": attachments.max_bytes(),
    }
