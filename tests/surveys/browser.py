"""A real browser for the page tests: Playwright for Python driving Debian's Chromium.

tests/conftest.py makes the fixtures available to every test module (the survey page, the CATI
console, the dashboards):

    @pytest.mark.browser
    def test_something(live_server, page_factory):
        page = page_factory(width=360, height=740)
        page.goto(live_server.url + "/s/<token>/")

Without a `chromium` on PATH the tests skip with the reason, and fail under REQUIRE_SERVICES=1
(`.ci/run` installs Debian's package when it is missing). Playwright's own browser download is
never used: the browser is the distribution's.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.services import missing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        missing("this test needs Debian's Chromium: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("this test needs Playwright for Python (pip install playwright)")
    # Playwright's sync API keeps an asyncio loop in this thread, and Django refuses ORM calls
    # from a thread with a running loop. The test bodies are plain synchronous code that runs
    # between browser calls, never inside the loop, so the check is a false alarm here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield launched
            finally:
                launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page_factory(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Make a page in a fresh browser context (no cookies shared between pages):
    `page_factory(width=360, height=740, javascript=True, locale="it-IT", **context_options)`.
    Each page records every URL it requested in `page.requested` (a list)."""
    contexts: list[BrowserContext] = []

    def make(
        *,
        width: int = 360,
        height: int = 740,
        javascript: bool = True,
        locale: str = "it-IT",
        **options: Any,
    ) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            java_script_enabled=javascript,
            locale=locale,
            **options,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.requested = requested  # type: ignore[attr-defined]
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (kept out of git) for a human to look
    at after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
