"""Thin tasks behind the Twilio webhooks: take a stored row's id, call one service.

Processing is idempotent (a guarded stamp on the row), so a redelivered task, a replayed
webhook and the catch-up pass never act twice. Database hiccups are retried with backoff;
anything else leaves the row unprocessed for the catch-up pass.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(
    acks_late=True,
    max_retries=5,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    soft_time_limit=25,
    time_limit=30,
)
def inbound_process_task(inbound_id: int) -> str | None:
    from surveys.inbound import inbound_process

    return inbound_process(inbound_id=inbound_id)


@shared_task(
    acks_late=True,
    max_retries=5,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    soft_time_limit=25,
    time_limit=30,
)
def status_apply_task(event_id: int) -> bool:
    from surveys.status import status_apply

    return status_apply(event_id=event_id)


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def webhooks_catch_up_task() -> dict[str, int]:
    from surveys.inbound import webhooks_process_pending

    return webhooks_process_pending()
