"""Which real services this test run has, and how a test asks for one.

A test that needs PostgreSQL or Redis is marked `postgres` or `redis`. Without the service it
skips with the reason, unless REQUIRE_SERVICES=1 (as in CI), where it fails instead: CI must never
pass by skipping the real path.
"""

from __future__ import annotations

import os
import re
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in {"1", "true", "yes"}
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "9"))


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def redis_url() -> str | None:
    """The environment's Redis, pointed at the tests' own database (never 0)."""
    url: str = getattr(settings, "TEST_BROKER_URL", "") or ""
    if not url.startswith("redis://"):
        return None
    base = re.sub(r"/\d*$", "", url.rstrip("/"))
    if urlparse(url).path in {"", "/"}:
        base = url.rstrip("/")
    return f"{base}/{TEST_REDIS_DB}"


def redis_reachable(url: str | None) -> bool:
    if not url:
        return False
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def missing(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)
