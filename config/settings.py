"""Tandem settings: every value comes from the environment, in this one module.

With nothing set, Tandem runs on its *embedded default*: a SQLite file and a Celery
broker on the filesystem under ``var/``, so a laptop needs no servers. Set
``DATABASE_URL`` and ``REDIS_URL`` to run on PostgreSQL and Redis.
``TANDEM_ENV=production`` turns on the production checks.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
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
    "axes",
    "core",
    "sla",
    "itsm",
    "projects",
    "knowledge",
    "integrations",
    "dashboards",
]

MIDDLEWARE = [
    "core.middleware.HealthProbes",  # /healthz, /readyz: before the host check (core/health.py)
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
    # Turns a sign-in refused by lock-out into its answer (core.signin.lockout_response);
    # last, so it sees the login view's response.
    "axes.middleware.AxesMiddleware",
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
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Several installs (or test processes) on one Redis keep apart by prefix. The
            # test suite's parallel workers share one Redis database: each keeps its keys
            # (refcache's shared version, throttle counts) under its own name, inherited by
            # the processes it starts, so one worker's test never moves another's.
            "KEY_PREFIX": env.str(
                "CACHE_KEY_PREFIX", default=os.environ.get("PYTEST_XDIST_WORKER", "")
            ),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# The lock-out backend goes first: it refuses a locked-out user or address before any
# backend checks a password, so the right password after the limit is refused too.
AUTHENTICATION_BACKENDS = [
    "core.signin.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"

# --- Sign-in lock-out (django-axes; core/signin.py, docs/decisions.md "Issue 14") ----
# Failures are counted per username and per client address over the cool-off window; a
# sign-in (page, admin, /api/v1/auth/token/) is refused while either count is at its
# limit, and every refused try restarts the cool-off. Administrators unlock early with
# `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS` or in the admin.
AXES_ENABLED = env.bool("SIGNIN_LOCKOUT_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=5)  # per username
# Per address it is higher: an office behind one NAT address shares it.
SIGNIN_ADDRESS_FAILURE_LIMIT = env.int("SIGNIN_ADDRESS_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIGNIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "core.signin.LockoutHandler"
AXES_LOCKOUT_CALLABLE = "core.signin.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are in Tandem's own audit trail
AXES_VERBOSE = False
# The client address (core.signin.client_address): REMOTE_ADDR, unless Tandem runs behind
# SIGNIN_TRUSTED_PROXIES reverse proxies that each append the address they saw to
# X-Forwarded-For; then it is the address the outermost trusted proxy saw. Entries further
# left are the client's to forge, and each forged address would be a fresh count.
SIGNIN_TRUSTED_PROXIES = env.int("SIGNIN_TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "core.signin.client_address"

# --- Personal API tokens (core/tokens.py) --------------------------------------------
# The longest life a token may be given, in days (0: no limit, tokens may never expire).
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)
# A token's last use is written at most this often, so a busy client costs no write per call.
API_TOKEN_LAST_USED_EVERY_SECONDS = 60
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

# === Issue 14: the front door (HTTPS, headers, CSP, single sign-on) =====================
# HTTPS-only settings are ON by default whenever DEBUG is off (production: docker-compose,
# the image) and OFF while DEBUG is on: development, `make run` (DEBUG defaults on outside
# TANDEM_ENV=production, and it serves plain http on 127.0.0.1) and so the tests. Each one
# can be set from the environment either way.
_HTTPS_ONLY = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_HTTPS_ONLY)
# The compose healthchecks ask the container over plain http (never redirected).
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_HTTPS_ONLY)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_HTTPS_ONLY)
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO,https" (the default in production);
# an empty value trusts no header (Tandem terminates TLS itself, or no proxy strips it).
_proxy_header = env.list(
    "SECURE_PROXY_SSL_HEADER",
    default=["HTTP_X_FORWARDED_PROTO", "https"] if _HTTPS_ONLY else [],
)
if _proxy_header:
    if len(_proxy_header) != 2:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER is 'HEADER,value', e.g. ...,https.")
    SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1])
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_HTTPS_ONLY)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_HTTPS_ONLY)
SESSION_COOKIE_HTTPONLY = True
# Harmless over http too, so on in every mode (the tests see the headers production sends).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
X_FRAME_OPTIONS = "DENY"
# Browser features Tandem never uses, refused to every page and frame (core.security).
PERMISSIONS_POLICY = env.str(
    "PERMISSIONS_POLICY",
    default="accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()",
)
MIDDLEWARE.insert(1, "core.security.PermissionsPolicyMiddleware")
# Content-Security-Policy (django-csp 4): no inline script and no eval anywhere, so an
# injected <script> or on*= attribute never runs; HTMX reads its config from a meta tag
# (templates/base.html) and every handler lives in static/js. Inline *styles* stay allowed:
# ~190 style="" attributes and a few <style> blocks (docs/decisions.md, issue 14). On in
# every mode, the tests included, so every page a test renders carries it.
from csp.constants import NONE, SELF, UNSAFE_INLINE  # noqa: E402

INSTALLED_APPS.append("csp")
MIDDLEWARE.insert(2, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
if env.str("CSP_REPORT_URI", default=""):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [env.str("CSP_REPORT_URI")]

# Single sign-on, each method on only when its settings are present (core/sso). Local
# accounts keep signing in with a password (ModelBackend stays); the SSO backends are
# appended after whatever backends are configured above.
# SSO_GROUP_ROLES maps the provider's groups to Tandem's roles (core.roles.Role values):
# "tandem-admins=Administrator;servicedesk=Service Desk Agent;ops=2nd Line Support".
SSO_GROUP_ROLES = env.str("SSO_GROUP_ROLES", default="")
SSO_DEFAULT_ROLES = env.list("SSO_DEFAULT_ROLES", default=["Requester"])
_SSO_BACKENDS: list[str] = []
OIDC_ENABLED = bool(env.str("OIDC_RP_CLIENT_ID", default=""))
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
if OIDC_ENABLED:
    OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
    OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
    OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
    OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
    OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="") or None
    OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
    OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
    OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
    OIDC_CREATE_USER = env.bool("OIDC_CREATE_USER", default=True)
    LOGIN_REDIRECT_URL_FAILURE = "login"
    _missing = [
        name
        for name in (
            "OIDC_RP_CLIENT_SECRET",
            "OIDC_OP_AUTHORIZATION_ENDPOINT",
            "OIDC_OP_TOKEN_ENDPOINT",
            "OIDC_OP_USER_ENDPOINT",
        )
        if not globals()[name]
    ]
    if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")) and not OIDC_OP_JWKS_ENDPOINT:
        _missing.append("OIDC_OP_JWKS_ENDPOINT")
    if _missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set; also set {', '.join(_missing)}.")
    INSTALLED_APPS.append("mozilla_django_oidc")
    _SSO_BACKENDS.append("core.sso.oidc.TandemOIDCBackend")
if env.str("LDAP_SERVER_URI", default=""):
    try:
        import ldap
        from django_auth_ldap.config import (
            GroupOfNamesType,
            GroupOfUniqueNamesType,
            LDAPSearch,
            NestedActiveDirectoryGroupType,
            PosixGroupType,
        )
    except ImportError as exc:
        raise ImproperlyConfigured(
            "LDAP_SERVER_URI needs django-auth-ldap: pip install '.[ldap]' "
            "(python-ldap builds against libldap2-dev and libsasl2-dev)."
        ) from exc
    AUTH_LDAP_SERVER_URI = env.str("LDAP_SERVER_URI")
    AUTH_LDAP_BIND_DN = env.str("LDAP_BIND_DN", default="")
    AUTH_LDAP_BIND_PASSWORD = env.str("LDAP_BIND_PASSWORD", default="")
    AUTH_LDAP_START_TLS = env.bool("LDAP_START_TLS", default=False)
    # A directory that is down or stuck refuses its people after this long instead of
    # holding a web worker for the system's TCP timeout (minutes); local accounts go on.
    _ldap_timeout = env.float("LDAP_TIMEOUT_SECONDS", default=5.0)
    AUTH_LDAP_CONNECTION_OPTIONS = {
        ldap.OPT_NETWORK_TIMEOUT: _ldap_timeout,
        ldap.OPT_TIMEOUT: _ldap_timeout,
    }
    AUTH_LDAP_USER_SEARCH = LDAPSearch(
        env.str("LDAP_USER_SEARCH_BASE"),
        ldap.SCOPE_SUBTREE,
        env.str("LDAP_USER_FILTER", default="(uid=%(user)s)"),
    )
    # Each group type with the object class its groups have: LDAP_GROUP_TYPE alone finds
    # them (a groupOfNames filter with posixGroup groups would find none, and everyone
    # would be a Requester).
    _ldap_group_types = {
        "groupOfNames": (GroupOfNamesType, "(objectClass=groupOfNames)"),
        "groupOfUniqueNames": (GroupOfUniqueNamesType, "(objectClass=groupOfUniqueNames)"),
        "posixGroup": (PosixGroupType, "(objectClass=posixGroup)"),
        "activeDirectory": (NestedActiveDirectoryGroupType, "(objectClass=group)"),
    }
    _ldap_group_type = env.str("LDAP_GROUP_TYPE", default="groupOfNames")
    if _ldap_group_type not in _ldap_group_types:
        raise ImproperlyConfigured(f"LDAP_GROUP_TYPE is one of {', '.join(_ldap_group_types)}.")
    AUTH_LDAP_GROUP_TYPE = _ldap_group_types[_ldap_group_type][0]()
    AUTH_LDAP_GROUP_SEARCH = LDAPSearch(
        env.str("LDAP_GROUP_SEARCH_BASE", default=env.str("LDAP_USER_SEARCH_BASE")),
        ldap.SCOPE_SUBTREE,
        env.str("LDAP_GROUP_FILTER", default=_ldap_group_types[_ldap_group_type][1]),
    )
    AUTH_LDAP_USER_ATTR_MAP = {"first_name": "givenName", "last_name": "sn", "email": "mail"}
    AUTH_LDAP_ALWAYS_UPDATE_USER = True
    _SSO_BACKENDS.append("core.sso.ldap.TandemLDAPBackend")
AUTHENTICATION_BACKENDS = [
    *globals().get("AUTHENTICATION_BACKENDS", ["django.contrib.auth.backends.ModelBackend"]),
    *_SSO_BACKENDS,
]
# === end of issue 14's front door block ==================================================

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
        # Personal tokens (Bearer tdm_…) first; the shared demo token and the session stay.
        "core.api.authentication.PersonalTokenAuthentication",
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
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.TandemAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    # core.api.throttles: fixed windows in the cache, rates below (429 + Retry-After)
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttles.UserThrottle",
        "core.api.throttles.TokenThrottle",
        "core.api.throttles.AnonThrottle",
    ],
}
# Requests per user (every token and session), per token, and per address without a user;
# "off" for no limit. 6000/min is 100 a second for one person: far above any client, so
# only a runaway script meets it (bench/load.py turns them off: its users share one user).
API_THROTTLE_RATES = {
    "user": env.str("API_THROTTLE_USER", default="6000/min"),
    "token": env.str("API_THROTTLE_TOKEN", default="6000/min"),
    "anon": env.str("API_THROTTLE_ANON", default="600/min"),
}
# An Idempotency-Key answers its retries this long (core.idempotency).
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
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
SLA_SWEEP_SECONDS = env.float("SLA_SWEEP_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULE = {
    "idempotency-keys-purge": {  # Idempotency-Key rows past their 24 h (core.idempotency)
        "task": "core.tasks.idempotency_keys_purge",
        "schedule": crontab(minute=17),
    },
    "outbox-deliver-pending": {
        "task": "core.tasks.outbox_deliver_pending",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=30.0),
    },
    "sla-clocks-sweep": {
        "task": "sla.tasks.clocks_sweep",
        "schedule": SLA_SWEEP_SECONDS,
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
# Retries wait 30 s, 60 s, 120 s … up to an hour, each with jitter (core.outbox.backoff).
OUTBOX_BACKOFF_SECONDS = env.float("OUTBOX_BACKOFF_SECONDS", default=30.0)
OUTBOX_BACKOFF_MAX_SECONDS = env.float("OUTBOX_BACKOFF_MAX_SECONDS", default=3600.0)
TANDEM_BASE_URL = env.str("TANDEM_BASE_URL", default="http://127.0.0.1:8000")

# --- Health: /healthz, /readyz and `manage.py health` (core/health.py) -------------------------
# /readyz is red when the last SLA sweep finished longer ago than this (beat or every worker
# stopped): a few sweep intervals, so one slow sweep is not an alarm.
HEALTH_SLA_SWEEP_MAX_AGE_SECONDS = env.float(
    "HEALTH_SLA_SWEEP_MAX_AGE_SECONDS", default=max(4 * SLA_SWEEP_SECONDS, 120.0)
)
# ... and when an outbox message has been due and unsent for longer than this.
HEALTH_OUTBOX_MAX_AGE_SECONDS = env.float("HEALTH_OUTBOX_MAX_AGE_SECONDS", default=300.0)
# How long the broker check waits for the broker before it calls it unreachable.
HEALTH_BROKER_TIMEOUT_SECONDS = env.float("HEALTH_BROKER_TIMEOUT_SECONDS", default=2.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# === Issue 15: e-mail in and out (core.mailout, integrations.mail) =========================
# Production sending: EMAIL_URL (smtp://user:pass@host:587/?tls=True, smtps://… for SSL)
# sets the SMTP backend and its EMAIL_* values at once; EMAIL_HOST & co. above work too.
# django-anymail is optional, not a dependency: install it, set EMAIL_BACKEND to its
# backend (e.g. anymail.backends.postmark.EmailBackend) and ANYMAIL to its JSON settings.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=globals().get("EMAIL_USE_SSL", False))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
if env.str("ANYMAIL", default=""):
    ANYMAIL = env.json("ANYMAIL")
# The domain of the Message-IDs Tandem mints (threading, loop detection), and the
# support mailbox replies go to (Reply-To of ticket notices; empty: no replies by mail).
_from_domain = DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "localhost"
MAIL_DOMAIN = env.str("MAIL_DOMAIN", default=_from_domain)
MAIL_SUPPORT_ADDRESS = env.str("MAIL_SUPPORT_ADDRESS", default=f"support@{MAIL_DOMAIN}")
# Mailboxes read by `manage.py mail_fetch` and the beat task: a JSON list of objects, each
# {"name", "maildir": path} or {"name", "imap_host", "imap_port"?, "imap_user",
# "imap_password_env" | "imap_oauth2_token_env", "imap_folder"?, "imap_done_folder"?},
# with "makes": "incident" | "request", optional "service" (name) and "request_alias"
# (mail addressed to it makes a service request). Secrets are named by environment variable.
# Each mailbox acts as the From address only when its receiving MTA verified it:
# "authserv_id" names that MTA as it heads its Authentication-Results header (a name or a
# list, e.g. "mx.example.com"), "sender_check" is "authenticated" (the default; it needs
# authserv_id, or `manage.py check` refuses) or "off" (the From taken as it is: only for a
# mailbox whose MTA already refuses mail failing DMARC). The embedded default is the demo's
# Maildir, which no MTA feeds (mail is copied in by hand), hence "off".
MAIL_MAILBOXES = env.json(
    "MAIL_MAILBOXES",
    default=[
        {
            "name": "support",
            "maildir": str(DATA_DIR / "mail" / "support"),
            "sender_check": "off",
        }
    ],
)
MAIL_FETCH_SECONDS = env.float("MAIL_FETCH_SECONDS", default=60.0)
MAIL_FETCH_LIMIT = env.int("MAIL_FETCH_LIMIT", default=200)  # mails per mailbox per run
# A mail from an address no active user has: "reject" (a polite reply) or "create" (a
# requester account with no usable password; they sign in by a password reset or SSO).
MAIL_UNKNOWN_SENDER = env.str("MAIL_UNKNOWN_SENDER", default="reject")
if MAIL_UNKNOWN_SENDER not in {"reject", "create"}:
    raise ImproperlyConfigured("MAIL_UNKNOWN_SENDER is 'reject' or 'create'.")
# The service of an incident made from mail when its mailbox names none (blank: the first
# active service by name), and the catalogue item a mail to a request alias orders.
MAIL_DEFAULT_SERVICE = env.str("MAIL_DEFAULT_SERVICE", default="")
MAIL_REQUEST_ITEM = env.str("MAIL_REQUEST_ITEM", default="")
MAIL_MAX_BYTES = env.int("MAIL_MAX_BYTES", default=25 * 1024 * 1024)
CELERY_BEAT_SCHEDULE["mail-fetch"] = {
    "task": "integrations.tasks.mail_fetch",
    "schedule": MAIL_FETCH_SECONDS,
}
# === end of issue 15's e-mail block ======================================================
# --- Integrations: outbound webhooks (issue 15) ------------------------------------------
# Tries of one delivery before it is parked as dead (a subscription may set its own).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# Seconds to wait for a receiver's answer.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# After a rotation, the previous secret signs too (both signatures) for this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env.float("WEBHOOK_SECRET_OVERLAP_HOURS", default=24.0)
# Dead deliveries in a row after which a subscription is disabled and its owner told (0: never).
WEBHOOK_DISABLE_AFTER_DEAD = env.int("WEBHOOK_DISABLE_AFTER_DEAD", default=5)
# --- Issue 15: two-way sync with an external tracker (integrations.services.connectors) -------
# Connector API tokens kept out of the database: a JSON object of name → token; a connector
# names its entry (api_token_setting) instead of storing the token encrypted.
CONNECTOR_CREDENTIALS: dict[str, str] = env.json("CONNECTOR_CREDENTIALS", default={})
# Seconds a call to the remote tracker may take before it counts as failed (and retried).
CONNECTOR_TIMEOUT_SECONDS = env.float("CONNECTOR_TIMEOUT_SECONDS", default=10.0)
# A webhook whose timestamp is further than this from now is refused (a replay or a
# clock far off); Jira retries a failed delivery within minutes.
CONNECTOR_WEBHOOK_MAX_AGE_SECONDS = env.int("CONNECTOR_WEBHOOK_MAX_AGE_SECONDS", default=600)
# How often the catch-up poll asks each connector what changed (a missed webhook's share).
CONNECTOR_POLL_SECONDS = env.float("CONNECTOR_POLL_SECONDS", default=300.0)
# The dashboards' daily roll-ups brought up to date, then the default figures computed
# ahead of their readers (dashboards.tasks): a little under core.dashboards.CACHE_SECONDS,
# so the figures lag the records by about a minute and the entry is renewed before it expires.
CELERY_BEAT_SCHEDULE["dashboards-collect"] = {
    "task": "dashboards.tasks.dashboards_collect",
    "schedule": env.float("DASHBOARDS_COLLECT_SECONDS", default=50.0),
}
CELERY_BEAT_SCHEDULE["connectors-poll"] = {
    "task": "integrations.tasks.connectors_poll",
    "schedule": CONNECTOR_POLL_SECONDS,
}
# --- Retention of the integration logs (core.retention) ------------------------------------
# Each purge deletes at most RETENTION_BATCH_SIZE × RETENTION_MAX_BATCHES rows of a table per
# run, a batch per transaction; the next daily run takes what remains.
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
RETENTION_MAX_BATCHES = env.int("RETENTION_MAX_BATCHES", default=100)
# Inbound connector webhooks (integrations.InboundDelivery) are deleted this many days after
# they were received. The rows (identifier and body digest) are also the replay guard,
# which only has to outlive the window in which a webhook is accepted at all: its signed
# timestamp may be up to CONNECTOR_WEBHOOK_MAX_AGE_SECONDS in the past or in the future, so
# a body received at R can pass the age check until R + 2 × max age, and no later. A shorter
# retention would reopen replays: refused here rather than clamped (the operator set both; a
# silent clamp hides it).
CONNECTOR_DELIVERY_RETENTION_DAYS = env.int("CONNECTOR_DELIVERY_RETENTION_DAYS", default=30)
if CONNECTOR_DELIVERY_RETENTION_DAYS * 86_400 < 2 * CONNECTOR_WEBHOOK_MAX_AGE_SECONDS:
    raise ImproperlyConfigured(
        "CONNECTOR_DELIVERY_RETENTION_DAYS must cover twice CONNECTOR_WEBHOOK_MAX_AGE_SECONDS "
        f"({2 * CONNECTOR_WEBHOOK_MAX_AGE_SECONDS} s): the delivery log is the replay guard."
    )
# Outgoing webhook deliveries (their outbox message, WebhookDelivery and its tries) and the
# pushes to connected trackers, once delivered or dead, are deleted this many days after they
# were written; pending ones are never. E-mail outbox rows are kept (each user's in-app
# notification points at its e-mail's row, and a reply is matched to its ticket by it).
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)
CONNECTOR_PUSH_RETENTION_DAYS = env.int("CONNECTOR_PUSH_RETENTION_DAYS", default=30)
for _name in (
    "CONNECTOR_DELIVERY_RETENTION_DAYS",
    "WEBHOOK_DELIVERY_RETENTION_DAYS",
    "CONNECTOR_PUSH_RETENTION_DAYS",
    "RETENTION_BATCH_SIZE",
    "RETENTION_MAX_BATCHES",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} is a whole number of at least 1.")
CELERY_BEAT_SCHEDULE["connector-deliveries-purge"] = {  # integrations.InboundDelivery
    "task": "integrations.tasks.connector_deliveries_purge",
    "schedule": crontab(hour=3, minute=23),
}
CELERY_BEAT_SCHEDULE["outbox-purge-settled"] = {  # delivered or dead webhooks and pushes
    "task": "core.tasks.outbox_purge_settled",
    "schedule": crontab(hour=3, minute=41),
}
