"""The SQL path against counts worked out by hand on a small set of answers.

The agency's time zone is Europe/Rome (UTC+1 in winter). Acme Energia has operators Giulia
and Marco; Beta Telco has Sara. Every group of answers, local time:

  G1  Giulia  web        phone       promise_to_pay  Thu 2026-01-15 10:00
      10 10 9 9 9 8 7 6 3 0 10 9(partial: stopped after the score)   P7 Pa2 D3  n12
  G2  Giulia  cati       phone       paid            Tue 2026-02-10 10:00
      10 10 10 9 8 8 6 5                                               P4 Pa2 D2  n8
  G3  Marco   web        phone       refusal         Tue 2026-01-20 10:00
      0 1 2 3 6 7 8 9 10 10                                            P3 Pa2 D5  n10
  G4  Marco   sms_reply  home_visit  promise_to_pay  Tue 2026-02-03 10:00
      9 9 9 7 6                                                        P3 Pa1 D1  n5
  G5  Marco   web        phone       refusal         Sat 2026-01-31 23:30 UTC
      = Sun 2026-02-01 00:30 in Rome: February, week of Mon 01-26      P1         n1
  G6  Sara    web        phone       paid            Sun 2026-03-01 23:30 UTC
      = Mon 2026-03-02 00:30 in Rome: March, week of Mon 03-02
      9 x10, 0                                                         P10 D1     n11
  and one response opened by Giulia's debtor with no score at all (not counted).

NPS = 100 x (P - D) / n. A group under 10 answers is hidden (no score).
"""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import pytest
from django.test import Client as WebClient
from rest_framework.authtoken.models import Token

from collections_link.models import Role
from nps.rollup import rollup_rebuild
from nps.selectors import (
    mask_pii,
    nps_compare,
    nps_overall,
    nps_table,
    nps_trend,
    operator_leaderboard,
    posterior_nps,
    score_distribution,
)
from nps.stats import Counts, shrink
from nps.types import GROUP_BYS, NpsFilters
from tests.factories import ClientFactory, OperatorFactory, user_with_role
from tests.nps.nps_support import answer_many, answered

UTC = dt.UTC
ROME = dt.timezone(dt.timedelta(hours=1))  # Rome in winter
Z95 = 1.959964


@pytest.fixture
def world(db: None) -> SimpleNamespace:
    acme = ClientFactory.create()
    beta = ClientFactory.create(ref="beta-telco", name="Beta Telco")
    giulia = OperatorFactory.create(ref="op-giulia", name="Giulia", client=acme)
    marco = OperatorFactory.create(ref="op-marco", name="Marco", client=acme)
    sara = OperatorFactory.create(ref="op-sara", name="Sara", client=beta)
    g1 = [10, 10, 9, 9, 9, 8, 7, 6, 3, 0, 10]
    answer_many(
        client=acme,
        operator=giulia,
        scores=g1,
        answered_at=dt.datetime(2026, 1, 15, 10, tzinfo=ROME),
        outcome="promise_to_pay",
    )
    answered(
        client=acme,
        operator=giulia,
        score=9,
        complete=False,
        answered_at=dt.datetime(2026, 1, 15, 11, tzinfo=ROME),
        outcome="promise_to_pay",
    )
    answered(
        client=acme,
        operator=giulia,
        score=None,
        answered_at=dt.datetime(2026, 1, 16, 11, tzinfo=ROME),
    )
    answer_many(
        client=acme,
        operator=giulia,
        scores=[10, 10, 10, 9, 8, 8, 6, 5],
        answered_at=dt.datetime(2026, 2, 10, 10, tzinfo=ROME),
        channel="cati",
        outcome="paid",
    )
    answer_many(
        client=acme,
        operator=marco,
        scores=[0, 1, 2, 3, 6, 7, 8, 9, 10, 10],
        answered_at=dt.datetime(2026, 1, 20, 10, tzinfo=ROME),
        outcome="refusal",
    )
    answer_many(
        client=acme,
        operator=marco,
        scores=[9, 9, 9, 7, 6],
        answered_at=dt.datetime(2026, 2, 3, 10, tzinfo=ROME),
        channel="sms_reply",
        contact_channel="home_visit",
        outcome="promise_to_pay",
    )
    answered(
        client=acme,
        operator=marco,
        score=9,
        answered_at=dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC),
        outcome="refusal",
    )
    # G6: the first at 23:30 UTC on Sunday 1 March (00:30 Monday in Rome), then a minute
    # apart.
    answer_many(
        client=beta,
        operator=sara,
        scores=[9] * 10 + [0],
        answered_at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
        outcome="paid",
    )
    return SimpleNamespace(acme=acme, beta=beta, giulia=giulia, marco=marco, sara=sara)


def everyone(w: SimpleNamespace, **kwargs: object) -> NpsFilters:
    return NpsFilters(client_ids=[w.acme.pk, w.beta.pk], **kwargs)


def table(w: SimpleNamespace, group_by: list[str], **kwargs: object) -> dict[tuple, tuple]:
    """{keys: (n, P, Pa, D, nps rounded to 0.01 or None, state)}."""
    rows = nps_table(filters=everyone(w, **kwargs), group_by=group_by, use_rollup=False)
    return {
        tuple(r.keys[k] for k in group_by): (
            r.n,
            r.promoters,
            r.passives,
            r.detractors,
            None if r.nps is None else round(r.nps, 2),
            r.state,
        )
        for r in rows
    }


JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)

# Per group_by, the rows worked out from the table in the module docstring.
EXPECTED: dict[str, dict[tuple, tuple]] = {
    # Acme = G1..G5: P 7+4+3+3+1 = 18, Pa 2+2+2+1 = 7, D 3+2+5+1 = 11, n 36:
    # 100 x 7 / 36 = 19.44. Beta = G6: 100 x 9 / 11 = 81.82.
    "client": {
        ("acme-energia",): (36, 18, 7, 11, 19.44, "shown"),
        ("beta-telco",): (11, 10, 0, 1, 81.82, "shown"),
    },
    # Operators of 10-29 answers show only the shrunken value: no raw NPS.
    "operator": {
        ("op-giulia",): (20, 11, 4, 5, None, "shrunk_only"),
        ("op-marco",): (16, 7, 3, 6, None, "shrunk_only"),
        ("op-sara",): (11, 10, 0, 1, None, "shrunk_only"),
    },
    # web = G1 G3 G5 G6: P 7+3+1+10 = 21, Pa 4, D 3+5+1 = 9, n 34: 100 x 12 / 34 = 35.29.
    "channel": {
        ("cati",): (8, 4, 2, 2, None, "hidden"),
        ("sms_reply",): (5, 3, 1, 1, None, "hidden"),
        ("web",): (34, 21, 4, 9, 35.29, "shown"),
    },
    # phone = all but G4: P 25, Pa 6, D 11, n 42: 100 x 14 / 42 = 33.33.
    "contact_channel": {
        ("home_visit",): (5, 3, 1, 1, None, "hidden"),
        ("phone",): (42, 25, 6, 11, 33.33, "shown"),
    },
    # promise_to_pay = G1 G4 (P10 Pa3 D4, n17): 35.29; paid = G2 G6 (P14 Pa2 D3, n19):
    # 57.89; refusal = G3 G5 (P4 Pa2 D5, n11): -9.09.
    "outcome": {
        ("paid",): (19, 14, 2, 3, 57.89, "shown"),
        ("promise_to_pay",): (17, 10, 3, 4, 35.29, "shown"),
        ("refusal",): (11, 4, 2, 5, -9.09, "shown"),
    },
    # Weeks start on Monday, in Rome.
    "week": {
        (dt.date(2026, 1, 12),): (12, 7, 2, 3, 33.33, "shown"),
        (dt.date(2026, 1, 19),): (10, 3, 2, 5, -20.0, "shown"),
        (dt.date(2026, 1, 26),): (1, 1, 0, 0, None, "hidden"),
        (dt.date(2026, 2, 2),): (5, 3, 1, 1, None, "hidden"),
        (dt.date(2026, 2, 9),): (8, 4, 2, 2, None, "hidden"),
        (dt.date(2026, 3, 2),): (11, 10, 0, 1, 81.82, "shown"),
    },
    # January = G1 G3 (P10 Pa4 D8, n22): 9.09; February = G2 G4 G5 (P8 Pa3 D3, n14): 35.71.
    "month": {
        (JAN,): (22, 10, 4, 8, 9.09, "shown"),
        (FEB,): (14, 8, 3, 3, 35.71, "shown"),
        (MAR,): (11, 10, 0, 1, 81.82, "shown"),
    },
    # Everything: P 28, Pa 7, D 12, n 47: 100 x 16 / 47 = 34.04.
    "quarter": {(JAN,): (47, 28, 7, 12, 34.04, "shown")},
}


def test_every_group_by_has_hand_worked_expectations():
    assert set(EXPECTED) == set(GROUP_BYS)


@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_counts_and_scores_per_group_by(world, group_by):
    assert table(world, [group_by]) == EXPECTED[group_by]


def test_two_keys_and_filters(world):
    # Giulia and Marco per month, web only: Giulia January = G1 (P7 Pa2 D3, n12);
    # Marco January = G3 (n10), February = G5 (n1).
    got = table(world, ["operator", "month"], channels=["web"])
    assert got == {
        ("op-giulia", JAN): (12, 7, 2, 3, None, "shrunk_only"),
        ("op-marco", JAN): (10, 3, 2, 5, None, "shrunk_only"),
        ("op-marco", FEB): (1, 1, 0, 0, None, "hidden"),
        ("op-sara", MAR): (11, 10, 0, 1, None, "shrunk_only"),
    }
    # Giulia's phone contacts from 1 February (Rome) on: G2 (P4 Pa2 D2).
    got = table(
        world,
        ["channel"],
        operator_ids=[world.giulia.pk],
        contact_channels=["phone"],
        date_from=dt.date(2026, 2, 1),
    )
    assert got == {("cati",): (8, 4, 2, 2, None, "hidden")}
    # Outcome refusal, the last day of January only: G5 was answered on 1 February in Rome,
    # so nothing is left.
    assert (
        table(
            world,
            ["client"],
            outcomes=["refusal"],
            date_from=JAN.replace(day=31),
            date_to=JAN.replace(day=31),
        )
        == {}
    )
    # ...and on 1 February it is there.
    assert table(world, ["client"], outcomes=["refusal"], date_from=FEB, date_to=FEB) == {
        ("acme-energia",): (1, 1, 0, 0, None, "hidden")
    }


def test_shown_rows_carry_the_adjusted_wald_interval(world):
    row = next(
        r
        for r in nps_table(filters=everyone(world), group_by=["client"], use_rollup=False)
        if r.keys["client"] == "acme-energia"
    )
    # n' = 39, p' = 18.75 / 39 = 0.480769, d' = 11.75 / 39 = 0.301282, centre 0.179487;
    # var = 0.782051 - 0.179487^2 = 0.749835; half = 1.959964 x sqrt(0.749835 / 39) = 0.271765
    assert row.ci_low == pytest.approx(100 * (0.179487 - 0.271765), abs=0.01)
    assert row.ci_high == pytest.approx(100 * (0.179487 + 0.271765), abs=0.01)
    assert row.nps == pytest.approx(100 * 7 / 36)
    assert row.extra["client_name"] == "Acme Energia"


def test_operator_rows_are_shrunk_toward_their_own_client(world):
    rows = {
        r.keys["operator"]: r
        for r in nps_table(filters=everyone(world), group_by=["operator"], use_rollup=False)
    }
    # Acme's two operators are too few to fit the prior strength, so it is the default 20;
    # Acme's pooled shares are 18/36, 7/36, 11/36.
    # Giulia: 100 x [(11 + 20 x 18/36) - (5 + 20 x 11/36)] / (20 + 20) = 24.72
    assert rows["op-giulia"].shrunk_nps == pytest.approx(
        100 * ((11 + 10) - (5 + 20 * 11 / 36)) / 40
    )
    # Marco: 100 x [(7 + 10) - (6 + 6.111)] / (16 + 20) = 13.58
    assert rows["op-marco"].shrunk_nps == pytest.approx(100 * ((7 + 10) - (6 + 20 * 11 / 36)) / 36)
    # Sara is Beta's only operator: the prior is her own mix, so shrinking leaves 81.82.
    assert rows["op-sara"].shrunk_nps == pytest.approx(100 * 9 / 11)
    for row in rows.values():
        assert row.nps is None and row.ci_low is None  # shrunk_only: no raw score
        assert row.shrunk_low < row.shrunk_nps < row.shrunk_high
    assert rows["op-giulia"].extra["operator_name"] == "Giulia"


def test_posterior_mean_is_what_shrink_reports():
    c = Counts(11, 4, 5)
    shares = (18 / 36, 7 / 36, 11 / 36)
    expected = shrink({0: c}, prior_shares=shares, prior_strength=20.0)[0].shrunk_nps
    assert posterior_nps(c, shares, 20.0) == pytest.approx(expected)


def test_rollup_gives_the_same_table_for_whole_months(world):
    rollup_rebuild()
    for group_by in (["client"], ["operator", "month"], ["channel", "quarter"], ["outcome"]):
        raw = nps_table(filters=everyone(world), group_by=group_by, use_rollup=False)
        rolled = nps_table(filters=everyone(world), group_by=group_by, use_rollup=True)
        assert rolled == raw, group_by
    feb = everyone(world, date_from=FEB, date_to=dt.date(2026, 2, 28))
    assert nps_table(filters=feb, group_by=["operator"], use_rollup=True) == nps_table(
        filters=feb, group_by=["operator"], use_rollup=False
    )
    with pytest.raises(ValueError, match="whole months"):
        nps_table(filters=everyone(world), group_by=["week"], use_rollup=True)


def test_unknown_or_repeated_group_by_is_refused(world):
    with pytest.raises(ValueError, match="allowed: client, operator"):
        nps_table(filters=everyone(world), group_by=["debtor"])
    with pytest.raises(ValueError, match="one period"):
        nps_table(filters=everyone(world), group_by=["week", "month"])


def test_selectors_never_widen_the_clients(world):
    only_beta = NpsFilters(client_ids=[world.beta.pk])
    assert [r.keys["operator"] for r in nps_table(filters=only_beta, group_by=["operator"])] == [
        "op-sara"
    ]
    assert nps_table(filters=NpsFilters(client_ids=[]), group_by=["client"]) == []
    assert operator_leaderboard(client_id=world.acme.pk, filters=only_beta) == []


def test_overall_trend_and_distribution(world):
    overall = nps_overall(filters=everyone(world))
    assert (overall.n, overall.promoters, overall.passives, overall.detractors) == (47, 28, 7, 12)
    assert overall.nps == pytest.approx(100 * 16 / 47)
    trend = nps_trend(filters=everyone(world), period="month")
    assert [(r.keys["period"], r.n) for r in trend] == [(JAN, 22), (FEB, 14), (MAR, 11)]
    # A gap in the middle is an explicit empty period.
    weeks = nps_trend(filters=everyone(world, operator_ids=[world.giulia.pk]), period="week")
    assert [(r.keys["period"], r.n, r.state) for r in weeks] == [
        (dt.date(2026, 1, 12), 12, "shown"),
        (dt.date(2026, 1, 19), 0, "hidden"),
        (dt.date(2026, 1, 26), 0, "hidden"),
        (dt.date(2026, 2, 2), 0, "hidden"),
        (dt.date(2026, 2, 9), 8, "hidden"),
    ]
    # Scores given: 0 x3 (G1, G3, G6), 1, 2, 3 x2, 5, 6 x4, 7 x3, 8 x4, 9 x20, 10 x8.
    assert score_distribution(filters=everyone(world)) == [
        (0, 3),
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 0),
        (5, 1),
        (6, 4),
        (7, 3),
        (8, 4),
        (9, 20),
        (10, 8),
    ]


def test_compare_two_months(world):
    trend = nps_trend(filters=everyone(world), period="month")
    jan, feb = trend[0], trend[1]
    test = nps_compare(a=feb, b=jan)
    # Adjusted: Feb n' 17, p' 8.75/17, d' 3.75/17; Jan n' 25, p' 10.75/25, d' 8.75/25.
    p1, d1, n1 = 8.75 / 17, 3.75 / 17, 17
    p2, d2, n2 = 10.75 / 25, 8.75 / 25, 25
    v1, v2 = p1 + d1 - (p1 - d1) ** 2, p2 + d2 - (p2 - d2) ** 2
    z = ((p1 - d1) - (p2 - d2)) / math.sqrt(v1 / n1 + v2 / n2)
    assert test.z == pytest.approx(z)
    assert test.diff == pytest.approx(100 * ((p1 - d1) - (p2 - d2)))


def test_leaderboard_for_one_client(world):
    board = operator_leaderboard(client_id=world.acme.pk, filters=everyone(world))
    assert [r.keys["operator"] for r in board] == ["op-giulia", "op-marco"]
    giulia = board[0]
    assert giulia.state == "shrunk_only" and "rank" not in giulia.extra
    assert giulia.shrunk_nps == pytest.approx(100 * ((11 + 10) - (5 + 20 * 11 / 36)) / 40)
    # Against the rest of Acme (Marco: P7 Pa3 D6 n16), on adjusted values:
    p1, d1, n1 = 11.75 / 23, 5.75 / 23, 23
    p2, d2, n2 = 7.75 / 19, 6.75 / 19, 19
    v1, v2 = p1 + d1 - (p1 - d1) ** 2, p2 + d2 - (p2 - d2) ** 2
    z = ((p1 - d1) - (p2 - d2)) / math.sqrt(v1 / n1 + v2 / n2)
    assert giulia.extra["vs_client"]["z"] == pytest.approx(z)
    adjusted = giulia.extra["channel_adjusted"]
    assert adjusted["low"] <= adjusted["nps"] <= adjusted["high"]


def test_ranks_from_fifty_answers_by_shrunken_value(db):
    acme = ClientFactory.create()
    at = dt.datetime(2026, 3, 10, 10, tzinfo=UTC)
    ops = {}
    # Anna 50 answers (30 promoters, 20 passives: +60); Bruno 60 (30 P, 30 D: 0); Carla 12
    # (all promoters: +100 raw, but too few to rank).
    for ref, scores in (
        ("op-anna", [10] * 30 + [8] * 20),
        ("op-bruno", [10] * 30 + [2] * 30),
        ("op-carla", [10] * 12),
    ):
        ops[ref] = OperatorFactory.create(ref=ref, name=ref[3:].title(), client=acme)
        answer_many(client=acme, operator=ops[ref], scores=scores, answered_at=at)
    board = operator_leaderboard(client_id=acme.pk, filters=NpsFilters(client_ids=[acme.pk]))
    assert [(r.keys["operator"], r.extra.get("rank"), r.state) for r in board] == [
        ("op-anna", 1, "ranked"),
        ("op-bruno", 2, "ranked"),
        ("op-carla", None, "shrunk_only"),
    ]
    assert board[0].nps == pytest.approx(60.0)
    assert board[2].nps is None and board[2].shrunk_nps < 100


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chiamatemi al +39 333 123 4567 grazie", "chiamatemi al [phone] grazie"),
        ("il mio numero 3331234567.", "il mio numero [phone]."),
        ("scrivete a mario.rossi@example.com", "scrivete a [email]"),
        ("IBAN IT60X0542811101000000123456 ok", "IBAN [IBAN] ok"),
        ("ho pagato € 1.250,00 ieri", "ho pagato [amount] ieri"),
        ("restano 1250 EUR", "restano [amount]"),
        ("only $300 left", "only [amount] left"),
        (
            "voto 10, ottimo operatore, chiamata del 12/01",
            "voto 10, ottimo operatore, chiamata del 12/01",
        ),
        ("pagato il 2026-01-15", "pagato il 2026-01-15"),
    ],
)
def test_mask_pii(text, expected):
    assert mask_pii(text) == expected


def test_comments_are_masked_detractors_first(db):
    from nps.selectors import latest_comments

    acme = ClientFactory.create()
    giulia = OperatorFactory.create(ref="op-giulia", client=acme)
    at = dt.datetime(2026, 3, 10, 10, tzinfo=UTC)
    answered(client=acme, operator=giulia, score=10, answered_at=at, reason="Gentilissima")
    answered(
        client=acme,
        operator=giulia,
        score=2,
        answered_at=at - dt.timedelta(days=1),
        reason="Richiamatemi al 3331234567",
    )
    answered(client=acme, operator=giulia, score=8, answered_at=at, reason="")
    comments = latest_comments(filters=NpsFilters(client_ids=[acme.pk]))
    assert [(c["score"], c["reason"]) for c in comments] == [
        (2, "Richiamatemi al [phone]"),
        (10, "Gentilissima"),
    ]
    newest = latest_comments(filters=NpsFilters(client_ids=[acme.pk]), detractors_first=False)
    assert [c["score"] for c in newest] == [10, 2]


def test_latest_comments_take_the_newest_detractors_then_the_newest_others(db):
    from nps.selectors import latest_comments

    acme = ClientFactory.create()
    giulia = OperatorFactory.create(ref="op-giulia", client=acme)
    at = dt.datetime(2026, 3, 10, 10, tzinfo=UTC)
    # (score, days before `at`): detractors on days 5, 3 and 3 (the later saved wins the tie),
    # others on days 0, 1 and 2, and a detractor with no reason (never listed).
    made = {}
    for score, days in [(3, 5), (6, 3), (0, 3), (10, 0), (7, 1), (9, 2)]:
        made[(score, days)] = answered(
            client=acme,
            operator=giulia,
            score=score,
            answered_at=at - dt.timedelta(days=days),
            reason=f"score {score}",
        )
    answered(client=acme, operator=giulia, score=1, answered_at=at, reason="")
    filters = NpsFilters(client_ids=[acme.pk])
    assert [c["score"] for c in latest_comments(filters=filters, limit=4)] == [0, 6, 3, 10]
    assert [c["score"] for c in latest_comments(filters=filters, limit=2)] == [0, 6]
    assert [c["score"] for c in latest_comments(filters=filters, limit=50)] == [0, 6, 3, 10, 7, 9]
    assert [c["response_id"] for c in latest_comments(filters=filters, limit=1)] == [
        made[(0, 3)].pk
    ]
    newest = latest_comments(filters=filters, limit=3, detractors_first=False)
    assert [c["score"] for c in newest] == [10, 7, 9]


def test_api_returns_the_hand_worked_rows(world):
    staff = user_with_role("sofia", Role.SUPERVISOR)
    token = Token.objects.create(user=staff)
    web = WebClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    answer = web.get("/api/v1/nps/", {"group_by": "client"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 2
    acme = body["results"][0]
    assert {k: acme[k] for k in ("client", "n", "promoters", "passives", "detractors", "nps")} == {
        "client": "acme-energia",
        "n": 36,
        "promoters": 18,
        "passives": 7,
        "detractors": 11,
        "nps": 19.44,
    }
    assert acme["state"] == "shown" and acme["ci_low"] == pytest.approx(-9.23, abs=0.01)
    months = web.get(
        "/api/v1/nps/", {"group_by": "contact_type,month", "client": "acme-energia"}
    ).json()["results"]
    assert [(r["contact_type"], r["month"], r["n"], r["nps"]) for r in months] == [
        ("home_visit", "2026-02-01", 5, None),
        ("phone", "2026-01-01", 22, 9.09),
        # February phone: G2 (P4 Pa2 D2) and G5 (P1): n 9, hidden.
        ("phone", "2026-02-01", 9, None),
    ]
    assert months[0]["state"] == "hidden"
