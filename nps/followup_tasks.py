"""The periodic pass that opens follow-up cases for detractors (thin: one service call).

Beat entry (config/settings.py CELERY_BEAT_SCHEDULE):
    "followups-open": {"task": "nps.followup_tasks.followups_open_task", "schedule": 300.0}
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def followups_open_task() -> dict[str, int]:
    from nps.followups import followups_open

    summary = followups_open(now=timezone.now())
    return {"opened": summary.opened, "emailed": summary.emailed}
