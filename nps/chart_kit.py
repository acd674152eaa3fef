"""The pieces every dashboard chart is built from: colours, the figure and chart types, the
common layout and the number formats (nps.charts and nps.charts_recovery)."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

from django.utils.translation import gettext as _

Trace = dict[str, Any]

ACCENT = "#1f5fae"
ACCENT_BAND = "rgba(31, 95, 174, 0.16)"
GREY = "#9aa3b2"
GREY_LIGHT = "#c9ced6"
DETRACTOR = "#a4262c"
PASSIVE = "#8a93a3"
PROMOTER = "#1e7a3c"
CLIENT_LINE = "#6b4fa0"
AGENCY_LINE = "#b06f00"


class Figure(TypedDict):
    data: list[Trace]
    layout: dict[str, Any]


class Chart(TypedDict):
    """One chart as the page shows it. `key` is the DOM id (the figure's json_script id is
    `key + "-data"`); `empty` charts show their `how_to_read` and a "nothing to show" line
    instead of a blank plot."""

    key: str
    title: str
    units: str
    how_to_read: str
    n: int
    empty: bool
    figure: Figure


def layout(*, height: int = 320, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 56, "r": 24, "t": 36, "b": 48},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hovermode": "closest",
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    }
    layout.update(extra)
    return layout


def nps_axis(title: str) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "range": [-100, 100],
        "zeroline": True,
        "zerolinecolor": "#8a93a3",
        "gridcolor": "#eceef2",
        "ticksuffix": "",
    }


def make_chart(
    key: str, *, title: str, units: str, how_to_read: str, n: int, figure: Figure
) -> Chart:
    return Chart(
        key=key,
        title=title,
        units=units,
        how_to_read=how_to_read,
        n=n,
        empty=not any(has_points(t) for t in figure["data"]),
        figure=figure,
    )


def has_points(trace: Trace) -> bool:
    values = trace.get("y") if trace.get("orientation") != "h" else trace.get("x")
    return any(v is not None for v in (values or []))


def fmt_nps(value: float | None) -> str:
    """+12, -3, 0; an em dash for nothing."""
    if value is None:
        return "—"
    rounded = round(value)
    return f"{rounded:+d}" if rounded else "0"


def fmt_pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f} %"


def interval_text(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return _("95%% interval %(low)s to %(high)s") % {"low": fmt_nps(low), "high": fmt_nps(high)}


def period_label(value: Any) -> str:
    """A month as 2026-11 (the trend's category axis and the CSV's first column)."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m")
    return str(value)


def as_fraction(value: Any) -> float | None:
    """A rate as a fraction, whether the selector gave a float or an object with `.p`."""
    if value is None:
        return None
    if hasattr(value, "p"):
        return None if value.p is None else float(value.p)
    return float(value)
