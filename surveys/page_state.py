"""What the debtor's survey page knows about one link, read in one SQL statement.

The page is the product's busiest public URL, and its budget is set against a view that does
nothing (bench/survey_page.py). Compiling the ORM's select_related query costs several times
the query itself, so this selector sends one fixed, prepared statement (its table and column
names taken from the models) and returns plain, frozen dataclasses. It reads only the
invitation and its response: nothing that could put debt data on the page. The wording comes
from the survey version, read once per process (`version_wording`): versions are frozen (the
database refuses any change to their questions, migration surveys 0005), so a version id
always names the same wording, and joining the version on every request cost a fifth of the
read. Writes still go through the ORM and the services.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from surveys.definitions import Question
from surveys.models import Invitation, Response, SurveyVersion
from surveys.pg import server_binding_cursor


@dataclass(frozen=True)
class PageAnswer:
    """The stored (partial or complete) response."""

    score: int | None
    reason: str
    answers: dict[str, Any]
    complete: bool


@dataclass(frozen=True)
class PageLink:
    id: int
    token: str
    status: str
    language: str
    phone_e164: str
    expires_at: dt.datetime | None
    opened_at: dt.datetime | None
    survey_version_id: int | None
    answer: PageAnswer | None

    @property
    def wording(self) -> str:
        """The survey version's questions as JSON text: it names the wording for the page's
        render cache. Empty when the invitation has no survey."""
        return version_wording(self.survey_version_id) if self.survey_version_id else ""

    @property
    def questions(self) -> list[Question]:
        return questions_of(self.wording) if self.wording else []

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and (now or timezone.now()) >= self.expires_at


@functools.lru_cache(maxsize=64)
def questions_of(wording: str) -> list[Question]:
    """The parsed questions of one wording, parsed once per process. Callers only read them."""
    questions: list[Question] = json.loads(wording)
    return questions


@functools.lru_cache(maxsize=256)
def version_wording(version_id: int) -> str:
    """A survey version's questions as JSON text, read once per process. A version's questions
    never change (a database trigger refuses it) and ids are never reused, so the answer cannot
    go stale. Empty for a version that does not exist."""
    questions = (
        SurveyVersion.objects.filter(pk=version_id).values_list("questions", flat=True).first()
    )
    return json.dumps(questions, ensure_ascii=False) if questions else ""


@functools.cache
def _statement() -> str:
    q = connection.ops.quote_name

    def col(model: Any, field: str) -> str:
        return q(model._meta.get_field(field).column)

    i, r = Invitation, Response
    columns = ", ".join(
        [
            *(f"i.{col(i, f)}" for f in ("id", "token", "status", "language", "phone_e164")),
            *(f"i.{col(i, f)}" for f in ("expires_at", "opened_at", "survey_version")),
            *(f"r.{col(r, f)}" for f in ("id", "score", "reason", "answers", "complete")),
        ]
    )
    return (
        f"SELECT {columns} FROM {q(i._meta.db_table)} i "
        f"LEFT JOIN {q(r._meta.db_table)} r ON r.{col(r, 'invitation')} = i.{col(i, 'id')} "
        f"WHERE i.{col(i, 'token')} = %s"
    )


def _moment(value: Any) -> dt.datetime | None:
    # PostgreSQL hands back aware datetimes; SQLite naive ones in UTC (or text).
    if value is None:
        return None
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if timezone.is_naive(moment) else moment


def _json(value: Any) -> Any:
    # Django loads jsonb and SQLite's JSON as text and leaves decoding to JSONField.
    return json.loads(value) if isinstance(value, str | bytes) else value


def page_link(token: str) -> PageLink | None:
    """The link's invitation and response, or None for an unknown token."""
    if connection.vendor == "postgresql":
        # Prepared once per connection: planning the join costs more than running it. Binary
        # results: psycopg's C loaders read the timestamps, where Django's text loader for
        # them runs in Python (an eighth of the statement's time).
        with server_binding_cursor() as cursor:
            cursor.execute(_statement(), [token], prepare=True, binary=True)
            row = cursor.fetchone()
    else:
        with connection.cursor() as cursor:
            cursor.execute(_statement(), [token])
            row = cursor.fetchone()
    if row is None:
        return None
    (pk, token_, status, language, phone, expires_at, opened_at, version_id) = row[:8]
    response_id, score, reason, answers, complete = row[8:]
    answer = None
    if response_id is not None:
        answer = PageAnswer(
            score=score,
            reason=reason or "",
            answers=_json(answers) or {},
            complete=bool(complete),
        )
    return PageLink(
        id=pk,
        token=token_,
        status=status,
        language=language,
        phone_e164=phone,
        expires_at=_moment(expires_at),
        opened_at=_moment(opened_at),
        survey_version_id=version_id,
        answer=answer,
    )
