"""Settings, read from the environment (django-environ).

Every value has a safe embedded default for development (SQLite, eager Celery, the SMS outbox),
and production refuses to start on a value that would be unsafe.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if Path(_env_file).is_file():
    environ.Env.read_env(_env_file)

DEBUG: bool = env.bool("DEBUG", default=False)
# Only ever used with DEBUG on; production refuses to start with it.
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105
SECRET_KEY: str = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not DEBUG and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG is off "
        "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "collections_link",
    "surveys",
    "nps",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# An empty DATABASE_URL means the same as none: the embedded SQLite file.
DATABASE_URL: str = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the demo or an import writes; the busy timeout makes a
    # writer wait for the lock instead of failing at once. IMMEDIATE: a transaction takes the
    # write lock when it begins, so two that read and then write (a double submit) queue up
    # instead of one failing with "database is locked" when it tries to upgrade its lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Django's cursors bind on the client and never prepare; this only lets the few hot
    # statements that run on a server-binding cursor (the CATI claim, the dispatcher's claim)
    # be prepared. Set DATABASE_PREPARED_STATEMENTS=0 behind a pooler that cannot keep them
    # (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("it", "Italiano"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE: str = env.str("TIME_ZONE", default="Europe/Rome")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Hashed static files are immutable: let browsers keep them for a year.
WHITENOISE_MAX_AGE = 31536000 if not DEBUG else 0

# --- Security (all on unless DEBUG; `manage.py check --deploy` is clean in production) -----
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
USE_X_FORWARDED_HOST: bool = env.bool("BEHIND_TLS_PROXY", default=False)
SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE: bool = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE: bool = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Empathy NPS API",
    "DESCRIPTION": "Ingest of the collection system's feeds, and NPS analytics.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The API docs page loads Swagger UI from our own static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery ----------------------------------------------------------------------------------
# With no broker configured, tasks run eagerly in-process so the demo needs no Redis.
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER: bool = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND: str | None = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_TIMEZONE = "UTC"
# Nothing is queued more than a minute ahead (the database row is the schedule), so the
# visibility timeout only has to outlive one task run.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- SMS (Twilio or the local outbox) ---------------------------------------------------------
SMS_BACKEND: str = env.str("SMS_BACKEND", default="outbox")
if SMS_BACKEND not in {"outbox", "twilio"}:
    raise ImproperlyConfigured(f"SMS_BACKEND must be 'outbox' or 'twilio', not {SMS_BACKEND!r}.")
TWILIO_ACCOUNT_SID: str = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN: str = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_MESSAGING_SERVICE_SID: str = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_FROM_NUMBER: str = env.str("TWILIO_FROM_NUMBER", default="")
# Where the Twilio SDK sends its REST calls; tests point it at the local fake server.
TWILIO_API_BASE_URL: str = env.str("TWILIO_API_BASE_URL", default="")
if SMS_BACKEND == "twilio" and not (
    TWILIO_ACCOUNT_SID
    and TWILIO_AUTH_TOKEN
    and (TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER)
):
    raise ImproperlyConfigured(
        "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and either "
        "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER."
    )
# The public base URL the debtor's links and Twilio's webhooks use (behind the TLS proxy).
PUBLIC_BASE_URL: str = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
SMS_RATE_PER_SECOND: float = env.float("SMS_RATE_PER_SECOND", default=10.0)
TWILIO_HTTP_TIMEOUT: float = env.float("TWILIO_HTTP_TIMEOUT", default=10.0)
# Validate webhook signatures against PUBLIC_BASE_URL + path (right behind a TLS proxy); off,
# against the request's own URL (then set BEHIND_TLS_PROXY so the scheme and host are right).
TWILIO_WEBHOOK_URL_FROM_PUBLIC_BASE: bool = env.bool(
    "TWILIO_WEBHOOK_URL_FROM_PUBLIC_BASE", default=True
)
# Twilio answers these itself (and blocks the number), so we send no confirmation of our own.
SMS_PROVIDER_OPT_OUT_KEYWORDS: list[str] = env.list(
    "SMS_PROVIDER_OPT_OUT_KEYWORDS",
    default=["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"],
)
SMS_TEMPLATE_MAX_CHARS: int = env.int("SMS_TEMPLATE_MAX_CHARS", default=160)  # 152: US toll-free

# --- E-mail -------------------------------------------------------------------------------------
EMAIL_BACKEND: str = env.str(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="nps@localhost")
SERVER_EMAIL: str = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# EMAIL_URL=smtp+tls://user:password@smtp.example.com:587 sets the SMTP backend and server.
if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))


def _admins(raw: str) -> list[tuple[str, str]]:
    """ADMINS="Ada Rossi <ada@example.com>, ops@example.com": who gets the alerts (a template
    the carrier filters, server errors)."""
    admins = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, _, address = item.rpartition("<")
        address = address.rstrip(">").strip() if name or item.endswith(">") else item
        if "@" not in address:
            raise ImproperlyConfigured(f"ADMINS: {item!r} is not an e-mail address")
        admins.append((name.strip() or address, address))
    return admins


ADMINS = _admins(env.str("ADMINS", default=""))

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The Twilio SDK logs every request at INFO.
        "twilio.http_client": {"level": "WARNING"},
    },
}

# What a Twilio error code means for the invitation (../DOMAIN.md rule 7). Configuration, not
# code: Twilio splits and renames codes, and an agency's counsel may want another action.
# Actions: opt_out, invalid_number, cati, retry_once, pause_template, backoff.
SMS_ERROR_ACTIONS: dict[int, str] = {
    21610: "opt_out",
    21211: "invalid_number",
    30005: "invalid_number",
    21614: "cati",
    30006: "cati",
    30003: "retry_once",
    30008: "retry_once",
    30007: "pause_template",
    20429: "backoff",
}
SMS_ERROR_ACTIONS.update(
    {int(k): v for k, v in env.dict("SMS_ERROR_ACTIONS", default={}).items()}  # e.g. "30034=cati"
)
SMS_RETRY_ONCE_DELAY_HOURS: int = env.int("SMS_RETRY_ONCE_DELAY_HOURS", default=4)
# A number the carrier called invalid is not surveyed again for this long (unless a message
# reaches it meanwhile): numbers are reassigned, but not within weeks.
SMS_INVALID_NUMBER_MEMORY_DAYS: int = env.int("SMS_INVALID_NUMBER_MEMORY_DAYS", default=180)
SURVEY_MAX_CONTACT_AGE_DAYS: int = env.int("SURVEY_MAX_CONTACT_AGE_DAYS", default=14)
CONSENT_WORDING_VERSION: str = env.str("CONSENT_WORDING_VERSION", default="v1")
# Named in the debtor's privacy notice: who holds the answers, and where to ask about them.
PRIVACY_CONTROLLER: str = env.str(
    "PRIVACY_CONTROLLER", default="Demo agency (synthetic data)" if DEBUG else ""
)
PRIVACY_CONTACT: str = env.str("PRIVACY_CONTACT", default="privacy@agency.example" if DEBUG else "")

# Task modules beyond each app's tasks.py.
CELERY_IMPORTS = ("surveys.cati_tasks", "surveys.webhook_tasks", "nps.followup_tasks")

# The periodic work (Celery beat). Each entry calls the same service as its management command.
CELERY_BEAT_SCHEDULE = {
    "plan-surveys": {"task": "surveys.tasks.plan_surveys_task", "schedule": 60.0},
    "dispatch-due": {"task": "surveys.tasks.dispatch_due_task", "schedule": 30.0},
    "sms-housekeeping": {"task": "surveys.tasks.sms_housekeeping_task", "schedule": 60.0},
    "cati-housekeeping": {"task": "surveys.cati_tasks.cati_housekeeping_task", "schedule": 60.0},
    "webhooks-catch-up": {"task": "surveys.webhook_tasks.webhooks_catch_up_task", "schedule": 60.0},
    "followups-open": {"task": "nps.followup_tasks.followups_open_task", "schedule": 300.0},
    "nps-rollup-refresh": {"task": "nps.tasks.rollup_refresh_task", "schedule": 300.0},
    "nps-rollup-rebuild": {
        "task": "nps.tasks.rollup_rebuild_task",
        "schedule": crontab(hour=3, minute=30),
    },
    "invitations-housekeeping": {
        "task": "surveys.tasks.invitations_housekeeping_task",
        "schedule": 300.0,
    },
}
