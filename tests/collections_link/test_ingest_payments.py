"""The payments feed: currencies must match the account's, reversals must point at a payment
of the same client and account, and bad input is reported row by row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from collections_link.ingest import import_csv, merge
from collections_link.models import Payment
from tests.collections_link.ingest_support import (
    ACCOUNTS_HEADER,
    PAYMENTS_HEADER,
    counts,
    make_acme,
    make_luz,
    reported,
    write_bytes,
    write_csv,
)

pytestmark = pytest.mark.django_db

P1 = "acme-energia,P-1,A-1,2026-11-28T09:00:00+01:00,200.00,EUR,"
P2 = "acme-energia,P-2,A-2,2026-11-29T09:00:00+01:00,50.00,EUR,"


@pytest.fixture(autouse=True)
def accounts(tmp_path: Path) -> None:
    make_acme()
    make_luz()
    path = write_csv(
        tmp_path,
        "accounts.csv",
        ACCOUNTS_HEADER,
        "acme-energia,A-1,C-1,+39 333 123 4567,IT,it,2026-10-01,412.80,EUR",
        "acme-energia,A-2,C-2,+39 347 123 4567,IT,it,2026-10-01,96.10,EUR",
        "acme-energia,A-3,C-3,+1 212 555 0100,US,en,2026-10-01,96.10,USD",
        "luz-norte,L-77,N-9,612 345 679,ES,es,2026-10-05,230.00,EUR",
    )
    assert import_csv(feed="accounts", path=path).ok


def run(tmp_path: Path, *rows: str, name: str = "p.csv", header: str = PAYMENTS_HEADER):
    return import_csv(feed="payments", path=write_csv(tmp_path, name, header, *rows))


def payment_refs() -> list[str]:
    return sorted(Payment.objects.values_list("ref", flat=True))


def test_payments_land(tmp_path: Path) -> None:
    result = run(tmp_path, P1, P2, "acme-energia,P-3,A-3,2026-11-28T09:00:00-05:00,10.5,USD,")

    assert counts(result) == (3, 3, 0, 0, 0)
    p1 = Payment.objects.get(ref="P-1")
    assert (p1.account.ref, p1.amount, p1.currency) == ("A-1", Decimal("200.00"), "EUR")
    assert p1.paid_at == dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    assert Payment.objects.get(ref="P-3").amount == Decimal("10.50")


def test_a_missing_required_column_imports_nothing(tmp_path: Path) -> None:
    header = PAYMENTS_HEADER.replace(",currency", "")
    result = run(tmp_path, "acme-energia,P-1,A-1,2026-11-28T09:00:00+01:00,200.00,", header=header)

    assert result.failed
    assert reported(result) == [
        (1, "currency", "required column 'currency' is missing from the header")
    ]
    assert Payment.objects.count() == 0


def test_an_unknown_client_rejects_its_row_only(tmp_path: Path) -> None:
    result = run(tmp_path, P1, P2.replace("acme-energia", "nobody"))

    assert reported(result) == [
        (
            3,
            "client_ref",
            "unknown client 'nobody' (create it first, or import with --create-clients)",
        )
    ]
    assert payment_refs() == ["P-1"]


def test_a_date_without_time_or_offset_is_rejected(tmp_path: Path) -> None:
    result = run(tmp_path, P1, P2.replace("2026-11-29T09:00:00+01:00", "2026-11-29"))

    assert reported(result) == [
        (
            3,
            "paid_at",
            "'2026-11-29' has no time with a UTC offset (expected e.g. 2026-11-20T15:42:00+01:00)",
        )
    ]
    assert payment_refs() == ["P-1"]


def test_a_negative_amount_is_rejected(tmp_path: Path) -> None:
    result = run(tmp_path, P1, P2.replace("50.00", "-50.00"))

    assert reported(result) == [
        (3, "amount", "'-50.00' is negative: amounts must be greater than 0")
    ]
    assert payment_refs() == ["P-1"]


def test_a_duplicate_payment_ref_keeps_the_first(tmp_path: Path) -> None:
    result = run(tmp_path, P1, P2, P1.replace("200.00", "999.00"))

    assert reported(result) == [
        (
            4,
            "payment_ref",
            "duplicate payment_ref 'P-1' for client acme-energia: line 2 has "
            "it already (the first is kept)",
        )
    ]
    assert Payment.objects.get(ref="P-1").amount == Decimal("200.00")


def test_a_payment_in_another_currency_than_the_account_is_rejected(tmp_path: Path) -> None:
    result = run(tmp_path, P1, P2.replace("EUR", "USD"))

    assert reported(result) == [
        (3, "currency", "currency USD does not match the account's currency EUR")
    ]
    assert payment_refs() == ["P-1"]


def test_a_payment_on_an_unknown_account_is_rejected(tmp_path: Path) -> None:
    result = run(tmp_path, P1, P2.replace("A-2", "L-77"))

    assert reported(result) == [
        (
            3,
            "account_ref",
            "unknown account 'L-77' for client acme-energia (import it with "
            "the accounts feed first)",
        )
    ]
    assert payment_refs() == ["P-1"]


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    result = import_csv(feed="payments", path=write_bytes(tmp_path, "p.csv", b""))

    assert result.failed
    assert reported(result) == [
        (
            1,
            "",
            "the file is empty: expected a header row with client_ref, payment_ref, "
            "account_ref, paid_at, amount, currency",
        )
    ]


def test_a_line_that_is_not_utf8_is_rejected_and_the_others_land(tmp_path: Path) -> None:
    content = "\n".join([PAYMENTS_HEADER, P1, P2.replace("P-2", "P-2é")]).encode("cp1252")

    result = import_csv(feed="payments", path=write_bytes(tmp_path, "p.csv", content))

    assert reported(result) == [
        (3, "payment_ref", "not valid UTF-8 (byte 0xE9); save the file as UTF-8 and retry")
    ]
    assert payment_refs() == ["P-1"]


def test_a_file_whose_header_is_not_utf8_is_refused(tmp_path: Path) -> None:
    content = (PAYMENTS_HEADER.replace("amount", "amount_€") + "\n").encode("cp1252")

    result = import_csv(feed="payments", path=write_bytes(tmp_path, "p.csv", content))

    assert result.failed
    assert reported(result) == [(1, "", "the file is not UTF-8; save it as UTF-8 and retry")]


def test_a_changed_amount_updates(tmp_path: Path) -> None:
    run(tmp_path, P1, P2)

    result = run(tmp_path, P1.replace("200.00", "210.00"), P2, name="again.csv")

    assert counts(result) == (2, 0, 1, 1, 0)
    assert Payment.objects.get(ref="P-1").amount == Decimal("210.00")


def test_a_reversal_may_follow_its_payment_in_the_same_file(tmp_path: Path) -> None:
    result = run(tmp_path, P1, "acme-energia,R-1,A-1,2026-12-02T09:00:00+01:00,200.00,EUR,P-1")

    assert result.ok
    reversal = Payment.objects.get(ref="R-1")
    assert reversal.reversal_of == Payment.objects.get(ref="P-1")
    assert reversal.signed_amount == Decimal("-200.00")

    again = run(
        tmp_path,
        P1,
        "acme-energia,R-1,A-1,2026-12-02T09:00:00+01:00,200.00,EUR,P-1",
        name="again.csv",
    )
    assert counts(again) == (2, 0, 0, 2, 0)


def test_a_reversal_of_a_stored_payment(tmp_path: Path) -> None:
    run(tmp_path, P1)

    result = run(
        tmp_path,
        "acme-energia,R-1,A-1,2026-12-02T09:00:00+01:00,200.00,EUR,P-1",
        name="december.csv",
    )

    assert result.ok
    assert Payment.objects.get(ref="R-1").reversal_of.ref == "P-1"


def test_reversals_that_cannot_be_are_rejected(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "acme-energia,R-0,A-1,2026-12-01T09:00:00+01:00,200.00,EUR,P-1",  # before P-1
        P1,
        "acme-energia,R-1,A-1,2026-12-02T09:00:00+01:00,200.00,EUR,P-404",
        "acme-energia,R-2,A-2,2026-12-02T09:00:00+01:00,200.00,EUR,P-1",
        "acme-energia,R-3,A-1,2026-12-02T09:00:00+01:00,200.00,EUR,P-1",
        "acme-energia,R-4,A-1,2026-12-03T09:00:00+01:00,200.00,EUR,P-1",
        "acme-energia,R-5,A-1,2026-12-03T09:00:00+01:00,200.00,EUR,R-5",
    )

    assert reported(result) == [
        (
            2,
            "reversal_of",
            "'P-1' is not a payment of client acme-energia (it must be imported "
            "already, or appear earlier in this file)",
        ),
        (
            4,
            "reversal_of",
            "'P-404' is not a payment of client acme-energia (it must be "
            "imported already, or appear earlier in this file)",
        ),
        (5, "reversal_of", "payment 'P-1' is on account 'A-1', not on 'A-2'"),
        (7, "reversal_of", "payment 'P-1' is already reversed by 'R-3'"),
        (8, "reversal_of", "a payment cannot reverse itself"),
    ]
    assert payment_refs() == ["P-1", "R-3"]


def test_a_second_reversal_of_a_stored_payment_is_rejected(tmp_path: Path) -> None:
    run(tmp_path, P1, "acme-energia,R-1,A-1,2026-12-02T09:00:00+01:00,200.00,EUR,P-1")

    result = run(
        tmp_path, "acme-energia,R-2,A-1,2026-12-03T09:00:00+01:00,200.00,EUR,P-1", name="again.csv"
    )

    assert reported(result) == [(2, "reversal_of", "payment 'P-1' is already reversed by 'R-1'")]


def test_a_row_the_database_refuses_rejects_its_batch_and_the_next_batch_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rule only the database knows about (as a later schema change could add): a trigger
    # refusing one payment reference. The batch holding it rolls back whole; the next lands.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_p_bad() RETURNS trigger AS $$ BEGIN "
                "IF NEW.ref = 'P-BAD' THEN RAISE EXCEPTION 'P-BAD is refused'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_p_bad BEFORE INSERT ON collections_link_payment "
                "FOR EACH ROW EXECUTE FUNCTION refuse_p_bad()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_p_bad BEFORE INSERT ON collections_link_payment "
                "WHEN NEW.ref = 'P-BAD' BEGIN SELECT RAISE(ABORT, 'P-BAD is refused'); END"
            )
    monkeypatch.setattr(merge, "CHUNK_LINES", 2)

    result = run(
        tmp_path,
        P1,
        "acme-energia,P-BAD,A-1,2026-11-28T10:00:00+01:00,1.00,EUR,",
        P2,
        "acme-energia,P-4,A-1,2026-11-28T11:00:00+01:00,1.00,EUR,",
    )

    assert [(line, column) for line, column, _ in reported(result)] == [(2, ""), (3, "")]
    assert "P-BAD is refused" in result.errors[0].reason
    assert result.errors[0].reason.startswith(
        "not imported: the database refused the batch of lines this row was in"
    )
    assert counts(result) == (4, 2, 0, 0, 2)
    assert payment_refs() == ["P-2", "P-4"]


def test_a_reversal_of_a_rejected_reversal_is_rejected_too(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        P1,
        "acme-energia,R-1,A-2,2026-12-02T09:00:00+01:00,200.00,EUR,P-1",
        "acme-energia,RR-1,A-2,2026-12-03T09:00:00+01:00,200.00,EUR,R-1",
    )

    assert reported(result) == [
        (3, "reversal_of", "payment 'P-1' is on account 'A-1', not on 'A-2'"),
        (
            4,
            "reversal_of",
            "'R-1' is not a payment of client acme-energia (it must be imported "
            "already, or appear earlier in this file)",
        ),
    ]
    assert payment_refs() == ["P-1"]
