"""Tandem settings: every value comes from the environment, in this one module.

With nothing set, Tandem runs on its *embedded default*: a SQLite file and a Celery
broker on the filesystem under ``var/``, so a laptop needs no servers. Set
``DATABASE_URL`` and ``REDIS_URL`` to run on PostgreSQL and Redis.
``TANDEM_ENV=production`` turns on the production checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.storage import attachment_storage

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

TANDEM_ENV = env.str("TANDEM_ENV", default="development")
if TANDEM_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("TANDEM_ENV must be 'development' or 'production'.")
PRODUCTION = TANDEM_ENV == "production"

DATA_DIR = Path(env.str("TANDEM_DATA_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
SECRET_KEY = env.str("SECRET_KEY", default="")
if PRODUCTION:
    # A production instance with a known key or debug pages would leak sessions and data.
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when TANDEM_ENV=production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when TANDEM_ENV=production.")
if not SECRET_KEY:
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "core",
    "sla",
    "itsm",
    "projects",
    "knowledge",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Request ids; JSON (never HTML) errors under /api/; 503 on a database outage (core.errors)
    "core.errors.ErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.RejectNulCharacters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
# bench/load.py sets it to route /bench/bare/, the no-database ceiling; never in production.
TANDEM_BENCH_BARE = env.bool("TANDEM_BENCH_BARE", default=False)
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'tandem.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server, the worker and beat share one file: WAL lets readers run beside the
    # writer, IMMEDIATE takes the write lock at BEGIN so two writers queue instead of
    # failing with "database is locked" half-way through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind pgbouncer in transaction pooling a server-side cursor (the CSV export's
    # .iterator()) would outlive the transaction that holds its server connection
    # (docs/scale-out.md).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DISABLE_SERVER_SIDE_CURSORS", default=False
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Attachments ----------------------------------------------------------------------
# Files on records live outside the web root (never under STATIC/MEDIA): a private folder
# under the data directory, or an S3-compatible bucket when ATTACHMENTS_S3_BUCKET is set
# (needs the ``s3`` extra: django-storages[s3]). They are only ever streamed by Tandem
# after the record's permission check.
ATTACHMENTS_DIR = env.str("ATTACHMENTS_DIR", default=str(DATA_DIR / "attachments"))
STORAGES["attachments"] = attachment_storage(env, ATTACHMENTS_DIR)
if STORAGES["attachments"]["BACKEND"].startswith("storages."):
    try:
        import storages  # noqa: F401
    except ImportError as exc:
        raise ImproperlyConfigured(
            "ATTACHMENTS_S3_BUCKET needs django-storages: pip install '.[s3]'."
        ) from exc
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# A file over the limit is dropped while it streams in, not after it was stored whole.
FILE_UPLOAD_HANDLERS = [
    "core.uploads.AttachmentSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
ATTACHMENT_ALLOWED_TYPES = env.list(
    "ATTACHMENT_ALLOWED_TYPES",
    default=[
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",  # also .log and .txt
        "text/csv",
        "application/json",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.ms-outlook",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    ],
)

# --- Security (production) ------------------------------------------------------------
if PRODUCTION:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tandem <tandem@localhost>")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(DATA_DIR / "mail"))  # filebased backend

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # core.api.parsers.JSONParser: a JSON object (not null, a list, a scalar), nested at most
    # 32 levels; both are 400s in one place instead of 500s in the views.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tandem API",
    "DESCRIPTION": "Service desk and development on one platform.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ImpactEnum": "itsm.models.Level",
        "IncidentStatusEnum": "itsm.models.IncidentStatus",
        "ProblemStatusEnum": "itsm.models.ProblemStatus",
        "RequestStatusEnum": "itsm.models.RequestStatus",
        "ChangeStatusEnum": "itsm.models.ChangeStatus",
        "TaskStatusEnum": "itsm.models.TaskStatus",
        "ChangeTypeEnum": "itsm.models.ChangeType",
        "CatalogFieldTypeEnum": "itsm.models.FieldType",
        "ReleaseStatusEnum": "projects.models.ReleaseStatus",
        "WorkItemStatusEnum": "projects.models.WorkItemStatus",
        "IterationStatusEnum": "projects.models.IterationStatus",
    },
}

# --- Celery ---------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    # kombu's filesystem transport (with atomic writes, core/broker.py): a real broker with
    # no server, for the embedded default.
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_URL = "tandemfs://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# A lost broker never stops the worker (issue 10 #6): it keeps reconnecting, however long the
# broker is away (Celery's default gives up after 100 tries, about 45 minutes, and exits),
# and starting before the broker is up waits for it. Tasks running when the connection
# drops finish: their messages come back (acks_late) and find the work done, since every
# task here is idempotent (the outbox sends a pending message once, under a row lock).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "outbox-deliver-pending": {
        "task": "core.tasks.outbox_deliver_pending",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=30.0),
    },
    "sla-clocks-sweep": {
        "task": "sla.tasks.clocks_sweep",
        "schedule": env.float("SLA_SWEEP_SECONDS", default=30.0),
    },
    "sla-breaches-dispatch-pending": {
        "task": "sla.tasks.breaches_dispatch_pending",
        "schedule": 60.0,
    },
    "articles-flag-overdue": {
        "task": "knowledge.tasks.articles_flag_overdue",
        "schedule": crontab(hour=6, minute=0),
    },
    "incidents-close-resolved": {
        "task": "itsm.tasks.incidents_close_resolved",
        "schedule": crontab(minute="*/15"),
    },
    "incident-counts-compact": {  # fold the queue counts' +1/-1 rows (itsm.models.counts)
        "task": "itsm.tasks.incident_counts_compact",
        "schedule": env.float("COUNTS_COMPACT_SECONDS", default=60.0),
    },
    "bulk-jobs-resume": {  # bulk jobs whose message was lost or whose worker died
        "task": "itsm.tasks.bulk_jobs_resume",
        "schedule": 60.0,
    },
}

# --- Tandem ---------------------------------------------------------------------------
# Impact x urgency -> priority, the ITIL 3x3 matrix. Override with a JSON object such as
# {"high/high": 1, "high/medium": 2, ...} in INCIDENT_PRIORITY_MATRIX.
INCIDENT_PRIORITY_MATRIX: dict[str, int] = {
    "high/high": 1, "high/medium": 2, "high/low": 3,
    "medium/high": 2, "medium/medium": 3, "medium/low": 4,
    "low/high": 3, "low/medium": 4, "low/low": 5,
}  # fmt: skip
if env.str("INCIDENT_PRIORITY_MATRIX", default=""):
    INCIDENT_PRIORITY_MATRIX = json.loads(env.str("INCIDENT_PRIORITY_MATRIX"))
# How long after a go-live new incidents on its services are suspects of the release
# (hypercare), and how far back a new incident looks for changes that may have caused it.
RELEASE_HYPERCARE_HOURS = env.int("RELEASE_HYPERCARE_HOURS", default=72)
SUSPECT_CHANGE_HOURS = env.int("SUSPECT_CHANGE_HOURS", default=48)
# Hours in a working week, for support-time reservations (capacity page).
WORK_WEEK_HOURS = env.float("WORK_WEEK_HOURS", default=40.0)
# Resolved incidents the requester has not confirmed are closed after this many days.
INCIDENT_AUTO_CLOSE_DAYS = env.int("INCIDENT_AUTO_CLOSE_DAYS", default=3)
# The satisfaction links in a resolution e-mail answer for this many days.
SATISFACTION_LINK_DAYS = env.int("SATISFACTION_LINK_DAYS", default=30)
# An outbox message is retried with back-off this many times before it is marked failed.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
TANDEM_BASE_URL = env.str("TANDEM_BASE_URL", default="http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
