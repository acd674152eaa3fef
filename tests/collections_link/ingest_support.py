"""Shared pieces of the ingest tests: the two clients of the sample files, CSV writers, and a
snapshot of everything the ingest can write, to prove a second import changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collections_link.ingest import ImportResult
from collections_link.models import (
    Account,
    Client,
    ConsentRecord,
    Contact,
    Debtor,
    Operator,
    OperatorAssignment,
    Payment,
    Promise,
)
from tests.factories import ClientFactory

DATA = Path(__file__).parent / "data"

ACCOUNTS_HEADER = (
    "client_ref,account_ref,debtor_ref,debtor_phone,debtor_country,debtor_language,"
    "placed_at,amount_placed,currency"
)
CONTACTS_HEADER = (
    "client_ref,contact_ref,account_ref,operator_ref,operator_name,channel,started_at,"
    "ended_at,outcome,flags,promise_amount,promise_due,survey_consent"
)
PAYMENTS_HEADER = "client_ref,payment_ref,account_ref,paid_at,amount,currency,reversal_of"


def make_acme() -> Client:
    return ClientFactory.create()


def make_luz() -> Client:
    return ClientFactory.create(
        ref="luz-norte",
        name="Luz Norte",
        country="ES",
        default_language="es",
        time_zone="Europe/Madrid",
    )


def write_csv(directory: Path, name: str, header: str, *rows: str) -> Path:
    path = directory / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def write_bytes(directory: Path, name: str, content: bytes) -> Path:
    path = directory / name
    path.write_bytes(content)
    return path


def reported(result: ImportResult) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.reason) for e in result.errors]


def counts(result: ImportResult) -> tuple[int, int, int, int, int]:
    return (result.rows_read, result.created, result.updated, result.unchanged, result.rejected)


SNAPSHOT_MODELS = (
    Client,
    Debtor,
    Account,
    Operator,
    OperatorAssignment,
    Contact,
    Promise,
    ConsentRecord,
    Payment,
)


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the ingest writes to (ImportRun aside: each run adds one)."""
    return {
        model.__name__: list(model.objects.order_by("pk").values()) for model in SNAPSHOT_MODELS
    }


def import_samples() -> None:
    """The contract's three sample files, in the order their references need."""
    from collections_link.ingest import import_csv

    for feed in ("accounts", "contacts", "payments"):
        result = import_csv(feed=feed, path=DATA / f"{feed}.csv")
        assert result.ok, result.errors
