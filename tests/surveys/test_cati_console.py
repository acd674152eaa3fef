"""The callers' console as a caller uses it: the next case, the screen, the answers and the
dispositions, and every bad input refused with a message and nothing stored wrong."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from collections_link.models import Role
from surveys.cati_views import _greeting, _spoken_date
from surveys.channels.cati import cati_leases_expire
from surveys.models import (
    CallAttempt,
    CatiCase,
    CatiCaseStatus,
    InvitationStatus,
    Response,
)
from surveys.responses import response_record
from tests.factories import ClientFactory, user_with_role
from tests.surveys.cati_support import (
    ALWAYS_OPEN,
    CLOSED_AT_23,
    ROME,
    acme,
    caller,
    ensure_seed,
    hold,
    make_case,
    set_policy,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _seeded():
    ensure_seed()
    set_policy(window_profile=ALWAYS_OPEN)


def signed_in(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def book_callback(http: HttpClient, case: CatiCase, day: dt.date, at: str):
    return http.post(
        f"/cati/case/{case.pk}/disposition/",
        {"disposition": "callback", "callback_date": day.isoformat(), "callback_time": at},
    )


def due_case(**kwargs) -> CatiCase:
    return make_case(due_at=timezone.now() - dt.timedelta(minutes=5), **kwargs)


def test_next_call_gives_the_caller_a_case_with_what_helps_the_call() -> None:
    case = due_case(phone="+393331234567")
    andrea = caller()
    http = signed_in(andrea)

    idle = http.get("/cati/")
    assert idle.status_code == 200
    assert "Next call" in idle.text and "1 case due now" in idle.text

    response = http.post("/cati/next/")
    assert response.status_code == 302 and response["Location"] == f"/cati/case/{case.pk}/"
    page = http.get(response["Location"])
    html = page.text
    assert page.status_code == 200
    assert 'href="tel:+393331234567"' in html
    assert "+39 333 123 4567" in html
    assert "Europe/Rome" in html and "Italiano" in html
    # The script in the debtor's language, with the survey's own question and scale labels.
    assert "La chiamo per conto di Acme Energia" in html
    assert "quanto è probabile" in html
    assert "Per niente probabile" in html and "Estremamente probabile" in html
    # Dispositions with their shortcut keys, from the table.
    assert "<kbd>N</kbd> No answer" in html and "<kbd>D</kbd> Do not call" in html
    assert CatiCase.objects.get(pk=case.pk).held_by == andrea


def test_the_console_never_shows_the_operator_rated_nor_any_amount() -> None:
    case = due_case()
    andrea = caller()
    hold(case, andrea, now=timezone.now())
    html = signed_in(andrea).get(f"/cati/case/{case.pk}/").text
    assert "Giulia" not in html and "Rossi" not in html and "op-giulia-rossi" not in html
    for amount in ("1234.56", "1234,56", "1.234,56", "1,234.56", "1234"):
        assert amount not in html
    assert "EUR" not in html and "€" not in html
    assert "Promise to pay" not in html and "promise_to_pay" not in html


def test_answers_keyed_by_a_caller_make_the_same_response_record_as_the_web_page() -> None:
    case = due_case()
    andrea = caller()
    http = signed_in(andrea)
    http.post("/cati/next/")
    response = http.post(
        f"/cati/case/{case.pk}/answers/",
        {
            "nps": "9",
            "reason": "Gentili e chiari",
            "listened": "5",
            "solution": "s",
            "action": "complete",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/cati/"
    assert "Saved: complete interview, score 9." in http.get("/cati/").text

    keyed = Response.objects.get(invitation=case.invitation)
    # The web page's record for another debtor with the same answers, for comparison.
    other = make_case(due_at=timezone.now(), phone="+393339998877")
    web = response_record(
        invitation_id=other.invitation_id,
        channel="web",
        answers={"nps": 9, "reason": "Gentili e chiari", "listened": 5, "solution": "si"},
        complete=True,
    ).response
    same = ("score", "reason", "answers", "complete", "language", "client_id", "operator_id",
            "contact_channel", "contact_outcome", "survey_version_id")  # fmt: skip
    assert {f: getattr(keyed, f) for f in same} == {f: getattr(web, f) for f in same}
    assert keyed.answers == {"listened": 5, "solution": True}
    assert keyed.channel == "cati" and keyed.caller == andrea and web.caller is None
    assert keyed.contact_id == case.invitation.contact_id
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.DONE and case.final_disposition.code == "complete"
    assert case.attempts == 1 and case.invitation.status == InvitationStatus.COMPLETED
    attempt = CallAttempt.objects.get(case=case)
    assert attempt.disposition.code == "complete" and attempt.ended_at is not None


def test_a_partial_interview_keeps_the_score() -> None:
    case = due_case()
    andrea = caller()
    http = signed_in(andrea)
    http.post("/cati/next/")
    response = http.post(f"/cati/case/{case.pk}/answers/", {"nps": "4", "action": "partial"})
    assert response.status_code == 302
    keyed = Response.objects.get(invitation=case.invitation)
    assert keyed.score == 4 and not keyed.complete and keyed.channel == "cati"
    case.refresh_from_db()
    assert case.final_disposition.code == "partial"
    assert case.invitation.status == InvitationStatus.PARTIAL


def test_a_second_press_of_save_says_it_was_already_saved_not_that_nothing_was() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    answers = {"nps": "6", "reason": "ok", "action": "complete"}
    assert http.post(f"/cati/case/{case.pk}/answers/", answers).status_code == 302
    again = http.post(f"/cati/case/{case.pk}/answers/", answers)
    assert again.status_code == 409
    assert "Already saved a moment ago: Complete." in again.text
    assert "Nothing was saved" not in again.text
    assert Response.objects.get().score == 6

    other = due_case(phone="+393337654321")
    http.post("/cati/next/")
    no_answer = {"disposition": "no_answer"}
    assert http.post(f"/cati/case/{other.pk}/disposition/", no_answer).status_code == 302
    again = http.post(f"/cati/case/{other.pk}/disposition/", no_answer)
    assert "Already saved a moment ago: No answer." in again.text
    other.refresh_from_db()
    assert other.attempts == 1  # counted once


def test_a_score_of_11_is_refused_and_nothing_is_stored() -> None:
    case = due_case()
    andrea = caller()
    http = signed_in(andrea)
    http.post("/cati/next/")
    response = http.post(
        f"/cati/case/{case.pk}/answers/", {"nps": "11", "reason": "x", "action": "complete"}
    )
    assert response.status_code == 400
    assert "11 is outside the scale: the score is 0 to 10." in response.text
    assert not Response.objects.exists()
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.HELD and case.held_by == andrea and case.attempts == 0
    # The caller corrects it on the same case.
    assert (
        http.post(f"/cati/case/{case.pk}/answers/", {"nps": "10", "action": "complete"}).status_code
        == 302
    )
    assert Response.objects.get().score == 10


def test_a_refused_answer_is_explained_once_under_its_field() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    response = http.post(
        f"/cati/case/{case.pk}/answers/", {"nps": "8", "listened": "7", "action": "complete"}
    )
    assert response.status_code == 400
    assert response.text.count("7 is outside the scale") == 1
    assert "Nothing was saved: check the answers marked below." in response.text


def test_no_score_at_all_is_refused_with_what_to_do_instead() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    response = http.post(
        f"/cati/case/{case.pk}/answers/", {"nps": "", "reason": "nice", "action": "partial"}
    )
    assert response.status_code == 400
    assert "record a break-off instead" in response.text
    assert not Response.objects.exists()


def test_an_empty_disposition_is_refused() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    response = http.post(f"/cati/case/{case.pk}/disposition/", {"disposition": "", "note": ""})
    assert response.status_code == 400
    assert "Choose a disposition." in response.text
    assert not CallAttempt.objects.filter(disposition__isnull=False).exists()
    assert CatiCase.objects.get(pk=case.pk).status == CatiCaseStatus.HELD


def test_a_disposition_with_its_shortcut_puts_the_case_back_with_its_delay() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    before = timezone.now()
    response = http.post(f"/cati/case/{case.pk}/disposition/", {"disposition": "busy"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.QUEUED and case.attempts == 1
    assert dt.timedelta(minutes=15) <= case.due_at - before < dt.timedelta(minutes=16)
    assert "Busy: due again" in http.get("/cati/").text


def test_the_debtors_time_and_call_back_are_shown_in_their_zone_not_the_agencys() -> None:
    """A debtor in the Canary Islands is an hour behind Rome: the screen must say their time."""
    canary = ZoneInfo("Atlantic/Canary")
    case = due_case(zones="Atlantic/Canary", language="es", country="ES", phone="+34928123456")
    http = signed_in(caller())
    http.post("/cati/next/")
    before = timezone.now()
    page = http.get(f"/cati/case/{case.pk}/").text
    after = timezone.now()
    shown = re.search(r'<span class="localtime">(\d\d:\d\d),', page)
    assert shown is not None
    assert shown.group(1) in {t.astimezone(canary).strftime("%H:%M") for t in (before, after)}

    tomorrow = (timezone.now().astimezone(canary) + dt.timedelta(days=1)).date()
    booked = book_callback(http, case, tomorrow, "12:00")
    assert booked.status_code == 302
    case.refresh_from_db()
    assert case.callback_at == dt.datetime.combine(tomorrow, dt.time(12, 0), tzinfo=canary)
    hold(case, caller("bruno"), now=case.callback_at)
    again = signed_in(case.held_by).get(f"/cati/case/{case.pk}/").text
    assert re.search(r"Call-back booked for</dt><dd>[^<]*, 12:00 their time", again)


def test_a_callback_in_the_past_is_refused() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    yesterday = (timezone.now().astimezone(ROME) - dt.timedelta(days=1)).date()
    response = book_callback(http, case, yesterday, "10:00")
    assert response.status_code == 400
    assert "That call-back time has already passed" in response.text
    case.refresh_from_db()
    assert case.callback_at is None and case.status == CatiCaseStatus.HELD and case.attempts == 0


def test_a_callback_outside_the_window_is_refused_with_the_allowed_hours() -> None:
    set_policy(window_profile=CLOSED_AT_23)
    case = make_case(due_at=timezone.now() - dt.timedelta(minutes=5))
    andrea = caller()
    hold(case, andrea, now=timezone.now())
    tomorrow = (timezone.now().astimezone(ROME) + dt.timedelta(days=1)).date()
    response = signed_in(andrea).post(
        f"/cati/case/{case.pk}/disposition/",
        {
            "disposition": "callback",
            "callback_date": tomorrow.isoformat(),
            "callback_time": "23:30",
        },
    )
    assert response.status_code == 400
    assert "23:30 is outside the hours the debtor may be called." in response.text
    assert "may be called 00:00-23:00 (Europe/Rome time)" in response.text
    case.refresh_from_db()
    assert case.callback_at is None and case.status == CatiCaseStatus.HELD


def test_a_callback_without_a_time_is_refused() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    response = http.post(f"/cati/case/{case.pk}/disposition/", {"disposition": "callback"})
    assert response.status_code == 400
    assert "Give the date and the time the debtor asked to be called back." in response.text


def test_a_valid_callback_is_booked_in_the_debtors_time() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    tomorrow = (timezone.now().astimezone(ROME) + dt.timedelta(days=1)).date()
    response = http.post(
        f"/cati/case/{case.pk}/disposition/",
        {
            "disposition": "callback",
            "callback_date": tomorrow.isoformat(),
            "callback_time": "18:00",
            "note": "after work",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.callback_at == dt.datetime.combine(tomorrow, dt.time(18), tzinfo=ROME)
    assert case.due_at == case.callback_at and case.callback_note == "after work"


def test_a_case_another_caller_now_holds_is_refused() -> None:
    case = due_case()
    andrea, sara = caller("andrea"), caller("sara")
    http = signed_in(andrea)
    http.post("/cati/next/")
    # Andrea's lease ran out and Sara took the case.
    CatiCase.objects.filter(pk=case.pk).update(held_by=sara)
    for url, data in (
        (f"/cati/case/{case.pk}/answers/", {"nps": "9", "action": "complete"}),
        (f"/cati/case/{case.pk}/disposition/", {"disposition": "no_answer"}),
    ):
        response = http.post(url, data)
        assert response.status_code == 409
        assert "Another caller holds this case now. Nothing was saved." in response.text
    assert not Response.objects.exists()
    assert not CallAttempt.objects.filter(disposition__isnull=False).exists()
    assert http.post(f"/cati/case/{case.pk}/heartbeat/").status_code == 409
    assert http.get(f"/cati/case/{case.pk}/").status_code == 302


def test_answers_keyed_after_the_hold_ran_out_are_kept_when_nobody_took_the_case() -> None:
    """A long call outlived the hold: the debtor's answers are not thrown away, and the call
    counts once."""
    case = due_case()
    andrea = caller("andrea")
    http = signed_in(andrea)
    http.post("/cati/next/")
    later = timezone.now() + dt.timedelta(minutes=11)
    assert cati_leases_expire(now=later) == 1
    case.refresh_from_db()
    assert (case.status, case.attempts) == (CatiCaseStatus.QUEUED, 1)

    saved = http.post(
        f"/cati/case/{case.pk}/answers/", {"nps": "7", "reason": "ok", "action": "complete"}
    )
    assert saved.status_code == 302
    assert Response.objects.get().score == 7
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.DONE and case.final_disposition.code == "complete"
    assert case.attempts == 1
    lost = CallAttempt.objects.get(case=case, lease_lost=True)
    assert "saved it afterwards" in lost.note


def test_answers_keyed_after_the_hold_ran_out_are_refused_once_another_caller_has_it() -> None:
    case = due_case()
    andrea, sara = caller("andrea"), caller("sara")
    http = signed_in(andrea)
    http.post("/cati/next/")
    cati_leases_expire(now=timezone.now() + dt.timedelta(minutes=11))
    hold(case, sara, now=timezone.now() + dt.timedelta(hours=4))
    refused = http.post(f"/cati/case/{case.pk}/answers/", {"nps": "7", "action": "complete"})
    assert refused.status_code == 409
    assert "Another caller holds this case now. Nothing was saved." in refused.text
    assert not Response.objects.exists()


def test_someone_else_answering_brings_the_case_back_later_not_a_wrong_number() -> None:
    case = due_case()
    http = signed_in(caller())
    http.post("/cati/next/")
    page = http.get(f"/cati/case/{case.pk}/").text
    assert "<kbd>O</kbd> Someone else answered: the debtor is not there now" in page
    before = timezone.now()
    assert (
        http.post(f"/cati/case/{case.pk}/disposition/", {"disposition": "not_available"})
    ).status_code == 302
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.QUEUED and case.final_disposition is None
    assert case.attempts == 1
    assert case.due_at >= before + dt.timedelta(hours=3)


def test_the_heartbeat_extends_the_hold() -> None:
    case = due_case()
    andrea = caller()
    http = signed_in(andrea)
    http.post("/cati/next/")
    CatiCase.objects.filter(pk=case.pk).update(
        lease_expires_at=timezone.now() + dt.timedelta(minutes=1)
    )
    response = http.post(f"/cati/case/{case.pk}/heartbeat/")
    assert response.status_code == 200 and response.json()["held"] is True
    case.refresh_from_db()
    assert case.lease_expires_at - timezone.now() > dt.timedelta(minutes=9)


def test_nothing_to_call_says_when_the_next_case_is_due() -> None:
    make_case(due_at=timezone.now() + dt.timedelta(hours=2))
    http = signed_in(caller())
    response = http.post("/cati/next/", follow=True)
    assert "No case can be called right now: the cases due wait for their debtors' calling" in (
        response.text.replace("&#x27;", "'")
    )
    assert "Nothing is due yet. The next case is due" in response.text


def test_anonymous_visitors_are_sent_to_log_in() -> None:
    response = HttpClient().get("/cati/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/cati/")
    assert HttpClient().post("/cati/next/").status_code == 302


def test_a_client_viewer_cannot_open_the_console() -> None:
    viewer = user_with_role("viewer-acme", Role.CLIENT_VIEWER, client=acme())
    http = signed_in(viewer)
    assert http.get("/cati/").status_code == 403
    assert http.post("/cati/next/").status_code == 403
    assert http.get("/cati/supervisor/").status_code == 403


def test_a_user_without_a_role_cannot_open_the_console() -> None:
    from tests.factories import UserFactory

    assert signed_in(UserFactory(username="nobody")).get("/cati/").status_code == 403


def test_a_caller_cannot_open_the_supervisor_page_but_a_supervisor_can() -> None:
    assert signed_in(caller()).get("/cati/supervisor/").status_code == 403
    supervisor = user_with_role("paola", Role.SUPERVISOR)
    assert signed_in(supervisor).get("/cati/supervisor/").status_code == 200
    assert signed_in(supervisor).get("/cati/").status_code == 200


def test_a_spanish_debtor_hears_the_spanish_script() -> None:
    luz = ClientFactory.create(
        ref="luz-norte", name="Luz Norte", country="ES", default_language="es"
    )
    set_policy(luz, window_profile=ALWAYS_OPEN)
    case = make_case(
        due_at=timezone.now() - dt.timedelta(minutes=1),
        client=luz,
        zones="Europe/Madrid",
        language="es",
        country="ES",
        phone="+34612345678",
    )
    andrea = caller()
    hold(case, andrea, now=timezone.now())
    html = signed_in(andrea).get(f"/cati/case/{case.pk}/").text
    assert "Le llamo de parte de Luz Norte" in html
    assert "Nada probable" in html and "Europe/Madrid" in html and "Español" in html


@pytest.mark.parametrize(
    ("language", "hour", "greeting"),
    [
        ("it", 9, "Buongiorno"),
        ("it", 13, "Buongiorno"),
        ("it", 17, "Buonasera"),
        ("es", 10, "Buenos días"),
        ("es", 16, "Buenas tardes"),
        ("es", 20, "Buenas noches"),
        ("en", 18, "Hello"),
    ],
)
def test_the_script_greets_for_the_debtors_time_of_day(language, hour, greeting) -> None:
    local = dt.datetime(2026, 11, 23, hour, 30, tzinfo=ROME)
    assert _greeting(local, language) == greeting


def test_the_script_says_the_date_as_people_say_it() -> None:
    day = dt.date(2026, 11, 23)
    assert _spoken_date(day, "es") == "23 de noviembre"
    assert _spoken_date(day, "it") == "23 novembre"
    assert _spoken_date(day, "en") == "November 23"
