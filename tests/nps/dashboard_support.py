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
    InvitationStatus,
    Response,
)
from tests.factories import (
    ClientFactory,
    OperatorFactory,
    user_with_role,
)
from tests.nps.nps_support import answer_many, answered

UTC = dt.UTC
_phones = itertools.count(1)


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
