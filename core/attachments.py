"""Files on records (incidents, requests, problems, changes, work items, articles).

Each app registers its record types in ``AppConfig.ready()`` (``register_attachable``):
how to find a record the user may open, and who may attach to it (the same rule as who
may reply or write a note on it). Reading follows the record's visibility policy
(``core.visibility.Parts.public_attachments`` / ``internal_attachments``); writing goes
through ``attachment_add`` / ``attachment_remove``, the only write path.

What is stored is decided here, not by the client: the type is sniffed from the bytes
(the declared type is ignored), the name is sanitised, and the file goes under a random
path in ``STORAGES["attachments"]`` (a private folder by default, S3-compatible storage
by configuration), which the web server never serves.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import storages
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.exceptions import ActionForbidden, NotFound, ValidationFailed
from core.models import Attachment
from core.roles import Role, has_role
from core.services import audit_record

# Shown in the page (thumbnails) and served inline: raster images only. SVG can carry
# script and HTML is a page, so both are always downloads (and not allowed by default).
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# What an upload is, from its first bytes: (signature, offset, type).
_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"PK\x05\x06", 0, "application/zip"),  # an empty archive
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "application/x-ole-storage"),
    (b"BM", 0, "image/bmp"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"MZ", 0, "application/x-msdownload"),
    (b"\x7fELF", 0, "application/x-executable"),
]

# Office files are zip (OOXML, OpenDocument) or OLE containers; which one the extension
# says, as long as the bytes are that container.
_ZIP_KINDS = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
}
_OLE_KINDS = {
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
    ".msg": "application/vnd.ms-outlook",
}
_TEXT_KINDS = {".csv": "text/csv", ".json": "application/json"}
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|iframe|\?xml)", re.IGNORECASE)

_SNIFF_BYTES = 8192
_MAX_NAME = 120


def sniff_type(head: bytes, name: str) -> str:
    """The MIME type of a file from its first bytes (``name``'s extension only picks
    among formats that share a container: .docx and .xlsx are both zip)."""
    ext = os.path.splitext(name)[1].lower()
    if head[8:12] == b"WEBP" and head[:4] == b"RIFF":
        return "image/webp"
    for signature, offset, kind in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            if kind == "application/zip":
                return _ZIP_KINDS.get(ext, kind)
            if kind == "application/x-ole-storage":
                return _OLE_KINDS.get(ext, kind)
            return kind
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is still text.
        if exc.start < len(head) - 3:
            return "application/octet-stream"
        text = head[: exc.start].decode("utf-8")
    # Markup that a browser would render as a page (HTML, SVG with script): refused by
    # default, and never served inline whatever the settings say.
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<") and _MARKUP.search(stripped[:1024].encode()):
        return "image/svg+xml" if b"<svg" in head.lower() else "text/html"
    return _TEXT_KINDS.get(ext, "text/plain")


def sanitise_name(raw: str) -> str:
    """A file name safe to store and to send back: no path parts, no control or
    reserved characters, no leading dots, at most 120 characters (extension kept)."""
    name = unicodedata.normalize("NFKC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(
        " " if unicodedata.category(ch).startswith(("C", "Z")) else ch
        for ch in name
        if ch not in '<>:"|?*'
    )
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    if not name:
        name = "file"
    if len(name) > _MAX_NAME:
        stem, ext = os.path.splitext(name)
        ext = ext[:16]
        name = stem[: _MAX_NAME - len(ext)].rstrip() + ext
    return name


# --- registry -------------------------------------------------------------------------
@dataclass(frozen=True)
class Attachable:
    """How one record type takes attachments.

    ``find(user, pk)`` returns the record if the user may open it (raises NotFound
    otherwise); ``may_attach(user, record, public)`` is who may reply (public) or write a
    note (internal) on it. Without a public side (problems, changes, work items) every
    file is internal. ``default_public`` is the visibility when the uploader does not
    choose: None means internal for those who may attach internally, public otherwise
    (a requester's files are public)."""

    find: Callable[[Any, int], Any]
    may_attach: Callable[[Any, Any, bool], bool]
    public_side: bool = False
    default_public: bool | None = None
    # Whether a user may open a record already in hand, when the record type can say so
    # without a query (``find`` runs the type's selector, one query a person): the same
    # answer as ``find``, asked for each watcher told of a change.
    sees: Callable[[Any, Any], bool] | None = None
    # Whether the record's requester may add colleagues as participants (watchers who
    # then open it as its requester does: the record type's selector and parts policy
    # let its watchers in), as JSM's request participants.
    participants: bool = False


_attachables: dict[type[models.Model], Attachable] = {}


def register_attachable(model: type[models.Model], attachable: Attachable) -> None:
    _attachables[model._meta.concrete_model or model] = attachable


def attachable_for(record_or_model: Any) -> Attachable:
    model = record_or_model if isinstance(record_or_model, type) else type(record_or_model)
    found = _attachables.get(model._meta.concrete_model or model)
    if found is None:
        raise NotFound(f"{model._meta.verbose_name.capitalize()}s take no attachments.")
    return found


def model_for_label(label: str) -> type[models.Model]:
    """A registered record type by ``app_label.model`` (404 for anything else)."""
    for model in _attachables:
        if model._meta.label_lower == label.lower():
            return model
    raise NotFound(f"No record type {label}.")


# --- reads ----------------------------------------------------------------------------
def attachments_of(record: models.Model) -> QuerySet[Attachment]:
    """Every file on ``record``, oldest first, with its uploader (one query)."""
    return Attachment.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk
    ).select_related("uploaded_by")


def attachment_get(user: Any, pk: int) -> tuple[Attachment, Any]:
    """An attachment and its record, if the user may open the record and read the file
    (404 otherwise, so nobody learns that a hidden file exists)."""
    from core.visibility import parts_for

    att = Attachment.objects.select_related("content_type", "uploaded_by").filter(pk=pk).first()
    if att is None:
        raise NotFound(f"No attachment {pk}.")
    model = att.content_type.model_class()
    if model is None or (model._meta.concrete_model or model) not in _attachables:
        raise NotFound(f"No attachment {pk}.")
    record = attachable_for(model).find(user, att.object_id)
    if not parts_for(user, record).shows_attachment(att):
        raise NotFound(f"No attachment {pk}.")
    return att, record


def may_attach(user: Any, record: Any, public: bool | None = None) -> bool:
    """Whether ``user`` may attach to ``record`` (with that visibility, or with any)."""
    if not getattr(user, "is_authenticated", False):
        return False
    rules = attachable_for(record)
    if public is None:
        return rules.may_attach(user, record, False) or (
            rules.public_side and rules.may_attach(user, record, True)
        )
    if public and not rules.public_side:
        public = False
    return rules.may_attach(user, record, public)


def may_choose_visibility(user: Any, record: Any) -> bool:
    """Whether the upload form offers the public/internal choice."""
    rules = attachable_for(record)
    return (
        rules.public_side
        and rules.may_attach(user, record, True)
        and rules.may_attach(user, record, False)
    )


def may_remove(user: Any, attachment: Attachment, record: Any) -> bool:
    """The uploader while they may still attach to the record, or an administrator."""
    if has_role(user, Role.ADMINISTRATOR):
        return True
    return attachment.uploaded_by_id == getattr(user, "pk", None) and may_attach(
        user, record, attachment.public
    )


# --- writes ---------------------------------------------------------------------------
def max_bytes() -> int:
    return int(settings.ATTACHMENT_MAX_BYTES)


def allowed_types() -> frozenset[str]:
    return frozenset(t.strip().lower() for t in settings.ATTACHMENT_ALLOWED_TYPES if t.strip())


def _storage() -> Any:
    # Looked up on each use, not taken from the model field (which keeps the storage of
    # the moment the class was built): settings and tests may change it.
    return storages["attachments"]


def attachment_open(att: Attachment) -> Any:
    """The stored bytes of ``att``, opened for reading."""
    return _storage().open(att.path, "rb")


def _human(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def ensure_upload_kept(request: Any) -> None:
    """400 when the request's file was dropped while it streamed in for passing
    ``ATTACHMENT_MAX_BYTES`` (``core.uploads``), rather than a puzzling "no file"."""
    from core.uploads import refused_upload

    name = refused_upload(request)
    if name is not None:
        raise ValidationFailed(
            f"{sanitise_name(name)} is more than {_human(max_bytes())}; attachments may be "
            f"at most {_human(max_bytes())}.",
            field="file",
        )


def attachment_add(
    *, target: models.Model, actor: AbstractBaseUser, file: Any, public: bool | None = None
) -> Attachment:
    """Attach ``file`` (an UploadedFile) to ``target``.

    Preconditions: ``actor`` may reply (public) or write a note (internal) on the record
    (403); the file is not empty, at most ``ATTACHMENT_MAX_BYTES`` and of a type in
    ``ATTACHMENT_ALLOWED_TYPES``, sniffed from its bytes (400). Writes the Attachment row
    and one audit row (``attachment_added``) on the record in one transaction; the bytes go
    to the attachments storage first and are deleted again if the transaction fails, so
    a failed upload leaves neither a row nor a file."""
    rules = attachable_for(target)
    if public is None:
        public = rules.default_public
        if public is None:
            public = not rules.may_attach(actor, target, False)
    if not rules.public_side:
        public = False
    if not may_attach(actor, target, public):
        what = "a public file" if public else "a file"
        raise ActionForbidden(f"You may not attach {what} to {target}.")
    name = sanitise_name(getattr(file, "name", "") or "")
    size = int(getattr(file, "size", 0) or 0)
    if size <= 0:
        raise ValidationFailed("The file is empty.", field="file")
    if size > max_bytes():
        raise ValidationFailed(
            f"{name} is {_human(size)}; attachments may be at most {_human(max_bytes())}.",
            field="file",
        )
    file.seek(0)
    head = file.read(_SNIFF_BYTES)
    mime = sniff_type(head, name)
    if mime not in allowed_types():
        raise ValidationFailed(
            f"{name} is {mime}, which is not allowed here. Allowed: images, PDF, text, "
            "CSV, logs, office documents and zip archives.",
            field="file",
        )
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)

    now = timezone.now()
    path = f"attachments/{now:%Y}/{now:%m}/{uuid.uuid4().hex}/{name}"
    storage = _storage()
    stored = storage.save(path, file)
    try:
        with transaction.atomic():
            locked = type(target).objects.select_for_update().get(pk=target.pk)
            att = Attachment.objects.create(
                content_type=ContentType.objects.get_for_model(locked),
                object_id=locked.pk,
                path=stored,
                name=name,
                size=size,
                mime_type=mime,
                sha256=digest.hexdigest(),
                public=public,
                uploaded_by=actor,
            )
            audit_record(
                target=locked,
                actor=actor,
                action="attachment_added",
                changes={"attachment": (None, name)},
                comment=f"attached {name}" + ("" if public else " (internal)"),
            )
    except BaseException:
        storage.delete(stored)
        raise
    return att


def attachment_remove(*, attachment: Attachment, actor: AbstractBaseUser) -> None:
    """Remove a file: its uploader (while they may still attach to the record) or an
    administrator (403 otherwise). Deletes the row and writes ``attachment_removed`` on
    the record in one transaction; the bytes are deleted after commit."""
    target = attachment.target
    if target is None:
        raise NotFound(f"No attachment {attachment.pk}.")
    if not may_remove(actor, attachment, target):
        raise ActionForbidden("Only its uploader or an administrator may remove a file.")
    stored = attachment.path
    with transaction.atomic():
        locked = type(target).objects.select_for_update().get(pk=target.pk)
        deleted, _ = Attachment.objects.filter(pk=attachment.pk).delete()
        if not deleted:
            raise NotFound(f"No attachment {attachment.pk}.")
        audit_record(
            target=locked,
            actor=actor,
            action="attachment_removed",
            changes={"attachment": (attachment.name, None)},
            comment=f"removed {attachment.name}",
        )
        transaction.on_commit(lambda: _storage().delete(stored))
