"""What the dashboard pages show, gathered once per request from `nps.selectors` and turned
into charts and tables.

The rule that keeps the CSV honest: every table on a page is built here, once, as rows of
display strings, and both the page and the CSV export print those same rows. The export asks
for one table and computes only what that table needs (each input is a cached property).

No aggregation SQL lives here: the numbers come from `nps.selectors` (the same functions the
API at /api/v1/nps/ calls), so the page and the API cannot disagree. The only queries of its
own are the benchmark's anonymisation (which needs every client's figure, not only the
viewer's) and the supervisor counts (queue sizes, open reviews), which are plain counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from string import ascii_uppercase
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_link.models import Client, ContactChannel, Operator
from nps import charts, selectors
from nps.charts import BenchmarkEntry, Chart
from nps.stats import HIDE_BELOW, Counts, adjusted_wald
from nps.types import NpsFilters, NpsRow
from surveys.models import ResponseChannel

# A client viewer sees the anonymised benchmark only when at least this many *other* clients
# have enough answers: with one or two, "Client A" is easy to guess.
BENCHMARK_MIN_PEERS = 3
COMMENTS_SHOWN = 50
COMMENTS_ON_OVERVIEW = 10
COMMENTS_WINDOWS = (dt.timedelta(days=7), dt.timedelta(days=31))
# The benchmark reads every client's roll-up; it changes as slowly as the roll-up refreshes.
BENCHMARK_CACHE_SECONDS = 300

# The dashboard's tabs and what each shows (charts and tables share these keys). The overview
# reads only NPS aggregates, which the roll-up serves at any volume; recovery and response
# rates join accounts, payments and invitations, so they have tabs of their own and the first
# screen never waits for them.
#
# The 0-10 distribution (from the roll-up's per-score counts) has the "scores and reasons"
# tab, with the full list of reasons; the overview shows the latest few.
SECTIONS: dict[str, tuple[str, ...]] = {
    "overview": (
        "overall",
        "trend",
        "channels",
        "contact-types",
        "operators",
        "benchmark",
        "comments-latest",
    ),
    "scores": ("distribution", "comments"),
    "recovery": ("recovery", "payment", "respondents"),
    "responses": ("funnel", "rates"),
}


@dataclass(frozen=True)
class Table:
    """One table as shown and exported: cells are the display strings, identical in both."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]


def num(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return ""
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return "0.0" if text in {"+0.0", "-0.0"} else text


def pct(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{100 * value:.{digits}f}"


def _names(choices: Any) -> dict[str, str]:
    """Code -> name, in the language of this request (the models' labels are lazy)."""
    return {str(value): str(name) for value, name in choices}


def _label(choices: Any, value: Any) -> str:
    return str(dict(choices).get(value, value))


def state_label(state: str) -> str:
    return {
        "hidden": _("fewer than 10 answers"),
        "shrunk_only": _("10-29 answers: estimate only"),
        "shown": _("30-49 answers: not ranked"),
        "ranked": _("ranked"),
    }.get(state, state)


def nps_cells(row: NpsRow) -> list[str]:
    return [
        str(row.n),
        num(row.nps, signed=True),
        num(row.ci_low, signed=True),
        num(row.ci_high, signed=True),
    ]


@dataclass(frozen=True)
class Change:
    """The last period against the one before: the "what changed" line."""

    last: NpsRow
    previous: NpsRow
    diff: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


class ClientDashboard:
    """One client's dashboard for one set of filters."""

    def __init__(
        self,
        *,
        client: Client,
        filters: NpsFilters,
        peer_client_ids: Sequence[int],
        show_peer_names: bool = False,
    ) -> None:
        self.client = client
        self.filters = filters
        # Every client of the agency, for the benchmark only (anonymised unless the viewer is
        # agency staff on the agency index).
        self.peer_client_ids = list(peer_client_ids)
        self.show_peer_names = show_peer_names

    # --- inputs, one selector call each ---------------------------------------------------

    @cached_property
    def overall(self) -> NpsRow:
        # The per-channel rows partition the same answers, so their sum is nps_overall()'s
        # row (same counts, same nps.stats interval, same hidden-below-10 rule) at no extra
        # query. nps_overall() today groups by every column when given no key, which on a
        # large client moves the whole roll-up (or every response) into Python.
        return total_row(self.by_channel)

    @cached_property
    def trend(self) -> list[NpsRow]:
        return selectors.nps_trend(filters=self.filters, period="month")

    @cached_property
    def distribution(self) -> list[tuple[int, int]]:
        return selectors.score_distribution(filters=self.filters)

    @cached_property
    def by_channel(self) -> list[NpsRow]:
        return selectors.nps_table(filters=self.filters, group_by=["channel"])

    @cached_property
    def by_contact_channel(self) -> list[NpsRow]:
        return selectors.nps_table(filters=self.filters, group_by=["contact_channel"])

    @cached_property
    def operators(self) -> list[NpsRow]:
        return charts.leaderboard_order(
            selectors.operator_leaderboard(client_id=self.client.pk, filters=self.filters)
        )

    @cached_property
    def correlation(self) -> dict[str, Any]:
        return selectors.recovery_correlation(client_id=self.client.pk, filters=self.filters)

    @cached_property
    def payment(self) -> list[dict[str, Any]]:
        return selectors.payment_by_nps_group(filters=self.filters, days=30)

    @cached_property
    def respondents(self) -> list[dict[str, Any]]:
        return selectors.respondents_vs_nonrespondents(
            client_id=self.client.pk, filters=self.filters
        )

    @property
    def rates_ignore_channel(self) -> bool:
        """Response rates are per invitation, and an invitation the debtor did not answer by
        SMS moves to CATI: filtering them by the channel of the answer would keep only the
        debtors who answered there. The survey-channel filter applies to the NPS figures only."""
        return self.filters.channels is not None

    @cached_property
    def rates(self) -> dict[str, Any]:
        rows = selectors.response_rates(filters=replace(self.filters, channels=None), group_by=())
        return rows[0] if rows else {}

    @cached_property
    def comments(self) -> list[dict[str, Any]]:
        return labelled_comments(latest_comments(self.filters, limit=COMMENTS_SHOWN))

    @cached_property
    def comments_latest(self) -> list[dict[str, Any]]:
        return labelled_comments(latest_comments(self.filters, limit=COMMENTS_ON_OVERVIEW))

    @cached_property
    def benchmark_rows(self) -> list[NpsRow]:
        peers = replace(self.filters, client_ids=self.peer_client_ids, operator_ids=None)
        key = "nps-benchmark:" + hashlib.sha256(repr(peers).encode()).hexdigest()
        rows: list[NpsRow] | None = cache.get(key)
        if rows is None:
            rows = selectors.nps_table(filters=peers, group_by=["client"])
            cache.set(key, rows, BENCHMARK_CACHE_SECONDS)
        return rows

    @cached_property
    def change(self) -> Change | None:
        scored = [r for r in self.trend if r.n and r.nps is not None]
        if len(scored) < 2:
            return None
        previous, last = scored[-2], scored[-1]
        test = selectors.nps_compare(a=last, b=previous)
        return Change(last=last, previous=previous, diff=test.diff, p_value=test.p_value)

    # --- benchmark ------------------------------------------------------------------------

    def _is_own(self, row: NpsRow) -> bool:
        return bool(row.extra.get("client_id") == self.client.pk)

    @cached_property
    def benchmark(self) -> list[BenchmarkEntry] | None:
        """Clients with enough answers, ordered by NPS; only the viewer's own client is named
        (or every client, for agency staff on the agency index). None when there are too few
        peers to anonymise."""
        shown = [r for r in self.benchmark_rows if r.nps is not None and r.state != "hidden"]
        peers = [r for r in shown if not self._is_own(r)]
        if not self.show_peer_names and len(peers) < BENCHMARK_MIN_PEERS:
            return None
        shown.sort(key=lambda r: -(r.nps or 0.0))
        letters = iter(ascii_uppercase)
        entries: list[BenchmarkEntry] = []
        for row in shown:
            own = self._is_own(row)
            if own or self.show_peer_names:
                label = self.client.name if own else str(row.extra.get("client_name"))
            else:
                letter = next(letters, "?")
                label = _("Client %(letter)s") % {"letter": letter}
            entries.append(
                BenchmarkEntry(
                    label=label,
                    own=own,
                    nps=float(row.nps or 0.0),
                    ci_low=row.ci_low,
                    ci_high=row.ci_high,
                    n=row.n,
                )
            )
        return entries

    @cached_property
    def benchmark_rank(self) -> tuple[int, int] | None:
        entries = self.benchmark or []
        for i, entry in enumerate(entries, start=1):
            if entry["own"]:
                return i, len(entries)
        return None

    # --- charts -----------------------------------------------------------------------------

    def _chart_builders(self) -> dict[str, Callable[[], Chart | None]]:
        return {
            "trend": lambda: charts.trend_chart(self.trend),
            "distribution": lambda: charts.distribution_chart(self.distribution),
            "channels": lambda: charts.group_chart(
                self.by_channel,
                key="channels",
                group="channel",
                labels=_names(ResponseChannel.choices),
                title=_("NPS by survey channel"),
                how_to_read=_(
                    "Phone (CATI) answers run more extreme than web answers, so compare channels "
                    "side by side rather than pooling them; bars whose intervals overlap may not "
                    "really differ."
                ),
            ),
            "contact-types": lambda: charts.group_chart(
                self.by_contact_channel,
                key="contact-types",
                group="contact_channel",
                labels=_names(ContactChannel.choices),
                title=_("NPS by contact type"),
                how_to_read=_(
                    "How debtors rated a phone call against a home visit, each with its 95%% "
                    "interval."
                )
                % {},
            ),
            "operators": lambda: charts.leaderboard_chart(self.operators),
            "benchmark": lambda: charts.benchmark_chart(self.benchmark) if self.benchmark else None,
            "recovery": lambda: charts.recovery_chart(self.correlation),
            "payment": lambda: charts.payment_chart(self.payment),
            "funnel": lambda: charts.funnel_chart(self.rates),
            "rates": lambda: charts.rates_chart(self.rates),
        }

    def charts(self, section: str = "overview") -> dict[str, Chart]:
        """The section's charts, keyed for templates (`contact_types`)."""
        builders = self._chart_builders()
        out: dict[str, Chart] = {}
        for key in SECTIONS[section]:
            if key in builders:
                chart = builders[key]()
                if chart is not None:
                    out[key.replace("-", "_")] = chart
        return out

    # --- tables (the page and the CSV both print these) -------------------------------------

    def table(self, key: str) -> Table | None:
        builder = self._tables().get(key)
        return builder() if builder else None

    def tables(self, section: str = "overview") -> dict[str, Table]:
        """The section's tables, keyed for templates (`contact_types`; the URL says
        `contact-types`)."""
        builders = self._tables()
        return {
            key.replace("-", "_"): builders[key]()
            for key in SECTIONS[section]
            # No benchmark (too few other clients to hide them): no empty file to download.
            if key in builders and (key != "benchmark" or self.benchmark)
        }

    def _tables(self) -> dict[str, Callable[[], Table]]:
        return {
            "overall": self._overall_table,
            "trend": self._trend_table,
            "distribution": self._distribution_table,
            "channels": lambda: self._group_table(
                "channels",
                _("NPS by survey channel"),
                self.by_channel,
                "channel",
                _names(ResponseChannel.choices),
            ),
            "contact-types": lambda: self._group_table(
                "contact-types",
                _("NPS by contact type"),
                self.by_contact_channel,
                "contact_channel",
                _names(ContactChannel.choices),
            ),
            "operators": self._operators_table,
            "benchmark": self._benchmark_table,
            "comments": lambda: self._comments_table("comments", self.comments),
            "comments-latest": lambda: self._comments_table(
                "comments-latest", self.comments_latest
            ),
            "recovery": self._recovery_table,
            "payment": self._payment_table,
            "respondents": self._respondents_table,
            "funnel": self._funnel_table,
            "rates": self._rates_table,
        }

    def _overall_table(self) -> Table:
        r = self.overall
        return Table(
            key="overall",
            title=_("NPS"),
            columns=[
                _("answers"),
                _("promoters"),
                _("passives"),
                _("detractors"),
                _("NPS"),
                _("interval low"),
                _("interval high"),
            ],
            rows=[
                [
                    str(r.n),
                    str(r.promoters),
                    str(r.passives),
                    str(r.detractors),
                    num(r.nps, signed=True),
                    num(r.ci_low, signed=True),
                    num(r.ci_high, signed=True),
                ]
            ],
        )

    def _trend_table(self) -> Table:
        return Table(
            key="trend",
            title=_("NPS over time"),
            columns=[_("month"), _("answers"), _("NPS"), _("interval low"), _("interval high")],
            rows=[[charts.period_label(r.keys.get("period")), *nps_cells(r)] for r in self.trend],
        )

    def _distribution_table(self) -> Table:
        total = sum(c for _s, c in self.distribution) or 0
        return Table(
            key="distribution",
            title=_("Scores from 0 to 10"),
            columns=[_("score"), _("answers"), _("share (%)")],
            rows=[
                [str(s), str(c), pct(c / total) if total else ""]
                for s, c in sorted(self.distribution)
            ],
        )

    def _group_table(
        self, key: str, title: str, rows: list[NpsRow], group: str, labels: dict[str, str]
    ) -> Table:
        return Table(
            key=key,
            title=title,
            columns=[_("group"), _("answers"), _("NPS"), _("interval low"), _("interval high")],
            rows=[
                [_label(labels, r.keys.get(group)), *nps_cells(r)]
                for r in sorted(rows, key=lambda r: str(r.keys.get(group)))
            ],
        )

    def _operators_table(self) -> Table:
        rows = []
        for r in self.operators:
            hidden = r.state == "hidden"
            raw_ok = r.state in {"shown", "ranked"}
            adjusted = r.extra.get("channel_adjusted") or {}
            rows.append(
                [
                    str(r.keys.get("operator") or ""),
                    charts.operator_name(r),
                    str(r.n),
                    state_label(r.state),
                    str(r.extra.get("rank") or "") if r.state == "ranked" else "",
                    "" if hidden else num(r.shrunk_nps, signed=True),
                    "" if hidden else num(r.shrunk_low, signed=True),
                    "" if hidden else num(r.shrunk_high, signed=True),
                    num(r.nps, signed=True) if raw_ok else "",
                    "" if hidden else num(adjusted.get("nps"), signed=True),
                ]
            )
        return Table(
            key="operators",
            title=_("Operators"),
            columns=[
                _("operator"),
                _("name"),
                _("answers"),
                _("shown as"),
                _("rank"),
                _("shrunken NPS"),
                _("interval low"),
                _("interval high"),
                _("raw NPS"),
                _("channel-adjusted NPS"),
            ],
            rows=rows,
        )

    def _recovery_table(self) -> Table:
        return Table(
            key="recovery",
            title=_("NPS against recovery, per operator"),
            columns=[
                _("operator"),
                _("name"),
                _("answers"),
                _("shrunken NPS"),
                _("recovery rate (%)"),
            ],
            rows=[
                [
                    str(p.get("operator_ref") or ""),
                    str(p.get("operator_name") or ""),
                    str(p.get("n") or 0),
                    num(p.get("shrunk_nps"), signed=True),
                    pct(p.get("recovery_rate")),
                ]
                for p in self.correlation.get("points", [])
            ],
        )

    def _payment_table(self) -> Table:
        names = group_names()
        return Table(
            key="payment",
            title=_("Paid within 30 days of answering, by NPS group"),
            columns=[
                _("group"),
                _("answers"),
                _("debtors"),
                _("paid within 30 days"),
                _("share (%)"),
                _("interval low (%)"),
                _("interval high (%)"),
            ],
            rows=[
                [
                    names.get(str(r.get("group")), str(r.get("group"))),
                    str(r.get("responses", 0)),
                    str(r.get("debtors", 0)),
                    str(r.get("paid_within", 0)),
                    pct(r.get("rate")),
                    pct(r.get("low")),
                    pct(r.get("high")),
                ]
                for r in self.payment
            ],
        )

    def _respondents_table(self) -> Table:
        names = group_names()
        return Table(
            key="respondents",
            title=_("Respondents against non-respondents"),
            columns=[
                _("operator"),
                _("group"),
                _("currency"),
                _("accounts"),
                _("placed"),
                _("collected"),
                _("recovery rate (%)"),
                _("accounts paying (%)"),
            ],
            rows=[
                [
                    str(r.get("operator_name") or _("all operators")),
                    names.get(str(r.get("group")), str(r.get("group"))),
                    str(r.get("currency") or ""),
                    str(r.get("accounts", 0)),
                    _money(r.get("placed")),
                    _money(r.get("collected")),
                    pct(r.get("rate")),
                    pct(r.get("paying_rate")),
                ]
                for r in self.respondents
            ],
        )

    def _funnel_table(self) -> Table:
        steps = charts.funnel_counts(self.rates)
        first = steps[0][1] if steps else 0
        names = charts.funnel_step_names()
        return Table(
            key="funnel",
            title=_("SMS response funnel"),
            columns=[_("step"), _("invitations"), _("share of sent (%)")],
            rows=[[names[s], str(c), pct(c / first) if first else ""] for s, c in steps],
        )

    def _rates_table(self) -> Table:
        names = charts.rate_names()
        rows = [
            [f"{names[k]} (%)", pct(charts.as_fraction(self.rates.get(k)))]
            for k in charts.RATE_KEYS
        ]
        rows += [
            [code, str(self.rates.get(code, 0))]
            for code in ("I", "P", "R", "NC", "O", "UH", "UO", "NE")
        ]
        return Table(
            key="rates",
            title=_("Response rates (AAPOR)"),
            columns=[_("rate or disposition"), _("value")],
            rows=rows,
        )

    def _comments_table(self, key: str, comments: list[dict[str, Any]]) -> Table:
        return Table(
            key=key,
            title=_("Reasons given (latest, detractors first)"),
            columns=[
                _("answered"),
                _("score"),
                _("survey channel"),
                _("contact type"),
                _("operator"),
                _("reason"),
            ],
            rows=[
                [
                    _when(c.get("answered_at")),
                    str(c.get("score", "")),
                    str(c.get("channel_label", "")),
                    str(c.get("contact_label", "")),
                    str(c.get("operator_name") or ""),
                    str(c.get("reason") or ""),
                ]
                for c in comments
            ],
        )

    def _benchmark_table(self) -> Table:
        return Table(
            key="benchmark",
            title=_("Benchmark across the agency's clients"),
            columns=[_("client"), _("answers"), _("NPS"), _("interval low"), _("interval high")],
            rows=[
                [
                    e["label"],
                    str(e["n"]),
                    num(e["nps"], signed=True),
                    num(e["ci_low"], signed=True),
                    num(e["ci_high"], signed=True),
                ]
                for e in (self.benchmark or [])
            ],
        )


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _money(value: Any) -> str:
    return "" if value is None else f"{value:.2f}"


def group_names() -> dict[str, str]:
    return {
        "detractor": _("detractors"),
        "passive": _("passives"),
        "promoter": _("promoters"),
        "respondents": _("respondents"),
        "non_respondents": _("non-respondents"),
    }


def total_row(rows: Sequence[NpsRow]) -> NpsRow:
    """One row for the union of disjoint groups, as nps_table() would give it: counts summed,
    the adjusted-Wald interval, nothing shown under 10 answers."""
    counts = Counts(
        sum(r.promoters for r in rows),
        sum(r.passives for r in rows),
        sum(r.detractors for r in rows),
    )
    if counts.n < HIDE_BELOW:
        return NpsRow(
            keys={},
            n=counts.n,
            promoters=counts.promoters,
            passives=counts.passives,
            detractors=counts.detractors,
            nps=None,
            ci_low=None,
            ci_high=None,
            state="hidden",
        )
    interval = adjusted_wald(counts.promoters, counts.passives, counts.detractors)
    return NpsRow(
        keys={},
        n=counts.n,
        promoters=counts.promoters,
        passives=counts.passives,
        detractors=counts.detractors,
        nps=counts.nps,
        ci_low=interval.low,
        ci_high=interval.high,
        state="shown",
    )


def latest_comments(filters: NpsFilters, *, limit: int) -> list[dict[str, Any]]:
    """The latest reasons, detractors first. The last week of the period (up to today when it
    is open) is asked first, then its last month: "latest" rarely reaches further back, and a
    week of a large client sorts in milliseconds where its whole history takes seconds. When
    a window holds fewer than `limit` reasons the next one is asked, and at last the whole
    period (quick again: a client with few reasons has few answers)."""
    end = filters.date_to or timezone.localdate()
    for window in COMMENTS_WINDOWS:
        start = end - window
        if filters.date_from is not None and filters.date_from >= start:
            break
        recent = replace(filters, date_from=start)
        found = selectors.latest_comments(filters=recent, limit=limit, detractors_first=True)
        if len(found) >= limit:
            return found
    return selectors.latest_comments(filters=filters, limit=limit, detractors_first=True)


def labelled_comments(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The comments with readable channel and contact-type names beside their codes."""
    return [
        {
            **c,
            "channel_label": _label(ResponseChannel.choices, c.get("channel")),
            "contact_label": _label(ContactChannel.choices, c.get("contact_channel")),
        }
        for c in comments
    ]


def operator_label(operator: Operator) -> str:
    return operator.name or operator.ref


# Below this many answers the client's headline NPS is greyed and said to be a rough sign (the
# same line where an operator's raw NPS stops being shown, nps.stats.display_state).
SMALL_SAMPLE = 30


def headline_sentence(row: NpsRow) -> str:
    if row.nps is None:
        return _("Fewer than 10 answers: not enough to give an NPS.")
    if row.n < SMALL_SAMPLE:
        return _(
            "Fewer than 30 answers: the interval is wide, so read this NPS as a rough sign, "
            "not a result; it firms up as answers come in."
        )
    return _(
        "The share of promoters (9-10) minus the share of detractors (0-6), from -100 to +100; "
        "the interval is where the true value lies, 95 times out of 100."
    )
