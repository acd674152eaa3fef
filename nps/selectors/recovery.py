"""Satisfaction beside recovery: the operator-level correlation, payment after the answer by
NPS group, and respondents against non-respondents.

Recovery always comes from ``collections_link.selectors``, computed on *all* placed accounts
(not only the respondents'), with an account credited to the operator of its first contact.
Three traps these functions are built to avoid (DOMAIN.md, reference S7/S8):

- reverse causation: a debtor who has just paid rates the call higher, so a payment made
  *before* the answer never counts as following it;
- unfinished windows: a promoter who answered yesterday has not had 30 days to pay yet, so
  only answers whose whole window has passed are counted;
- non-response bias: payers may answer more often, which the respondents/non-respondents
  comparison makes visible.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, Q, Value, When
from django.utils import timezone

from collections_link.models import Account, Client
from collections_link.selectors import (
    OperatorRecovery,
    first_operator,
    net_collected,
    recovery_by_operator,
)
from nps.selectors._common import Names, restrict_to_client, scored_responses, without_jit
from nps.selectors.aggregates import count_cells
from nps.selectors.rates import (
    AAPOR_CLASSES,
    disposition_class,
    invitations_in_sample,
    with_sample_response,
)
from nps.stats import HIDE_BELOW, shrink, spearman_with_bootstrap, wilson
from nps.types import NpsFilters

NPS_GROUPS: tuple[str, ...] = ("promoter", "passive", "detractor")
ZERO = Decimal("0.00")


def _ratio(num: Decimal, den: Decimal) -> float | None:
    return None if not den else float(num / den)


def _operator_rate(rows: list[OperatorRecovery]) -> OperatorRecovery | None:
    """One recovery row per operator: amounts in different currencies cannot be added, so an
    operator who worked accounts in two currencies is represented by the currency with more
    accounts (in practice a client places in one currency)."""
    rows = [r for r in rows if r.rate is not None]
    if not rows:
        return None
    return max(rows, key=lambda r: (r.accounts, r.currency))


def recovery_correlation(
    *, client_id: int, filters: NpsFilters, n_boot: int = 2000
) -> dict[str, Any]:
    """Spearman's rho, across one client's operators, between the operator's shrunken NPS
    (toward the client) and their recovery rate, weighted by each operator's number of
    answers, with a percentile-bootstrap 95 % interval and the number of operators.

    Only operators with a shown value (10+ answers) and accounts to measure recovery on are
    points; each point is listed. rho and its interval are None below 3 operators or when
    either variable does not vary. A correlation across a handful of operators is a hint, not
    a finding: the interval says how wide the hint is.
    """
    empty: dict[str, Any] = {
        "client": None,
        "rho": None,
        "low": None,
        "high": None,
        "n_operators": 0,
        "weighted_by": "answers",
        "points": [],
    }
    narrowed = restrict_to_client(filters, client_id)
    client = Client.objects.filter(pk=client_id).first()
    if narrowed is None or client is None:
        return empty
    empty["client"] = client.ref
    cells = count_cells(filters=narrowed, keys=["operator"])
    totals = {cell[0]: c for cell, c in cells.items()}
    if not totals:
        return empty
    shrunk = shrink(totals)
    by_operator: dict[int, list[OperatorRecovery]] = defaultdict(list)
    for row in recovery_by_operator(client=client):
        if row.operator is not None:
            by_operator[row.operator.pk].append(row)
    names = Names(client_ids=set(), operator_ids=set(totals))
    points: list[dict[str, Any]] = []
    for op, s in shrunk.items():
        recovery = _operator_rate(by_operator.get(op, []))
        if s.n < HIDE_BELOW or recovery is None or recovery.rate is None:
            continue
        points.append(
            {
                "operator_ref": names.operator_ref(op),
                "operator_name": names.operator_name(op),
                "shrunk_nps": s.shrunk_nps,
                "recovery_rate": recovery.rate,
                "n": s.n,
                "accounts": recovery.accounts,
                "currency": recovery.currency,
                "state": s.state,
            }
        )
    points.sort(key=lambda p: (str(p["operator_name"]).lower(), p["operator_ref"]))
    corr = spearman_with_bootstrap(
        [p["shrunk_nps"] for p in points],
        [p["recovery_rate"] for p in points],
        weights=[p["n"] for p in points] if points else None,
        n_boot=n_boot,
    )
    return {
        "client": client.ref,
        "rho": corr.rho,
        "low": corr.low,
        "high": corr.high,
        "n_operators": corr.n,
        "weighted_by": "answers",
        "points": points,
    }


def _nps_group() -> Case:
    return Case(
        When(score__gte=9, then=Value("promoter")),
        When(score__gte=7, then=Value("passive")),
        default=Value("detractor"),
        output_field=CharField(),
    )


def payment_by_nps_group(
    *, filters: NpsFilters, days: int = 30, as_of: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Per NPS group (promoter, passive, detractor; all three always present): how many
    answers, from how many debtors, were followed by a net payment on the rated account
    within `days` *after* the answer (from the moment of the answer to exactly `days` x 24 h
    later; a payment made before the answer is not counted, a reversal cancels its payment),
    with the share and its Wilson 95 % interval.

    Only answers whose whole window has passed by `as_of` (default now) are counted, so
    recent answers do not look like non-payers. Each answer is its own window: a debtor who
    answered twice counts twice in ``responses`` and once in ``debtors``.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    as_of = as_of or timezone.now()
    found: dict[str, dict[str, Any]] = {}
    if filters.client_ids:
        grouped = (
            scored_responses(filters)
            .filter(answered_at__lte=as_of - dt.timedelta(days=days))
            .annotate(
                _paid=net_collected(
                    account="contact__account_id", start_at="answered_at", days=days
                )
            )
            .values(group=_nps_group())
            .annotate(
                responses=Count("pk"),
                # The rated account's debtor: the one invited about it (surveys.planner
                # invites the account's debtor), read from the small account table rather
                # than by joining every invitation.
                debtors=Count("contact__account__debtor_id", distinct=True),
                paid_within=Count("pk", filter=Q(_paid__gt=0)),
            )
            .order_by()
        )
        with without_jit():
            found = {row["group"]: row for row in grouped}
    out: list[dict[str, Any]] = []
    for group in NPS_GROUPS:
        row = found.get(group, {"responses": 0, "debtors": 0, "paid_within": 0})
        p = wilson(int(row["paid_within"]), int(row["responses"]))
        out.append(
            {
                "group": group,
                "responses": int(row["responses"]),
                "debtors": int(row["debtors"]),
                "paid_within": int(row["paid_within"]),
                "days": days,
                "rate": p.p,
                "low": p.low,
                "high": p.high,
            }
        )
    return out


def respondents_vs_nonrespondents(*, client_id: int, filters: NpsFilters) -> list[dict[str, Any]]:
    """Recovery on the accounts whose invitation got a score (respondents) against accounts
    invited but never scoring (non-respondents: refused, broke off, never answered), per
    operator and overall. A difference here is non-response bias: the NPS speaks for the
    respondents, and this shows how they differ from everyone else.

    An account is a respondent if any of its invitations in view got a score; invitations
    still in the field or never sent leave an account out. Money is net collected to date
    on all of the account's payments; accounts belong to the operator of their first contact
    (as in the recovery report). One row per (operator or overall, group, currency):
    accounts, placed, collected, rate (collected / placed) and the share of accounts with
    any net payment, with its Wilson interval. Overall rows (operator None) come first.
    """
    narrowed = restrict_to_client(filters, client_id)
    if narrowed is None:
        return []
    # One pass over the invitations in view, grouped by account: whether the account has a
    # finished invitation (it is in the comparison) and whether one of them got a score.
    # (An EXISTS per account would walk each account's invitations twice.) Both are counts
    # rather than a WHERE on the class, which the planner cannot estimate.
    klass = disposition_class(timezone.now(), response="sample_response")
    per_account = (
        with_sample_response(invitations_in_sample(narrowed), narrowed)
        .annotate(_class=klass)
        .values("contact__account_id")
        .annotate(
            _finished=Count("pk", filter=Q(_class__in=AAPOR_CLASSES)),
            _scored=Count("pk", filter=Q(_class__in=["I", "P"])),
        )
        .values_list("contact__account_id", "_finished", "_scored")
        .order_by()
    )
    with without_jit():
        responded: dict[int, bool] = {
            account_id: bool(scored) for account_id, finished, scored in per_account if finished
        }
    cells: dict[tuple[int | None, bool, str], dict[str, Any]] = {}
    if responded:
        accounts = (
            Account.objects.filter(client_id=client_id)
            .annotate(_op=first_operator(), _net=net_collected(account="pk"))
            .values_list("pk", "_op", "currency", "amount_placed", "_net")
            .order_by()
        )
        for account_id, first_op, currency, placed, net in accounts:
            if account_id not in responded:
                continue
            for op in (None, first_op):
                key = (op, responded[account_id], currency)
                acc = cells.setdefault(
                    key, {"accounts": 0, "placed": ZERO, "collected": ZERO, "paying": 0}
                )
                acc["accounts"] += 1
                acc["placed"] += placed or ZERO
                acc["collected"] += net or ZERO
                acc["paying"] += int(net is not None and net > 0)
    names = Names(client_ids=set(), operator_ids={op for op, _, _ in cells if op is not None})
    out: list[dict[str, Any]] = []
    for (op, respondent, currency), acc in cells.items():
        p = wilson(acc["paying"], acc["accounts"])
        out.append(
            {
                "operator_ref": names.operator_ref(op) if op is not None else None,
                "operator_name": names.operator_name(op) if op is not None else None,
                "group": "respondents" if respondent else "non_respondents",
                "currency": currency,
                "accounts": acc["accounts"],
                "placed": acc["placed"],
                "collected": acc["collected"],
                "rate": _ratio(acc["collected"], acc["placed"]),
                "paying": acc["paying"],
                "paying_rate": p.p,
                "paying_low": p.low,
                "paying_high": p.high,
            }
        )
    out.sort(
        key=lambda r: (
            r["operator_ref"] is not None,
            str(r["operator_name"] or "").lower(),
            r["operator_ref"] or "",
            r["group"] != "respondents",
            r["currency"],
        )
    )
    return out


__all__ = [
    "NPS_GROUPS",
    "payment_by_nps_group",
    "recovery_correlation",
    "respondents_vs_nonrespondents",
]
