"""Plotly figures for the dashboards, built on the server as plain JSON-safe dicts.

No plotly Python at request time: a figure is a dict of traces and a layout, embedded in the
page with `json_script` and drawn by `static/nps/dashboard.js` with the locally served
plotly.js basic bundle (scatter and bar). Every chart carries a title with its units and one
sentence on how to read it; the page prints those as HTML (translatable, accessible), so the
figures themselves have no title.

Honesty rules kept here: intervals are always drawn; groups too small to say anything
(``state == "hidden"``) are never plotted as a number; operators with few answers are greyed
and never carry a rank; no pies, no 3D.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from django.utils.translation import gettext as _

from nps.chart_kit import (
    ACCENT,
    ACCENT_BAND,
    AGENCY_LINE,
    CLIENT_LINE,
    DETRACTOR,
    GREY,
    GREY_LIGHT,
    PASSIVE,
    PROMOTER,
    Chart,
    Figure,
    Trace,
    as_fraction,
    fmt_nps,
    fmt_pct,
    period_label,
)
from nps.chart_kit import interval_text as _interval_text
from nps.chart_kit import layout as _layout
from nps.chart_kit import make_chart as _chart
from nps.chart_kit import nps_axis as _nps_axis
from nps.charts_recovery import correlation_sentence as correlation_sentence
from nps.charts_recovery import payment_chart as payment_chart
from nps.charts_recovery import recovery_chart as recovery_chart
from nps.types import NpsRow

# --- NPS over time ------------------------------------------------------------------------------


def _series(
    rows: Sequence[NpsRow], *, name: str, color: str, band: bool, dash: str = "solid"
) -> list[Trace]:
    x = [period_label(r.keys.get("period")) for r in rows]
    y = [None if r.nps is None else round(r.nps, 1) for r in rows]
    hover = [
        (
            _("fewer than 10 answers (n = %(n)s)") % {"n": r.n}
            if r.nps is None
            else f"{fmt_nps(r.nps)} · {_interval_text(r.ci_low, r.ci_high)} · n = {r.n}"
        )
        for r in rows
    ]
    traces: list[Trace] = []
    if band:
        low = [None if r.nps is None else r.ci_low for r in rows]
        high = [None if r.nps is None else r.ci_high for r in rows]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": low,
                "yaxis": "y2",
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": False,
                "name": _("interval (low)"),
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": high,
                "yaxis": "y2",
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": ACCENT_BAND,
                "hoverinfo": "skip",
                "name": _("95%% interval") % {},
            }
        )
    traces.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": x,
            "y": y,
            "yaxis": "y2",
            "name": name,
            "line": {"color": color, "width": 2.5, "dash": dash},
            "marker": {"size": 7, "color": color},
            "text": hover,
            "hovertemplate": "%{x}: %{text}<extra>" + name + "</extra>",
            "connectgaps": False,
        }
    )
    return traces


def trend_chart(
    rows: Sequence[NpsRow],
    *,
    key: str = "nps-trend",
    name: str | None = None,
    compare: Sequence[tuple[str, Sequence[NpsRow]]] = (),
) -> Chart:
    """NPS per period with its 95 % band, n as light bars on a second axis, and optional
    comparison lines (the client and the agency on the operator page)."""
    name = name or _("NPS")
    data = _series(rows, name=name, color=ACCENT, band=True)
    colors = [CLIENT_LINE, AGENCY_LINE]
    for i, (label, other) in enumerate(compare):
        data += _series(other, name=label, color=colors[i % len(colors)], band=False, dash="dot")
    data.append(
        {
            "type": "bar",
            "x": [period_label(r.keys.get("period")) for r in rows],
            "y": [r.n for r in rows],
            "name": _("answers (n)"),
            "marker": {"color": GREY_LIGHT},
            "opacity": 0.45,
            "hovertemplate": "%{x}: n = %{y}<extra></extra>",
        }
    )
    biggest = max((r.n for r in rows), default=0)
    # The answer bars sit on the first y axis and the NPS on the second, because Plotly draws
    # an overlaying axis's traces on top: the line and its band stay above the bars.
    layout = _layout(
        height=340,
        # Months as categories ("2026-11" sorts in time order): one tick per month.
        xaxis={"type": "category", "categoryorder": "category ascending", "gridcolor": "#eceef2"},
        yaxis={
            "title": {"text": _("answers")},
            "side": "right",
            "showgrid": False,
            # The bars fill the lower third, under the line they give context to.
            "range": [0, max(1, biggest) * 3],
        },
        yaxis2={**_nps_axis(_("NPS (points)")), "overlaying": "y", "side": "left"},
        barmode="overlay",
    )
    layout["margin"]["r"] = 56
    return _chart(
        key,
        title=_("NPS over time"),
        units=_("NPS points (-100 to +100) per month; bars: answers"),
        how_to_read=_(
            "The line is the NPS of each month and the shaded band its 95%% interval: where the "
            "bands of two months overlap a lot, the change between them may be chance."
        )
        % {},
        n=sum(r.n for r in rows),
        figure=Figure(data=data, layout=layout),
    )


# --- operators --------------------------------------------------------------------------------


def operator_name(row: NpsRow) -> str:
    return str(row.extra.get("operator_name") or row.keys.get("operator") or "?")


def _operator_label(row: NpsRow, taken: set[str]) -> str:
    name = operator_name(row)
    if name in taken:
        name = f"{name} ({row.keys.get('operator')})"
    taken.add(name)
    rank = row.extra.get("rank")
    return f"{rank}. {name}" if row.state == "ranked" and rank else name


def leaderboard_order(rows: Sequence[NpsRow]) -> list[NpsRow]:
    """Ranked operators first by rank, then the unranked by shrunken NPS; hidden last."""

    def key(r: NpsRow) -> tuple[int, float]:
        if r.state == "ranked" and r.extra.get("rank"):
            return (0, float(r.extra["rank"]))
        if r.shrunk_nps is not None:
            return (1, -r.shrunk_nps)
        return (2, 0.0)

    return sorted(rows, key=key)


def leaderboard_chart(rows: Sequence[NpsRow], *, key: str = "operators") -> Chart:
    """Shrunken NPS per operator with its 95 % credible interval. Ranked (n >= 50) in colour
    with their rank; 30-49 answers in colour but unranked (hollow); 10-29 greyed; fewer than
    10 not drawn at all."""
    ordered = [r for r in leaderboard_order(rows) if r.state != "hidden"]
    taken: set[str] = set()
    labels = {id(r): _operator_label(r, taken) for r in ordered}
    groups = [
        ("ranked", _("Ranked (50+ answers)"), ACCENT, "circle"),
        ("shown", _("Not ranked (30-49 answers)"), ACCENT, "circle-open"),
        ("shrunk_only", _("Few answers (10-29): estimate only, greyed"), GREY, "circle"),
    ]
    data: list[Trace] = []
    for state, legend, color, symbol in groups:
        members = [r for r in ordered if r.state == state and r.shrunk_nps is not None]
        if not members:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "orientation": "h",
                "name": legend,
                "y": [labels[id(r)] for r in members],
                "x": [round(r.shrunk_nps or 0.0, 1) for r in members],
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        round((r.shrunk_high or 0) - (r.shrunk_nps or 0), 1) for r in members
                    ],
                    "arrayminus": [
                        round((r.shrunk_nps or 0) - (r.shrunk_low or 0), 1) for r in members
                    ],
                    "color": color,
                    "thickness": 1.5,
                },
                "marker": {"color": color, "size": 10, "symbol": symbol, "line": {"width": 2}},
                "text": [
                    f"{fmt_nps(r.shrunk_nps)} ({fmt_nps(r.shrunk_low)} to {fmt_nps(r.shrunk_high)})"
                    f" · n = {r.n}"
                    for r in members
                ],
                "hovertemplate": "%{y}: %{text}<extra></extra>",
            }
        )
    hidden = sum(1 for r in rows if r.state == "hidden")
    layout = _layout(
        height=max(220, 90 + 28 * len(ordered)),
        xaxis=_nps_axis(_("shrunken NPS (points)")),
        yaxis={
            "type": "category",
            "categoryorder": "array",
            # Plotly draws the first category at the bottom: reverse so #1 is on top.
            "categoryarray": [labels[id(r)] for r in reversed(ordered)],
            "automargin": True,
        },
    )
    how = (
        _(
            "Each dot is an operator's NPS pulled toward the client's average in proportion to how "
            "few answers they have, with its 95%% interval; only operators with 50 or more answers "
            "get a rank, and greyed dots rest on fewer than 30 answers."
        )
        % {}
    )
    if hidden:
        how += " " + _("%(count)s operators with fewer than 10 answers are not shown.") % {
            "count": hidden
        }
    return _chart(
        key,
        title=_("Operators"),
        units=_("shrunken NPS points, 95%% credible interval") % {},
        how_to_read=how,
        n=sum(r.n for r in rows),
        figure=Figure(data=data, layout=layout),
    )


# --- distribution, groups -----------------------------------------------------------------------


def distribution_chart(rows: Sequence[tuple[int, int]], *, key: str = "distribution") -> Chart:
    counts = {int(score): int(count) for score, count in rows}
    total = sum(counts.values())
    groups = [
        (_("detractors (0-6)"), range(0, 7), DETRACTOR),
        (_("passives (7-8)"), range(7, 9), PASSIVE),
        (_("promoters (9-10)"), range(9, 11), PROMOTER),
    ]
    data: list[Trace] = []
    for name, scores, color in groups:
        ys = [counts.get(s, 0) for s in scores]
        data.append(
            {
                "type": "bar",
                "name": name,
                "x": [str(s) for s in scores],
                "y": ys,
                "marker": {"color": color},
                "text": [f"{100 * c / total:.1f} %" if total else "" for c in ys],
                "hovertemplate": "%{x}: %{y} (%{text})<extra></extra>",
                "textposition": "none",
            }
        )
    layout = _layout(
        xaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [str(s) for s in range(11)],
            "title": {"text": _("score")},
        },
        yaxis={"title": {"text": _("answers")}, "rangemode": "tozero", "gridcolor": "#eceef2"},
        bargap=0.15,
    )
    return _chart(
        key,
        title=_("Scores from 0 to 10"),
        units=_("number of answers per score"),
        how_to_read=_(
            "How many debtors gave each score; red bars are detractors, grey passives and green "
            "promoters: the NPS is the green share minus the red share."
        ),
        n=total,
        figure=Figure(data=data, layout=layout),
    )


def _interval_bars(
    x: Sequence[str],
    values: Sequence[tuple[float | None, float | None, float | None]],
    *,
    color: str | Sequence[str],
    text: Sequence[str],
    hovertemplate: str,
) -> Trace:
    """NPS bars with their 95 % interval as error bars; an NPS of None (too few answers)
    keeps its label and gets no bar."""

    def reach(nps: float | None, bound: float | None, *, up: bool) -> float | None:
        if nps is None:
            return None
        if bound is None:
            return 0.0
        return round(bound - nps if up else nps - bound, 1)

    return {
        "type": "bar",
        "name": _("NPS"),
        "x": list(x),
        "y": [None if nps is None else round(nps, 1) for nps, _low, _high in values],
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": [reach(nps, high, up=True) for nps, _low, high in values],
            "arrayminus": [reach(nps, low, up=False) for nps, low, _high in values],
            "color": "#1d2330",
            "thickness": 1.5,
        },
        "marker": {"color": color if isinstance(color, str) else list(color)},
        "text": list(text),
        "hovertemplate": hovertemplate,
        "textposition": "none",
    }


def _interval_bars_layout() -> dict[str, Any]:
    return _layout(
        height=300,
        xaxis={"type": "category", "automargin": True},
        yaxis=_nps_axis(_("NPS (points)")),
        showlegend=False,
    )


def group_chart(
    rows: Sequence[NpsRow],
    *,
    key: str,
    group: str,
    labels: Mapping[str, str],
    title: str,
    how_to_read: str,
) -> Chart:
    """NPS per category (survey channel, contact type) with 95 % error bars; too-small
    groups keep their label ("n = 4, too few") but no bar."""
    ordered = sorted(rows, key=lambda r: str(r.keys.get(group)))
    names = [
        f"{labels.get(str(r.keys.get(group)), str(r.keys.get(group)))} · n = {r.n}" for r in ordered
    ]
    data = [
        _interval_bars(
            names,
            [(r.nps, r.ci_low, r.ci_high) for r in ordered],
            color=ACCENT,
            text=[
                f"{fmt_nps(r.nps)} · {_interval_text(r.ci_low, r.ci_high)}"
                if r.nps is not None
                else _("too few answers")
                for r in ordered
            ],
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    ]
    layout = _interval_bars_layout()
    return _chart(
        key,
        title=title,
        units=_("NPS points with 95%% interval") % {},
        how_to_read=how_to_read,
        n=sum(r.n for r in rows),
        figure=Figure(data=data, layout=layout),
    )


# --- response funnel and rates ------------------------------------------------------------------

FUNNEL_STEPS: tuple[str, ...] = ("sent", "delivered", "opened", "completed")
RATE_KEYS: tuple[str, ...] = ("rr1", "rr2", "coop1", "ref1", "con1")


def funnel_counts(rates: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(step, invitations) from a response_rates() row (sms_sent, sms_delivered, ...)."""
    return [(step, int(rates.get(f"sms_{step}") or 0)) for step in FUNNEL_STEPS]


def funnel_chart(rates: Mapping[str, Any], *, key: str = "funnel") -> Chart:
    steps = funnel_counts(rates)
    first = steps[0][1] if steps else 0
    step_names = funnel_step_names()
    data: list[Trace] = [
        {
            "type": "bar",
            "orientation": "h",
            "name": _("invitations"),
            "y": [step_names[s] for s, _n in steps],
            "x": [c for _s, c in steps],
            "marker": {"color": ACCENT},
            "text": [f"{c:,} ({100 * c / first:.0f} %)" if first else f"{c:,}" for _s, c in steps],
            "textposition": "auto",
            "hovertemplate": "%{y}: %{text}<extra></extra>",
        }
    ]
    layout = _layout(
        height=240,
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [step_names[s] for s in reversed(FUNNEL_STEPS)],
            "automargin": True,
        },
        xaxis={"title": {"text": _("SMS invitations")}, "rangemode": "tozero"},
        showlegend=False,
    )
    chart = _chart(
        key,
        title=_("SMS response funnel"),
        units=_("invitations, and %% of those sent") % {},
        how_to_read=_(
            "Of the SMS invitations sent, how many were delivered, opened and completed; the "
            "biggest drop shows where debtors are lost."
        ),
        n=first,
        figure=Figure(data=data, layout=layout),
    )
    # Zero-length bars are not a picture: no SMS sent means nothing to show.
    chart["empty"] = first == 0
    return chart


def funnel_step_names() -> dict[str, str]:
    return {
        "sent": _("sent"),
        "delivered": _("delivered"),
        "opened": _("opened"),
        "completed": _("completed"),
    }


def rate_names() -> dict[str, str]:
    return {
        "rr1": _("RR1 response rate"),
        "rr2": _("RR2 response rate (with partials)"),
        "coop1": _("COOP1 cooperation rate"),
        "ref1": _("REF1 refusal rate"),
        "con1": _("CON1 contact rate"),
    }


def rates_chart(rates: Mapping[str, Any], *, key: str = "rates") -> Chart:
    names = rate_names()
    values = [as_fraction(rates.get(k)) for k in RATE_KEYS]
    data: list[Trace] = [
        {
            "type": "bar",
            "orientation": "h",
            "name": _("rate"),
            "y": [names[k] for k in RATE_KEYS],
            "x": [None if v is None else round(100 * v, 1) for v in values],
            "marker": {"color": [ACCENT, ACCENT, ACCENT, DETRACTOR, PASSIVE]},
            "text": [fmt_pct(v, 1) for v in values],
            "textposition": "auto",
            "hovertemplate": "%{y}: %{x:.1f} %<extra></extra>",
        }
    ]
    layout = _layout(
        height=260,
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [names[k] for k in reversed(RATE_KEYS)],
            "automargin": True,
        },
        xaxis={"title": {"text": "%"}, "range": [0, 100], "ticksuffix": " %"},
        showlegend=False,
    )
    return _chart(
        key,
        title=_("Response rates (AAPOR)"),
        units=_("%% of the debtors asked") % {},
        how_to_read=_(
            "AAPOR standard rates over every invitation, SMS and CATI: RR1 counts complete "
            "answers only, RR2 adds partial ones; a low contact rate means debtors were not "
            "reached, a low cooperation rate that they were reached but declined."
        ),
        n=int(sum(int(rates.get(k) or 0) for k in ("I", "P", "R", "NC", "O", "UH", "UO"))),
        figure=Figure(data=data, layout=layout),
    )


# --- benchmark across clients -------------------------------------------------------------------


class BenchmarkEntry(TypedDict):
    label: str
    own: bool
    nps: float
    ci_low: float | None
    ci_high: float | None
    n: int


def benchmark_chart(entries: Sequence[BenchmarkEntry], *, key: str = "benchmark") -> Chart:
    data = [
        _interval_bars(
            [e["label"] for e in entries],
            [(e["nps"], e["ci_low"], e["ci_high"]) for e in entries],
            color=[ACCENT if e["own"] else GREY_LIGHT for e in entries],
            text=[f"n = {e['n']}" for e in entries],
            hovertemplate="%{x}: %{y:+.0f} · %{text}<extra></extra>",
        )
    ]
    layout = _interval_bars_layout()
    return _chart(
        key,
        title=_("Benchmark across the agency's clients"),
        units=_("NPS points with 95%% interval") % {},
        how_to_read=_(
            "Each bar is one client of the agency over the same period and filters; the others "
            "are anonymised and ordered by NPS, so only your own bar is named."
        ),
        n=sum(e["n"] for e in entries),
        figure=Figure(data=data, layout=layout),
    )
