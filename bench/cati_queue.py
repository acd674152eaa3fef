"""Benchmark of the CATI queue's next-case claim against the bare claim query.

    .venv/bin/python bench/cati_queue.py [--cases 100000] [--callers 20] [--seconds 15]
        [--database-url postgres://postgres@127.0.0.1:5432/test]

It creates its own database (`bench_cati`, dropped first, and at the end unless --keep) on the
server the URL names, migrates it, and generates in SQL one client, 50 operators, 20 caller
logins (two of them also operators, so the claim that leaves out a caller's own contacts runs
too) and --cases queued
CATI cases, all due (the worst case: the whole queue is callable), 1 % of them with a call-back
(half due, half later). The client's window is open round the clock so that the run measures
the queue, whatever the hour. The due call-backs branch of the claim needs the partial index
`cati_callback_idx` (callback_at where queued); when the migrations lack it the run says so and
creates it (--no-callback-index to measure without).

Then, in the same run and from the same starting data, --callers threads, each with its own
database connection, loop for --seconds:

  (a) bare: the claim statement (`PG_CLAIM_SQL`, the very SQL the product runs) through plain
      psycopg, then a plain UPDATE that puts the case back 3 hours later;
  (b) product: `cati_case_claim()` (the claim statement, run prepared, then the checks after
      it: window, opt-out, expiry, attempt limits, the US ledger when on), then
      `cati_record_disposition(code="no_answer")`, which records the attempt and puts the case
      back 3 hours later, as a caller's "no answer" does. With --also-plain-release, a third
      run releases the product's claims with the bare loop's plain UPDATE instead.

It prints the next-case latency (p50, p95) of both, their next-case rates (callers / mean
latency: how many next-case requests the claim step serves per second) and the loop
throughput, the ratio of the rates (target >= 0.5) and whether the product's p95 is under
50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import recreate_database  # noqa: E402

BENCH_DB = "bench_cati"
P95_TARGET_MS = 50.0
RATIO_TARGET = 0.5
WARMUP_LOOPS = 5
ALWAYS_OPEN = {
    "weekdays": {
        d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    "pre_holiday": None,
    "holiday": [["00:00", "24:00"]],
    "holidays_country": None,
    "holidays_subdivision": None,
}

GENERATE = """
INSERT INTO collections_link_client (ref, name, country, default_language, time_zone, created_at)
VALUES ('bench', 'Bench Energia', 'IT', 'it', 'Europe/Rome', now());

INSERT INTO surveys_policy (channels, delay_after_contact, fallback_delay, eligible_outcomes,
    consent_required_countries, cap_days, sampling_rate, min_per_operator_month, reminder_after,
    link_lifetime, window_country, window_profile, cati_max_attempts, cati_max_days, cati_min_gap,
    us_call_ledger, updated_at, client_id)
SELECT '["cati"]', interval '2 hours', interval '48 hours', '["promise_to_pay"]', '[]', 30, 100,
    30, NULL, interval '7 days', 'IT', %(profile)s::jsonb, 4, 10, interval '3 hours', false,
    now(), id
FROM collections_link_client WHERE ref = 'bench';

INSERT INTO collections_link_operator (ref, name, created_at, client_id)
SELECT 'op-' || g, 'Operator ' || g, now(), c.id
FROM generate_series(1, 50) AS g, collections_link_client AS c WHERE c.ref = 'bench';

INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
    is_active, date_joined)
SELECT '!', false, 'caller' || g, '', '', '', false, true, now()
FROM generate_series(1, %(callers)s) AS g;

INSERT INTO collections_link_membership (role, user_id) SELECT 'caller', id FROM auth_user;

-- Two callers also collect: the claim leaves their own contacts out.
UPDATE collections_link_operator o SET user_id = u.id
FROM auth_user u WHERE (o.ref, u.username) IN (('op-1', 'caller1'), ('op-2', 'caller2'));

INSERT INTO collections_link_debtor (ref, phone_e164, country, region, language, client_id)
SELECT 'D-' || g, '+39333' || lpad(g::text, 7, '0'), 'IT', '', 'it', c.id
FROM generate_series(1, %(cases)s) AS g, collections_link_client AS c WHERE c.ref = 'bench';

INSERT INTO collections_link_account (ref, placed_on, amount_placed, currency, client_id,
    debtor_id)
SELECT 'A-' || d.id, date '2026-10-01', 100 + d.id %% 900, 'EUR', d.client_id, d.id
FROM collections_link_debtor d;

INSERT INTO collections_link_contact (ref, channel, started_at, ended_at, outcome, flags,
    survey_consent, right_party, imported_at, account_id, client_id, operator_id)
SELECT 'K-' || a.id, 'phone', now() - interval '3 days', now() - interval '3 days',
    'promise_to_pay', '', true, true, now(), a.id, a.client_id,
    (SELECT min(id) FROM collections_link_operator) + a.id %% 50
FROM collections_link_account a;

INSERT INTO surveys_invitation (phone_e164, language, time_zones, status, suppression_reason,
    channel, token, send_after, expires_at, created_at, updated_at, client_id, contact_id,
    debtor_id, operator_id, survey_version_id)
SELECT d.phone_e164, 'it', 'Europe/Rome', 'cati', '', 'cati', md5(k.id::text || random()::text),
    now() - interval '2 days', now() + interval '30 days', now(), now(), k.client_id, k.id, d.id,
    k.operator_id, (SELECT max(id) FROM surveys_surveyversion)
FROM collections_link_contact k
JOIN collections_link_account a ON a.id = k.account_id
JOIN collections_link_debtor d ON d.id = a.debtor_id;

INSERT INTO surveys_caticase (status, due_at, callback_at, callback_note, attempts, created_at,
    client_id, invitation_id)
SELECT 'queued', due, CASE WHEN i.id %% 100 IN (0, 1) THEN due END, '', 0, now(), i.client_id,
    i.id
FROM (
    SELECT i.*, CASE
        WHEN i.id %% 100 = 1 THEN now() + (random() * interval '5 hours')  -- a later call-back
        ELSE now() - (random() * interval '2 days')
    END AS due
    FROM surveys_invitation i
) AS i;

CREATE TABLE bench_start AS SELECT id, due_at, callback_at FROM surveys_caticase;
"""

RESET = """
DELETE FROM surveys_callattempt;
UPDATE surveys_caticase c SET status = 'queued', held_by_id = NULL, lease_expires_at = NULL,
    due_at = s.due_at, callback_at = s.callback_at, attempts = 0, first_attempt_at = NULL,
    last_attempt_at = NULL, final_disposition_id = NULL, closed_at = NULL
FROM bench_start s WHERE s.id = c.id;
UPDATE surveys_invitation SET status = 'cati', expires_at = now() + interval '30 days';
"""

BARE_REQUEUE = """
UPDATE surveys_caticase SET status = 'queued', held_by_id = NULL, lease_expires_at = NULL,
    due_at = %(due)s, attempts = attempts + 1
WHERE id = %(id)s
"""


def django_env(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CI": "true",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "600",
    }


def generate(url: str, *, cases: int, callers: int) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            for statement in GENERATE.split(";\n"):
                if statement.strip():
                    conn.execute(
                        statement,
                        {"profile": json.dumps(ALWAYS_OPEN), "callers": callers, "cases": cases},
                    )
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


CALLBACK_INDEX = "cati_callback_idx"


def ensure_callback_index(url: str, *, create: bool) -> str:
    """The due call-backs branch of the claim needs a partial index on callback_at; without it
    each claim scans every queued case. Says whether the migrations made it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [CALLBACK_INDEX])
        if row.fetchone():
            return "present (from the migrations)"
        if not create:
            return "MISSING: each claim scans the queue for due call-backs"
        conn.execute(
            f"CREATE INDEX {CALLBACK_INDEX} ON surveys_caticase (callback_at) "
            "WHERE status = 'queued' AND callback_at IS NOT NULL"
        )
        conn.execute("ANALYZE surveys_caticase")
        return "MISSING from the migrations: created by this run (see CatiCase.Meta.indexes)"


def reset(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            for statement in RESET.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute("VACUUM ANALYZE")


@dataclass
class Run:
    name: str
    seconds: float
    callers: int
    latencies: list[float] = field(default_factory=list)
    empty: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def claims(self) -> int:
        return len(self.latencies)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
        return ordered[index] * 1000

    @property
    def next_case_rate(self) -> float:
        """Next-case requests the claim step serves per second: callers / mean latency."""
        return self.callers / statistics.fmean(self.latencies) if self.latencies else 0.0

    @property
    def loop_rate(self) -> float:
        return self.claims / self.seconds


def run_threads(run: Run, worker: Any, args: list[Any]) -> Run:
    stop: list[float] = []
    # The action runs once every worker has warmed up, before any is released: the clock starts
    # for all of them at the same moment.
    start = threading.Barrier(
        len(args), action=lambda: stop.append(time.perf_counter() + run.seconds)
    )
    lock = threading.Lock()

    def body(arg: Any) -> None:
        try:
            worker(arg, start, stop, run, lock)
        except threading.BrokenBarrierError:
            pass  # another worker failed; its error is reported
        except Exception as exc:  # reported after the run
            with lock:
                run.errors.append(f"{type(exc).__name__}: {exc}")
            start.abort()

    threads = [threading.Thread(target=body, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


def bare_worker(arg: Any, start: threading.Barrier, stop: list[float], run: Run, lock: Any) -> None:
    import psycopg

    from surveys.channels.cati import (
        LEASE,
        PG_CLAIM_SQL,
    )

    url, caller_id = arg
    mine: list[float] = []
    empty = 0
    with psycopg.connect(url, autocommit=True) as conn:

        def once() -> float:
            nonlocal empty
            now = dt.datetime.now(dt.UTC)
            params = {"caller": caller_id, "lease": now + LEASE, "now": now}
            t0 = time.perf_counter()
            row = conn.execute(PG_CLAIM_SQL, params).fetchone()
            elapsed = time.perf_counter() - t0
            if row is None:
                empty += 1
            else:
                conn.execute(BARE_REQUEUE, {"id": row[0], "due": now + dt.timedelta(hours=3)})
            return elapsed

        for _ in range(WARMUP_LOOPS):
            once()
        start.wait()
        while time.perf_counter() < stop[0]:
            mine.append(once())
    with lock:
        run.latencies.extend(mine)
        run.empty += empty


def product_worker(
    arg: Any, start: threading.Barrier, stop: list[float], run: Run, lock: Any
) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from surveys.channels.cati import (
        cati_case_claim,
    )
    from surveys.channels.cati_record import (
        cati_record_disposition,
    )

    caller_id, plain_release = arg
    user = get_user_model().objects.get(pk=caller_id)
    mine: list[float] = []
    empty = 0

    def once() -> float:
        nonlocal empty
        t0 = time.perf_counter()
        case = cati_case_claim(caller=user)
        elapsed = time.perf_counter() - t0
        if case is None:
            empty += 1
        elif plain_release:
            with connection.cursor() as cursor:
                due = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
                cursor.execute(BARE_REQUEUE, {"id": case.pk, "due": due})
        else:
            cati_record_disposition(case_id=case.pk, caller=user, code="no_answer")
        return elapsed

    try:
        for _ in range(WARMUP_LOOPS):
            once()
        start.wait()
        while time.perf_counter() < stop[0]:
            mine.append(once())
    finally:
        connection.close()
    with lock:
        run.latencies.extend(mine)
        run.empty += empty


def report(run: Run) -> None:
    print(
        f"{run.name:<8} {run.claims:>7,} claims in {run.seconds:.0f}s   "
        f"p50 {run.percentile_ms(0.50):6.2f} ms   p95 {run.percentile_ms(0.95):6.2f} ms   "
        f"next-case rate {run.next_case_rate:8,.0f}/s   loop {run.loop_rate:7,.0f}/s"
        + (f"   (empty {run.empty})" if run.empty else "")
    )
    for error in run.errors[:5]:
        print(f"  error: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--keep", action="store_true", help=f"keep the {BENCH_DB} database at the end"
    )
    parser.add_argument(
        "--also-plain-release",
        action="store_true",
        help="also run the product claim with the bare loop's plain release",
    )
    parser.add_argument(
        "--no-callback-index",
        action="store_true",
        help="do not create the call-back index when the migrations lack it",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()

    url = recreate_database(args.database_url, BENCH_DB)
    print(f"database: {BENCH_DB} on {urlsplit(url).hostname}:{urlsplit(url).port or 5432}")
    env = django_env(url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=True,
    )
    seconds = generate(url, cases=args.cases, callers=args.callers)
    print(f"generated {args.cases:,} queued cases and {args.callers} callers in {seconds:.1f}s")
    print(
        f"index {CALLBACK_INDEX}: {ensure_callback_index(url, create=not args.no_callback_index)}"
    )

    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    callers = list(
        get_user_model().objects.filter(username__startswith="caller").values_list("pk", flat=True)
    )

    reset(url)
    bare = run_threads(
        Run("bare", args.seconds, len(callers)),
        bare_worker,
        [(url, pk) for pk in callers],
    )
    report(bare)

    reset(url)
    product = run_threads(
        Run("product", args.seconds, len(callers)),
        product_worker,
        [(pk, False) for pk in callers],
    )
    report(product)
    if args.also_plain_release:
        # The same product claim, released by the bare loop's plain UPDATE: the claim against
        # the claim, without the disposition's Python work sharing the interpreter.
        reset(url)
        plain = run_threads(
            Run("product*", args.seconds, len(callers)),
            product_worker,
            [(pk, True) for pk in callers],
        )
        report(plain)
        print("  (product* = cati_case_claim() with the bare loop's plain UPDATE as release)")

    ratio = product.next_case_rate / bare.next_case_rate if bare.next_case_rate else 0.0
    p95 = product.percentile_ms(0.95)
    ok_p95 = p95 < P95_TARGET_MS
    ok_ratio = ratio >= RATIO_TARGET
    print(
        f"product p95 {p95:.2f} ms  target < {P95_TARGET_MS:.0f} ms: {'PASS' if ok_p95 else 'FAIL'}"
    )
    print(
        f"ratio product / bare next-case rate: {ratio:.3f}  target >= {RATIO_TARGET}: "
        f"{'PASS' if ok_ratio else 'FAIL'}"
    )
    if not args.keep:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    if bare.errors or product.errors:
        raise SystemExit("errors during the run")


if __name__ == "__main__":
    main()
