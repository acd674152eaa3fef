"""The monthly NPS roll-up: counts per (client, operator, response channel, contact channel,
contact outcome, month), so a client-year is a few hundred rows instead of every response.
Each row holds its promoters, passives and detractors, and its answers per score (0 to 10).

Months are calendar months in the agency's time zone (``settings.TIME_ZONE``), the same
truncation the selectors use on raw responses, so the two paths always agree. (The model's
help text speaks of the client's time zone; one agency-wide zone is what makes a roll-up
shared by every client, and by the dashboards that compare clients, add up.)

A *cell* is one (client, month): the unit the refresh recomputes.

- ``rollup_refresh()`` (every few minutes, ``nps.tasks.rollup_refresh_task``) recomputes only
  the cells that hold a response changed since the last refresh: it reads the responses whose
  ``updated_at`` is at or after the previous high-water mark *minus a safety margin*, deletes
  those cells' roll-up rows and inserts them again with one ``INSERT ... SELECT ... GROUP BY``
  over the raw responses of those cells, all in one transaction. The margin is there because
  ``updated_at`` is stamped when a row is saved, not when its transaction commits: a response
  saved at 10:00:00 in a transaction that commits at 10:00:05 is invisible to a refresh that
  starts at 10:00:02 and sets the mark there. The next refresh looks back ``margin`` before the
  mark and finds it. Recomputing a cell twice is harmless (it is recomputed from scratch).
- ``rollup_rebuild()`` recomputes everything. It is the nightly safety net for the two changes
  an ``updated_at`` scan cannot see: a response deleted outright, and a response whose answer
  moved to another month or client (the new cell is refreshed, the old one keeps the stale
  count until the rebuild).

Refreshes are serialised by locking the single ``RollupState`` row, so two beat ticks that
overlap never interleave their delete and insert.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, DateField, F, Q, QuerySet
from django.db.models.functions import TruncMonth, TruncQuarter, TruncWeek
from django.utils import timezone

from nps.models import NpsRollup, RollupState
from surveys.models import Response

logger = logging.getLogger(__name__)

PERIODS: tuple[str, ...] = ("week", "month", "quarter")
_TRUNC = {"week": TruncWeek, "month": TruncMonth, "quarter": TruncQuarter}

# How far before the high-water mark each refresh looks again: longer than any transaction
# that saves responses (they are short; the longest, a CATI save, is well under a minute).
DEFAULT_SAFETY_MARGIN = dt.timedelta(minutes=10)
_STATE_PK = 1

# The roll-up's columns, in INSERT order, and what each is on a raw response.
ROLLUP_COLUMNS: tuple[str, ...] = (
    "client_id",
    "operator_id",
    "channel",
    "contact_channel",
    "contact_outcome",
    "month",
    "promoters",
    "passives",
    "detractors",
    *(f"score_{score}" for score in range(11)),
)

Cells = dict[dt.date, set[int]]
"""Roll-up cells as {first day of the month: {client ids}}."""


def agency_tz() -> ZoneInfo:
    """The zone every period (week, month, quarter) and every date filter is read in."""
    return ZoneInfo(settings.TIME_ZONE)


def safety_margin() -> dt.timedelta:
    seconds = getattr(settings, "NPS_ROLLUP_SAFETY_MARGIN_SECONDS", None)
    return DEFAULT_SAFETY_MARGIN if seconds is None else dt.timedelta(seconds=float(seconds))


def trunc_period(period: str, field: str = "answered_at") -> Any:
    """The local calendar week (from Monday), month or quarter of a datetime field, as the date
    it starts on, in the agency's time zone."""
    if period not in _TRUNC:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return _TRUNC[period](field, output_field=DateField(), tzinfo=agency_tz())


def score_counts() -> dict[str, Count]:
    """Promoters (9-10), passives (7-8) and detractors (0-6) of the rows in a group: one pass,
    `COUNT(*) FILTER (WHERE ...)` on PostgreSQL."""
    return {
        "promoters": Count("pk", filter=Q(score__gte=9)),
        "passives": Count("pk", filter=Q(score__gte=7, score__lte=8)),
        "detractors": Count("pk", filter=Q(score__lte=6)),
    }


def per_score_counts() -> dict[str, Count]:
    """How many rows of a group gave each score, 0 to 10 (``score_0`` ... ``score_10``)."""
    return {f"score_{score}": Count("pk", filter=Q(score=score)) for score in range(11)}


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def local_midnight(day: dt.date) -> dt.datetime:
    """The aware instant a local calendar day starts in the agency's zone."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=agency_tz())


def cells_q_raw(cells: Cells) -> Q:
    """Responses that fall in the given cells (by client and local month of the answer)."""
    q = Q(pk__in=[])
    for month, clients in cells.items():
        q |= Q(
            client_id__in=sorted(clients),
            answered_at__gte=local_midnight(month),
            answered_at__lt=local_midnight(next_month(month)),
        )
    return q


def cells_q_rollup(cells: Cells) -> Q:
    """Roll-up rows of the given cells."""
    q = Q(pk__in=[])
    for month, clients in cells.items():
        q |= Q(month=month, client_id__in=sorted(clients))
    return q


def touched_cells(*, since: dt.datetime, client_ids: Iterable[int] | None = None) -> Cells:
    """The cells holding a response saved at or after `since` (found on the updated_at
    index). Responses with no answer time have no cell."""
    responses = Response.objects.filter(updated_at__gte=since, answered_at__isnull=False)
    if client_ids is not None:
        responses = responses.filter(client_id__in=list(client_ids))
    cells: Cells = defaultdict(set)
    for client_id, month in (
        responses.annotate(_month=trunc_period("month"))
        .values_list("client_id", "_month")
        .distinct()
        .order_by()
    ):
        cells[month].add(client_id)
    return dict(cells)


def _rollup_select(responses: QuerySet[Response]) -> tuple[str, tuple[Any, ...]]:
    """The SELECT of roll-up rows from raw responses, compiled by the ORM (so the month
    truncation is the very expression the selectors use, on either backend)."""
    grouped = (
        responses.filter(score__isnull=False)
        .values(
            r_client=F("client_id"),
            r_operator=F("operator_id"),
            r_channel=F("channel"),
            r_contact_channel=F("contact_channel"),
            r_contact_outcome=F("contact_outcome"),
            r_month=trunc_period("month"),
        )
        .annotate(**score_counts(), **per_score_counts())
        .order_by()
    )
    compiler = grouped.query.get_compiler(using=grouped.db)
    # The INSERT names its columns in ROLLUP_COLUMNS order; make sure the SELECT matches.
    selected = [alias for _, _, alias in compiler.get_select()[0]]
    expected = [
        "r_client",
        "r_operator",
        "r_channel",
        "r_contact_channel",
        "r_contact_outcome",
        "r_month",
        "promoters",
        "passives",
        "detractors",
        *(f"score_{score}" for score in range(11)),
    ]
    if selected != expected:  # pragma: no cover - a Django upgrade changed the column order
        raise RuntimeError(f"unexpected roll-up SELECT columns {selected}")
    sql, params = compiler.as_sql()
    return sql, tuple(params)


def _insert_from(responses: QuerySet[Response]) -> int:
    sql, params = _rollup_select(responses)
    columns = ", ".join(connection.ops.quote_name(c) for c in ROLLUP_COLUMNS)
    table = connection.ops.quote_name(NpsRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {sql}", params)
        return int(cursor.rowcount)


def _locked_state() -> RollupState:
    RollupState.objects.get_or_create(pk=_STATE_PK)
    # The lock serialises refreshes: two overlapping runs would otherwise both delete a cell
    # and both insert it, and the second insert would break the cell's unique constraint.
    return RollupState.objects.select_for_update().get(pk=_STATE_PK)


@dataclass(frozen=True)
class RefreshResult:
    full: bool
    cells: Cells = field(default_factory=dict)
    deleted: int = 0
    inserted: int = 0
    high_water: dt.datetime | None = None
    seconds: float = 0.0

    @property
    def cell_count(self) -> int:
        return sum(len(clients) for clients in self.cells.values())


def rollup_rebuild(*, now: dt.datetime | None = None) -> RefreshResult:
    """Recompute the whole roll-up from the raw responses, in one transaction."""
    started = time.perf_counter()
    now = now or timezone.now()
    with transaction.atomic():
        state = _locked_state()
        deleted, _ = NpsRollup.objects.all().delete()
        inserted = _insert_from(Response.objects.all())
        state.high_water = now
        state.refreshed_at = now
        state.save(update_fields=["high_water", "refreshed_at"])
    _vacuum_rollup()
    result = RefreshResult(
        full=True,
        deleted=deleted,
        inserted=inserted,
        high_water=now,
        seconds=time.perf_counter() - started,
    )
    logger.info("NPS roll-up rebuilt: %s rows in %.2fs", inserted, result.seconds)
    return result


def _vacuum_rollup() -> bool:
    """After a rebuild every old row of the roll-up is dead: on PostgreSQL, vacuum and
    analyze the table at once rather than wait for autovacuum (which may be slow, or off),
    or each dashboard request scans the dead rows too (a rebuild a night adds a table's worth
    of them). VACUUM cannot run inside a transaction: inside one, this does nothing."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    table = connection.ops.quote_name(NpsRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {table}")
    return True


def rollup_refresh(
    *, now: dt.datetime | None = None, margin: dt.timedelta | None = None
) -> RefreshResult:
    """Recompute the cells touched since the last refresh (all of them the first time).

    `now` becomes the new high-water mark; take it before reading, so a response saved while
    the refresh runs is looked at again next time rather than skipped.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    margin = safety_margin() if margin is None else margin
    with transaction.atomic():
        state = _locked_state()
        if state.high_water is None:
            # Never built: the first refresh is a rebuild (inside the same lock).
            deleted, _ = NpsRollup.objects.all().delete()
            inserted = _insert_from(Response.objects.all())
            cells: Cells = {}
            full = True
        else:
            full = False
            cells = touched_cells(since=state.high_water - margin)
            deleted = inserted = 0
            if cells:
                deleted, _ = NpsRollup.objects.filter(cells_q_rollup(cells)).delete()
                inserted = _insert_from(Response.objects.filter(cells_q_raw(cells)))
        state.high_water = now
        state.refreshed_at = now
        state.save(update_fields=["high_water", "refreshed_at"])
    result = RefreshResult(
        full=full,
        cells=cells,
        deleted=deleted,
        inserted=inserted,
        high_water=now,
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "NPS roll-up refreshed (%s): %s cells, %s rows out, %s rows in, %.2fs",
        "full" if full else "incremental",
        result.cell_count,
        deleted,
        inserted,
        result.seconds,
    )
    return result


def rollup_high_water() -> dt.datetime | None:
    """The roll-up's high-water mark, or None when it has never been built."""
    return RollupState.objects.filter(pk=_STATE_PK).values_list("high_water", flat=True).first()


def cells_as_pairs(cells: Mapping[dt.date, Iterable[int]]) -> set[tuple[int, dt.date]]:
    """{(client id, month)} of a Cells mapping, for comparisons and logs."""
    return {(client_id, month) for month, clients in cells.items() for client_id in clients}
