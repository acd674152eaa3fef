"""The US call ledger (12 CFR 1006.14(b)(2), DOMAIN rule 4; reference/domain.md R4).

A collector is presumed compliant when it does not call a person about a debt more than 7 times
in 7 consecutive days, nor within 7 days after a telephone conversation with them about that
debt. For a client whose policy turns `us_call_ledger` on, survey calls go into the same ledger
as the collection calls:

- the calls are counted per debt (the account), over every number, in a rolling window of
  7 days: collection phone contacts (home visits are not calls) plus the survey calls placed on
  the account's CATI cases. A survey claim released without dialling is not a call; a claim
  whose lease ran out may have been dialled, so it counts;
- a call is refused when it would be the 8th in the window;
- a call is refused within 7 days after a conversation about the debt: a right-party collection
  call, or a survey call whose disposition is marked `conversation`, unless the debtor gave
  direct prior consent on that call. For a collection call that is `survey_consent` true on the
  contact; for a survey call it is a call-back the debtor asked for (the "callback"
  disposition). A consent lasts 7 days, and the conversation it covers leaves the window at the
  same moment, so nothing more is needed to honour its limit.

The window is (now - 7 days, now]: a call made exactly 7 days ago has left it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from collections_link.models import Contact, ContactChannel
from surveys.models import CallAttempt, CatiCase, CatiCaseStatus

LEDGER_WINDOW = dt.timedelta(days=7)
MAX_CALLS_IN_WINDOW = 7
# The disposition by which the debtor asks to be called back: direct consent to that call.
CALLBACK_CODE = "callback"


@dataclass(frozen=True)
class LedgerCall:
    at: dt.datetime
    kind: str  # "collection" or "survey"
    conversation: bool
    consented: bool


@dataclass(frozen=True)
class LedgerDecision:
    allowed: bool
    reason: str
    calls_in_window: int
    # The earliest instant the ledger allows the next call (== now when allowed).
    allowed_from: dt.datetime
    calls: tuple[LedgerCall, ...] = ()


def call_ledger_calls(
    *, account_id: int, now: dt.datetime, exclude_case_id: int | None = None
) -> list[LedgerCall]:
    """Every call about this account in the window ending at `now`, oldest first: the calls
    made, and the survey calls in progress (a case a caller holds, other than
    `exclude_case_id`, the one being decided)."""
    since = now - LEDGER_WINDOW
    calls: list[LedgerCall] = [
        LedgerCall(at=started, kind="collection", conversation=rpc, consented=consent is True)
        for started, rpc, consent in Contact.objects.filter(
            account_id=account_id,
            channel=ContactChannel.PHONE,
            started_at__gt=since,
            started_at__lte=now,
        ).values_list("started_at", "right_party", "survey_consent")
    ]
    survey = (
        CallAttempt.objects.filter(
            case__invitation__contact__account_id=account_id,
            started_at__gt=since,
            started_at__lte=now,
        )
        # Released without a call: no disposition, not lost, and closed by the caller.
        .exclude(disposition__isnull=True, lease_lost=False, ended_at__isnull=False)
        .values_list("started_at", "disposition__conversation", "disposition__code")
    )
    calls.extend(
        LedgerCall(
            at=started,
            kind="survey",
            conversation=bool(conversation),
            consented=code == CALLBACK_CODE,
        )
        for started, conversation, code in survey
    )
    in_progress = CatiCase.objects.filter(
        invitation__contact__account_id=account_id,
        status=CatiCaseStatus.HELD,
        last_attempt_at__gt=since,
        last_attempt_at__lte=now,
    )
    if exclude_case_id is not None:
        in_progress = in_progress.exclude(pk=exclude_case_id)
    calls.extend(
        LedgerCall(at=started, kind="survey", conversation=False, consented=False)
        for started in in_progress.values_list("last_attempt_at", flat=True)
        if started is not None
    )
    calls.sort(key=lambda call: call.at)
    return calls


def call_ledger_check(
    *, account_id: int, now: dt.datetime, exclude_case_id: int | None = None
) -> LedgerDecision:
    """May a survey call about this account be placed at `now`? If not, why, and from when."""
    calls = call_ledger_calls(account_id=account_id, now=now, exclude_case_id=exclude_case_id)
    allowed_from = now
    reasons: list[str] = []
    if len(calls) >= MAX_CALLS_IN_WINDOW:
        # The oldest calls must leave the window until only 6 remain in it.
        oldest_to_leave = calls[len(calls) - MAX_CALLS_IN_WINDOW]
        allowed_from = max(allowed_from, oldest_to_leave.at + LEDGER_WINDOW)
        reasons.append(
            f"{len(calls)} calls about this debt in the last 7 days: the next would exceed "
            f"{MAX_CALLS_IN_WINDOW} in 7 days"
        )
    unconsented = [c for c in calls if c.conversation and not c.consented]
    if unconsented:
        allowed_from = max(allowed_from, unconsented[-1].at + LEDGER_WINDOW)
        reasons.append(
            f"a conversation about the debt on {unconsented[-1].at:%Y-%m-%d %H:%M} UTC without "
            "the debtor's consent to a survey call"
        )
    return LedgerDecision(
        allowed=not reasons,
        reason="; ".join(reasons),
        calls_in_window=len(calls),
        allowed_from=allowed_from,
        calls=tuple(calls),
    )
