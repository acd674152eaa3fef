"""The accounts feed: bad input is reported row by row, good rows still land, nothing of a bad
row lands, and a changed row updates."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from collections_link import ingest
from collections_link.ingest import RowError, import_csv, import_records, iter_errors
from collections_link.models import Account, Client, Debtor, ImportRun
from tests.collections_link.ingest_support import (
    ACCOUNTS_HEADER,
    counts,
    make_acme,
    reported,
    write_bytes,
    write_csv,
)

pytestmark = pytest.mark.django_db

GOOD = "acme-energia,A-1,C-1,+39 333 123 4567,IT,it,2026-10-01,412.80,EUR"
GOOD_2 = "acme-energia,A-2,C-2,347 123 4567,IT,,2026-10-02,96.10,EUR"


@pytest.fixture(autouse=True)
def acme() -> Client:
    return make_acme()


def account_refs() -> list[str]:
    return sorted(Account.objects.values_list("ref", flat=True))


def test_good_rows_land_with_the_phone_in_e164_and_the_clients_language(tmp_path: Path) -> None:
    result = import_csv(
        feed="accounts", path=write_csv(tmp_path, "a.csv", ACCOUNTS_HEADER, GOOD, GOOD_2)
    )

    assert result.ok
    assert counts(result) == (2, 2, 0, 0, 0)
    debtor = Debtor.objects.get(ref="C-2")
    # No debtor_language: the client's default.
    assert (debtor.phone_e164, debtor.country, debtor.language) == ("+393471234567", "IT", "it")
    assert Account.objects.get(ref="A-2").amount_placed == Decimal("96.10")


def test_a_missing_required_column_imports_nothing(tmp_path: Path) -> None:
    header = ACCOUNTS_HEADER.replace(",debtor_phone", "")
    path = write_csv(tmp_path, "a.csv", header, "acme-energia,A-1,C-1,IT,it,2026-10-01,412.80,EUR")

    result = import_csv(feed="accounts", path=path)

    assert result.failed and not result.ok
    assert reported(result) == [
        (1, "debtor_phone", "required column 'debtor_phone' is missing from the header")
    ]
    assert Account.objects.count() == 0
    run = ImportRun.objects.get()
    assert run.errors == [
        {
            "line": 1,
            "column": "debtor_phone",
            "reason": "required column 'debtor_phone' is missing from the header",
        }
    ]


def test_an_unknown_client_rejects_its_row_only(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        GOOD,
        "nobody,A-9,C-9,+39 333 765 4321,IT,it,2026-10-01,10.00,EUR",
        GOOD_2,
    )

    result = import_csv(feed="accounts", path=path)

    assert reported(result) == [
        (
            3,
            "client_ref",
            "unknown client 'nobody' (create it first, or import with --create-clients)",
        )
    ]
    assert counts(result) == (3, 2, 0, 0, 1)
    assert account_refs() == ["A-1", "A-2"]
    assert not Client.objects.filter(ref="nobody").exists()
    assert not Debtor.objects.filter(ref="C-9").exists()


def test_create_clients_creates_an_unknown_client_from_the_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        "luz-norte,L-1,N-1,612 345 679,ES,es,2026-10-05,230.00,EUR",
    )

    result = import_csv(feed="accounts", path=path, create_clients=True)

    assert result.ok
    luz = Client.objects.get(ref="luz-norte")
    assert (luz.name, luz.country, luz.default_language, luz.time_zone) == (
        "luz-norte",
        "ES",
        "es",
        "Europe/Madrid",
    )
    assert Account.objects.get(client=luz).ref == "L-1"


def test_create_clients_never_creates_a_client_for_a_bad_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, "a.csv", ACCOUNTS_HEADER, "luz-norte,L-1,N-1,12ab,ES,es,2026-10-05,230.00,EUR"
    )

    result = import_csv(feed="accounts", path=path, create_clients=True)

    assert reported(result) == [(2, "debtor_phone", "'12ab' is not a phone number for ES")]
    assert not Client.objects.filter(ref="luz-norte").exists()


def test_a_phone_that_is_not_one_is_reported_with_the_country(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        GOOD,
        "acme-energia,A-9,C-9,12ab,IT,it,2026-10-01,10.00,EUR",
        # Parses, but no Italian number is this short.
        "acme-energia,A-8,C-8,333 12,IT,it,2026-10-01,10.00,EUR",
    )

    result = import_csv(feed="accounts", path=path)

    assert reported(result) == [
        (3, "debtor_phone", "'12ab' is not a phone number for IT"),
        (4, "debtor_phone", "'333 12' is not a phone number for IT"),
    ]
    assert account_refs() == ["A-1"]
    assert list(Debtor.objects.values_list("ref", flat=True)) == ["C-1"]


def test_a_date_in_the_wrong_format_is_rejected(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        GOOD,
        "acme-energia,A-9,C-9,+39 333 765 4321,IT,it,01/10/2026,10.00,EUR",
        "acme-energia,A-8,C-8,+39 333 765 4322,IT,it,2026-02-30,10.00,EUR",
    )

    result = import_csv(feed="accounts", path=path)

    assert reported(result) == [
        (3, "placed_at", "'01/10/2026' is not a date in YYYY-MM-DD format"),
        (4, "placed_at", "'2026-02-30' is not a real date"),
    ]
    assert account_refs() == ["A-1"]


def test_a_negative_or_malformed_amount_is_rejected(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        GOOD,
        "acme-energia,A-9,C-9,+39 333 765 4321,IT,it,2026-10-01,-5.00,EUR",
        "acme-energia,A-8,C-8,+39 333 765 4322,IT,it,2026-10-01,0.00,EUR",
        'acme-energia,A-7,C-7,+39 333 765 4323,IT,it,2026-10-01,"12,50",EUR',
        "acme-energia,A-6,C-6,+39 333 765 4324,IT,it,2026-10-01,1.005,EUR",
    )

    result = import_csv(feed="accounts", path=path)

    assert reported(result) == [
        (3, "amount_placed", "'-5.00' is negative: amounts must be greater than 0"),
        (4, "amount_placed", "'0.00' is zero: amounts must be greater than 0"),
        (
            5,
            "amount_placed",
            "'12,50' is not an amount (use a dot and at most two decimals, e.g. 412.80)",
        ),
        (6, "amount_placed", "'1.005' has more than two decimals"),
    ]
    assert account_refs() == ["A-1"]
    assert Debtor.objects.count() == 1


def test_a_duplicate_reference_keeps_the_first_row_and_names_it(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        GOOD,
        GOOD_2,
        "acme-energia,A-1,C-1,+39 333 123 4567,IT,it,2026-10-01,999.00,EUR",
    )

    result = import_csv(feed="accounts", path=path)

    assert reported(result) == [
        (
            4,
            "account_ref",
            "duplicate account_ref 'A-1' for client acme-energia: line 2 has it already "
            "(the first is kept)",
        )
    ]
    assert counts(result) == (3, 2, 0, 0, 1)
    assert Account.objects.get(ref="A-1").amount_placed == Decimal("412.80")


def test_a_currency_that_is_not_iso_4217_is_rejected(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        GOOD,
        "acme-energia,A-9,C-9,+39 333 765 4321,IT,it,2026-10-01,10.00,euro",
    )

    result = import_csv(feed="accounts", path=path)

    assert reported(result) == [
        (3, "currency", "'euro' is not an ISO 4217 currency code (three capitals, e.g. EUR)")
    ]


def test_every_problem_of_a_row_is_reported(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, "a.csv", ACCOUNTS_HEADER, "acme-energia,,C-9,12ab,XX,fr,2026-10-01,10.00,EUR"
    )

    result = import_csv(feed="accounts", path=path)

    assert reported(result) == [
        (2, "account_ref", "is required but empty"),
        (2, "debtor_country", "'XX' is not an ISO 3166-1 alpha-2 country code (e.g. IT)"),
        (2, "debtor_language", "'fr' is not a supported language (it, es or en)"),
    ]
    assert result.rejected == 1


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    result = import_csv(feed="accounts", path=write_bytes(tmp_path, "a.csv", b""))

    assert result.failed
    assert reported(result) == [
        (
            1,
            "",
            "the file is empty: expected a header row with client_ref, account_ref, "
            "debtor_ref, debtor_phone, debtor_country, placed_at, amount_placed, currency",
        )
    ]


def test_a_header_without_rows_imports_nothing_and_is_fine(tmp_path: Path) -> None:
    result = import_csv(feed="accounts", path=write_csv(tmp_path, "a.csv", ACCOUNTS_HEADER))

    assert result.ok
    assert counts(result) == (0, 0, 0, 0, 0)


def test_a_line_that_is_not_utf8_is_rejected_and_the_others_land(tmp_path: Path) -> None:
    content = "\n".join(
        [
            ACCOUNTS_HEADER,
            GOOD,
            "acme-energia,A-9,Núñez,+39 333 765 4321,IT,it,2026-10-01,10.00,EUR",
            GOOD_2,
        ]
    ).encode("latin-1")

    result = import_csv(feed="accounts", path=write_bytes(tmp_path, "a.csv", content))

    assert reported(result) == [
        (3, "debtor_ref", "not valid UTF-8 (byte 0xFA); save the file as UTF-8 and retry")
    ]
    assert account_refs() == ["A-1", "A-2"]


def test_a_utf16_file_is_refused_whole(tmp_path: Path) -> None:
    content = "\n".join([ACCOUNTS_HEADER, GOOD]).encode("utf-16")

    result = import_csv(feed="accounts", path=write_bytes(tmp_path, "a.csv", content))

    assert result.failed
    assert reported(result) == [(1, "", "the file is UTF-16; save it as UTF-8 and retry")]
    assert Account.objects.count() == 0


def test_a_utf8_bom_and_columns_in_another_order_are_accepted(tmp_path: Path) -> None:
    content = (
        "\ufeffcurrency,amount_placed,placed_at,debtor_country,debtor_phone,debtor_ref,"
        "account_ref,client_ref,notes\n"
        "EUR,412.80,2026-10-01,IT,+39 333 123 4567,C-1,A-1,acme-energia,call after 5pm\n"
    ).encode()

    result = import_csv(feed="accounts", path=write_bytes(tmp_path, "a.csv", content))

    assert result.ok
    assert result.warnings == ["ignored column(s) not in the accounts feed: notes"]
    assert Account.objects.get(ref="A-1").amount_placed == Decimal("412.80")


def test_a_row_with_the_wrong_number_of_fields_is_rejected(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        GOOD,
        "acme-energia,A-9,C-9,+39 333 765 4321,IT,it,2026-10-01",
    )

    result = import_csv(feed="accounts", path=path)

    assert reported(result) == [(3, "amount_placed", "the row has 7 fields but the header has 9")]
    assert account_refs() == ["A-1"]


def test_a_changed_amount_updates_and_the_rest_is_unchanged(tmp_path: Path) -> None:
    import_csv(feed="accounts", path=write_csv(tmp_path, "a.csv", ACCOUNTS_HEADER, GOOD, GOOD_2))

    changed = GOOD.replace("412.80", "400.00").replace("+39 333 123 4567", "+39 333 000 1111")
    result = import_csv(
        feed="accounts", path=write_csv(tmp_path, "b.csv", ACCOUNTS_HEADER, changed, GOOD_2)
    )

    assert counts(result) == (2, 0, 1, 1, 0)
    assert Account.objects.get(ref="A-1").amount_placed == Decimal("400.00")
    assert Debtor.objects.get(ref="C-1").phone_e164 == "+393330001111"


def test_the_last_row_of_a_debtor_with_several_accounts_gives_its_details(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        "acme-energia,A-1,C-1,+39 333 123 4567,IT,it,2026-10-01,10.00,EUR",
        "acme-energia,A-2,C-1,+39 333 999 8888,IT,en,2026-10-01,20.00,EUR",
    )

    result = import_csv(feed="accounts", path=path)

    assert counts(result) == (2, 2, 0, 0, 0)
    debtor = Debtor.objects.get()
    assert (debtor.phone_e164, debtor.language) == ("+393339998888", "en")
    assert sorted(debtor.accounts.values_list("ref", flat=True)) == ["A-1", "A-2"]


def test_records_are_checked_like_rows_and_numbered_from_one() -> None:
    result = import_records(
        feed="accounts",
        records=[
            {
                "client_ref": "acme-energia",
                "account_ref": "A-1",
                "debtor_ref": "C-1",
                "debtor_phone": "+39 333 123 4567",
                "debtor_country": "IT",
                "placed_at": "2026-10-01",
                "amount_placed": 412.8,
                "currency": "EUR",
                "colour": "blue",
            },
            {
                "client_ref": "acme-energia",
                "account_ref": "A-2",
                "debtor_ref": "C-2",
                "debtor_phone": "12ab",
                "debtor_country": "IT",
                "placed_at": "2026-10-01",
                "amount_placed": "10.00",
                "currency": "EUR",
            },
        ],
    )

    assert result.errors == [RowError(2, "debtor_phone", "'12ab' is not a phone number for IT")]
    assert result.warnings == ["ignored field(s) not in the accounts feed: colour"]
    assert Account.objects.get(ref="A-1").amount_placed == Decimal("412.80")
    assert result.run.source == "api"


def test_a_flood_of_bad_rows_keeps_the_first_reasons_and_counts_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "MAX_ERRORS", 2)
    path = write_csv(
        tmp_path,
        "a.csv",
        ACCOUNTS_HEADER,
        GOOD,
        GOOD.replace("A-1,", "A-1,"),  # line 3: duplicate, found in SQL
        "acme-energia,A-7,C-7,12ab,IT,it,2026-10-01,10.00,EUR",
        "acme-energia,A-8,C-8,34ab,IT,it,2026-10-01,10.00,EUR",
        "acme-energia,A-9,C-9,56ab,IT,it,2026-10-01,10.00,EUR",
        GOOD_2,
    )

    result = import_csv(feed="accounts", path=path)

    assert result.rejected == 4
    assert [(e.line, e.column) for e in result.errors] == [(3, "account_ref"), (4, "debtor_phone")]
    assert result.errors_truncated
    assert list(iter_errors(result))[-1] == (
        "... 4 rows rejected in all; only the first 2 are listed"
    )
    assert account_refs() == ["A-1", "A-2"]


def planner_knows_rows(table: str) -> int:
    """How many rows the database's query planner believes the table holds (0: no statistics)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
            return max(0, int(cursor.fetchone()[0]))
        cursor.execute("SELECT count(*) FROM main.sqlite_master WHERE name = 'sqlite_stat1'")
        if not cursor.fetchone()[0]:
            return 0
        # Each index's line starts with the table's row count.
        cursor.execute("SELECT stat FROM main.sqlite_stat1 WHERE tbl = %s", [table])
        row = cursor.fetchone()
        return int(row[0].split()[0]) if row else 0


def test_a_large_import_refreshes_the_planners_statistics(tmp_path: Path) -> None:
    """Without statistics SQLite planned the recovery figures on the wrong index (30 s on the
    demo instead of 1 s); a large import leaves them up to date."""
    table = Account._meta.db_table
    small = [
        f"acme-energia,S-{i},SD-{i},+39333{i:07d},IT,it,2026-10-01,10.00,EUR" for i in range(10)
    ]
    import_csv(feed="accounts", path=write_csv(tmp_path, "s.csv", ACCOUNTS_HEADER, *small))
    assert planner_knows_rows(table) < 10  # a small import leaves them be
    rows = [
        f"acme-energia,A-{i},D-{i},+39334{i:07d},IT,it,2026-10-01,10.00,EUR" for i in range(1200)
    ]
    result = import_csv(feed="accounts", path=write_csv(tmp_path, "a.csv", ACCOUNTS_HEADER, *rows))
    assert result.ok and result.created == 1200
    assert planner_knows_rows(table) >= 1200
