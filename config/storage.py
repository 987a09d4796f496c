"""Where attachments are stored, from the environment (used by config/settings.py)."""

from __future__ import annotations

from typing import Any

import environ


def attachment_storage(env: environ.Env, default_dir: str) -> dict[str, Any]:
    """``STORAGES["attachments"]``: an S3-compatible bucket when ``ATTACHMENTS_S3_BUCKET``
    is set (django-storages, private objects, never overwritten), else a folder
    (``ATTACHMENTS_DIR``, default under the data directory). Neither is the web root:
    Tandem streams every file itself after the record's permission check."""
    bucket = env.str("ATTACHMENTS_S3_BUCKET", default="")
    if not bucket:
        location = env.str("ATTACHMENTS_DIR", default=default_dir)
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location},
        }
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env.str("ATTACHMENTS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("ATTACHMENTS_S3_REGION", default="") or None,
            "access_key": env.str("ATTACHMENTS_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("ATTACHMENTS_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("ATTACHMENTS_S3_PREFIX", default=""),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
