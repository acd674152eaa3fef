"""CATI cases as the callers' queue meets them, and the people around them: Acme Energia's
debtors in Rome, the operator Giulia Rossi who made the contacts, and the callers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.auth.models import User

from collections_link.models import Client, Operator, Outcome, Role
from surveys.models import (
    CatiCase,
    CatiCaseStatus,
    Invitation,
    InvitationStatus,
    Policy,
    SurveyVersion,
    new_token,
)
from surveys.policies import policy_cache_clear, policy_defaults
from surveys.seed import seed_apply, survey_default_ensure
from tests.factories import (
    AccountFactory,
    ClientFactory,
    ContactFactory,
    DebtorFactory,
    OperatorFactory,
    user_with_role,
)

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
ALWAYS_OPEN = {
    "weekdays": {
        d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    "pre_holiday": None,
    "holiday": [["00:00", "24:00"]],
    "holidays_country": None,
    "holidays_subdivision": None,
}
# Open every day but the last hour: a call-back at 23:30 falls outside, whatever day it is.
CLOSED_AT_23 = {
    **ALWAYS_OPEN,
    "weekdays": {
        d: [["00:00", "23:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    "holiday": [["00:00", "23:00"]],
}


def ensure_seed() -> None:
    """The shipped dispositions and survey (a transactional test flushes the migration's)."""
    seed_apply(apps)
    survey_default_ensure()


def default_version() -> SurveyVersion:
    return survey_default_ensure().current_version()


def set_policy(client: Client | None = None, **changes: object) -> Policy:
    values = {**policy_defaults(), **changes}
    policy, _ = Policy.objects.update_or_create(client=client, defaults=values)
    policy_cache_clear()
    return policy


def acme() -> Client:
    return ClientFactory.create()


def giulia(client: Client | None = None) -> Operator:
    return OperatorFactory.create(
        ref="op-giulia-rossi", name="Giulia Rossi", client=client or acme()
    )


def caller(username: str = "andrea", *, role: Role = Role.CALLER) -> User:
    return user_with_role(username, role)


def make_case(
    *,
    due_at: dt.datetime,
    client: Client | None = None,
    operator: Operator | None = None,
    phone: str | None = None,
    zones: str = "Europe/Rome",
    language: str = "it",
    country: str = "IT",
    amount: Decimal = Decimal("1234.56"),
    account=None,
    contact_started: dt.datetime | None = None,
    outcome: str = Outcome.PROMISE_TO_PAY,
) -> CatiCase:
    """A debtor's contact handed to CATI, due at `due_at`."""
    client = client or acme()
    operator = operator or giulia(client)
    if account is None:
        debtor_kwargs: dict[str, object] = {
            "client": client,
            "language": language,
            "country": country,
        }
        if phone:
            debtor_kwargs["phone_e164"] = phone
        debtor = DebtorFactory.create(**debtor_kwargs)
        account = AccountFactory.create(client=client, debtor=debtor, amount_placed=amount)
    debtor = account.debtor
    started = contact_started or (due_at - dt.timedelta(days=2))
    contact = ContactFactory.create(
        client=client,
        account=account,
        operator=operator,
        started_at=started,
        ended_at=started + dt.timedelta(minutes=6),
        outcome=outcome,
    )
    invitation = Invitation.objects.create(
        contact=contact,
        client=client,
        operator=operator,
        debtor=debtor,
        phone_e164=debtor.phone_e164,
        language=debtor.language,
        time_zones=zones,
        status=InvitationStatus.CATI,
        channel="cati",
        survey_version=default_version(),
        token=new_token(),
        send_after=due_at,
        expires_at=due_at + dt.timedelta(days=7),
    )
    return CatiCase.objects.create(invitation=invitation, client=client, due_at=due_at)


def hold(case: CatiCase, user: User, *, now: dt.datetime) -> CatiCase:
    """Put the case in the caller's hands as a claim would (whatever the clock says)."""
    CatiCase.objects.filter(pk=case.pk).update(
        status=CatiCaseStatus.HELD,
        held_by=user,
        lease_expires_at=now + dt.timedelta(minutes=10),
        last_attempt_at=now,
    )
    case.refresh_from_db()
    return case
