"""The dispatcher: turns due invitations into exactly one send each.

The invitation row is the schedule. Redis only carries work that is due now: the dispatcher
claims due rows (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, a guarded update on SQLite),
re-checks window, opt-out and expiry, writes the message intent, and queues one send task per
message after commit. No Celery ETA or countdown is used for anything more than a minute away.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from surveys.channels.sms import render, template_for
from surveys.models import (
    CatiCase,
    Channel,
    Invitation,
    InvitationStatus,
    OptOut,
    Policy,
    Response,
    SmsKind,
    SmsMessage,
    SmsStatus,
    SmsTemplate,
)
from surveys.policies import policy_for_client_id, policy_window_profile
from surveys.windows import WindowProfile, is_allowed, next_allowed

logger = logging.getLogger(__name__)

# A message still pending this long after it was queued lost its task (a dead worker, or
# Redis down when it was queued): queue it again. The send task is idempotent.
REQUEUE_AFTER = dt.timedelta(minutes=2)
# A message stuck in "sending" this long (past the task's hard time limit) is reconciled
# with the provider.
STUCK_AFTER = dt.timedelta(minutes=3)
JITTER_SECONDS = 10 * 60


@dataclass
class DispatchSummary:
    claimed: int = 0
    queued: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    expired: int = 0
    message_ids: list[int] = field(default_factory=list)


@lru_cache(maxsize=256)
def _profile_for_policy(policy_id: int, updated_at: dt.datetime) -> WindowProfile:
    return policy_window_profile(Policy.objects.get(pk=policy_id))


def invitation_zones_profile(invitation: Invitation) -> tuple[tuple[str, ...], WindowProfile]:
    policy = policy_for_client_id(invitation.client_id)
    zones = tuple(invitation.time_zones.split())
    return zones, _profile_for_policy(policy.pk, policy.updated_at)


def invitation_next_send_time(invitation: Invitation, *, after: dt.datetime) -> dt.datetime | None:
    zones, profile = invitation_zones_profile(invitation)
    if not zones:
        return after
    when = next_allowed(after, zones=zones, profile=profile, jitter_seconds=JITTER_SECONDS)
    if when is None or (invitation.expires_at and when >= invitation.expires_at):
        return None
    return when


def invitation_blocked_reason(invitation: Invitation, *, now: dt.datetime) -> str:
    """Why this invitation may not be sent now, whatever the window says: '' when it may."""
    if invitation.is_expired(now):
        return "expired"
    if OptOut.objects.filter(phone_e164=invitation.phone_e164, active=True).exists():
        return "opted_out"
    return ""


def _claim_ids(*, now: dt.datetime, batch_size: int) -> list[int]:
    """Claim up to `batch_size` due invitations for this transaction."""
    if connection.vendor == "postgresql":
        # SKIP LOCKED: concurrent dispatchers each take different rows and never wait for one
        # another. The rows stay locked until this transaction commits.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {Invitation._meta.db_table} SET status = %s, claimed_at = %s
                WHERE id IN (
                    SELECT id FROM {Invitation._meta.db_table}
                    WHERE status = %s AND send_after <= %s
                    ORDER BY send_after
                    LIMIT %s
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING id
                """,
                [InvitationStatus.SENDING, now, InvitationStatus.SCHEDULED, now, batch_size],
            )
            return [row[0] for row in cursor.fetchall()]
    # SQLite has one writer at a time; the guarded update makes a second claim of the same
    # row change nothing.
    ids = list(
        Invitation.objects.filter(status=InvitationStatus.SCHEDULED, send_after__lte=now)
        .order_by("send_after")
        .values_list("pk", flat=True)[:batch_size]
    )
    claimed = []
    for pk in ids:
        if Invitation.objects.filter(pk=pk, status=InvitationStatus.SCHEDULED).update(
            status=InvitationStatus.SENDING, claimed_at=now
        ):
            claimed.append(pk)
    return claimed


def invitations_dispatch_batch(
    *, now: dt.datetime, batch_size: int = 500, enqueue: bool = True
) -> DispatchSummary:
    """One claim of due invitations: re-check each, write its message, queue the sends."""
    summary = DispatchSummary()
    templates: dict[tuple, SmsTemplate] = {}
    with transaction.atomic():
        ids = _claim_ids(now=now, batch_size=batch_size)
        if not ids:
            return summary
        summary.claimed = len(ids)
        invitations = list(Invitation.objects.filter(pk__in=ids))
        opted_out = set(
            OptOut.objects.filter(
                phone_e164__in={i.phone_e164 for i in invitations}, active=True
            ).values_list("phone_e164", flat=True)
        )
        back_to_schedule: list[Invitation] = []
        cancelled: list[int] = []
        expired: list[int] = []
        to_send: list[SmsMessage] = []
        for invitation in invitations:
            if invitation.is_expired(now):
                expired.append(invitation.pk)
                continue
            if invitation.phone_e164 in opted_out:
                cancelled.append(invitation.pk)
                continue
            zones, profile = invitation_zones_profile(invitation)
            if zones and not is_allowed(now, zones=zones, profile=profile):
                invitation.send_after = invitation_next_send_time(invitation, after=now)
                if invitation.send_after is None:
                    expired.append(invitation.pk)
                else:
                    back_to_schedule.append(invitation)
                continue
            template = template_for(
                client_id=invitation.client_id,
                kind=SmsKind.INVITATION,
                language=invitation.language,
                cache=templates,
            )
            if template is None or template.paused:
                # A paused text (a carrier filtered it) holds its invitations for an hour at a
                # time until an administrator fixes it.
                invitation.send_after = invitation_next_send_time(
                    invitation, after=now + dt.timedelta(hours=1)
                )
                if invitation.send_after is None:
                    expired.append(invitation.pk)
                else:
                    back_to_schedule.append(invitation)
                continue
            to_send.append(
                SmsMessage(
                    invitation=invitation,
                    kind=SmsKind.INVITATION,
                    to=invitation.phone_e164,
                    body=render(template, token=invitation.token),
                    backend=settings.SMS_BACKEND,
                    created_at=now,
                    next_attempt_at=now + REQUEUE_AFTER,
                )
            )
        if back_to_schedule:
            for invitation in back_to_schedule:
                invitation.status = InvitationStatus.SCHEDULED
            Invitation.objects.bulk_update(back_to_schedule, ["status", "send_after"])
            summary.rescheduled = len(back_to_schedule)
        if cancelled:
            Invitation.objects.filter(pk__in=cancelled).update(status=InvitationStatus.CANCELLED)
            summary.cancelled = len(cancelled)
        if expired:
            Invitation.objects.filter(pk__in=expired).update(status=InvitationStatus.EXPIRED)
            summary.expired = len(expired)
        if to_send:
            # ignore_conflicts: an invitation given back to the schedule earlier already has
            # its (unique) invitation message; that pending row is reused below.
            SmsMessage.objects.bulk_create(to_send, ignore_conflicts=True)
            summary.message_ids = list(
                SmsMessage.objects.filter(
                    invitation_id__in=[m.invitation_id for m in to_send],
                    kind=SmsKind.INVITATION,
                    status=SmsStatus.PENDING,
                ).values_list("pk", flat=True)
            )
            summary.queued = len(summary.message_ids)
        if enqueue and summary.message_ids:
            _enqueue_after_commit(summary.message_ids)
    return summary


def _enqueue_after_commit(message_ids: Sequence[int]) -> None:
    from surveys.tasks import sms_send_task

    def enqueue() -> None:
        for message_id in message_ids:
            try:
                sms_send_task.delay(message_id)
            except Exception:
                # Redis unreachable: the rows stay pending and the requeue pass queues them
                # again once it is back. Nothing is lost.
                logger.exception("Could not queue SMS %s; it will be queued again", message_id)
                return

    # After commit: a worker must never pick up a message whose row it cannot see yet.
    transaction.on_commit(enqueue, robust=True)


def invitations_dispatch(
    *,
    now: dt.datetime | None = None,
    batch_size: int = 500,
    max_seconds: float | None = None,
    enqueue: bool = True,
) -> DispatchSummary:
    """Claim batches until nothing is due (or `max_seconds` have passed)."""
    total = DispatchSummary()
    started = time.monotonic()
    while True:
        batch = invitations_dispatch_batch(
            now=now or timezone.now(), batch_size=batch_size, enqueue=enqueue
        )
        total.claimed += batch.claimed
        total.queued += batch.queued
        total.rescheduled += batch.rescheduled
        total.cancelled += batch.cancelled
        total.expired += batch.expired
        if batch.claimed < batch_size:
            break
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
    return total


def messages_requeue(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Queue again the pending messages whose task never ran (a lost task, Redis down)."""
    from surveys.tasks import sms_send_task

    now = now or timezone.now()
    ids = list(
        SmsMessage.objects.filter(status=SmsStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return 0
    SmsMessage.objects.filter(pk__in=ids).update(next_attempt_at=now + REQUEUE_AFTER)
    queued = 0
    for message_id in ids:
        try:
            sms_send_task.delay(message_id)
        except Exception:
            logger.exception("Could not queue SMS %s; it will be queued again", message_id)
            break
        queued += 1
    return queued


def messages_reap(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Messages stuck in "sending" (a worker killed mid-send): the provider id decides. With
    an id, the message was sent; without one, ask the provider; only if it holds nothing does
    the message go back to pending to be sent (once)."""
    from surveys.channels.sms import _record_sent, sms_backend
    from surveys.twilio import TwilioError

    now = now or timezone.now()
    stuck = list(
        SmsMessage.objects.filter(
            status=SmsStatus.SENDING, sending_started_at__lt=now - STUCK_AFTER
        )[:limit]
    )
    returned = 0
    for message in stuck:
        if message.provider_sid:
            _record_sent_from_sid(message, now=now)
            continue
        try:
            found = sms_backend(message.backend).find_sent(message)
        except TwilioError:
            logger.warning("Provider unreachable reconciling SMS %s; will try again", message.pk)
            continue
        if found:
            from surveys.channels.sms import ProviderMessage

            _record_sent(message, ProviderMessage(sid=found.sid, status=found.status), now=now)
            continue
        returned += SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
            status=SmsStatus.PENDING, sending_started_at=None, next_attempt_at=now
        )
    return returned


def _record_sent_from_sid(message: SmsMessage, *, now: dt.datetime) -> None:
    with transaction.atomic():
        SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
            status=SmsStatus.QUEUED, sent_at=message.sent_at or now
        )
        if message.invitation_id and message.kind == SmsKind.INVITATION:
            Invitation.objects.filter(
                pk=message.invitation_id, status=InvitationStatus.SENDING
            ).update(status=InvitationStatus.SENT, sent_at=now)


def invitations_fall_back(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """SMS invitations with no answer after the policy's delay become CATI cases."""
    now = now or timezone.now()
    answered = Response.objects.filter(invitation=OuterRef("pk"))
    due = list(
        Invitation.objects.filter(
            status=InvitationStatus.SENT, fallback_at__lte=now, channel=Channel.SMS
        )
        .filter(~Exists(answered))
        .values_list("pk", flat=True)[:limit]
    )
    moved = 0
    for pk in due:
        moved += invitation_to_cati(
            invitation_id=pk, now=now, from_statuses=[InvitationStatus.SENT]
        )
    return moved


def invitation_to_cati(
    *, invitation_id: int, now: dt.datetime, from_statuses: Sequence[str]
) -> int:
    """Hand an invitation to the CATI queue (a fallback, or a landline at once). Returns 1 if
    it moved. The case is due at the debtor's next window opening."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
        if invitation is None or invitation.status not in from_statuses:
            return 0
        policy = policy_for_client_id(invitation.client_id)
        if Channel.CATI not in policy.channels:
            Invitation.objects.filter(pk=invitation.pk).update(status=InvitationStatus.FAILED)
            return 0
        due = invitation_next_send_time(invitation, after=now) or now
        Invitation.objects.filter(pk=invitation.pk).update(
            status=InvitationStatus.CATI,
            channel=Channel.CATI,
            expires_at=max(invitation.expires_at or now, due + policy.link_lifetime),
        )
        CatiCase.objects.get_or_create(
            invitation=invitation, defaults={"client_id": invitation.client_id, "due_at": due}
        )
    return 1


def invitations_expire(*, now: dt.datetime | None = None) -> int:
    """Sent SMS invitations past their link's lifetime, with no fallback, expire."""
    now = now or timezone.now()
    return Invitation.objects.filter(
        Q(status=InvitationStatus.SENT) | Q(status=InvitationStatus.SCHEDULED),
        expires_at__lte=now,
    ).update(status=InvitationStatus.EXPIRED)


def reminders_queue(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """At most one reminder per invitation, inside the window, before the link expires."""
    now = now or timezone.now()
    answered = Response.objects.filter(invitation=OuterRef("pk"))
    has_reminder = SmsMessage.objects.filter(invitation=OuterRef("pk"), kind=SmsKind.REMINDER)
    due = list(
        Invitation.objects.filter(
            status=InvitationStatus.SENT, reminder_at__lte=now, expires_at__gt=now
        )
        .filter(~Exists(answered), ~Exists(has_reminder))
        .order_by("reminder_at")[:limit]
    )
    templates: dict[tuple, SmsTemplate] = {}
    created: list[int] = []
    for invitation in due:
        zones, profile = invitation_zones_profile(invitation)
        if zones and not is_allowed(now, zones=zones, profile=profile):
            later = invitation_next_send_time(invitation, after=now)
            Invitation.objects.filter(pk=invitation.pk).update(reminder_at=later)
            continue
        if OptOut.objects.filter(phone_e164=invitation.phone_e164, active=True).exists():
            Invitation.objects.filter(pk=invitation.pk).update(reminder_at=None)
            continue
        template = template_for(
            client_id=invitation.client_id,
            kind=SmsKind.REMINDER,
            language=invitation.language,
            cache=templates,
        )
        if template is None or template.paused:
            continue
        message, made = SmsMessage.objects.get_or_create(
            invitation=invitation,
            kind=SmsKind.REMINDER,
            defaults={
                "to": invitation.phone_e164,
                "body": render(template, token=invitation.token),
                "backend": settings.SMS_BACKEND,
                "created_at": now,
                "next_attempt_at": now + REQUEUE_AFTER,
            },
        )
        if made:
            created.append(message.pk)
    if created:
        _enqueue_after_commit(created)
    return len(created)
