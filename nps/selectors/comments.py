"""The debtors' own words: the latest reasons, with personal data masked before anyone reads
them on a dashboard or in an export."""

from __future__ import annotations

import re
from typing import Any

from nps.selectors._common import scored_responses
from nps.stats import bucket
from nps.types import NpsFilters
from surveys.models import Response

MAX_COMMENTS = 500

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# An IBAN: country code, two check digits, then 11-30 letters or digits, written solid or
# in groups of four separated by spaces; a last short group must hold a digit, so the word
# after an IBAN ("... 456 OK") is not taken for its tail.
_IBAN = re.compile(
    r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?(?=[A-Z]{0,2}\d)[A-Z0-9]{1,3})?\b",
    re.IGNORECASE,
)
_CURRENCY = r"(?:[€$£]|\b(?:EUR|USD|GBP)\b)"
_NUMBER = r"\d(?:[\d.,' ]*\d)?"
_AMOUNT = re.compile(
    rf"{_CURRENCY}\s?{_NUMBER}|\d(?:[\d.,']*\d)?\s?(?:[€$£]|(?:EUR|USD|GBP|euros?|dollars?)\b)",
    re.IGNORECASE,
)
# A phone number: an optional + or 00, then 8 to 15 digits, spaces, dots or hyphens allowed
# between them. Fewer digits is a count or a score, not a number anyone can dial.
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d(?:[ .-]?\d){7,14}(?!\w)")
# A date written with separators has 8 digits too; it identifies nobody, so it stays.
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{2,4}")


def _phone_or_date(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if _DATE.fullmatch(text) else "[phone]"


def mask_pii(text: str) -> str:
    """The text with e-mail addresses, IBANs, money amounts and phone numbers replaced by
    [email], [IBAN], [amount] and [phone].

    Masking is deliberately eager (a long run of digits is taken for a phone number): a
    supervisor reading reasons needs the sentiment, not the number, and a missed phone
    number on a client's dashboard is the worse mistake.
    """
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub("[IBAN]", text)
    text = _AMOUNT.sub("[amount]", text)
    return _PHONE.sub(_phone_or_date, text)


def latest_comments(
    *, filters: NpsFilters, limit: int = 50, detractors_first: bool = True
) -> list[dict[str, Any]]:
    """The newest answers that carry a reason, masked with mask_pii(); detractors first
    (newest first within each part) unless `detractors_first` is False."""
    if not 1 <= limit <= MAX_COMMENTS:
        raise ValueError(f"limit must be between 1 and {MAX_COMMENTS}")
    responses = (
        scored_responses(filters)
        .exclude(reason="")
        .select_related("operator", "client")
        .only(
            "pk",
            "score",
            "reason",
            "answered_at",
            "channel",
            "contact_channel",
            "contact_outcome",
            "operator__ref",
            "operator__name",
            "client__ref",
            "client__name",
        )
    )
    if not detractors_first:
        return [_comment(r) for r in responses.order_by("-answered_at", "-pk")[:limit]]
    # Detractors first, newest first within each part: two queries that each read the newest
    # rows down the (client, answered_at) index and stop at `limit`, where one ORDER BY on
    # "is a detractor" would sort every answer of the period first.
    found = [
        _comment(r) for r in responses.filter(score__lte=6).order_by("-answered_at", "-pk")[:limit]
    ]
    if len(found) < limit:
        rest = responses.filter(score__gte=7).order_by("-answered_at", "-pk")
        found += [_comment(r) for r in rest[: limit - len(found)]]
    return found


def _comment(r: Response) -> dict[str, Any]:
    return {
        "response_id": r.pk,
        "answered_at": r.answered_at,
        "score": r.score,
        "group": bucket(int(r.score)) if r.score is not None else None,
        "reason": mask_pii(r.reason),
        "channel": r.channel,
        "contact_channel": r.contact_channel,
        "outcome": r.contact_outcome,
        "operator_ref": r.operator.ref,
        "operator_name": r.operator.name or r.operator.ref,
        "client_ref": r.client.ref,
        "client_name": r.client.name,
    }
