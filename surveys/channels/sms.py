"""The SMS channel: message texts, the two backends (Twilio and the development outbox) behind
one interface, and the send service that never sends one message twice.

Exactly once, step by step:
1. the dispatcher writes the intent (an `SmsMessage` row, status pending) in the same
   transaction that claims the invitation, and queues the send task after commit;
2. the task moves the row pending -> sending with a guarded update (only one run wins) and
   stamps `sending_started_at`;
3. it calls the provider outside any transaction and stores the provider id;
4. if the process dies between 2 and 3, the reaper finds the row stuck in sending and asks the
   provider whether it holds a message for that number since `sending_started_at`: the provider
   id decides, so a crash never causes a second message. A timeout or a 5xx in step 3 asks the
   provider the same question at once, before the message may be sent again.

`sending_started_at` is always the wall clock (never a `now` passed in for the window checks),
because it is compared with the provider's own timestamps.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from surveys import twilio as twilio_api
from surveys.models import (
    Invitation,
    InvitationStatus,
    OptOut,
    SmsKind,
    SmsMessage,
    SmsStatus,
    SmsTemplate,
)
from surveys.pacing import acquire, bucket_for

logger = logging.getLogger(__name__)

# How long Twilio may hold a message in its queue: never past the debtor's window, and never
# more than an hour (Twilio's default is hours, long enough to cross into quiet hours).
MAX_VALIDITY_SECONDS = 3600
MIN_VALIDITY_SECONDS = 120
# Looking for a message the provider may have accepted, start this long before the send began:
# the provider's clock may run a little behind ours. The body holds the invitation's unique link,
# so the margin cannot match another invitation's message.
CLOCK_SKEW = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class ProviderMessage:
    sid: str
    status: str


class SmsBackend(Protocol):
    name: str

    def send(
        self, message: SmsMessage, *, status_callback: str | None, validity_period: int | None
    ) -> ProviderMessage: ...

    def find_sent(self, message: SmsMessage) -> ProviderMessage | None:
        """The provider's record of this message, if the provider accepted it."""


class OutboxBackend:
    """Development default: nothing leaves the machine. The `SmsMessage` row is the outbox;
    staff read it at /outbox/ and with `manage.py sms_outbox`."""

    name = "outbox"

    def send(
        self, message: SmsMessage, *, status_callback: str | None, validity_period: int | None
    ) -> ProviderMessage:
        return ProviderMessage(sid=f"OB{secrets.token_hex(16)}", status=SmsStatus.DELIVERED)

    def find_sent(self, message: SmsMessage) -> ProviderMessage | None:
        return None


class TwilioBackend:
    name = "twilio"

    def send(
        self, message: SmsMessage, *, status_callback: str | None, validity_period: int | None
    ) -> ProviderMessage:
        sent = twilio_api.send_message(
            to=message.to,
            body=message.body,
            status_callback=status_callback,
            validity_period=validity_period,
        )
        return ProviderMessage(sid=sent.sid, status=sent.status)

    def find_sent(self, message: SmsMessage) -> ProviderMessage | None:
        since = (message.sending_started_at or message.created_at) - CLOCK_SKEW
        found = twilio_api.find_message(to=message.to, body=message.body, since=since)
        return ProviderMessage(sid=found.sid, status=found.status) if found else None


def sms_backend(name: str | None = None) -> SmsBackend:
    name = name or settings.SMS_BACKEND
    if name == "twilio":
        return TwilioBackend()
    return OutboxBackend()


def survey_link(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/s/{token}/"


def status_callback_url() -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/twilio/sms/status/"


def template_for(
    *, client_id: int | None, kind: str, language: str, cache: dict[tuple, SmsTemplate] | None
) -> SmsTemplate | None:
    """The client's own text for this kind and language, else the shipped default."""
    key = (client_id, kind, language)
    if cache is not None and key in cache:
        return cache[key]
    template = (
        SmsTemplate.objects.filter(kind=kind, language=language)
        .filter(Q(client_id=client_id) | Q(client__isnull=True))
        .order_by(F("client_id").asc(nulls_last=True))
        .first()
    )
    if template is None and language != "en":
        template = template_for(client_id=client_id, kind=kind, language="en", cache=None)
    if cache is not None and template is not None:
        cache[key] = template
    return template


def render(template: SmsTemplate, *, token: str | None) -> str:
    return template.body.replace("{link}", survey_link(token) if token else "")


@dataclass(frozen=True)
class SendOutcome:
    """What one run of the send task did: 'sent', 'skipped' (nothing to do), 'retry' (give it
    back, try after `retry_in` seconds), or 'failed' (a final provider rejection)."""

    result: str
    retry_in: float = 0.0
    error_code: int | None = None


def sms_send(*, message_id: int, now: dt.datetime | None = None) -> SendOutcome:
    """Send one pending message exactly once; see the module docstring. `now` is the instant
    the window and expiry re-checks use (the wall clock unless a test or --now gives one)."""
    from surveys.delivery import delivery_error_apply
    from surveys.windows import is_allowed, window_end

    now = now or timezone.now()
    # One query: the message, its invitation, and whether the number is opted out now.
    message = (
        SmsMessage.objects.select_related("invitation")
        .annotate(opted_out=Exists(OptOut.objects.filter(phone_e164=OuterRef("to"), active=True)))
        .get(pk=message_id)
    )
    if message.provider_sid or message.status != SmsStatus.PENDING:
        return SendOutcome("skipped")
    invitation = message.invitation
    validity: int | None = MAX_VALIDITY_SECONDS
    if invitation is not None and message.kind != SmsKind.CONFIRMATION:
        from surveys.dispatch import invitation_zones_profile

        if message.kind == SmsKind.INVITATION and invitation.status != InvitationStatus.SENDING:
            # A stale or duplicate task. Back on the schedule: the dispatcher queues the
            # message again when the invitation is due. Done with: nothing will send it.
            if invitation.status == InvitationStatus.SCHEDULED:
                SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
                    next_attempt_at=None
                )
            else:
                SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
                    status=SmsStatus.CANCELLED, error_message=f"invitation {invitation.status}"
                )
            return SendOutcome("skipped")
        if message.kind == SmsKind.REMINDER and invitation.status != InvitationStatus.SENT:
            # Answered, handed to CATI, expired or cancelled since the reminder was queued.
            _cancel(message, invitation, reason=f"invitation {invitation.status}")
            return SendOutcome("skipped")
        # Re-checked at send time: the task may have waited in the queue.
        blocked = ""
        if invitation.is_expired(now):
            blocked = "expired"
        elif message.opted_out:
            blocked = "opted_out"
        if blocked:
            _cancel(message, invitation, reason=blocked)
            return SendOutcome("skipped")
        zones, profile = invitation_zones_profile(invitation)
        end = window_end(now, zones=zones, profile=profile) if zones else None
        if zones and (not is_allowed(now, zones=zones, profile=profile) or end is None):
            _give_back_to_schedule(message, invitation, now=now)
            return SendOutcome("skipped")
        if end is not None:
            seconds_left = int((end - now).total_seconds())
            if seconds_left < MIN_VALIDITY_SECONDS:
                _give_back_to_schedule(message, invitation, now=now)
                return SendOutcome("skipped")
            # Twilio drops a message still queued after ValidityPeriod seconds, so a queue
            # backlog can never deliver it after the window closes.
            validity = min(MAX_VALIDITY_SECONDS, seconds_left)

    # Pacing protects the provider's queue; the outbox has none, so it is not paced.
    if message.backend != "outbox":
        bucket = bucket_for(settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM_NUMBER)
        if not acquire(bucket, max_wait=5.0):
            return SendOutcome("retry", retry_in=2.0)

    # Only one run moves pending -> sending; a duplicate task finds nothing to do.
    started = timezone.now()
    claimed = SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
        status=SmsStatus.SENDING, sending_started_at=started, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return SendOutcome("skipped")
    # What the guarded update just wrote, without reading the row back.
    message.status, message.sending_started_at = SmsStatus.SENDING, started
    message.attempts += 1
    backend = sms_backend(message.backend)
    callback = status_callback_url() if backend.name == "twilio" else None
    try:
        sent = backend.send(message, status_callback=callback, validity_period=validity)
    except twilio_api.TwilioRateLimited:
        # Twilio did not process a 429: safe to give back and retry after backing off.
        _give_back_pending(message)
        return SendOutcome("retry", retry_in=_backoff(message.attempts))
    except twilio_api.TwilioServerError:
        # A 5xx or a timeout: Twilio may have accepted it. Ask before ever sending again.
        try:
            found = backend.find_sent(message)
        except twilio_api.TwilioError:
            # Cannot ask: the row stays in "sending" and the reaper asks later, once the
            # provider answers again. It is never sent again without that answer.
            logger.warning("SMS %s: provider unreachable; the reaper will reconcile", message.pk)
            return SendOutcome("retry", retry_in=_backoff(message.attempts))
        if found:
            _record_sent(message, found, now=now)
            return SendOutcome("sent")
        _give_back_pending(message)
        return SendOutcome("retry", retry_in=_backoff(message.attempts))
    except twilio_api.TwilioRejected as exc:
        SmsMessage.objects.filter(pk=message.pk).update(
            status=SmsStatus.FAILED, error_code=exc.code, error_message=exc.message[:300]
        )
        message.refresh_from_db()
        delivery_error_apply(message=message, code=exc.code, now=now)
        return SendOutcome("failed", error_code=exc.code)
    _record_sent(message, sent, now=now)
    return SendOutcome("sent")


def _give_back_pending(message: SmsMessage) -> None:
    SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
        status=SmsStatus.PENDING, sending_started_at=None
    )


def _backoff(attempts: int) -> float:
    # Exponential with full jitter, capped at a minute (the task retries; the row stays due).
    cap = min(60.0, 2.0 ** max(attempts, 1))
    return 1.0 + secrets.randbelow(int(cap * 1000)) / 1000


def _record_sent(message: SmsMessage, sent: ProviderMessage, *, now: dt.datetime) -> None:
    status = sent.status if sent.status in SmsStatus.values else SmsStatus.QUEUED
    with transaction.atomic():
        SmsMessage.objects.filter(pk=message.pk).update(
            provider_sid=sent.sid,
            status=status,
            sent_at=now,
            delivered_at=now if status == SmsStatus.DELIVERED else None,
        )
        if message.invitation_id and message.kind == SmsKind.INVITATION:
            Invitation.objects.filter(
                pk=message.invitation_id, status=InvitationStatus.SENDING
            ).update(status=InvitationStatus.SENT, sent_at=now)


def _cancel(message: SmsMessage, invitation: Invitation, *, reason: str) -> None:
    with transaction.atomic():
        SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
            status=SmsStatus.CANCELLED, error_message=reason
        )
        if message.kind == SmsKind.INVITATION:
            new_status = (
                InvitationStatus.EXPIRED if reason == "expired" else InvitationStatus.CANCELLED
            )
            Invitation.objects.filter(
                pk=invitation.pk, status__in=[InvitationStatus.SENDING, InvitationStatus.SCHEDULED]
            ).update(status=new_status)


def _give_back_to_schedule(
    message: SmsMessage, invitation: Invitation, *, now: dt.datetime
) -> None:
    """Outside the window at send time: the invitation goes back to the schedule at the next
    opening, and its pending message is reused when the dispatcher claims it again. The
    message's `next_attempt_at` is cleared so the requeue pass leaves it alone: the invitation
    row is the schedule, and only the dispatcher queues it again. A reminder keeps its own
    schedule in `next_attempt_at`."""
    from surveys.dispatch import invitation_next_send_time

    when = invitation_next_send_time(invitation, after=now)
    with transaction.atomic():
        if message.kind == SmsKind.INVITATION and when is not None:
            Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.SENDING).update(
                status=InvitationStatus.SCHEDULED, send_after=when
            )
            SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
                next_attempt_at=None
            )
        elif message.kind == SmsKind.INVITATION:
            # No opening left before the link expires.
            Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.SENDING).update(
                status=InvitationStatus.EXPIRED
            )
            SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
                status=SmsStatus.CANCELLED, error_message="no window before expiry"
            )
        elif when is not None:
            SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
                next_attempt_at=when
            )
        else:
            SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
                status=SmsStatus.CANCELLED, error_message="no window before expiry"
            )
