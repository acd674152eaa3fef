"""Invitations as the debtor's survey page meets them: sent by SMS, with a live link."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from surveys.models import Invitation, InvitationStatus, Survey, SurveyVersion, new_token
from surveys.seed import survey_default_ensure
from tests.factories import AccountFactory, ClientFactory, ContactFactory, DebtorFactory


def default_version() -> SurveyVersion:
    # Recreated when a transactional test flushed the data migration's rows.
    survey: Survey = survey_default_ensure()
    return survey.current_version()


def sent_invitation(
    *,
    language: str = "it",
    phone: str = "+393331234567",
    status: str = InvitationStatus.SENT,
    expires_in: dt.timedelta = dt.timedelta(days=7),
    version: SurveyVersion | None = None,
    channel: str = "sms",
) -> Invitation:
    """Giulia's contact with a debtor of Acme Energia, surveyed by SMS: the link is live."""
    client = ClientFactory.create()
    debtor = DebtorFactory.create(client=client, phone_e164=phone, language=language)
    account = AccountFactory.create(client=client, debtor=debtor)
    contact = ContactFactory.create(client=client, account=account, operator__name="Giulia Bianchi")
    now = timezone.now()
    return Invitation.objects.create(
        contact=contact,
        client=client,
        operator=contact.operator,
        debtor=debtor,
        phone_e164=phone,
        language=language,
        status=status,
        channel=channel,
        survey_version=version or default_version(),
        token=new_token(),
        send_after=now - dt.timedelta(hours=1),
        sent_at=now - dt.timedelta(hours=1),
        expires_at=now + expires_in,
    )


def page_url(invitation: Invitation) -> str:
    return f"/s/{invitation.token}/"
