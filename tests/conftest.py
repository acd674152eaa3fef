from __future__ import annotations

import pytest

from tests.services import missing, on_postgres, redis_reachable, redis_url


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and not on_postgres():
        missing("this test needs PostgreSQL: set DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis") and not redis_reachable(redis_url()):
        missing("this test needs Redis: set CELERY_BROKER_URL=redis://...")
