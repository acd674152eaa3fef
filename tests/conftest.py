from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import missing, on_postgres, redis_reachable, redis_url

# One browser for the whole run, shared by every browser test module (Playwright's sync API
# allows one running instance per thread).
from tests.surveys.browser import browser, page_factory, screenshot  # noqa: F401


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and not on_postgres():
        missing("this test needs PostgreSQL: set DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis") and not redis_reachable(redis_url()):
        missing("this test needs Redis: set CELERY_BROKER_URL=redis://...")


@pytest.fixture(autouse=True)
def _shipped_data(request: pytest.FixtureRequest) -> Iterator[None]:
    """The data the product ships with (default survey, SMS texts, CATI dispositions) comes
    from a data migration. A transactional test (live server, real workers) ends with a flush
    that empties every table, so the next test would find none: put it back when missing."""
    if request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("_django_db_helper")
        from django.apps import apps

        from surveys.models import Disposition, SmsTemplate, SurveyVersion
        from surveys.seed import seed_apply

        if not (
            Disposition.objects.exists()
            and SmsTemplate.objects.exists()
            and SurveyVersion.objects.exists()
        ):
            seed_apply(apps)
    yield


@pytest.fixture(autouse=True)
def _fresh_policy_cache() -> Iterator[None]:
    """Policies are cached per process for a few seconds; each test starts without."""
    from surveys.policies import policy_cache_clear

    policy_cache_clear()
    yield
    policy_cache_clear()
