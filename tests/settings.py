"""The product's settings with the few values a test run needs.

The services stay the ones the environment names: DATABASE_URL picks SQLite or PostgreSQL
(pytest-django creates its own test database on it), and CELERY_BROKER_URL is only used by the
tests that start a real worker, each on a Redis database of its own.
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("DEBUG", "0")

from config.settings import *  # noqa: F403
from config.settings import CELERY_BROKER_URL as _ENV_BROKER_URL

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# In-process tests run tasks eagerly; tests that need a real worker start one themselves on
# TEST_BROKER_URL (the environment's Redis, on a database of the tests' own).
CELERY_TASK_ALWAYS_EAGER = True
TEST_BROKER_URL = _ENV_BROKER_URL
CELERY_BROKER_URL = ""
# Tests never run collectstatic: serve static files from the apps' folders, as in development.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
