"""The SQL path (raw responses and roll-up) against a plain-Python reference on 10,000 random
responses, for every group_by and some combinations with filters.

Answer times are drawn with extra weight near local midnights at month starts and around the
2025 and 2026 daylight-saving switches, where a period computed in UTC instead of the
agency's time zone would put answers in the wrong week, month or quarter.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from typing import Any

import pytest

from nps.rollup import agency_tz, rollup_rebuild
from nps.selectors import nps_table, rollup_answerable
from nps.stats import bucket
from nps.types import GROUP_BYS, NpsFilters
from tests.factories import ClientFactory, OperatorFactory
from tests.nps.nps_support import Spec, bulk_answers

N = 10_000
UTC = dt.UTC
CHANNELS = ("web", "sms_reply", "cati")
CONTACT_CHANNELS = ("phone", "home_visit")
OUTCOMES = (
    "promise_to_pay",
    "paid",
    "partial_payment",
    "payment_plan",
    "dispute",
    "refusal",
    "callback_requested",
    "hardship",
)
START = dt.datetime(2025, 1, 1, tzinfo=UTC)
SPAN_SECONDS = int((dt.datetime(2026, 7, 1, tzinfo=UTC) - START).total_seconds())
EDGES = [dt.datetime(y, m, 1, tzinfo=agency_tz()) for y in (2025, 2026) for m in range(1, 13)] + [
    dt.datetime(2025, 3, 30, 2, tzinfo=UTC),
    dt.datetime(2025, 10, 26, 1, tzinfo=UTC),
    dt.datetime(2026, 3, 29, 1, tzinfo=UTC),
]


def draw_time(rnd: random.Random) -> dt.datetime:
    if rnd.random() < 0.3:
        edge = rnd.choice(EDGES)
        return edge + dt.timedelta(minutes=rnd.randint(-180, 180))
    return START + dt.timedelta(seconds=rnd.randrange(SPAN_SECONDS))


def reference_key(spec: Spec, key: str) -> Any:
    local = spec.answered_at.astimezone(agency_tz()).date()
    if key == "client":
        return spec.client.ref
    if key == "operator":
        return spec.operator.ref
    if key == "channel":
        return spec.channel
    if key == "contact_channel":
        return spec.contact_channel
    if key == "outcome":
        return spec.outcome
    if key == "week":
        return local - dt.timedelta(days=local.weekday())
    if key == "month":
        return local.replace(day=1)
    return local.replace(month=(local.month - 1) // 3 * 3 + 1, day=1)


def passes(spec: Spec, filters: NpsFilters) -> bool:
    local = spec.answered_at.astimezone(agency_tz()).date()
    return (
        spec.score is not None
        and spec.client.pk in filters.client_ids
        and (filters.operator_ids is None or spec.operator.pk in filters.operator_ids)
        and (filters.channels is None or spec.channel in filters.channels)
        and (filters.contact_channels is None or spec.contact_channel in filters.contact_channels)
        and (filters.outcomes is None or spec.outcome in filters.outcomes)
        and (filters.date_from is None or local >= filters.date_from)
        and (filters.date_to is None or local <= filters.date_to)
    )


def reference(specs: list[Spec], filters: NpsFilters, group_by: list[str]) -> dict[tuple, tuple]:
    tally: dict[tuple, Counter[str]] = defaultdict(Counter)
    for spec in specs:
        if passes(spec, filters):
            tally[tuple(reference_key(spec, k) for k in group_by)][bucket(spec.score)] += 1
    return {key: (c["promoter"], c["passive"], c["detractor"]) for key, c in sorted(tally.items())}


def sql(filters: NpsFilters, group_by: list[str], use_rollup: bool | None) -> dict[tuple, tuple]:
    rows = nps_table(
        filters=filters, group_by=group_by, use_rollup=use_rollup, credible_intervals=False
    )
    return {
        tuple(r.keys[k] for k in group_by): (r.promoters, r.passives, r.detractors) for r in rows
    }


@pytest.mark.slow
def test_sql_and_python_agree_on_ten_thousand_random_answers(db):
    rnd = random.Random(20260101)
    clients = [
        ClientFactory.create(ref=ref, name=ref.title())
        for ref in ("acme-energia", "beta-telco", "gamma-gas")
    ]
    operators = [
        OperatorFactory.create(ref=f"op-{i:02d}", name=f"Operator {i:02d}", client=clients[i % 3])
        for i in range(12)
    ]
    specs: list[Spec] = []
    for _ in range(N):
        operator = rnd.choice(operators)
        client = operator.client
        # op-00 moved: a fifth of their answers are for another client.
        if operator.ref == "op-00" and rnd.random() < 0.2:
            client = clients[1]
        specs.append(
            Spec(
                client=client,
                operator=operator,
                score=None if rnd.random() < 0.03 else rnd.randint(0, 10),
                answered_at=draw_time(rnd),
                channel=rnd.choice(CHANNELS),
                contact_channel=rnd.choice(CONTACT_CHANNELS),
                outcome=rnd.choice(OUTCOMES),
                complete=rnd.random() < 0.9,
            )
        )
    bulk_answers(specs)
    rollup_rebuild()

    everyone = NpsFilters(client_ids=[c.pk for c in clients])
    cases: list[tuple[NpsFilters, list[str]]] = [(everyone, [k]) for k in GROUP_BYS]
    cases += [
        (everyone, []),
        (everyone, ["operator", "month"]),
        (everyone, ["client", "channel", "quarter"]),
        (
            NpsFilters(
                client_ids=[clients[0].pk, clients[1].pk],
                operator_ids=[operators[0].pk, operators[1].pk, operators[3].pk],
                channels=["web", "cati"],
            ),
            ["operator", "week"],
        ),
        (
            NpsFilters(
                client_ids=[c.pk for c in clients],
                contact_channels=["home_visit"],
                outcomes=["paid", "refusal", "hardship"],
                date_from=dt.date(2025, 3, 15),
                date_to=dt.date(2025, 11, 2),
            ),
            ["client", "outcome", "month"],
        ),
        (
            NpsFilters(
                client_ids=[clients[2].pk],
                date_from=dt.date(2025, 10, 1),
                date_to=dt.date(2026, 3, 31),
            ),
            ["contact_channel", "month"],
        ),
    ]
    for filters, group_by in cases:
        expected = reference(specs, filters, group_by)
        assert expected, group_by
        assert sql(filters, group_by, use_rollup=False) == expected, ("raw", group_by)
        assert sql(filters, group_by, use_rollup=None) == expected, ("auto", group_by)
        if rollup_answerable(filters=filters, group_by=group_by):
            assert sql(filters, group_by, use_rollup=True) == expected, ("rollup", group_by)

    # The operator who moved has one row with both clients' answers.
    mover = [
        r
        for r in nps_table(filters=everyone, group_by=["operator"])
        if r.keys["operator"] == "op-00"
    ]
    assert len(mover) == 1
    assert mover[0].n == sum(1 for s in specs if s.operator.ref == "op-00" and s.score is not None)
