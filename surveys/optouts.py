"""Opt-outs and opt-ins: one list of numbers, for every client at once."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from surveys.models import (
    CatiCase,
    CatiCaseStatus,
    Invitation,
    InvitationStatus,
    OptOut,
    OptOutEvent,
)


@transaction.atomic
def opt_out_record(
    *, phone_e164: str, source: str, detail: str = "", now: dt.datetime | None = None
) -> tuple[OptOut, bool]:
    """Opt the number out of surveys for every client, at once. Returns (row, changed): changed
    is False when it was already out (so at most one confirmation is ever sent)."""
    now = now or timezone.now()
    opt_out, created = OptOut.objects.select_for_update().get_or_create(
        phone_e164=phone_e164, defaults={"active": True, "updated_at": now}
    )
    changed = created or not opt_out.active
    if not created and not opt_out.active:
        opt_out.active = True
        opt_out.updated_at = now
        opt_out.save(update_fields=["active", "updated_at"])
    OptOutEvent.objects.create(
        opt_out=opt_out, opted_out=True, source=source, detail=detail[:300], at=now
    )
    # Nothing more goes to this number: pending invitations are cancelled and open CATI cases
    # closed, for every client.
    Invitation.objects.filter(
        phone_e164=phone_e164, status__in=[InvitationStatus.SCHEDULED, InvitationStatus.CATI]
    ).update(status=InvitationStatus.CANCELLED)
    CatiCase.objects.filter(invitation__phone_e164=phone_e164, status=CatiCaseStatus.QUEUED).update(
        status=CatiCaseStatus.DONE, closed_at=now
    )
    return opt_out, changed


@transaction.atomic
def opt_in_record(
    *, phone_e164: str, source: str, detail: str = "", now: dt.datetime | None = None
) -> bool:
    """Reverse an opt-out. Returns True when the number was out and is now back in."""
    now = now or timezone.now()
    opt_out = OptOut.objects.select_for_update().filter(phone_e164=phone_e164).first()
    if opt_out is None or not opt_out.active:
        return False
    opt_out.active = False
    opt_out.updated_at = now
    opt_out.confirmation_sent = False
    opt_out.save(update_fields=["active", "updated_at", "confirmation_sent"])
    OptOutEvent.objects.create(
        opt_out=opt_out, opted_out=False, source=source, detail=detail[:300], at=now
    )
    return True


def is_opted_out(phone_e164: str) -> bool:
    return OptOut.objects.filter(phone_e164=phone_e164, active=True).exists()
