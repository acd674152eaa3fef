"""The callers' console in a real browser (Debian's Chromium through Playwright): a shift worked
from the keyboard alone, a caller who closes the browser mid-case, and the page with JavaScript
switched off."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from surveys.channels.cati import cati_case_claim, cati_leases_expire
from surveys.models import CallAttempt, CatiCase, CatiCaseStatus, Response
from tests.surveys.browser import screenshot
from tests.surveys.cati_support import ALWAYS_OPEN, ROME, caller, ensure_seed, make_case, set_policy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The shared Playwright fixtures (Debian's Chromium), registered in this module.

DESK = {"width": 1366, "height": 900, "locale": "en-GB"}


@pytest.fixture(autouse=True)
def _seeded():
    ensure_seed()
    set_policy(window_profile=ALWAYS_OPEN)


def log_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + "/login/?next=/cati/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-1")
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/cati/")


def first_case_on_screen(live_server, page_factory):
    """Andrea signs in and presses N: the one due case is on screen."""
    case = make_case(due_at=timezone.now() - dt.timedelta(minutes=10))
    caller("andrea")
    page = page_factory(**DESK)
    log_in(page, live_server, "andrea")
    page.keyboard.press("n")
    page.wait_for_url(f"{live_server.url}/cati/case/{case.pk}/")
    return case, page


def test_a_caller_works_a_case_from_the_keyboard_alone(live_server, page_factory) -> None:
    case = make_case(due_at=timezone.now() - dt.timedelta(minutes=10), phone="+393331234567")
    second = make_case(due_at=timezone.now() - dt.timedelta(minutes=5), phone="+393337654321")
    andrea = caller("andrea")
    page = page_factory(**DESK)
    log_in(page, live_server, "andrea")

    page.keyboard.press("n")  # "Next call"
    page.wait_for_url(f"{live_server.url}/cati/case/{case.pk}/")
    assert page.locator("a.tel").get_attribute("href") == "tel:+393331234567"
    screenshot(page, "cati-1-case")

    page.keyboard.type("9")  # no field has focus: the digit starts the score
    assert page.locator("#id_nps").input_value() == "9"
    page.keyboard.press("Enter")  # to the reason
    assert page.evaluate("document.activeElement.id") == "id_reason"
    page.keyboard.type("Mi hanno ascoltato")
    page.keyboard.press("Enter")  # to the optional extras, left blank
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # the last question: saves
    page.get_by_text("Saved: complete interview, score 9.").wait_for()
    screenshot(page, "cati-2-saved")

    response = Response.objects.get()
    assert (response.score, response.reason, response.complete) == (9, "Mi hanno ascoltato", True)
    assert response.channel == "cati" and response.caller_id == andrea.pk
    assert response.invitation_id == case.invitation_id

    # The next case, a busy line: N, then B and Enter.
    page.keyboard.press("n")
    page.wait_for_url(f"{live_server.url}/cati/case/{second.pk}/")
    page.keyboard.press("b")
    assert page.locator("input[value=busy]").is_checked()
    page.keyboard.press("Enter")
    page.get_by_text("Busy: due again").wait_for()
    second.refresh_from_db()
    assert second.status == CatiCaseStatus.QUEUED and second.attempts == 1


def test_after_a_refused_answer_the_caller_types_in_the_field_not_an_outcome_key(
    live_server, page_factory
) -> None:
    """The error says "type y (or s)": typing s must answer, not pick "number not in service"."""
    case, page = first_case_on_screen(live_server, page_factory)
    page.keyboard.type("8")
    for text in ("", "Gentile", "4", "forse"):  # the score's Enter, then each answer
        page.keyboard.type(text)
        page.keyboard.press("Enter")
    page.locator(".q.has-error").wait_for()
    assert page.evaluate("document.activeElement.name") == "solution"
    page.keyboard.type("s")
    page.keyboard.press("Enter")
    page.get_by_text("Saved: complete interview, score 8.").wait_for()
    response = Response.objects.get()
    assert (response.score, response.answers["solution"]) == (8, True)
    case.refresh_from_db()
    assert case.final_disposition.code == "complete"


def test_ten_is_two_keys_and_a_score_of_11_is_stopped_in_the_page(
    live_server, page_factory
) -> None:
    _case, page = first_case_on_screen(live_server, page_factory)
    page.keyboard.type("11")
    page.keyboard.press("Enter")
    page.get_by_text("11 is outside the scale: the score is 0 to 10.").wait_for()
    assert page.evaluate("document.activeElement.id") == "id_nps"
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type("10")
    page.keyboard.press("Control+Enter")  # save at once
    page.get_by_text("Saved: complete interview, score 10.").wait_for()
    assert Response.objects.get().score == 10


def test_a_call_back_without_a_date_puts_the_caller_back_in_the_date(
    live_server, page_factory
) -> None:
    case, page = first_case_on_screen(live_server, page_factory)
    page.keyboard.press("a")
    page.locator("#record-outcome").click()  # no date, no time
    page.locator("#callback-fields .error").wait_for()
    assert page.evaluate("document.activeElement.id") == "id_callback_date"
    case.refresh_from_db()
    assert case.callback_at is None


def test_a_callback_booked_from_the_keyboard(live_server, page_factory) -> None:
    case, page = first_case_on_screen(live_server, page_factory)
    page.keyboard.press("a")  # call-back: the date field takes the focus
    assert page.evaluate("document.activeElement.id") == "id_callback_date"
    tomorrow = (timezone.now().astimezone(ROME) + dt.timedelta(days=1)).date()
    page.fill("#id_callback_date", tomorrow.isoformat())
    page.fill("#id_callback_time", "18:00")
    page.fill("#id_note", "dopo il lavoro")
    page.focus("#id_note")
    page.keyboard.press("Enter")
    page.get_by_text("Call-back booked for").wait_for()
    case.refresh_from_db()
    assert case.callback_at == dt.datetime.combine(tomorrow, dt.time(18), tzinfo=ROME)


def test_a_caller_who_closes_the_browser_mid_case_loses_it_and_the_attempt_counts(
    live_server, page_factory
) -> None:
    case = make_case(due_at=timezone.now() - dt.timedelta(minutes=10))
    andrea = caller("andrea")
    page = page_factory(**DESK)
    log_in(page, live_server, "andrea")
    page.keyboard.press("n")
    page.wait_for_url(f"{live_server.url}/cati/case/{case.pk}/")
    page.keyboard.type("7")
    page.context.close()  # the browser is gone mid-case, nothing saved

    case.refresh_from_db()
    assert case.status == CatiCaseStatus.HELD and case.held_by == andrea
    later = timezone.now() + dt.timedelta(minutes=11)
    assert cati_leases_expire(now=later) == 1
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.QUEUED and case.held_by is None
    assert case.attempts == 1
    attempt = CallAttempt.objects.get(case=case)
    assert attempt.lease_lost and attempt.caller == andrea
    assert not Response.objects.exists()
    # Back in the queue: another caller gets it once its retry delay has passed.
    assert cati_case_claim(caller=caller("sara"), now=case.due_at) == case


def test_the_console_works_with_javascript_off(live_server, page_factory) -> None:
    case = make_case(due_at=timezone.now() - dt.timedelta(minutes=10))
    andrea = caller("andrea")
    page = page_factory(javascript=False, **DESK)
    log_in(page, live_server, "andrea")
    page.get_by_role("button", name="Next call").click()
    page.wait_for_url(f"{live_server.url}/cati/case/{case.pk}/")
    page.fill("#id_nps", "11")
    page.get_by_role("button", name="Save complete interview").click()
    page.get_by_text("11 is outside the scale: the score is 0 to 10.").first.wait_for()
    assert not Response.objects.exists()
    page.fill("#id_nps", "6")
    page.fill("#id_reason", "Troppo insistenti")
    page.get_by_role("button", name="Save partial").click()
    page.get_by_text("Saved: partial interview, score 6.").wait_for()
    response = Response.objects.get()
    assert (response.score, response.complete, response.caller_id) == (6, False, andrea.pk)
    assert CatiCase.objects.get(pk=case.pk).final_disposition.code == "partial"


def test_the_supervisor_sees_the_queue_and_who_is_working(live_server, page_factory) -> None:
    from collections_link.models import Role
    from tests.factories import user_with_role

    held = make_case(due_at=timezone.now() - dt.timedelta(minutes=10))
    make_case(due_at=timezone.now() - dt.timedelta(minutes=5))
    make_case(due_at=timezone.now() + dt.timedelta(hours=3))
    assert cati_case_claim(caller=caller("andrea")) == held
    user_with_role("paola", Role.SUPERVISOR)
    page = page_factory(**DESK)
    page.goto(live_server.url + "/login/?next=/cati/supervisor/")
    page.fill("#id_username", "paola")
    page.fill("#id_password", "pw-for-tests-1")
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/cati/supervisor/")
    queue = page.locator("#queue")
    assert queue.locator("tr", has_text="Due now").locator("td").inner_text() == "1"
    assert queue.locator("tr", has_text="Held by a caller").locator("td").inner_text() == "1"
    assert page.get_by_text("andrea: on case").is_visible()
    screenshot(page, "cati-3-supervisor")
