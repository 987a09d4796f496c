"""Uploads are cut off at the attachment limit while they stream in.

Django writes a file to memory or a temporary file as its chunks arrive, and only then
would ``core.attachments.attachment_add`` see its size: a 5 GB upload would fill the disk
before being refused. This handler runs first in ``FILE_UPLOAD_HANDLERS``: once a file
passes ``ATTACHMENT_MAX_BYTES`` it skips the rest (no later handler stores another byte)
and notes the file on the request, so the upload view answers 400 with the size rule
instead of "no file"."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

# The request attribute naming a file refused for its size (see ``refused_upload``).
REFUSED = "attachment_too_large"


class AttachmentSizeLimitHandler(FileUploadHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > int(settings.ATTACHMENT_MAX_BYTES):
            if self.request is not None:
                setattr(self.request, REFUSED, self.file_name or "The file")
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # a later handler (memory or temporary file) builds the file


def refused_upload(request: Any) -> str | None:
    """The name of a file this request's upload dropped for its size, if any (read the
    body first: ``request.FILES`` / ``request.data``)."""
    return getattr(request, REFUSED, None)
