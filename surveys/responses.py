"""Recording answers: one response per invitation, whatever the channel (web page, SMS reply,
CATI), kept on the server as it is given so a debtor who leaves can resume.

Concurrency: the response row is created with the invitation locked (`select_for_update`), and
`Response.invitation` is one-to-one, so two submits (two tabs, a double tap, a race between an
SMS reply and the page) can never make two responses; the second finds it answered.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from collections_link.models import Contact
from surveys.definitions import Question
from surveys.models import (
    CatiCase,
    CatiCaseStatus,
    Channel,
    Invitation,
    InvitationStatus,
    Response,
    ResponseChannel,
    SurveyVersion,
)
from surveys.pg import server_binding_cursor

REASON_MAX_CHARS = 2000


class AlreadyAnswered(Exception):
    """The invitation already holds a complete response (or the question was answered)."""


class NotAnswerable(Exception):
    """The invitation is expired, cancelled or otherwise closed."""


@dataclass(frozen=True)
class Recorded:
    response: Response
    created: bool


def clean_answer(question: Question, value: Any) -> Any:
    """Validate one answer against its question; raise ValidationError saying what is wrong.
    Empty optional answers come back as None."""
    kind = question["kind"]
    if value is None or (isinstance(value, str) and not value.strip()):
        if question.get("required"):
            raise ValidationError("This question needs an answer.", code="required")
        return None
    if kind in ("nps", "rating5"):
        low, high = (0, 10) if kind == "nps" else (1, 5)
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValidationError(
                f"Choose a whole number from {low} to {high}.", code="not_a_number"
            ) from None
        if not low <= number <= high:
            raise ValidationError(
                f"{number} is outside the scale: choose from {low} to {high}.", code="out_of_range"
            )
        return number
    if kind == "yesno":
        text = str(value).strip().lower()
        if text in {"yes", "y", "1", "true", "si", "sì", "sí"}:
            return True
        if text in {"no", "n", "0", "false"}:
            return False
        raise ValidationError("Answer yes or no.", code="not_yes_no")
    if kind == "choice":
        allowed = {c["value"] for c in question.get("choices", [])}
        if str(value) not in allowed:
            raise ValidationError("Choose one of the offered answers.", code="not_a_choice")
        return str(value)
    text = str(value).strip()
    if len(text) > REASON_MAX_CHARS:
        raise ValidationError(
            f"Please keep it under {REASON_MAX_CHARS} characters.", code="too_long"
        )
    return text


def response_record(
    *,
    invitation_id: int,
    channel: str,
    answers: Mapping[str, Any],
    complete: bool = False,
    caller_id: int | None = None,
    now: dt.datetime | None = None,
    allow_overwrite: bool = True,
) -> Recorded:
    """Store (part of) the answers to an invitation.

    - The first call creates the response; later calls add or change answers until it is
      complete (resume, a way back). A complete response never changes: a second submit
      raises AlreadyAnswered and stores nothing.
    - The response's channel is the one the score was given through. Answers added through
      another channel (the page after a score sent by SMS reply) keep it; a score changed
      through another channel takes that channel. NPS is never pooled across channels
      silently.
    - `answers` maps question keys to raw values; each is validated against the invitation's
      survey version. The NPS score lives in `score`, the reason in `reason`, the rest in
      `answers`.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the invitation so concurrent submits for it run one after the other. Only its
        # own row (`of=("self",)`): PostgreSQL refuses FOR UPDATE on the nullable side of the
        # outer join to survey_version.
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("contact", "survey_version")
            .get(pk=invitation_id)
        )
        existing = Response.objects.filter(invitation=invitation).first()
        if existing is not None and existing.complete:
            raise AlreadyAnswered
        if existing is None and not invitation.is_answerable(now):
            raise NotAnswerable(invitation.status)
        if existing is not None and existing.channel != channel and not allow_overwrite:
            raise AlreadyAnswered
        version = invitation.survey_version
        if version is None:
            raise NotAnswerable("no survey")
        questions: dict[str, Question] = {q["key"]: q for q in version.questions}
        cleaned: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key, raw in answers.items():
            question = questions.get(key)
            if question is None:
                errors.setdefault(key, []).append("This survey has no such question.")
                continue
            try:
                cleaned[key] = clean_answer(question, raw)
            except ValidationError as exc:
                errors.setdefault(key, []).extend(exc.messages)
        if errors:
            raise ValidationError(errors)

        response = existing or Response(
            invitation=invitation,
            client_id=invitation.client_id,
            operator_id=invitation.operator_id,
            contact=invitation.contact,
            contact_channel=invitation.contact.channel,
            contact_outcome=invitation.contact.outcome,
            channel=channel,
            survey_version=version,
            language=invitation.language,
            started_at=now,
            caller_id=caller_id,
        )
        for key, value in cleaned.items():
            if key == "nps":
                if value is not None and response.score != value:
                    response.score = value
                    response.answered_at = now
                    # The channel says how the score was given: a reason or extras added later
                    # through another channel (the page after an SMS reply) do not relabel it.
                    response.channel = channel
            elif key == "reason":
                response.reason = value or ""
            else:
                extras = dict(response.answers)
                extras[key] = value
                response.answers = extras
        if complete and response.score is None:
            raise ValidationError({"nps": ["This question needs an answer."]})
        if complete:
            response.complete = True
            response.completed_at = now
        try:
            response.save()
        except IntegrityError as exc:
            # The one-to-one held: another transaction created the response first.
            raise AlreadyAnswered from exc
        if response.score is not None:
            status = InvitationStatus.COMPLETED if response.complete else InvitationStatus.PARTIAL
            Invitation.objects.filter(pk=invitation.pk).update(
                status=status, answered_at=invitation.answered_at or now
            )
        # A CATI case exists only for an invitation on the CATI channel (the planner and
        # `invitation_to_cati` set it with the case, on this locked row), so a web or SMS
        # completion of an SMS invitation skips a query that could match nothing.
        if channel == ResponseChannel.CATI or (
            response.complete and invitation.channel == Channel.CATI
        ):
            CatiCase.objects.filter(invitation=invitation).exclude(
                status=CatiCaseStatus.DONE
            ).update(status=CatiCaseStatus.DONE, closed_at=now, held_by=None, lease_expires_at=None)
        return Recorded(response=response, created=existing is None)


# The statuses `Invitation.is_answerable` accepts.
_ANSWERABLE = [InvitationStatus.SENT, InvitationStatus.PARTIAL, InvitationStatus.CATI]


@functools.cache
def _start_statement() -> str:
    def col(model: Any, name: str) -> str:
        return str(model._meta.get_field(name).column)

    i, r, c, v = Invitation, Response, Contact, SurveyVersion
    copied = ["client", "operator", "contact", "survey_version", "language"]
    columns = [col(r, f) for f in ["invitation", *copied, "contact_channel", "contact_outcome"]]
    columns += [col(r, f) for f in ["channel", "score", "reason", "answers", "complete"]]
    columns += [col(r, f) for f in ["started_at", "answered_at", "updated_at"]]
    values = [f"i.{col(i, 'id')}", *(f"i.{col(i, f)}" for f in copied)]
    values += [f"k.{col(c, 'channel')}", f"k.{col(c, 'outcome')}"]
    values += ["%(channel)s", "%(score)s", "''", "'{}'::jsonb", "false"]
    values += ["%(now)s", "%(now)s", "%(now)s"]
    questions = f"v.{col(v, 'questions')}"
    return f"""
WITH inv AS (
    SELECT i.* FROM {i._meta.db_table} i
    JOIN {v._meta.db_table} v ON v.{col(v, "id")} = i.{col(i, "survey_version")}
    WHERE i.{col(i, "token")} = %(token)s AND i.{col(i, "status")} = ANY(%(answerable)s)
      AND (i.{col(i, "expires_at")} IS NULL OR i.{col(i, "expires_at")} > %(now)s)
      AND {questions} -> 0 ->> 'key' = 'nps' AND jsonb_array_length({questions}) > 1
    FOR UPDATE OF i
), created AS (
    INSERT INTO {r._meta.db_table} ({", ".join(columns)})
    SELECT {", ".join(values)}
    FROM inv i JOIN {c._meta.db_table} k ON k.{col(c, "id")} = i.{col(i, "contact")}
    ON CONFLICT ({col(r, "invitation")}) DO NOTHING
    RETURNING {col(r, "invitation")} AS invitation_id
)
UPDATE {i._meta.db_table} i SET {col(i, "status")} = %(partial)s,
    {col(i, "answered_at")} = COALESCE(i.{col(i, "answered_at")}, %(now)s)
FROM created WHERE i.{col(i, "id")} = created.invitation_id
RETURNING i.{col(i, "id")}
"""


def response_start(*, token: str, channel: str, score: int, now: dt.datetime | None = None) -> bool:
    """The first answer, the score, on the invitation of a link's token, with no response
    yet, in a survey that goes on after the score: creates the partial response and marks the
    invitation answered in one statement and one round trip, under the same lock and the same
    one-to-one rule as `response_record`. The busiest write of the survey page: the page sends
    it before reading anything else.

    Returns False, changing nothing, when it does not apply (not PostgreSQL, a response
    already there, an invitation closed, expired or without a survey, a survey that does not
    start with the score or ends with it); the caller then goes the general way
    (`response_record`), which records the answer or says why it cannot."""
    if connection.vendor != "postgresql" or not 0 <= score <= 10:
        return False
    params = {
        "token": token,
        "answerable": [str(status) for status in _ANSWERABLE],
        "now": now or timezone.now(),
        "channel": channel,
        "score": score,
        "partial": str(InvitationStatus.PARTIAL),
    }
    # One statement is atomic on its own: no BEGIN and COMMIT round trips around it.
    with server_binding_cursor() as cursor:
        cursor.execute(_start_statement(), params, prepare=True)
        return cursor.fetchone() is not None
