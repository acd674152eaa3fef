"""Thin Celery tasks for the CATI queue."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def cati_housekeeping_task() -> dict[str, int]:
    """Return to the queue the cases whose caller vanished, and close the cases whose
    invitation expired before anyone called (a claim that finds nothing does both too; the beat
    keeps them running when nobody asks for a case)."""
    from surveys.channels.cati import cati_cases_expire, cati_leases_expire

    return {"leases_expired": cati_leases_expire(), "cases_expired": cati_cases_expire()}
