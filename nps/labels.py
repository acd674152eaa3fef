"""The names of the product's codes as the staff pages show them, in the reader's language.

The models name their choices in English (the code, the admin, the exports' machine columns);
the dashboards and follow-up pages show these instead, so an Italian or Spanish reader never
meets "Phone call" or a raw "payment_plan" on a page that is otherwise theirs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

LABELS: dict[str, dict[str, Promise]] = {
    "channel": {"web": _("Web page"), "sms_reply": _("SMS reply"), "cati": _("CATI")},
    "contact_type": {"phone": _("Phone call"), "home_visit": _("Home visit")},
    "outcome": {
        "promise_to_pay": _("Promise to pay"),
        "paid": _("Paid"),
        "partial_payment": _("Partial payment"),
        "payment_plan": _("Payment plan"),
        "dispute": _("Dispute"),
        "refusal": _("Refusal"),
        "callback_requested": _("Callback requested"),
        "hardship": _("Hardship"),
        "third_party": _("Third party"),
        "wrong_party": _("Wrong party"),
        "no_answer": _("No answer"),
        "busy": _("Busy"),
        "voicemail": _("Voicemail"),
    },
    "followup_status": {
        "open": _("Open"),
        "contacted": _("Contacted"),
        "resolved": _("Resolved"),
    },
}


def label(kind: str, value: Any) -> str:
    """The reader's name for one code; the code itself when it has none."""
    found = LABELS[kind].get(str(value)) if value is not None else None
    return str(found) if found is not None else ("" if value is None else str(value))


def labelled(kind: str, choices: Iterable[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """A choices list with the reader's names (lazy, so a form built once still follows the
    language of each request)."""
    return [(value, LABELS[kind].get(str(value), name)) for value, name in choices]


def label_map(kind: str, choices: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    """Code -> the reader's name, as plain strings (for charts and tables built now)."""
    return {str(value): str(name) for value, name in labelled(kind, choices)}
