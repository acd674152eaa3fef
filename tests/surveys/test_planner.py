"""The planner: every contact ends with one decision, at a time that is right for the debtor."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from collections_link.models import Outcome
from surveys.models import (
    CatiCase,
    Invitation,
    InvitationStatus,
    OptOut,
    Policy,
    SmsMessage,
    SmsStatus,
    SuppressionReason,
)
from surveys.planner import contacts_plan, status_counts, suppression_counts
from surveys.policies import policy_cache_clear, policy_defaults, policy_validate
from tests.factories import AccountFactory, ClientFactory, ContactFactory, DebtorFactory

ROME = ZoneInfo("Europe/Rome")
MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_policies():
    policy_cache_clear()
    yield
    policy_cache_clear()


def rome_contact(start: dt.datetime, **kwargs):
    client = ClientFactory.create()
    debtor = DebtorFactory.create(client=client, phone_e164=kwargs.pop("phone", "+393331234567"))
    account = AccountFactory.create(client=client, debtor=debtor)
    return ContactFactory.create(
        client=client,
        account=account,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=5),
        **kwargs,
    )


def set_policy(**changes) -> Policy:
    values = {**policy_defaults(), **changes}
    policy, _ = Policy.objects.update_or_create(client=None, defaults=values)
    policy_cache_clear()
    return policy


def test_friday_evening_in_rome_goes_out_on_saturday_between_10_and_19() -> None:
    set_policy(delay_after_contact=dt.timedelta(hours=2))
    friday_1955 = dt.datetime(2026, 11, 20, 19, 50, tzinfo=ROME)
    contact = rome_contact(friday_1955)  # ends 19:55
    summary = contacts_plan(now=friday_1955 + dt.timedelta(minutes=6), seed=1)

    invitation = Invitation.objects.get(contact=contact)
    local = invitation.send_after.astimezone(ROME)
    # It should be Saturday 21 November, inside the Saturday window 10:00-19:00.
    assert summary.invited == 1
    assert invitation.status == InvitationStatus.SCHEDULED
    assert local.date() == dt.date(2026, 11, 21)
    assert dt.time(10, 0) <= local.time() < dt.time(19, 0)
    # The link lives 7 days from the send; the fallback to CATI comes 48 hours after it.
    assert invitation.expires_at - invitation.send_after == dt.timedelta(days=7)
    assert invitation.fallback_at - invitation.send_after == dt.timedelta(hours=48)
    assert len(invitation.token) >= 22


def test_nothing_is_planned_on_a_sunday_or_an_italian_holiday() -> None:
    set_policy(delay_after_contact=dt.timedelta(hours=1))
    # Saturday 5 December 2026, 18:30: +1 h is 19:30, closed; Sunday 6 closed; Monday 7 is the
    # eve of the Immacolata (Tuesday 8, a holiday), so it opens at 10:00.
    saturday = dt.datetime(2026, 12, 5, 18, 25, tzinfo=ROME)
    contact = rome_contact(saturday)
    contacts_plan(now=saturday + dt.timedelta(minutes=6), seed=2)
    local = Invitation.objects.get(contact=contact).send_after.astimezone(ROME)
    assert local.date() == dt.date(2026, 12, 7)
    assert dt.time(10, 0) <= local.time() < dt.time(19, 0)


@pytest.mark.parametrize("own_policy", [True, False], ids=["own ES policy", "agency default"])
def test_spanish_debtors_get_nothing_at_weekends(own_policy: bool) -> None:
    """Spain's hours for a Spanish client's debtors, also when the client has no policy of its
    own and the agency's default says IT."""
    client = ClientFactory.create(
        ref="luz-norte", name="Luz Norte", country="ES", default_language="es"
    )
    if own_policy:
        Policy.objects.create(client=client, **{**policy_defaults(), "window_country": "ES"})
    else:
        Policy.objects.create(client=None, **{**policy_defaults(), "window_country": "IT"})
    debtor = DebtorFactory.create(
        client=client, phone_e164="+34612345679", country="ES", language="es"
    )
    friday = dt.datetime(2026, 11, 20, 19, 55, tzinfo=MADRID)
    contact = ContactFactory.create(
        client=client,
        account=AccountFactory.create(client=client, debtor=debtor),
        started_at=friday,
        ended_at=friday + dt.timedelta(minutes=8),
    )
    contacts_plan(now=friday + dt.timedelta(minutes=9), seed=3)
    local = Invitation.objects.get(contact=contact).send_after.astimezone(MADRID)
    # 22:03 Friday is closed, Saturday and Sunday are closed: Monday from 09:00.
    assert local.date() == dt.date(2026, 11, 23)
    assert dt.time(9, 0) <= local.time() < dt.time(21, 0)


def test_a_us_number_is_contacted_only_when_every_possible_zone_allows() -> None:
    client = ClientFactory.create(
        ref="telco-uno", name="Telco Uno", country="US", default_language="en"
    )
    Policy.objects.create(
        client=client,
        **{**policy_defaults(), "window_country": "US", "consent_required_countries": []},
    )
    # A New York mobile number, a California address.
    debtor = DebtorFactory.create(
        client=client, phone_e164="+12125550143", country="US", region="CA", language="en"
    )
    start = dt.datetime(2026, 11, 18, 6, 0, tzinfo=LOS_ANGELES)  # 09:00 in New York
    contact = ContactFactory.create(
        client=client,
        account=AccountFactory.create(client=client, debtor=debtor),
        started_at=start - dt.timedelta(hours=2),
        ended_at=start - dt.timedelta(hours=2) + dt.timedelta(minutes=5),
    )
    contacts_plan(now=start, seed=4)
    invitation = Invitation.objects.get(contact=contact)
    assert set(invitation.time_zones.split()) >= {"America/New_York", "America/Los_Angeles"}
    send = invitation.send_after
    # 08:00-21:00 in both zones: from 11:00 New York time (08:00 in California).
    assert dt.time(8, 0) <= send.astimezone(LOS_ANGELES).time() < dt.time(21, 0)
    assert dt.time(8, 0) <= send.astimezone(NEW_YORK).time() < dt.time(21, 0)
    assert send.astimezone(NEW_YORK).time() >= dt.time(11, 0)


def test_two_contacts_with_one_debtor_within_30_days_give_one_invitation_even_across_clients():
    set_policy()
    acme = ClientFactory.create()
    telco = ClientFactory.create(ref="telco-uno", name="Telco Uno")
    phone = "+393470000001"
    first = ContactFactory.create(
        client=acme,
        account=AccountFactory.create(
            client=acme, debtor=DebtorFactory.create(client=acme, phone_e164=phone)
        ),
        started_at=dt.datetime(2026, 11, 2, 10, 0, tzinfo=ROME),
    )
    second = ContactFactory.create(
        client=telco,
        account=AccountFactory.create(
            client=telco, debtor=DebtorFactory.create(client=telco, phone_e164=phone)
        ),
        started_at=dt.datetime(2026, 11, 20, 10, 0, tzinfo=ROME),
    )
    contacts_plan(now=dt.datetime(2026, 11, 2, 11, 0, tzinfo=ROME), seed=5)
    contacts_plan(now=dt.datetime(2026, 11, 20, 11, 0, tzinfo=ROME), seed=5)
    assert Invitation.objects.get(contact=first).status == InvitationStatus.SCHEDULED
    capped = Invitation.objects.get(contact=second)
    assert capped.status == InvitationStatus.SUPPRESSED
    assert capped.suppression_reason == SuppressionReason.CAPPED
    assert suppression_counts() == {"capped": 1}


def test_a_debtor_surveyed_31_days_ago_may_be_asked_again() -> None:
    set_policy()
    acme = ClientFactory.create()
    debtor = DebtorFactory.create(client=acme, phone_e164="+393470000002")
    account = AccountFactory.create(client=acme, debtor=debtor)
    ContactFactory.create(
        client=acme, account=account, started_at=dt.datetime(2026, 10, 20, 10, 0, tzinfo=ROME)
    )
    contacts_plan(now=dt.datetime(2026, 10, 20, 11, 0, tzinfo=ROME), seed=6)
    later = ContactFactory.create(
        client=acme, account=account, started_at=dt.datetime(2026, 11, 20, 10, 0, tzinfo=ROME)
    )
    contacts_plan(now=dt.datetime(2026, 11, 20, 11, 0, tzinfo=ROME), seed=6)
    assert Invitation.objects.get(contact=later).status == InvitationStatus.SCHEDULED


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"outcome": Outcome.NO_ANSWER}, SuppressionReason.INELIGIBLE_OUTCOME),
        ({"outcome": Outcome.THIRD_PARTY}, SuppressionReason.INELIGIBLE_OUTCOME),
        ({"flags": "vulnerable"}, SuppressionReason.FORBIDDING_FLAG),
        ({"flags": "cease_contact attorney"}, SuppressionReason.FORBIDDING_FLAG),
    ],
)
def test_every_contact_ends_with_a_recorded_reason(changes, reason) -> None:
    set_policy()
    now = dt.datetime(2026, 11, 19, 12, 0, tzinfo=ROME)
    contact = rome_contact(now - dt.timedelta(hours=3), **changes)
    contacts_plan(now=now, seed=7)
    invitation = Invitation.objects.get(contact=contact)
    assert (invitation.status, invitation.suppression_reason) == ("suppressed", reason)


def test_no_consent_goes_to_cati_when_the_policy_allows_it_and_is_suppressed_otherwise() -> None:
    now = dt.datetime(2026, 11, 19, 12, 0, tzinfo=ROME)
    set_policy()
    unasked = rome_contact(now - dt.timedelta(hours=3), survey_consent=None)
    contacts_plan(now=now, seed=8)
    invitation = Invitation.objects.get(contact=unasked)
    # Italy needs SMS consent; CATI (a human caller) does not, so the case goes to the queue.
    assert invitation.status == InvitationStatus.CATI
    assert CatiCase.objects.get(invitation=invitation).due_at == invitation.send_after

    set_policy(channels=["sms"])
    refused = rome_contact(now - dt.timedelta(hours=2), survey_consent=False, phone="+393331234999")
    contacts_plan(now=now, seed=8)
    assert Invitation.objects.get(contact=refused).suppression_reason == "no_consent"


def test_an_opted_out_number_is_never_planned() -> None:
    set_policy()
    OptOut.objects.create(phone_e164="+393331234567")
    now = dt.datetime(2026, 11, 19, 12, 0, tzinfo=ROME)
    contact = rome_contact(now - dt.timedelta(hours=3))
    contacts_plan(now=now, seed=9)
    assert Invitation.objects.get(contact=contact).suppression_reason == "opted_out"


def carrier_answer(phone: str, *, at: dt.datetime, error: int | None) -> SmsMessage:
    """A message to `phone`, as the send path leaves it: failed with the carrier's error
    code, or delivered."""
    return SmsMessage.objects.create(
        kind="invitation",
        to=phone,
        body="…",
        backend="twilio",
        status=SmsStatus.FAILED if error else SmsStatus.DELIVERED,
        error_code=error,
        created_at=at,
        delivered_at=None if error else at + dt.timedelta(seconds=5),
    )


@pytest.mark.parametrize("code", [21211, 30005])
def test_a_number_the_carrier_called_invalid_is_not_surveyed_again(code: int) -> None:
    set_policy(channels=["sms", "cati"])
    now = dt.datetime(2026, 11, 19, 12, 0, tzinfo=ROME)
    carrier_answer("+393331234567", at=now - dt.timedelta(days=20), error=code)
    carrier_answer("+393331230000", at=now - dt.timedelta(days=20), error=30003)  # busy: no
    invalid = rome_contact(now - dt.timedelta(hours=3))
    other = rome_contact(now - dt.timedelta(hours=3), phone="+393331230000")
    contacts_plan(now=now, seed=10)
    assert Invitation.objects.get(contact=invalid).suppression_reason == "invalid_number"
    assert Invitation.objects.get(contact=other).status == InvitationStatus.SCHEDULED


def test_an_invalid_number_is_forgotten_when_a_message_reached_it_since_or_long_ago(
    settings,
) -> None:
    set_policy()
    now = dt.datetime(2026, 11, 19, 12, 0, tzinfo=ROME)
    reached = "+393331234567"
    carrier_answer(reached, at=now - dt.timedelta(days=40), error=21211)
    carrier_answer(reached, at=now - dt.timedelta(days=10), error=None)  # reassigned, works
    old = "+393331230001"
    carrier_answer(old, at=now - dt.timedelta(days=181), error=21211)
    contacts = [rome_contact(now - dt.timedelta(hours=3), phone=phone) for phone in (reached, old)]
    contacts_plan(now=now, seed=11)
    for contact in contacts:
        assert Invitation.objects.get(contact=contact).status == InvitationStatus.SCHEDULED

    settings.SMS_INVALID_NUMBER_MEMORY_DAYS = 365
    later = rome_contact(now + dt.timedelta(days=40), phone=old)
    contacts_plan(now=now + dt.timedelta(days=40, hours=3), seed=12)
    assert Invitation.objects.get(contact=later).suppression_reason == "invalid_number"


def test_sampling_keeps_a_minimum_per_operator_per_month() -> None:
    set_policy(sampling_rate=Decimal("0"), min_per_operator_month=3)
    client = ClientFactory.create()
    now = dt.datetime(2026, 11, 19, 12, 0, tzinfo=ROME)
    contacts = [
        rome_contact(now - dt.timedelta(hours=3, minutes=i), phone=f"+39333000{i:04d}")
        for i in range(5)
    ]
    for contact in contacts:  # one operator for all five
        contact.operator = contacts[0].operator
        contact.save()
    contacts_plan(now=now, seed=10)
    assert client is not None
    assert status_counts() == {"scheduled": 3, "suppressed": 2}
    assert suppression_counts() == {"not_sampled": 2}


def test_planning_twice_changes_nothing() -> None:
    set_policy()
    now = dt.datetime(2026, 11, 19, 12, 0, tzinfo=ROME)
    rome_contact(now - dt.timedelta(hours=3))
    first = contacts_plan(now=now, seed=11)
    second = contacts_plan(now=now, seed=11)
    assert (first.planned, second.planned) == (1, 0)
    assert Invitation.objects.count() == 1


def test_plan_surveys_command_prints_the_decisions(capsys) -> None:
    set_policy()
    now = dt.datetime(2026, 11, 19, 12, 0, tzinfo=ROME)
    rome_contact(now - dt.timedelta(hours=3))
    rome_contact(now - dt.timedelta(hours=3), outcome=Outcome.BUSY, phone="+393330009999")
    call_command("plan_surveys", "--now", now.isoformat())
    out = capsys.readouterr().out
    assert "Planned 2 contact(s): 1 SMS invitation(s), 0 CATI case(s), 1 suppressed." in out
    assert "suppressed, ineligible_outcome: 1" in out


def test_plan_surveys_refuses_a_now_without_offset() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="needs an offset"):
        call_command("plan_surveys", "--now", "2026-11-19T12:00:00")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"channels": ["sms", "fax"]}, "channels", "Unknown channel(s) 'fax'"),
        ({"sampling_rate": Decimal("120")}, "sampling_rate", "between 0 and 100"),
        ({"delay_after_contact": dt.timedelta(hours=-2)}, "delay_after_contact", "negative"),
        (
            {"window_profile": {"country": "IT", "weekdays": {"mon": [["20:00", "09:00"]]}}},
            "window_profile",
            "",
        ),
        ({"window_country": "FR"}, "window_country", "No built-in window profile"),
        ({"eligible_outcomes": ["no_answer"]}, "eligible_outcomes", "right-party"),
    ],
)
def test_a_bad_policy_is_refused_saying_what_to_fix(changes, field, message) -> None:
    policy = Policy(client=None, **{**policy_defaults(), **changes})
    with pytest.raises(ValidationError) as caught:
        policy_validate(policy)
    errors = caught.value.message_dict
    assert field in errors
    assert message in " ".join(errors[field])
