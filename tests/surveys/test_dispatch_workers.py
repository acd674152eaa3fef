"""Exactly once, with real processes: `manage.py dispatch_due` dispatchers and Celery workers
(prefork) on real Redis, the test PostgreSQL database, and the fake Twilio server in this
process, which counts every message it accepts per recipient.

Each invitation goes to its own phone number, so "sent exactly once" is simply: the fake holds
one message for each number, and none for any other.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.apps import apps
from django.db import connection
from django.utils import timezone

from surveys.dispatch import REQUEUE_AFTER, STUCK_AFTER
from surveys.fake_twilio import FakeTwilio
from surveys.models import Invitation, InvitationStatus, Policy, SmsMessage, SmsStatus
from surveys.policies import policy_defaults
from surveys.seed import seed_apply
from tests.services import missing
from tests.surveys.workers import (
    ROUND_THE_CLOCK,
    CeleryWorker,
    RedisServer,
    due_invitations,
    manage,
    manage_popen,
    phones,
    process_env,
    progress,
    wait_for_count,
    wait_until,
)

logger = logging.getLogger(__name__)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

CLAIMED = re.compile(r"Claimed (\d+) due invitation")
# Past both the reaper's and the requeue pass's thresholds: what the periodic housekeeping
# sees a few minutes after a crash, without the test waiting those minutes.
AFTER_THE_CRASH = STUCK_AFTER + REQUEUE_AFTER + dt.timedelta(seconds=10)


@pytest.fixture
def broker() -> Iterator[str]:
    """A Redis of the test's own: a private redis-server on a free port, empty at the start
    and gone at the end, so parallel test runs (and the Redis' 16-database limit) never mix
    their queues and buckets."""
    if shutil.which("redis-server") is None:
        missing("these tests start their own redis-server: install Redis")
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture
def provider() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(
        account_sid="AC" + secrets.token_hex(16),
        auth_token=secrets.token_hex(16),
        webhook_base="http://127.0.0.1:8000",
    )
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def open_all_day() -> Iterator[None]:
    """The shipped data, and a default policy whose window never closes: the workers run on
    the wall clock, whatever hour the test runs at.

    The test database also commits asynchronously while the workers run: each send commits
    twice, and waiting for the disk on every commit makes these tests minutes long on a small
    machine. It changes nothing they prove, since PostgreSQL itself is never crashed here."""
    seed_apply(apps)
    Policy.objects.update_or_create(
        client=None, defaults={**policy_defaults(), "window_profile": ROUND_THE_CLOCK}
    )
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" RESET synchronous_commit')


@pytest.fixture
def start_workers() -> Iterator[Callable[..., list[CeleryWorker]]]:
    started: list[CeleryWorker] = []

    def start(env: dict[str, str], *, count: int = 1, concurrency: int = 1) -> list[CeleryWorker]:
        workers = [
            CeleryWorker(
                env=env, name=f"w{len(started) + i}-{secrets.token_hex(2)}", concurrency=concurrency
            )
            for i in range(count)
        ]
        started.extend(workers)
        for worker in workers:
            worker.start()
        return workers

    try:
        yield start
    finally:
        for worker in started:
            worker.cleanup()


def env_for(broker_url: str, fake: FakeTwilio, **kwargs: Any) -> dict[str, str]:
    return process_env(
        broker_url=broker_url,
        twilio=fake,
        messaging_service_sid="MG" + "0" * 32,
        **kwargs,
    )


def dispatch_now(env: dict[str, str], *, at: dt.datetime | None = None) -> int:
    """One `manage.py dispatch_due` pass (reaper, requeue, claims); the invitations it claimed."""
    args = ["dispatch_due"] + (["--now", at.isoformat()] if at else [])
    out = manage(*args, env=env, timeout=120).stdout
    return int(CLAIMED.search(out).group(1))


def housekeeping_until_sent(env: dict[str, str], ids: list[int], *, stall: float = 90.0) -> None:
    """Run the periodic housekeeping (`dispatch_due`: reaper, requeue, claims) as it would run
    a few minutes from now, again and again, until every invitation is sent; fail when a
    whole `stall` seconds pass without one more sent."""
    done = sent_invitations(ids)
    changed = time.monotonic()
    while done < len(ids):
        dispatch_now(env, at=timezone.now() + AFTER_THE_CRASH)
        time.sleep(2.0)
        now_done = sent_invitations(ids)
        if now_done != done:
            done, changed = now_done, time.monotonic()
        if time.monotonic() - changed > stall:
            raise TimeoutError(f"stuck at {done} of {len(ids)} sent: {progress()}")
    time.sleep(1.0)  # anything still in flight would land now


def sent_invitations(ids: list[int]) -> int:
    return Invitation.objects.filter(pk__in=ids, status=InvitationStatus.SENT).count()


def assert_each_sent_exactly_once(fake: FakeTwilio, ids: list[int]) -> None:
    expected = set(phones(ids).values())
    counts = fake.counts
    twice = {to: n for to, n in counts.items() if n != 1}
    assert not twice, f"{len(twice)} numbers got more than one message, e.g. {list(twice)[:5]}"
    assert set(counts) == expected
    assert sent_invitations(ids) == len(ids)
    # Each invitation's one message row holds the provider id of the one message Twilio has.
    stored = dict(
        SmsMessage.objects.filter(invitation_id__in=ids).values_list("to", "provider_sid")
    )
    assert stored == {m.to: m.sid for m in fake.messages}


def test_two_dispatchers_and_four_workers_send_10000_invitations_once_each(
    broker, provider, open_all_day, start_workers
):
    ids = due_invitations(10_000, send_after=timezone.now() - dt.timedelta(minutes=1))
    # A few of Twilio's bad moments along the way: the first requests meet three 429s, two
    # 500s, and two timeouts after which Twilio had accepted the message anyway.
    for _ in range(3):
        provider.queue_reply(status=429, code=20429, method="POST")
    for _ in range(2):
        provider.queue_reply(status=500, method="POST")
    for _ in range(2):
        provider.queue_reply(timeout=True, accept=True, method="POST")
    env = env_for(broker, provider)
    start_workers(env, count=4)

    started = time.monotonic()
    dispatchers = [manage_popen("dispatch_due", "--batch-size", "100", env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in dispatchers]
    assert [p.returncode for p in dispatchers] == [0, 0], outputs
    claimed = [int(CLAIMED.search(out).group(1)) for out, _ in outputs]

    wait_for_count(lambda: sent_invitations(ids), 10_000, what="10,000 sends")
    elapsed = time.monotonic() - started
    time.sleep(1.0)  # anything still in flight would land now

    # Both dispatchers claimed a share, and together exactly the 10,000.
    assert min(claimed) > 0 and sum(claimed) == 10_000, claimed
    assert_each_sent_exactly_once(provider, ids)
    creates = [r for r in provider.requests if r.method == "POST"]
    answers = Counter(r.answer for r in creates)
    # 10,000 accepted (two of them with the answer lost), 3 + 2 refused and sent again later.
    assert answers == Counter({201: 9_998, 429: 3, 500: 2, None: 2})
    # Backing off: a number refused with 429 was only tried again after at least a second.
    for refused in (r for r in creates if r.answer == 429):
        to = refused.params["To"]
        [accepted] = [r for r in creates if r.params["To"] == to and r.answer == 201]
        assert (accepted.at - refused.at).total_seconds() >= 1.0
    logger.info("10,000 sent once each in %.1fs; the dispatchers claimed %s", elapsed, claimed)


def test_a_worker_killed_mid_send_leaves_every_invitation_sent_exactly_once(
    broker, provider, open_all_day, start_workers
):
    ids = due_invitations(1_500, send_after=timezone.now() - dt.timedelta(minutes=1))
    # Twilio answers each create 0.2 s after accepting it: a kill lands, most of the time,
    # between "Twilio has it" and "we stored its id", the case only the provider can settle.
    provider.create_delay = 0.2
    env = env_for(broker, provider)
    [first] = start_workers(env, concurrency=4)
    assert dispatch_now(env) == 1_500

    wait_until(lambda: len(provider.messages) >= 100, timeout=60, what="the first sends")
    first.kill()  # kill -9 of the worker and its pool
    time.sleep(1.0)  # the fake finishes what was in flight; the dead worker never learns of it

    stuck = list(SmsMessage.objects.filter(status=SmsStatus.SENDING).values_list("to", flat=True))
    held_by_provider = set(provider.counts)
    assert stuck, "the kill should have caught sends in flight"
    # Some stuck rows were in fact accepted by Twilio: resending those would be the bug.
    assert set(stuck) & held_by_provider

    provider.create_delay = 0.0
    start_workers(env, concurrency=4)
    # The new worker drains the queue; tasks the dead worker had taken are not in it any more.
    queue = redis.Redis.from_url(broker)
    wait_for_count(lambda: -queue.llen("celery"), 0, what="the queue to drain")
    time.sleep(2.0)

    # The housekeeping pass, as it runs a few minutes after the crash: the reaper asks Twilio
    # about each stuck message, and the requeue pass queues the rest again.
    housekeeping_until_sent(env, ids)

    assert_each_sent_exactly_once(provider, ids)
    reconciled = SmsMessage.objects.filter(to__in=stuck, attempts=1).count()
    logger.info("killed with %s in flight; %s settled by Twilio's record", len(stuck), reconciled)


def test_redis_stopped_loses_nothing_and_dispatch_resumes_when_it_returns(
    provider, open_all_day, start_workers
):
    if shutil.which("redis-server") is None:
        missing("this test starts and stops its own redis-server: install Redis")
    private = RedisServer().start()
    try:
        env = env_for(private.url, provider)
        first = due_invitations(1_500, send_after=timezone.now() - dt.timedelta(minutes=1))
        provider.create_delay = 0.01  # slow enough to stop Redis in the middle of it
        [worker] = start_workers(env, concurrency=4)
        assert dispatch_now(env) == 1_500
        wait_until(lambda: len(provider.messages) >= 200, timeout=60, what="the first sends")

        logger.info("redis test: %s sent before the outage", len(provider.messages))
        private.stop()  # Redis gone, and with it every task queued there (no persistence)
        # While it is down: new invitations fall due and the dispatcher claims them. Queueing
        # fails, robustly: the rows stay pending in PostgreSQL.
        second = due_invitations(
            500, send_after=timezone.now() - dt.timedelta(minutes=1), phone_base=3_339_000_000
        )
        t0 = time.monotonic()
        assert dispatch_now(env) == 500
        logger.info("redis test: dispatch while down took %.1fs", time.monotonic() - t0)
        assert set(
            SmsMessage.objects.filter(invitation_id__in=second).values_list("status", flat=True)
        ) == {SmsStatus.PENDING}
        # The issue speaks of a minute; a few seconds exercise the same path: nothing in the
        # code waits on the outage's length (rows wait in PostgreSQL, the requeue pass acts on
        # `next_attempt_at`, which the test moves past instead of sleeping).
        time.sleep(5.0)
        sent_while_down = len(provider.messages)

        provider.create_delay = 0.0
        private.start()  # back, empty
        t0 = time.monotonic()
        wait_until(
            lambda: worker.log().count("Connected to redis://") >= 2,
            timeout=60,
            what="the worker to reconnect",
        )
        logger.info("redis test: worker reconnected in %.1fs", time.monotonic() - t0)
        t0 = time.monotonic()
        ids = first + second
        housekeeping_until_sent(env, ids)
        logger.info("redis test: the rest sent in %.1fs", time.monotonic() - t0)

        assert sent_while_down < len(ids)
        assert_each_sent_exactly_once(provider, ids)
    finally:
        private.cleanup()


def test_the_shared_bucket_keeps_every_second_at_the_senders_rate(
    broker, provider, open_all_day, start_workers
):
    rate = 20
    ids = due_invitations(120, send_after=timezone.now() - dt.timedelta(minutes=1))
    env = env_for(broker, provider, rate_per_second=rate)
    # Four processes in two workers: separate buckets would let 80 a second through.
    start_workers(env, count=2, concurrency=2)

    assert dispatch_now(env) == 120
    wait_for_count(lambda: sent_invitations(ids), 120, what="120 sends")

    assert_each_sent_exactly_once(provider, ids)
    times = sorted(m.date_created.timestamp() for m in provider.messages)
    busiest = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
    spread = times[-1] - times[0]
    logger.info("pacing at %s/s: busiest second %s, 120 sent over %.1fs", rate, busiest, spread)
    # At most the rate plus the bucket's one-token burst, with a little room for the jitter of
    # requests in flight between the bucket and the provider.
    assert busiest <= rate * 1.15 + 1, busiest
    # And the bucket does not starve the workers either: 120 at 20/s take about six seconds.
    assert (120 - 2) / rate * 0.9 <= spread <= 120 / rate * 1.5, spread
