"""Template filters for NPS numbers: the same formatting the charts' hover texts use."""

from __future__ import annotations

from django import template

from collections_link.models import Outcome
from nps.charts import fmt_nps, fmt_pct

register = template.Library()


@register.filter
def nps(value: float | None) -> str:
    """+12, -3, 0; an em dash for nothing."""
    return fmt_nps(value)


@register.filter
def percent(value: float | None) -> str:
    """0.462 -> 46 %."""
    return fmt_pct(value)


@register.filter
def outcome_label(value: object) -> str:
    """A contact outcome code in the reader's words (the response keeps the bare code)."""
    return str(dict(Outcome.choices).get(str(value), value))
