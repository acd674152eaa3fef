"""A period that does not fall on month boundaries: its whole months come from the roll-up,
the days of its partial months at the edges from the raw responses, and the sum is exactly
the raw path's, worked out by hand below.

Acme Energia, operator Giulia, every answer on the web after a phone call (Rome local time;
Rome is UTC+1 until 29 March 2026):

  Sat 2026-01-10 10:00           10 9 3        before the period
  Mon 2026-01-19 23:30 UTC       0             = Tue 01-20 00:30 in Rome: first local day
  Sun 2026-01-25 10:00           10 6 9
  Sat 2026-02-14 10:00           8 7 10 10     the one whole month inside the period
  Tue 2026-03-03 10:00           0 9 2
  Tue 2026-03-10 23:30 UTC       10            = Wed 03-11 00:30 in Rome: after the last day
  Fri 2026-03-20 10:00           10 10 5       after the period
  Thu 2026-04-02 10:00 (UTC+2)   9             after the period

Beta Telco answers on the same days (9 each time) and must never leak into Acme's figures.

Period 2026-01-20 .. 2026-03-10: [0] + [10 6 9] + [8 7 10 10] + [0 9 2]
  P = 10 9 10 10 9 = 5, Pa = 8 7 = 2, D = 0 6 0 2 = 4, n = 11, NPS = 100 x 1 / 11 = 9.09.
  Adjusted Wald: n' = 14, p' = 5.75 / 14 = 0.410714, d' = 4.75 / 14 = 0.339286,
  centre 0.071429, var = 0.75 - 0.071429^2 = 0.744898,
  half = 1.959964 x sqrt(0.744898 / 14) = 0.452098: from -38.07 to +52.35.
Per month: January (20th to 31st) [0 10 6 9] P2 D2 n4; February [8 7 10 10] P2 Pa2 n4;
  March (1st to 10th) [0 9 2] P1 D2 n3.
"""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import pytest
from django.utils import timezone

from nps.models import NpsRollup, RollupState
from nps.rollup import rollup_rebuild, rollup_refresh
from nps.selectors import nps_table, score_distribution
from nps.selectors.aggregates import count_cells, month_split
from nps.stats import Counts
from nps.types import NpsFilters
from surveys.models import Response
from tests.factories import ClientFactory, OperatorFactory
from tests.nps.nps_support import answer_many

UTC = dt.UTC
ROME = dt.timezone(dt.timedelta(hours=1))
ROME_SUMMER = dt.timezone(dt.timedelta(hours=2))
Z95 = 1.959964
JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
PERIOD = {"date_from": dt.date(2026, 1, 20), "date_to": dt.date(2026, 3, 10)}

ANSWERS: list[tuple[dt.datetime, list[int]]] = [
    (dt.datetime(2026, 1, 10, 10, tzinfo=ROME), [10, 9, 3]),
    (dt.datetime(2026, 1, 19, 23, 30, tzinfo=UTC), [0]),
    (dt.datetime(2026, 1, 25, 10, tzinfo=ROME), [10, 6, 9]),
    (dt.datetime(2026, 2, 14, 10, tzinfo=ROME), [8, 7, 10, 10]),
    (dt.datetime(2026, 3, 3, 10, tzinfo=ROME), [0, 9, 2]),
    (dt.datetime(2026, 3, 10, 23, 30, tzinfo=UTC), [10]),
    (dt.datetime(2026, 3, 20, 10, tzinfo=ROME), [10, 10, 5]),
    (dt.datetime(2026, 4, 2, 10, tzinfo=ROME_SUMMER), [9]),
]


@pytest.fixture
def world(db: None) -> SimpleNamespace:
    acme = ClientFactory.create()
    beta = ClientFactory.create(ref="beta-telco", name="Beta Telco")
    giulia = OperatorFactory.create(ref="op-giulia", name="Giulia", client=acme)
    sara = OperatorFactory.create(ref="op-sara", name="Sara", client=beta)
    for when, scores in ANSWERS:
        answer_many(client=acme, operator=giulia, scores=scores, answered_at=when)
        answer_many(client=beta, operator=sara, scores=[9], answered_at=when)
    rollup_rebuild()
    settle()
    return SimpleNamespace(acme=acme, beta=beta, giulia=giulia, sara=sara)


def settle() -> None:
    """Every response saved a day before the roll-up's last refresh, an hour ago."""
    mark = timezone.now() - dt.timedelta(hours=1)
    Response.objects.update(updated_at=mark - dt.timedelta(days=1))
    RollupState.objects.update_or_create(pk=1, defaults={"high_water": mark})


def acme(w: SimpleNamespace, **kwargs: object) -> NpsFilters:
    return NpsFilters(client_ids=[w.acme.pk], **{**PERIOD, **kwargs})


def overall(filters: NpsFilters, use_rollup: bool | None = None) -> Counts:
    cells = count_cells(filters=filters, keys=[], use_rollup=use_rollup)
    return cells.get((), Counts())


def test_the_period_splits_into_whole_months_and_edge_days():
    f = NpsFilters(client_ids=[1], date_from=dt.date(2026, 1, 20), date_to=dt.date(2026, 3, 10))
    whole, edges = month_split(f)
    assert whole is not None
    assert (whole.date_from, whole.date_to) == (FEB, dt.date(2026, 2, 28))
    assert [(e.date_from, e.date_to) for e in edges] == [
        (dt.date(2026, 1, 20), dt.date(2026, 1, 31)),
        (MAR, dt.date(2026, 3, 10)),
    ]
    # Open-ended from a mid-month day: the rest of that month, then whole months.
    whole, edges = month_split(NpsFilters(client_ids=[1], date_from=dt.date(2025, 11, 28)))
    assert whole is not None and (whole.date_from, whole.date_to) == (dt.date(2025, 12, 1), None)
    assert [(e.date_from, e.date_to) for e in edges] == [
        (dt.date(2025, 11, 28), dt.date(2025, 11, 30))
    ]
    # Whole months only: no edges.
    whole, edges = month_split(
        NpsFilters(client_ids=[1], date_from=JAN, date_to=dt.date(2026, 2, 28))
    )
    assert whole is not None and (whole.date_from, whole.date_to) == (JAN, dt.date(2026, 2, 28))
    assert edges == []
    # No whole month inside (within one month, or across two adjacent partial months): the
    # filters themselves, read raw.
    for start, end in [
        (dt.date(2026, 1, 5), dt.date(2026, 1, 20)),
        (dt.date(2026, 1, 20), dt.date(2026, 2, 10)),
        (dt.date(2026, 1, 1), dt.date(2026, 1, 30)),
    ]:
        f = NpsFilters(client_ids=[1], date_from=start, date_to=end)
        assert month_split(f) == (None, [f])


def test_mid_month_period_matches_the_hand_count(world):
    expected = Counts(5, 2, 4)
    assert overall(acme(world), use_rollup=False) == expected
    assert overall(acme(world)) == expected
    row = nps_table(filters=acme(world), group_by=["client"])[0]
    assert (row.n, row.promoters, row.passives, row.detractors) == (11, 5, 2, 4)
    assert row.nps == pytest.approx(100 * 1 / 11)
    centre = 1.0 / 14
    half = Z95 * math.sqrt((0.75 - centre**2) / 14)
    assert row.ci_low == pytest.approx(100 * (centre - half), abs=0.01)
    assert row.ci_high == pytest.approx(100 * (centre + half), abs=0.01)
    assert row.ci_low == pytest.approx(-38.07, abs=0.01)
    assert row.ci_high == pytest.approx(52.35, abs=0.01)
    assert row == nps_table(filters=acme(world), group_by=["client"], use_rollup=False)[0]


def test_mid_month_trend_and_groups_match_the_raw_path(world):
    months = {
        r.keys["month"]: (r.n, r.promoters, r.passives, r.detractors)
        for r in nps_table(filters=acme(world), group_by=["month"])
    }
    assert months == {JAN: (4, 2, 0, 2), FEB: (4, 2, 2, 0), MAR: (3, 1, 0, 2)}
    quarters = nps_table(filters=acme(world), group_by=["quarter"])
    assert [(r.keys["quarter"], r.n, r.promoters, r.passives, r.detractors) for r in quarters] == [
        (JAN, 11, 5, 2, 4)
    ]
    both = NpsFilters(client_ids=[world.acme.pk, world.beta.pk], **PERIOD)
    for group_by in (["client"], ["operator"], ["channel"], ["client", "month"], ["outcome"]):
        assert nps_table(filters=both, group_by=group_by) == nps_table(
            filters=both, group_by=group_by, use_rollup=False
        ), group_by
    # Beta: one 9 on each of the four answer days inside the period.
    beta = nps_table(filters=both, group_by=["client"])
    assert [(r.keys["client"], r.n, r.promoters) for r in beta] == [
        ("acme-energia", 11, 5),
        ("beta-telco", 4, 4),
    ]


def test_whole_months_are_read_from_the_roll_up(world):
    # Change February's roll-up row behind the raw data's back: the mid-month period now
    # shows it, proof that the whole month was read from the roll-up and the edges were not.
    feb = NpsRollup.objects.get(client=world.acme, month=FEB)
    NpsRollup.objects.filter(pk=feb.pk).update(promoters=feb.promoters + 100)
    assert overall(acme(world)) == Counts(105, 2, 4)
    assert overall(acme(world), use_rollup=False) == Counts(5, 2, 4)
    # Edge days inside January and March are raw: their roll-up rows do not count.
    NpsRollup.objects.filter(client=world.acme, month__in=[JAN, MAR]).update(promoters=1000)
    assert overall(acme(world)) == Counts(105, 2, 4)


def test_late_answers_count_at_once_in_edges_and_whole_months(world):
    # Saved after the roll-up's last refresh: one in February (a whole month, from the
    # roll-up's fresh cells), one on 5 March (an edge day, raw), one on 12 March (outside).
    for when, score in [
        (dt.datetime(2026, 2, 20, 10, tzinfo=ROME), 0),
        (dt.datetime(2026, 3, 5, 10, tzinfo=ROME), 10),
        (dt.datetime(2026, 3, 12, 10, tzinfo=ROME), 0),
    ]:
        answer_many(client=world.acme, operator=world.giulia, scores=[score], answered_at=when)
    # P 5 + 1, Pa 2, D 4 + 1: n 13.
    assert overall(acme(world)) == Counts(6, 2, 5)
    assert overall(acme(world), use_rollup=False) == Counts(6, 2, 5)
    # The roll-up as last refreshed does not have them yet; a refresh brings it level.
    whole_feb = acme(world, date_from=FEB, date_to=dt.date(2026, 2, 28))
    assert overall(whole_feb, use_rollup=True) == Counts(2, 2, 0)
    assert overall(whole_feb) == Counts(2, 2, 1)
    rollup_refresh()
    assert overall(whole_feb, use_rollup=True) == Counts(2, 2, 1)
    assert overall(acme(world)) == Counts(6, 2, 5)


def test_the_roll_up_alone_still_refuses_a_mid_month_period(world):
    with pytest.raises(ValueError):
        overall(acme(world), use_rollup=True)


def test_score_distribution_of_a_mid_month_period(world):
    # [0] + [10 6 9] + [8 7 10 10] + [0 9 2]: 0 twice, 2, 6, 7, 8 once, 9 twice, 10 three times.
    expected = [(0, 2), (1, 0), (2, 1), (3, 0), (4, 0), (5, 0), (6, 1), (7, 1), (8, 1)]
    expected += [(9, 2), (10, 3)]
    assert score_distribution(filters=acme(world), use_rollup=False) == expected
    assert score_distribution(filters=acme(world)) == expected
    # February (the whole month) comes from the roll-up's per-score counts.
    NpsRollup.objects.filter(client=world.acme, month=FEB).update(score_8=11)
    assert score_distribution(filters=acme(world))[8] == (8, 11)
    assert score_distribution(filters=acme(world), use_rollup=False)[8] == (8, 1)


def test_the_roll_up_counts_every_score(world):
    # Acme's February row: 8 7 10 10; its March row: 0 9 2, 10 (the 11th), 10 10 5.
    feb = NpsRollup.objects.get(client=world.acme, month=FEB)
    assert [getattr(feb, f"score_{s}") for s in range(11)] == [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 2]
    assert (feb.promoters, feb.passives, feb.detractors) == (2, 2, 0)
    mar = NpsRollup.objects.get(client=world.acme, month=MAR)
    assert [getattr(mar, f"score_{s}") for s in range(11)] == [1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 3]
    # Whole months only (every answer of the table, 3+1+3+4+3+1+3+1 = 19): the roll-up alone
    # gives the raw distribution.
    whole = acme(world, date_from=JAN, date_to=dt.date(2026, 4, 30))
    assert score_distribution(filters=whole, use_rollup=True) == score_distribution(
        filters=whole, use_rollup=False
    )
    assert sum(n for _, n in score_distribution(filters=whole, use_rollup=True)) == 19
