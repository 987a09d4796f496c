"""The integrations' admin pages (subscriptions, connectors, mailboxes)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from integrations.models import InboundMail


# --- e-mail in ------------------------------------------------------------------------------
@admin.register(InboundMail)
class InboundMailAdmin(admin.ModelAdmin):
    """Every mail the mailboxes delivered and what became of it (read-only: a mail is
    processed by ``manage.py mail_fetch``, never edited)."""

    list_display = ("received_at", "mailbox", "sender", "subject", "outcome", "record_link")
    list_filter = ("outcome", "mailbox")
    search_fields = ("sender", "subject", "message_id")
    date_hierarchy = "received_at"
    list_select_related = ("content_type",)
    readonly_fields = [f.name for f in InboundMail._meta.fields] + ["record_link"]

    def get_queryset(self, request: HttpRequest) -> Any:
        # the records a page of rows touched, one query per record type
        return super().get_queryset(request).prefetch_related("record")

    @admin.display(description="record")
    def record_link(self, obj: InboundMail) -> str:
        record = obj.record
        return str(getattr(record, "key", None) or record or "")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
