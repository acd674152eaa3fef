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
from typing import Protocol

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from surveys.channels.sms import render, template_for
from surveys.models import (
    CatiCase,
    Channel,
    Invitation,
    InvitationStatus,
    OptOut,
    Response,
    SmsKind,
    SmsMessage,
    SmsStatus,
    SmsTemplate,
)
from surveys.pg import server_binding_cursor
from surveys.policies import client_window_profile, policy_for_client_id
from surveys.windows import WindowProfile, is_allowed, next_allowed

logger = logging.getLogger(__name__)

# A message still pending this long after it was queued lost its task (a dead worker, or
# Redis down when it was queued): queue it again. The send task is idempotent.
REQUEUE_AFTER = dt.timedelta(minutes=2)
# A message stuck in "sending" this long (past the task's hard time limit) is reconciled
# with the provider.
STUCK_AFTER = dt.timedelta(minutes=3)
JITTER_SECONDS = 10 * 60
TEMPLATE_CACHE_SECONDS = 10.0


@dataclass
class DispatchSummary:
    claimed: int = 0
    queued: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    expired: int = 0
    message_ids: list[int] = field(default_factory=list)


class Schedulable(Protocol):
    """What scheduling needs of an invitation: an `Invitation`, or a claimed row."""

    client_id: int
    time_zones: str
    expires_at: dt.datetime | None


def invitation_zones_profile(invitation: Schedulable) -> tuple[tuple[str, ...], WindowProfile]:
    zones = tuple(invitation.time_zones.split())
    return zones, client_window_profile(invitation.client_id)


def invitation_next_send_time(invitation: Schedulable, *, after: dt.datetime) -> dt.datetime | None:
    zones, profile = invitation_zones_profile(invitation)
    if not zones:
        return after
    when = next_allowed(after, zones=zones, profile=profile, jitter_seconds=JITTER_SECONDS)
    if when is None or (invitation.expires_at and when >= invitation.expires_at):
        return None
    return when


@dataclass
class _Claimed:
    """A claimed invitation, with what the re-checks need: its existing invitation message
    (given back to the schedule earlier, or retried after 30003) and whether its number is
    opted out."""

    id: int
    client_id: int
    phone_e164: str
    language: str
    time_zones: str
    token: str | None
    expires_at: dt.datetime | None
    message_id: int | None
    message_status: str | None
    provider_sid: str | None
    opted_out: bool
    send_after: dt.datetime | None = None


def _claim(*, now: dt.datetime, batch_size: int, careful: bool = False) -> list[_Claimed]:
    """Claim up to `batch_size` due invitations for this transaction (scheduled -> sending)."""
    if connection.vendor == "postgresql":
        return _claim_postgresql(now=now, batch_size=batch_size, careful=careful)
    # SQLite has one writer at a time; the guarded update makes a second claim of the same
    # row change nothing. Simple rather than fast: SQLite is the development database.
    ids = list(
        Invitation.objects.filter(status=InvitationStatus.SCHEDULED, send_after__lte=now)
        .order_by("send_after")
        .values_list("pk", flat=True)[:batch_size]
    )
    claimed = [
        pk
        for pk in ids
        if Invitation.objects.filter(pk=pk, status=InvitationStatus.SCHEDULED).update(
            status=InvitationStatus.SENDING, claimed_at=now
        )
    ]
    invitations = list(Invitation.objects.filter(pk__in=claimed))
    messages = _existing_messages(claimed)
    opted_out = _opted_out({i.phone_e164 for i in invitations})
    claimed_rows = []
    for i in invitations:
        message_id, message_status, provider_sid = messages.get(i.pk, (None, None, None))
        claimed_rows.append(
            _Claimed(
                id=i.pk,
                client_id=i.client_id,
                phone_e164=i.phone_e164,
                language=i.language,
                time_zones=i.time_zones,
                token=i.token,
                expires_at=i.expires_at,
                message_id=message_id,
                message_status=message_status,
                provider_sid=provider_sid,
                opted_out=i.phone_e164 in opted_out,
            )
        )
    return claimed_rows


def _claim_postgresql(*, now: dt.datetime, batch_size: int, careful: bool) -> list[_Claimed]:
    invitation = Invitation._meta.db_table
    optout = OptOut._meta.db_table
    # SKIP LOCKED: concurrent dispatchers each take different rows and never wait for one
    # another; the rows stay locked until this transaction commits. One statement claims the
    # batch and returns what the re-checks need: the number's opt-out (a join, so it stays one
    # pass over the opt-outs even while their statistics lag behind), and whether the row had
    # been claimed before, since only such an invitation (given back to the schedule, or
    # retried after 30003) can already have its message.
    with server_binding_cursor() as cursor:
        cursor.execute(
            f"""
            WITH claimed AS (
                UPDATE {invitation} AS inv SET status = %s, claimed_at = %s
                FROM (
                    SELECT id, claimed_at FROM {invitation}
                    WHERE status = %s AND send_after <= %s
                    ORDER BY send_after
                    LIMIT %s
                    FOR UPDATE SKIP LOCKED
                ) AS due
                WHERE inv.id = due.id
                RETURNING inv.id, inv.client_id, inv.phone_e164, inv.language, inv.time_zones,
                          inv.token, inv.expires_at, due.claimed_at IS NOT NULL AS claimed_before
            )
            SELECT c.id, c.client_id, c.phone_e164, c.language, c.time_zones, c.token,
                   c.expires_at, c.claimed_before, o.id IS NOT NULL
            FROM claimed c
            LEFT JOIN {optout} o ON o.phone_e164 = c.phone_e164 AND o.active
            """,
            [str(InvitationStatus.SENDING), now, str(InvitationStatus.SCHEDULED), now, batch_size],
            binary=True,
        )
        rows = cursor.fetchall()
    # Careful: look for a message behind every claimed invitation, not only those claimed
    # before (see invitations_dispatch_batch).
    before = [row[0] for row in rows if row[7] or careful]
    messages = _existing_messages(before) if before else {}
    claimed = []
    for pk, client_id, phone, language, zones, token, expires_at, _, opted_out in rows:
        message_id, message_status, provider_sid = messages.get(pk, (None, None, None))
        claimed.append(
            _Claimed(
                id=pk,
                client_id=client_id,
                phone_e164=phone,
                language=language,
                time_zones=zones,
                token=token,
                expires_at=expires_at,
                message_id=message_id,
                message_status=message_status,
                provider_sid=provider_sid,
                opted_out=opted_out,
            )
        )
    return claimed


def _existing_messages(invitation_ids: Sequence[int]) -> dict[int, tuple[int, str, str | None]]:
    """{invitation id: (message id, status, provider sid)} of their invitation messages."""
    return {
        row[0]: row[1:]
        for row in SmsMessage.objects.filter(
            invitation_id__in=list(invitation_ids), kind=SmsKind.INVITATION
        ).values_list("invitation_id", "pk", "status", "provider_sid")
    }


def _opted_out(phones: set[str]) -> set[str]:
    return set(
        OptOut.objects.filter(phone_e164__in=list(phones), active=True).values_list(
            "phone_e164", flat=True
        )
    )


class TemplateCache(dict[tuple, SmsTemplate]):
    """The texts one dispatcher run has looked up, forgotten every TEMPLATE_CACHE_SECONDS so
    that a text paused (or fixed) in the meantime applies within seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()

    def fresh(self) -> TemplateCache:
        if time.monotonic() - self.started > TEMPLATE_CACHE_SECONDS:
            self.clear()
            self.started = time.monotonic()
        return self


def invitations_dispatch_batch(
    *,
    now: dt.datetime,
    batch_size: int = 500,
    enqueue: bool = True,
    templates: TemplateCache | None = None,
) -> DispatchSummary:
    """One claim of due invitations: re-check each, write its message, queue the sends."""
    templates = TemplateCache() if templates is None else templates.fresh()
    try:
        return _dispatch_batch(
            now=now, batch_size=batch_size, enqueue=enqueue, templates=templates, careful=False
        )
    except (IntegrityError, psycopg.IntegrityError):
        # An invitation claimed for the first time already had its message, which only the
        # dispatcher writes: the batch rolled back whole. Claim again, looking for a message
        # behind every invitation this time, so such a row is reused instead of failing the
        # batch for ever.
        logger.warning("A first-time claim found an invitation message already there")
        return _dispatch_batch(
            now=now, batch_size=batch_size, enqueue=enqueue, templates=templates, careful=True
        )


def _dispatch_batch(
    *, now: dt.datetime, batch_size: int, enqueue: bool, templates: TemplateCache, careful: bool
) -> DispatchSummary:
    summary = DispatchSummary()
    # Within one batch `now` is fixed, so the window answer depends only on the zones and the
    # policy: computed once per pair, not once per invitation.
    allowed: dict[tuple[int, str], bool] = {}
    with transaction.atomic():
        invitations = _claim(now=now, batch_size=batch_size, careful=careful)
        if not invitations:
            return summary
        summary.claimed = len(invitations)
        back_to_schedule: list[_Claimed] = []
        cancelled: list[int] = []
        expired: list[int] = []
        existing: list[_Claimed] = []
        to_send: list[tuple[int, str, str]] = []  # (invitation id, to, body)
        for invitation in invitations:
            if invitation.expires_at is not None and now >= invitation.expires_at:
                expired.append(invitation.id)
                continue
            if invitation.opted_out:
                cancelled.append(invitation.id)
                continue
            key = (invitation.client_id, invitation.time_zones)
            if key not in allowed:
                zones, profile = invitation_zones_profile(invitation)
                allowed[key] = not zones or is_allowed(now, zones=zones, profile=profile)
            if not allowed[key]:
                invitation.send_after = invitation_next_send_time(invitation, after=now)
                if invitation.send_after is None:
                    expired.append(invitation.id)
                else:
                    back_to_schedule.append(invitation)
                continue
            if invitation.message_id is not None:
                # Given back to the schedule earlier (window closed at send time, a retry
                # after 30003): its invitation message is reused, never a second one.
                existing.append(invitation)
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
                    expired.append(invitation.id)
                else:
                    back_to_schedule.append(invitation)
                continue
            to_send.append(
                (invitation.id, invitation.phone_e164, render(template, token=invitation.token))
            )
        if back_to_schedule:
            Invitation.objects.bulk_update(
                [
                    Invitation(pk=i.id, status=InvitationStatus.SCHEDULED, send_after=i.send_after)
                    for i in back_to_schedule
                ],
                ["status", "send_after"],
            )
            summary.rescheduled = len(back_to_schedule)
        if cancelled:
            Invitation.objects.filter(pk__in=cancelled).update(status=InvitationStatus.CANCELLED)
            summary.cancelled = len(cancelled)
        if expired:
            Invitation.objects.filter(pk__in=expired).update(status=InvitationStatus.EXPIRED)
            summary.expired = len(expired)
        with_message = {i.id for i in invitations if i.message_id is not None}
        stopped = [pk for pk in (*cancelled, *expired) if pk in with_message]
        if stopped:
            SmsMessage.objects.filter(
                invitation_id__in=stopped, kind=SmsKind.INVITATION, status=SmsStatus.PENDING
            ).update(status=SmsStatus.CANCELLED, error_message="not sent: cancelled or expired")
        created = _messages_create(to_send, now=now) if to_send else []
        reused = _existing_settle(existing, now=now)
        summary.message_ids = reused + created
        summary.queued = len(summary.message_ids)
        if enqueue and summary.message_ids:
            _enqueue_after_commit(summary.message_ids)
    return summary


def _existing_settle(existing: Sequence[_Claimed], *, now: dt.datetime) -> list[int]:
    """Claimed invitations that already have their invitation message: bring each up to date;
    return the pending messages to queue again."""
    reused: list[int] = []
    already_sent: list[int] = []
    failed: list[int] = []
    for invitation in existing:
        if invitation.provider_sid:
            # Sent already (a stale task sent it while the invitation waited): nothing more
            # to send, only the invitation to bring up to date.
            already_sent.append(invitation.id)
        elif invitation.message_status == SmsStatus.PENDING:
            assert invitation.message_id is not None
            reused.append(invitation.message_id)
        elif invitation.message_status != SmsStatus.SENDING:
            # Cancelled or failed for good: one invitation message per invitation, ever (a
            # database constraint), so there is nothing left to send.
            failed.append(invitation.id)
        # In "sending" the reaper decides, and marks the invitation sent if it was.
    if failed:
        Invitation.objects.filter(pk__in=failed).update(status=InvitationStatus.FAILED)
    if already_sent:
        Invitation.objects.filter(pk__in=already_sent).update(
            status=InvitationStatus.SENT, sent_at=now
        )
    if reused:
        # Due again now: if this enqueue is lost, the requeue pass finds the row.
        SmsMessage.objects.filter(pk__in=reused, status=SmsStatus.PENDING).update(
            next_attempt_at=now + REQUEUE_AFTER
        )
    return reused


def _messages_create(rows: Sequence[tuple[int, str, str]], *, now: dt.datetime) -> list[int]:
    """Write the pending invitation messages; return their ids. An invitation that has one
    already breaks the one-per-invitation constraint: IntegrityError."""
    if connection.vendor == "postgresql":
        # One INSERT from three arrays: the ORM's bulk_create spends more time preparing 500
        # model instances than PostgreSQL spends storing them.
        qn = connection.ops.quote_name
        ids, tos, bodies = (list(column) for column in zip(*rows, strict=True))
        with server_binding_cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {SmsMessage._meta.db_table}
                    (invitation_id, {qn("kind")}, {qn("to")}, body, status, backend,
                     error_message, attempts, retried, next_attempt_at, created_at)
                SELECT u.invitation_id, %s, u.recipient, u.body, %s, %s, '', 0, false, %s, %s
                FROM unnest(%s::bigint[], %s::text[], %s::text[])
                    AS u(invitation_id, recipient, body)
                RETURNING id
                """,
                [
                    str(SmsKind.INVITATION),
                    str(SmsStatus.PENDING),
                    settings.SMS_BACKEND,
                    now + REQUEUE_AFTER,
                    now,
                    ids,
                    tos,
                    bodies,
                ],
            )
            return [row[0] for row in cursor.fetchall()]
    messages = SmsMessage.objects.bulk_create(
        [
            SmsMessage(
                invitation_id=invitation_id,
                kind=SmsKind.INVITATION,
                to=to,
                body=body,
                backend=settings.SMS_BACKEND,
                created_at=now,
                next_attempt_at=now + REQUEUE_AFTER,
            )
            for invitation_id, to, body in rows
        ]
    )
    return [m.pk for m in messages]


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
    templates = TemplateCache()
    while True:
        batch = invitations_dispatch_batch(
            now=now or timezone.now(), batch_size=batch_size, enqueue=enqueue, templates=templates
        )
        total.claimed += batch.claimed
        total.queued += batch.queued
        total.rescheduled += batch.rescheduled
        total.cancelled += batch.cancelled
        total.expired += batch.expired
        # Stop on an empty claim, not a short one: a batch can come back short while more
        # rows are due (rows another dispatcher holds are skipped, not waited for).
        if batch.claimed == 0:
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
