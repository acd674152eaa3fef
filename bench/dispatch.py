"""Benchmark of the dispatcher's claim against a bare SKIP LOCKED loop in plain psycopg.

    .venv/bin/python bench/dispatch.py [--invitations 200000] [--database-url postgres://postgres@127.0.0.1:5432/test]

It creates its own database (`bench_dispatch`, dropped first; --database-name picks another)
on the server the URL names, migrates it, and generates --invitations due SMS invitations in
SQL (with the clients, operators, debtors, accounts and contacts they refer to), each to its
own Italian mobile. Then, in the same run, it measures invitations claimed per second by:

  (a) the dispatcher's claim step, `invitations_dispatch(enqueue=False)`: batches of 500
      (`invitations_dispatch_batch`) until nothing is due, each one transaction with the SKIP
      LOCKED claim, the opt-out, expiry and window re-checks, and one message row written per
      invitation (only the queueing of the send tasks is left out);
  (b) after the rows are reset, a bare loop of the same statement in plain psycopg,
      `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 500) RETURNING id`,
      each batch its own transaction, and nothing else.

It prints both rates, the ratio (target >= 0.5) and the dispatcher's rate (target >= 2,000/s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import recreate_database  # noqa: E402

BENCH_DB = "bench_dispatch"
BATCH = 500
RATIO_TARGET = 0.5
RATE_TARGET = 2_000
# Wednesday 18 November 2026, 11:00 in Rome: inside the Italian window, so every claimed
# invitation passes the re-checks and gets its message.
NOW = dt.datetime(2026, 11, 18, 11, 0, tzinfo=ZoneInfo("Europe/Rome"))

# Clients, operators, debtors, accounts, contacts and invitations in set-based SQL: a few
# seconds for 200,000, where the ORM would take minutes. %(n)s invitations, due over the hour
# before NOW, in send_after order the claim walks.
GENERATE = """
INSERT INTO collections_link_client (ref, name, country, default_language, time_zone, created_at)
VALUES ('acme-energia', 'Acme Energia', 'IT', 'it', 'Europe/Rome', now()),
       ('luz-norte', 'Luz Norte', 'IT', 'it', 'Europe/Rome', now());

INSERT INTO collections_link_operator (ref, name, client_id, created_at)
SELECT 'op-' || g, 'Operator ' || g, c.id, now()
FROM generate_series(0, 99) g
JOIN collections_link_client c
  ON c.ref = CASE WHEN g %% 2 = 0 THEN 'acme-energia' ELSE 'luz-norte' END;

INSERT INTO collections_link_debtor (ref, phone_e164, country, region, language, client_id)
SELECT 'D-' || g, '+39' || (3300000000 + g)::text, 'IT', '', 'it',
       (SELECT id FROM collections_link_client
        WHERE ref = CASE WHEN g %% 2 = 0 THEN 'acme-energia' ELSE 'luz-norte' END)
FROM generate_series(0, %(n)s - 1) g;

INSERT INTO collections_link_account (ref, placed_on, amount_placed, currency, client_id, debtor_id)
SELECT 'A-' || d.ref, DATE '2026-10-01', 100.00, 'EUR', d.client_id, d.id
FROM collections_link_debtor d;

INSERT INTO collections_link_contact (ref, channel, started_at, ended_at, outcome, flags,
    survey_consent, right_party, imported_at, account_id, client_id, operator_id)
SELECT 'K-' || a.id, 'phone', %(started)s, %(started)s + interval '5 minutes',
       'promise_to_pay', '', true, true, now(), a.id, a.client_id,
       (SELECT id FROM collections_link_operator WHERE ref = 'op-' || ((a.id %% 50) * 2
            + CASE WHEN c.ref = 'acme-energia' THEN 0 ELSE 1 END))
FROM collections_link_account a JOIN collections_link_client c ON c.id = a.client_id;

INSERT INTO surveys_invitation (phone_e164, language, time_zones, status, suppression_reason,
    channel, token, send_after, expires_at, fallback_at, created_at, updated_at,
    client_id, contact_id, debtor_id, operator_id, survey_version_id)
SELECT d.phone_e164, 'it', 'Europe/Rome', 'scheduled', '', 'sms',
       md5(k.id::text || %(salt)s),
       %(now)s - interval '1 hour' + (k.id %% 3600) * interval '1 second',
       %(now)s + interval '7 days', %(now)s + interval '2 days', %(started)s, now(),
       k.client_id, k.id, d.id, k.operator_id,
       (SELECT max(id) FROM surveys_surveyversion)
FROM collections_link_contact k
JOIN collections_link_account a ON a.id = k.account_id
JOIN collections_link_debtor d ON d.id = a.debtor_id;
"""

RESET = """
DELETE FROM surveys_smsmessage;
UPDATE surveys_invitation SET status = 'scheduled', claimed_at = NULL;
"""

BARE_CLAIM = """
UPDATE surveys_invitation SET status = %s, claimed_at = %s
WHERE id IN (
    SELECT id FROM surveys_invitation
    WHERE status = %s AND send_after <= %s
    ORDER BY send_after
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def django_env(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SMS_BACKEND": "outbox",
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
        "ENV_FILE": "/nonexistent",
    }


def generate(url: str, n: int) -> float:
    import psycopg

    started = time.perf_counter()
    params = {
        "n": n,
        "now": NOW,
        "started": NOW - dt.timedelta(hours=3),
        "salt": secrets.token_hex(8),
    }
    with psycopg.connect(url) as conn:
        for statement in GENERATE.split(";\n\n"):
            conn.execute(statement, params)
    vacuum(url)
    return time.perf_counter() - started


def vacuum(url: str) -> None:
    """Both timed phases start alike: dead rows vacuumed, statistics fresh, and a checkpoint
    just taken (so each pays the same full-page writes on first touching a page)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def time_dispatcher() -> tuple[float, int, int]:
    """The dispatcher's claim step until nothing is due: (seconds, claimed, messages). The
    same loop `dispatch_due` and the beat task run, with the queueing left out."""
    from surveys.dispatch import invitations_dispatch

    started = time.perf_counter()
    summary = invitations_dispatch(now=NOW, batch_size=BATCH, enqueue=False)
    return time.perf_counter() - started, summary.claimed, summary.queued


def time_bare_loop(url: str) -> tuple[float, int]:
    """The same SKIP LOCKED claim in plain psycopg, one transaction per batch."""
    import psycopg

    claimed = 0
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        while True:
            with conn.transaction():
                rows = conn.execute(
                    BARE_CLAIM, ["sending", NOW, "scheduled", NOW, BATCH]
                ).fetchall()
            if not rows:
                break
            claimed += len(rows)
        return time.perf_counter() - started, claimed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invitations", type=int, default=200_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--database-name", default=BENCH_DB, help="the database to (re)create for the run"
    )
    args = parser.parse_args()
    n = args.invitations

    url = recreate_database(args.database_url, args.database_name)
    print(
        f"database: {args.database_name} on {urlsplit(url).hostname}:{urlsplit(url).port or 5432}"
    )
    env = django_env(url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        env={**os.environ, **env},
        cwd=ROOT,
        check=True,
    )
    seconds = generate(url, n)
    print(f"generated {n:,} due invitations (and their contacts) in {seconds:.1f}s")

    os.environ.update(env)
    import django

    django.setup()

    seconds, claimed, queued = time_dispatcher()
    if claimed != n or queued != n:
        raise SystemExit(f"the dispatcher claimed {claimed:,} and wrote {queued:,}, not {n:,}")
    dispatcher_rate = n / seconds
    print(
        f"dispatcher (claim, re-checks, messages): {seconds:6.1f}s  "
        f"{dispatcher_rate:>8,.0f} invitations/s"
    )

    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(RESET)
    vacuum(url)
    seconds, claimed = time_bare_loop(url)
    if claimed != n:
        raise SystemExit(f"the bare loop claimed {claimed:,}, not {n:,}")
    bare_rate = n / seconds
    print(
        f"bare SKIP LOCKED loop (psycopg):        {seconds:6.1f}s  {bare_rate:>8,.0f} invitations/s"
    )

    ratio = dispatcher_rate / bare_rate
    print(
        f"ratio dispatcher / bare loop: {ratio:.3f}  target >= {RATIO_TARGET}: "
        f"{'PASS' if ratio >= RATIO_TARGET else 'FAIL'}"
    )
    print(
        f"dispatcher rate: {dispatcher_rate:,.0f}/s  target >= {RATE_TARGET:,}/s: "
        f"{'PASS' if dispatcher_rate >= RATE_TARGET else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
