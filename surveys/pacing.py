"""A token bucket per sender, shared by every worker through Redis, so sends never outrun the
sender's rate (Twilio queues the excess for hours, and a queued survey SMS could land after the
debtor's window has closed).

Celery's own `rate_limit` is per worker process, so it cannot do this. Without Redis (the
embedded demo runs Celery eagerly in one process) an in-process bucket takes its place.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from django.conf import settings

# KEYS[1] the bucket; ARGV: rate per second, capacity, now (seconds, float), cost.
# Returns the seconds to wait before a token is available (0 when one was taken). The whole
# read-refill-take runs atomically inside Redis, so two workers can never take the same token.
_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', ts)
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""


# The burst a bucket allows on top of its rate. Any 1-second stretch sees at most
# capacity + rate sends, so a capacity of one second's worth would let twice the rate through
# right after a quiet spell; one token keeps every second at the sender's rate (plus one).
DEFAULT_CAPACITY = 1.0


class Bucket(Protocol):
    def try_take(self, cost: float = 1.0) -> float:
        """Take `cost` tokens if available and return 0, else return the seconds to wait."""


class RedisBucket:
    def __init__(self, *, url: str, key: str, rate: float, capacity: float | None = None) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.key = f"sms-bucket:{key}"
        self.rate = rate
        self.capacity = capacity if capacity is not None else DEFAULT_CAPACITY
        self._script = self.client.register_script(_LUA)

    def try_take(self, cost: float = 1.0) -> float:
        # Redis' own clock, so workers on hosts with skewed clocks share one timeline.
        seconds, micros = self.client.time()
        now = seconds + micros / 1_000_000
        result = self._script(keys=[self.key], args=[self.rate, self.capacity, now, cost])
        return float(result.decode() if isinstance(result, bytes) else result)


class LocalBucket:
    def __init__(self, *, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else DEFAULT_CAPACITY
        self.tokens = self.capacity
        self.ts = time.monotonic()
        self.lock = threading.Lock()

    def try_take(self, cost: float = 1.0) -> float:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.ts) * self.rate)
            self.ts = now
            if self.tokens >= cost:
                self.tokens -= cost
                return 0.0
            return (cost - self.tokens) / self.rate


_local_buckets: dict[str, LocalBucket] = {}
_redis_buckets: dict[tuple[str, str, float], RedisBucket] = {}
_local_lock = threading.Lock()


def pacing_url() -> str:
    return str(getattr(settings, "SMS_PACING_REDIS_URL", "") or settings.CELERY_BROKER_URL or "")


def bucket_for(sender: str) -> Bucket:
    rate = float(settings.SMS_RATE_PER_SECOND)
    url = pacing_url()
    with _local_lock:
        if url.startswith(("redis://", "rediss://", "unix://")):
            key = (url, sender, rate)
            if key not in _redis_buckets:
                _redis_buckets[key] = RedisBucket(url=url, key=sender, rate=rate)
            return _redis_buckets[key]
        bucket = _local_buckets.get(sender)
        if bucket is None or bucket.rate != rate:
            bucket = _local_buckets[sender] = LocalBucket(rate=rate)
        return bucket


def acquire(bucket: Bucket, *, max_wait: float, sleep: float | None = None) -> bool:
    """Wait for a token up to `max_wait` seconds. False means: give the work back and retry
    later, rather than hold a worker."""
    deadline = time.monotonic() + max_wait
    while True:
        wait = bucket.try_take()
        if wait <= 0:
            return True
        if time.monotonic() + wait > deadline:
            return False
        time.sleep(wait if sleep is None else sleep)
