"""Benchmark of the client dashboard page on 5,000,000 responses in PostgreSQL.

    .venv/bin/python bench/dashboard.py [--rows 5000000] [--requests 40] \
        [--database-url postgres://postgres@127.0.0.1:5432/test] [--keep]

It creates its own database (`bench_dashboard`, dropped first) on the server the URL names,
migrates it and generates the rows with bench/nps_aggregate.py's SQL generator (10 clients,
200 operators, 100,000 debtors and accounts, --rows contacts, invitations and scored
responses over two years), gives one answer in seven a reason to read (some with phone
numbers and amounts, to be masked), and rebuilds the NPS roll-up. Then, in this process,
with the production settings (DEBUG off, hashed static files served by WhiteNoise from a
collectstatic into a temporary directory):

  (a) server time of GET /dashboard/c/<client>/ (the overview a client viewer opens) through
      Django's test client, --requests times with varied filters (period, survey channel,
      contact type, operator, outcome) after three warm-up requests: p50, p95 and the worst;
  (b) the bytes of each view: the HTML including the charts' JSON, and the JSON alone;
  (c) plotly.js: the page must reference it by a hashed static URL, and WhiteNoise must serve
      it with Cache-Control max-age=31536000 (a browser fetches it once, then keeps it);
  (d) for information: the agency overview, an operator page and the three other tabs.

Targets: p95 under 300 ms, HTML plus chart data under 250 KB per view, plotly.js hashed and
cached for a year. It prints PASS or FAIL for each.
"""

from __future__ import annotations

import argparse
import calendar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import recreate_database, with_database  # noqa: E402
from bench.nps_aggregate import django_env, generate  # noqa: E402

BENCH_DB = "bench_dashboard"
P95_TARGET_MS = 300.0
BYTES_TARGET = 250_000
ONE_YEAR = 31_536_000
VIEWER_CLIENT = "client-00"

# One answer in seven gets a reason; some carry what the dashboard must mask.
REASONS = """UPDATE surveys_response SET reason = (ARRAY[
    'Operatore gentile e chiaro, mi ha proposto un piano di rientro',
    'Mi hanno chiamato troppe volte, richiamatemi al 347 1234567',
    'Ho pagato 250 EUR ma nessuno me lo ha confermato',
    'Scrivetemi a mario.rossi@example.com invece di telefonare',
    'Tono aggressivo, non mi ha lasciato parlare',
    'Molto disponibile, grazie'])[1 + (id % 6)]
 WHERE id % 7 = 0"""


def add_reasons(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(REASONS)
        conn.execute("VACUUM ANALYZE surveys_response")
        print(f"  {'reasons on one answer in seven':<60} {time.perf_counter() - started:7.1f}s")


def filter_queries(count: int) -> list[str]:
    """Varied filters a client viewer would use: periods, channels, contact types, operators
    (op-000, op-010... serve client-00), outcomes and combinations."""
    months = []
    for year, month in [(2025, m) for m in range(1, 13)] + [(2026, m) for m in range(1, 12)]:
        last = calendar.monthrange(year, month)[1]
        months.append(f"from={year}-{month:02d}-01&to={year}-{month:02d}-{last}")
    base = [
        "",
        "from=2026-01-01&to=2026-06-30",
        "from=2025-11-28",
        "from=2025-01-01&to=2025-12-31",
        "channel=web",
        "channel=sms_reply",
        "channel=cati",
        "contact_type=phone",
        "contact_type=home_visit",
        "operator=op-000",
        "operator=op-010",
        "operator=op-020&from=2026-01-01",
        "outcome=paid",
        "outcome=dispute&channel=web",
        "channel=cati&contact_type=home_visit&from=2026-03-01&to=2026-08-31",
    ]
    queries = base + months
    # Cycle through them when more requests are asked for than there are filters.
    return [("?" + q if q else "") for q in (queries * (count // len(queries) + 1))[:count]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def chart_bytes(html: str) -> int:
    return sum(
        len(m.group(1).encode())
        for m in re.finditer(
            r'<script id="[\w-]+-data" type="application/json">(.*?)</script>', html, re.S
        )
    )


def timed_get(web: Any, url: str) -> tuple[float, Any]:
    started = time.perf_counter()
    response = web.get(url)
    return (time.perf_counter() - started) * 1000.0, response


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--keep", action="store_true", help="reuse bench_dashboard as it is")
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
        add_reasons(url)
        print(f"generated in {time.perf_counter() - started:.1f}s")

    os.environ.update(django_env(url))
    static_root = tempfile.mkdtemp(prefix="bench-dashboard-static-")
    import django
    from django.conf import settings

    django.setup()
    # Production static files: hashed names and compressed copies, served by WhiteNoise.
    settings.STATIC_ROOT = static_root
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client as WebClient

    from collections_link.models import Client, Membership, Role
    from nps.rollup import rollup_rebuild
    from surveys.models import Response

    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"collectstatic: {sum(1 for _ in Path(static_root).rglob('*')):,} files")
    n = Response.objects.filter(score__isnull=False).count()
    print(f"scored responses: {n:,}")
    started = time.perf_counter()
    rebuilt = rollup_rebuild()
    print(f"roll-up rebuilt in {time.perf_counter() - started:.1f}s ({rebuilt.inserted:,} rows)")

    client = Client.objects.get(ref=VIEWER_CLIENT)
    mine = Response.objects.filter(client=client, score__isnull=False).count()
    print(f"viewer's client {client.ref}: {mine:,} scored responses")
    users = get_user_model()
    viewer, _ = users.objects.get_or_create(username="bench-viewer")
    Membership.objects.update_or_create(
        user=viewer, defaults={"role": Role.CLIENT_VIEWER, "client": client}
    )
    supervisor, _ = users.objects.get_or_create(username="bench-supervisor")
    Membership.objects.update_or_create(
        user=supervisor, defaults={"role": Role.SUPERVISOR, "client": None}
    )
    web = WebClient()
    web.force_login(viewer)
    page = f"/dashboard/c/{client.ref}/"

    # (a) and (b): the overview with varied filters.
    for _ in range(3):
        _ms, warm = timed_get(web, page)
        assert warm.status_code == 200, warm.status_code
    times: list[float] = []
    sizes: list[int] = []
    data_sizes: list[int] = []
    for query in filter_queries(args.requests):
        ms, response = timed_get(web, page + query)
        assert response.status_code == 200, (query, response.status_code)
        html = response.content.decode()
        times.append(ms)
        sizes.append(len(response.content))
        data_sizes.append(chart_bytes(html))
    p50, p95 = statistics.median(times), percentile(times, 0.95)
    slowest = sorted(zip(times, filter_queries(args.requests), strict=True), reverse=True)[:3]
    print(
        f"dashboard overview, {len(times)} requests with varied filters: "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, worst {max(times):.0f} ms"
    )
    print(
        "  slowest: "
        + "; ".join(f"{ms:.0f} ms for {query or '(no filter)'}" for ms, query in slowest)
    )
    print(
        f"bytes per view: HTML with chart data median {statistics.median(sizes) / 1000:.1f} KB, "
        f"largest {max(sizes) / 1000:.1f} KB; of which chart JSON median "
        f"{statistics.median(data_sizes) / 1000:.1f} KB, largest {max(data_sizes) / 1000:.1f} KB"
    )

    # (c) plotly.js: hashed, and cached for a year.
    html = web.get(page).content.decode()
    found = re.search(r'src="([^"]*plotly-basic[^"]*\.js)"', html)
    plotly_url = found.group(1) if found else ""
    hashed = bool(re.search(r"plotly-basic\.min\.[0-9a-f]{12}\.js$", plotly_url))
    served = web.get(plotly_url, headers={"Accept-Encoding": "gzip, br"})
    body = b"".join(getattr(served, "streaming_content", [])) or served.content
    cache_control = served.headers.get("Cache-Control", "")
    max_age = re.search(r"max-age=(\d+)", cache_control)
    # WhiteNoise gives hashed (immutable) files ten years; a year is the least we want.
    cached = max_age is not None and int(max_age.group(1)) >= ONE_YEAR
    print(
        f"plotly.js: {plotly_url} -> {served.status_code}, {len(body) / 1000:.0f} KB "
        f"({served.headers.get('Content-Encoding', 'identity')}), Cache-Control: {cache_control}"
    )

    # (d) the other pages, for information.
    others = [
        ("agency overview (supervisor)", "/dashboard/", supervisor),
        ("operator page", f"/dashboard/c/{client.ref}/operators/op-000/", viewer),
        ("scores and reasons tab", f"/dashboard/c/{client.ref}/scores/", viewer),
        ("satisfaction and recovery tab", f"/dashboard/c/{client.ref}/recovery/", viewer),
        ("response rates tab", f"/dashboard/c/{client.ref}/responses/", viewer),
    ]
    for label, path, user in others:
        other = WebClient()
        other.force_login(user)
        timed_get(other, path)
        ms_list = []
        size = 0
        for _ in range(3):
            ms, response = timed_get(other, path)
            assert response.status_code == 200, (path, response.status_code)
            ms_list.append(ms)
            size = len(response.content)
        print(f"  {label}: median {statistics.median(ms_list):.0f} ms, {size / 1000:.1f} KB")

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} at the end")
    print()
    verdicts = [
        (f"p95 server time under {P95_TARGET_MS:.0f} ms", p95 < P95_TARGET_MS, f"{p95:.0f} ms"),
        (
            f"HTML plus chart data under {BYTES_TARGET // 1000} KB per view",
            max(sizes) < BYTES_TARGET,
            f"largest {max(sizes) / 1000:.1f} KB",
        ),
        (
            "plotly.js at a hashed URL, Cache-Control max-age of a year or more",
            hashed and served.status_code == 200 and cached,
            f"{plotly_url.rsplit('/', 1)[-1]}, {cache_control}",
        ),
    ]
    for label, ok, value in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {label}: {value}")


if __name__ == "__main__":
    main()
