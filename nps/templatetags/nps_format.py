"""Template filters for NPS numbers: the same formatting the charts' hover texts use."""

from __future__ import annotations

from django import template

from nps.charts import fmt_nps, fmt_pct
from nps.labels import label

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
def choice_label(value: object, kind: str) -> str:
    """A code in the reader's words: {{ case.status|choice_label:"followup_status" }}."""
    return label(kind, value)
