"""Benchmark of the debtor's survey page against a minimal Django view, under gunicorn.

    .venv/bin/python bench/survey_page.py [--duration 10] [--rounds 3] [--connections 4]
        [--threads 1] [--post-invitations 40000]
        [--database-url postgres://postgres@127.0.0.1:5432/test] [--client wrk|python]

It creates its own database (`bench_survey_page`, dropped first) on the server the URL names,
migrates it, creates invitations sent by SMS (a pool the GETs cycle through, and one never
answered for every POST), starts gunicorn with 2 sync workers on a free port (DEBUG off, the
product's settings plus the URLconf of bench/settings_bench.py), and loads, in the same run,
with the same client and the same concurrency:

  minimal    GET  /bench/minimal/   HttpResponse("ok") through the same middleware
  read       GET  /bench/read/      for information: one prepared one-row read by a unique key,
                                    then "ok" (the floor of any page that reads its state)
  write      POST /bench/write/     for information: one row INSERTed and committed (the floor
                                    of any durable write), through the same middleware
  page GET   GET  /s/<token>/       the first screen of an opened link (one query)
  page POST  POST /s/<token>/       the score, on an invitation never answered: it creates the
                                    response and answers 303

No request carries a cookie: the survey pages neither set nor need one (the link's token is
the credential), as a debtor's phone sends them.

It prints requests per second and p95 latency for each (the median over the rounds), the
ratios to the minimal view, and PASS/FAIL against GET >= 0.7 and POST >= 0.5. The load comes
from wrk when it is installed (apt-get install wrk), else from a Python client (threads,
http.client); `--client` picks one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import recreate_database  # noqa: E402

BENCH_DB = "bench_survey_page"
GET_TARGET = 0.7
POST_TARGET = 0.5
GET_POOL = 500

WRK_SCRIPT = r"""
-- args: METHOD PATHS_FILE
local method, paths, body, i = "GET", {}, nil, 0
function init(args)
  method = args[1]
  for line in io.lines(args[2]) do paths[#paths + 1] = line end
  if method == "POST" then
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = "step=1&nps=9"
  end
end
function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format(method, paths[i], nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(95), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p95_ms: float
    bad_status: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def server_env(url: str, secret: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="bench.settings_bench",
        DEBUG="0",
        SECRET_KEY=secret,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        CSRF_COOKIE_SECURE="0",
        SESSION_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def child_create(n_get: int, n_post: int) -> None:
    """Runs in a child process with the bench's settings: the invitations the load uses."""
    import django

    django.setup()
    from django.utils import timezone

    from collections_link.models import Account, Client, Contact, Debtor, Operator
    from surveys.models import Invitation, InvitationStatus, new_token
    from surveys.seed import survey_default_ensure

    version = survey_default_ensure().current_version()
    client = Client.objects.create(
        ref="bench-client", name="Bench Client", country="IT", default_language="it"
    )
    operators = Operator.objects.bulk_create(
        [Operator(ref=f"op-{i}", name=f"Operator {i}", client=client) for i in range(20)]
    )
    debtors = Debtor.objects.bulk_create(
        [
            Debtor(
                client=client,
                ref=f"D-{i}",
                phone_e164=f"+39333{i:07d}",
                country="IT",
                language="it",
            )
            for i in range(500)
        ]
    )
    accounts = Account.objects.bulk_create(
        [
            Account(
                client=client,
                ref=f"A-{i}",
                debtor=debtor,
                placed_on=dt.date(2026, 10, 1),
                amount_placed=Decimal("250.00"),
                currency="EUR",
            )
            for i, debtor in enumerate(debtors)
        ]
    )
    now = timezone.now()
    refs = [f"G-{i}" for i in range(n_get)] + [f"P-{i}" for i in range(n_post)]
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                client=client,
                ref=ref,
                account=accounts[i % len(accounts)],
                operator=operators[i % len(operators)],
                channel="phone",
                started_at=now - dt.timedelta(hours=3),
                ended_at=now - dt.timedelta(hours=3) + dt.timedelta(minutes=6),
                outcome="promise_to_pay",
                right_party=True,
                survey_consent=True,
            )
            for i, ref in enumerate(refs)
        ],
        batch_size=2000,
    )
    Invitation.objects.bulk_create(
        [
            Invitation(
                contact=contact,
                client=client,
                operator_id=contact.operator_id,
                debtor=debtors[i % len(debtors)],
                phone_e164=debtors[i % len(debtors)].phone_e164,
                language="it",
                status=InvitationStatus.SENT,
                channel="sms",
                survey_version=version,
                token=new_token(),
                send_after=now - dt.timedelta(hours=1),
                sent_at=now - dt.timedelta(hours=1),
                expires_at=now + dt.timedelta(days=7),
            )
            for i, contact in enumerate(contacts)
        ],
        batch_size=2000,
    )


def tokens(url: str, prefix: str, *, unanswered: bool = False) -> list[str]:
    import psycopg

    sql = (
        "SELECT i.token FROM surveys_invitation i "
        "JOIN collections_link_contact c ON c.id = i.contact_id WHERE c.ref LIKE %s"
    )
    if unanswered:
        sql += " AND NOT EXISTS (SELECT 1 FROM surveys_response r WHERE r.invitation_id = i.id)"
    with psycopg.connect(url) as conn:
        rows = conn.execute(sql + " ORDER BY i.id", (f"{prefix}-%",)).fetchall()
    return [row[0] for row in rows]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(url: str, port: int, secret: str, threads: int) -> subprocess.Popen[bytes]:
    worker = ["--worker-class", "sync"] if threads == 1 else ["--threads", str(threads)]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--workers",
            "2",
            *worker,
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=server_env(url, secret),
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/bench/minimal/")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 30 s")


def page_check(port: int, path: str) -> None:
    """The page answers 200 and sets no cookie, as the load assumes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    if response.status != 200 or response.getheader("Set-Cookie"):
        raise SystemExit(
            f"{path}: status {response.status}, Set-Cookie {response.getheader('Set-Cookie')}"
        )


def run_wrk(
    port: int,
    method: str,
    paths: list[str],
    *,
    duration: float,
    connections: int,
    workdir: Path,
) -> Run:
    script = workdir / "load.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    listing = workdir / f"paths-{secrets.token_hex(4)}.txt"
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    args = [method, str(listing)]
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", done.stdout)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    requests, micros, p95, bad, errors = (int(g) for g in match.groups())
    return Run(requests, micros / 1e6, p95 / 1000, bad, errors)


def run_python(
    port: int,
    method: str,
    paths: list[str],
    *,
    duration: float,
    connections: int,
    workdir: Path,
) -> Run:
    """The fallback client: one thread per connection, each request timed end to end. POSTs
    take the next unused path from a shared counter, so no invitation is answered twice."""
    lock = threading.Lock()
    cursor = itertools.count()
    latencies: list[float] = []
    bad = errors = 0
    headers: dict[str, str] = {}
    body = None
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = "step=1&nps=9"
    deadline = time.perf_counter() + duration

    def worker() -> None:
        nonlocal bad, errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        while time.perf_counter() < deadline:
            with lock:
                path = paths[next(cursor) % len(paths)]
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                with lock:
                    errors += 1
                conn.close()
                continue
            mine.append(time.perf_counter() - started)
            if response.status >= 400:
                with lock:
                    bad += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) > 1 else 0.0
    return Run(len(latencies), seconds, p95, bad, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--post-invitations", type=int, default=40_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker (1: sync workers, the default; more: gthread)",
    )
    parser.add_argument("--client", choices=["wrk", "python"], default=None)
    parser.add_argument("--child-create", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_create:
        child_create(*args.child_create)
        return

    client = args.client or ("wrk" if shutil.which("wrk") else "python")
    load = run_wrk if client == "wrk" else run_python
    secret = secrets.token_urlsafe(50)
    url = recreate_database(args.database_url, BENCH_DB)
    print(f"database: {BENCH_DB} on {urlsplit(url).hostname}:{urlsplit(url).port or 5432}")
    env = server_env(url, secret)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True
    )
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_write (id bigserial PRIMARY KEY, at timestamptz)")
        conn.execute("CREATE TABLE bench_read (id bigserial PRIMARY KEY, key text UNIQUE)")
        conn.execute("INSERT INTO bench_read (key) VALUES ('bench')")
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child-create",
            str(GET_POOL),
            str(args.post_invitations),
        ],
        env=env,
        cwd=ROOT,
        check=True,
    )
    get_paths = [f"/s/{t}/" for t in tokens(url, "G")]
    print(
        f"created {len(get_paths)} opened links for the GETs and {args.post_invitations:,} "
        f"unanswered ones for the POSTs in {time.perf_counter() - started:.1f}s"
    )

    port = free_port()
    server = start_server(url, port, secret, args.threads)
    results: dict[str, list[Run]] = {
        "minimal": [],
        "read": [],
        "write": [],
        "page GET": [],
        "page POST": [],
    }
    try:
        page_check(port, get_paths[0])
        workers = "sync workers" if args.threads == 1 else f"gthread workers x {args.threads}"
        print(
            f"gunicorn: 2 {workers} on 127.0.0.1:{port}; load: {client}, "
            f"{args.connections} connections, {args.duration:g}s x {args.rounds} rounds"
        )
        with tempfile.TemporaryDirectory(prefix="bench-survey-page-") as tmp:
            workdir = Path(tmp)

            def measure(name: str, duration: float) -> Run:
                if name == "minimal":
                    method, paths = "GET", ["/bench/minimal/"]
                elif name == "read":
                    method, paths = "GET", ["/bench/read/"]
                elif name == "write":
                    method, paths = "POST", ["/bench/write/"]
                elif name == "page GET":
                    method, paths = "GET", get_paths
                else:
                    method = "POST"
                    paths = [f"/s/{t}/" for t in tokens(url, "P", unanswered=True)]
                    if not paths:
                        raise SystemExit(
                            "every invitation made for the POSTs is answered: "
                            "run again with a larger --post-invitations"
                        )
                return load(
                    port,
                    method,
                    paths,
                    duration=duration,
                    connections=args.connections,
                    workdir=workdir,
                )

            # Warm-up: workers import and cache templates; every GET link is opened once, so
            # the measured GETs are the steady state of a debtor moving through the screens.
            for name in results:
                measure(name, 3.0)
            for _ in range(args.rounds):
                for name in results:
                    run = measure(name, args.duration)
                    results[name].append(run)
                    flag = ""
                    if run.bad_status or run.socket_errors:
                        flag = f"  ({run.bad_status} bad status, {run.socket_errors} errors)"
                    print(f"  {name:<10} {run.rps:>8,.0f} req/s  p95 {run.p95_ms:6.2f} ms{flag}")
    finally:
        server.terminate()
        server.wait(timeout=30)

    print("median over the rounds:")
    summary: dict[str, tuple[float, float]] = {}
    for name, runs in results.items():
        rps = statistics.median(r.rps for r in runs)
        p95 = statistics.median(r.p95_ms for r in runs)
        summary[name] = (rps, p95)
        print(f"  {name:<10} {rps:>8,.0f} req/s  p95 {p95:6.2f} ms")
    failures = sum(r.bad_status + r.socket_errors for runs in results.values() for r in runs)
    base = summary["minimal"][0]
    get_ratio = summary["page GET"][0] / base
    post_ratio = summary["page POST"][0] / base
    print(
        f"ratio page GET / minimal:  {get_ratio:.2f}  target >= {GET_TARGET}: "
        f"{'PASS' if get_ratio >= GET_TARGET else 'FAIL'}"
    )
    print(
        f"ratio page POST / minimal: {post_ratio:.2f}  target >= {POST_TARGET}: "
        f"{'PASS' if post_ratio >= POST_TARGET else 'FAIL'}"
    )
    for page, floor in (("page GET", "read"), ("page POST", "write")):
        print(
            f"for information: {page} / {floor}: {summary[page][0] / summary[floor][0]:.2f}"
            f"  ({floor} / minimal: {summary[floor][0] / base:.2f})"
        )
    if failures:
        print(f"WARNING: {failures} requests failed or answered 4xx/5xx; the numbers are suspect")


if __name__ == "__main__":
    main()
