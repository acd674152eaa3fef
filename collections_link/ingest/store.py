"""The staging table: where the rows that passed their own checks wait, with their line
numbers, for the checks that need other rows and for the set-based merge.

PostgreSQL gets them through COPY (psycopg's `write_row`), SQLite through executemany; both
in batches, so the Python side holds one batch at most, and so that nothing else has to wait
for a COPY to end (a client may have to be created between two rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from collections_link.ingest.rows import FeedSpec

STAGE = "ingest_stage"
DEBTORS = "ingest_debtors"
BATCH_ROWS = 5000

_PG_TYPES = {
    "int": "bigint",
    "text": "text",
    "ts": "timestamptz",
    "date": "date",
    "dec": "numeric(14, 2)",
    "bool": "boolean",
}
# Django's own column types on SQLite, so the staged values get the same type affinity (and
# so compare equal) as the stored ones: decimals become REAL, dates and times stay text.
_SQLITE_TYPES = {
    "int": "integer",
    "text": "text",
    "ts": "datetime",
    "date": "date",
    "dec": "decimal",
    "bool": "bool",
}


def _temp(name: str) -> str:
    """`name` in the session's temporary schema: a DROP of it never reaches a real table."""
    return f"pg_temp.{name}" if is_postgres() else f"temp.{name}"


def drop_temp(*names: str) -> None:
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP TABLE IF EXISTS {_temp(name)}")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def ne(left: str, right: str) -> str:
    """Null-safe 'differs' for SQL: NULL and NULL are the same, NULL and a value differ."""
    if is_postgres():
        return f"{left} IS DISTINCT FROM {right}"
    return f"{left} IS NOT {right}"


def table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


class Stage:
    """The temporary staging table of one import, on Django's default connection."""

    def __init__(self, spec: FeedSpec) -> None:
        self.spec = spec
        self.columns = ("line", "client_id", *(name for name, _ in spec.stage))
        kinds = ("int", "int", *(kind for _, kind in spec.stage))
        self.kinds = kinds
        self._pending: list[tuple[Any, ...]] = []
        self.staged = 0
        self._adapters = self._sqlite_adapters() if not is_postgres() else None

    def create(self) -> None:
        types = _PG_TYPES if is_postgres() else _SQLITE_TYPES
        cols = ", ".join(
            f"{name} {types[kind]}" for name, kind in zip(self.columns, self.kinds, strict=True)
        )
        drop_temp(STAGE, DEBTORS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {STAGE} ({cols}, err varchar(32), err_arg text)"
            )

    def drop(self) -> None:
        drop_temp(STAGE, DEBTORS)

    def add(self, row: tuple[Any, ...]) -> None:
        self._pending.append(row)
        if len(self._pending) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        rows = self._pending
        if not rows:
            return
        self._pending = []
        self.staged += len(rows)
        if is_postgres():
            self._copy(rows)
        else:
            self._insert(rows)

    def _copy(self, rows: Sequence[tuple[Any, ...]]) -> None:
        connection.ensure_connection()
        raw = connection.connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {STAGE} ({', '.join(self.columns)}) FROM STDIN") as copy,
        ):
            write = copy.write_row
            for row in rows:
                write(row)

    def _sqlite_adapters(self) -> list[Callable[[Any], Any] | None]:
        ops = connection.ops
        by_kind: dict[str, Callable[[Any], Any] | None] = {
            "ts": ops.adapt_datetimefield_value,
            "date": ops.adapt_datefield_value,
            "dec": lambda v: None if v is None else ops.adapt_decimalfield_value(v, 14, 2),
        }
        return [by_kind.get(kind) for kind in self.kinds]

    def _insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        adapters = self._adapters or []
        adapted = [
            tuple(a(v) if a is not None else v for a, v in zip(adapters, row, strict=True))
            for row in rows
        ]
        marks = ", ".join(["%s"] * len(self.columns))
        # One transaction per batch: SQLite would otherwise commit (and sync) every row.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {STAGE} ({', '.join(self.columns)}) VALUES ({marks})", adapted
            )

    def index(self) -> None:
        """Index the staged rows for the checks and the merge, and give PostgreSQL's planner
        their statistics (autovacuum never analyzes a temporary table)."""
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE INDEX {STAGE}_line ON {STAGE} (line)")
            cursor.execute(f"CREATE INDEX {STAGE}_ref ON {STAGE} (client_id, ref)")
            cursor.execute(f"ANALYZE {STAGE}")


def fetch(cursor: CursorWrapper, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cursor.execute(sql, params)
    return list(cursor.fetchall())


def scalar(cursor: CursorWrapper, sql: str, params: Sequence[Any] = ()) -> Any:
    cursor.execute(sql, params)
    row = cursor.fetchone()
    return row[0] if row else None
