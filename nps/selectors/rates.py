"""Response rates (AAPOR Standard Definitions) and the SMS funnel, counted in SQL.

The sample unit is the invitation: one debtor asked about one contact, over SMS, CATI or
both (an unanswered SMS handed to CATI is one case, not two).

Every invitation gets one final disposition class, the first that applies:

1. a response with a score that is complete: **I**; with a score, not complete: **P** (the
   debtor stopped after the score, which already counts);
2. a CATI case with a final disposition: that disposition's AAPOR class (a break-off is R, a
   wrong number UO, a number not in service NE, ...);
3. a CATI case still in the queue: *open* (not yet final, left out of the rates);
4. a CATI case closed without a final disposition (attempts exhausted): the class of its
   last call (no answer, busy and answering machine are UH), or UH if it was never called
   (AAPOR's telephone rules: "not attempted" is unknown eligibility, household);
5. an invitation never sent (still scheduled, or expired, cancelled by an opt-out, or
   stopped by a closed window before the first send): **not in the sample**, like a
   suppressed one. We never asked these debtors anything;
6. an SMS invitation whose link is still valid: *open*;
7. the debtor opened the link (or started the survey) and gave no score: **R**, a break-off
   (AAPOR 2.1121, "logged on to the survey, did not complete any items");
8. otherwise, an SMS invitation sent (or that failed to send) and never answered: **UO**.

Why UO and not NC for the unanswered SMS: nothing came back, so we know nothing about
whether the message reached the debtor, was read by someone else, or went to a number that is
no longer theirs. That is AAPOR's "invitation sent, nothing returned" (3.1x for surveys of
named persons by internet), unknown eligibility, and it mirrors how the CATI dispositions
treat a call nobody picked up (UH). RR1, RR2, REF1 and CON1 put NC and UO in the same
denominators, so the choice matters only for RR3/RR4, where counting them as certainly
eligible (NC) would be the bolder claim.

Suppressed invitations (opted out, capped, no consent...) are not in the sample at all.

The SMS funnel counts invitations whose invitation SMS went out: *sent* (handed to the
provider), *delivered* (a delivery receipt, or evidence of one: the link was opened or the
debtor answered by SMS or on the page; carriers do not all send receipts), *opened* (the
link was opened) and *completed* (a complete response by web or SMS reply). Its rates are
relative to delivered, each with a Wilson 95 % interval; the delivery rate is delivered / sent.

Grouping and dates follow the contact the invitation rates: its operator, its channel (phone,
home visit), its outcome, and its local day (agency time zone) for the date filter and the
week / month / quarter keys; ``channel`` is the invitation's final mode (sms or cati).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from nps.rollup import local_midnight, trunc_period
from nps.selectors._common import PERIOD_KEYS, Names, check_group_by, without_jit
from nps.stats import aapor_rates, wilson
from nps.types import NpsFilters
from surveys.models import (
    CallAttempt,
    CatiCaseStatus,
    Channel,
    Invitation,
    InvitationStatus,
    ResponseChannel,
    SmsKind,
    SmsStatus,
)

AAPOR_CLASSES: tuple[str, ...] = ("I", "P", "R", "NC", "O", "UH", "UO", "NE")
OPEN = "open"
NOT_FIELDED = "not_fielded"

# Response channels (the NpsFilters vocabulary) to the invitation's mode.
_MODE_OF_CHANNEL: dict[str, str] = {
    ResponseChannel.WEB.value: Channel.SMS.value,
    ResponseChannel.SMS_REPLY.value: Channel.SMS.value,
    ResponseChannel.CATI.value: Channel.CATI.value,
    Channel.SMS.value: Channel.SMS.value,
}

RATE_FIELD: dict[str, str] = {
    "client": "client_id",
    "operator": "operator_id",
    "channel": "channel",
    "contact_channel": "contact__channel",
    "outcome": "contact__outcome",
}


def invitation_modes(channels: Sequence[str]) -> list[str]:
    """The invitation modes (sms, cati) a list of response channels or modes names."""
    unknown = [c for c in channels if c not in _MODE_OF_CHANNEL]
    if unknown:
        raise ValueError(f"unknown channel {', '.join(map(repr, unknown))}")
    return sorted({str(_MODE_OF_CHANNEL[c]) for c in channels})


def invitations_in_sample(filters: NpsFilters) -> QuerySet[Invitation]:
    """Invitations (not suppressed) of the filters' clients, by the contact they rate."""
    invitations = Invitation.objects.filter(client_id__in=list(filters.client_ids)).exclude(
        status=InvitationStatus.SUPPRESSED
    )
    if filters.operator_ids is not None:
        invitations = invitations.filter(operator_id__in=list(filters.operator_ids))
    if filters.channels is not None:
        invitations = invitations.filter(channel__in=invitation_modes(filters.channels))
    if filters.contact_channels is not None:
        invitations = invitations.filter(contact__channel__in=list(filters.contact_channels))
    if filters.outcomes is not None:
        invitations = invitations.filter(contact__outcome__in=list(filters.outcomes))
    if filters.date_from is not None:
        invitations = invitations.filter(contact__started_at__gte=local_midnight(filters.date_from))
    if filters.date_to is not None:
        invitations = invitations.filter(
            contact__started_at__lt=local_midnight(filters.date_to + dt.timedelta(days=1))
        )
    return invitations


def with_sample_response(
    invitations: QuerySet[Invitation], filters: NpsFilters
) -> QuerySet[Invitation]:
    """The invitations with their response joined as ``sample_response``, the join limited to
    the filters' clients.

    A response carries its invitation's client (``surveys.responses`` copies it when the
    response is created), so for invitations of those clients the limit leaves every match
    in place; what it changes is the plan: PostgreSQL reads only those clients' responses
    into the hash join instead of hashing every response of every client."""
    return invitations.annotate(
        sample_response=FilteredRelation(
            "response", condition=Q(response__client_id__in=list(filters.client_ids))
        )
    )


def disposition_class(now: dt.datetime, *, response: str = "response") -> Case:
    """The invitation's final AAPOR class, "open", or "not_fielded" (module docstring).
    `response` names the relation to the invitation's response (``sample_response`` on a
    queryset from `with_sample_response`)."""
    last_call = (
        CallAttempt.objects.filter(case_id=OuterRef("cati__id"), disposition__isnull=False)
        .order_by("-started_at", "-pk")
        .values("disposition__aapor_class")[:1]
    )
    scored = Q(**{f"{response}__score__isnull": False})
    link_valid = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    never_sent = Q(sent_at__isnull=True) & ~Q(status=InvitationStatus.FAILED)
    return Case(
        When(scored & Q(**{f"{response}__complete": True}), then=Value("I")),
        When(scored, then=Value("P")),
        When(cati__final_disposition__isnull=False, then=F("cati__final_disposition__aapor_class")),
        When(Q(cati__id__isnull=False) & ~Q(cati__status=CatiCaseStatus.DONE), then=Value(OPEN)),
        When(
            cati__id__isnull=False,
            then=Coalesce(Subquery(last_call), Value("UH"), output_field=CharField()),
        ),
        When(Q(status=InvitationStatus.CANCELLED) | never_sent, then=Value(NOT_FIELDED)),
        When(
            Q(
                status__in=[
                    InvitationStatus.SCHEDULED,
                    InvitationStatus.SENDING,
                    InvitationStatus.SENT,
                    InvitationStatus.PARTIAL,
                ]
            )
            & link_valid,
            then=Value(OPEN),
        ),
        When(Q(**{f"{response}__id__isnull": False}) | Q(opened_at__isnull=False), then=Value("R")),
        default=Value("UO"),
        output_field=CharField(),
    )


def _invitation_sms() -> dict[str, FilteredRelation]:
    """The invitation's invitation SMS as a LEFT JOIN (at most one row per invitation: the
    ``sms_one_per_invitation_kind`` constraint), read once per row instead of a subquery per
    funnel count."""
    return {
        "invitation_sms": FilteredRelation(
            "messages", condition=Q(messages__kind=SmsKind.INVITATION)
        )
    }


def _funnel_counts() -> dict[str, Count]:
    sent = Q(invitation_sms__sent_at__isnull=False)
    by_sms = Q(
        sample_response__complete=True,
        sample_response__channel__in=[ResponseChannel.WEB, ResponseChannel.SMS_REPLY],
    )
    answered_by_sms = Q(
        sample_response__id__isnull=False,
        sample_response__channel__in=[ResponseChannel.WEB, ResponseChannel.SMS_REPLY],
    )
    delivered = (
        Q(invitation_sms__status=SmsStatus.DELIVERED) | Q(opened_at__isnull=False) | answered_by_sms
    )
    return {
        "sms_sent": Count("pk", filter=sent),
        "sms_delivered": Count("pk", filter=sent & delivered),
        "sms_opened": Count("pk", filter=sent & Q(opened_at__isnull=False)),
        "sms_completed": Count("pk", filter=sent & by_sms),
    }


def _proportion(prefix: str, k: int, n: int) -> dict[str, float | None]:
    p = wilson(k, n)
    return {f"{prefix}_rate": p.p, f"{prefix}_low": p.low, f"{prefix}_high": p.high}


def response_rates(
    *,
    filters: NpsFilters,
    group_by: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Per group (``keys`` and ``extra`` as in nps_table, over the contact the invitation
    rates, and the same keys and names at the top level of the row): the final
    disposition counts I, P, R, NC, O, UH, UO, NE; ``open`` (still in the field, left out);
    RR1, RR2, RR3, RR4, COOP1, COOP2, REF1, CON1 and e (nps.stats.aapor_rates, fractions
    0..1, None when undefined); and the SMS funnel with Wilson intervals. Sorted by keys."""
    wanted = check_group_by(group_by)
    if not filters.client_ids:
        return []
    now = now or timezone.now()
    keys = {
        f"g_{k}": trunc_period(k, "contact__started_at") if k in PERIOD_KEYS else F(RATE_FIELD[k])
        for k in wanted
    }
    grouped = (
        with_sample_response(invitations_in_sample(filters), filters)
        .annotate(**_invitation_sms(), _class=disposition_class(now, response="sample_response"))
        .values(**keys, g_aapor=F("_class"))
        .annotate(n=Count("pk"), **_funnel_counts())
        .order_by()
    )
    with without_jit():
        found = list(grouped)
    groups: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in found:
        cell = tuple(row[f"g_{k}"] for k in wanted)
        acc = groups.setdefault(
            cell,
            {c: 0 for c in (*AAPOR_CLASSES, OPEN, NOT_FIELDED)}
            | {"sms_sent": 0, "sms_delivered": 0, "sms_opened": 0, "sms_completed": 0},
        )
        acc[row["g_aapor"]] = acc.get(row["g_aapor"], 0) + int(row["n"])
        for name in ("sms_sent", "sms_delivered", "sms_opened", "sms_completed"):
            acc[name] += int(row[name])

    names = Names.of_cells(wanted, groups)
    out: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for cell, acc in groups.items():
        keys_out, extra = names.readable(wanted, cell)
        rates = aapor_rates(**{c: acc[c] for c in AAPOR_CLASSES})
        # The keys and names also sit at the top level, so a row reads like a table row.
        row_out: dict[str, Any] = {**keys_out, **extra, "keys": keys_out, "extra": extra}
        row_out.update({c: acc[c] for c in AAPOR_CLASSES})
        row_out["cases"] = sum(acc[c] for c in AAPOR_CLASSES)
        row_out["open"] = acc[OPEN]
        row_out.update(
            rr1=rates.rr1,
            rr2=rates.rr2,
            rr3=rates.rr3,
            rr4=rates.rr4,
            coop1=rates.coop1,
            coop2=rates.coop2,
            ref1=rates.ref1,
            con1=rates.con1,
            e=rates.e,
        )
        sent, delivered = acc["sms_sent"], acc["sms_delivered"]
        row_out.update(
            sms_sent=sent,
            sms_delivered=delivered,
            sms_opened=acc["sms_opened"],
            sms_completed=acc["sms_completed"],
        )
        row_out.update(_proportion("delivered", delivered, sent))
        row_out.update(_proportion("opened", acc["sms_opened"], delivered))
        row_out.update(_proportion("completed", acc["sms_completed"], delivered))
        out.append((tuple(keys_out[k] for k in wanted), row_out))
    # Groups made only of invitations never sent have nothing to report.
    out = [(k, r) for k, r in out if r["cases"] or r["open"] or r["sms_sent"]]
    out.sort(key=lambda item: item[0])
    return [row for _, row in out]
