"""Answers as the dashboards meet them: two clients (Acme Energia and Banca Brava), their
operators, viewers, and scored responses built row by row with known counts."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from django.contrib.auth.models import User

from collections_link.models import Client, Operator, Role
from nps.models import FollowUpCase
from surveys.models import (
    CatiCase,
    Invitation,
    InvitationStatus,
    Response,
    SurveyVersion,
    new_token,
)
from surveys.seed import survey_default_ensure
from tests.factories import (
    AccountFactory,
    ClientFactory,
    ContactFactory,
    DebtorFactory,
    OperatorFactory,
    user_with_role,
)

UTC = dt.UTC
_phones = itertools.count(1)


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
    phone: str | None = None,
    complete: bool = True,
    version: SurveyVersion | None = None,
) -> Response:
    """One debtor, account, contact, invitation and response: the debtor scored the contact."""
    phone = phone or f"+39347{next(_phones):07d}"
    debtor = DebtorFactory.create(client=client, phone_e164=phone)
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
    invitation = Invitation.objects.create(
        contact=contact,
        client=client,
        operator=operator,
        debtor=debtor,
        phone_e164=phone,
        language="it",
        status=InvitationStatus.COMPLETED,
        channel="cati" if channel == "cati" else "sms",
        survey_version=version,
        token=new_token(),
        send_after=answered_at - dt.timedelta(hours=1),
        sent_at=answered_at - dt.timedelta(hours=1),
        expires_at=answered_at + dt.timedelta(days=7),
        answered_at=answered_at,
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
        complete=complete,
        started_at=answered_at - dt.timedelta(minutes=1),
        answered_at=answered_at if score is not None else None,
        completed_at=answered_at if complete else None,
    )


def answer_many(
    *,
    client: Client,
    operator: Operator,
    scores: list[int],
    answered_at: dt.datetime,
    **kwargs: object,
) -> list[Response]:
    version = default_version()
    return [
        answered(
            client=client,
            operator=operator,
            score=s,
            answered_at=answered_at + dt.timedelta(minutes=i),
            version=version,
            **kwargs,
        )
        for i, s in enumerate(scores)
    ]


@dataclass
class Side:
    """One client with its people and one answer of each kind."""

    client: Client
    operator: Operator
    viewer: User
    detractor: Response
    responses: list[Response] = field(default_factory=list)
    case: FollowUpCase | None = None


def two_clients(*, now: dt.datetime) -> tuple[Side, Side]:
    """Acme Energia (A) and Banca Brava (B), each with an operator, a viewer and answers:
    A has 4 promoters (10), 3 passives (8) and 3 detractors (2); B has 2 promoters and 8
    detractors, one of them with a follow-up case."""
    sides = []
    for ref, name, op_ref, op_name, viewer, scores in (
        (
            "acme-energia",
            "Acme Energia",
            "op-giulia",
            "Giulia Bianchi",
            "anna",
            [10] * 4 + [8] * 3 + [2] * 3,
        ),
        ("banca-brava", "Banca Brava", "op-pablo", "Pablo Ruiz", "bruno", [9] * 2 + [1] * 8),
    ):
        client = ClientFactory.create(ref=ref, name=name)
        operator = OperatorFactory.create(ref=op_ref, name=op_name, client=client)
        user = user_with_role(viewer, Role.CLIENT_VIEWER, client)
        user.email = f"{viewer}@example.com"
        user.save()
        responses = answer_many(
            client=client,
            operator=operator,
            scores=scores,
            answered_at=now - dt.timedelta(days=3),
            reason="Chiamata gentile",
        )
        detractor = next(r for r in responses if r.score is not None and r.score <= 6)
        sides.append(
            Side(
                client=client,
                operator=operator,
                viewer=user,
                detractor=detractor,
                responses=responses,
            )
        )
    return sides[0], sides[1]


def cati_case_for(*, client: Client, operator: Operator, now: dt.datetime) -> CatiCase:
    """An unanswered invitation of the client's, queued for the callers."""
    response = answered(
        client=client, operator=operator, score=None, answered_at=now, complete=False
    )
    invitation = response.invitation
    response.delete()
    invitation.status = InvitationStatus.CATI
    invitation.channel = "cati"
    invitation.answered_at = None
    invitation.save()
    return CatiCase.objects.create(invitation=invitation, client=client, due_at=now)
