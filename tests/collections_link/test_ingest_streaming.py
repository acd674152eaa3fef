"""A big file never sits in memory whole: the import's peak memory does not grow with the
number of rows."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import pytest

from collections_link.ingest import import_csv
from collections_link.models import Contact
from tests.collections_link.ingest_support import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    make_acme,
    write_csv,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def contacts_file(directory: Path, rows: int, *, first: int = 0) -> Path:
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    lines = []
    for i in range(first, first + rows):
        at = start + dt.timedelta(minutes=i)
        lines.append(
            f"acme-energia,K-{i},A-{i % 50},op-{i % 20},Operator {i % 20},phone,"
            f"{at.isoformat()},{(at + dt.timedelta(minutes=4)).isoformat()},"
            f"{'promise_to_pay' if i % 3 == 0 else 'no_answer'},,"
            f"{'25.00,2026-12-01' if i % 3 == 0 else ','},{'yes' if i % 3 == 0 else ''}"
        )
    return write_csv(directory, f"contacts-{first}-{rows}.csv", CONTACTS_HEADER, *lines)


def peak_of_import(path: Path) -> int:
    tracemalloc.start()
    try:
        result = import_csv(feed="contacts", path=path, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok, result.errors[:3]
    return peak


def test_peak_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    make_acme()
    accounts = [
        f"acme-energia,A-{i},C-{i},+39 333 {i:07d},IT,it,2026-10-01,100.00,EUR" for i in range(50)
    ]
    assert import_csv(
        feed="accounts", path=write_csv(tmp_path, "a.csv", ACCOUNTS_HEADER, *accounts)
    ).ok

    small = peak_of_import(contacts_file(tmp_path, 10_000))
    large = peak_of_import(contacts_file(tmp_path, 40_000, first=10_000))

    assert Contact.objects.count() == 50_000
    # Four times the rows, about the same peak: rows are staged in fixed-size batches and
    # the checks across rows run in SQL. Holding the file would add ~30 MB here.
    assert large < small * 1.5 + 2_000_000, (small, large)
    assert large < 20_000_000
