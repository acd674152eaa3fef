"""Thin Celery tasks: take ids, call one service, own the retries."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=8,
    autoretry_for=(RedisConnectionError, RedisTimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    soft_time_limit=45,
    time_limit=60,
)
def sms_send_task(self, message_id: int) -> str:  # type: ignore[no-untyped-def]
    from surveys.channels.sms import sms_send

    outcome = sms_send(message_id=message_id)
    if outcome.result == "retry":
        # The row stays pending: if this retry is lost too, the requeue pass finds it.
        raise self.retry(countdown=min(60.0, outcome.retry_in))
    return outcome.result


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def plan_surveys_task() -> dict[str, object]:
    from surveys.planner import contacts_plan

    summary = contacts_plan(now=timezone.now(), limit=20_000)
    return {"planned": summary.planned, "suppressed": summary.suppressed}


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def dispatch_due_task() -> dict[str, int]:
    from surveys.dispatch import invitations_dispatch

    summary = invitations_dispatch(max_seconds=25)
    return {"claimed": summary.claimed, "queued": summary.queued}


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def sms_housekeeping_task() -> dict[str, int]:
    from surveys.dispatch import messages_reap, messages_requeue, reminders_queue

    return {
        "reaped": messages_reap(),
        "requeued": messages_requeue(),
        "reminders": reminders_queue(),
    }


@shared_task(acks_late=True, soft_time_limit=250, time_limit=300)
def invitations_housekeeping_task() -> dict[str, int]:
    from surveys.dispatch import invitations_expire, invitations_fall_back

    return {"to_cati": invitations_fall_back(), "expired": invitations_expire()}
