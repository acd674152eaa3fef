"""Answers for the analytics tests: one at a time (a debtor, account, contact, invitation and
response each), or ten thousand at once with bulk inserts."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collections_link.models import (
    RIGHT_PARTY_OUTCOMES,
    Account,
    Client,
    Contact,
    Debtor,
    Operator,
)
from surveys.models import Invitation, InvitationStatus, Response, SurveyVersion, new_token
from surveys.seed import survey_default_ensure
from tests.factories import AccountFactory, ContactFactory, DebtorFactory

UTC = dt.UTC
_serial = itertools.count(1)


def default_version() -> SurveyVersion:
    return survey_default_ensure().current_version()


def answered(
    *,
    client: Client,
    operator: Operator,
    score: int | None,
    answered_at: dt.datetime,
    channel: str = "web",
    contact_channel: str = "phone",
    outcome: str = "promise_to_pay",
    reason: str = "",
    complete: bool = True,
    account: Account | None = None,
    phone: str | None = None,
    version: SurveyVersion | None = None,
    status: str | None = None,
) -> Response:
    """One debtor scored one contact (`score` None: the debtor opened the survey and gave no
    score). Without `account`, a new debtor (on `phone`, if given) and account."""
    n = next(_serial)
    if account is None:
        debtor = DebtorFactory.create(client=client, phone_e164=phone or f"+39348{n:07d}")
        account = AccountFactory.create(client=client, debtor=debtor)
    contact = ContactFactory.create(
        client=client,
        account=account,
        operator=operator,
        channel=contact_channel,
        outcome=outcome,
        started_at=answered_at - dt.timedelta(hours=3),
    )
    version = version or default_version()
    if status is None:
        status = (
            InvitationStatus.COMPLETED
            if complete and score is not None
            else InvitationStatus.PARTIAL
        )
    invitation = Invitation.objects.create(
        contact=contact,
        client=client,
        operator=operator,
        debtor=account.debtor,
        phone_e164=account.debtor.phone_e164,
        language="it",
        status=status,
        channel="cati" if channel == "cati" else "sms",
        survey_version=version,
        token=new_token(),
        send_after=answered_at - dt.timedelta(hours=1),
        sent_at=answered_at - dt.timedelta(hours=1),
        opened_at=answered_at - dt.timedelta(minutes=5) if channel == "web" else None,
        expires_at=answered_at + dt.timedelta(days=7),
        answered_at=answered_at if score is not None else None,
    )
    return Response.objects.create(
        invitation=invitation,
        client=client,
        operator=operator,
        contact=contact,
        contact_channel=contact_channel,
        contact_outcome=outcome,
        channel=channel,
        survey_version=version,
        language="it",
        score=score,
        reason=reason,
        complete=complete and score is not None,
        started_at=answered_at - dt.timedelta(minutes=1),
        answered_at=answered_at if score is not None else None,
        completed_at=answered_at if complete and score is not None else None,
    )


def answer_many(
    *, scores: Sequence[int], answered_at: dt.datetime, **kwargs: Any
) -> list[Response]:
    """Several answers of one kind, a minute apart."""
    version = default_version()
    return [
        answered(
            score=s, answered_at=answered_at + dt.timedelta(minutes=i), version=version, **kwargs
        )
        for i, s in enumerate(scores)
    ]


@dataclass(frozen=True)
class Spec:
    """One response to bulk-create."""

    client: Client
    operator: Operator
    score: int | None
    answered_at: dt.datetime
    channel: str
    contact_channel: str
    outcome: str
    complete: bool = True


def bulk_answers(specs: Sequence[Spec]) -> list[Response]:
    """Create many responses fast: one debtor and account per client, then the contacts,
    invitations and responses in bulk."""
    version = default_version()
    accounts: dict[int, Account] = {}
    for spec in specs:
        if spec.client.pk not in accounts:
            n = next(_serial)
            debtor = Debtor.objects.create(
                client=spec.client,
                ref=f"BULK-D-{n}",
                phone_e164=f"+39349{n:07d}",
                country="IT",
                language="it",
            )
            accounts[spec.client.pk] = Account.objects.create(
                client=spec.client,
                ref=f"BULK-A-{n}",
                debtor=debtor,
                placed_on=dt.date(2025, 1, 1),
                amount_placed=100,
                currency="EUR",
            )
    batch = next(_serial)
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                client=spec.client,
                ref=f"BULK-K-{batch}-{i}",
                account=accounts[spec.client.pk],
                operator=spec.operator,
                channel=spec.contact_channel,
                started_at=spec.answered_at - dt.timedelta(hours=2),
                outcome=spec.outcome,
                right_party=spec.outcome in RIGHT_PARTY_OUTCOMES,
            )
            for i, spec in enumerate(specs)
        ],
        batch_size=2000,
    )
    invitations = Invitation.objects.bulk_create(
        [
            Invitation(
                contact=contact,
                client=spec.client,
                operator=spec.operator,
                debtor=accounts[spec.client.pk].debtor,
                phone_e164=accounts[spec.client.pk].debtor.phone_e164,
                language="it",
                status=InvitationStatus.COMPLETED,
                channel="cati" if spec.channel == "cati" else "sms",
                survey_version=version,
                sent_at=spec.answered_at - dt.timedelta(hours=1),
                answered_at=spec.answered_at if spec.score is not None else None,
            )
            for contact, spec in zip(contacts, specs, strict=True)
        ],
        batch_size=2000,
    )
    return Response.objects.bulk_create(
        [
            Response(
                invitation=invitation,
                client=spec.client,
                operator=spec.operator,
                contact=contact,
                contact_channel=spec.contact_channel,
                contact_outcome=spec.outcome,
                channel=spec.channel,
                survey_version=version,
                language="it",
                score=spec.score,
                complete=spec.complete and spec.score is not None,
                started_at=spec.answered_at - dt.timedelta(minutes=2),
                answered_at=spec.answered_at if spec.score is not None else None,
            )
            for invitation, contact, spec in zip(invitations, contacts, specs, strict=True)
        ],
        batch_size=2000,
    )


def invited(
    *,
    client: Client,
    operator: Operator,
    contact_at: dt.datetime,
    status: str = InvitationStatus.EXPIRED,
    expires_at: dt.datetime | None = None,
    account: Account | None = None,
) -> Invitation:
    """An SMS invitation sent after a contact, never answered."""
    if account is None:
        n = next(_serial)
        debtor = DebtorFactory.create(client=client, phone_e164=f"+39348{n:07d}")
        account = AccountFactory.create(client=client, debtor=debtor)
    contact = ContactFactory.create(
        client=client, account=account, operator=operator, started_at=contact_at
    )
    return Invitation.objects.create(
        contact=contact,
        client=client,
        operator=operator,
        debtor=account.debtor,
        phone_e164=account.debtor.phone_e164,
        language="it",
        status=status,
        channel="sms",
        survey_version=default_version(),
        token=new_token(),
        send_after=contact_at + dt.timedelta(hours=2),
        sent_at=contact_at + dt.timedelta(hours=2),
        expires_at=expires_at or contact_at + dt.timedelta(days=7),
    )
