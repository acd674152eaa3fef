"""Recovery facts against values worked out by hand on a small ledger.

The ledger (all times UTC; Acme Energia's time zone is Europe/Rome, UTC+1 in winter, UTC+2
from 29 March 2026):

Acme Energia, operators Giulia and Marco; debtor D1 owns A1 and A4.

  A1  placed 2026-01-10  1000.00   (D1)
      K1  01-12 09:00 Giulia  promise_to_pay   PR1 500.00 due 02-09
      K2  01-20 09:00 Marco   no_answer
      K7  06-20 09:00 Marco   promise_to_pay   PR4 100.00 due 07-15 (not yet due)
      P1  01-25 10:00  300.00                  day 15
      P2  02-09 22:30  200.00  = 23:30 in Rome, day 30 (in)
      P3  02-09 23:30  100.00  = 00:30 on 02-10 in Rome, day 31 (out of 30, in 60)
  A2  placed 2026-01-31   500.00   (last day of the January cohort)
      K3  02-02 09:00 Marco   paid
      K4  02-03 09:00 Marco   payment_plan     PR2 500.00 due 02-06
      K8  02-04 09:00 Marco   voicemail
      K9  02-06 12:00 Marco   promise_to_pay   PR5 250.00 due 02-07
      P4  02-05 10:00  250.00
      P5  02-06 10:00  250.00
      R5  03-20 10:00  250.00  reversal of P5 (dated with P5: P5 counts for nothing anywhere)
  A3  placed 2026-02-01   400.00   (first day of the February cohort) never worked, never paid
  A4  placed 2026-02-15   100.00   (D1)
      K5  02-16 09:00 Giulia  refusal
      K6  04-01 09:00 Giulia  promise_to_pay   PR3 50.00 due 05-18
      P7  02-15 10:00   20.00  day 0, before any contact
      P6  05-20 10:00   50.00  day 94 (outside 90); two days after PR3's due date

Beta Telco (another client): B1 placed 2026-01-15, 800.00; K10 01-16 promise 800 due 01-31;
P8 01-20 10:00 800.00. Gamma Gas: a client with no accounts at all.

Net collected: A1 300+200+100 = 600; A2 250+250-250 = 250; A3 0; A4 20+50 = 70.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db.models import DateField, F, Value

from collections_link.models import Account, Contact, Debtor, Outcome
from collections_link.selectors import (
    collected_within,
    contact_rates,
    contact_rates_by_operator,
    net_collected,
    recovery_by_client,
    recovery_by_cohort,
    recovery_by_operator,
)
from tests.factories import (
    AccountFactory,
    ClientFactory,
    ContactFactory,
    DebtorFactory,
    OperatorFactory,
    PaymentFactory,
    PromiseFactory,
)

UTC = dt.UTC
D = Decimal
AS_OF = dt.date(2026, 6, 30)


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def ledger(db: None) -> SimpleNamespace:
    acme = ClientFactory.create()
    beta = ClientFactory.create(
        ref="beta-telco", name="Beta Telco", country="ES", default_language="es"
    )
    gamma = ClientFactory.create(ref="gamma-gas", name="Gamma Gas")
    giulia = OperatorFactory.create(ref="op-giulia", name="Giulia", client=acme)
    marco = OperatorFactory.create(ref="op-marco", name="Marco", client=acme)
    luca = OperatorFactory.create(ref="op-luca", name="Luca", client=beta)
    d1 = DebtorFactory.create(client=acme, ref="D1")

    a1 = AccountFactory.create(
        client=acme, ref="A1", debtor=d1, placed_on=dt.date(2026, 1, 10), amount_placed=D(1000)
    )
    a2 = AccountFactory.create(
        client=acme, ref="A2", placed_on=dt.date(2026, 1, 31), amount_placed=D(500)
    )
    AccountFactory.create(
        client=acme, ref="A3", placed_on=dt.date(2026, 2, 1), amount_placed=D(400)
    )
    a4 = AccountFactory.create(
        client=acme, ref="A4", debtor=d1, placed_on=dt.date(2026, 2, 15), amount_placed=D(100)
    )
    b1 = AccountFactory.create(
        client=beta, ref="B1", placed_on=dt.date(2026, 1, 15), amount_placed=D(800)
    )

    def contact(ref, account, operator, when, outcome, promise=None):
        k = ContactFactory.create(
            client=account.client,
            ref=ref,
            account=account,
            operator=operator,
            started_at=when,
            outcome=outcome,
        )
        if promise:
            PromiseFactory.create(
                contact=k, account=account, amount=D(promise[0]), due_on=promise[1]
            )
        return k

    contact("K1", a1, giulia, at(1, 12, 9), Outcome.PROMISE_TO_PAY, (500, dt.date(2026, 2, 9)))
    contact("K2", a1, marco, at(1, 20, 9), Outcome.NO_ANSWER)
    contact("K3", a2, marco, at(2, 2, 9), Outcome.PAID)
    contact("K4", a2, marco, at(2, 3, 9), Outcome.PAYMENT_PLAN, (500, dt.date(2026, 2, 6)))
    contact("K5", a4, giulia, at(2, 16, 9), Outcome.REFUSAL)
    contact("K6", a4, giulia, at(4, 1, 9), Outcome.PROMISE_TO_PAY, (50, dt.date(2026, 5, 18)))
    contact("K7", a1, marco, at(6, 20, 9), Outcome.PROMISE_TO_PAY, (100, dt.date(2026, 7, 15)))
    contact("K8", a2, marco, at(2, 4, 9), Outcome.VOICEMAIL)
    contact("K9", a2, marco, at(2, 6, 12), Outcome.PROMISE_TO_PAY, (250, dt.date(2026, 2, 7)))
    contact("K10", b1, luca, at(1, 16, 9), Outcome.PROMISE_TO_PAY, (800, dt.date(2026, 1, 31)))

    def pay(ref, account, when, amount, reversal_of=None):
        return PaymentFactory.create(
            client=account.client,
            ref=ref,
            account=account,
            paid_at=when,
            amount=D(amount),
            reversal_of=reversal_of,
        )

    pay("P1", a1, at(1, 25), 300)
    pay("P2", a1, at(2, 9, 22, 30), 200)
    pay("P3", a1, at(2, 9, 23, 30), 100)
    pay("P4", a2, at(2, 5), 250)
    p5 = pay("P5", a2, at(2, 6), 250)
    pay("R5", a2, at(3, 20), 250, reversal_of=p5)
    pay("P6", a4, at(5, 20), 50)
    pay("P7", a4, at(2, 15), 20)
    pay("P8", b1, at(1, 20), 800)
    return SimpleNamespace(acme=acme, beta=beta, gamma=gamma, giulia=giulia, marco=marco, d1=d1)


# --- per client ------------------------------------------------------------------------------


def test_recovery_by_client_nets_reversals_and_keeps_unpaid_accounts(ledger) -> None:
    rows = {r.client.ref: r for r in recovery_by_client()}
    acme = rows["acme-energia"]
    # 4 accounts; placed 1000+500+400+100 = 2000; collected 600+250+0+70 = 920 -> 0.46.
    assert (acme.accounts, acme.placed, acme.collected) == (4, D("2000.00"), D("920.00"))
    assert acme.rate == pytest.approx(0.46)
    assert acme.currency == "EUR"
    # Beta's 800 is Beta's alone: 800 / 800.
    assert (rows["beta-telco"].collected, rows["beta-telco"].rate) == (D("800.00"), 1.0)
    # Gamma has no accounts: a row, with nothing to divide.
    gamma = rows["gamma-gas"]
    assert (gamma.accounts, gamma.placed, gamma.collected, gamma.rate) == (0, 0, 0, None)
    assert [r.client.name for r in recovery_by_client()] == [
        "Acme Energia",
        "Beta Telco",
        "Gamma Gas",
    ]


def test_recovery_by_client_placement_period_includes_both_ends(ledger) -> None:
    # January 2026: A1 (01-10) and A2 (01-31, the last day); A3 (02-01) is out.
    # placed 1500, collected 600 + 250 = 850 -> 850 / 1500.
    (row,) = recovery_by_client(
        clients=[ledger.acme], placed_from=dt.date(2026, 1, 1), placed_to=dt.date(2026, 1, 31)
    )
    assert (row.accounts, row.placed, row.collected) == (2, D("1500.00"), D("850.00"))
    assert row.rate == pytest.approx(850 / 1500)


def test_recovery_by_client_with_no_client_at_all(db: None) -> None:
    assert recovery_by_client() == []
    assert recovery_by_client(clients=[]) == []


def test_amounts_in_two_currencies_are_never_added(ledger) -> None:
    AccountFactory.create(
        client=ledger.acme, ref="USD-1", currency="USD", amount_placed=D(70), placed_on=AS_OF
    )
    rows = [r for r in recovery_by_client(clients=[ledger.acme])]
    assert [(r.currency, r.placed) for r in rows] == [("EUR", D("2000.00")), ("USD", D("70.00"))]


# --- per operator ----------------------------------------------------------------------------


def test_recovery_by_operator_attributes_each_account_to_its_first_contact(ledger) -> None:
    rows = {
        r.operator.name if r.operator else None: r for r in recovery_by_operator(client=ledger.acme)
    }
    # Giulia made the first contact on A1 (K1 before Marco's K2) and on A4:
    # placed 1000 + 100 = 1100, collected 600 + 70 = 670.
    assert (rows["Giulia"].accounts, rows["Giulia"].placed, rows["Giulia"].collected) == (
        2,
        D("1100.00"),
        D("670.00"),
    )
    assert rows["Giulia"].rate == pytest.approx(670 / 1100)
    # Marco: A2 only, 250 / 500.
    assert (rows["Marco"].accounts, rows["Marco"].collected, rows["Marco"].rate) == (
        1,
        D("250.00"),
        0.5,
    )
    # A3 was never worked: it stays in view, on a row of its own, at 0 %.
    assert (rows[None].accounts, rows[None].placed, rows[None].rate) == (1, D("400.00"), 0.0)
    # Beta's operator never appears on Acme's figures.
    assert set(rows) == {"Giulia", "Marco", None}
    assert [
        r.operator.name if r.operator else None for r in recovery_by_operator(client=ledger.acme)
    ] == ["Giulia", "Marco", None]


def test_recovery_by_operator_crediting_the_last_contact_before_each_payment(ledger) -> None:
    rows = {
        r.operator.name if r.operator else None: r
        for r in recovery_by_operator(client=ledger.acme, attribution="last_contact_before_payment")
    }
    # P1, P2, P3 on A1 came after Marco's K2 (01-20): 600; A2's P4 (after K8) 250, P5 nets 0.
    assert rows["Marco"].collected == D("850.00")
    assert rows["Marco"].rate == pytest.approx(850 / 500)
    # P6 came after Giulia's K6: 50. P7 came before any contact on A4: nobody's, 20.
    assert rows["Giulia"].collected == D("50.00")
    assert rows[None].collected == D("20.00")
    # Accounts and placed amounts stay attributed to the first contact.
    assert (rows["Giulia"].accounts, rows["Giulia"].placed) == (2, D("1100.00"))
    assert sum(r.collected for r in rows.values()) == D("920.00")


def test_recovery_by_operator_of_a_client_without_accounts(ledger) -> None:
    assert recovery_by_operator(client=ledger.gamma) == []
    with pytest.raises(ValueError, match="attribution"):
        recovery_by_operator(client=ledger.acme, attribution="loudest")


# --- per cohort ------------------------------------------------------------------------------


def test_recovery_by_cohort_month_boundaries_and_realisation_curve(ledger) -> None:
    january, february = recovery_by_cohort(client=ledger.acme, as_of=AS_OF)
    # January: A1 and A2 (placed 01-31). placed 1500, collected 850.
    assert january.cohort == dt.date(2026, 1, 1)
    assert (january.accounts, january.placed, january.collected) == (2, D("1500.00"), D("850.00"))
    # By day 30: A1 P1 300 + P2 200 (23:30 in Rome on day 30); P3 is 00:30 on day 31, out.
    #            A2 P4 250 + P5 250 - R5 250 (the reversal, made on day 48, belongs to P5) = 250.
    # -> 750. By day 60: + P3 100 = 850. By day 90: 850.
    assert january.within == {30: D("750.00"), 60: D("850.00"), 90: D("850.00")}
    assert january.within_rate[30] == pytest.approx(750 / 1500)
    assert january.within_rate[90] == pytest.approx(850 / 1500)
    # February: A3 (02-01) and A4. placed 500; P7 20 on day 0 in every horizon; P6 is day 94.
    assert february.cohort == dt.date(2026, 2, 1)
    assert (february.accounts, february.placed, february.collected) == (2, D("500.00"), D("70.00"))
    assert february.within == {30: D("20.00"), 60: D("20.00"), 90: D("20.00")}
    assert february.within_rate == {30: 0.04, 60: 0.04, 90: 0.04}
    assert february.rate == pytest.approx(70 / 500)


def test_recovery_by_cohort_hides_horizons_not_yet_lived(ledger) -> None:
    # As of 05-16: A4 (placed 02-15) reaches day 90 on 05-16 itself, which is not over yet;
    # its day 60 (04-16) is. January's youngest (01-31) reached day 90 on 05-01.
    january, february = recovery_by_cohort(client=ledger.acme, as_of=dt.date(2026, 5, 16))
    assert february.within_rate[90] is None
    assert february.within_rate[60] == pytest.approx(0.04)
    assert january.within_rate[90] == pytest.approx(850 / 1500)
    # Collected counts only what had arrived by then: P6 (05-20) not yet.
    assert february.collected == D("20.00")
    # One day later every horizon is known.
    _, february = recovery_by_cohort(client=ledger.acme, as_of=dt.date(2026, 5, 17))
    assert february.within_rate[90] == pytest.approx(0.04)


def test_recovery_by_cohort_by_quarter_and_for_an_empty_client(ledger) -> None:
    (q1,) = recovery_by_cohort(client=ledger.acme, period="quarter", as_of=AS_OF)
    assert (q1.cohort, q1.accounts, q1.placed, q1.collected) == (
        dt.date(2026, 1, 1),
        4,
        D("2000.00"),
        D("920.00"),
    )
    assert q1.within[30] == D("770.00")
    assert recovery_by_cohort(client=ledger.gamma, as_of=AS_OF) == []
    with pytest.raises(ValueError, match="period"):
        recovery_by_cohort(client=ledger.acme, period="fortnight")


# --- within N days ---------------------------------------------------------------------------


def test_collected_within_days_of_placement_day_30_in_day_31_out(ledger) -> None:
    # January 750 + February 20 (see the cohort test); Beta's P8 is not Acme's.
    assert collected_within(client=ledger.acme, days=30) == D("770.00")
    # A1 alone, with day 30 the last day in: P1 + P2.
    a1 = Account.objects.filter(ref="A1")
    assert collected_within(accounts=a1, days=30) == D("500.00")
    assert collected_within(accounts=a1, days=31) == D("600.00")
    # Day 0 is the placement day itself (P7 on A4's placement day).
    assert collected_within(accounts=Account.objects.filter(ref="A4"), days=0) == D("20.00")
    # Every client: Acme 770 + Beta 800 (P8 on day 5).
    assert collected_within(days=30) == D("1570.00")


def test_collected_within_days_of_one_date_for_every_account(ledger) -> None:
    # From 02-01 (day 0) to 03-03 (day 30) in Rome: P2 200 + P3 100 on A1, P4 250 and P5 netted
    # to 0 on A2, P7 20 on A4 -> 570. Beta's payment is on another client's account.
    assert collected_within(client=ledger.acme, since=dt.date(2026, 2, 1), days=30) == D("570.00")
    # Only accounts Giulia worked first (A1, A4): 300 + 20.
    assert collected_within(
        client=ledger.acme, operator=ledger.giulia, since=dt.date(2026, 2, 1), days=30
    ) == D("320.00")


def test_collected_within_days_of_a_moment_counts_nothing_before_it(ledger) -> None:
    acme = Account.objects.filter(client=ledger.acme)
    # From 01-25 12:00 to 02-09 12:00 UTC: P1 (10:00 the same morning) is before the moment;
    # P2 (22:30 on 02-09) is after the end. P4 250, P5 nets 0 -> 250.
    assert collected_within(accounts=acme, since=at(1, 25, 12), days=15) == D("250.00")
    # Exactly 15 x 24 hours later is in: 01-21 10:00 -> 02-05 10:00 takes P1 and P4.
    assert collected_within(accounts=acme, since=at(1, 21, 10), days=15) == D("550.00")
    # One second earlier, P4 falls one second outside.
    start = at(1, 21, 10) - dt.timedelta(seconds=1)
    assert collected_within(accounts=acme, since=start, days=15) == D("300.00")


def test_collected_within_per_row_starts(ledger) -> None:
    # 14 days after each of three contacts: K1 (A1, 01-12 09:00 -> 01-26 09:00) takes P1 300;
    # K3 (A2, 02-02) takes P4 250 and P5 (netted to 0); K5 (A4, 02-16) finds only P7, which
    # came before it -> 0. Sum 550.
    starts = Contact.objects.filter(ref__in=["K1", "K3", "K5"]).values(
        "account_id", start=F("started_at")
    )
    assert collected_within(starts=starts, days=14) == D("550.00")
    # Per debtor, from a date: D1 owns A1 and A4; from 02-01 to 03-03: P2 + P3 + P7 = 320.
    debtor_starts = Debtor.objects.filter(pk=ledger.d1.pk).values(
        debtor_id=F("pk"), start=Value(dt.date(2026, 2, 1), output_field=DateField())
    )
    assert collected_within(starts=debtor_starts, per="debtor", days=30) == D("320.00")
    with pytest.raises(ValueError, match="start"):
        collected_within(starts=Contact.objects.values("account_id"), days=30)


def test_net_collected_annotates_each_row(ledger) -> None:
    by_ref = dict(
        Account.objects.filter(client=ledger.acme)
        .annotate(net=net_collected(account="pk"))
        .values_list("ref", "net")
    )
    assert by_ref == {"A1": D("600.00"), "A2": D("250.00"), "A3": D("0.00"), "A4": D("70.00")}
    with pytest.raises(ValueError):
        net_collected(days=30, account="pk")


def test_collected_within_nothing_in_view_is_zero(ledger) -> None:
    assert collected_within(accounts=Account.objects.none(), days=30) == D("0.00")
    assert collected_within(client=ledger.gamma, days=90) == D("0.00")


# --- contacts and promises -------------------------------------------------------------------


def test_contact_rates_for_a_client(ledger) -> None:
    rates = contact_rates(client=ledger.acme, as_of=AS_OF)
    # 9 contacts (K1-K9); right party: K1 K3 K4 K5 K6 K7 K9 = 7 -> 7/9.
    assert (rates.contacts, rates.right_party) == (9, 7)
    assert rates.rpc_rate == pytest.approx(7 / 9)
    # Promises: K1 K4 K6 K7 K9 = 5 of 7 right-party contacts.
    assert rates.promises == 5
    assert rates.ptp_rate == pytest.approx(5 / 7)
    # Fell due by 06-30: PR1 (02-09), PR2 (02-06), PR3 (05-18), PR5 (02-07); PR4 (07-15) not.
    # PR1 kept: P1 300 + P2 200 (23:30 in Rome on the due day) = 500.
    # PR2 broken: P4 250 + P5 250, but P5 bounced -> 250 < 500.
    # PR3 broken: P6 came two days late.
    # PR5 broken: P4 and P5 were paid before the promise was made (K9 at 12:00 on 02-06).
    assert (rates.promises_due, rates.promises_kept) == (4, 1)
    assert rates.kept_rate == pytest.approx(1 / 4)
    assert rates.broken_rate == pytest.approx(3 / 4)


def test_grace_days_save_a_late_payment(ledger) -> None:
    # With two days' grace PR3 (due 05-18, paid 05-20) is kept: 2 of 4.
    rates = contact_rates(client=ledger.acme, as_of=AS_OF, grace_days=2)
    assert (rates.promises_due, rates.promises_kept) == (4, 2)
    assert rates.kept_rate == pytest.approx(0.5)
    # One day is not enough.
    assert contact_rates(client=ledger.acme, as_of=AS_OF, grace_days=1).promises_kept == 1


def test_a_promise_falls_due_only_once_its_day_is_over(ledger) -> None:
    # As of 02-09 (PR1's due day) only PR2 (02-06) and PR5 (02-07) fell due; the next day PR1
    # does too. With a day of grace PR1 waits one more day.
    assert contact_rates(client=ledger.acme, as_of=dt.date(2026, 2, 9)).promises_due == 2
    assert contact_rates(client=ledger.acme, as_of=dt.date(2026, 2, 10)).promises_due == 3
    late = contact_rates(client=ledger.acme, as_of=dt.date(2026, 2, 10), grace_days=1)
    assert late.promises_due == 2


def test_contact_rates_per_operator_period_and_everyone(ledger) -> None:
    giulia = contact_rates(operator=ledger.giulia, as_of=AS_OF)
    # K1 K5 K6, all right party; promises K1 K6; due PR1 (kept) and PR3 (broken).
    assert (giulia.contacts, giulia.rpc_rate, giulia.ptp_rate, giulia.kept_rate) == (
        3,
        1.0,
        pytest.approx(2 / 3),
        0.5,
    )
    by_operator = contact_rates_by_operator(client=ledger.acme, as_of=AS_OF)
    assert [op.name for op in by_operator] == ["Giulia", "Marco"]
    assert by_operator[ledger.giulia] == giulia
    marco = by_operator[ledger.marco]
    # K2 K3 K4 K7 K8 K9; right party K3 K4 K7 K9 = 4/6; promises K4 K7 K9 = 3/4;
    # due PR2 and PR5, both broken.
    assert (marco.contacts, marco.right_party, marco.promises) == (6, 4, 3)
    assert (marco.promises_due, marco.kept_rate, marco.broken_rate) == (2, 0.0, 1.0)
    # February only: K3 K4 K5 K8 K9; right party K3 K4 K5 K9; promises K4 K9, both broken.
    february = contact_rates(
        client=ledger.acme, since=dt.date(2026, 2, 1), until=dt.date(2026, 2, 28), as_of=AS_OF
    )
    assert (february.contacts, february.right_party, february.promises) == (5, 4, 2)
    assert (february.promises_due, february.promises_kept) == (2, 0)
    # Every client: Acme's 9 contacts + Beta's K10 (promise 800 due 01-31, paid 01-20: kept).
    everyone = contact_rates(as_of=AS_OF)
    assert (everyone.contacts, everyone.right_party, everyone.promises) == (10, 8, 6)
    assert (everyone.promises_due, everyone.promises_kept) == (5, 2)


def test_contact_rates_without_contacts_are_none(ledger) -> None:
    rates = contact_rates(client=ledger.gamma, as_of=AS_OF)
    assert rates.contacts == 0
    assert (rates.rpc_rate, rates.ptp_rate, rates.kept_rate, rates.broken_rate) == (
        None,
        None,
        None,
        None,
    )
    assert contact_rates_by_operator(client=ledger.gamma, as_of=AS_OF) == {}
    # Contacts but no right-party one: the promise rate has nothing to divide.
    only_no_answer = contact_rates(
        client=ledger.acme, since=dt.date(2026, 1, 20), until=dt.date(2026, 1, 20), as_of=AS_OF
    )
    assert (only_no_answer.contacts, only_no_answer.rpc_rate, only_no_answer.ptp_rate) == (
        1,
        0.0,
        None,
    )


def test_each_figure_takes_a_fixed_number_of_queries(ledger, django_assert_num_queries) -> None:
    # The work is done by the database: more accounts never mean more queries.
    with django_assert_num_queries(3):  # the clients, the accounts, their payments
        recovery_by_client()
    with django_assert_num_queries(2):  # one grouped query, then the operators' names
        recovery_by_operator(client=ledger.acme)
    with django_assert_num_queries(3):  # + the payments credited to the last contact
        recovery_by_operator(client=ledger.acme, attribution="last_contact_before_payment")
    with django_assert_num_queries(2):  # the accounts, their payments
        recovery_by_cohort(client=ledger.acme, as_of=AS_OF)
    with django_assert_num_queries(1):
        collected_within(client=ledger.acme, days=30)
    with django_assert_num_queries(2):  # contacts, then the promises that fell due
        contact_rates(client=ledger.acme, as_of=AS_OF)
    with django_assert_num_queries(3):
        contact_rates_by_operator(client=ledger.acme, as_of=AS_OF)
