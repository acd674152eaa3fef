"""The monthly roll-up: equal to the raw responses after every refresh, and an incremental
refresh recounts only the (client, month) cells that changed."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from types import SimpleNamespace

import pytest
from django.utils import timezone

from nps.models import NpsRollup, RollupState
from nps.rollup import agency_tz, cells_as_pairs, rollup_rebuild, rollup_refresh
from nps.selectors import nps_table
from nps.stats import bucket
from nps.tasks import rollup_refresh_task
from nps.types import NpsFilters
from surveys.models import Response
from tests.factories import ClientFactory, OperatorFactory
from tests.nps.nps_support import Spec, answered, bulk_answers

UTC = dt.UTC
JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)


def raw_cells() -> Counter[tuple]:
    """What the roll-up should hold, counted in Python from every scored response."""
    out: Counter[tuple] = Counter()
    for r in Response.objects.filter(score__isnull=False):
        local = r.answered_at.astimezone(agency_tz()).date().replace(day=1)
        key = (r.client_id, r.operator_id, r.channel, r.contact_channel, r.contact_outcome, local)
        out[(*key, bucket(r.score))] += 1
    return out


def rollup_cells() -> Counter[tuple]:
    out: Counter[tuple] = Counter()
    for row in NpsRollup.objects.all():
        key = (
            row.client_id,
            row.operator_id,
            row.channel,
            row.contact_channel,
            row.contact_outcome,
            row.month,
        )
        for group, n in (
            ("promoter", row.promoters),
            ("passive", row.passives),
            ("detractor", row.detractors),
        ):
            if n:
                out[(*key, group)] += n
    return out


@pytest.fixture
def world(db: None) -> SimpleNamespace:
    acme = ClientFactory.create()
    beta = ClientFactory.create(ref="beta-telco", name="Beta Telco")
    giulia = OperatorFactory.create(ref="op-giulia", client=acme)
    sara = OperatorFactory.create(ref="op-sara", client=beta)
    specs = []
    for i in range(60):
        client, operator = (acme, giulia) if i % 2 else (beta, sara)
        month = (JAN, FEB, MAR)[i % 3]
        specs.append(
            Spec(
                client=client,
                operator=operator,
                score=i % 11,
                answered_at=dt.datetime(month.year, month.month, 1 + i % 27, 9, tzinfo=UTC),
                channel=("web", "sms_reply", "cati")[i % 3],
                contact_channel="phone" if i % 5 else "home_visit",
                outcome="promise_to_pay" if i % 4 else "refusal",
            )
        )
    bulk_answers(specs)
    return SimpleNamespace(acme=acme, beta=beta, giulia=giulia, sara=sara)


def settle(hours_ago: float = 1.0) -> dt.datetime:
    """Pretend the roll-up was refreshed `hours_ago` and every response is older than that."""
    mark = timezone.now() - dt.timedelta(hours=hours_ago)
    Response.objects.update(updated_at=mark - dt.timedelta(days=1))
    RollupState.objects.update_or_create(pk=1, defaults={"high_water": mark})
    return mark


def test_first_refresh_builds_everything(world):
    result = rollup_refresh()
    assert result.full
    assert rollup_cells() == raw_cells()
    assert sum(rollup_cells().values()) == 60
    assert RollupState.objects.get().high_water == result.high_water


def test_incremental_refresh_touches_only_changed_cells(world):
    rollup_rebuild()
    settle()
    untouched = set(
        NpsRollup.objects.exclude(client=world.acme, month=FEB).values_list("pk", flat=True)
    )
    # A new answer for Acme in February, and a partial answer of Beta's in March re-scored.
    answered(
        client=world.acme,
        operator=world.giulia,
        score=10,
        answered_at=dt.datetime(2026, 2, 14, 9, tzinfo=UTC),
    )
    partial = Response.objects.filter(client=world.beta, answered_at__month=3).first()
    partial.complete = False
    partial.score = 0 if partial.score != 0 else 10
    partial.save()
    march_beta = set(
        NpsRollup.objects.filter(client=world.beta, month=MAR).values_list("pk", flat=True)
    )

    result = rollup_refresh()

    assert not result.full
    assert cells_as_pairs(result.cells) == {(world.acme.pk, FEB), (world.beta.pk, MAR)}
    assert rollup_cells() == raw_cells()
    # Rows of other cells are the very same rows; the touched cells were rewritten.
    still_there = set(NpsRollup.objects.values_list("pk", flat=True))
    assert untouched - march_beta <= still_there
    assert not march_beta & still_there


def test_a_late_commit_is_caught_by_the_safety_margin(world):
    rollup_rebuild()
    mark = settle(hours_ago=0.0)
    # Saved (updated_at stamped) 2 minutes before the last refresh's mark, but committed
    # after that refresh read: only the margin lets the next refresh see it.
    late = answered(
        client=world.acme,
        operator=world.giulia,
        score=9,
        answered_at=dt.datetime(2026, 1, 5, 9, tzinfo=UTC),
    )
    Response.objects.filter(pk=late.pk).update(updated_at=mark - dt.timedelta(minutes=2))
    without = rollup_refresh(margin=dt.timedelta(0))
    assert without.cells == {}
    assert rollup_cells() != raw_cells()
    RollupState.objects.update(high_water=mark)
    with_margin = rollup_refresh(margin=dt.timedelta(minutes=10))
    assert cells_as_pairs(with_margin.cells) == {(world.acme.pk, JAN)}
    assert rollup_cells() == raw_cells()


def test_automatic_mode_is_exact_between_refreshes(world):
    rollup_rebuild()
    settle()
    answered(
        client=world.acme,
        operator=world.giulia,
        score=0,
        answered_at=dt.datetime(2026, 3, 3, 9, tzinfo=UTC),
    )
    filters = NpsFilters(client_ids=[world.acme.pk, world.beta.pk])
    raw = nps_table(filters=filters, group_by=["client", "month"], use_rollup=False)
    stale = nps_table(filters=filters, group_by=["client", "month"], use_rollup=True)
    auto = nps_table(filters=filters, group_by=["client", "month"])
    assert auto == raw
    assert sum(r.n for r in stale) == sum(r.n for r in raw) - 1


def test_rebuild_forgets_deleted_answers(world):
    rollup_rebuild()
    gone = Response.objects.filter(score__isnull=False).first()
    gone.follow_up.delete() if hasattr(gone, "follow_up") else None
    Response.objects.filter(pk=gone.pk).delete()
    assert rollup_cells() != raw_cells()
    rollup_rebuild()
    assert rollup_cells() == raw_cells()


def test_the_periodic_task_refreshes(world):
    assert rollup_refresh_task.delay().get() == {
        "full": True,
        "cells": 0,
        "rows": NpsRollup.objects.count(),
    }
    settle()
    answered(
        client=world.beta,
        operator=world.sara,
        score=7,
        answered_at=dt.datetime(2026, 2, 20, 9, tzinfo=UTC),
    )
    summary = rollup_refresh_task.delay().get()
    assert summary["full"] is False and summary["cells"] == 1
    assert rollup_cells() == raw_cells()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_rebuild_leaves_no_dead_rows_for_the_dashboards_to_scan():
    # Each rebuild replaces every row of the roll-up; left to autovacuum (slow, or off), the
    # dead rows pile up a table's worth a night and every dashboard request scans them.
    from django.db import connection

    client, operator = ClientFactory.create(), OperatorFactory.create()
    bulk_answers(
        [
            Spec(
                client=client,
                operator=operator,
                score=day % 11,
                answered_at=dt.datetime(2026, 5, day, 10, tzinfo=dt.UTC),
                channel="web",
                contact_channel="phone",
                outcome="promise_to_pay",
            )
            for day in range(1, 9)
        ]
    )
    for _ in range(3):
        rollup_rebuild()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_dead_tup, n_live_tup, last_vacuum IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname = %s",
            [NpsRollup._meta.db_table],
        )
        dead, live, vacuumed = cursor.fetchone()
    assert vacuumed
    assert dead == 0
    assert live == NpsRollup.objects.count() > 0
