"""NPS per group, in SQL: the table every dashboard, API call and export reads.

Counting happens in the database (``COUNT(*) FILTER (WHERE score >= 9)`` and friends, grouped
by the requested keys); Python only turns the grouped counts into scores and intervals with
``nps.stats``.

Two sources give the same counts:

- the raw responses, for any filter and any grouping;
- the monthly roll-up (``nps.rollup``), for the whole months of the period (any grouping but
  the week). In automatic mode the roll-up is used *exactly*:

  - a period that starts or ends inside a month is cut (``month_split``): its whole months
    come from the roll-up, the days of its partial months at either edge from the raw
    responses (a few days each, found through the (client, answered_at) index);
  - the cells (client, month) that hold a response changed since the roll-up's last refresh
    (less its safety margin) are counted from the raw responses instead,

  so the answer is the same as the raw path's whatever the period and the refresh schedule.
  Grouping by week reads the raw responses; so does everything while the roll-up has never
  been built (no high-water mark).

The score distribution (0-10) follows the same rules, from the roll-up's per-score counts.

Periods (week from Monday, month, quarter) and the date filters are calendar days in the
agency's time zone, ``settings.TIME_ZONE``.

Display states: every row has ``state``. A group with fewer than 10 answers is ``hidden``:
its counts are kept (they are facts an export can add up) but it carries no score at all.
Operator rows follow ``nps.stats.display_state``: 10-29 answers are ``shrunk_only`` (the raw
NPS and its interval are withheld; only the shrunken estimate and its credible interval are
given), 30-49 ``shown``, 50 and more ``ranked``. Other rows (a month, a channel, a client) are
``shown`` from 10 answers: there is no operator to blame and nothing to rank.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from django.db.models import Count, DateField, F, QuerySet, Sum
from django.db.models.functions import TruncQuarter

from nps.models import NpsRollup
from nps.rollup import (
    cells_q_raw,
    cells_q_rollup,
    month_start,
    next_month,
    rollup_high_water,
    safety_margin,
    score_counts,
    touched_cells,
    trunc_period,
)
from nps.selectors._common import (
    PERIOD_KEYS,
    Names,
    check_group_by,
    restrict_to_client,
    scored_responses,
)
from nps.stats import (
    HIDE_BELOW,
    Counts,
    ZTest,
    adjusted_wald,
    channel_adjusted_nps,
    display_state,
    fit_prior_strength,
    pooled_shares,
    ranking,
    shrink,
    two_group_z,
)
from nps.types import NpsFilters, NpsRow
from surveys.models import Response

# Response (and roll-up) columns behind the non-period group keys.
SQL_FIELD: dict[str, str] = {
    "client": "client_id",
    "operator": "operator_id",
    "channel": "channel",
    "contact_channel": "contact_channel",
    "outcome": "contact_outcome",
}
# Operator rows are always counted per client too, so each part can be shrunk toward its own
# client (an operator who moved has answers for two clients).
_CLIENT_PART = "_client"

Cells = dict[tuple[Any, ...], Counts]


# --------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------


def rollup_answerable(*, filters: NpsFilters, group_by: Sequence[str]) -> bool:
    """Whether whole months answer the question: no week grouping, and date bounds (if any)
    on the first and last day of a month."""
    if "week" in group_by:
        return False
    if filters.date_from is not None and filters.date_from.day != 1:
        return False
    return not (filters.date_to is not None and (filters.date_to + dt.timedelta(days=1)).day != 1)


def _raw_key(key: str) -> Any:
    if key == _CLIENT_PART:
        return F("client_id")
    if key in PERIOD_KEYS:
        return trunc_period(key)
    return F(SQL_FIELD[key])


def _rollup_key(key: str) -> Any:
    if key == _CLIENT_PART:
        return F("client_id")
    if key == "month":
        return F("month")
    if key == "quarter":
        # The roll-up's month is already a local date: truncating it needs no time zone.
        return TruncQuarter("month", output_field=DateField())
    return F(SQL_FIELD[key])


def _alias(key: str) -> str:
    return f"g{key}" if key.startswith("_") else f"g_{key}"


def _collect(rows: Iterable[dict[str, Any]], keys: Sequence[str], into: Cells) -> None:
    for row in rows:
        cell = tuple(row[_alias(k)] for k in keys)
        counts = Counts(int(row["promoters"]), int(row["passives"]), int(row["detractors"]))
        into[cell] = into[cell] + counts if cell in into else counts


def _one_row(totals: dict[str, Any]) -> list[dict[str, Any]]:
    """An aggregate() over no group keys as the one grouped row, or none when nothing
    counted (as a GROUP BY over no rows gives)."""
    counts = {name: int(totals[name] or 0) for name in ("promoters", "passives", "detractors")}
    return [counts] if any(counts.values()) else []


def _raw_counts(responses: QuerySet[Any], keys: Sequence[str]) -> list[dict[str, Any]]:
    if not keys:
        # `.values()` with no field would group by every column.
        return _one_row(responses.aggregate(**score_counts()))
    return list(
        responses.values(**{_alias(k): _raw_key(k) for k in keys})
        .annotate(**score_counts())
        .order_by()
    )


def _rollup_rows(filters: NpsFilters) -> QuerySet[NpsRollup]:
    rows = NpsRollup.objects.filter(client_id__in=list(filters.client_ids))
    if filters.operator_ids is not None:
        rows = rows.filter(operator_id__in=list(filters.operator_ids))
    if filters.channels is not None:
        rows = rows.filter(channel__in=list(filters.channels))
    if filters.contact_channels is not None:
        rows = rows.filter(contact_channel__in=list(filters.contact_channels))
    if filters.outcomes is not None:
        rows = rows.filter(contact_outcome__in=list(filters.outcomes))
    if filters.date_from is not None:
        rows = rows.filter(month__gte=filters.date_from)
    if filters.date_to is not None:
        rows = rows.filter(month__lte=filters.date_to)
    return rows


def _rollup_counts(rows: QuerySet[NpsRollup], keys: Sequence[str]) -> list[dict[str, Any]]:
    sums = {
        "promoters": Sum("promoters"),
        "passives": Sum("passives"),
        "detractors": Sum("detractors"),
    }
    if not keys:
        return _one_row(rows.aggregate(**sums))
    return list(
        rows.values(**{_alias(k): _rollup_key(k) for k in keys}).annotate(**sums).order_by()
    )


def month_split(filters: NpsFilters) -> tuple[NpsFilters | None, list[NpsFilters]]:
    """The filters cut into the whole months inside their period (which the roll-up answers)
    and the partial months at its edges (a few days each, counted from the raw responses
    through the (client, answered_at) index): (whole months or None, edges). A period with no
    whole month in it is one edge: the filters themselves."""
    start, end = filters.date_from, filters.date_to
    whole_from = start if start is None or start.day == 1 else next_month(start)
    whole_to = end
    if end is not None and (end + dt.timedelta(days=1)).day != 1:
        whole_to = month_start(end) - dt.timedelta(days=1)
    if whole_from is not None and whole_to is not None and whole_from > whole_to:
        return None, [filters]
    edges: list[NpsFilters] = []
    if start is not None and whole_from != start and whole_from is not None:
        edges.append(replace(filters, date_to=whole_from - dt.timedelta(days=1)))
    if end is not None and whole_to != end and whole_to is not None:
        edges.append(replace(filters, date_from=whole_to + dt.timedelta(days=1)))
    return replace(filters, date_from=whole_from, date_to=whole_to), edges


def _sources(
    filters: NpsFilters, *, by_week: bool, use_rollup: bool | None
) -> tuple[list[QuerySet[Response]], QuerySet[NpsRollup] | None]:
    """Raw responses and roll-up rows that together hold every scored answer the filters
    select, each exactly once (see the module docstring)."""
    if use_rollup and (by_week or not rollup_answerable(filters=filters, group_by=())):
        raise ValueError(
            "the roll-up holds whole months: it cannot group by week or cut inside a month"
        )
    if use_rollup:
        return [], _rollup_rows(filters)
    high_water = None if use_rollup is False or by_week else rollup_high_water()
    if high_water is None:
        return [scored_responses(filters)], None
    whole, edges = month_split(filters)
    # Partial months at the edges of the period: a few days each, read raw.
    raw = [scored_responses(edge) for edge in edges]
    if whole is None:
        return raw, None
    # Whole months: the roll-up, made exact with the cells changed since its last refresh
    # (read raw instead).
    rows = _rollup_rows(whole)
    fresh = touched_cells(since=high_water - safety_margin(), client_ids=whole.client_ids)
    if fresh:
        rows = rows.exclude(cells_q_rollup(fresh))
        raw.append(scored_responses(whole).filter(cells_q_raw(fresh)))
    return raw, rows


def count_cells(
    *, filters: NpsFilters, keys: Sequence[str], use_rollup: bool | None = None
) -> Cells:
    """Promoters, passives and detractors per combination of `keys` (raw values: ids, codes,
    dates), from the raw responses or the roll-up (see the module docstring)."""
    cells: Cells = {}
    if not filters.client_ids:
        return cells
    raw, rows = _sources(filters, by_week="week" in keys, use_rollup=use_rollup)
    for responses in raw:
        _collect(_raw_counts(responses, keys), keys, cells)
    if rows is not None:
        _collect(_rollup_counts(rows, keys), keys, cells)
    return cells


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def _plain_state(n: int) -> str:
    return "hidden" if n < HIDE_BELOW else "shown"


def _row(
    keys: dict[str, Any],
    c: Counts,
    *,
    state: str,
    shrunk: tuple[float, float | None, float | None] | None = None,
    extra: dict[str, Any] | None = None,
) -> NpsRow:
    raw_allowed = state in {"shown", "ranked"}
    ci = adjusted_wald(c.promoters, c.passives, c.detractors) if raw_allowed else None
    return NpsRow(
        keys=keys,
        n=c.n,
        promoters=c.promoters,
        passives=c.passives,
        detractors=c.detractors,
        nps=c.nps if raw_allowed else None,
        ci_low=ci.low if ci else None,
        ci_high=ci.high if ci else None,
        shrunk_nps=shrunk[0] if shrunk and state != "hidden" else None,
        shrunk_low=shrunk[1] if shrunk and state != "hidden" else None,
        shrunk_high=shrunk[2] if shrunk and state != "hidden" else None,
        state=state,
        extra=extra or {},
    )


def posterior_nps(c: Counts, shares: Sequence[float], strength: float) -> float:
    """The shrunken NPS, 100 x [(P + a pi_P) - (D + a pi_D)] / (n + a): the posterior mean
    nps.stats.shrink() reports, without its posterior draws (which cost ~1 ms per group and
    are only needed for a credible interval). Tested equal to shrink()'s value."""
    return (
        100.0
        * ((c.promoters + strength * shares[0]) - (c.detractors + strength * shares[2]))
        / (c.n + strength)
    )


def _operator_priors(
    cells: Cells, keys: Sequence[str]
) -> tuple[dict[tuple[Any, ...], tuple[float, float, float]], dict[int, float]]:
    """Prior shares per pool (a client within the same other keys) and the prior strength per
    client.

    The strength measures how much the client's operators truly differ; it is fitted once per
    client on the operators' totals over the whole table (more answers, steadier than a fit
    per month), and applies to every pool of that client."""
    op_at = keys.index("operator")
    client_at = len(keys) - 1  # the client part is always the last key
    other = [i for i in range(client_at) if i != op_at]
    pools: dict[tuple[Any, ...], list[Counts]] = defaultdict(list)
    totals: dict[int, dict[int, Counts]] = defaultdict(dict)
    for cell, c in cells.items():
        client_id, operator_id = cell[client_at], cell[op_at]
        pools[(client_id, *(cell[i] for i in other))].append(c)
        per_client = totals[client_id]
        per_client[operator_id] = per_client.get(operator_id, Counts()) + c
    shares = {pool: pooled_shares(groups) for pool, groups in pools.items()}
    strengths = {client_id: fit_prior_strength(ops).strength for client_id, ops in totals.items()}
    return shares, strengths


def _shrunk_operator_rows(
    cells: Cells, keys: Sequence[str], *, credible_intervals: bool
) -> dict[tuple[Any, ...], tuple[Counts, tuple[float, float | None, float | None] | None]]:
    """Operator rows (the client part summed away unless asked for), each with its shrunken
    NPS toward its client's pooled shares within the same other keys, and the credible
    interval where it is wanted (always for shrunk_only rows, where it stands alone)."""
    shares, strengths = _operator_priors(cells, keys)
    op_at = keys.index("operator")
    other = [i for i in range(len(keys) - 1) if i != op_at]
    parts: dict[tuple[Any, ...], list[tuple[int, Counts]]] = defaultdict(list)
    for cell, c in cells.items():
        parts[cell[:-1]].append((cell[-1], c))
    out: dict[tuple[Any, ...], tuple[Counts, tuple[float, float | None, float | None] | None]] = {}
    for row_key, pieces in parts.items():
        full = Counts()
        for _, c in pieces:
            full = full + c
        state = display_state(full.n)
        if state == "hidden":
            out[row_key] = (full, None)
            continue
        # An operator with answers for two clients is shrunk toward the mix of the two
        # clients' shares, weighted by where their answers came from.
        mix = [0.0, 0.0, 0.0]
        strength = 0.0
        for client_id, c in pieces:
            weight = c.n / full.n
            pool = shares[(client_id, *(row_key[i] for i in other))]
            for j in range(3):
                mix[j] += weight * pool[j]
            strength += weight * strengths[client_id]
        scale = sum(mix)
        prior = (mix[0] / scale, mix[1] / scale, mix[2] / scale)
        if credible_intervals or state == "shrunk_only":
            s = shrink({0: full}, prior_shares=prior, prior_strength=strength)[0]
            out[row_key] = (full, (s.shrunk_nps, s.low, s.high))
        else:
            out[row_key] = (full, (posterior_nps(full, prior, strength), None, None))
    return out


def _sort_value(value: Any) -> tuple[int, Any]:
    # Keys of one column share a type; the tag only keeps None (never expected) sortable.
    return (0, value) if value is not None else (1, "")


def nps_table(
    *,
    filters: NpsFilters,
    group_by: Sequence[str],
    use_rollup: bool | None = None,
    credible_intervals: bool = True,
) -> list[NpsRow]:
    """NPS per combination of `group_by` (a subset of nps.types.GROUP_BYS), sorted by the keys.

    Keys in each row: client and operator by their references (ids and names in ``extra``),
    channel / contact_channel / outcome by code, week / month / quarter by their first day.
    Every row has its counts, the raw NPS with its adjusted-Wald 95 % interval and a display
    state (see the module docstring). With "operator" in `group_by`, each row also has the
    operator's NPS shrunk toward their client's pooled shares within the same other keys
    (empirical-Bayes Dirichlet-multinomial), with a 95 % credible interval.

    `use_rollup`: None chooses (the roll-up, made exact with the fresh cells, when whole
    months answer the question; the raw responses otherwise); True reads the roll-up as last
    refreshed (ValueError when it cannot answer); False counts the raw responses.
    `credible_intervals=False` skips the posterior draws (about 1 ms a row) for rows whose
    raw NPS is shown anyway; shrunk_only rows always get their interval.
    """
    wanted = check_group_by(group_by)
    by_operator = "operator" in wanted
    keys = [*wanted, _CLIENT_PART] if by_operator else wanted
    cells = count_cells(filters=filters, keys=keys, use_rollup=use_rollup)

    if by_operator:
        rows_counts = _shrunk_operator_rows(cells, keys, credible_intervals=credible_intervals)
    else:
        rows_counts = {cell: (c, None) for cell, c in cells.items()}

    names = Names.of_cells(wanted, rows_counts)
    rows: list[tuple[tuple[Any, ...], NpsRow]] = []
    for cell, (c, shrunk) in rows_counts.items():
        keys_out, extra = names.readable(wanted, cell)
        state = display_state(c.n) if by_operator else _plain_state(c.n)
        row = _row(keys_out, c, state=state, shrunk=shrunk, extra=extra)
        rows.append((tuple(_sort_value(keys_out[k]) for k in wanted), row))
    rows.sort(key=lambda item: item[0])
    return [row for _, row in rows]


# --------------------------------------------------------------------------------------------
# Overall, trend, comparison, distribution
# --------------------------------------------------------------------------------------------


def nps_overall(*, filters: NpsFilters) -> NpsRow:
    """One row for everything the filters select (keys {})."""
    rows = nps_table(filters=filters, group_by=())
    return rows[0] if rows else _row({}, Counts(), state="hidden")


def _next_period(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day + dt.timedelta(days=7)
    if period == "month":
        return next_month(day)
    return next_month(next_month(next_month(day)))


def nps_trend(*, filters: NpsFilters, period: str = "month") -> list[NpsRow]:
    """NPS per period (keys {"period": first day}), oldest first. Periods between the first
    and the last with answers are all present: a period nobody answered in is a row with
    n = 0 (hidden), so a chart's time axis has no silent gaps."""
    if period not in PERIOD_KEYS:
        raise ValueError(f"period must be week, month or quarter, not {period!r}")
    rows = nps_table(filters=filters, group_by=[period])
    by_day = {row.keys[period]: row for row in rows}
    if not by_day:
        return []
    out: list[NpsRow] = []
    day, last = min(by_day), max(by_day)
    while day <= last:
        found = by_day.get(day)
        if found is None:
            out.append(_row({"period": day}, Counts(), state="hidden"))
        else:
            out.append(
                NpsRow(
                    keys={"period": day},
                    n=found.n,
                    promoters=found.promoters,
                    passives=found.passives,
                    detractors=found.detractors,
                    nps=found.nps,
                    ci_low=found.ci_low,
                    ci_high=found.ci_high,
                    state=found.state,
                )
            )
        day = _next_period(day, period)
    return out


def counts_of(row: NpsRow) -> Counts:
    return Counts(row.promoters, row.passives, row.detractors)


def nps_compare(*, a: NpsRow, b: NpsRow) -> ZTest:
    """Two independent groups compared (MeasuringU's z test on adjusted-Wald values): the
    difference a - b in points, z and the two-sided p-value. The groups must not overlap
    (an operator against the *rest* of the client, this month against the previous one)."""
    return two_group_z(counts_of(a), counts_of(b))


def score_distribution(
    *, filters: NpsFilters, use_rollup: bool | None = None
) -> list[tuple[int, int]]:
    """How many answers gave each score, 0 to 10 (all eleven present, zeros included), from
    the raw responses or the roll-up's per-score counts (`use_rollup` as in nps_table)."""
    found = [0] * 11
    if not filters.client_ids:
        return list(enumerate(found))
    raw, rows = _sources(filters, by_week=False, use_rollup=use_rollup)
    for responses in raw:
        for score, n in (
            responses.values("score").annotate(n=Count("pk")).values_list("score", "n").order_by()
        ):
            if score is not None:  # never: the responses are scored
                found[score] += int(n)
    if rows is not None:
        sums = rows.aggregate(**{f"s{score}": Sum(f"score_{score}") for score in range(11)})
        for score in range(11):
            found[score] += int(sums[f"s{score}"] or 0)
    return list(enumerate(found))


# --------------------------------------------------------------------------------------------
# Operator leaderboard
# --------------------------------------------------------------------------------------------


def operator_leaderboard(*, client_id: int, filters: NpsFilters) -> list[NpsRow]:
    """Every operator with answers for one client, the way a league table may show them.

    Per operator: counts; the raw NPS with its adjusted-Wald interval (from 30 answers); the
    NPS shrunk toward the client's pooled shares with its 95 % credible interval (from 10);
    ``extra["channel_adjusted"]`` the NPS as if the operator had worked the client's channel
    mix (nps.stats.channel_adjusted_nps), with its interval; ``extra["rank"]`` for operators
    with 50+ answers only, by shrunken NPS (1 = best); ``extra["vs_client"]`` the z test of
    the operator against the *rest* of the client's answers (an operator cannot be tested
    against a total that contains them: the groups would not be independent).

    Ranked operators come first in rank order, then the others by name; hidden operators
    (under 10 answers) are listed with their n only.
    """
    narrowed = restrict_to_client(filters, client_id)
    if narrowed is None:
        return []
    cells = count_cells(filters=narrowed, keys=["operator", "channel"])
    per_channel: dict[int, dict[str, Counts]] = defaultdict(dict)
    client_channels: dict[str, Counts] = {}
    for (operator_id, channel), c in cells.items():
        per_channel[operator_id][channel] = c
        client_channels[channel] = client_channels.get(channel, Counts()) + c
    totals = {op: sum(channels.values(), Counts()) for op, channels in per_channel.items()}
    if not totals:
        return []
    client_total = sum(totals.values(), Counts())
    shrunk = shrink(totals)
    ranks = {op: i + 1 for i, op in enumerate(ranking(shrunk))}
    names = Names(client_ids=set(), operator_ids=set(totals))

    rows: list[NpsRow] = []
    for op, c in totals.items():
        s = shrunk[op]
        extra: dict[str, Any] = names.operator_extra(op)
        extra["prior_nps"] = s.prior_nps
        extra["prior_strength"] = s.prior_strength
        if s.state != "hidden":
            adjusted = channel_adjusted_nps(
                operator=per_channel[op], client=client_channels, prior_strength=s.prior_strength
            )
            extra["channel_adjusted"] = {
                "nps": adjusted.adjusted_nps,
                "low": adjusted.low,
                "high": adjusted.high,
            }
            rest = Counts(
                client_total.promoters - c.promoters,
                client_total.passives - c.passives,
                client_total.detractors - c.detractors,
            )
            if rest.n:
                test = two_group_z(c, rest)
                extra["vs_client"] = {"diff": test.diff, "z": test.z, "p": test.p_value}
        if op in ranks:
            extra["rank"] = ranks[op]
        rows.append(
            _row(
                {"operator": names.operator_ref(op)},
                c,
                state=s.state,
                shrunk=(s.shrunk_nps, s.low, s.high),
                extra=extra,
            )
        )
    rows.sort(
        key=lambda r: (
            r.extra.get("rank") is None,
            r.extra.get("rank") or 0,
            r.state == "hidden",
            str(r.extra["operator_name"]).lower(),
            r.keys["operator"],
        )
    )
    return rows


__all__ = [
    "count_cells",
    "counts_of",
    "nps_compare",
    "nps_overall",
    "nps_table",
    "nps_trend",
    "operator_leaderboard",
    "posterior_nps",
    "rollup_answerable",
    "score_distribution",
]
