"""Delivery-status callbacks: stored once per (MessageSid, MessageStatus), applied so a message's
status only ever moves forward, and a failure handled by the configured error table.

Twilio's callbacks arrive out of order and more than once: a late "sent" after "delivered"
changes nothing, and "delivered", "undelivered" and "failed" are final.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys.delivery import delivery_error_apply
from surveys.models import SmsMessage, SmsStatus, StatusEvent

logger = logging.getLogger(__name__)

# SmsStatus in its order; a callback moves a message only to a later one.
ORDER: tuple[str, ...] = (
    SmsStatus.PENDING,
    SmsStatus.SENDING,
    SmsStatus.ACCEPTED,
    SmsStatus.QUEUED,
    SmsStatus.SENT,
    SmsStatus.DELIVERED,
    SmsStatus.UNDELIVERED,
    SmsStatus.FAILED,
)
FINAL = frozenset({SmsStatus.DELIVERED, SmsStatus.UNDELIVERED, SmsStatus.FAILED})
FAILURES = frozenset({SmsStatus.UNDELIVERED, SmsStatus.FAILED})
# Twilio statuses we do not track ("scheduled", "read", "canceled", ...) are stored and ignored.
# So is Twilio's "sending": our own "sending" means a send task holds the message, and the
# reaper would take a message left in it for a stuck send.
TRACKED = frozenset(ORDER) - {SmsStatus.PENDING, SmsStatus.SENDING}
# A callback can arrive before the send task has stored the provider id (Twilio calls back
# fast): such an event is left for the catch-up pass, and only given up after this long.
ORPHAN_AFTER = dt.timedelta(hours=1)


def status_record(
    params: Mapping[str, str], *, now: dt.datetime | None = None
) -> tuple[StatusEvent, bool]:
    """Store a status callback once per (MessageSid, MessageStatus). Returns (row, created)."""
    sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()[:64]
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()[:16]
    if not sid or not status:
        raise ValueError("A status callback needs MessageSid and MessageStatus.")
    raw_code = (params.get("ErrorCode") or "").strip()
    error_code = int(raw_code) if raw_code.isdigit() else None
    try:
        # A savepoint, so a replay (the unique pair) leaves an outer transaction usable.
        with transaction.atomic():
            event = StatusEvent.objects.create(
                message_sid=sid,
                status=status,
                error_code=error_code,
                received_at=now or timezone.now(),
            )
        return event, True
    except IntegrityError:
        return StatusEvent.objects.get(message_sid=sid, status=status), False


def earlier_statuses(status: str) -> list[str]:
    """The statuses a message may leave for `status`: those before it, never a final one."""
    if status not in ORDER:
        return []
    return [s for s in ORDER[: ORDER.index(status)] if s not in FINAL]


def status_apply(*, event_id: int, now: dt.datetime | None = None) -> bool:
    """Apply one stored callback, once. Returns True when the event is done with (applied or
    ignored), False when it waits for its message (the catch-up pass tries again)."""
    with transaction.atomic():
        # One run owns the event; see surveys.inbound._process_one for why a guarded stamp.
        claimed = StatusEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
            processed_at=timezone.now()
        )
        if not claimed:
            return False
        event = StatusEvent.objects.get(pk=event_id)
        now = now or event.received_at
        message = SmsMessage.objects.filter(provider_sid=event.message_sid).first()
        if message is None:
            if timezone.now() - event.received_at < ORPHAN_AFTER:
                # Not ours yet: the send task may not have stored the id. Undo the stamp.
                transaction.set_rollback(True)
                return False
            logger.warning("Status %s for unknown message %s", event.status, event.message_sid)
            return True
        if event.status not in TRACKED:
            return True
        changes: dict[str, object] = {"status": event.status}
        if event.status == SmsStatus.DELIVERED:
            changes["delivered_at"] = now
        if event.status in FAILURES and event.error_code is not None:
            changes["error_code"] = event.error_code
        moved = SmsMessage.objects.filter(
            pk=message.pk, status__in=earlier_statuses(event.status)
        ).update(**changes)
        if not moved:
            logger.info(
                "Status %s for SMS %s ignored: it is already %s",
                event.status,
                message.pk,
                message.status,
            )
            return True
        if event.status in FAILURES:
            message.refresh_from_db()
            # Inside this transaction, so the event is never marked done without its action
            # (an opt-out, a retry, a hand-over to CATI).
            action = delivery_error_apply(message=message, code=event.error_code, now=now)
            logger.info(
                "SMS %s %s (error %s): %s",
                message.pk,
                event.status,
                event.error_code,
                action or "no action",
            )
    return True
