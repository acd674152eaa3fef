"""What the supervisor page reads about CATI: the queue by state, who is working, completes per
hour, and the AAPOR outcome rates per client and per caller.

AAPOR rates (Standard Definitions, 10th ed.; reference/domain.md 3.2) are computed on the cases
a caller brought to a final disposition (closed cases with a `final_disposition`), one case one
outcome, in its disposition's class: I complete, P partial, R refusal and break-off,
NC non-contact, O other, UH/UO unknown eligibility, NE not eligible. Cases closed by something
else (answered on the web page, opted out by SMS) are not CATI outcomes and are left out.
A case's caller is the one who recorded its last disposition.

  RR1   = I / ((I+P) + (R+NC+O) + (UH+UO))
  RR2   = (I+P) / ((I+P) + (R+NC+O) + (UH+UO))
  COOP1 = I / ((I+P) + R + O)
  REF1  = R / ((I+P) + (R+NC+O) + (UH+UO))
  CON1  = ((I+P) + R + O) / ((I+P) + R + O + NC + (UH+UO))

NE cases are counted and shown but enter no rate. A rate whose denominator is 0 is None.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate

from collections_link.models import Client
from surveys.models import CallAttempt, CatiCase, CatiCaseStatus

AAPOR_CLASSES = ("I", "P", "R", "NC", "O", "UH", "UO", "NE")
WORKING_WINDOW = dt.timedelta(minutes=15)
# A caller's day on the phone counts at least this long, so one lone call is not "a complete
# in zero hours".
MIN_SESSION = dt.timedelta(minutes=15)


@dataclass
class AaporCounts:
    I: int = 0  # noqa: E741
    P: int = 0
    R: int = 0
    NC: int = 0
    O: int = 0  # noqa: E741
    UH: int = 0
    UO: int = 0
    NE: int = 0

    def add(self, aapor_class: str, n: int) -> None:
        setattr(self, aapor_class, getattr(self, aapor_class) + n)

    @property
    def total(self) -> int:
        return sum(getattr(self, c) for c in AAPOR_CLASSES)


@dataclass(frozen=True)
class AaporRates:
    RR1: float | None
    RR2: float | None
    COOP1: float | None
    REF1: float | None
    CON1: float | None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def aapor_rates(c: AaporCounts) -> AaporRates:
    interviews = c.I + c.P
    all_eligible_and_unknown = interviews + (c.R + c.NC + c.O) + (c.UH + c.UO)
    cooperating_base = interviews + c.R + c.O
    return AaporRates(
        RR1=_ratio(c.I, all_eligible_and_unknown),
        RR2=_ratio(interviews, all_eligible_and_unknown),
        COOP1=_ratio(c.I, cooperating_base),
        REF1=_ratio(c.R, all_eligible_and_unknown),
        CON1=_ratio(cooperating_base, cooperating_base + c.NC + c.UH + c.UO),
    )


def _final_cases(
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    client_ids: Iterable[int] | None,
) -> QuerySet[CatiCase]:
    qs = CatiCase.objects.filter(status=CatiCaseStatus.DONE, final_disposition__isnull=False)
    if since is not None:
        qs = qs.filter(closed_at__gte=since)
    if until is not None:
        qs = qs.filter(closed_at__lt=until)
    if client_ids is not None:
        qs = qs.filter(client_id__in=list(client_ids))
    return qs


def aapor_counts_by_client(
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    client_ids: Iterable[int] | None = None,
) -> dict[int, AaporCounts]:
    """Final CATI outcomes per client id, counted in SQL."""
    out: dict[int, AaporCounts] = defaultdict(AaporCounts)
    rows = (
        _final_cases(since=since, until=until, client_ids=client_ids)
        .values_list("client_id", "final_disposition__aapor_class")
        .annotate(n=Count("id"))
        .order_by()
    )
    for client_id, aapor_class, n in rows:
        out[client_id].add(aapor_class, n)
    return dict(out)


def aapor_counts_by_caller(
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    client_ids: Iterable[int] | None = None,
) -> dict[int | None, AaporCounts]:
    """Final CATI outcomes per caller (the user who recorded the case's last disposition)."""
    last_caller = (
        CallAttempt.objects.filter(case=OuterRef("pk"), disposition__isnull=False)
        .order_by("-started_at", "-pk")
        .values("caller_id")[:1]
    )
    out: dict[int | None, AaporCounts] = defaultdict(AaporCounts)
    rows = (
        _final_cases(since=since, until=until, client_ids=client_ids)
        .annotate(caller_id=Subquery(last_caller))
        .values_list("caller_id", "final_disposition__aapor_class")
        .annotate(n=Count("id"))
        .order_by()
    )
    for caller_id, aapor_class, n in rows:
        out[caller_id].add(aapor_class, n)
    return dict(out)


@dataclass(frozen=True)
class QueueCounts:
    due_now: int
    waiting: int
    callbacks_booked: int
    held: int
    held_lease_expired: int
    closed_in_period: int

    @property
    def queued(self) -> int:
        return self.due_now + self.waiting


def cati_queue_counts(
    *,
    now: dt.datetime,
    since: dt.datetime | None = None,
    client_ids: Iterable[int] | None = None,
) -> QueueCounts:
    qs = CatiCase.objects.all()
    if client_ids is not None:
        qs = qs.filter(client_id__in=list(client_ids))
    queued = Q(status=CatiCaseStatus.QUEUED)
    held = Q(status=CatiCaseStatus.HELD)
    closed = Q(status=CatiCaseStatus.DONE)
    if since is not None:
        closed &= Q(closed_at__gte=since)
    row = qs.aggregate(
        due_now=Count("id", filter=queued & Q(due_at__lte=now)),
        waiting=Count("id", filter=queued & Q(due_at__gt=now)),
        callbacks=Count("id", filter=queued & Q(callback_at__gt=now)),
        held=Count("id", filter=held),
        stale=Count("id", filter=held & Q(lease_expires_at__lte=now)),
        closed=Count("id", filter=closed),
    )
    return QueueCounts(
        due_now=row["due_now"],
        waiting=row["waiting"],
        callbacks_booked=row["callbacks"],
        held=row["held"],
        held_lease_expired=row["stale"],
        closed_in_period=row["closed"],
    )


@dataclass
class CallerRow:
    caller_id: int | None
    username: str
    calls: int = 0
    completes: int = 0
    partials: int = 0
    hours: float = 0.0
    holding: int | None = None
    last_call_at: dt.datetime | None = None
    counts: AaporCounts = field(default_factory=AaporCounts)

    @property
    def completes_per_hour(self) -> float | None:
        return self.completes / self.hours if self.hours else None

    @property
    def rates(self) -> AaporRates:
        return aapor_rates(self.counts)


def callers_working(*, now: dt.datetime) -> list[CallerRow]:
    """Callers holding a case now or who ended a call in the last 15 minutes."""
    user_model = get_user_model()
    holding = dict(
        CatiCase.objects.filter(status=CatiCaseStatus.HELD).values_list("held_by_id", "pk")
    )
    recent = dict(
        CallAttempt.objects.filter(started_at__gte=now - WORKING_WINDOW, caller_id__isnull=False)
        .values_list("caller_id")
        .annotate(last=Max("started_at"))
        .values_list("caller_id", "last")
    )
    ids = set(holding) | set(recent)
    names = dict(user_model.objects.filter(pk__in=ids).values_list("pk", "username"))
    rows = [
        CallerRow(
            caller_id=pk,
            username=names.get(pk, "?"),
            holding=holding.get(pk),
            last_call_at=recent.get(pk),
        )
        for pk in ids
    ]
    return sorted(rows, key=lambda r: r.username)


def caller_productivity(
    *,
    since: dt.datetime,
    until: dt.datetime,
    tz: ZoneInfo,
    client_ids: Iterable[int] | None = None,
) -> list[CallerRow]:
    """Per caller over the period: calls placed, completes, partials, hours on the phone and
    completes per hour. Hours are counted per local day, from the caller's first call to the end
    of their last one (at least MIN_SESSION a day): the console has no log-in clock, and this is
    what a supervisor reads off a shift."""
    qs = CallAttempt.objects.filter(
        started_at__gte=since, started_at__lt=until, caller_id__isnull=False
    )
    # A claim released without dialling is not a call.
    qs = qs.exclude(disposition__isnull=True, lease_lost=False, ended_at__isnull=False)
    if client_ids is not None:
        qs = qs.filter(case__client_id__in=list(client_ids))
    per_day = (
        qs.annotate(day=TruncDate("started_at", tzinfo=tz))
        .values_list("caller_id", "day")
        .annotate(
            first=Min("started_at"),
            last=Max(Coalesce("ended_at", "started_at")),
            calls=Count("id"),
            completes=Count("id", filter=Q(disposition__aapor_class="I")),
            partials=Count("id", filter=Q(disposition__aapor_class="P")),
        )
        .order_by()
    )
    rows: dict[int, CallerRow] = {}
    for caller_id, _day, first, last, calls, completes, partials in per_day:
        row = rows.setdefault(caller_id, CallerRow(caller_id=caller_id, username=""))
        row.calls += calls
        row.completes += completes
        row.partials += partials
        row.hours += max(last - first, MIN_SESSION).total_seconds() / 3600
        row.last_call_at = max(row.last_call_at or last, last)
    names = dict(get_user_model().objects.filter(pk__in=rows).values_list("pk", "username"))
    counts = aapor_counts_by_caller(since=since, until=until, client_ids=client_ids)
    for pk, row in rows.items():
        row.username = names.get(pk, "?")
        row.counts = counts.get(pk, AaporCounts())
    for caller_pk, c in counts.items():
        if caller_pk is not None and caller_pk not in rows:
            rows[caller_pk] = CallerRow(caller_id=caller_pk, username="", counts=c)
    missing = [pk for pk, r in rows.items() if not r.username]
    if missing:
        names = dict(get_user_model().objects.filter(pk__in=missing).values_list("pk", "username"))
        for pk in missing:
            rows[pk].username = names.get(pk, "?")
    return sorted(rows.values(), key=lambda r: r.username)


@dataclass(frozen=True)
class ClientAapor:
    client: Client
    counts: AaporCounts

    @property
    def rates(self) -> AaporRates:
        return aapor_rates(self.counts)


def aapor_by_client(
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    client_ids: Iterable[int] | None = None,
) -> list[ClientAapor]:
    counts = aapor_counts_by_client(since=since, until=until, client_ids=client_ids)
    clients = Client.objects.filter(pk__in=counts).order_by("name")
    return [ClientAapor(client=c, counts=counts[c.pk]) for c in clients]
