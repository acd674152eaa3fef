"""The contract's sample files import cleanly, and a second import changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from collections_link.ingest import import_csv
from collections_link.models import (
    Account,
    Client,
    ConsentRecord,
    Contact,
    Debtor,
    ImportRun,
    Operator,
    OperatorAssignment,
    Payment,
    Promise,
)
from tests.collections_link.ingest_support import (
    DATA,
    counts,
    import_samples,
    make_acme,
    make_luz,
    snapshot,
)

pytestmark = pytest.mark.django_db

CET = dt.timezone(dt.timedelta(hours=1))


def test_the_samples_land_with_every_value_the_rows_carry() -> None:
    make_acme()
    make_luz()
    import_samples()

    acme_debtors = Debtor.objects.filter(client__ref="acme-energia").order_by("ref")
    assert [(d.ref, d.phone_e164, d.country, d.language) for d in acme_debtors] == [
        ("C-501", "+393331234567", "IT", "it"),
        ("C-502", "+393471234567", "IT", "it"),
        ("C-503", "+34612345678", "ES", "es"),
    ]
    lucia_debtor = Debtor.objects.get(client__ref="luz-norte", ref="N-9")
    assert lucia_debtor.phone_e164 == "+34612345679"

    a1001 = Account.objects.get(client__ref="acme-energia", ref="A-1001")
    assert (a1001.debtor.ref, a1001.placed_on, a1001.amount_placed, a1001.currency) == (
        "C-501",
        dt.date(2026, 10, 1),
        Decimal("412.80"),
        "EUR",
    )

    k1 = Contact.objects.get(client__ref="acme-energia", ref="K-1")
    assert k1.operator.ref == "op-giulia"
    assert k1.operator.name == "Giulia Rossi"
    assert k1.started_at == dt.datetime(2026, 11, 19, 10, 12, tzinfo=CET)
    assert k1.ended_at == dt.datetime(2026, 11, 19, 10, 19, 30, tzinfo=CET)
    assert (k1.outcome, k1.right_party, k1.survey_consent, k1.flags) == (
        "promise_to_pay",
        True,
        True,
        "",
    )
    assert (k1.promise.amount, k1.promise.due_on) == (Decimal("200.00"), dt.date(2026, 11, 30))
    consent = ConsentRecord.objects.get(contact=k1)
    assert consent.given is True
    assert consent.captured_at == k1.ended_at
    assert (consent.channel, consent.wording_version, consent.operator.ref) == (
        "phone",
        "v1",
        "op-giulia",
    )
    assert consent.debtor.ref == "C-501"

    k2 = Contact.objects.get(client__ref="acme-energia", ref="K-2")
    assert (k2.outcome, k2.right_party, k2.survey_consent) == ("no_answer", False, None)
    assert not Promise.objects.filter(contact=k2).exists()
    assert not ConsentRecord.objects.filter(contact=k2).exists()

    # The same contact_ref under another client is another contact.
    luz_k1 = Contact.objects.get(client__ref="luz-norte", ref="K-1")
    assert (luz_k1.operator.name, luz_k1.outcome) == ("Lucía García", "paid")
    assert Contact.objects.count() == 4
    assert ConsentRecord.objects.count() == 3

    assert Operator.objects.count() == 3
    marco = Operator.objects.get(ref="op-marco")
    assert marco.client.ref == "acme-energia"
    assignment = OperatorAssignment.objects.get(operator=marco)
    assert (assignment.client.ref, assignment.ended_at) == ("acme-energia", None)
    assert assignment.started_at == dt.datetime(2026, 11, 20, 16, 30, tzinfo=CET)

    payments = Payment.objects.order_by("client__ref")
    assert [(p.client.ref, p.ref, p.account.ref, p.amount, p.reversal_of_id) for p in payments] == [
        ("acme-energia", "P-1", "A-1001", Decimal("200.00"), None),
        ("luz-norte", "P-1", "L-77", Decimal("230.00"), None),
    ]


def test_importing_the_samples_twice_changes_nothing() -> None:
    make_acme()
    make_luz()
    import_samples()
    before = snapshot()

    second = {
        feed: import_csv(feed=feed, path=DATA / f"{feed}.csv")
        for feed in ("accounts", "contacts", "payments")
    }

    assert snapshot() == before
    assert counts(second["accounts"]) == (4, 0, 0, 4, 0)
    assert counts(second["contacts"]) == (4, 0, 0, 4, 0)
    assert counts(second["payments"]) == (2, 0, 0, 2, 0)


def test_create_clients_makes_the_sample_clients_from_the_rows() -> None:
    for feed in ("accounts", "contacts", "payments"):
        result = import_csv(feed=feed, path=DATA / f"{feed}.csv", create_clients=True)
        assert result.ok, result.errors
    before = snapshot()

    acme = Client.objects.get(ref="acme-energia")
    luz = Client.objects.get(ref="luz-norte")
    assert (acme.name, acme.country, acme.default_language, acme.time_zone) == (
        "acme-energia",
        "IT",
        "it",
        "Europe/Rome",
    )
    assert (luz.country, luz.default_language, luz.time_zone) == ("ES", "es", "Europe/Madrid")

    for feed in ("accounts", "contacts", "payments"):
        assert import_csv(feed=feed, path=DATA / f"{feed}.csv", create_clients=True).ok
    assert snapshot() == before


def test_each_import_is_recorded_with_its_counts() -> None:
    make_acme()
    make_luz()
    result = import_csv(feed="accounts", path=DATA / "accounts.csv")

    run = ImportRun.objects.get()
    assert result.run == run
    assert (run.feed, run.source, run.rows_read, run.created, run.rejected) == (
        "accounts",
        "accounts.csv",
        4,
        4,
        0,
    )
    assert run.finished_at is not None
    assert run.errors == []
