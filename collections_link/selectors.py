"""Recovery facts, computed in SQL on *all* placed accounts, not only on survey respondents.

Definitions used everywhere in this module (DOMAIN.md "Recovery"):

- **Net collected** on an account = its payments minus its reversals. A reversal row
  (`Payment.reversal_of` set) takes back its own amount, and it is *dated with the payment it
  undoes*: a cheque paid on day 10 and bounced on day 40 counts as nothing within 30 days, not
  as 100 within 30 days and -100 later. Money that bounced was never recovered, so a promise
  "kept" by a bounced payment is broken, and a cohort's realisation curve never falls.
- **Recovery (liquidation) rate** = net collected / amount placed, over the accounts in view.
- **Days** are calendar days in a time zone (the client's when the question is about one
  client, otherwise the agency's `TIME_ZONE`). Day 0 is the start day itself.
  "Within N days of a *date*" takes payments made on day 0 to day N inclusive: with N = 30 and
  placement on 1 October, a payment on 31 October (day 30) counts and one on 1 November
  (day 31) does not. "Within N days of a *moment*" (a datetime, such as a survey answer) takes
  payments made at or after that moment and at most exactly N x 24 hours later, so a payment
  made before the answer is never counted as following it.
- **Rates** are fractions (floats: 0.46 is 46 %), and None when their denominator is zero:
  no accounts, no contacts or no promise that fell due is "nothing to say", not 0 %.
- **as_of** is the reporting day. A day is complete once `as_of` is later than it: a promise
  falls due when `due_on + grace_days < as_of`, and a cohort's 90-day figure exists only when
  its youngest account's day 90 is before `as_of`.

Every function aggregates in the database (a fixed few queries whatever the number of
accounts: the accounts side and the payments side of a figure are grouped separately, so that
neither multiplies the other's rows); Python only pairs up the handful of grouped rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    DateField,
    DateTimeField,
    DecimalField,
    Expression,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    TruncDate,
    TruncMonth,
    TruncQuarter,
    TruncWeek,
)
from django.utils import timezone

from collections_link.models import (
    PROMISE_OUTCOMES,
    Account,
    Client,
    Contact,
    Operator,
    Payment,
    Promise,
)

ZERO = Decimal("0.00")
# Sums of many amounts need more digits than one amount; two decimals keep SQLite's sums exact
# once Django quantises them.
MONEY: DecimalField[Decimal, Decimal] = DecimalField(max_digits=20, decimal_places=2)
HORIZONS: tuple[int, ...] = (30, 60, 90)

Period = Literal["week", "month", "quarter"]
Attribution = Literal["first_contact", "last_contact_before_payment"]
_TRUNC = {"week": TruncWeek, "month": TruncMonth, "quarter": TruncQuarter}


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientRecovery:
    client: Client
    currency: str
    accounts: int
    placed: Decimal
    collected: Decimal
    rate: float | None


@dataclass(frozen=True, slots=True)
class OperatorRecovery:
    """`operator` is None for accounts no operator has worked yet (or, attributing payments,
    for payments made before any contact)."""

    operator: Operator | None
    currency: str
    accounts: int
    placed: Decimal
    collected: Decimal
    rate: float | None


@dataclass(frozen=True, slots=True)
class CohortRecovery:
    """One placement cohort. `within[30]` is what was collected by day 30 of each account's
    placement; `within_rate[30]` is None while the cohort's youngest account has not yet lived
    30 full days (as of the report), since a partial figure would understate it."""

    cohort: dt.date
    currency: str
    accounts: int
    placed: Decimal
    collected: Decimal
    rate: float | None
    within: dict[int, Decimal]
    within_rate: dict[int, float | None]


@dataclass(frozen=True, slots=True)
class ContactRates:
    contacts: int
    right_party: int
    promises: int
    promises_due: int
    promises_kept: int
    rpc_rate: float | None
    ptp_rate: float | None
    kept_rate: float | None
    broken_rate: float | None


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> float | None:
    if not denominator:
        return None
    return float(Decimal(numerator) / Decimal(denominator))


# --- building blocks -------------------------------------------------------------------------


def _tz(client: Client | None = None, tz: dt.tzinfo | None = None) -> dt.tzinfo:
    if tz is not None:
        return tz
    if client is not None:
        return ZoneInfo(client.time_zone)
    return timezone.get_current_timezone()


def _local_date(field: str, tz: dt.tzinfo) -> TruncDate:
    return TruncDate(field, tzinfo=tz)


def _date_plus(value: str | dt.date | F, days: int) -> Expression | Value:
    """`value + days` as a date: an outer field name, a field of this query (F), or a fixed
    date."""
    if isinstance(value, dt.date):
        return Value(value + dt.timedelta(days=days), output_field=DateField())
    field = OuterRef(value) if isinstance(value, str) else value
    # date + interval is a timestamp on both backends; cast it back so it compares as a date.
    return Cast(
        ExpressionWrapper(field + dt.timedelta(days=days), output_field=DateTimeField()),
        DateField(),
    )


def _shift(value: str | dt.datetime, days: int) -> Expression | Value:
    """`value + days x 24 hours`: an outer field name, or a fixed moment."""
    if not isinstance(value, str):
        return Value(value + dt.timedelta(days=days))
    return ExpressionWrapper(
        OuterRef(value) + dt.timedelta(days=days), output_field=DateTimeField()
    )


def _outer(value: str | dt.date | dt.datetime) -> OuterRef | Value:
    return OuterRef(value) if isinstance(value, str) else Value(value)


def _payment_net() -> ExpressionWrapper:
    """A payment's amount less what its reversal took back (reversal rows are skipped by the
    callers, so each reversal counts once, on the date of the payment it undoes)."""
    return ExpressionWrapper(
        F("amount") - Coalesce(F("reversed_by__amount"), Value(ZERO)), output_field=MONEY
    )


def _sum_subquery(payments: QuerySet[Payment], group: str) -> Coalesce:
    total = payments.order_by().values(group).annotate(net=Sum(_payment_net())).values("net")
    return Coalesce(Subquery(total, output_field=MONEY), Value(ZERO), output_field=MONEY)


def _net_sum(window: Q | None = None) -> Coalesce:
    return Coalesce(Sum(_payment_net(), filter=window), Value(ZERO), output_field=MONEY)


def _payments_of(accounts: QuerySet[Account], tz: dt.tzinfo) -> QuerySet[Payment]:
    """The payments (reversals folded in) of the accounts in view, each with its local day.

    Totals over many accounts are summed from this side, in one pass over the payments joined
    to their accounts: a correlated subquery per account costs a lookup per account, which
    on PostgreSQL also tips the planner into JIT compilation that can cost more than the
    query itself."""
    return Payment.objects.filter(
        reversal_of__isnull=True, account__in=accounts.values("pk")
    ).annotate(_paid_day=_local_date("paid_at", tz))


def _placement_window(days: int) -> Q:
    """Payments on day 0 to day `days` of their account's placement (for `_payments_of`)."""
    return Q(
        _paid_day__gte=F("account__placed_on"),
        _paid_day__lte=_date_plus(F("account__placed_on"), days),
    )


def net_collected(
    *,
    account: str | None = None,
    debtor: str | None = None,
    start_at: str | dt.datetime | None = None,
    start_date: str | dt.date | None = None,
    days: int | None = None,
    end_date: str | dt.date | None = None,
    tz: dt.tzinfo | None = None,
) -> Coalesce:
    """An expression for `.annotate()`: the net money collected on one account (or on all of
    one debtor's accounts) of the outer row, optionally inside a window.

    Strings name fields of the outer queryset; dates and datetimes are fixed values.

    - `account="pk"` on an Account queryset, `account="contact__account_id"` on anything
      that reaches a contact; `debtor="debtor_id"` for every account of a debtor.
    - `start_date` (a calendar day, day 0) or `start_at` (a moment) opens the window;
      `days` closes it N days later (see the module docstring for the exact bounds);
      `end_date` closes it at the end of that calendar day.

    Example, per survey response: "paid within 30 days after answering"::

        Response.objects.annotate(
            paid_30=net_collected(account="contact__account_id", start_at="answered_at", days=30)
        )
    """
    if (account is None) == (debtor is None):
        raise ValueError("net_collected needs exactly one of account= or debtor=.")
    if start_at is not None and start_date is not None:
        raise ValueError("net_collected takes start_at= or start_date=, not both.")
    if days is not None and start_at is None and start_date is None:
        raise ValueError("days= counts from a start: give start_at= or start_date=.")
    if days is not None and days < 0:
        raise ValueError("days must not be negative.")
    zone = _tz(tz=tz)
    # Reversal rows are folded into the payment they undo (see _payment_net).
    payments = Payment.objects.filter(reversal_of__isnull=True)
    if account is not None:
        payments = payments.filter(account_id=OuterRef(account))
        group = "account_id"
    elif debtor is not None:
        payments = payments.filter(account__debtor_id=OuterRef(debtor))
        group = "account__debtor_id"
    window = Q()
    if start_at is not None:
        window &= Q(paid_at__gte=_outer(start_at))
        if days is not None:
            window &= Q(paid_at__lte=_shift(start_at, days))
    if start_date is not None:
        window &= Q(_paid_day__gte=_outer(start_date))
        if days is not None:
            window &= Q(_paid_day__lte=_date_plus(start_date, days))
    if end_date is not None:
        window &= Q(_paid_day__lte=_outer(end_date))
    if window:
        payments = payments.annotate(_paid_day=_local_date("paid_at", zone)).filter(window)
    return _sum_subquery(payments, group)


def first_operator() -> Subquery:
    """The operator of an account's first contact (by start time), for `.annotate()` on an
    Account queryset; NULL when nobody has worked the account yet."""
    first = (
        Contact.objects.filter(account_id=OuterRef("pk"))
        .order_by("started_at", "pk")
        .values("operator_id")[:1]
    )
    return Subquery(first)


def accounts_in_view(
    *,
    client: Client | None = None,
    clients: Iterable[Client] | QuerySet[Client] | None = None,
    operator: Operator | None = None,
    placed_from: dt.date | None = None,
    placed_to: dt.date | None = None,
) -> QuerySet[Account]:
    """Accounts filtered the way every recovery figure filters them: by client(s), by the
    operator who worked them first, and by placement date (both bounds inclusive)."""
    accounts = Account.objects.all()
    if client is not None:
        accounts = accounts.filter(client=client)
    if clients is not None:
        accounts = accounts.filter(client__in=list(clients))
    if placed_from is not None:
        accounts = accounts.filter(placed_on__gte=placed_from)
    if placed_to is not None:
        accounts = accounts.filter(placed_on__lte=placed_to)
    if operator is not None:
        accounts = accounts.annotate(_first_operator=first_operator()).filter(
            _first_operator=operator.pk
        )
    return accounts


# --- recovery --------------------------------------------------------------------------------


def recovery_by_client(
    *,
    clients: Iterable[Client] | QuerySet[Client] | None = None,
    placed_from: dt.date | None = None,
    placed_to: dt.date | None = None,
) -> list[ClientRecovery]:
    """Placed, collected and recovery rate per client (and currency: amounts in different
    currencies are never added up). A client with no account in the period still gets a row,
    with zero amounts and rate None. Ordered by client name."""
    wanted = list(clients) if clients is not None else list(Client.objects.all())
    accounts = accounts_in_view(clients=wanted, placed_from=placed_from, placed_to=placed_to)
    placed = (
        accounts.values("client_id", "currency")
        .annotate(n=Count("pk"), placed=Sum("amount_placed"))
        .order_by()
    )
    collected = {
        (g["account__client_id"], g["account__currency"]): g["collected"]
        for g in _payments_of(accounts, _tz())
        .values("account__client_id", "account__currency")
        .annotate(collected=_net_sum())
        .order_by()
    }
    by_id = {c.pk: c for c in wanted}
    rows = []
    for g in placed:
        money = collected.get((g["client_id"], g["currency"]), ZERO)
        rows.append(
            ClientRecovery(
                client=by_id[g["client_id"]],
                currency=g["currency"],
                accounts=g["n"],
                placed=g["placed"],
                collected=money,
                rate=_ratio(money, g["placed"]),
            )
        )
    seen = {r.client.pk for r in rows}
    rows += [
        ClientRecovery(client=c, currency="", accounts=0, placed=ZERO, collected=ZERO, rate=None)
        for c in wanted
        if c.pk not in seen
    ]
    return sorted(rows, key=lambda r: (r.client.name, r.client.pk, r.currency))


def recovery_by_operator(
    *,
    client: Client,
    placed_from: dt.date | None = None,
    placed_to: dt.date | None = None,
    attribution: Attribution = "first_contact",
) -> list[OperatorRecovery]:
    """Placed, collected and recovery rate per operator, on the client's accounts.

    An account belongs to the operator of its *first* contact: the one who was given it and
    worked it first. It is stable (later contacts do not move it), it counts every placed
    account exactly once, including the ones that never paid (so rates are not flattered by
    looking only at accounts that paid), and it does not depend on who happened to be on the
    phone the day the money arrived. Accounts nobody has worked yet form a row of their own
    with `operator=None`.

    `attribution="last_contact_before_payment"` keeps the same accounts and placed amounts
    but credits each payment to the operator of the account's last contact before it (or to
    None when it came before any contact): it answers "who closed the money" rather than
    "how did the accounts each operator worked turn out". Its rate is that credited money
    over the placed amount of the accounts the operator worked first.
    """
    accounts = accounts_in_view(client=client, placed_from=placed_from, placed_to=placed_to)
    owned = (
        accounts.annotate(op=first_operator())
        .values("op", "currency")
        .annotate(
            n=Count("pk"),
            placed=Sum("amount_placed"),
            collected=Sum(net_collected(account="pk")),
        )
        .order_by()
    )
    cells: dict[tuple[int | None, str], dict[str, Any]] = {
        (g["op"], g["currency"]): {"n": g["n"], "placed": g["placed"], "collected": g["collected"]}
        for g in owned
    }
    if attribution == "last_contact_before_payment":
        for cell in cells.values():
            cell["collected"] = ZERO
        last_before = (
            Contact.objects.filter(
                account_id=OuterRef("account_id"), started_at__lte=OuterRef("paid_at")
            )
            .order_by("-started_at", "-pk")
            .values("operator_id")[:1]
        )
        credited = (
            Payment.objects.filter(reversal_of__isnull=True, account__in=accounts)
            .annotate(op=Subquery(last_before))
            .values("op", "account__currency")
            .annotate(collected=Sum(_payment_net()))
            .order_by()
        )
        for g in credited:
            cell = cells.setdefault(
                (g["op"], g["account__currency"]), {"n": 0, "placed": ZERO, "collected": ZERO}
            )
            cell["collected"] = g["collected"]
    elif attribution != "first_contact":
        raise ValueError(f"Unknown attribution {attribution!r}.")
    operators = Operator.objects.in_bulk([op for op, _ in cells if op is not None])
    rows = [
        OperatorRecovery(
            operator=operators[op] if op is not None else None,
            currency=currency,
            accounts=cell["n"],
            placed=cell["placed"],
            collected=cell["collected"],
            rate=_ratio(cell["collected"], cell["placed"]),
        )
        for (op, currency), cell in cells.items()
    ]
    # Operators by name, the unworked accounts last.
    return sorted(
        rows,
        key=lambda r: (
            r.operator is None,
            str(r.operator) if r.operator else "",
            r.operator.pk if r.operator else 0,
            r.currency,
        ),
    )


def recovery_by_cohort(
    *,
    client: Client,
    period: Period = "month",
    horizons: Sequence[int] = HORIZONS,
    as_of: dt.date | None = None,
) -> list[CohortRecovery]:
    """Per placement cohort (accounts placed in the same week, month or quarter): placed,
    collected up to `as_of` (default today, in the client's time zone), the recovery rate, and
    the cumulative realisation by day 30/60/90 of each account's own placement."""
    if period not in _TRUNC:
        raise ValueError(f"period must be one of {sorted(_TRUNC)}, not {period!r}.")
    zone = _tz(client)
    as_of = as_of or timezone.localdate(timezone=zone)
    accounts = Account.objects.filter(client=client)
    placed = (
        accounts.annotate(cohort=_TRUNC[period]("placed_on"))
        .values("cohort", "currency")
        .annotate(n=Count("pk"), placed=Sum("amount_placed"), youngest=Max("placed_on"))
        .order_by("cohort", "currency")
    )
    money = {
        (g["cohort"], g["account__currency"]): g
        for g in _payments_of(accounts, zone)
        .annotate(cohort=_TRUNC[period]("account__placed_on"))
        .values("cohort", "account__currency")
        .annotate(
            collected=_net_sum(Q(_paid_day__lte=as_of)),
            **{
                f"within_{days}": _net_sum(_placement_window(days) & Q(_paid_day__lte=as_of))
                for days in horizons
            },
        )
        .order_by()
    }
    nothing: dict[str, Decimal] = {"collected": ZERO} | {f"within_{d}": ZERO for d in horizons}
    rows = []
    for g in placed:
        paid = money.get((g["cohort"], g["currency"]), nothing)
        amounts = {days: paid[f"within_{days}"] for days in horizons}
        rows.append(
            CohortRecovery(
                cohort=g["cohort"],
                currency=g["currency"],
                accounts=g["n"],
                placed=g["placed"],
                collected=paid["collected"],
                rate=_ratio(paid["collected"], g["placed"]),
                within=amounts,
                within_rate={
                    days: _ratio(amounts[days], g["placed"])
                    if g["youngest"] + dt.timedelta(days=days) < as_of
                    else None
                    for days in horizons
                },
            )
        )
    return rows


def collected_within(
    *,
    days: int,
    accounts: QuerySet[Account] | None = None,
    client: Client | None = None,
    operator: Operator | None = None,
    since: dt.date | dt.datetime | None = None,
    starts: QuerySet[Any] | None = None,
    per: Literal["account", "debtor"] = "account",
    tz: dt.tzinfo | None = None,
) -> Decimal:
    """Net money collected within `days` of a start (bounds in the module docstring).

    Three ways to say where each window starts:

    - nothing: each account's own placement date (`accounts`, or the accounts of `client`
      and/or first worked by `operator`; all accounts by default);
    - `since`: one date (calendar day 0) or one moment for every account in view;
    - `starts`: a queryset of rows, each with the account (`account_id`, or `debtor_id` with
      `per="debtor"` for all of a debtor's accounts) and a `start` date or datetime, e.g.
      ``Response.objects.values(account_id=F("contact__account_id"), start=F("answered_at"))``.
      Each row is a window of its own, and the result is their sum.
    """
    if starts is not None:
        if accounts is not None or client is not None or operator is not None or since is not None:
            raise ValueError("starts= already names the accounts and their start.")
        start_field = starts.query.annotations.get("start")
        if start_field is None:
            raise ValueError("starts= needs a 'start' column, e.g. .values(start=F('...')).")
        moment = isinstance(start_field.output_field, DateTimeField)
        expression = net_collected(
            account="account_id" if per == "account" else None,
            debtor="debtor_id" if per == "debtor" else None,
            start_at="start" if moment else None,
            start_date=None if moment else "start",
            days=days,
            tz=tz,
        )
        summed = starts.annotate(_net=expression).aggregate(total=Sum("_net"))["total"]
        return summed if summed is not None else ZERO
    if accounts is None:
        accounts = accounts_in_view(client=client, operator=operator)
    else:
        if client is not None:
            accounts = accounts.filter(client=client)
        if operator is not None:
            accounts = accounts.annotate(_first_operator=first_operator()).filter(
                _first_operator=operator.pk
            )
    zone = _tz(client, tz)
    if since is None:
        window = _placement_window(days)
    elif isinstance(since, dt.datetime):
        window = Q(paid_at__gte=since, paid_at__lte=since + dt.timedelta(days=days))
    else:
        window = Q(_paid_day__gte=since, _paid_day__lte=since + dt.timedelta(days=days))
    total: Decimal = _payments_of(accounts, zone).aggregate(total=_net_sum(window))["total"]
    return total


# --- contacts and promises -------------------------------------------------------------------


def _contacts_in_view(
    *,
    client: Client | None,
    operator: Operator | None,
    since: dt.date | None,
    until: dt.date | None,
    tz: dt.tzinfo,
) -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    if client is not None:
        contacts = contacts.filter(client=client)
    if operator is not None:
        contacts = contacts.filter(operator=operator)
    if since is not None or until is not None:
        contacts = contacts.annotate(_day=_local_date("started_at", tz))
        if since is not None:
            contacts = contacts.filter(_day__gte=since)
        if until is not None:
            contacts = contacts.filter(_day__lte=until)
    return contacts


def _promise_paid(*, grace_days: int, tz: dt.tzinfo) -> Coalesce:
    """Net paid on the promise's account from the moment of the promise's contact to the end
    of its due day plus the grace days (for `.annotate()` on a Promise queryset)."""
    payments = (
        Payment.objects.filter(reversal_of__isnull=True, account_id=OuterRef("account_id"))
        .annotate(_paid_day=_local_date("paid_at", tz))
        .filter(
            paid_at__gte=OuterRef("contact__started_at"),
            _paid_day__lte=_date_plus("due_on", grace_days),
        )
    )
    return _sum_subquery(payments, "account_id")


def _rate_counts(contacts: QuerySet[Contact], group: str | None) -> Any:
    counts = {
        "n": Count("pk"),
        "rpc": Count("pk", filter=Q(right_party=True)),
        # A promise is the outcome the operator recorded, whether or not the feed carried its
        # amount and due date; those are needed only to judge whether it was kept.
        "ptp": Count("pk", filter=Q(outcome__in=sorted(PROMISE_OUTCOMES))),
    }
    if group is None:
        return contacts.aggregate(**counts)
    return contacts.values(group).annotate(**counts).order_by()


def _kept_counts(
    promises: QuerySet[Promise],
    *,
    grace_days: int,
    as_of: dt.date,
    tz: dt.tzinfo,
    group: str | None,
) -> Any:
    fell_due = promises.filter(due_on__lt=as_of - dt.timedelta(days=grace_days)).annotate(
        _paid=_promise_paid(grace_days=grace_days, tz=tz)
    )
    counts = {"due": Count("pk"), "kept": Count("pk", filter=Q(_paid__gte=F("amount")))}
    if group is None:
        return fell_due.aggregate(**counts)
    return fell_due.values(group).annotate(**counts).order_by()


def _rates(c: dict[str, int], k: dict[str, int]) -> ContactRates:
    kept_rate = _ratio(k["kept"], k["due"])
    return ContactRates(
        contacts=c["n"],
        right_party=c["rpc"],
        promises=c["ptp"],
        promises_due=k["due"],
        promises_kept=k["kept"],
        rpc_rate=_ratio(c["rpc"], c["n"]),
        ptp_rate=_ratio(c["ptp"], c["rpc"]),
        kept_rate=kept_rate,
        broken_rate=None if kept_rate is None else 1 - kept_rate,
    )


def contact_rates(
    *,
    client: Client | None = None,
    operator: Operator | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    as_of: dt.date | None = None,
    grace_days: int = 0,
) -> ContactRates:
    """Right-party-contact, promise-to-pay and promise-kept rates on the contacts made from
    `since` to `until` (calendar days, both inclusive).

    - RPC rate = right-party contacts / all contacts.
    - PTP rate = contacts ending in a promise (promise_to_pay, payment_plan) / RPC contacts.
    - Kept rate = promises paid in full / promises that fell due by `as_of` (default today).
      Paid in full: the account's net payments from the moment of the promise's contact to
      the end of `due_on + grace_days` reach the promised amount. A promise falls due once
      that last day is before `as_of`. Broken rate = 1 - kept rate.
    """
    zone = _tz(client)
    as_of = as_of or timezone.localdate(timezone=zone)
    contacts = _contacts_in_view(
        client=client, operator=operator, since=since, until=until, tz=zone
    )
    promises = Promise.objects.filter(contact__in=contacts)
    return _rates(
        _rate_counts(contacts, None),
        _kept_counts(promises, grace_days=grace_days, as_of=as_of, tz=zone, group=None),
    )


def contact_rates_by_operator(
    *,
    client: Client,
    since: dt.date | None = None,
    until: dt.date | None = None,
    as_of: dt.date | None = None,
    grace_days: int = 0,
) -> dict[Operator, ContactRates]:
    """`contact_rates` for each operator who made a contact for `client` (two queries), each
    contact and promise credited to the operator who made it."""
    zone = _tz(client)
    as_of = as_of or timezone.localdate(timezone=zone)
    contacts = _contacts_in_view(client=client, operator=None, since=since, until=until, tz=zone)
    counts = {g["operator_id"]: g for g in _rate_counts(contacts, "operator_id")}
    kept = {
        g["contact__operator_id"]: g
        for g in _kept_counts(
            Promise.objects.filter(contact__in=contacts),
            grace_days=grace_days,
            as_of=as_of,
            tz=zone,
            group="contact__operator_id",
        )
    }
    operators = Operator.objects.in_bulk(list(counts))
    nothing_due = {"due": 0, "kept": 0}
    return {
        operators[op]: _rates(counts[op], kept.get(op, nothing_due))
        for op in sorted(counts, key=lambda op: (str(operators[op]), op))
    }
