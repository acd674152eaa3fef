"""The closed loop on detractors: every detractor answer (score 0-6) becomes one follow-up case
for the client's supervisor, with an owner, a due time, a status and notes.

How cases are opened: the nps app *pulls* (DESIGN.md): `followups_open()` looks for scored
detractor responses that have no case yet and opens one per response. `FollowUpCase.response`
is one-to-one, so a second pass (or a second submit of the same survey, which updates the same
response) can never open a second case; two passes racing each other collide on that
constraint and the loser skips the row.

Who owns a case: the client's first active client viewer by user id (the longest-standing
viewer of that client), or nobody when the client has none. Either way the case can be
reassigned on its page to another viewer of the same client or to agency staff.

The e-mail: one per case, ever. The case is claimed with a guarded update on `email_sent_at`
(only the pass that moves it from null sends), so two passes or a retried task cannot send it
twice. A case with no owner, or an owner with no e-mail address, is mailed by the first pass
after it gets one. The e-mail carries no debt data and no free text from the debtor: only the
score, when it was given and the link to the case.

A follow-up is a human conversation, never another survey: nothing here creates an invitation
or sends an SMS, and the case page shows when the debtor's number opted out of surveys so the
supervisor does not text them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Container
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from collections_link.models import Client, Membership, Role
from collections_link.roles import is_agency_staff
from nps.models import FollowUpCase, FollowUpNote, FollowUpStatus
from surveys.models import OptOut, Response

logger = logging.getLogger(__name__)

DETRACTOR_MAX_SCORE = 6
# Working days the owner has to get back to the debtor (weekends and the client country's
# public holidays do not count). Settings can override it.
DUE_BUSINESS_DAYS = 2
# A debtor may add the reason a few minutes after the score: wait for the survey to be
# completed, or this long after the score, so the case opens with the reason in it.
GRACE_AFTER_SCORE = dt.timedelta(minutes=30)
# Answers older than this never open a case (a first deployment must not flood supervisors
# with last year's detractors; a month-old complaint needs a different conversation).
LOOKBACK = dt.timedelta(days=30)
BATCH = 500

# Forward moves only; a resolved case stays resolved (a new answer opens a new case).
TRANSITIONS: dict[str, frozenset[str]] = {
    FollowUpStatus.OPEN: frozenset({FollowUpStatus.CONTACTED, FollowUpStatus.RESOLVED}),
    FollowUpStatus.CONTACTED: frozenset({FollowUpStatus.RESOLVED}),
    FollowUpStatus.RESOLVED: frozenset(),
}


class TransitionError(Exception):
    """The case is not in a state that allows this move (or the move needs a note)."""


@dataclass(frozen=True, slots=True)
class OpenSummary:
    opened: int
    emailed: int


def due_business_days() -> int:
    return int(getattr(settings, "NPS_FOLLOWUP_DUE_BUSINESS_DAYS", DUE_BUSINESS_DAYS))


def due_at_for(*, client: Client, now: dt.datetime, days: int | None = None) -> dt.datetime:
    """`now` plus `days` working days in the client's time zone, at the same local time."""
    days = due_business_days() if days is None else days
    tz = ZoneInfo(client.time_zone or settings.TIME_ZONE)
    local = now.astimezone(tz)
    closed: Container[dt.date]
    try:
        closed = holidays.country_holidays(client.country, years=range(local.year, local.year + 2))
    except NotImplementedError:
        # A country the holidays package does not know: weekends only.
        closed = frozenset()
    day = local.date()
    added = 0
    while added < days:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in closed:
            added += 1
    naive = dt.datetime.combine(day, local.time().replace(tzinfo=None))
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def default_owner(*, client: Client) -> User | None:
    membership = (
        Membership.objects.filter(role=Role.CLIENT_VIEWER, client=client, user__is_active=True)
        .select_related("user")
        .order_by("user_id")
        .first()
    )
    return membership.user if membership else None


def detractors_without_case(*, now: dt.datetime) -> QuerySet[Response]:
    return Response.objects.filter(
        Q(complete=True) | Q(answered_at__lte=now - GRACE_AFTER_SCORE),
        score__isnull=False,
        score__lte=DETRACTOR_MAX_SCORE,
        answered_at__gte=now - LOOKBACK,
        answered_at__lte=now,
        anonymised_at__isnull=True,
        follow_up__isnull=True,
    )


def followups_open(*, now: dt.datetime | None = None, limit: int = 5000) -> OpenSummary:
    """Open one case per detractor answer that has none, then send the owners' e-mails."""
    now = now or timezone.now()
    pending = list(
        detractors_without_case(now=now)
        .select_related("client")
        .order_by("answered_at", "pk")[:limit]
    )
    owners: dict[int, User | None] = {}
    opened = 0
    for response in pending:
        client = response.client
        if client.pk not in owners:
            owners[client.pk] = default_owner(client=client)
        try:
            # A savepoint per row: a case opened meanwhile by a concurrent pass only costs
            # that row, not the batch.
            with transaction.atomic():
                FollowUpCase.objects.create(
                    response=response,
                    client=client,
                    owner=owners[client.pk],
                    status=FollowUpStatus.OPEN,
                    due_at=due_at_for(client=client, now=now),
                    created_at=now,
                )
        except IntegrityError:
            logger.info("follow-up for response %s already opened by another pass", response.pk)
            continue
        opened += 1
    emailed = followup_emails_send(now=now)
    if opened or emailed:
        logger.info("follow-ups: %s opened, %s e-mailed", opened, emailed)
    return OpenSummary(opened=opened, emailed=emailed)


def _case_url(case: FollowUpCase) -> str:
    path = reverse("nps:followup", kwargs={"client_ref": case.client.ref, "pk": case.pk})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def followup_emails_send(*, now: dt.datetime | None = None) -> int:
    """Send the one e-mail of every case that has an owner with an address and was never
    mailed. Returns how many were sent."""
    now = now or timezone.now()
    cases = (
        FollowUpCase.objects.filter(email_sent_at__isnull=True, owner__isnull=False)
        .exclude(owner__email="")
        .select_related("owner", "client", "response")
        .order_by("pk")[:BATCH]
    )
    sent = 0
    for case in cases:
        # The claim: only the pass that moves email_sent_at from null sends.
        if not FollowUpCase.objects.filter(pk=case.pk, email_sent_at__isnull=True).update(
            email_sent_at=now
        ):
            continue
        try:
            _send_case_email(case)
        except OSError:
            # SMTP refused or unreachable: release the claim so the next pass retries.
            logger.exception("follow-up %s: e-mail to the owner failed", case.pk)
            FollowUpCase.objects.filter(pk=case.pk, email_sent_at=now).update(email_sent_at=None)
            continue
        sent += 1
    return sent


def _send_case_email(case: FollowUpCase) -> None:
    owner = case.owner
    assert owner is not None
    response = case.response
    with translation.override(case.client.default_language or settings.LANGUAGE_CODE):
        subject = _("A debtor gave a low score (%(score)s/10): please follow up") % {
            "score": response.score
        }
        due = timezone.localtime(case.due_at, ZoneInfo(case.client.time_zone))
        answered = timezone.localtime(
            response.answered_at or case.created_at, ZoneInfo(case.client.time_zone)
        )
        body = "\n\n".join(
            [
                _(
                    "A debtor answered the satisfaction survey with a score of %(score)s "
                    "out of 10 on %(when)s."
                )
                % {"score": response.score, "when": answered.strftime("%Y-%m-%d %H:%M")},
                _("Please get back to them by %(due)s and record what you did on the case:")
                % {"due": due.strftime("%Y-%m-%d %H:%M")},
                _case_url(case),
                _(
                    "This is a conversation, not another survey: do not send them messages "
                    "if the case says they opted out."
                ),
            ]
        )
    send_mail(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [owner.email],
        fail_silently=False,
    )


# --- the case page's actions ------------------------------------------------------------------


def followup_transition(
    *,
    case: FollowUpCase,
    to_status: str,
    author: User | None,
    note: str = "",
    now: dt.datetime | None = None,
) -> FollowUpCase:
    """Move the case forward (open -> contacted -> resolved, or open -> resolved). Resolving
    needs a note saying what was done. Guarded: if someone else moved the case meanwhile,
    nothing changes and TransitionError says so."""
    now = now or timezone.now()
    note = note.strip()
    if to_status not in TRANSITIONS.get(case.status, frozenset()):
        raise TransitionError(
            _("A case that is %(old)s cannot become %(new)s.")
            % {"old": case.get_status_display(), "new": to_status}
        )
    if to_status == FollowUpStatus.RESOLVED and not note:
        raise TransitionError(_("Say in a note what was done before resolving the case."))
    with transaction.atomic():
        changed = FollowUpCase.objects.filter(pk=case.pk, status=case.status).update(
            status=to_status,
            resolved_at=now if to_status == FollowUpStatus.RESOLVED else None,
            updated_at=now,
        )
        if not changed:
            raise TransitionError(_("Someone else changed this case meanwhile: reload it."))
        if note:
            FollowUpNote.objects.create(case=case, author=author, text=note, created_at=now)
    case.refresh_from_db()
    return case


def followup_note_add(
    *,
    case: FollowUpCase,
    author: User | None,
    text: str,
    now: dt.datetime | None = None,
) -> FollowUpNote:
    text = text.strip()
    if not text:
        raise TransitionError(_("A note cannot be empty."))
    return FollowUpNote.objects.create(
        case=case, author=author, text=text, created_at=now or timezone.now()
    )


def owner_choices(*, client: Client) -> QuerySet[User]:
    """Who may own a client's cases: its active client viewers and the agency's staff."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(is_active=True)
        .filter(
            Q(membership__role=Role.CLIENT_VIEWER, membership__client=client)
            | Q(membership__role__in=[Role.SUPERVISOR, Role.AGENCY_ADMIN])
            | Q(is_superuser=True)
        )
        .order_by("pk")
    )


def followup_reassign(*, case: FollowUpCase, owner: User) -> FollowUpCase:
    """Give the case to another owner. Never to a viewer of another client."""
    if not owner_choices(client=case.client).filter(pk=owner.pk).exists():
        raise TransitionError(_("This person cannot own this client's cases."))
    FollowUpCase.objects.filter(pk=case.pk).update(owner=owner, updated_at=timezone.now())
    case.refresh_from_db()
    # A case that had no owner (or one with no address) gets its one e-mail now.
    followup_emails_send()
    return case


# --- reads ------------------------------------------------------------------------------------


def followups_for(
    *, client_ids: list[int], status: str = "", overdue: bool = False, now: dt.datetime
) -> QuerySet[FollowUpCase]:
    cases = FollowUpCase.objects.filter(client_id__in=client_ids)
    if status:
        cases = cases.filter(status=status)
    if overdue:
        cases = cases.exclude(status=FollowUpStatus.RESOLVED).filter(due_at__lt=now)
    return cases.select_related("owner", "client", "response", "response__operator")


def overdue_count(*, client_ids: list[int] | None, now: dt.datetime) -> int:
    cases = FollowUpCase.objects.exclude(status=FollowUpStatus.RESOLVED).filter(due_at__lt=now)
    if client_ids is not None:
        cases = cases.filter(client_id__in=client_ids)
    return cases.count()


def opted_out_since(*, case: FollowUpCase) -> dt.datetime | None:
    """When the debtor's number opted out of surveys, if it is out now."""
    phone = case.response.invitation.phone_e164
    opt_out = OptOut.objects.filter(phone_e164=phone, active=True).first()
    return opt_out.updated_at if opt_out else None


def can_act_on(user: AbstractBaseUser, case: FollowUpCase) -> bool:
    """The page is already scoped to the user's visible clients; acting on a case is for its
    client's viewers and the agency's staff (any of them, not only the owner, so that a case
    never waits on someone on holiday)."""
    if is_agency_staff(user):
        return True
    membership = getattr(user, "membership", None)
    return bool(
        membership
        and membership.role == Role.CLIENT_VIEWER
        and membership.client_id == case.client_id
    )
