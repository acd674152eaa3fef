"""Real processes for the dispatcher tests: a Celery worker (or several), `manage.py` commands
run as their own processes, a private redis-server that a test may stop and start, and the
bulk data those tests need (thousands of due invitations, each to its own phone number).

Every process is started in a session of its own and stopped by its process-group id, so a
test never touches a process it did not start. Every wait has a timeout, so a hung worker fails
the test instead of hanging the run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connection

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CELERY = str(BIN / "celery")
ROUND_THE_CLOCK = {
    "weekdays": {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
    | {"sun": [["00:00", "24:00"]]},
    "pre_holiday": None,
    "holiday": [["00:00", "24:00"]],
    "holidays_country": None,
    "holidays_subdivision": None,
}


def always_open(**changes: object) -> Any:
    """The default policy with a window open round the clock (and `changes`), for tests whose
    sends run on the wall clock (an eagerly run Celery task knows no other)."""
    from surveys.models import Policy
    from surveys.policies import policy_cache_clear, policy_defaults

    policy, _ = Policy.objects.update_or_create(
        client=None,
        defaults={**policy_defaults(), "window_profile": ROUND_THE_CLOCK, **changes},
    )
    policy_cache_clear()
    return policy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = ""
) -> None:
    """Poll until `predicate()` is true; fail loudly after `timeout` seconds, saying where the
    invitations and messages stood (also logged every ten seconds while waiting)."""
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while not predicate():
        if time.monotonic() - last > 10:
            last = time.monotonic()
            logger.info("still waiting for %s: %s", what, progress())
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}: {progress()}")
        time.sleep(interval)


def wait_for_count(
    count: Callable[[], int],
    target: int,
    *,
    stall: float = 60.0,
    limit: float = 900.0,
    what: str = "",
) -> None:
    """Poll `count()` until it reaches `target`. Fails when it has not moved for `stall`
    seconds (a hung worker, a lost message) or after `limit` seconds in all: a busy machine
    may be slow, but a stuck one is caught within a minute."""
    started = last_change = last_log = time.monotonic()
    seen = count()
    while seen < target:
        time.sleep(0.5)
        now = time.monotonic()
        current = count()
        if current != seen:
            seen, last_change = current, now
        if now - last_log > 10:
            last_log = now
            logger.info("%s: %s of %s; %s", what, seen, target, progress())
        if now - last_change > stall:
            raise TimeoutError(
                f"{what}: stuck at {seen} of {target} for {stall:.0f}s; {progress()}"
            )
        if now - started > limit:
            raise TimeoutError(f"{what}: {seen} of {target} after {limit:.0f}s; {progress()}")


def progress() -> str:
    """Invitations and messages by status."""
    from django.db.models import Count

    from surveys.models import Invitation, SmsMessage

    invitations = dict(Invitation.objects.values_list("status").annotate(n=Count("id")))
    messages = dict(SmsMessage.objects.values_list("status").annotate(n=Count("id")))
    return f"invitations {invitations}, messages {messages}"


def worker_database_url() -> str:
    """The URL of the database this test run uses (pytest-django's test_<name>)."""
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("worker processes need the PostgreSQL test database")
    user = quote(s.get("USER") or "postgres")
    password = f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


def process_env(
    *,
    broker_url: str,
    twilio: Any,
    messaging_service_sid: str,
    rate_per_second: float = 1000.0,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a worker or a `manage.py` process: the test database, the broker,
    the fake Twilio the test started, and production-like settings otherwise."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PYTEST_", "TWILIO_", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=broker_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=twilio.account_sid,
        TWILIO_AUTH_TOKEN=twilio.auth_token,
        TWILIO_MESSAGING_SERVICE_SID=messaging_service_sid,
        TWILIO_API_BASE_URL=twilio.url,
        # Short enough that a scripted timeout (the fake holding a connection) is seen quickly.
        TWILIO_HTTP_TIMEOUT="5",
        SMS_RATE_PER_SECOND=str(rate_per_second),
        LOG_LEVEL="INFO",
        ENV_FILE="/nonexistent",
    )
    env.update(extra or {})
    return env


class CeleryWorker:
    """`celery -A config worker` in its own session, its log in a temporary file."""

    def __init__(self, *, env: dict[str, str], name: str, concurrency: int = 1) -> None:
        self.env = env
        self.name = name
        self.concurrency = concurrency
        self.log_path = Path(tempfile.mkstemp(prefix=f"celery-{name}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, ready_timeout: float = 60.0) -> CeleryWorker:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    "config",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--hostname",
                    f"{self.name}@%h",
                    "--concurrency",
                    str(self.concurrency),
                    "--pool",
                    "prefork",
                    "-Q",
                    "celery",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, timeout=ready_timeout, what=f"worker {self.name} to be ready")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited early:\n{self.log()}")
        return " ready." in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """kill -9 of the worker and its pool processes, mid-whatever they are doing."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, *, timeout: float = 20.0) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        # Pool processes left behind by the main process die with their group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def cleanup(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


class RedisServer:
    """A private redis-server on a free port, without persistence: stopping it loses
    everything queued in it, as a crashed Redis would."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 10.0) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self.answers, timeout=timeout, what=f"redis-server on {self.port}")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def manage(
    *args: str, env: dict[str, str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` as its own process; fails the test if it fails or takes too long."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def manage_popen(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def due_invitations(
    n: int,
    *,
    send_after: dt.datetime,
    time_zones: str = "Europe/Rome",
    phone_base: int = 3_330_000_000,
    ref_prefix: str = "",
) -> list[int]:
    """`n` scheduled SMS invitations, due at `send_after`, each to its own Italian mobile
    (+39 333...), for the client "Acme Energia" and the operator "Giulia"."""
    from collections_link.models import Account, Client, Contact, Debtor, Operator
    from surveys.models import Channel, Invitation, InvitationStatus, new_token

    client, _ = Client.objects.get_or_create(
        ref="acme-energia",
        defaults={
            "name": "Acme Energia",
            "country": "IT",
            "default_language": "it",
            "time_zone": "Europe/Rome",
        },
    )
    operator, _ = Operator.objects.get_or_create(
        ref="giulia", defaults={"name": "Giulia", "client": client}
    )
    prefix = ref_prefix or secrets.token_hex(3)
    debtors = Debtor.objects.bulk_create(
        [
            Debtor(
                client=client,
                ref=f"{prefix}-D{i}",
                phone_e164=f"+39{phone_base + i}",
                country="IT",
                language="it",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    accounts = Account.objects.bulk_create(
        [
            Account(
                client=client,
                ref=f"{prefix}-A{i}",
                debtor=debtor,
                placed_on=dt.date(2026, 10, 1),
                amount_placed="100.00",
                currency="EUR",
            )
            for i, debtor in enumerate(debtors)
        ],
        batch_size=2000,
    )
    started = send_after - dt.timedelta(hours=2)
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                client=client,
                ref=f"{prefix}-K{i}",
                account=account,
                operator=operator,
                channel="phone",
                started_at=started,
                ended_at=started + dt.timedelta(minutes=5),
                outcome="promise_to_pay",
                survey_consent=True,
                right_party=True,
            )
            for i, account in enumerate(accounts)
        ],
        batch_size=2000,
    )
    invitations = Invitation.objects.bulk_create(
        [
            Invitation(
                contact=contact,
                client=client,
                operator=operator,
                debtor=debtor,
                phone_e164=debtor.phone_e164,
                language="it",
                time_zones=time_zones,
                status=InvitationStatus.SCHEDULED,
                channel=Channel.SMS,
                token=new_token(),
                send_after=send_after,
                expires_at=send_after + dt.timedelta(days=7),
                fallback_at=send_after + dt.timedelta(hours=48),
                created_at=started,
            )
            for contact, debtor in zip(contacts, debtors, strict=True)
        ],
        batch_size=2000,
    )
    return [invitation.pk for invitation in invitations]


def phones(ids: Iterable[int]) -> dict[int, str]:
    from surveys.models import Invitation

    return dict(Invitation.objects.filter(pk__in=list(ids)).values_list("pk", "phone_e164"))
