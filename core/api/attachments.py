"""Attachments in the API: the shapes a ticket viewset's ``/attachments/`` actions use."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.serializers import UserRefSerializer
from core.models import Attachment


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by = UserRefSerializer(read_only=True)
    content_type = serializers.CharField(source="mime_type", read_only=True)
    is_image = serializers.BooleanField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "name",
            "size",
            "content_type",
            "sha256",
            "public",
            "is_image",
            "uploaded_by",
            "created_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, att: Attachment) -> str:
        """``/api/v1/<plural>/{id}/attachments/{att_id}/download/``."""
        request: Any = self.context.get("request")
        base = self.context.get("list_path", "")
        path = f"{base}{att.pk}/download/"
        return request.build_absolute_uri(path) if request is not None else path


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False, use_url=False)
    public = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Whether the requester sees it. Default: internal for those who may "
        "write internal notes, public for the requester. Records without a public side "
        "(problems, changes, work items) keep every file internal.",
    )
