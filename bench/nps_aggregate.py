"""Benchmark of the NPS aggregation against pandas, on 5,000,000 responses in PostgreSQL.

    .venv/bin/python bench/nps_aggregate.py [--rows 5000000] [--database-url postgres://postgres@127.0.0.1:5432/test]

It creates its own database (`bench_nps`, dropped first) on the server the URL names,
migrates it, and generates in SQL (generate_series) 10 clients, 200 operators, 100,000
debtors and accounts, and --rows contacts, invitations and scored responses over the two
years to 28 November 2026
(channel, contact type, outcome and score drawn per row; the score depends on the operator).
Then, in the same run, on the same rows:

  (a) the roll-up: a full rebuild, and an incremental refresh after one day of new answers;
  (b) NPS per operator per month through the API's selector, nps_table(group_by=["operator",
      "month"]), from the raw responses and from the roll-up;
  (c) pandas: read_sql of the columns it needs (operator, answer time, score) and a groupby
      on the operator and the local month; its result is checked equal to the selector's;
  (d) GET /api/v1/nps/ for one client-year, grouped by operator and month, through Django's
      test client with a supervisor's token.

Each timing is the median of --repeat runs after one warm-up. It prints the ratios and PASS
or FAIL against the targets: the selector >= 10x faster than pandas (read_sql + groupby),
and the API under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import recreate_database, with_database  # noqa: E402

BENCH_DB = "bench_nps"
SPEEDUP_TARGET = 10.0
API_TARGET_MS = 300.0
CLIENTS = 10
OPERATORS = 200
DEBTORS = 100_000

# Every statement runs once, in order; {rows} is --rows. Ids are given explicitly (the tables
# are empty) so that contact i, invitation i and response i line up without a join.
GENERATE = [
    "SELECT setseed(0.42)",
    """INSERT INTO collections_link_client (ref, name, country, default_language, time_zone,
        created_at)
       SELECT 'client-' || lpad(c::text, 2, '0'), 'Client ' || c, 'IT', 'it', 'Europe/Rome',
              now()
       FROM generate_series(0, {clients} - 1) AS c""",
    """INSERT INTO collections_link_operator (ref, name, client_id, created_at)
       SELECT 'op-' || lpad(o::text, 3, '0'), 'Operator ' || o, cl.id, now()
       FROM generate_series(0, {operators} - 1) AS o
       JOIN collections_link_client cl
         ON cl.ref = 'client-' || lpad((o % {clients})::text, 2, '0')""",
    """CREATE TEMP TABLE client_map AS
       SELECT row_number() OVER (ORDER BY ref) - 1 AS idx, id AS client_id
       FROM collections_link_client""",
    """CREATE TEMP TABLE op_map AS
       SELECT row_number() OVER (ORDER BY o.ref) - 1 AS idx, o.id AS operator_id, o.client_id,
              cm.idx AS client_idx,
              -- the operator's style: some are kinder (more promoters) than others
              ((row_number() OVER (ORDER BY o.ref)) % 7) / 6.0 AS empathy
       FROM collections_link_operator o JOIN client_map cm ON cm.client_id = o.client_id""",
    """INSERT INTO collections_link_debtor (id, client_id, ref, phone_e164, country, region,
        language)
       SELECT d, cm.client_id, 'D-' || d, '+39333' || lpad(d::text, 7, '0'), 'IT', '', 'it'
       FROM generate_series(1, {debtors}) AS d
       JOIN client_map cm ON cm.idx = d % {clients}""",
    """INSERT INTO collections_link_account (id, client_id, ref, debtor_id, placed_on,
        amount_placed, currency)
       SELECT d.id, d.client_id, 'A-' || d.id, d.id, DATE '2024-12-01' + (d.id % 700)::int,
              100 + (d.id % 900), 'EUR'
       FROM collections_link_debtor d""",
    """CREATE UNLOGGED TABLE bench_src AS
       SELECT i,
              -- a few operators answer more often than others
              floor({operators} * power(random(), 1.2))::int AS op_idx,
              -- two years of answers, up to the day before the run's reference date
              TIMESTAMPTZ '2024-11-28 00:00+00' + random() * interval '730 days' AS answered_at,
              random() AS r_channel, random() AS r_contact, random() AS r_outcome,
              random() AS r_score, random() AS r_within, random() AS r_account
       FROM generate_series(1, {rows}) AS i""",
    """INSERT INTO collections_link_contact (id, client_id, ref, account_id, operator_id, channel,
        started_at, ended_at, outcome, flags, survey_consent, right_party, imported_at)
       SELECT s.i, om.client_id, 'K-' || s.i,
              -- an account of the operator's client: debtor (and account) d belongs to
              -- client d mod {clients}, for d in 1..{debtors}
              floor(s.r_account * ({debtors} / {clients}))::int * {clients} + om.client_idx
                + CASE WHEN om.client_idx = 0 THEN {clients} ELSE 0 END,
              om.operator_id,
              CASE WHEN s.r_contact < 0.85 THEN 'phone' ELSE 'home_visit' END,
              s.answered_at - interval '3 hours', s.answered_at - interval '2 hours 50 minutes',
              (ARRAY['promise_to_pay', 'paid', 'partial_payment', 'payment_plan', 'dispute',
                     'refusal', 'callback_requested', 'hardship'])[1 + floor(s.r_outcome * 8)::int],
              '', true, true, now()
       FROM bench_src s JOIN op_map om ON om.idx = s.op_idx""",
    """INSERT INTO surveys_invitation (id, contact_id, client_id, operator_id, debtor_id,
        phone_e164, language, time_zones, status, suppression_reason, channel,
        survey_version_id, send_after, expires_at, sent_at, answered_at, created_at, updated_at)
       SELECT c.id, c.id, c.client_id, c.operator_id, a.debtor_id,
              '+39333' || lpad(a.debtor_id::text, 7, '0'),
              'it', 'Europe/Rome', 'completed', '',
              CASE WHEN s.r_channel < 0.7 THEN 'sms' ELSE 'cati' END,
              {version}, c.started_at + interval '2 hours', c.started_at + interval '7 days',
              c.started_at + interval '2 hours', s.answered_at, c.started_at, s.answered_at
       FROM collections_link_contact c
       JOIN bench_src s ON s.i = c.id
       JOIN collections_link_account a ON a.id = c.account_id""",
    """INSERT INTO surveys_response (id, invitation_id, client_id, operator_id, contact_id,
        contact_channel, contact_outcome, channel, survey_version_id, language, score, reason,
        answers, complete, started_at, answered_at, completed_at, updated_at)
       SELECT c.id, c.id, c.client_id, c.operator_id, c.id, c.channel, c.outcome,
              CASE WHEN s.r_channel < 0.55 THEN 'web'
                   WHEN s.r_channel < 0.7 THEN 'sms_reply' ELSE 'cati' END,
              {version}, 'it',
              CASE WHEN s.r_score < 0.25 + 0.3 * om.empathy THEN 9 + floor(s.r_within * 2)::int
                   WHEN s.r_score < 0.55 + 0.2 * om.empathy THEN 7 + floor(s.r_within * 2)::int
                   ELSE floor(s.r_within * 7)::int END,
              '', '{{}}', s.r_within < 0.9,
              s.answered_at - interval '1 minute', s.answered_at, s.answered_at,
              s.answered_at + interval '1 minute'
       FROM collections_link_contact c
       JOIN bench_src s ON s.i = c.id
       JOIN op_map om ON om.operator_id = c.operator_id""",
    "DROP TABLE bench_src",
]
RESET_IDS = [
    "collections_link_debtor",
    "collections_link_account",
    "collections_link_contact",
    "surveys_invitation",
    "surveys_response",
]
# One day of new answers, for the incremental refresh: copies of responses with new ids,
# contacts and invitations, answered on 2026-06-15, saved now.
ONE_DAY = [
    """CREATE TEMP TABLE day_src AS
       SELECT row_number() OVER () + (SELECT max(id) FROM surveys_response) AS new_id, r.*
       FROM surveys_response r
       WHERE r.id % (SELECT greatest(1, count(*) / {per_day}) FROM surveys_response) = 0
       LIMIT {per_day}""",
    """INSERT INTO collections_link_contact (id, client_id, ref, account_id, operator_id, channel,
        started_at, ended_at, outcome, flags, survey_consent, right_party, imported_at)
       SELECT d.new_id, c.client_id, 'K-' || d.new_id, c.account_id, c.operator_id, c.channel,
              TIMESTAMPTZ '2026-06-15 08:00+00', NULL, c.outcome, '', true, true, now()
       FROM day_src d JOIN collections_link_contact c ON c.id = d.contact_id""",
    """INSERT INTO surveys_invitation (id, contact_id, client_id, operator_id, debtor_id,
        phone_e164, language, time_zones, status, suppression_reason, channel,
        survey_version_id, created_at, updated_at)
       SELECT d.new_id, d.new_id, i.client_id, i.operator_id, i.debtor_id, i.phone_e164, 'it',
              '', 'completed', '', i.channel, i.survey_version_id, now(), now()
       FROM day_src d JOIN surveys_invitation i ON i.id = d.invitation_id""",
    """INSERT INTO surveys_response (id, invitation_id, client_id, operator_id, contact_id,
        contact_channel, contact_outcome, channel, survey_version_id, language, score, reason,
        answers, complete, started_at, answered_at, updated_at)
       SELECT d.new_id, d.new_id, d.client_id, d.operator_id, d.new_id, d.contact_channel,
              d.contact_outcome, d.channel, d.survey_version_id, 'it', d.score, '', '{{}}', true,
              TIMESTAMPTZ '2026-06-15 09:00+00',
              TIMESTAMPTZ '2026-06-15 09:00+00' + (d.new_id % 36000) * interval '1 second',
              clock_timestamp()
       FROM day_src d""",
    "DROP TABLE day_src",
]

PANDAS_SQL = "SELECT operator_id, answered_at, score FROM surveys_response WHERE score IS NOT NULL"


def django_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        CONN_MAX_AGE="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


BULK_TABLES = (
    "collections_link_debtor",
    "collections_link_account",
    "collections_link_contact",
    "surveys_invitation",
    "surveys_response",
)


def _drop_for_load(conn: Any, table: str) -> list[str]:
    """Drop the table's foreign keys, unique constraints and secondary indexes for the bulk
    load (row-by-row checks and index updates make it ~10x slower); return the statements
    that put them back, so the schema ends exactly as migrated."""
    restore: list[str] = []
    constraints = conn.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype DESC",
        (table,),
    ).fetchall()
    owned = {name for name, _, _ in constraints}
    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid "
        "WHERE i.tablename = %s AND NOT x.indisprimary",
        (table,),
    ).fetchall()
    for name, _, definition in constraints:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        if name in owned:
            continue  # went with its constraint
        conn.execute(f'DROP INDEX "{name}"')
        restore.insert(0, definition)
    return restore


def generate(url: str, rows: int) -> None:
    import psycopg

    values = {
        "rows": rows,
        "clients": CLIENTS,
        "operators": OPERATORS,
        "debtors": DEBTORS,
    }
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        version = conn.execute("SELECT min(id) FROM surveys_surveyversion").fetchone()
        values["version"] = version[0] if version else 1
        restore: list[str] = []
        for table in BULK_TABLES:
            restore += _drop_for_load(conn, table)
        for statement in GENERATE:
            started = time.perf_counter()
            conn.execute(statement.format(**values))
            label = " ".join(statement.split()[:3])
            print(f"  {label[:60]:<60} {time.perf_counter() - started:7.1f}s")
        started = time.perf_counter()
        # Indexes first, then unique constraints and foreign keys (validated in one pass each).
        for statement in sorted(restore, key=lambda s: ("FOREIGN KEY" in s, "UNIQUE" in s)):
            conn.execute(statement)
        print(
            f"  {'indexes, unique constraints, foreign keys':<60} "
            f"{time.perf_counter() - started:7.1f}s"
        )
        for table in RESET_IDS:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"  {'VACUUM ANALYZE':<60} {time.perf_counter() - started:7.1f}s")


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def spread(times: list[float]) -> str:
    return f"(min {min(times):.3f}s, max {max(times):.3f}s, n={len(times)})"


def pandas_counts(url: str) -> tuple[Any, float, float]:
    """read_sql of the needed columns, then the counts per operator and local month."""
    import warnings

    import pandas as pd
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url) as conn, warnings.catch_warnings():
        # pandas warns that a plain DB-API connection is "not tested"; it works.
        warnings.simplefilter("ignore", UserWarning)
        frame = pd.read_sql(PANDAS_SQL, conn)
    read = time.perf_counter() - started
    started = time.perf_counter()
    counts = pandas_groupby(frame)
    grouped = time.perf_counter() - started
    return counts, read, grouped


def pandas_groupby(frame: Any) -> Any:
    import pandas as pd

    local = pd.to_datetime(frame["answered_at"], utc=True).dt.tz_convert("Europe/Rome")
    month = local.dt.tz_localize(None).dt.to_period("M")
    score = frame["score"]
    group = pd.Series("detractor", index=frame.index)
    group[score >= 7] = "passive"
    group[score >= 9] = "promoter"
    table = (
        pd.DataFrame({"operator_id": frame["operator_id"], "month": month, "group": group})
        .groupby(["operator_id", "month", "group"])
        .size()
        .unstack(fill_value=0)
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=7_000, help="answers in the new day")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--keep", action="store_true", help="reuse bench_nps as it is")
    args = parser.parse_args()

    url = with_database(args.database_url, BENCH_DB)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} at the start")
    if not args.keep:
        url = recreate_database(args.database_url, BENCH_DB)
        print(f"database: {BENCH_DB} on {urlsplit(url).hostname}:{urlsplit(url).port or 5432}")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            env=django_env(url),
            cwd=ROOT,
            check=True,
        )
        started = time.perf_counter()
        print(f"generating {args.rows:,} responses in SQL:")
        generate(url, args.rows)
        print(f"generated in {time.perf_counter() - started:.1f}s")

    os.environ.update(django_env(url))
    import django

    django.setup()
    from django.test import Client as WebClient
    from rest_framework.authtoken.models import Token

    from collections_link.models import Client, Membership, Role
    from nps.models import NpsRollup
    from nps.rollup import rollup_rebuild, rollup_refresh
    from nps.selectors import nps_table
    from nps.types import NpsFilters
    from surveys.models import Response

    n = Response.objects.filter(score__isnull=False).count()
    print(f"scored responses: {n:,}")

    # (a) the roll-up
    full_s, full_times, rebuilt = median_time(rollup_rebuild, max(1, args.repeat // 2))
    print(f"roll-up full rebuild: {full_s:.3f}s {spread(full_times)}, {rebuilt.inserted:,} rows")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in ONE_DAY:
            conn.execute(statement.format(per_day=args.per_day))
    started = time.perf_counter()
    refreshed = rollup_refresh()
    incr_s = time.perf_counter() - started
    print(
        f"roll-up incremental refresh after one day ({args.per_day:,} new answers): "
        f"{incr_s:.3f}s, {refreshed.cell_count} cells, {refreshed.inserted:,} rows "
        f"= {incr_s / full_s:.1%} of a full rebuild (target <= 5%: "
        f"{'PASS' if incr_s <= 0.05 * full_s else 'FAIL'})"
    )
    n = Response.objects.filter(score__isnull=False).count()
    print(f"scored responses now: {n:,}; roll-up rows: {NpsRollup.objects.count():,}")

    # (b) the selector
    everyone = NpsFilters(client_ids=list(Client.objects.values_list("pk", flat=True)))

    def selector(use_rollup: bool | None, credible: bool = False) -> Any:
        return nps_table(
            filters=everyone,
            group_by=["operator", "month"],
            use_rollup=use_rollup,
            credible_intervals=credible,
        )

    raw_s, raw_times, raw_rows = median_time(lambda: selector(False), args.repeat)
    print(
        f"selector, raw responses:        {raw_s:7.3f}s {spread(raw_times)}, {len(raw_rows)} rows"
    )
    auto_s, auto_times, auto_rows = median_time(lambda: selector(None), args.repeat)
    print(f"selector, roll-up (automatic):  {auto_s:7.3f}s {spread(auto_times)}")
    roll_s, roll_times, _ = median_time(lambda: selector(True), args.repeat)
    print(f"selector, roll-up as refreshed: {roll_s:7.3f}s {spread(roll_times)}")
    cred_s, cred_times, _ = median_time(lambda: selector(None, True), max(1, args.repeat // 2))
    print(
        f"selector, roll-up, with credible intervals on every row (dashboard default): "
        f"{cred_s:7.3f}s {spread(cred_times)}"
    )
    if [(r.keys, r.n, r.promoters, r.detractors) for r in auto_rows] != [
        (r.keys, r.n, r.promoters, r.detractors) for r in raw_rows
    ]:
        raise SystemExit("the roll-up and the raw responses disagree")

    # (c) pandas, end to end, on the same rows
    pd_times, read_times, group_times = [], [], []
    counts = None
    for _ in range(max(1, args.repeat // 2) + 1):
        counts, read, grouped = pandas_counts(url)
        pd_times.append(read + grouped)
        read_times.append(read)
        group_times.append(grouped)
    pd_times, read_times, group_times = pd_times[1:], read_times[1:], group_times[1:]
    pd_s = statistics.median(pd_times)
    print(
        f"pandas read_sql + groupby:       {pd_s:7.3f}s {spread(pd_times)} "
        f"(read_sql {statistics.median(read_times):.3f}s, "
        f"groupby {statistics.median(group_times):.3f}s)"
    )
    assert counts is not None
    operator_ref = dict(Response.objects.values_list("operator_id", "operator__ref").distinct())
    from_pandas = {
        (operator_ref[op], month.start_time.date()): (
            int(row.get("promoter", 0)),
            int(row.get("detractor", 0)),
            int(row.sum()),
        )
        for (op, month), row in counts.iterrows()
    }
    from_sql = {
        (r.keys["operator"], r.keys["month"]): (r.promoters, r.detractors, r.n) for r in raw_rows
    }
    if from_pandas != from_sql:
        raise SystemExit("pandas and the selector disagree")
    print(f"pandas and the selector agree on all {len(from_sql):,} operator-months")

    # (d) the API, one client-year
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-supervisor")
    Membership.objects.update_or_create(user=user, defaults={"role": Role.SUPERVISOR})
    token, _ = Token.objects.get_or_create(user=user)
    web = WebClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    client_ref = Client.objects.order_by("ref").values_list("ref", flat=True)[3]
    params = {
        "client": client_ref,
        "from": "2025-01-01",
        "to": "2025-12-31",
        "group_by": "operator,month",
        "limit": "1000",
    }

    def api() -> Any:
        answer = web.get("/api/v1/nps/", params)
        if answer.status_code != 200:
            raise SystemExit(f"API answered {answer.status_code}: {answer.content[:300]!r}")
        return answer.json()

    api_s, api_times, body = median_time(api, max(10, args.repeat))
    print(
        f"GET /api/v1/nps/ ({client_ref}, 2025, operator x month): {api_s * 1000:.1f} ms "
        f"(min {min(api_times) * 1000:.1f}, max {max(api_times) * 1000:.1f}, n={len(api_times)}), "
        f"{body['count']} rows, {sum(r['n'] for r in body['results']):,} answers"
    )

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} at the end")
    ratio_raw = pd_s / raw_s
    ratio_auto = pd_s / auto_s
    print()
    print(
        f"pandas / selector (raw responses): {ratio_raw:6.1f}x  target >= {SPEEDUP_TARGET:.0f}x: "
        f"{'PASS' if ratio_raw >= SPEEDUP_TARGET else 'FAIL'}"
    )
    print(
        f"pandas / selector (roll-up, as the API reads): {ratio_auto:6.1f}x  target >= "
        f"{SPEEDUP_TARGET:.0f}x: {'PASS' if ratio_auto >= SPEEDUP_TARGET else 'FAIL'}"
    )
    print(
        f"raw / roll-up: {raw_s / auto_s:6.1f}x (reference target A-5 >= 100x: "
        f"{'PASS' if raw_s / auto_s >= 100 else 'FAIL'})"
    )
    print(
        f"API one client-year: {api_s * 1000:.1f} ms  target < {API_TARGET_MS:.0f} ms: "
        f"{'PASS' if api_s * 1000 < API_TARGET_MS else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
