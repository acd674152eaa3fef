"""The contacts feed: operators (and their moves), promises and consent evidence come with
the contact; bad input is reported row by row and nothing of a bad row lands."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from collections_link.ingest import import_csv
from collections_link.models import (
    Client,
    ConsentRecord,
    Contact,
    Operator,
    OperatorAssignment,
    Promise,
)
from tests.collections_link.ingest_support import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    counts,
    make_acme,
    make_luz,
    reported,
    write_bytes,
    write_csv,
)

pytestmark = pytest.mark.django_db

CET = dt.timezone(dt.timedelta(hours=1))
K1 = (
    "acme-energia,K-1,A-1,op-giulia,Giulia Rossi,phone,2026-11-19T10:12:00+01:00,"
    "2026-11-19T10:19:30+01:00,promise_to_pay,,200.00,2026-11-30,yes"
)
K2 = (
    "acme-energia,K-2,A-2,op-giulia,Giulia Rossi,phone,2026-11-19T11:02:00+01:00,"
    "2026-11-19T11:04:10+01:00,no_answer,,,,"
)


def contact(
    ref: str = "K-9",
    *,
    client: str = "acme-energia",
    account: str = "A-1",
    operator: str = "op-giulia",
    name: str = "Giulia Rossi",
    channel: str = "phone",
    started: str = "2026-11-20T09:00:00+01:00",
    ended: str = "2026-11-20T09:05:00+01:00",
    outcome: str = "refusal",
    flags: str = "",
    amount: str = "",
    due: str = "",
    consent: str = "",
) -> str:
    return ",".join(
        [
            client,
            ref,
            account,
            operator,
            name,
            channel,
            started,
            ended,
            outcome,
            flags,
            amount,
            due,
            consent,
        ]
    )


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
        "luz-norte,L-77,N-9,612 345 679,ES,es,2026-10-05,230.00,EUR",
    )
    assert import_csv(feed="accounts", path=path).ok


def refs() -> list[str]:
    return sorted(Contact.objects.values_list("ref", flat=True))


def run(tmp_path: Path, *rows: str, name: str = "c.csv", header: str = CONTACTS_HEADER):
    return import_csv(feed="contacts", path=write_csv(tmp_path, name, header, *rows))


def test_a_contact_lands_with_its_operator_promise_and_consent(tmp_path: Path) -> None:
    result = run(tmp_path, K1, K2)

    assert counts(result) == (2, 2, 0, 0, 0)
    k1 = Contact.objects.get(ref="K-1")
    assert (k1.account.ref, k1.operator.ref, k1.right_party) == ("A-1", "op-giulia", True)
    assert (k1.promise.amount, k1.promise.due_on, k1.promise.account.ref) == (
        Decimal("200.00"),
        dt.date(2026, 11, 30),
        "A-1",
    )
    consent = ConsentRecord.objects.get()
    assert (consent.contact, consent.given, consent.debtor.ref) == (k1, True, "C-1")
    giulia = Operator.objects.get()
    assert (giulia.name, giulia.client.ref) == ("Giulia Rossi", "acme-energia")
    assert OperatorAssignment.objects.get().started_at == dt.datetime(
        2026, 11, 19, 10, 12, tzinfo=CET
    )


def test_flags_are_stored_once_each_in_their_canonical_order(tmp_path: Path) -> None:
    run(tmp_path, contact(flags="vulnerable cease_contact vulnerable"))

    assert Contact.objects.get().flags == "cease_contact vulnerable"


def test_a_missing_required_column_imports_nothing(tmp_path: Path) -> None:
    header = CONTACTS_HEADER.replace(",outcome", "").replace("client_ref,", "")
    result = run(
        tmp_path, "K-1,A-1,op-giulia,G,phone,2026-11-19T10:12:00+01:00,,,,,", header=header
    )

    assert result.failed
    assert reported(result) == [
        (1, "client_ref", "required column 'client_ref' is missing from the header"),
        (1, "outcome", "required column 'outcome' is missing from the header"),
    ]
    assert Contact.objects.count() == 0


def test_an_unknown_client_rejects_its_row_only(tmp_path: Path) -> None:
    result = run(tmp_path, K1, contact(client="nobody"), K2)

    assert reported(result) == [
        (
            3,
            "client_ref",
            "unknown client 'nobody' (create it first, or import with --create-clients)",
        )
    ]
    assert refs() == ["K-1", "K-2"]


def test_a_contact_for_an_unknown_account_is_rejected(tmp_path: Path) -> None:
    # L-77 exists, but for luz-norte: accounts are the client's own references.
    result = run(tmp_path, K1, contact(account="A-404"), contact("K-8", account="L-77"))

    assert reported(result) == [
        (
            3,
            "account_ref",
            "unknown account 'A-404' for client acme-energia (import it with "
            "the accounts feed first)",
        ),
        (
            4,
            "account_ref",
            "unknown account 'L-77' for client acme-energia (import it with "
            "the accounts feed first)",
        ),
    ]
    assert refs() == ["K-1"]
    assert list(Operator.objects.values_list("ref", flat=True)) == ["op-giulia"]


def test_a_rejected_contact_creates_no_operator(tmp_path: Path) -> None:
    result = run(tmp_path, contact(operator="op-nuovo", account="A-404"))

    assert result.rejected == 1
    assert not Operator.objects.filter(ref="op-nuovo").exists()


def test_times_without_an_offset_or_in_another_format_are_rejected(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        K1,
        contact("K-3", started="2026-11-20 09:00"),
        contact("K-4", started="20/11/2026 09:00"),
        contact("K-5", ended="2026-11-20"),
        contact("K-6", outcome="promise_to_pay", amount="50.00", due="30/11/2026"),
    )

    assert reported(result) == [
        (
            3,
            "started_at",
            "'2026-11-20 09:00' has no time with a UTC offset (expected e.g. "
            "2026-11-20T15:42:00+01:00)",
        ),
        (
            4,
            "started_at",
            "'20/11/2026 09:00' is not an ISO 8601 date-time (expected e.g. "
            "2026-11-20T15:42:00+01:00)",
        ),
        (
            5,
            "ended_at",
            "'2026-11-20' has no time with a UTC offset (expected e.g. 2026-11-20T15:42:00+01:00)",
        ),
        (6, "promise_due", "'30/11/2026' is not a date in YYYY-MM-DD format"),
    ]
    assert refs() == ["K-1"]


def test_a_negative_promise_amount_is_rejected_with_nothing_of_the_row(tmp_path: Path) -> None:
    result = run(
        tmp_path, K1, contact("K-3", outcome="promise_to_pay", amount="-50.00", due="2026-12-01")
    )

    assert reported(result) == [
        (3, "promise_amount", "'-50.00' is negative: amounts must be greater than 0")
    ]
    assert refs() == ["K-1"]
    assert Promise.objects.count() == 1


def test_promise_rules(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        contact("K-3", outcome="promise_to_pay", amount="50.00"),
        contact("K-4", outcome="paid", amount="50.00", due="2026-12-01"),
        contact("K-5", outcome="payment_plan", amount="80.00", due="2026-12-01"),
        contact("K-6", outcome="promise_to_pay"),
    )

    assert reported(result) == [
        (2, "promise_due", "is required with promise_amount"),
        (3, "promise_amount", "a promise needs outcome promise_to_pay or payment_plan, not 'paid'"),
    ]
    assert refs() == ["K-5", "K-6"]
    assert Promise.objects.get().contact.ref == "K-5"


def test_values_outside_their_lists_are_rejected(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        contact("K-3", channel="sms"),
        contact("K-4", outcome="hung_up"),
        contact("K-5", flags="deceased angry"),
        contact("K-6", consent="maybe"),
        contact("K-7", ended="2026-11-20T08:00:00+01:00"),
    )

    assert reported(result) == [
        (2, "channel", "'sms' is not a channel (phone or home_visit)"),
        (
            3,
            "outcome",
            "'hung_up' is not a contact outcome (promise_to_pay, paid, "
            "partial_payment, payment_plan, dispute, refusal, callback_requested, "
            "hardship, third_party, wrong_party, no_answer, busy, voicemail)",
        ),
        (
            4,
            "flags",
            "'angry' is not a forbidding flag (cease_contact, deceased, bankruptcy, "
            "attorney, vulnerable)",
        ),
        (5, "survey_consent", "'maybe' is not yes, no or empty"),
        (6, "ended_at", "is before started_at"),
    ]
    assert Contact.objects.count() == 0


def test_a_duplicate_contact_ref_keeps_the_first(tmp_path: Path) -> None:
    result = run(tmp_path, K1, K2, K1.replace("promise_to_pay,,200.00", "promise_to_pay,,1.00"))

    assert reported(result) == [
        (
            4,
            "contact_ref",
            "duplicate contact_ref 'K-1' for client acme-energia: line 2 has "
            "it already (the first is kept)",
        )
    ]
    assert Promise.objects.get().amount == Decimal("200.00")


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    result = import_csv(feed="contacts", path=write_bytes(tmp_path, "c.csv", b"\xef\xbb\xbf\n"))

    assert result.failed
    assert reported(result) == [
        (
            1,
            "",
            "the file is empty: expected a header row with client_ref, contact_ref, "
            "account_ref, operator_ref, channel, started_at, outcome",
        )
    ]


def test_a_line_that_is_not_utf8_is_rejected_and_the_others_land(tmp_path: Path) -> None:
    content = "\n".join([CONTACTS_HEADER, K1, contact(name="Lucía García"), K2]).encode("latin-1")

    result = import_csv(feed="contacts", path=write_bytes(tmp_path, "c.csv", content))

    assert reported(result) == [
        (3, "operator_name", "not valid UTF-8 (byte 0xED); save the file as UTF-8 and retry")
    ]
    assert refs() == ["K-1", "K-2"]


def test_a_quoted_field_over_two_lines_keeps_the_line_numbers_right(tmp_path: Path) -> None:
    result = run(tmp_path, contact("K-3", name='"Giulia\nRossi"'), contact("K-4", channel="fax"))

    assert reported(result) == [(4, "channel", "'fax' is not a channel (phone or home_visit)")]
    assert Operator.objects.get().name == "Giulia\nRossi"


def test_a_changed_outcome_updates_the_contact_and_drops_its_promise(tmp_path: Path) -> None:
    run(tmp_path, K1, K2)

    paid = K1.replace("promise_to_pay,,200.00,2026-11-30,yes", "paid,,,,no")
    result = run(tmp_path, paid, K2, name="again.csv")

    assert counts(result) == (2, 0, 1, 1, 0)
    k1 = Contact.objects.get(ref="K-1")
    assert (k1.outcome, k1.survey_consent) == ("paid", False)
    assert not Promise.objects.exists()
    assert ConsentRecord.objects.get(contact=k1).given is False


def test_a_changed_promise_alone_counts_as_an_update(tmp_path: Path) -> None:
    run(tmp_path, K1)

    result = run(tmp_path, K1.replace("200.00", "150.00"), name="again.csv")

    assert counts(result) == (1, 0, 1, 0, 0)
    assert Promise.objects.get().amount == Decimal("150.00")


def test_a_consent_answer_that_becomes_unknown_drops_the_record(tmp_path: Path) -> None:
    run(tmp_path, K1)

    result = run(tmp_path, K1.replace("2026-11-30,yes", "2026-11-30,"), name="again.csv")

    assert counts(result) == (1, 0, 1, 0, 0)
    assert Contact.objects.get().survey_consent is None
    assert not ConsentRecord.objects.exists()
    assert Promise.objects.get().amount == Decimal("200.00")


def test_an_empty_operator_name_keeps_the_known_one(tmp_path: Path) -> None:
    run(tmp_path, K1)

    result = run(tmp_path, K1.replace("Giulia Rossi", ""), name="again.csv")

    assert counts(result) == (1, 0, 0, 1, 0)
    assert Operator.objects.get().name == "Giulia Rossi"


def test_an_operator_who_moves_to_another_client_keeps_the_history(tmp_path: Path) -> None:
    run(tmp_path, K1)
    giulia = Operator.objects.get(ref="op-giulia")
    assert giulia.client.ref == "acme-energia"

    moved = contact(
        "K-50",
        client="luz-norte",
        account="L-77",
        started="2026-12-01T10:00:00+01:00",
        ended="2026-12-01T10:05:00+01:00",
    )
    assert run(tmp_path, moved, name="december.csv").ok

    giulia.refresh_from_db()
    assert giulia.client.ref == "luz-norte"
    history = [
        (a.client.ref, a.started_at, a.ended_at)
        for a in OperatorAssignment.objects.filter(operator=giulia)
    ]
    moved_at = dt.datetime(2026, 12, 1, 10, 0, tzinfo=CET)
    assert history == [
        ("acme-energia", dt.datetime(2026, 11, 19, 10, 12, tzinfo=CET), moved_at),
        ("luz-norte", moved_at, None),
    ]
    # Her November contact still names her, at the client she served then.
    assert Contact.objects.get(ref="K-1").operator == giulia

    # Importing the old file again does not move her back.
    assert run(tmp_path, K1, name="november-again.csv").ok
    giulia.refresh_from_db()
    assert giulia.client.ref == "luz-norte"
    assert OperatorAssignment.objects.filter(operator=giulia).count() == 2


def test_a_new_operator_name_is_taken_from_the_file(tmp_path: Path) -> None:
    run(tmp_path, K1)

    run(tmp_path, K1.replace("Giulia Rossi", "Giulia Rossi-Bianchi"), name="again.csv")

    assert Operator.objects.get().name == "Giulia Rossi-Bianchi"


def test_consent_uses_the_configured_wording_version(tmp_path: Path, settings) -> None:
    settings.CONSENT_WORDING_VERSION = "2026-11"

    run(tmp_path, K1)

    assert ConsentRecord.objects.get().wording_version == "2026-11"


def test_create_clients_does_not_create_a_client_for_a_contact(tmp_path: Path) -> None:
    result = import_csv(
        feed="contacts",
        path=write_csv(tmp_path, "c.csv", CONTACTS_HEADER, contact(client="nuovo")),
        create_clients=True,
    )

    # A new client has no accounts, so the row could not land: nothing of it may.
    assert reported(result) == [
        (
            2,
            "client_ref",
            "unknown client 'nuovo': import its accounts first (the accounts "
            "feed creates clients with --create-clients)",
        )
    ]
    assert not Client.objects.filter(ref="nuovo").exists()
