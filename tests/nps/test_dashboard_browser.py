"""The dashboards in a real browser (Debian's Chromium through Playwright): every chart drawn
with no error in the console, a filter that changes the numbers, and the numbers on the page
equal to the API's for the same filters. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from collections_link.models import Role
from nps.followups import followups_open
from nps.models import FollowUpCase
from tests.factories import ClientFactory, OperatorFactory, user_with_role
from tests.nps.dashboard_support import two_clients
from tests.nps.nps_support import answer_many
from tests.surveys.browser import screenshot
from tests.surveys.page_support import page_url, sent_invitation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The shared Playwright fixtures (Debian's Chromium), registered in this module.

LAPTOP = {"width": 1366, "height": 900, "locale": "en-GB"}
TABLET = {"width": 768, "height": 1024, "locale": "en-GB"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The benchmark across clients is cached for a few minutes; each test has its own data.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def acme():
    """Acme Energia with answers over three months, two channels and two contact types, and
    three other clients so that the anonymised benchmark is shown."""
    now = timezone.now()
    a, _b = two_clients(now=now)
    marco = OperatorFactory.create(ref="op-marco", name="Marco Neri", client=a.client)
    answer_many(
        client=a.client,
        operator=a.operator,
        scores=[0, 3, 6, 9, 10, 10, 7, 8, 2, 9, 10, 5],
        answered_at=now - dt.timedelta(days=35),
        channel="cati",
        contact_channel="home_visit",
        reason="Visita cortese, IBAN IT60X0542811101000000123456",
    )
    answer_many(
        client=a.client,
        operator=marco,
        scores=[9, 9, 10, 8, 7, 6, 10, 9, 9, 4, 10, 10],
        answered_at=now - dt.timedelta(days=65),
        reason="Gentile",
    )
    for i, name in enumerate(["Credito Centro", "Delta Luce", "Eco Gas"]):
        other = ClientFactory.create(ref=f"peer-{i}", name=name)
        op = OperatorFactory.create(ref=f"op-peer-{i}", client=other)
        answer_many(client=other, operator=op, scores=[9] * (6 + i) + [2] * 6, answered_at=now)
    return a


def log_in(page, live_server, username: str, next_path: str) -> None:
    page.goto(f"{live_server.url}/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-1")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}{next_path}")


def console_errors(page) -> list[str]:
    """Errors the page logs or throws. The browser's own request for /favicon.ico (the base
    template links none) is not the dashboard's."""
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and "favicon.ico" not in (message.location or {}).get("url", ""):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    return errors


def drawn(page) -> tuple[int, int]:
    """(charts on the page, charts Plotly drew) once dashboard.js has finished."""
    page.wait_for_selector("html[data-charts-drawn]")
    expected = page.locator("[data-figure]").count()
    rendered = page.evaluate(
        """Array.from(document.querySelectorAll("[data-figure][data-rendered=true]"))
             .filter((node) => node.querySelector("svg.main-svg")).length"""
    )
    return expected, rendered


def table(page, key: str) -> list[list[str]]:
    """The cells of a data table (they sit in a closed <details>, so read the DOM)."""
    return page.evaluate(
        """(key) => Array.from(document.querySelectorAll(`#table-${key} tbody tr`))
             .map((tr) => Array.from(tr.cells).map((td) => td.textContent.trim()))""",
        key,
    )


def headline(page) -> tuple[str, str]:
    value = page.locator('[data-testid="nps-value"]').get_attribute("data-value") or ""
    n = page.locator('[data-testid="nps-n"]').get_attribute("data-value") or ""
    return value, n


def test_every_chart_renders_with_no_console_error(live_server, page_factory, acme):
    supervisor = user_with_role("sara", Role.SUPERVISOR)
    assert supervisor.pk
    pages = [
        ("anna", "/dashboard/c/acme-energia/", 5, "overview"),
        ("anna", "/dashboard/c/acme-energia/scores/", 1, "scores"),
        ("anna", "/dashboard/c/acme-energia/recovery/", 2, "recovery"),
        ("anna", "/dashboard/c/acme-energia/responses/", 1, "responses"),
        ("anna", "/dashboard/c/acme-energia/operators/op-giulia/", 1, "operator"),
        ("sara", "/dashboard/", 1, "agency"),
    ]
    for username, path, at_least, name in pages:
        for size, viewport in (("laptop", LAPTOP), ("tablet", TABLET)):
            page = page_factory(**viewport)
            errors = console_errors(page)
            log_in(page, live_server, username, path)

            expected, rendered = drawn(page)

            assert expected >= at_least, (path, expected)
            assert rendered == expected, (path, size, rendered, expected)
            assert errors == [], (path, size, errors)
            screenshot(page, f"dashboard-{name}-{size}")
            page.close()


def test_a_filter_changes_the_numbers(live_server, page_factory, acme):
    page = page_factory(**LAPTOP)
    errors = console_errors(page)
    log_in(page, live_server, "anna", "/dashboard/c/acme-energia/")
    before = headline(page)

    page.select_option("#id_contact_type", "home_visit")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/dashboard/c/acme-energia/?*contact_type=home_visit*")
    after = headline(page)
    drawn(page)
    screenshot(page, "dashboard-filtered-home-visits")

    # 34 answers in all; the 12 home visits: 5 promoters, 2 passives, 5 detractors = 0.
    assert before[1] == "34"
    assert after == ("0.0", "12")
    assert errors == []


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"channel": "cati"},
        {"contact_type": "phone"},
        {"operator": "op-marco"},
    ],
)
def test_the_numbers_on_the_page_equal_the_apis(live_server, page_factory, acme, filters):
    page = page_factory(**LAPTOP)
    query = urlencode(filters)
    path = "/dashboard/c/acme-energia/" + (f"?{query}" if query else "")
    log_in(page, live_server, "anna", "/dashboard/c/acme-energia/")
    page.goto(live_server.url + path)
    drawn(page)

    api = "/api/v1/nps/?" + urlencode({"client": "acme-energia", **filters})
    overall = page.request.get(live_server.url + api).json()["results"][0]
    months = page.request.get(live_server.url + api + "&group_by=month").json()["results"]
    channels = page.request.get(live_server.url + api + "&group_by=channel").json()["results"]

    value, n = headline(page)
    assert int(n) == overall["n"]
    if overall["nps"] is None:
        assert value == ""
    else:
        assert float(value) == pytest.approx(overall["nps"], abs=0.005)
        low = float(page.locator('[data-testid="nps-interval"]').get_attribute("data-low"))
        assert low == pytest.approx(overall["ci_low"], abs=0.005)
    # The trend table and the channel table under the charts, cell by cell.
    shown = {row[0]: row[1:3] for row in table(page, "trend")}
    assert len(shown) >= len(months)
    for month in months:
        cells = shown[month["month"][:7]]
        assert int(cells[0]) == month["n"]
        expected = "" if month["nps"] is None else f"{month['nps']:+.1f}"
        assert cells[1] == expected.replace("+0.0", "0.0")
    assert sorted(int(row[1]) for row in table(page, "channels")) == sorted(
        c["n"] for c in channels
    )


def test_a_detractor_answer_opens_one_case_and_one_email(live_server, page_factory):
    """The debtor answers 3 on the survey page, then opens the link again: the pass that opens
    follow-ups finds one case to open and sends one e-mail, whatever the debtor does next."""
    invitation = sent_invitation()
    anna = user_with_role("anna", Role.CLIENT_VIEWER, invitation.client)
    anna.email = "anna@acme.example"
    anna.save()
    link = live_server.url + page_url(invitation)
    debtor = page_factory(width=360, height=740)
    debtor.goto(link)
    debtor.locator("label[for=nps-3]").click()
    debtor.get_by_role("button", name="Avanti").click()
    debtor.get_by_text("Domanda 2 di 4").wait_for()
    debtor.get_by_label("Qual è il motivo principale del suo voto?").fill("Troppe telefonate")
    debtor.get_by_role("button", name="Avanti").click()
    debtor.get_by_role("button", name="Avanti").click()
    debtor.get_by_role("button", name="Invia").click()
    debtor.get_by_role("heading", name="Grazie!").wait_for()

    first = followups_open()
    debtor.go_back()  # the form again, from the history: already answered
    debtor.goto(link)
    debtor.reload()
    second = followups_open()

    assert (first.opened, first.emailed) == (1, 1)
    assert (second.opened, second.emailed) == (0, 0)
    assert FollowUpCase.objects.count() == 1
    assert [m.to for m in mail.outbox] == [["anna@acme.example"]]
    case = FollowUpCase.objects.get()
    assert case.owner == anna and case.response.score == 3

    viewer = page_factory(**LAPTOP)
    log_in(viewer, live_server, "anna", f"/dashboard/c/{invitation.client.ref}/follow-ups/")
    assert viewer.locator("[data-case]").count() == 1
    viewer.locator(f"[data-case='{case.pk}'] a").click()
    viewer.get_by_text("Troppe telefonate").wait_for()
    screenshot(viewer, "dashboard-follow-up-case")
