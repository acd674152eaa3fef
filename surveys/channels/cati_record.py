"""Recording a call: the caller's outcome or the debtor's answers, on the case the caller
holds (`surveys.channels.cati` claims and leases the cases). A refusal says why nothing was
saved, and never when something was: a double submit is "already saved", and answers keyed
after a hold ran out mid-call are kept when nobody else took the case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from surveys.channels.cati import (
    COMPLETE_CODE,
    DONE,
    HELD,
    LEASE,
    PARTIAL_CODE,
    QUEUED,
    AnswersInvalid,
    CaseNotHeld,
    CatiError,
    DispositionResult,
    case_close,
    case_requeue,
    count_attempt,
    disposition_get,
    end_attempt,
    retry_schedule,
)
from surveys.channels.cati_rules import CaseRules, case_rules
from surveys.ledger import CALLBACK_CODE
from surveys.models import (
    CallAttempt,
    CatiCase,
    Disposition,
    InvitationStatus,
    OptOutEvent,
    Response,
    ResponseChannel,
)
from surveys.optouts import opt_out_record
from surveys.responses import AlreadyAnswered, NotAnswerable, response_record

# --- recording ----------------------------------------------------------------------------------


def _held_case(
    *, case_id: int, caller: AbstractBaseUser, now: dt.datetime, answers: bool = False
) -> CatiCase:
    """The case, locked, if this caller holds it; otherwise a refusal saying why. With
    `answers` (the debtor's answers being saved), a hold that ran out during the call is taken
    back when nobody else has the case (`_retake_after_lost_hold`)."""
    try:
        case = (
            CatiCase.objects.select_for_update(of=("self",))
            .select_related("invitation")
            .get(pk=case_id)
        )
    except CatiCase.DoesNotExist:
        raise CaseNotHeld("There is no such case. Nothing was saved.") from None
    if case.status == HELD and case.held_by_id == caller.pk:
        case.lease_expires_at = now + LEASE
        return case
    if case.status == HELD:
        raise CaseNotHeld("Another caller holds this case now. Nothing was saved.")
    if answers and case.status == QUEUED and _retake_after_lost_hold(case, caller=caller, now=now):
        return case
    already = _just_recorded_by(case, caller=caller, now=now)
    if already:
        raise CaseNotHeld(already)
    if case.status == DONE:
        raise CaseNotHeld("This case is closed. Nothing was saved.")
    raise CaseNotHeld(
        "Your hold on this case ran out and it went back to the queue. Nothing was saved."
    )


# How long after losing a hold a caller may still save what the debtor said on that call.
RETAKE_AFTER_LOST_HOLD = dt.timedelta(minutes=30)
RETAKEN_NOTE = "The caller's hold ran out during the call; the caller saved it afterwards"


def _retake_after_lost_hold(case: CatiCase, *, caller: AbstractBaseUser, now: dt.datetime) -> bool:
    """A long call outlived the caller's hold: the case went back to the queue (its attempt
    counted as unanswered) while the debtor was still talking. If nobody has taken it since,
    the caller takes it back and what they key is saved; the lost attempt stops counting, so
    the call counts once. False, changing nothing, otherwise."""
    last = CallAttempt.objects.filter(case=case).order_by("-id").first()
    if (
        last is None
        or not last.lease_lost
        or last.caller_id != caller.pk
        or now - (last.ended_at or last.started_at) > RETAKE_AFTER_LOST_HOLD
    ):
        return False
    case.status = HELD
    case.held_by_id = caller.pk
    case.lease_expires_at = now + LEASE
    case.attempts = max(0, case.attempts - 1)
    case.save(update_fields=["status", "held_by", "lease_expires_at", "attempts"])
    CallAttempt.objects.filter(pk=last.pk).update(note=RETAKEN_NOTE)
    return True


# A second press of the same button arrives within seconds of the first.
DOUBLE_SUBMIT = dt.timedelta(minutes=2)


def _just_recorded_by(case: CatiCase, *, caller: AbstractBaseUser, now: dt.datetime) -> str:
    """What this caller recorded on the case a moment ago, when a second submit of the same
    form finds it already released: "already saved", not a false "nothing was saved"."""
    last = (
        CallAttempt.objects.filter(case=case, disposition__isnull=False)
        .select_related("disposition")
        .order_by("-id")
        .first()
    )
    if last is None or last.caller_id != caller.pk or last.disposition is None:
        return ""
    if now - (last.ended_at or last.started_at) > DOUBLE_SUBMIT:
        return ""
    return f"Already saved a moment ago: {last.disposition.label}. Nothing more was stored."


def cati_callback_validate(
    *, case: CatiCase, rules: CaseRules, callback_at: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """A call-back time the debtor asked for: in the future, inside their window, before the
    case's deadline. Raises CatiError with what to change."""
    if callback_at is None:
        raise CatiError(
            "Give the date and time the debtor asked to be called back.", field="callback"
        )
    if callback_at.tzinfo is None:
        raise CatiError("The call-back time needs a time zone.", field="callback")
    if callback_at <= now:
        raise CatiError(
            "That call-back time has already passed: choose a later time.", field="callback"
        )
    if not rules.allowed(callback_at):
        raise CatiError(
            f"{callback_at.astimezone(rules.zone):%H:%M} is outside the hours the debtor may "
            f"be called. {rules.local_day_hours(callback_at)}",
            field="callback",
        )
    first = case.first_attempt_at or now
    deadline = first + dt.timedelta(days=rules.policy.cati_max_days)
    if callback_at >= deadline:
        raise CatiError(
            f"This case may be called until {deadline.astimezone(rules.zone):%A %d %B %H:%M}; "
            "choose an earlier call-back.",
            field="callback",
        )
    return callback_at


def cati_record_disposition(
    *,
    case_id: int,
    caller: AbstractBaseUser,
    code: str,
    note: str = "",
    callback_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> DispositionResult:
    """Record how a call ended (anything but an interview, which `cati_record_answers`
    records). The case is closed, booked for a call-back, or due again after the retry delay."""
    now = now or timezone.now()
    code = (code or "").strip()
    if not code:
        raise CatiError("Choose a disposition.", field="disposition")
    disposition = Disposition.objects.filter(code=code).order_by().first()
    if disposition is None:
        raise CatiError(f"Unknown disposition {code!r}.", field="disposition")
    if disposition.aapor_class in ("I", "P"):
        raise CatiError(
            "Key the answers to record an interview (complete, or partial after the score).",
            field="disposition",
        )
    note = (note or "").strip()[:300]
    with transaction.atomic():
        case = _held_case(case_id=case_id, caller=caller, now=now)
        rules = case_rules(case)
        is_callback = disposition.code == CALLBACK_CODE
        if is_callback:
            callback_at = cati_callback_validate(
                case=case, rules=rules, callback_at=callback_at, now=now
            )
            if (
                disposition.counts_as_attempt
                and case.attempts + 1 >= rules.policy.cati_max_attempts
            ):
                raise CatiError(
                    f"This is the last attempt allowed ({rules.policy.cati_max_attempts}): a "
                    "call-back cannot be booked. Record how the call ended instead.",
                    field="callback",
                )
        attempt = end_attempt(
            case, caller_id=caller.pk, now=now, disposition=disposition, note=note
        )
        count_attempt(
            case, started_at=attempt.started_at, rules=rules, counts=disposition.counts_as_attempt
        )
        if disposition.opt_out:
            case_close(
                case, now=now, final=disposition, invitation_status=InvitationStatus.CANCELLED
            )
            opt_out_record(
                phone_e164=case.invitation.phone_e164,
                source=OptOutEvent.Source.CATI_DNC,
                detail=f"CATI case {case.pk}: {note}"[:300],
                now=now,
            )
            return DispositionResult(
                case.pk,
                disposition,
                True,
                None,
                "Do not call: the number will not be called again for any client.",
            )
        if is_callback:
            assert callback_at is not None
            case.callback_at = callback_at
            case.callback_note = note
            case_requeue(case, due_at=callback_at)
            local = callback_at.astimezone(rules.zone)
            return DispositionResult(
                case.pk,
                disposition,
                False,
                callback_at,
                f"Call-back booked for {local:%A %d %B at %H:%M} (debtor's time).",
            )
        case.callback_at = None
        due = retry_schedule(
            case, disposition=disposition, rules=rules, now=now, attempt_started=attempt.started_at
        )
        if due is None:
            case_close(case, now=now, final=disposition)
            return DispositionResult(
                case.pk, disposition, True, None, f"{disposition.label}: the case is closed."
            )
        case_requeue(case, due_at=due)
        local = due.astimezone(rules.zone)
        return DispositionResult(
            case.pk,
            disposition,
            False,
            due,
            f"{disposition.label}: due again {local:%A %d %B from %H:%M} (debtor's time).",
        )


def cati_record_answers(
    *,
    case_id: int,
    caller: AbstractBaseUser,
    answers: Mapping[str, Any],
    complete: bool,
    note: str = "",
    now: dt.datetime | None = None,
) -> Response:
    """Store the answers the caller keyed: the same response record the web page makes, with
    channel "cati" and the caller. Complete, or partial (the score given, then the debtor
    stopped). Either ends the case."""
    now = now or timezone.now()
    score = answers.get("nps")
    if score is None or (isinstance(score, str) and not score.strip()):
        raise AnswersInvalid(
            {
                "nps": [
                    "Key the score (0 to 10). If the debtor stopped before giving one, record "
                    "a break-off instead."
                ]
            }
        )
    with transaction.atomic():
        case = _held_case(case_id=case_id, caller=caller, now=now, answers=True)
        rules = case_rules(case)
        try:
            recorded = response_record(
                invitation_id=case.invitation_id,
                channel=ResponseChannel.CATI,
                answers=answers,
                complete=complete,
                caller_id=int(caller.pk),
                now=now,
            )
        except ValidationError as exc:
            raise AnswersInvalid(
                {k: list(v) for k, v in exc.message_dict.items()}
                if hasattr(exc, "error_dict")
                else {"__all__": exc.messages}
            ) from exc
        except AlreadyAnswered as exc:
            raise CatiError("This debtor has already answered this survey.") from exc
        except NotAnswerable as exc:
            raise CatiError("This survey can no longer be answered.") from exc
        disposition = disposition_get(COMPLETE_CODE if complete else PARTIAL_CODE)
        attempt = end_attempt(
            case,
            caller_id=caller.pk,
            now=now,
            disposition=disposition,
            note=(note or "").strip()[:300],
        )
        # response_record closed the case row already; reload what it wrote before saving ours.
        case.refresh_from_db(fields=["status", "closed_at", "held_by", "lease_expires_at"])
        count_attempt(case, started_at=attempt.started_at, rules=rules)
        case.final_disposition = disposition
        case.callback_at = None
        case.status = DONE
        case.closed_at = case.closed_at or now
        case.held_by = None
        case.lease_expires_at = None
        case.save()
        return recorded.response
