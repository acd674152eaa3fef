"""Inbound SMS: what a debtor's reply does.

The webhook stores the message (one INSERT, deduplicated on Twilio's MessageSid) and answers at
once; the work happens here, in a task queued after commit, or in the catch-up pass when the
broker was down. In order of precedence, a reply is:

1. an opt-out keyword ("STOP", "Basta", "baja."): the number is out for every client at once,
   with at most one confirmation, ever, per opt-out;
2. an opt-in keyword ("START"; "SI" / "YES" only from a number that is out);
3. a score from 0 to 10 ("9", " 9 ", "9/10"): the NPS answer to the most recent SMS invitation
   to that number;
4. other text: the reason, when the score is already there; and, whatever else it is, text
   that sounds like "stop writing to me" goes to the review queue for a supervisor, who opts
   the number out from admin.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys.keywords import (
    OPT_OUT_KEYWORDS,
    keyword_kind,
    keyword_language,
    normalise,
    parse_score,
    sounds_like_stop,
)
from surveys.models import (
    InboundMessage,
    Invitation,
    OptOut,
    OptOutEvent,
    Response,
    ResponseChannel,
    ReviewItem,
    SmsKind,
    SmsMessage,
    StatusEvent,
)
from surveys.optouts import is_opted_out, opt_in_record, opt_out_record
from surveys.responses import AlreadyAnswered, NotAnswerable, response_record

logger = logging.getLogger(__name__)

Kind = InboundMessage.Kind

# A pending message whose send task was lost is queued again by the requeue pass after this.
REQUEUE_AFTER = dt.timedelta(minutes=2)
# Webhook rows still unprocessed this long after they arrived lost their task (broker down, a
# worker killed): the catch-up pass processes them.
CATCH_UP_AFTER = dt.timedelta(minutes=1)


def provider_answered_keywords() -> frozenset[str]:
    """Keywords the provider answers itself, with its own confirmation: Twilio replies to its
    English defaults (and blocks the number), so our own confirmation would be a second one,
    and rejected with 21610 anyway. With Advanced Opt-Out configured for more keywords, list
    them in SMS_PROVIDER_OPT_OUT_KEYWORDS."""
    if settings.SMS_BACKEND != "twilio":
        return frozenset()
    configured = getattr(settings, "SMS_PROVIDER_OPT_OUT_KEYWORDS", None)
    if configured is None:
        return OPT_OUT_KEYWORDS["en"]
    return frozenset(str(word).upper() for word in configured)


def inbound_record(
    params: Mapping[str, str], *, now: dt.datetime | None = None
) -> tuple[InboundMessage, bool]:
    """Store an inbound webhook once per MessageSid. Returns (row, created)."""
    sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
    if not sid:
        raise ValueError("An inbound message needs a MessageSid.")
    try:
        # The savepoint keeps an outer transaction usable when the INSERT hits the unique
        # MessageSid (a replay); the common case costs one INSERT and no SELECT.
        with transaction.atomic():
            row = InboundMessage.objects.create(
                message_sid=sid[:64],
                from_number=(params.get("From") or "").strip()[:20],
                to_number=(params.get("To") or "").strip()[:20],
                body=params.get("Body") or "",
                received_at=now or timezone.now(),
            )
        return row, True
    except IntegrityError:
        return InboundMessage.objects.get(message_sid=sid[:64]), False


def latest_sms_invitation(phone_e164: str) -> Invitation | None:
    """The invitation a reply from this number answers: the most recent one sent to it by SMS."""
    return (
        Invitation.objects.filter(phone_e164=phone_e164, sent_at__isnull=False)
        .order_by("-sent_at", "-pk")
        .first()
    )


def inbound_process(*, inbound_id: int, now: dt.datetime | None = None) -> str | None:
    """Act on one inbound message, once. Earlier unprocessed messages from the same number go
    first, so "9" then "Molto gentile" keep their order even if their tasks did not. Returns
    the kind it was given, or None when it had already been processed."""
    row = (
        InboundMessage.objects.filter(pk=inbound_id)
        .values("from_number", "received_at", "processed_at")
        .first()
    )
    if row is None or row["processed_at"] is not None:
        return None
    earlier = list(
        InboundMessage.objects.filter(
            from_number=row["from_number"],
            processed_at__isnull=True,
            received_at__lt=row["received_at"],
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:20]
    )
    for pk in earlier:
        _process_one(pk, now=now)
    return _process_one(inbound_id, now=now)


def _process_one(inbound_id: int, *, now: dt.datetime | None) -> str | None:
    with transaction.atomic():
        # The guarded stamp makes one run the owner: a concurrent run (a redelivered task, the
        # catch-up pass) waits on this row's lock (PostgreSQL) or the write lock (SQLite), then
        # finds it processed. A crash rolls the stamp back with the work, so it is retried.
        claimed = InboundMessage.objects.filter(pk=inbound_id, processed_at__isnull=True).update(
            processed_at=timezone.now()
        )
        if not claimed:
            return None
        inbound = InboundMessage.objects.get(pk=inbound_id)
        # What the debtor did happened when the message arrived, even if processed later.
        kind, invitation = _interpret(inbound, now=now or inbound.received_at)
        InboundMessage.objects.filter(pk=inbound_id).update(kind=kind, invitation=invitation)
    logger.info("Inbound %s processed as %s", inbound.message_sid, kind)
    return kind


def _interpret(inbound: InboundMessage, *, now: dt.datetime) -> tuple[str, Invitation | None]:
    phone = inbound.from_number
    body = inbound.body or ""
    invitation = latest_sms_invitation(phone)
    opted_out = is_opted_out(phone)
    word = normalise(body)

    keyword = keyword_kind(body, opted_out=opted_out)
    if keyword == "opt_out":
        opt_out, _changed = opt_out_record(
            phone_e164=phone,
            source=OptOutEvent.Source.SMS_KEYWORD,
            detail=f"Replied {word} ({inbound.message_sid})",
            now=now,
        )
        opt_out_confirm(opt_out=opt_out, keyword=word, invitation=invitation, now=now)
        return Kind.OPT_OUT, invitation
    if keyword == "opt_in":
        opt_in_record(
            phone_e164=phone,
            source=OptOutEvent.Source.SMS_KEYWORD,
            detail=f"Replied {word} ({inbound.message_sid})",
            now=now,
        )
        return Kind.OPT_IN, invitation

    score = parse_score(body)
    if score is not None:
        if invitation is not None and _record(invitation, {"nps": score}, now=now):
            return Kind.SCORE, invitation
        return Kind.OTHER, invitation

    kind: str = Kind.OTHER
    if sounds_like_stop(body) and not opted_out:
        ReviewItem.objects.get_or_create(inbound=inbound, defaults={"created_at": now})
        kind = Kind.REVIEW
    text = body.strip()
    if text and invitation is not None:
        response = Response.objects.filter(invitation=invitation).only("score", "complete").first()
        scored = response is not None and response.score is not None and not response.complete
        # The text after a score is the reason; it completes the answer. Stop-like text is kept
        # as the reason too (it is the debtor's word on the contact), and still reviewed.
        if scored and _record(invitation, {"reason": text}, now=now, complete=True):
            kind = Kind.REVIEW if kind == Kind.REVIEW else Kind.REASON
    return kind, invitation


def _record(
    invitation: Invitation, answers: dict[str, object], *, now: dt.datetime, complete: bool = False
) -> bool:
    try:
        response_record(
            invitation_id=invitation.pk,
            channel=ResponseChannel.SMS_REPLY,
            answers=answers,
            complete=complete,
            now=now,
        )
    except (AlreadyAnswered, NotAnswerable, ValidationError) as exc:
        logger.info("SMS reply to invitation %s not recorded: %r", invitation.pk, exc)
        return False
    return True


def opt_out_confirm(
    *, opt_out: OptOut, keyword: str, invitation: Invitation | None, now: dt.datetime
) -> SmsMessage | None:
    """Send the one confirmation an opt-out gets, if it has not had it. The flag is taken with a
    guarded update, so two STOPs (or a STOP and a reviewed message) confirm once."""
    from surveys.channels.sms import render, template_for

    taken = OptOut.objects.filter(pk=opt_out.pk, active=True, confirmation_sent=False).update(
        confirmation_sent=True
    )
    if not taken:
        return None
    if keyword in provider_answered_keywords():
        # The provider has already replied to this keyword: ours would be the second.
        return None
    language = keyword_language(keyword) or (invitation.language if invitation else "") or "en"
    template = template_for(
        client_id=invitation.client_id if invitation else None,
        kind=SmsKind.CONFIRMATION,
        language=language,
        cache=None,
    )
    if template is None or template.paused:
        logger.warning("No confirmation text in %s: opt-out of %s not confirmed", language, opt_out)
        return None
    # Not linked to the invitation: a failed confirmation must not fail or move the invitation.
    message = SmsMessage.objects.create(
        kind=SmsKind.CONFIRMATION,
        to=opt_out.phone_e164,
        body=render(template, token=None),
        backend=settings.SMS_BACKEND,
        created_at=now,
        next_attempt_at=timezone.now() + REQUEUE_AFTER,
    )
    transaction.on_commit(lambda: _queue_send(message.pk), robust=True)
    return message


def _queue_send(message_id: int) -> None:
    from surveys.tasks import sms_send_task

    try:
        sms_send_task.delay(message_id)
    except Exception:
        # Broker down (or, in eager mode, the send itself failed): the row stays pending and
        # the requeue pass sends it.
        logger.exception("Could not queue SMS %s; the requeue pass will", message_id)


def review_resolve(
    *, review_id: int, opt_out: bool, user_id: int | None, now: dt.datetime | None = None
) -> bool:
    """A supervisor's decision on free text in the review queue: opt the number out (for every
    client, with the one confirmation) or dismiss it. Returns False if it was already decided."""
    now = now or timezone.now()
    with transaction.atomic():
        state = ReviewItem.State.OPTED_OUT if opt_out else ReviewItem.State.DISMISSED
        decided = ReviewItem.objects.filter(pk=review_id, state=ReviewItem.State.OPEN).update(
            state=state, resolved_at=now, resolved_by_id=user_id
        )
        if not decided:
            return False
        if opt_out:
            item = ReviewItem.objects.select_related("inbound__invitation").get(pk=review_id)
            row, _ = opt_out_record(
                phone_e164=item.inbound.from_number,
                source=OptOutEvent.Source.SMS_REVIEW,
                # A reference, not the free text: opt-out evidence outlives the text's retention.
                detail=f"Review {review_id} of {item.inbound.message_sid}",
                now=now,
            )
            opt_out_confirm(opt_out=row, keyword="", invitation=item.inbound.invitation, now=now)
    return True


def webhooks_process_pending(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """The catch-up pass: webhook rows stored but never processed (their task was lost)."""
    from surveys.status import status_apply

    now = now or timezone.now()
    cutoff = now - CATCH_UP_AFTER
    done = {"inbound": 0, "status": 0, "errors": 0}
    inbound_ids = list(
        InboundMessage.objects.filter(processed_at__isnull=True, received_at__lte=cutoff)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in inbound_ids:
        try:
            if inbound_process(inbound_id=pk):
                done["inbound"] += 1
        except Exception:
            # One bad row must not stop the pass; it stays unprocessed and is retried.
            logger.exception("Inbound %s could not be processed", pk)
            done["errors"] += 1
    event_ids = list(
        StatusEvent.objects.filter(processed_at__isnull=True, received_at__lte=cutoff)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in event_ids:
        try:
            if status_apply(event_id=pk):
                done["status"] += 1
        except Exception:
            logger.exception("Status event %s could not be applied", pk)
            done["errors"] += 1
    return done
