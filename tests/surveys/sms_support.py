"""Debtors with survey invitations, for the SMS reply, webhook and outbox tests."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from collections_link.models import Client
from surveys.models import Channel, Invitation, InvitationStatus, new_token
from surveys.seed import survey_default_ensure
from tests.factories import AccountFactory, ClientFactory, ContactFactory, DebtorFactory

# Giulia's debtor, reached on behalf of two creditors.
MARIO = "+393331234567"


def acme() -> Client:
    return ClientFactory.create()


def telco() -> Client:
    return ClientFactory.create(ref="telco-sud", name="Telco Sud", country="IT")


def invitation_for(
    *,
    phone: str = MARIO,
    client: Client | None = None,
    language: str = "it",
    status: str = InvitationStatus.SCHEDULED,
    sent_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    lifetime: dt.timedelta = dt.timedelta(days=7),
) -> Invitation:
    """An invitation due now (no time zones: the window never holds it back), or one already
    sent when `sent_at` is given."""
    now = now or timezone.now()
    client = client or acme()
    debtor = DebtorFactory.create(client=client, phone_e164=phone, language=language)
    contact = ContactFactory.create(
        client=client, account=AccountFactory.create(client=client, debtor=debtor), started_at=now
    )
    return Invitation.objects.create(
        contact=contact,
        client=client,
        operator=contact.operator,
        debtor=debtor,
        phone_e164=phone,
        language=language,
        time_zones="",
        status=InvitationStatus.SENT if sent_at else status,
        channel=Channel.SMS,
        survey_version=survey_default_ensure().current_version(),
        token=new_token(),
        send_after=sent_at or now,
        expires_at=(sent_at or now) + lifetime,
        sent_at=sent_at,
    )
