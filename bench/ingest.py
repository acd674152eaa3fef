"""Benchmark of the contacts ingest against PostgreSQL's own bulk load.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--database-url postgres://postgres@127.0.0.1:5432/test]

It creates its own database (`bench_ingest`, dropped first and at the end unless --keep) on
the server the URL names, migrates it, generates a contacts file of --rows rows and the
accounts it refers to, then measures in the same run:

  (a) `psql \\copy` of the contacts file into a bare table with the same columns, typed as the
      contract types them (text, timestamptz, numeric, date), with no index and no constraint;
  (b) `import_csv(feed="contacts")` of the same file, after importing the accounts, in a child
      process so that its peak memory (ru_maxrss) is the import's alone;
  (c) the floor: one plain INSERT ... SELECT of the \\copy'd rows into a copy of the contacts
      table with the same indexes, constraints and foreign keys (no checks, no promises, no
      consent records): what any import into this schema costs at least.

It prints rows per second for each, the ratio (target >= 0.25) and the peak memory of the
import process (target < 300 MB).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import recreate_database  # noqa: E402

BENCH_DB = "bench_ingest"
RATIO_TARGET = 0.25
MEMORY_TARGET_MB = 300

OUTCOMES = [
    "promise_to_pay",
    "paid",
    "partial_payment",
    "payment_plan",
    "dispute",
    "refusal",
    "callback_requested",
    "hardship",
    "third_party",
    "wrong_party",
    "no_answer",
    "busy",
    "voicemail",
]
RIGHT_PARTY = set(OUTCOMES[:8])
ACCOUNT_COLUMNS = [
    "client_ref",
    "account_ref",
    "debtor_ref",
    "debtor_phone",
    "debtor_country",
    "debtor_language",
    "placed_at",
    "amount_placed",
    "currency",
]
CONTACT_COLUMNS = [
    "client_ref",
    "contact_ref",
    "account_ref",
    "operator_ref",
    "operator_name",
    "channel",
    "started_at",
    "ended_at",
    "outcome",
    "flags",
    "promise_amount",
    "promise_due",
    "survey_consent",
]
BARE_TABLE = """CREATE TABLE bare_contacts (
    client_ref text, contact_ref text, account_ref text, operator_ref text,
    operator_name text, channel text, started_at timestamptz, ended_at timestamptz,
    outcome text, flags text, promise_amount numeric(14, 2), promise_due date,
    survey_consent text)"""


def generate(directory: Path, rows: int, seed: int = 7) -> tuple[Path, Path, int]:
    """A contacts file of `rows` rows over rows/5 accounts of two clients (Italian and
    Spanish debtors), 500 operators, the outcome mix uniform, promises on promise outcomes
    and a consent answer on most right-party contacts."""
    rnd = random.Random(seed)
    n_accounts = max(1, rows // 5)
    accounts = directory / "accounts.csv"
    contacts = directory / "contacts.csv"
    with accounts.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(ACCOUNT_COLUMNS)
        for i in range(n_accounts):
            if i % 2 == 0:
                row = [
                    "acme-energia",
                    f"A-{i}",
                    f"D-{i // 2}",
                    f"+39 333 {i % 10_000_000:07d}",
                    "IT",
                    "it",
                ]
            else:
                row = [
                    "luz-norte",
                    f"A-{i}",
                    f"D-{i // 2}",
                    f"+34 612 {i % 1_000_000:06d}",
                    "ES",
                    "es",
                ]
            out.writerow([*row, "2026-10-01", f"{rnd.randint(1_000, 900_000) / 100:.2f}", "EUR"])
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with contacts.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(CONTACT_COLUMNS)
        for i in range(rows):
            account = rnd.randrange(n_accounts)
            client = "acme-energia" if account % 2 == 0 else "luz-norte"
            operator = rnd.randrange(250) * 2 + account % 2
            started = start + dt.timedelta(seconds=i * 2)
            ended = started + dt.timedelta(seconds=rnd.randint(30, 900))
            outcome = rnd.choice(OUTCOMES)
            amount = due = ""
            if outcome in {"promise_to_pay", "payment_plan"}:
                amount, due = f"{rnd.randint(1_000, 50_000) / 100:.2f}", "2026-12-15"
            consent = rnd.choice(["yes", "yes", "no", ""]) if outcome in RIGHT_PARTY else ""
            out.writerow(
                [
                    client,
                    f"K-{i}",
                    f"A-{account}",
                    f"op-{operator}",
                    f"Operator {operator}",
                    "phone" if rnd.random() < 0.9 else "home_visit",
                    started.isoformat(),
                    ended.isoformat(),
                    outcome,
                    "vulnerable" if rnd.random() < 0.02 else "",
                    amount,
                    due,
                    consent,
                ]
            )
    return accounts, contacts, n_accounts


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def child_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        CI="true",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def run_child(url: str, feed: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", feed, str(path)],
        env=child_env(url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the {feed} import failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child(feed: str, path: str) -> None:
    """Runs in the child process: one import, then its time and peak memory as JSON."""
    import django

    django.setup()
    from collections_link.ingest import import_csv

    started = time.perf_counter()
    result = import_csv(feed=feed, path=path, create_clients=True, progress=False)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rows_read": result.rows_read,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "rejected": result.rejected,
                "phases": result.seconds,
            }
        )
    )


def psql_copy(url: str, path: Path) -> float:
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", BARE_TABLE], check=True)
    started = time.perf_counter()
    subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            f"\\copy bare_contacts FROM '{path}' WITH (FORMAT csv, HEADER true)",
        ],
        check=True,
    )
    return time.perf_counter() - started


FLOOR_SQL = """
INSERT INTO floor_contact (client_id, ref, account_id, operator_id, channel, started_at,
    ended_at, outcome, flags, survey_consent, right_party, imported_at)
SELECT c.id, b.contact_ref, a.id, o.id, b.channel, b.started_at, b.ended_at, b.outcome,
    COALESCE(b.flags, ''), CASE b.survey_consent WHEN 'yes' THEN true WHEN 'no' THEN false END,
    b.outcome IN ('promise_to_pay', 'paid', 'partial_payment', 'payment_plan', 'dispute',
                  'refusal', 'callback_requested', 'hardship'),
    now()
FROM bare_contacts b
JOIN collections_link_client c ON c.ref = b.client_ref
JOIN collections_link_account a ON a.client_id = c.id AND a.ref = b.account_ref
JOIN collections_link_operator o ON o.ref = b.operator_ref"""


def floor_insert(url: str) -> float:
    """The least any import into the product's schema can cost: one INSERT ... SELECT of the
    \\copy'd rows into a copy of the contacts table with the same indexes, constraints and
    foreign keys, with no checks, no staging and no promises or consent records."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE floor_contact (LIKE collections_link_contact INCLUDING ALL)")
        for column, parent in (
            ("account_id", "account"),
            ("client_id", "client"),
            ("operator_id", "operator"),
        ):
            conn.execute(
                f"ALTER TABLE floor_contact ADD FOREIGN KEY ({column}) "
                f"REFERENCES collections_link_{parent} (id) DEFERRABLE INITIALLY DEFERRED"
            )
        conn.execute("ANALYZE bare_contacts")
        conn.commit()
        started = time.perf_counter()
        conn.execute(FLOOR_SQL)
        conn.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--reimport",
        action="store_true",
        help="also time a second import of the same file (nothing changes)",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip timing the plain INSERT ... SELECT into the real schema",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"keep the {BENCH_DB} database afterwards (dropped by default)",
    )
    parser.add_argument("--child", nargs=2, metavar=("FEED", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    url = recreate_database(args.database_url, BENCH_DB)
    print(f"database: {BENCH_DB} on {urlsplit(url).hostname}:{urlsplit(url).port or 5432}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        env=child_env(url),
        cwd=ROOT,
        check=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        started = time.perf_counter()
        accounts, contacts, n_accounts = generate(Path(tmp), args.rows)
        size_mb = contacts.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} contacts ({size_mb:,.0f} MB) and {n_accounts:,} "
            f"accounts in {time.perf_counter() - started:.1f}s"
        )

        copy_seconds = psql_copy(url, contacts)
        copy_rate = args.rows / copy_seconds
        print(f"psql \\copy into a bare table: {copy_seconds:6.1f}s  {copy_rate:>10,.0f} rows/s")

        acc = run_child(url, "accounts", accounts)
        print(
            f"import accounts:              {acc['seconds']:6.1f}s  "
            f"{n_accounts / float(acc['seconds']):>10,.0f} rows/s  (setup, not compared)"
        )

        imp = run_child(url, "contacts", contacts)
        if imp["rejected"] or imp["created"] != args.rows:
            raise SystemExit(f"the contacts import did not land every row: {imp}")
        seconds = float(imp["seconds"])
        rate = args.rows / seconds
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in imp["phases"].items())
        print(f"import contacts (validated):  {seconds:6.1f}s  {rate:>10,.0f} rows/s  ({phases})")
        if not args.no_floor:
            floor = floor_insert(url)
            print(
                f"floor, plain INSERT into a copy of the contacts table: {floor:6.1f}s  "
                f"{args.rows / floor:>10,.0f} rows/s  (ratio to \\copy "
                f"{copy_seconds / floor:.3f}; no checks, no promises or consents)"
            )
        if args.reimport:
            again = run_child(url, "contacts", contacts)
            print(
                f"re-import contacts (no change): {float(again['seconds']):6.1f}s  "
                f"{args.rows / float(again['seconds']):>10,.0f} rows/s  "
                f"(unchanged {again['unchanged']:,})"
            )

    if not args.keep:
        drop_database(args.database_url)
    ratio = rate / copy_rate
    peak = float(imp["maxrss_mb"])
    print(
        f"ratio import / \\copy: {ratio:.3f}  target >= {RATIO_TARGET}: "
        f"{'PASS' if ratio >= RATIO_TARGET else 'FAIL'}"
    )
    print(
        f"peak memory of the import: {peak:.0f} MB  target < {MEMORY_TARGET_MB} MB: "
        f"{'PASS' if peak < MEMORY_TARGET_MB else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
