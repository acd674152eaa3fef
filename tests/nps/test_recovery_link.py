"""Satisfaction beside recovery, on hand-made operators, debtors and payments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from nps.selectors import (
    payment_by_nps_group,
    recovery_correlation,
    respondents_vs_nonrespondents,
)
from nps.types import NpsFilters
from tests.factories import ClientFactory, OperatorFactory, PaymentFactory
from tests.nps.nps_support import Spec, answer_many, answered, bulk_answers, invited

UTC = dt.UTC
D = Decimal
T = dt.datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_spearman_across_four_operators_worked_by_hand(db):
    acme = ClientFactory.create()
    # Ten answers each (every answer its own debtor and account of 100.00 placed, worked
    # first by that operator, so 1,000.00 placed each). Raw NPS: Anna +60, Bruno +40,
    # Carla +10, Dario -30; with equal n the shrunken values keep that order.
    plan = {
        "op-anna": ([10] * 8 + [2] * 2, D("600.00")),
        "op-bruno": ([10] * 6 + [8] * 2 + [2] * 2, D("200.00")),
        "op-carla": ([10] * 4 + [8] * 3 + [2] * 3, D("400.00")),
        "op-dario": ([10] * 2 + [8] * 3 + [2] * 5, D("100.00")),
    }
    for ref, (scores, paid) in plan.items():
        operator = OperatorFactory.create(ref=ref, name=ref[3:].title(), client=acme)
        responses = answer_many(client=acme, operator=operator, scores=scores, answered_at=T)
        PaymentFactory.create(
            client=acme, account=responses[0].contact.account, amount=paid, paid_at=T
        )
    # Elio has 5 answers: hidden, so not a point.
    elio = OperatorFactory.create(ref="op-elio", name="Elio", client=acme)
    answer_many(client=acme, operator=elio, scores=[10] * 5, answered_at=T)

    result = recovery_correlation(client_id=acme.pk, filters=NpsFilters(client_ids=[acme.pk]))

    points = {p["operator_ref"]: p for p in result["points"]}
    assert set(points) == set(plan)
    assert result["n_operators"] == 4
    assert [points[r]["recovery_rate"] for r in plan] == [0.6, 0.2, 0.4, 0.1]
    # Ranks (ascending) of the shrunken NPS: Dario 1, Carla 2, Bruno 3, Anna 4; of the
    # recovery rates: Dario 1, Bruno 2, Carla 3, Anna 4. d = 0, 1, -1, 0; sum d^2 = 2;
    # rho = 1 - 6 x 2 / (4 x (16 - 1)) = 0.8. Equal n, so weighting by n changes nothing.
    assert result["rho"] == pytest.approx(0.8)
    assert -1 <= result["low"] <= result["high"] <= 1
    assert points["op-anna"]["shrunk_nps"] > points["op-bruno"]["shrunk_nps"]
    assert result["client"] == "acme-energia"


def test_correlation_needs_three_operators_and_stays_in_its_client(db):
    acme = ClientFactory.create()
    beta = ClientFactory.create(ref="beta-telco", name="Beta Telco")
    for ref, client in (("op-a", acme), ("op-b", acme), ("op-c", beta)):
        op = OperatorFactory.create(ref=ref, client=client)
        answer_many(client=client, operator=op, scores=[9] * 6 + [5] * 6, answered_at=T)
    result = recovery_correlation(
        client_id=acme.pk, filters=NpsFilters(client_ids=[acme.pk, beta.pk])
    )
    assert result["n_operators"] == 2 and result["rho"] is None
    assert {p["operator_ref"] for p in result["points"]} == {"op-a", "op-b"}
    # A client outside the caller's filters gives nothing.
    assert (
        recovery_correlation(client_id=acme.pk, filters=NpsFilters(client_ids=[beta.pk]))["points"]
        == []
    )


def test_payment_within_thirty_days_after_the_answer(db):
    acme = ClientFactory.create()
    giulia = OperatorFactory.create(ref="op-giulia", client=acme)
    as_of = dt.datetime(2026, 6, 1, tzinfo=UTC)

    def paid(response, *, at, amount="50.00", reversed_=False):
        payment = PaymentFactory.create(
            client=acme, account=response.contact.account, paid_at=at, amount=D(amount)
        )
        if reversed_:
            PaymentFactory.create(
                client=acme,
                account=response.contact.account,
                paid_at=at + dt.timedelta(days=20),
                amount=D(amount),
                reversal_of=payment,
            )

    # Promoter who paid one hour *before* answering: the payment does not follow the answer.
    early = answered(client=acme, operator=giulia, score=10, answered_at=T)
    paid(early, at=T - dt.timedelta(hours=1))
    # Promoter who paid 29 days after answering: counted.
    late = answered(client=acme, operator=giulia, score=9, answered_at=T)
    paid(late, at=T + dt.timedelta(days=29))
    # Detractor who paid 31 days after: outside the window.
    slow = answered(client=acme, operator=giulia, score=3, answered_at=T)
    paid(slow, at=T + dt.timedelta(days=31))
    # Passive whose payment bounced: nothing collected.
    bounced = answered(client=acme, operator=giulia, score=8, answered_at=T)
    paid(bounced, at=T + dt.timedelta(days=3), reversed_=True)
    # Detractor who answered ten days before the report: the window is not over, left out.
    answered(client=acme, operator=giulia, score=0, answered_at=as_of - dt.timedelta(days=10))

    rows = payment_by_nps_group(filters=NpsFilters(client_ids=[acme.pk]), days=30, as_of=as_of)

    assert [(r["group"], r["responses"], r["debtors"], r["paid_within"]) for r in rows] == [
        ("promoter", 2, 2, 1),
        ("passive", 1, 1, 0),
        ("detractor", 1, 1, 0),
    ]
    assert rows[0]["rate"] == 0.5
    assert rows[0]["low"] < 0.5 < rows[0]["high"]
    assert rows[1]["rate"] == 0.0


def test_respondents_against_non_respondents(db):
    acme = ClientFactory.create()
    giulia = OperatorFactory.create(ref="op-giulia", name="Giulia", client=acme)
    marco = OperatorFactory.create(ref="op-marco", name="Marco", client=acme)
    contact_at = T - dt.timedelta(days=1)
    # Giulia: two respondents (one paid 50.00), three who never answered (one paid 100.00),
    # one invitation still open (left out).
    r1 = answered(client=acme, operator=giulia, score=9, answered_at=T)
    answered(client=acme, operator=giulia, score=4, answered_at=T)
    PaymentFactory.create(client=acme, account=r1.contact.account, amount=D("50.00"), paid_at=T)
    silent = [invited(client=acme, operator=giulia, contact_at=contact_at) for _ in range(3)]
    PaymentFactory.create(
        client=acme, account=silent[0].contact.account, amount=D("100.00"), paid_at=T
    )
    invited(
        client=acme,
        operator=giulia,
        contact_at=contact_at,
        status="sent",
        expires_at=dt.datetime(2099, 1, 1, tzinfo=UTC),
    )
    # Marco: one respondent, nothing paid.
    answered(client=acme, operator=marco, score=10, answered_at=T)

    rows = respondents_vs_nonrespondents(
        client_id=acme.pk, filters=NpsFilters(client_ids=[acme.pk])
    )

    got = [
        (r["operator_ref"], r["group"], r["accounts"], r["placed"], r["collected"], r["paying"])
        for r in rows
    ]
    assert got == [
        (None, "respondents", 3, D("300.00"), D("50.00"), 1),
        (None, "non_respondents", 3, D("300.00"), D("100.00"), 1),
        ("op-giulia", "respondents", 2, D("200.00"), D("50.00"), 1),
        ("op-giulia", "non_respondents", 3, D("300.00"), D("100.00"), 1),
        ("op-marco", "respondents", 1, D("100.00"), D("0.00"), 0),
    ]
    assert rows[0]["rate"] == pytest.approx(50 / 300)
    assert rows[1]["rate"] == pytest.approx(100 / 300)
    assert rows[2]["operator_name"] == "Giulia"


def test_payment_counts_a_debtor_who_answered_twice_once(db):
    acme = ClientFactory.create()
    giulia = OperatorFactory.create(ref="op-giulia", client=acme)
    as_of = dt.datetime(2026, 6, 1, tzinfo=UTC)
    # One debtor and account, three answers (two contacts a promoter, one a detractor) a
    # minute apart, then one payment five days later: inside each answer's 30 days.
    specs = [
        Spec(acme, giulia, score, T + dt.timedelta(minutes=i), "web", "phone", "promise_to_pay")
        for i, score in enumerate((10, 9, 2))
    ]
    responses = bulk_answers(specs)
    account = responses[0].contact.account
    assert {r.contact.account_id for r in responses} == {account.pk}
    PaymentFactory.create(
        client=acme, account=account, paid_at=T + dt.timedelta(days=5), amount=D("80.00")
    )

    rows = payment_by_nps_group(filters=NpsFilters(client_ids=[acme.pk]), days=30, as_of=as_of)

    # Each answer is its own window (responses), the debtor is one person (debtors).
    assert [(r["group"], r["responses"], r["debtors"], r["paid_within"]) for r in rows] == [
        ("promoter", 2, 1, 2),
        ("passive", 0, 0, 0),
        ("detractor", 1, 1, 1),
    ]
