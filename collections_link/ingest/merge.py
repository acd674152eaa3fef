"""What happens to the staged rows: the checks that need other rows or stored data, done in
SQL for the whole file at once, and the set-based merge into the real tables, one range of
lines per transaction.

A chunk's SQL statements run in one transaction, so a row and what hangs off it (its debtor;
its promise and consent record) land together or not at all. Each upsert updates only where
a value differs, so importing the same file twice rewrites nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from collections_link.ingest.rows import FeedSpec, RowError, consent_wording_version
from collections_link.ingest.store import (
    DEBTORS,
    STAGE,
    drop_temp,
    fetch,
    is_postgres,
    ne,
    scalar,
    table,
)
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

logger = logging.getLogger(__name__)

CHUNK_LINES = 100_000
_IN_CHUNK = "s.err IS NULL AND s.line >= %s AND s.line < %s"


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


def _t() -> dict[str, str]:
    return {
        "stage": STAGE,
        "client": table(Client),
        "debtor": table(Debtor),
        "account": table(Account),
        "operator": table(Operator),
        "contact": table(Contact),
        "promise": table(Promise),
        "consent": table(ConsentRecord),
        "payment": table(Payment),
    }


# --- Checks across rows ------------------------------------------------------------------------


def check_rows(spec: FeedSpec) -> None:
    """Mark (err, err_arg) the staged rows that other rows or stored data make invalid. Order
    matters: a row that fails a stored-data check does not count as the 'first' of duplicates,
    so the first *valid* occurrence of a reference is the one kept."""
    t = _t()
    with connection.cursor() as cursor:
        if spec.name in {"contacts", "payments"}:
            cursor.execute(
                f"""UPDATE {t["stage"]} SET err = 'account'
                WHERE err IS NULL AND NOT EXISTS (
                    SELECT 1 FROM {t["account"]} a
                    WHERE a.client_id = {t["stage"]}.client_id
                      AND a.ref = {t["stage"]}.account_ref)"""
            )
        if spec.name == "payments":
            cursor.execute(
                f"""UPDATE {t["stage"]} SET err = 'currency', err_arg = a.currency
                FROM {t["account"]} a
                WHERE {t["stage"]}.err IS NULL AND a.client_id = {t["stage"]}.client_id
                  AND a.ref = {t["stage"]}.account_ref AND a.currency <> {t["stage"]}.currency"""
            )
        cursor.execute(
            f"""UPDATE {t["stage"]} SET err = 'duplicate', err_arg = CAST(d.first AS text)
            FROM (SELECT line, MIN(line) OVER (PARTITION BY client_id, ref) AS first
                  FROM {t["stage"]} WHERE err IS NULL) d
            WHERE {t["stage"]}.line = d.line AND d.line <> d.first"""
        )
        if spec.name == "payments":
            _check_reversals(cursor, t)


def _check_reversals(cursor: CursorWrapper, t: dict[str, str]) -> None:
    s = t["stage"]
    checks = [
        # The reversed payment must be stored already or be a valid row earlier in the file.
        f"""UPDATE {s} SET err = 'reversal_unknown'
        WHERE err IS NULL AND reversal_of IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {t["payment"]} p
                          WHERE p.client_id = {s}.client_id AND p.ref = {s}.reversal_of)
          AND NOT EXISTS (SELECT 1 FROM {s} o
                          WHERE o.err IS NULL AND o.client_id = {s}.client_id
                            AND o.ref = {s}.reversal_of AND o.line < {s}.line)""",
        # A reversal must be on the reversed payment's account (as stored, unless this file
        # updates that payment).
        f"""UPDATE {s} SET err = 'reversal_account', err_arg = a.ref
        FROM {t["payment"]} p JOIN {t["account"]} a ON a.id = p.account_id
        WHERE {s}.err IS NULL AND p.client_id = {s}.client_id AND p.ref = {s}.reversal_of
          AND a.ref <> {s}.account_ref
          AND NOT EXISTS (SELECT 1 FROM {s} o WHERE o.err IS NULL AND o.client_id = {s}.client_id
                          AND o.ref = {s}.reversal_of)""",
        f"""UPDATE {s} SET err = 'reversal_account', err_arg = o.account_ref
        FROM {s} o
        WHERE {s}.err IS NULL AND o.err IS NULL AND o.client_id = {s}.client_id
          AND o.ref = {s}.reversal_of AND o.account_ref <> {s}.account_ref""",
        # A payment is reversed at most once: by a stored payment, or by the first valid row.
        f"""UPDATE {s} SET err = 'reversal_taken', err_arg = r.ref
        FROM {t["payment"]} p JOIN {t["payment"]} r ON r.reversal_of_id = p.id
        WHERE {s}.err IS NULL AND p.client_id = {s}.client_id AND p.ref = {s}.reversal_of
          AND r.ref <> {s}.ref""",
        f"""UPDATE {s} SET err = 'reversal_taken', err_arg = d.first_ref
        FROM (SELECT line, FIRST_VALUE(ref) OVER w AS first_ref, FIRST_VALUE(line) OVER w AS first
              FROM {s} WHERE err IS NULL AND reversal_of IS NOT NULL
              WINDOW w AS (PARTITION BY client_id, reversal_of ORDER BY line)) d
        WHERE {s}.line = d.line AND d.line <> d.first""",
    ]
    # Until nothing changes: rejecting a payment can orphan a reversal of it.
    while True:
        changed = 0
        for sql in checks:
            cursor.execute(sql)
            changed += max(cursor.rowcount, 0)
        if not changed:
            return


_REASONS = {
    "duplicate": "duplicate {ref_column} {ref!r} for client {client}: line {arg} has it "
    "already (the first is kept)",
    "account": "unknown account {account_ref!r} for client {client} (import it with the "
    "accounts feed first)",
    "currency": "currency {currency} does not match the account's currency {arg}",
    "reversal_unknown": "{reversal_of!r} is not a payment of client {client} (it must be "
    "imported already, or appear earlier in this file)",
    "reversal_account": "payment {reversal_of!r} is on account {arg!r}, not on {account_ref!r}",
    "reversal_taken": "payment {reversal_of!r} is already reversed by {arg!r}",
    "batch": "not imported: the database refused the batch of lines this row was in ({arg})",
}
_COLUMNS = {
    "account": "account_ref",
    "currency": "currency",
    "reversal_unknown": "reversal_of",
    "reversal_account": "reversal_of",
    "reversal_taken": "reversal_of",
    "batch": "",
}


def rejected_rows(spec: FeedSpec, *, limit: int) -> tuple[int, list[RowError]]:
    """How many staged rows were marked, and the first `limit` of them as RowError."""
    t = _t()
    cols = {name for name, _ in spec.stage}
    extra = ", ".join(
        f"s.{name}" if name in cols else "NULL"
        for name in ("account_ref", "currency", "reversal_of")
    )
    with connection.cursor() as cursor:
        total = scalar(cursor, f"SELECT COUNT(*) FROM {t['stage']} WHERE err IS NOT NULL")
        rows = fetch(
            cursor,
            f"""SELECT s.line, s.err, s.err_arg, c.ref, s.ref, {extra}
            FROM {t["stage"]} s JOIN {t["client"]} c ON c.id = s.client_id
            WHERE s.err IS NOT NULL ORDER BY s.line LIMIT %s""",
            [limit],
        )
    errors = []
    for line, err, arg, client, ref, account_ref, currency, reversal_of in rows:
        reason = _REASONS[err].format(
            ref_column=spec.ref_column,
            ref=ref,
            client=client,
            arg=arg,
            account_ref=account_ref,
            currency=currency,
            reversal_of=reversal_of,
        )
        errors.append(RowError(line, _COLUMNS.get(err, spec.ref_column), reason))
    return int(total or 0), errors


# --- Operators ---------------------------------------------------------------------------------


def _as_aware(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)
    # SQLite hands back Django's storage format: naive UTC text.
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


@dataclass
class _Span:
    client_id: int
    first: dt.datetime
    last: dt.datetime
    last_line: int


def sync_operators(rng: tuple[int, int]) -> None:
    """Create the operators the contacts of lines lo <= line < hi name, and follow the ones
    that moved to another client: the open assignment closes and a new one opens, so the
    history is kept. Runs inside the chunk's transaction: an operator lands with its rows.

    An operator moves only when their latest contact here is at another client and is later
    than the start of their open assignment: re-importing an old file never moves an
    operator back."""
    t = _t()
    with connection.cursor() as cursor:
        spans = fetch(
            cursor,
            f"""SELECT operator_ref, client_id, MIN(started_at), MAX(started_at), MAX(line)
            FROM {t["stage"]} s WHERE {_IN_CHUNK} GROUP BY operator_ref, client_id""",
            rng,
        )
        named = fetch(
            cursor,
            f"""SELECT s.operator_ref, s.operator_name FROM {t["stage"]} s JOIN (
                SELECT MAX(line) AS line FROM {t["stage"]} s
                WHERE {_IN_CHUNK} AND operator_name <> '' GROUP BY operator_ref) n
              ON n.line = s.line""",
            rng,
        )
    if not spans:
        return
    by_ref: dict[str, list[_Span]] = defaultdict(list)
    for ref, client_id, first, last, last_line in spans:
        by_ref[ref].append(_Span(client_id, _as_aware(first), _as_aware(last), last_line))
    names = dict(named)
    refs = sorted(by_ref)
    for i in range(0, len(refs), 500):
        batch = refs[i : i + 500]
        existing = {o.ref: o for o in Operator.objects.filter(ref__in=batch)}
        open_by_op = {
            a.operator_id: a
            for a in OperatorAssignment.objects.filter(
                operator__ref__in=batch, ended_at__isnull=True
            )
        }
        new_ops = []
        for ref in batch:
            final = max(by_ref[ref], key=lambda s: (s.last, s.last_line))
            operator = existing.get(ref)
            if operator is None:
                new_ops.append(
                    (
                        Operator(ref=ref, name=names.get(ref, ""), client_id=final.client_id),
                        final.first,
                    )
                )
                continue
            _follow(operator, final, open_by_op.get(operator.id), names.get(ref))
        if new_ops:
            created = Operator.objects.bulk_create([op for op, _ in new_ops])
            if any(op.pk is None for op in created):
                created = list(Operator.objects.filter(ref__in=[op.ref for op, _ in new_ops]))
            starts = {op.ref: start for op, start in new_ops}
            OperatorAssignment.objects.bulk_create(
                OperatorAssignment(operator=op, client_id=op.client_id, started_at=starts[op.ref])
                for op in created
            )


def _follow(
    operator: Operator, final: _Span, open_assignment: OperatorAssignment | None, name: str | None
) -> None:
    fields = []
    if name and name != operator.name:
        operator.name = name
        fields.append("name")
    if operator.client_id != final.client_id and (
        open_assignment is None or final.last > open_assignment.started_at
    ):
        start = final.first
        if open_assignment is not None:
            start = max(start, open_assignment.started_at)
            open_assignment.ended_at = start
            open_assignment.save(update_fields=["ended_at"])
        OperatorAssignment.objects.create(
            operator=operator, client_id=final.client_id, started_at=start
        )
        logger.info("operator %s moved to client %s from %s", operator.ref, final.client_id, start)
        operator.client_id = final.client_id
        fields.append("client")
    if fields:
        operator.save(update_fields=fields)


# --- The merge, chunk by chunk -----------------------------------------------------------------


def line_range() -> tuple[int, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(line), MAX(line) FROM {STAGE} WHERE err IS NULL")
        row = cursor.fetchone()
    if not row or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def merge_chunk(spec: FeedSpec, lo: int, hi: int) -> Counts:
    """Merge the valid staged rows with lo <= line < hi in one transaction, and count them.
    When the database refuses the chunk, nothing of it lands and its rows are marked so the
    report names them."""
    merge = {"accounts": _merge_accounts, "contacts": _merge_contacts, "payments": _merge_payments}[
        spec.name
    ]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            return merge(cursor, _t(), (lo, hi))
    except DatabaseError as exc:
        # Only a constraint the row checks do not know about gets here (or a concurrent
        # import of the same references). The chunk rolled back as a whole; say so per row.
        logger.exception("ingest: lines %s-%s of %s refused by the database", lo, hi - 1, spec.name)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {STAGE} SET err = 'batch', err_arg = %s "
                f"WHERE err IS NULL AND line >= %s AND line < %s",
                [str(exc).splitlines()[0][:200], lo, hi],
            )
        return Counts()


def _fill(model: Any, given: Sequence[str]) -> tuple[str, str, list[Any]]:
    """The columns an INSERT below does not name but whose field has a Django default (a
    default Django applies in Python, so the database would put NULL): their names, the
    placeholders and the values, so a field added to a model later does not break ingest."""
    names, params = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.column in given or not f.has_default():
            continue
        names.append(connection.ops.quote_name(f.column))
        params.append(f.get_db_prep_save(f.get_default(), connection))
    if not names:
        return "", "", []
    return ", " + ", ".join(names), ", %s" * len(names), params


def _counts(cursor: CursorWrapper, sql: str, params: Sequence[Any]) -> Counts:
    cursor.execute(sql, params)
    total, existing, changed = cursor.fetchone() or (0, 0, 0)
    total, existing, changed = int(total or 0), int(existing or 0), int(changed or 0)
    return Counts(created=total - existing, updated=changed, unchanged=existing - changed)


def prepare(spec: FeedSpec) -> None:
    """Per-file tables the merge joins to. Accounts: each debtor's details as the file's last
    valid row of that debtor gives them (rows of one debtor may disagree), indexed, so each
    chunk joins to it instead of recomputing a window per row."""
    if spec.name != "accounts":
        return
    drop_temp(DEBTORS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {DEBTORS} AS
            SELECT client_id, debtor_ref, phone, country, language FROM (
                SELECT client_id, debtor_ref, phone, country, language, ROW_NUMBER() OVER (
                    PARTITION BY client_id, debtor_ref ORDER BY line DESC) AS rn
                FROM {STAGE} WHERE err IS NULL) x
            WHERE rn = 1"""
        )
        cursor.execute(f"CREATE UNIQUE INDEX {DEBTORS}_ref ON {DEBTORS} (client_id, debtor_ref)")
        cursor.execute(f"ANALYZE {DEBTORS}")


def _merge_accounts(cursor: CursorWrapper, t: dict[str, str], rng: tuple[int, int]) -> Counts:
    counts = _counts(
        cursor,
        f"""SELECT COUNT(*), COUNT(a.id), SUM(CASE WHEN a.id IS NOT NULL AND (
            d.id IS NULL OR a.debtor_id <> d.id OR a.placed_on <> s.placed_on
            OR a.amount_placed <> s.amount OR a.currency <> s.currency
            OR d.phone_e164 <> w.phone OR d.country <> w.country OR d.language <> w.language)
          THEN 1 ELSE 0 END)
        FROM {t["stage"]} s
        JOIN {DEBTORS} w ON w.client_id = s.client_id AND w.debtor_ref = s.debtor_ref
        LEFT JOIN {t["debtor"]} d ON d.client_id = s.client_id AND d.ref = s.debtor_ref
        LEFT JOIN {t["account"]} a ON a.client_id = s.client_id AND a.ref = s.ref
        WHERE {_IN_CHUNK}""",
        rng,
    )
    if counts.created == 0 and counts.updated == 0:
        return counts
    d = t["debtor"]
    cols, marks, fill = _fill(Debtor, ("client_id", "ref", "phone_e164", "country", "language"))
    # The debtors of this chunk's rows, with the file's last word on their details.
    cursor.execute(
        f"""INSERT INTO {d} (client_id, ref, phone_e164, country, language{cols})
        SELECT DISTINCT w.client_id, w.debtor_ref, w.phone, w.country, w.language{marks}
        FROM {t["stage"]} s
        JOIN {DEBTORS} w ON w.client_id = s.client_id AND w.debtor_ref = s.debtor_ref
        WHERE {_IN_CHUNK}
        ON CONFLICT (client_id, ref) DO UPDATE SET phone_e164 = excluded.phone_e164,
            country = excluded.country, language = excluded.language
        WHERE {d}.phone_e164 <> excluded.phone_e164 OR {d}.country <> excluded.country
           OR {d}.language <> excluded.language""",
        [*fill, *rng],
    )
    a = t["account"]
    cols, marks, fill = _fill(
        Account, ("client_id", "ref", "debtor_id", "placed_on", "amount_placed", "currency")
    )
    cursor.execute(
        f"""INSERT INTO {a} (client_id, ref, debtor_id, placed_on, amount_placed, currency{cols})
        SELECT s.client_id, s.ref, d.id, s.placed_on, s.amount, s.currency{marks}
        FROM {t["stage"]} s JOIN {d} d ON d.client_id = s.client_id AND d.ref = s.debtor_ref
        WHERE {_IN_CHUNK}
        ON CONFLICT (client_id, ref) DO UPDATE SET debtor_id = excluded.debtor_id,
            placed_on = excluded.placed_on, amount_placed = excluded.amount_placed,
            currency = excluded.currency
        WHERE {a}.debtor_id <> excluded.debtor_id OR {a}.placed_on <> excluded.placed_on
           OR {a}.amount_placed <> excluded.amount_placed OR {a}.currency <> excluded.currency""",
        [*fill, *rng],
    )
    return counts


def _merge_contacts(cursor: CursorWrapper, t: dict[str, str], rng: tuple[int, int]) -> Counts:
    sync_operators(rng)
    captured = "COALESCE(s.ended_at, s.started_at)"
    joins = f"""FROM {t["stage"]} s
        JOIN {t["account"]} a ON a.client_id = s.client_id AND a.ref = s.account_ref
        JOIN {t["operator"]} o ON o.ref = s.operator_ref"""
    counts = _counts(
        cursor,
        f"""SELECT COUNT(*), COUNT(c.id), SUM(CASE WHEN c.id IS NOT NULL AND (
            c.account_id <> a.id OR c.operator_id <> o.id OR c.channel <> s.channel
            OR c.started_at <> s.started_at OR {ne("c.ended_at", "s.ended_at")}
            OR c.outcome <> s.outcome OR c.flags <> s.flags
            OR {ne("c.survey_consent", "s.survey_consent")}
            OR {ne("p.amount", "s.promise_amount")} OR {ne("p.due_on", "s.promise_due")}
            OR p.account_id <> a.id
            OR {ne("r.given", "s.survey_consent")} OR r.captured_at <> {captured}
            OR r.channel <> s.channel OR r.operator_id <> o.id OR r.debtor_id <> a.debtor_id)
          THEN 1 ELSE 0 END)
        {joins}
        LEFT JOIN {t["contact"]} c ON c.client_id = s.client_id AND c.ref = s.ref
        LEFT JOIN {t["promise"]} p ON p.contact_id = c.id
        LEFT JOIN {t["consent"]} r ON r.contact_id = c.id
        WHERE {_IN_CHUNK}""",
        rng,
    )
    if counts.created == 0 and counts.updated == 0:
        return counts
    c = t["contact"]
    now = (
        timezone.now()
        if is_postgres()
        else connection.ops.adapt_datetimefield_value(timezone.now())
    )
    cols, marks, fill = _fill(
        Contact,
        (
            "client_id",
            "ref",
            "account_id",
            "operator_id",
            "channel",
            "started_at",
            "ended_at",
            "outcome",
            "flags",
            "survey_consent",
            "right_party",
            "imported_at",
        ),
    )
    cursor.execute(
        f"""INSERT INTO {c} (client_id, ref, account_id, operator_id, channel, started_at,
            ended_at, outcome, flags, survey_consent, right_party, imported_at{cols})
        SELECT s.client_id, s.ref, a.id, o.id, s.channel, s.started_at, s.ended_at, s.outcome,
            s.flags, s.survey_consent, s.right_party, %s{marks}
        {joins}
        WHERE {_IN_CHUNK}
        ON CONFLICT (client_id, ref) DO UPDATE SET account_id = excluded.account_id,
            operator_id = excluded.operator_id, channel = excluded.channel,
            started_at = excluded.started_at, ended_at = excluded.ended_at,
            outcome = excluded.outcome, flags = excluded.flags,
            survey_consent = excluded.survey_consent, right_party = excluded.right_party
        WHERE {c}.account_id <> excluded.account_id OR {c}.operator_id <> excluded.operator_id
           OR {c}.channel <> excluded.channel OR {c}.started_at <> excluded.started_at
           OR {ne(f"{c}.ended_at", "excluded.ended_at")} OR {c}.outcome <> excluded.outcome
           OR {c}.flags <> excluded.flags
           OR {ne(f"{c}.survey_consent", "excluded.survey_consent")}""",
        [now, *fill, *rng],
    )
    stored = f"""FROM {t["stage"]} s
        JOIN {c} c ON c.client_id = s.client_id AND c.ref = s.ref"""
    p = t["promise"]
    cols, marks, fill = _fill(Promise, ("contact_id", "account_id", "amount", "due_on"))
    cursor.execute(
        f"""INSERT INTO {p} (contact_id, account_id, amount, due_on{cols})
        SELECT c.id, c.account_id, s.promise_amount, s.promise_due{marks} {stored}
        WHERE {_IN_CHUNK} AND s.promise_amount IS NOT NULL
        ON CONFLICT (contact_id) DO UPDATE SET account_id = excluded.account_id,
            amount = excluded.amount, due_on = excluded.due_on
        WHERE {p}.account_id <> excluded.account_id OR {p}.amount <> excluded.amount
           OR {p}.due_on <> excluded.due_on""",
        [*fill, *rng],
    )
    r = t["consent"]
    cols, marks, fill = _fill(
        ConsentRecord,
        (
            "debtor_id",
            "contact_id",
            "operator_id",
            "given",
            "captured_at",
            "channel",
            "wording_version",
        ),
    )
    cursor.execute(
        f"""INSERT INTO {r} (debtor_id, contact_id, operator_id, given, captured_at, channel,
            wording_version{cols})
        SELECT a.debtor_id, c.id, c.operator_id, s.survey_consent, {captured}, s.channel,
            %s{marks}
        {stored} JOIN {t["account"]} a ON a.id = c.account_id
        WHERE {_IN_CHUNK} AND s.survey_consent IS NOT NULL
        ON CONFLICT (contact_id) DO UPDATE SET debtor_id = excluded.debtor_id,
            operator_id = excluded.operator_id, given = excluded.given,
            captured_at = excluded.captured_at, channel = excluded.channel
        WHERE {r}.debtor_id <> excluded.debtor_id OR {r}.operator_id <> excluded.operator_id
           OR {r}.given <> excluded.given OR {r}.captured_at <> excluded.captured_at
           OR {r}.channel <> excluded.channel""",
        [consent_wording_version(), *fill, *rng],
    )
    if counts.updated:
        # A stored contact whose row no longer carries a promise or a consent answer loses
        # them: the collection system corrected the contact, and the feed is its mirror.
        for target, column in ((p, "promise_amount"), (r, "survey_consent")):
            cursor.execute(
                f"""DELETE FROM {target} WHERE contact_id IN (
                    SELECT c.id {stored} WHERE {_IN_CHUNK} AND s.{column} IS NULL)""",
                rng,
            )
    return counts


def _merge_payments(cursor: CursorWrapper, t: dict[str, str], rng: tuple[int, int]) -> Counts:
    joins = f"""FROM {t["stage"]} s
        JOIN {t["account"]} a ON a.client_id = s.client_id AND a.ref = s.account_ref
        LEFT JOIN {t["payment"]} rv ON rv.client_id = s.client_id AND rv.ref = s.reversal_of"""
    counts = _counts(
        cursor,
        f"""SELECT COUNT(*), COUNT(p.id), SUM(CASE WHEN p.id IS NOT NULL AND (
            p.account_id <> a.id OR p.paid_at <> s.paid_at OR p.amount <> s.amount
            OR p.currency <> s.currency OR {ne("p.reversal_of_id", "rv.id")})
          THEN 1 ELSE 0 END)
        {joins}
        LEFT JOIN {t["payment"]} p ON p.client_id = s.client_id AND p.ref = s.ref
        WHERE {_IN_CHUNK}""",
        rng,
    )
    if counts.created == 0 and counts.updated == 0:
        return counts
    p = t["payment"]
    # Reversals of payments stored before this chunk get their link here; reversals of
    # payments earlier in this same chunk get it just below, once those exist.
    cols, marks, fill = _fill(
        Payment,
        ("client_id", "ref", "account_id", "paid_at", "amount", "currency", "reversal_of_id"),
    )
    cursor.execute(
        f"""INSERT INTO {p} (client_id, ref, account_id, paid_at, amount, currency,
            reversal_of_id{cols})
        SELECT s.client_id, s.ref, a.id, s.paid_at, s.amount, s.currency, rv.id{marks}
        {joins}
        WHERE {_IN_CHUNK}
        ON CONFLICT (client_id, ref) DO UPDATE SET account_id = excluded.account_id,
            paid_at = excluded.paid_at, amount = excluded.amount, currency = excluded.currency,
            reversal_of_id = excluded.reversal_of_id
        WHERE {p}.account_id <> excluded.account_id OR {p}.paid_at <> excluded.paid_at
           OR {p}.amount <> excluded.amount OR {p}.currency <> excluded.currency
           OR {ne(f"{p}.reversal_of_id", "excluded.reversal_of_id")}""",
        [*fill, *rng],
    )
    cursor.execute(
        f"""UPDATE {p} SET reversal_of_id = rv.id
        FROM {t["stage"]} s, {p} rv
        WHERE {_IN_CHUNK} AND s.reversal_of IS NOT NULL
          AND {p}.client_id = s.client_id AND {p}.ref = s.ref
          AND rv.client_id = s.client_id AND rv.ref = s.reversal_of
          AND {ne(f"{p}.reversal_of_id", "rv.id")}""",
        rng,
    )
    return counts
