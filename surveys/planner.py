"""The planner: every contact gets exactly one decision, an invitation with a `send_after`
inside the debtor's allowed window, or a suppression with its reason.

It pulls work (contacts with no invitation yet) instead of being called by the ingest, so the
collection-system app never knows surveys exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncMonth

from collections_link.models import Contact
from surveys.models import (
    CatiCase,
    Channel,
    Invitation,
    InvitationStatus,
    OptOut,
    Policy,
    SmsMessage,
    SuppressionReason,
    Survey,
    SurveyVersion,
    new_token,
)
from surveys.policies import client_window_profile, policy_for_client
from surveys.windows import next_allowed, possible_time_zones

logger = logging.getLogger(__name__)

# A random spread after a window opens, so a thousand invitations due at 09:00 do not all fire
# in the same second.
JITTER_SECONDS = 15 * 60
# Two planners must not decide about the same debtor at once (the 30-day cap spans clients),
# so a run holds this PostgreSQL advisory lock; a second run finds it taken and skips.
PLANNER_LOCK_KEY = 0x5E7EA1


@dataclass
class PlanSummary:
    planned: int = 0
    invited: int = 0
    to_cati: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)
    skipped_locked: bool = False

    def add_suppressed(self, reason: str) -> None:
        self.suppressed[reason] = self.suppressed.get(reason, 0) + 1


def _max_contact_age() -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, "SURVEY_MAX_CONTACT_AGE_DAYS", 14))


def _sample_draw(contact_id: int) -> float:
    """A stable draw in [0, 1) per contact, so planning the same contact twice (a crash, a
    re-run) makes the same sampling decision."""
    digest = hashlib.blake2b(f"sample:{contact_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _is_mobile(phone_e164: str) -> bool:
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def _survey_version_for(client_id: int, cache: dict[int | None, SurveyVersion]) -> SurveyVersion:
    if client_id in cache:
        return cache[client_id]
    survey = Survey.objects.filter(client_id=client_id).first()
    if survey is None:
        if None not in cache:
            default = Survey.objects.filter(client__isnull=True).order_by("pk").first()
            if default is None:
                from surveys.seed import survey_default_ensure

                default = survey_default_ensure()
            cache[None] = default.current_version()
        cache[client_id] = cache[None]
    else:
        cache[client_id] = survey.current_version()
    return cache[client_id]


def _invalid_numbers(phones: set[str], *, now: dt.datetime) -> set[str]:
    """The numbers the carrier recently called invalid (the codes SMS_ERROR_ACTIONS maps to
    "invalid_number": 21211, 30005), unless a message reached them since: neither a text nor a
    call can reach them, so a new contact with one of them is not surveyed."""
    codes = [
        code for code, action in settings.SMS_ERROR_ACTIONS.items() if action == "invalid_number"
    ]
    if not phones or not codes:
        return set()
    since = now - dt.timedelta(days=settings.SMS_INVALID_NUMBER_MEMORY_DAYS)
    rows = (
        SmsMessage.objects.filter(to__in=phones, created_at__gte=since)
        .values("to")
        .annotate(
            failed=Max("created_at", filter=Q(error_code__in=codes)),
            reached=Max("delivered_at"),
        )
        .filter(failed__isnull=False)
        .values_list("to", "failed", "reached")
    )
    return {phone for phone, failed, reached in rows if reached is None or reached <= failed}


class _Batch:
    """What one batch needs to decide without a query per contact: active opt-outs, recent
    invitations per phone (for the cap), and invitations per operator and month (for the
    sampling minimum)."""

    def __init__(self, contacts: list[Contact], *, now: dt.datetime) -> None:
        phones = {c.account.debtor.phone_e164 for c in contacts}
        self.opted_out = set(
            OptOut.objects.filter(phone_e164__in=phones, active=True).values_list(
                "phone_e164", flat=True
            )
        )
        self.invalid_numbers = _invalid_numbers(phones, now=now)
        earliest = min(c.started_at for c in contacts) - dt.timedelta(days=366)
        self.surveyed: dict[str, list[dt.datetime]] = defaultdict(list)
        for phone, started in (
            Invitation.objects.filter(phone_e164__in=phones, contact__started_at__gte=earliest)
            .exclude(status=InvitationStatus.SUPPRESSED)
            .values_list("phone_e164", "contact__started_at")
        ):
            self.surveyed[phone].append(started)
        operators = {c.operator_id for c in contacts}
        self.per_operator_month: dict[tuple[int, dt.date], int] = defaultdict(int)
        for row in (
            Invitation.objects.filter(operator_id__in=operators)
            .exclude(status=InvitationStatus.SUPPRESSED)
            .annotate(month=TruncMonth("contact__started_at", tzinfo=dt.UTC))
            .values("operator_id", "month")
            .annotate(n=Count("id"))
        ):
            self.per_operator_month[(row["operator_id"], row["month"].date())] += row["n"]

    def capped(self, phone: str, started: dt.datetime, days: int) -> bool:
        window = dt.timedelta(days=days)
        return any(abs(started - other) < window for other in self.surveyed[phone])


def _decide(
    contact: Contact,
    *,
    policy: Policy,
    batch: _Batch,
    now: dt.datetime,
    rng: random.Random,
) -> tuple[str, str, dt.datetime | None, tuple[str, ...]]:
    """(status, reason, send_after, zones) for one contact, in the order a supervisor would
    ask: may we at all, do we want to, and when."""
    debtor = contact.account.debtor
    ended = contact.ended_at or contact.started_at
    zones: tuple[str, ...] = ()
    if contact.outcome not in policy.eligible_outcomes:
        return InvitationStatus.SUPPRESSED, SuppressionReason.INELIGIBLE_OUTCOME, None, zones
    if contact.flags:
        return InvitationStatus.SUPPRESSED, SuppressionReason.FORBIDDING_FLAG, None, zones
    if debtor.phone_e164 in batch.opted_out:
        return InvitationStatus.SUPPRESSED, SuppressionReason.OPTED_OUT, None, zones
    if debtor.phone_e164 in batch.invalid_numbers:
        return InvitationStatus.SUPPRESSED, SuppressionReason.INVALID_NUMBER, None, zones
    if now - ended > _max_contact_age():
        return InvitationStatus.SUPPRESSED, SuppressionReason.TOO_OLD, None, zones
    if batch.capped(debtor.phone_e164, contact.started_at, policy.cap_days):
        return InvitationStatus.SUPPRESSED, SuppressionReason.CAPPED, None, zones

    channel = ""
    consent_missing = False
    for candidate in policy.channels:
        if candidate == Channel.SMS:
            needs_consent = debtor.country in policy.consent_required_countries
            if needs_consent and contact.survey_consent is not True:
                consent_missing = True
                continue
            if not _is_mobile(debtor.phone_e164):
                continue
            channel = Channel.SMS
            break
        if candidate == Channel.CATI:
            channel = Channel.CATI
            break
    if not channel:
        reason = SuppressionReason.NO_CONSENT if consent_missing else SuppressionReason.NO_CHANNEL
        return InvitationStatus.SUPPRESSED, reason, None, zones

    if _sample_draw(contact.pk) * 100 >= float(policy.sampling_rate):
        month = contact.started_at.astimezone(dt.UTC).date().replace(day=1)
        if batch.per_operator_month[(contact.operator_id, month)] >= policy.min_per_operator_month:
            return InvitationStatus.SUPPRESSED, SuppressionReason.NOT_SAMPLED, None, zones

    try:
        zones = possible_time_zones(
            debtor.phone_e164, debtor.country, subdivision=debtor.region or None
        )
    except ValueError:
        return InvitationStatus.SUPPRESSED, SuppressionReason.NO_WINDOW, None, zones
    earliest = max(ended + policy.delay_after_contact, now)
    send_after = next_allowed(
        earliest,
        zones=zones,
        profile=client_window_profile(contact.client_id),
        jitter_seconds=JITTER_SECONDS,
        rng=rng,
    )
    if send_after is None:
        return InvitationStatus.SUPPRESSED, SuppressionReason.NO_WINDOW, None, zones
    status = InvitationStatus.SCHEDULED if channel == Channel.SMS else InvitationStatus.CATI
    return status, channel, send_after, zones


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite serialises writers on its own.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [PLANNER_LOCK_KEY])
        row = cursor.fetchone()
    return bool(row and row[0])


def contacts_plan(
    *, now: dt.datetime, batch_size: int = 1000, limit: int | None = None, seed: int | None = None
) -> PlanSummary:
    """Decide for every contact that has no invitation yet. Safe to run concurrently and
    repeatedly: a contact is decided once (one-to-one invitation), under the planner lock."""
    summary = PlanSummary()
    rng = random.Random(seed)
    policies: dict[int, Policy] = {}
    versions: dict[int | None, SurveyVersion] = {}
    while limit is None or summary.planned < limit:
        size = batch_size if limit is None else min(batch_size, limit - summary.planned)
        with transaction.atomic():
            if not _try_lock():
                summary.skipped_locked = True
                logger.info("Another planner holds the lock; skipping this run.")
                return summary
            contacts = list(
                Contact.objects.filter(invitation__isnull=True, started_at__lte=now)
                .select_related("account__debtor", "client")
                .order_by("started_at", "pk")[:size]
            )
            if not contacts:
                break
            _plan_batch(
                contacts, now=now, rng=rng, policies=policies, versions=versions, summary=summary
            )
    return summary


def _plan_batch(
    contacts: Iterable[Contact],
    *,
    now: dt.datetime,
    rng: random.Random,
    policies: dict[int, Policy],
    versions: dict[int | None, SurveyVersion],
    summary: PlanSummary,
) -> None:
    contacts = list(contacts)
    batch = _Batch(contacts, now=now)
    invitations: list[Invitation] = []
    for contact in contacts:
        policy = policy_for_client(contact.client, cache=policies)
        status, reason_or_channel, send_after, zones = _decide(
            contact, policy=policy, batch=batch, now=now, rng=rng
        )
        debtor = contact.account.debtor
        invitation = Invitation(
            contact=contact,
            client_id=contact.client_id,
            operator_id=contact.operator_id,
            debtor=debtor,
            phone_e164=debtor.phone_e164,
            language=debtor.language,
            time_zones=" ".join(zones),
            status=status,
            created_at=now,
        )
        summary.planned += 1
        if status == InvitationStatus.SUPPRESSED:
            invitation.suppression_reason = reason_or_channel
            summary.add_suppressed(reason_or_channel)
        else:
            assert send_after is not None
            invitation.channel = reason_or_channel
            invitation.send_after = send_after
            invitation.token = new_token()
            invitation.expires_at = send_after + policy.link_lifetime
            invitation.survey_version = _survey_version_for(contact.client_id, versions)
            if invitation.channel == Channel.SMS:
                summary.invited += 1
                if Channel.CATI in policy.channels[policy.channels.index(Channel.SMS) + 1 :]:
                    invitation.fallback_at = send_after + policy.fallback_delay
                if policy.reminder_after:
                    invitation.reminder_at = send_after + policy.reminder_after
            else:
                summary.to_cati += 1
            batch.surveyed[debtor.phone_e164].append(contact.started_at)
            month = contact.started_at.astimezone(dt.UTC).date().replace(day=1)
            batch.per_operator_month[(contact.operator_id, month)] += 1
        invitations.append(invitation)
    Invitation.objects.bulk_create(invitations)
    cases = [
        CatiCase(invitation=inv, client_id=inv.client_id, due_at=inv.send_after, created_at=now)
        for inv in invitations
        if inv.status == InvitationStatus.CATI and inv.send_after is not None
    ]
    if cases:
        CatiCase.objects.bulk_create(cases)


def suppression_counts(*, client_ids: Iterable[int] | None = None) -> dict[str, int]:
    """How many contacts were not surveyed, by reason."""
    qs = Invitation.objects.filter(status=InvitationStatus.SUPPRESSED)
    if client_ids is not None:
        qs = qs.filter(client_id__in=list(client_ids))
    return dict(
        qs.values_list("suppression_reason")
        .annotate(n=Count("id"))
        .values_list("suppression_reason", "n")
    )


def status_counts(*, client_ids: Iterable[int] | None = None) -> dict[str, int]:
    """How many invitations are in each state."""
    qs = Invitation.objects.all()
    if client_ids is not None:
        qs = qs.filter(client_id__in=list(client_ids))
    return dict(qs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
