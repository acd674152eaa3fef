"""Periodic analytics work (thin: one service call each).

Beat entries (config/settings.py CELERY_BEAT_SCHEDULE):
    "nps-rollup-refresh": {"task": "nps.tasks.rollup_refresh_task", "schedule": 300.0},
    "nps-rollup-rebuild": {
        "task": "nps.tasks.rollup_rebuild_task",
        "schedule": crontab(hour=3, minute=30),
    },
"""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, soft_time_limit=250, time_limit=300)
def rollup_refresh_task() -> dict[str, object]:
    """Recount the roll-up cells changed since the last refresh (every few minutes)."""
    from nps.rollup import rollup_refresh

    result = rollup_refresh()
    return {"full": result.full, "cells": result.cell_count, "rows": result.inserted}


@shared_task(acks_late=True, soft_time_limit=1700, time_limit=1800)
def rollup_rebuild_task() -> dict[str, object]:
    """Rebuild the whole roll-up (nightly): the safety net for deleted responses and answers
    that moved to another month, which an updated_at scan cannot see."""
    from nps.rollup import rollup_rebuild

    result = rollup_rebuild()
    return {"full": True, "rows": result.inserted}
