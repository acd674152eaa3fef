"""The US call ledger: survey calls count with collection calls, 7 in 7 days, and none within
7 days after a conversation unless the debtor consented on that call. Counted by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from collections_link.models import Contact, ContactChannel, Outcome
from surveys.channels.cati import cati_case_claim
from surveys.ledger import call_ledger_check
from surveys.models import CallAttempt, CatiCase, CatiCaseStatus, Disposition
from tests.factories import (
    AccountFactory,
    ClientFactory,
    ContactFactory,
    DebtorFactory,
    OperatorFactory,
)
from tests.surveys.cati_support import NEW_YORK, caller, ensure_seed, make_case, set_policy

pytestmark = pytest.mark.django_db

# Monday 16 November 2026, 12:00 in New York.
NOW = dt.datetime(2026, 11, 16, 12, 0, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def _seeded():
    ensure_seed()


@pytest.fixture
def telco():
    client = ClientFactory.create(
        ref="telco-uno", name="Telco Uno", country="US", default_language="en"
    )
    set_policy(client, window_country="US", us_call_ledger=True, consent_required_countries=[])
    return client


@pytest.fixture
def account(telco):
    debtor = DebtorFactory.create(
        client=telco, phone_e164="+12125550143", country="US", language="en"
    )
    return AccountFactory.create(client=telco, debtor=debtor, currency="USD")


def collection_call(
    account,
    at: dt.datetime,
    *,
    outcome: str = Outcome.NO_ANSWER,
    consent=None,
    channel=ContactChannel.PHONE,
):
    return ContactFactory.create(
        client=account.client,
        account=account,
        operator=OperatorFactory.create(
            ref="op-chiara", name="Chiara Colombo", client=account.client
        ),
        started_at=at,
        ended_at=at + dt.timedelta(minutes=3),
        outcome=outcome,
        survey_consent=consent,
        channel=channel,
    )


def survey_call(
    case: CatiCase,
    at: dt.datetime,
    code: str | None,
    *,
    lease_lost: bool = False,
    ended: bool = True,
):
    return CallAttempt.objects.create(
        case=case,
        caller=caller("andrea"),
        started_at=at,
        ended_at=at + dt.timedelta(minutes=2) if ended else None,
        disposition=Disposition.objects.get(code=code) if code else None,
        lease_lost=lease_lost,
    )


def test_the_seventh_call_in_seven_days_is_allowed_and_the_eighth_is_not(account) -> None:
    # Six calls without a conversation: 6.5, 5, 4, 3, 2 and 1 days ago.
    days_ago = [6.5, 5, 4, 3, 2, 1]
    for d in days_ago:
        collection_call(account, NOW - dt.timedelta(days=d))
    seventh = call_ledger_check(account_id=account.pk, now=NOW)
    assert seventh.allowed and seventh.calls_in_window == 6

    collection_call(account, NOW - dt.timedelta(hours=2))  # the 7th is placed
    eighth = call_ledger_check(account_id=account.pk, now=NOW)
    assert not eighth.allowed
    assert eighth.calls_in_window == 7
    # The oldest call (6.5 days ago) leaves the window 7 days after it: in half a day.
    assert eighth.allowed_from == NOW + dt.timedelta(days=0.5)
    assert "7 in 7 days" in eighth.reason


def test_a_call_exactly_seven_days_old_has_left_the_window(account) -> None:
    collection_call(account, NOW - dt.timedelta(days=7))
    for d in [6, 5, 4, 3, 2, 1]:
        collection_call(account, NOW - dt.timedelta(days=d))
    assert call_ledger_check(account_id=account.pk, now=NOW).calls_in_window == 6


def test_survey_calls_count_with_collection_calls(account, telco) -> None:
    # 4 collection calls + 3 survey calls = 7: an 8th is refused.
    for d in [6, 5, 4, 3]:
        collection_call(account, NOW - dt.timedelta(days=d))
    case = make_case(
        due_at=NOW - dt.timedelta(days=3),
        client=telco,
        account=account,
        zones="America/New_York",
        language="en",
        country="US",
    )
    survey_call(case, NOW - dt.timedelta(days=2), "no_answer")
    survey_call(case, NOW - dt.timedelta(days=1, hours=20), "busy")
    survey_call(case, NOW - dt.timedelta(days=1), None, lease_lost=True)  # may have rung
    survey_call(case, NOW - dt.timedelta(hours=5), None)  # released without dialling
    decision = call_ledger_check(account_id=account.pk, now=NOW)
    kinds = [c.kind for c in decision.calls]
    assert kinds.count("collection") == 5  # the contact the case rates is a call too
    assert kinds.count("survey") == 3
    assert not decision.allowed


def test_home_visits_are_not_calls(account) -> None:
    for d in [6, 5, 4, 3, 2, 1, 0.5]:
        collection_call(account, NOW - dt.timedelta(days=d), channel=ContactChannel.HOME_VISIT)
    assert call_ledger_check(account_id=account.pk, now=NOW).allowed


def test_a_conversation_three_days_ago_blocks_a_survey_call_for_seven_days(account) -> None:
    talked = NOW - dt.timedelta(days=3)
    collection_call(account, talked, outcome=Outcome.PROMISE_TO_PAY, consent=False)
    decision = call_ledger_check(account_id=account.pk, now=NOW)
    assert not decision.allowed
    assert decision.allowed_from == talked + dt.timedelta(days=7)
    assert "conversation" in decision.reason
    assert call_ledger_check(account_id=account.pk, now=talked + dt.timedelta(days=7)).allowed


def test_consent_given_on_that_call_allows_the_survey_call(account) -> None:
    collection_call(
        account, NOW - dt.timedelta(days=3), outcome=Outcome.PROMISE_TO_PAY, consent=True
    )
    assert call_ledger_check(account_id=account.pk, now=NOW).allowed


def test_a_later_conversation_without_consent_still_blocks(account) -> None:
    collection_call(
        account, NOW - dt.timedelta(days=4), outcome=Outcome.PROMISE_TO_PAY, consent=True
    )
    later = NOW - dt.timedelta(days=1)
    collection_call(account, later, outcome=Outcome.DISPUTE, consent=None)
    decision = call_ledger_check(account_id=account.pk, now=NOW)
    assert not decision.allowed and decision.allowed_from == later + dt.timedelta(days=7)


def test_a_survey_conversation_blocks_unless_the_debtor_asked_for_the_call_back(
    account, telco
) -> None:
    case = make_case(
        due_at=NOW - dt.timedelta(days=5),
        client=telco,
        account=account,
        zones="America/New_York",
        language="en",
        country="US",
        contact_started=NOW - dt.timedelta(days=10),
    )
    survey_call(case, NOW - dt.timedelta(days=2), "callback")
    assert call_ledger_check(account_id=account.pk, now=NOW).allowed
    survey_call(case, NOW - dt.timedelta(days=1), "refusal")
    assert not call_ledger_check(account_id=account.pk, now=NOW).allowed


def test_the_queue_defers_a_us_case_until_the_ledger_allows(account, telco) -> None:
    # The contact the survey rates was a conversation 3 days ago without survey consent.
    talked = NOW - dt.timedelta(days=3)
    case = make_case(
        due_at=NOW - dt.timedelta(hours=1),
        client=telco,
        account=account,
        zones="America/New_York",
        language="en",
        country="US",
        contact_started=talked,
        outcome=Outcome.PROMISE_TO_PAY,
    )
    Contact.objects.filter(pk=case.invitation.contact_id).update(survey_consent=False)
    assert cati_case_claim(caller=caller(), now=NOW) is None
    case.refresh_from_db()
    assert case.status == CatiCaseStatus.QUEUED
    # 7 days after the conversation (Friday 20 November 09:00 New York), inside 08:00-21:00.
    assert case.due_at == talked + dt.timedelta(days=7)
    assert cati_case_claim(caller=caller(), now=case.due_at) == case


def test_the_ledger_is_off_for_clients_without_it(account, telco) -> None:
    set_policy(telco, window_country="US", us_call_ledger=False, consent_required_countries=[])
    talked = NOW - dt.timedelta(days=3)
    case = make_case(
        due_at=NOW - dt.timedelta(hours=1),
        client=telco,
        account=account,
        zones="America/New_York",
        language="en",
        country="US",
        contact_started=talked,
    )
    Contact.objects.filter(pk=case.invitation.contact_id).update(survey_consent=False)
    assert cati_case_claim(caller=caller(), now=NOW) == case
