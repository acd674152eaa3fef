"""The shapes the analytics hand to the API, the CSV exports and the dashboards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

GROUP_BYS: tuple[str, ...] = (
    "client",
    "operator",
    "channel",
    "contact_channel",
    "outcome",
    "week",
    "month",
    "quarter",
)
RESPONSE_CHANNELS: tuple[str, ...] = ("web", "sms_reply", "cati")


@dataclass(frozen=True)
class NpsFilters:
    """Which responses count. `client_ids` must always be the caller's visible clients (or a
    subset): the selectors never widen it. Dates are the day the score was given, in the
    agency's time zone, both ends inclusive."""

    client_ids: Sequence[int]
    operator_ids: Sequence[int] | None = None
    channels: Sequence[str] | None = None
    contact_channels: Sequence[str] | None = None
    outcomes: Sequence[str] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True)
class NpsRow:
    """One group's NPS. `keys` holds the group's values (e.g. {"operator": "op-giulia",
    "month": date(2026, 11, 1)}); `state` is nps.stats.display_state(n): hidden rows carry no
    score (nps, intervals and shrunk values are None)."""

    keys: dict[str, Any]
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None
    ci_high: float | None
    shrunk_nps: float | None = None
    shrunk_low: float | None = None
    shrunk_high: float | None = None
    state: str = "shown"
    extra: dict[str, Any] = field(default_factory=dict)
