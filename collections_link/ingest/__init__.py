"""Ingest of the collection system's three feeds (accounts, contacts, payments), from a CSV
file or from a list of records (the REST API), per the ingest contracts.

    result = import_csv(feed="contacts", path="contacts.csv")
    result.ok, result.created, result.errors

How it works, and why:

1. Stream the rows (rows.py, reading.py): each row is checked on its own in Python (required
   values, formats, phone numbers, the client). A bad row becomes RowError(s) and goes no
   further; a good one goes, with its line number, to a temporary staging table (store.py)
   in batches, through COPY on PostgreSQL.
2. Check across rows in SQL (merge.py): duplicate references in the file, unknown accounts,
   currencies, reversals. SQL does the joins, so memory stays flat at any file size.
3. Merge set-based, one range of lines per transaction: INSERT ... SELECT ... ON CONFLICT DO
   UPDATE ... WHERE the row differs, so the same file twice changes nothing and a crash
   never leaves half a row.

Every run is recorded as an ImportRun with its counts and its first rejected rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from django.db import DatabaseError, connection
from django.db.models import Model
from django.utils import timezone

from collections_link.dbstats import ANALYZE_AFTER_ROWS, statistics_refresh
from collections_link.ingest import merge
from collections_link.ingest.reading import CsvFeed, FileError, RecordFeed, Row
from collections_link.ingest.rows import FEEDS, Clients, FeedSpec, RowChecker, RowError
from collections_link.ingest.store import Stage
from collections_link.models import Account, Contact, Debtor, ImportRun, Payment
from collections_link.progress import Progress

__all__ = [
    "FEEDS",
    "MAX_ERRORS",
    "ImportResult",
    "RowError",
    "import_csv",
    "import_records",
    "iter_errors",
]

logger = logging.getLogger(__name__)

# The report keeps the first MAX_ERRORS rejected rows (and counts all of them); the ImportRun
# row keeps the first RUN_ERRORS.
MAX_ERRORS = 10_000
RUN_ERRORS = 200
_PROGRESS_EVERY = 1024


@dataclass
class ImportResult:
    """What one import did. `errors` holds every rejected row's reasons, or the first
    MAX_ERRORS of them when there are more (`errors_truncated` then says how many rows were
    rejected in all: `rejected`)."""

    feed: str
    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[RowError]
    run: ImportRun
    failed: bool = False  # a file-level error: nothing was imported
    warnings: list[str] = field(default_factory=list)
    errors_truncated: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed and self.rejected == 0

    def summary(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "import_run": self.run.pk,
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "failed": self.failed,
            "warnings": self.warnings,
        }


def _spec(feed: str) -> FeedSpec:
    try:
        return FEEDS[feed]
    except KeyError:
        raise ValueError(f"unknown feed {feed!r}: one of {', '.join(FEEDS)}") from None


def _user_or_none(user: Any) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def import_csv(
    *,
    feed: str,
    path: str | Path,
    create_clients: bool = False,
    user: Any = None,
    progress: bool | None = None,
    progress_stream: TextIO | None = None,
) -> ImportResult:
    """Import one CSV file of `feed` ("accounts", "contacts" or "payments"). `progress`: None
    draws it on a terminal only (never when the stream, stderr by default, is not a TTY, nor
    when CI is set); True always, False never."""
    spec = _spec(feed)
    path = Path(path)
    with path.open("rb") as fh:
        run = ImportRun.objects.create(
            feed=spec.name, source=path.name[:300], user=_user_or_none(user)
        )
        try:
            rows = CsvFeed(fh, spec, size=path.stat().st_size)
        except FileError as exc:
            return _failed(spec, run, exc.errors)
        return _import(
            spec,
            rows,
            run,
            create_clients=create_clients,
            progress=progress,
            stream=progress_stream,
        )


def import_records(
    *,
    feed: str,
    records: Iterable[Mapping[str, object]],
    create_clients: bool = False,
    user: Any = None,
) -> ImportResult:
    """Import rows given as mappings with the CSV's column names (the API's JSON). RowError
    lines are the 1-based positions of the records."""
    spec = _spec(feed)
    run = ImportRun.objects.create(feed=spec.name, source="api", user=_user_or_none(user))
    return _import(
        spec,
        RecordFeed(records, spec),
        run,
        create_clients=create_clients,
        progress=False,
        stream=None,
    )


def _failed(spec: FeedSpec, run: ImportRun, errors: list[RowError]) -> ImportResult:
    run.errors = [e.as_dict() for e in errors[:RUN_ERRORS]]
    run.finished_at = timezone.now()
    run.save(update_fields=["errors", "finished_at"])
    logger.warning("import %s from %s failed: %s", spec.name, run.source, errors[0])
    return ImportResult(
        feed=spec.name,
        rows_read=0,
        created=0,
        updated=0,
        unchanged=0,
        rejected=0,
        errors=errors,
        run=run,
        failed=True,
    )


def _import(
    spec: FeedSpec,
    rows: CsvFeed | RecordFeed,
    run: ImportRun,
    *,
    create_clients: bool,
    progress: bool | None,
    stream: TextIO | None,
) -> ImportResult:
    clock = time.perf_counter()
    seconds: dict[str, float] = {}
    stage = Stage(spec)
    stage.create()
    try:
        bar = Progress(label=f"{spec.name}: reading", enabled=progress, stream=stream)
        read, errors, rejected = _stage_rows(spec, rows, stage, Clients(create=create_clients), bar)
        bar.close()
        seconds["read"] = time.perf_counter() - clock
        stage.index()
        merge.check_rows(spec)
        merge.prepare(spec)
        seconds["check"] = time.perf_counter() - clock - sum(seconds.values())
        counts = merge.Counts()
        bounds = merge.line_range()
        if bounds is not None:
            first, last = bounds
            bar = Progress(
                label=f"{spec.name}: merging",
                enabled=progress,
                stream=stream,
                total=last - first + 1,
                unit="lines",
            )
            for lo in range(first, last + 1, merge.CHUNK_LINES):
                counts.add(merge.merge_chunk(spec, lo, lo + merge.CHUNK_LINES))
                bar.update(
                    rows=min(lo + merge.CHUNK_LINES, last + 1) - first,
                    done=min(lo + merge.CHUNK_LINES, last + 1) - first,
                )
            bar.close()
        seconds["merge"] = time.perf_counter() - clock - sum(seconds.values())
        sql_rejected, sql_errors = merge.rejected_rows(spec, limit=MAX_ERRORS)
    finally:
        try:
            stage.drop()
        except DatabaseError:
            # The caller's transaction broke (the error is on its way up); the temporary
            # tables go with the rollback or the session.
            logger.warning("ingest: could not drop the staging tables", exc_info=True)
    if rejected > len({e.line for e in errors}):
        # The row checks stopped keeping reasons at some line: keep the report the first
        # rows by line, without reasons from further down.
        last = errors[-1].line
        sql_errors = [e for e in sql_errors if e.line <= last]
    rejected += sql_rejected
    all_errors = sorted(errors + sql_errors, key=lambda e: e.line)
    truncated = rejected > len({e.line for e in all_errors}) or len(all_errors) > MAX_ERRORS
    all_errors = all_errors[:MAX_ERRORS]
    result = ImportResult(
        feed=spec.name,
        rows_read=read,
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        rejected=rejected,
        errors=all_errors,
        run=run,
        warnings=rows.warnings,
        errors_truncated=truncated,
        seconds=seconds,
    )
    _record(result)
    if counts.created + counts.updated >= ANALYZE_AFTER_ROWS and spec.name in FEED_TABLES:
        statistics_refresh(*FEED_TABLES[spec.name])
    return result


# The tables each feed writes, whose planner statistics a large import refreshes.
FEED_TABLES: dict[str, tuple[type[Model], ...]] = {
    "accounts": (Debtor, Account),
    "contacts": (Contact,),
    "payments": (Payment,),
}


def _stage_rows(
    spec: FeedSpec, rows: Iterable[Row], stage: Stage, clients: Clients, bar: Progress
) -> tuple[int, list[RowError], int]:
    """Check each row on its own and stage the good ones. Returns rows read, the first
    MAX_ERRORS errors and the number of rows rejected."""
    check = RowChecker(spec, clients=clients)
    errors: list[RowError] = []
    rejected = 0
    read = 0
    add = stage.add
    size = getattr(rows, "size", None)
    bar.total = size
    for row in rows:
        read += 1
        if not read % _PROGRESS_EVERY:
            bar.update(rows=read, done=getattr(rows, "bytes_read", None))
        if row.errors:
            rejected += 1
            _keep(errors, row.errors)
            continue
        checked = check(row.values, row.line)
        if isinstance(checked, list):
            rejected += 1
            _keep(errors, checked)
        else:
            add(checked)
    stage.flush()
    return read, errors, rejected


def _keep(errors: list[RowError], new: list[RowError]) -> None:
    if len(errors) < MAX_ERRORS:
        errors.extend(new)


def _record(result: ImportResult) -> None:
    run = result.run
    run.rows_read = result.rows_read
    run.created = result.created
    run.updated = result.updated
    run.unchanged = result.unchanged
    run.rejected = result.rejected
    run.errors = [e.as_dict() for e in result.errors[:RUN_ERRORS]]
    run.finished_at = timezone.now()
    run.save(
        update_fields=[
            "rows_read",
            "created",
            "updated",
            "unchanged",
            "rejected",
            "errors",
            "finished_at",
        ]
    )
    logger.info(
        "import %s from %s: %s read, %s created, %s updated, %s unchanged, %s rejected "
        "(%.1fs on %s)",
        result.feed,
        run.source,
        result.rows_read,
        result.created,
        result.updated,
        result.unchanged,
        result.rejected,
        sum(result.seconds.values()),
        connection.vendor,
    )


def iter_errors(result: ImportResult) -> Iterator[str]:
    """The report lines of a result, one per rejected row reason."""
    for error in result.errors:
        yield str(error)
    if result.errors_truncated:
        yield (
            f"... {result.rejected} rows rejected in all; only the first "
            f"{len(result.errors)} are listed"
        )
