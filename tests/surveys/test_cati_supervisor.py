"""The supervisor's CATI page: the queue by state, who is working, completes per hour, and the
AAPOR rates per client and per caller, checked against values worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.utils import timezone
from pytest import approx

from collections_link.models import Role
from surveys.cati_selectors import (
    AaporCounts,
    AaporRates,
    aapor_counts_by_caller,
    aapor_counts_by_client,
    aapor_rates,
    caller_productivity,
    cati_queue_counts,
)
from surveys.models import CallAttempt, CatiCase, CatiCaseStatus, Disposition
from tests.factories import ClientFactory, OperatorFactory, user_with_role
from tests.surveys.cati_support import ROME, acme, caller, ensure_seed, make_case, set_policy

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 17)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=ROME)


@pytest.fixture(autouse=True)
def _seeded():
    ensure_seed()
    set_policy()


def closed_case(
    client, code: str, user, started: dt.datetime, *, earlier: list | None = None
) -> CatiCase:
    """A case closed with `code`, recorded by `user` on a call at `started` (after the calls
    in `earlier`, each (code, user, time))."""
    case = make_case(due_at=started - dt.timedelta(hours=1), client=client)
    for e_code, e_user, e_at in earlier or []:
        CallAttempt.objects.create(
            case=case, caller=e_user, started_at=e_at, ended_at=e_at + dt.timedelta(minutes=2),
            disposition=Disposition.objects.get(code=e_code),
        )  # fmt: skip
    disposition = Disposition.objects.get(code=code)
    CallAttempt.objects.create(
        case=case, caller=user, started_at=started, ended_at=started + dt.timedelta(minutes=5),
        disposition=disposition,
    )  # fmt: skip
    CatiCase.objects.filter(pk=case.pk).update(
        status=CatiCaseStatus.DONE,
        final_disposition=disposition,
        closed_at=started + dt.timedelta(minutes=5),
        attempts=1 + len(earlier or []),
    )
    return case


@pytest.fixture
def outcomes():
    """Acme Energia's closed cases, by caller, with their AAPOR classes:

    andrea: complete x3 (I), do_not_call (R), no_answer x2 (UH)
    sara:   complete (I), partial (P), break_off (R), callback (NC, attempts used up),
            language_barrier (O), wrong_number (UO), not_in_service (NE)
    Acme totals: I=4 P=1 R=2 NC=1 O=1 UH=2 UO=1 NE=1 (13 cases).
    """
    client = acme()
    andrea, sara = caller("andrea"), caller("sara")
    for minute, code in enumerate(
        ["complete", "complete", "complete", "do_not_call", "no_answer", "no_answer"]
    ):
        # Andrea's calls run from 10:00 to 12:00 (the last one ends at 12:00).
        start = at(10) + dt.timedelta(minutes=23 * minute) if minute < 5 else at(11, 55)
        closed_case(client, code, andrea, start)
    sara_codes = [
        "complete",
        "partial",
        "break_off",
        "callback",
        "language_barrier",
        "wrong_number",
        "not_in_service",
    ]
    for minute, code in enumerate(sara_codes):
        # Sara's last disposition decides, even after Andrea's earlier no-answer on the case.
        closed_case(
            client,
            code,
            sara,
            at(14) + dt.timedelta(minutes=10 * minute),
            earlier=[("no_answer", andrea, at(9, 30))],
        )
    return client, andrea, sara


def test_aapor_counts_and_rates_per_client_by_hand(outcomes) -> None:
    client, _, _ = outcomes
    # Not counted: a case still queued, and one closed by a web answer (no final disposition).
    make_case(due_at=at(9), client=client)
    web = make_case(due_at=at(9), client=client)
    CatiCase.objects.filter(pk=web.pk).update(status=CatiCaseStatus.DONE, closed_at=at(12))

    counts = aapor_counts_by_client()[client.pk]
    assert counts == AaporCounts(I=4, P=1, R=2, NC=1, O=1, UH=2, UO=1, NE=1)
    # Denominator without NE: (4+1) + (2+1+1) + (2+1) = 12.
    assert aapor_rates(counts) == AaporRates(
        RR1=approx(4 / 12),  # 0.333
        RR2=approx(5 / 12),  # 0.417
        COOP1=approx(4 / 8),  # I / (I+P+R+O) = 4 / (5+2+1)
        REF1=approx(2 / 12),  # 0.167
        CON1=approx(8 / 12),  # (I+P+R+O) / (that + NC + UH + UO) = 8 / (8+1+3)
    )


def test_aapor_rates_per_caller_by_hand(outcomes) -> None:
    _, andrea, sara = outcomes
    by_caller = aapor_counts_by_caller()
    assert by_caller[andrea.pk] == AaporCounts(I=3, R=1, UH=2)
    assert by_caller[sara.pk] == AaporCounts(I=1, P=1, R=1, NC=1, O=1, UO=1, NE=1)
    # Andrea: denominator 3 + 1 + 2 = 6; COOP1 = 3 / (3+1); CON1 = (3+1) / (4+2).
    assert aapor_rates(by_caller[andrea.pk]) == AaporRates(
        RR1=approx(3 / 6), RR2=approx(3 / 6), COOP1=approx(3 / 4), REF1=approx(1 / 6),
        CON1=approx(4 / 6),
    )  # fmt: skip
    # Sara: denominator (1+1) + (1+1+1) + (0+1) = 6; COOP1 = 1 / (2+1+1); CON1 = 4 / (4+1+1).
    assert aapor_rates(by_caller[sara.pk]) == AaporRates(
        RR1=approx(1 / 6), RR2=approx(2 / 6), COOP1=approx(1 / 4), REF1=approx(1 / 6),
        CON1=approx(4 / 6),
    )  # fmt: skip


def test_rates_with_nothing_to_divide_are_none() -> None:
    rates = aapor_rates(AaporCounts(NE=3))
    assert rates.RR1 is None and rates.COOP1 is None and rates.CON1 is None


def test_completes_per_hour_per_caller(outcomes) -> None:
    rows = {r.username: r for r in caller_productivity(since=at(0), until=at(23), tz=ROME)}
    # Andrea: 6 calls from 10:00 to 12:00 (the 11:55 call ends 12:00) plus the 7 no-answers at
    # 09:30 on Sara's cases: 13 calls, 09:30 to 12:00 = 2.5 hours, 3 completes: 1.2 an hour.
    assert rows["andrea"].calls == 13
    assert rows["andrea"].completes == 3
    assert rows["andrea"].hours == pytest.approx(2.5)
    assert rows["andrea"].completes_per_hour == pytest.approx(1.2)
    # Sara: 7 calls from 14:00 to 15:05 (the 15:00 call ends 15:05): 1 complete in 13/12 hours.
    assert rows["sara"].completes_per_hour == pytest.approx(12 / 13)


def test_queue_counts_by_state() -> None:
    now = at(10)
    make_case(due_at=now - dt.timedelta(hours=1))
    make_case(due_at=now - dt.timedelta(minutes=1))
    make_case(due_at=now + dt.timedelta(hours=3))
    booked = make_case(due_at=now + dt.timedelta(hours=8))
    CatiCase.objects.filter(pk=booked.pk).update(callback_at=now + dt.timedelta(hours=8))
    held = make_case(due_at=now - dt.timedelta(hours=2))
    CatiCase.objects.filter(pk=held.pk).update(
        status=CatiCaseStatus.HELD, held_by=caller(), lease_expires_at=now + dt.timedelta(minutes=5)
    )
    counts = cati_queue_counts(now=now)
    assert (counts.due_now, counts.waiting, counts.callbacks_booked, counts.held) == (2, 2, 1, 1)
    assert counts.held_lease_expired == 0
    assert cati_queue_counts(now=now + dt.timedelta(minutes=6)).held_lease_expired == 1


def test_the_supervisor_page_shows_the_numbers(outcomes) -> None:
    other = ClientFactory.create(ref="telco-uno", name="Telco Uno", country="IT")
    chiara = OperatorFactory.create(ref="op-chiara", name="Chiara Colombo", client=other)
    make_case(due_at=timezone.now() - dt.timedelta(minutes=1), client=other, operator=chiara)
    supervisor = user_with_role("paola", Role.SUPERVISOR)
    http = HttpClient()
    http.force_login(supervisor)
    page = http.get("/cati/supervisor/", {"since": "2026-11-17", "until": "2026-11-17"})
    html = page.text
    assert page.status_code == 200
    assert "Acme Energia" in html
    for value in ("0.333", "0.417", "0.500", "0.167", "0.667"):
        assert value in html
    assert "andrea" in html and "1.20" in html  # completes per hour
    assert "Due now" in html

    only_telco = http.get(
        "/cati/supervisor/", {"client": "telco-uno", "since": "2026-11-17", "until": "2026-11-17"}
    )
    assert "No case closed in this period." in only_telco.text

    export = http.get(
        "/cati/supervisor/", {"since": "2026-11-17", "until": "2026-11-17", "export": "csv"}
    )
    lines = export.content.decode().splitlines()
    assert lines[0].startswith("group,name,I,P,R,NC,O,UH,UO,NE,RR1,RR2,COOP1,REF1,CON1")
    assert "client,Acme Energia,4,1,2,1,1,2,1,1,0.3333,0.4167,0.5000,0.1667,0.6667,,," in lines
