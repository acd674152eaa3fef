"""Charts of satisfaction beside recovery: NPS against recovery per operator, and payment
after the answer by NPS group (the dashboard's recovery tab)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext as _

from nps.chart_kit import (
    ACCENT,
    DETRACTOR,
    PASSIVE,
    PROMOTER,
    Chart,
    Figure,
    Trace,
    as_fraction,
)
from nps.chart_kit import layout as _layout
from nps.chart_kit import make_chart as _chart
from nps.chart_kit import nps_axis as _nps_axis


def recovery_chart(correlation: Mapping[str, Any], *, key: str = "recovery") -> Chart:
    """Per operator: shrunken NPS (y) against recovery rate (x), dots sized by answers."""
    points = [
        p
        for p in correlation.get("points", [])
        if p.get("shrunk_nps") is not None and p.get("recovery_rate") is not None
    ]
    biggest = max((int(p.get("n") or 0) for p in points), default=1) or 1
    data: list[Trace] = []
    if points:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": _("operator"),
                "x": [round(100 * float(p["recovery_rate"]), 1) for p in points],
                "y": [round(float(p["shrunk_nps"]), 1) for p in points],
                "text": [
                    f"{p.get('operator_name') or p.get('operator_ref')} · n = {p.get('n')}"
                    for p in points
                ],
                "marker": {
                    "size": [int(p.get("n") or 0) for p in points],
                    "sizemode": "area",
                    # The biggest dot is about 36 px across.
                    "sizeref": 2.0 * biggest / (36.0**2),
                    "sizemin": 4,
                    "color": ACCENT,
                    "opacity": 0.7,
                    "line": {"color": "#ffffff", "width": 1},
                },
                "hovertemplate": (
                    "%{text}<br>"
                    + _("recovery")
                    + " %{x:.1f} %<br>"
                    + _("shrunken NPS")
                    + " %{y:+.0f}<extra></extra>"
                ),
                "showlegend": False,
            }
        )
    layout = _layout(
        height=340,
        xaxis={
            "title": {"text": _("recovery rate (%% of the amount placed)") % {}},
            "ticksuffix": " %",
            "rangemode": "tozero",
            "gridcolor": "#eceef2",
        },
        yaxis=_nps_axis(_("shrunken NPS (points)")),
        showlegend=False,
    )
    return _chart(
        key,
        title=_("NPS against recovery, per operator"),
        units=_("shrunken NPS points against %% of the amount placed") % {},
        how_to_read=correlation_sentence(correlation),
        n=len(points),
        figure=Figure(data=data, layout=layout),
    )


def correlation_sentence(correlation: Mapping[str, Any]) -> str:
    rho, low, high = correlation.get("rho"), correlation.get("low"), correlation.get("high")
    count = int(correlation.get("n_operators") or 0)
    lead = _(
        "Each dot is an operator, sized by their answers; dots rising to the right mean "
        "operators who satisfy debtors also recover more."
    )
    if rho is None:
        return (
            lead
            + " "
            + _("Too few operators (%(count)s) to estimate a correlation.") % {"count": count}
        )
    interval = ""
    if low is not None and high is not None:
        interval = _(" (95%% interval %(low).2f to %(high).2f)") % {"low": low, "high": high}
    parts = [
        lead,
        _("Spearman rho = %(rho).2f%(interval)s over %(count)s operators.")
        % {"rho": rho, "interval": interval, "count": count},
    ]
    if low is not None and high is not None and low <= 0 <= high:
        parts.append(_("The interval includes 0: no clear link either way yet."))
    if count < FEW_OPERATORS:
        parts.append(
            _("With fewer than %(few)s operators, read it as a hint, not a finding.")
            % {"few": FEW_OPERATORS}
        )
    parts.append(_("Operators with fewer than 10 answers are not drawn."))
    return " ".join(str(p) for p in parts)


# Below this many operators a correlation across them is a hint at most.
FEW_OPERATORS = 10


# --- payment after the answer ----------------------------------------------------------------


def payment_chart(rows: Sequence[Mapping[str, Any]], *, key: str = "payment-by-group") -> Chart:
    """Share of respondents who paid within 30 days *after* answering, by NPS category."""
    colors = {"detractor": DETRACTOR, "passive": PASSIVE, "promoter": PROMOTER}
    names = {
        "detractor": _("detractors"),
        "passive": _("passives"),
        "promoter": _("promoters"),
    }
    ordered = [r for g in ("detractor", "passive", "promoter") for r in rows if r.get("group") == g]
    rates = [as_fraction(r.get("rate")) for r in ordered]
    lows = [as_fraction(r.get("low")) for r in ordered]
    highs = [as_fraction(r.get("high")) for r in ordered]
    data: list[Trace] = [
        {
            "type": "bar",
            "name": _("paid within 30 days"),
            "x": [names.get(str(r.get("group")), str(r.get("group"))) for r in ordered],
            "y": [None if v is None else round(100 * v, 1) for v in rates],
            "marker": {"color": [colors.get(str(r.get("group")), ACCENT) for r in ordered]},
            # Each bar's Wilson 95 % interval, and its n under the bar.
            "error_y": {
                "type": "data",
                "symmetric": False,
                "array": [
                    None if v is None or h is None else round(100 * (h - v), 1)
                    for v, h in zip(rates, highs, strict=True)
                ],
                "arrayminus": [
                    None if v is None or lo is None else round(100 * (v - lo), 1)
                    for v, lo in zip(rates, lows, strict=True)
                ],
                "color": "#5c5c5c",
            },
            "text": [f"n = {r.get('responses', 0)}" for r in ordered],
            "hovertemplate": "%{x}: %{y:.1f} % · %{text}<extra></extra>",
            "textposition": "inside",
            "insidetextanchor": "start",
        }
    ]
    layout = _layout(
        height=280,
        xaxis={"type": "category"},
        yaxis={"title": {"text": "%"}, "rangemode": "tozero", "ticksuffix": " %"},
        showlegend=False,
    )
    return _chart(
        key,
        title=_("Paid within 30 days of answering, by NPS group"),
        units=_("%% of respondents in each group") % {},
        how_to_read=_(
            "Only payments made after the answer count, so the bars say whether satisfied "
            "debtors go on to pay, not whether payers are happier. Only answers at least 30 "
            "days old count (younger ones have not had their 30 days); the whiskers are 95%% "
            "intervals."
        )
        % {},
        n=sum(int(r.get("responses") or 0) for r in ordered),
        figure=Figure(data=data, layout=layout),
    )
