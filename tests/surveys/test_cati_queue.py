"""The callers' queue: who gets which case, when, and what happens when a caller vanishes."""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest
from django.db import connection

from collections_link.models import Operator
from surveys.cati_demo import cati_demo_work
from surveys.channels.cati import (
    CaseNotHeld,
    cati_case_claim,
    cati_case_release,
    cati_leases_expire,
)
from surveys.channels.cati_record import (
    cati_record_disposition,
)
from surveys.models import (
    CallAttempt,
    CatiCase,
    CatiCaseStatus,
    Invitation,
    InvitationStatus,
    OptOut,
    OptOutEvent,
    Response,
)
from tests.factories import ClientFactory, OperatorFactory
from tests.surveys.cati_support import (
    ALWAYS_OPEN,
    ROME,
    acme,
    caller,
    ensure_seed,
    giulia,
    make_case,
    set_policy,
)

pytestmark = pytest.mark.django_db

TUESDAY = dt.date(2026, 11, 17)


def rome(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ROME)


@pytest.fixture(autouse=True)
def _seeded():
    ensure_seed()
    set_policy()


def test_a_debtor_at_2030_on_a_tuesday_in_rome_waits_until_0900_on_wednesday() -> None:
    case = make_case(due_at=rome(TUESDAY, 18))
    andrea = caller()

    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 20, 30)) is None

    case.refresh_from_db()
    assert case.status == CatiCaseStatus.QUEUED
    assert case.due_at == rome(TUESDAY + dt.timedelta(days=1), 9)
    assert not CallAttempt.objects.exists()  # nobody dialled
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY + dt.timedelta(days=1), 8, 59)) is None
    offered = cati_case_claim(caller=andrea, now=rome(TUESDAY + dt.timedelta(days=1), 9))
    assert offered is not None and offered.pk == case.pk


def test_on_a_friday_evening_the_case_waits_for_saturday_at_1000() -> None:
    friday = dt.date(2026, 11, 20)
    case = make_case(due_at=rome(friday, 19))
    andrea = caller()

    assert cati_case_claim(caller=andrea, now=rome(friday, 20, 30)) is None

    case.refresh_from_db()
    assert case.due_at == rome(friday + dt.timedelta(days=1), 10)
    assert cati_case_claim(caller=andrea, now=rome(friday + dt.timedelta(days=1), 9, 30)) is None
    assert cati_case_claim(caller=andrea, now=rome(friday + dt.timedelta(days=1), 10)) == case


def test_a_callback_for_1800_is_offered_first_at_1800_and_not_before() -> None:
    booked = make_case(due_at=rome(TUESDAY, 9))
    older_a = make_case(due_at=rome(TUESDAY, 9, 10))
    older_b = make_case(due_at=rome(TUESDAY, 9, 20))
    andrea, sara = caller("andrea"), caller("sara")
    # The debtor answered at 09:30 and asked to be called back at 18:00.
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 9, 30)) == booked
    result = cati_record_disposition(
        case_id=booked.pk,
        caller=andrea,
        code="callback",
        note="Call me after work",
        callback_at=rome(TUESDAY, 18),
        now=rome(TUESDAY, 9, 31),
    )
    assert not result.closed and result.due_at == rome(TUESDAY, 18)

    # At 17:59 the two older cases are offered; the call-back is not.
    assert cati_case_claim(caller=sara, now=rome(TUESDAY, 17, 59)) == older_a
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 17, 59)) == older_b
    cati_case_release(case_id=older_a.pk, caller=sara, now=rome(TUESDAY, 17, 59))
    # At 18:00 the call-back comes first, although older_a has waited since 09:10.
    offered = cati_case_claim(caller=sara, now=rome(TUESDAY, 18))
    assert offered == booked
    assert offered.callback_note == "Call me after work"


def test_ten_callers_asking_for_the_next_case_at_the_same_moment() -> None:
    now = rome(TUESDAY, 10)
    cases = [make_case(due_at=now - dt.timedelta(minutes=i)) for i in range(12)]
    callers = [caller(f"caller{i}") for i in range(10)]
    got = [cati_case_claim(caller=c, now=now) for c in callers]
    assert len({case.pk for case in got if case}) == 10
    assert CatiCase.objects.filter(status=CatiCaseStatus.HELD).count() == 10
    assert {c.pk for c in cases} > {case.pk for case in got if case}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_callers_in_threads_on_postgresql_get_ten_different_cases() -> None:
    ensure_seed()
    set_policy()
    now = rome(TUESDAY, 10)
    for i in range(12):
        make_case(due_at=now - dt.timedelta(minutes=i))
    callers = [caller(f"caller{i}") for i in range(10)]
    barrier = threading.Barrier(len(callers))
    results: dict[int, int | None] = {}
    errors: list[BaseException] = []

    def work(user) -> None:
        try:
            barrier.wait(timeout=10)
            case = cati_case_claim(caller=user, now=now)
            results[user.pk] = case.pk if case else None
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in callers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert None not in results.values()
    assert len(set(results.values())) == 10
    held = dict(CatiCase.objects.filter(status=CatiCaseStatus.HELD).values_list("pk", "held_by_id"))
    assert held == {case_id: user_id for user_id, case_id in results.items()}
    # Each claim stamped the start of its call on its case.
    assert CatiCase.objects.filter(status=CatiCaseStatus.HELD, last_attempt_at=now).count() == 10


def test_a_caller_who_vanishes_loses_the_case_and_the_attempt_is_counted() -> None:
    case = make_case(due_at=rome(TUESDAY, 10))
    andrea, sara = caller("andrea"), caller("sara")
    claimed_at = rome(TUESDAY, 10, 5)
    assert cati_case_claim(caller=andrea, now=claimed_at) == case

    # Nine minutes later the lease still holds: nobody else can take it.
    assert cati_leases_expire(now=claimed_at + dt.timedelta(minutes=9)) == 0
    assert cati_case_claim(caller=sara, now=claimed_at + dt.timedelta(minutes=9)) is None

    # Andrea closed the browser: eleven minutes on, the lease has run out.
    assert cati_leases_expire(now=claimed_at + dt.timedelta(minutes=11)) == 1
    case.refresh_from_db()
    attempt = CallAttempt.objects.get(case=case)
    assert case.status == CatiCaseStatus.QUEUED
    assert case.held_by is None
    assert case.attempts == 1
    assert attempt.lease_lost and attempt.caller == andrea
    # Due again after the no-answer delay (3 hours) from when the loss was noticed.
    assert case.due_at == claimed_at + dt.timedelta(minutes=11, hours=3)
    with pytest.raises(CaseNotHeld, match="ran out"):
        cati_record_disposition(
            case_id=case.pk,
            caller=andrea,
            code="no_answer",
            now=claimed_at + dt.timedelta(minutes=12),
        )
    assert cati_case_claim(caller=sara, now=case.due_at) == case


def test_an_operator_who_is_also_a_caller_never_gets_a_contact_they_made() -> None:
    client = acme()
    sara_op = OperatorFactory.create(ref="op-sara-marino", name="Sara Marino", client=client)
    sara = caller("sara")
    Operator.objects.filter(pk=sara_op.pk).update(user=sara)
    now = rome(TUESDAY, 10)
    hers = make_case(due_at=now - dt.timedelta(hours=1), client=client, operator=sara_op)
    others = make_case(due_at=now - dt.timedelta(minutes=5), client=client, operator=giulia(client))

    assert cati_case_claim(caller=sara, now=now) == others
    cati_record_disposition(case_id=others.pk, caller=sara, code="wrong_number", now=now)
    # Her own contact is due and nobody holds it, yet she is never offered it.
    assert cati_case_claim(caller=sara, now=now + dt.timedelta(minutes=1)) is None
    assert cati_case_claim(caller=caller("andrea"), now=now + dt.timedelta(minutes=1)) == hers


def test_no_answer_retries_three_hours_later_and_the_fourth_attempt_closes_the_case() -> None:
    case = make_case(due_at=rome(TUESDAY, 9))
    andrea = caller()
    # 09:10 (morning) -> 12:10 (afternoon) -> 15:10 -> Wednesday 09:00, then the 4th closes it.
    expected_due = [
        rome(TUESDAY, 12, 10),
        rome(TUESDAY, 17),  # 15:10 is afternoon like the 12:10 attempt: moved to the evening
        rome(TUESDAY + dt.timedelta(days=1), 9),  # 20:00 is past the window: next opening
    ]
    when = rome(TUESDAY, 9, 10)
    for n, due in enumerate(expected_due, start=1):
        assert cati_case_claim(caller=andrea, now=when) == case
        result = cati_record_disposition(case_id=case.pk, caller=andrea, code="no_answer", now=when)
        case.refresh_from_db()
        assert case.attempts == n
        assert result.due_at == due, n
        assert cati_case_claim(caller=andrea, now=due - dt.timedelta(minutes=1)) is None
        when = due
    assert cati_case_claim(caller=andrea, now=when) == case
    result = cati_record_disposition(case_id=case.pk, caller=andrea, code="no_answer", now=when)
    case.refresh_from_db()
    assert result.closed
    assert case.status == CatiCaseStatus.DONE and case.attempts == 4
    assert case.final_disposition.code == "no_answer"
    assert case.invitation.status == InvitationStatus.EXPIRED
    assert cati_case_claim(caller=andrea, now=when + dt.timedelta(days=1)) is None


def test_a_busy_line_is_tried_again_after_15_minutes_not_3_hours() -> None:
    case = make_case(due_at=rome(TUESDAY, 9))
    andrea = caller()
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 10)) == case
    result = cati_record_disposition(
        case_id=case.pk, caller=andrea, code="busy", now=rome(TUESDAY, 10, 1)
    )
    assert result.due_at == rome(TUESDAY, 10, 16)
    case.refresh_from_db()
    assert case.attempts == 1  # busy counts as an attempt


def test_a_soft_refusal_waits_a_week_and_moves_to_another_part_of_the_day() -> None:
    case = make_case(due_at=rome(TUESDAY, 9))
    andrea = caller()
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 10)) == case
    result = cati_record_disposition(
        case_id=case.pk, caller=andrea, code="refusal", now=rome(TUESDAY, 10, 2)
    )
    # A week later is Tuesday 24 at 10:02, the morning again: moved to the afternoon at 12:00.
    assert result.due_at == rome(dt.date(2026, 11, 24), 12)


def test_no_attempt_after_the_last_day_of_the_case() -> None:
    set_policy(cati_max_days=10)
    case = make_case(due_at=rome(TUESDAY, 9))
    andrea = caller()
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 10)) == case
    cati_record_disposition(case_id=case.pk, caller=andrea, code="no_answer", now=rome(TUESDAY, 10))
    # Six days later (Monday) a soft refusal would need a call 7 days on, past the 10-day limit.
    day6 = rome(TUESDAY + dt.timedelta(days=6), 14)
    CatiCase.objects.filter(pk=case.pk).update(due_at=day6)
    assert cati_case_claim(caller=andrea, now=day6) == case
    result = cati_record_disposition(case_id=case.pk, caller=andrea, code="refusal", now=day6)
    case.refresh_from_db()
    assert result.closed and case.status == CatiCaseStatus.DONE
    assert case.final_disposition.code == "refusal"
    # The invitation lives as long as the case may be called (it was 7 days from the due time).
    assert case.invitation.expires_at == rome(TUESDAY, 10) + dt.timedelta(days=10)


def test_do_not_call_is_final_for_every_client() -> None:
    phone = "+393471112233"
    acme_case = make_case(due_at=rome(TUESDAY, 9), phone=phone)
    luz = ClientFactory.create(ref="luz-norte", name="Luz Norte", country="ES")
    set_policy(luz, window_profile=ALWAYS_OPEN)
    luz_case = make_case(
        due_at=rome(TUESDAY, 9, 30),
        client=luz,
        operator=OperatorFactory.create(ref="op-lucia", name="Lucía García", client=luz),
        phone=phone,
    )
    andrea = caller()
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 10)) == acme_case
    result = cati_record_disposition(
        case_id=acme_case.pk,
        caller=andrea,
        code="do_not_call",
        note="Never again",
        now=rome(TUESDAY, 10, 1),
    )
    assert result.closed
    acme_case.refresh_from_db()
    luz_case.refresh_from_db()
    assert acme_case.final_disposition.code == "do_not_call"
    assert luz_case.status == CatiCaseStatus.DONE
    assert luz_case.invitation.status == InvitationStatus.CANCELLED
    assert OptOut.objects.get(phone_e164=phone).active
    assert OptOutEvent.objects.get().source == OptOutEvent.Source.CATI_DNC
    assert (
        cati_case_claim(caller=caller("sara"), now=rome(TUESDAY + dt.timedelta(days=1), 11)) is None
    )


def test_a_case_for_a_number_opted_out_elsewhere_is_closed_not_offered() -> None:
    phone = "+393479998877"
    case = make_case(due_at=rome(TUESDAY, 9), phone=phone)
    # Opted out by SMS after the case was queued, with the case already claimed by a stale
    # worker: the claim's own check closes it.
    OptOut.objects.create(phone_e164=phone, active=True)
    assert cati_case_claim(caller=caller(), now=rome(TUESDAY, 10)) is None
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.DONE
    assert case.invitation.status == InvitationStatus.CANCELLED


def test_a_caller_holds_one_case_at_a_time() -> None:
    first = make_case(due_at=rome(TUESDAY, 9))
    make_case(due_at=rome(TUESDAY, 9, 5))
    andrea = caller()
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 10)) == first
    # Asking again (a reload, a double press) gives back the same case, not a second one.
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 10, 1)) == first
    assert CatiCase.objects.filter(status=CatiCaseStatus.HELD).count() == 1


def test_a_released_case_is_not_an_attempt() -> None:
    case = make_case(due_at=rome(TUESDAY, 9))
    andrea = caller()
    assert cati_case_claim(caller=andrea, now=rome(TUESDAY, 10)) == case
    assert cati_case_release(case_id=case.pk, caller=andrea, now=rome(TUESDAY, 10, 1))
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.QUEUED and case.attempts == 0
    assert case.first_attempt_at is None
    assert cati_case_claim(caller=caller("sara"), now=rome(TUESDAY, 10, 2)) == case


def test_an_invitation_expired_before_any_call_is_closed() -> None:
    case = make_case(due_at=rome(TUESDAY, 9))
    assert cati_case_claim(caller=caller(), now=rome(TUESDAY, 9) + dt.timedelta(days=8)) is None
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.DONE
    assert case.invitation.status == InvitationStatus.EXPIRED


def test_a_queue_full_of_expired_invitations_still_gives_the_live_case() -> None:
    # Thirty cases nobody called before their invitations expired, ahead of one live case.
    for minute in range(30):
        stale = make_case(due_at=rome(TUESDAY, 9, minute))
        Invitation.objects.filter(pk=stale.invitation_id).update(expires_at=rome(TUESDAY, 9, 40))
    live = make_case(due_at=rome(TUESDAY, 9, 45))
    assert cati_case_claim(caller=caller(), now=rome(TUESDAY, 10)) == live
    assert CatiCase.objects.filter(status=CatiCaseStatus.DONE).count() == 30
    assert Invitation.objects.filter(status=InvitationStatus.EXPIRED).count() == 30


def test_the_demo_callers_work_the_queue_through_the_real_services() -> None:
    now = rome(TUESDAY, 11)
    for minute in range(40):
        make_case(due_at=rome(TUESDAY, 9, minute))
    callers = [caller("caller1"), caller("caller2")]
    counts = cati_demo_work(
        now=now, callers=callers, rng=random.Random(7), score_for=lambda invitation: 8
    )
    assert sum(counts.values()) == 40
    done = CatiCase.objects.filter(status=CatiCaseStatus.DONE).count()
    queued = CatiCase.objects.filter(status=CatiCaseStatus.QUEUED).count()
    assert done + queued == 40 and not CatiCase.objects.filter(status=CatiCaseStatus.HELD).exists()
    interviews = counts.get("complete", 0) + counts.get("partial", 0)
    assert Response.objects.filter(channel="cati", score=8).count() == interviews > 0
    assert CallAttempt.objects.filter(disposition__isnull=False).count() == 40


def test_the_beat_task_returns_the_cases_of_callers_who_vanished() -> None:
    from django.utils import timezone

    from surveys.cati_tasks import cati_housekeeping_task

    set_policy(window_profile=ALWAYS_OPEN)
    now = timezone.now()
    case = make_case(due_at=now - dt.timedelta(hours=1))
    assert cati_case_claim(caller=caller(), now=now - dt.timedelta(minutes=30)) == case
    stale = make_case(due_at=now - dt.timedelta(days=9))
    Invitation.objects.filter(pk=stale.invitation_id).update(expires_at=now - dt.timedelta(days=2))

    assert cati_housekeeping_task.apply().get() == {"leases_expired": 1, "cases_expired": 1}
    case.refresh_from_db()
    stale.refresh_from_db()
    assert case.status == CatiCaseStatus.QUEUED and case.attempts == 1
    assert stale.status == CatiCaseStatus.DONE


@pytest.mark.postgres
def test_the_claim_and_the_survey_page_read_run_as_prepared_statements() -> None:
    # Planning the claim costs more than running it; with Django's default connection
    # options psycopg prepares nothing, whatever the code asks. Callers feel the difference
    # at twenty at once.
    from surveys.channels.cati import (
        PG_CLAIM_SQL,
    )
    from surveys.page_state import _statement as page_statement
    from surveys.page_state import page_link

    case = make_case(due_at=rome(TUESDAY, 9))
    assert cati_case_claim(caller=caller(), now=rome(TUESDAY, 10)) == case
    assert page_link(case.invitation.token or "") is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = {" ".join(row[0].split()) for row in cursor.fetchall()}

    def head(sql: str) -> str:  # the statement up to its first parameter
        return " ".join(sql.split("%")[0].split())

    assert any(statement.startswith(head(PG_CLAIM_SQL)) for statement in prepared), prepared
    assert any(statement.startswith(head(page_statement())) for statement in prepared), prepared
