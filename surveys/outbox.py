"""The development outbox: messages the outbox backend "sent", newest first, for the staff page
and `manage.py sms_outbox`."""

from __future__ import annotations

import re
from typing import TypedDict

from django.db.models import QuerySet

from surveys.models import SmsMessage

_LINK = re.compile(r"https?://\S+")


class OutboxRow(TypedDict):
    id: int
    to: str
    kind: str
    status: str
    body: str
    link: str | None
    created_at: str
    sent_at: str | None


def outbox_messages() -> QuerySet[SmsMessage]:
    return SmsMessage.objects.filter(backend="outbox").order_by("-created_at", "-pk")


def link_in(body: str) -> str | None:
    """The first link in a message body (the survey link), or None."""
    match = _LINK.search(body)
    # A link at the end of a sentence keeps its slash, not the full stop after it.
    return match.group(0).rstrip(".,;:!?)") if match else None


def outbox_row(message: SmsMessage) -> OutboxRow:
    return {
        "id": message.pk,
        "to": message.to,
        "kind": message.kind,
        "status": message.status,
        "body": message.body,
        "link": link_in(message.body),
        "created_at": message.created_at.isoformat(),
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
    }
