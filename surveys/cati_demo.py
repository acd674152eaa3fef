"""The demo's callers at work: at a simulated instant, they take the due CATI cases through the
real queue and record what a shift of calls typically brings (answers, no answers, a busy line,
a machine, a refusal, a call-back, the odd wrong number or "do not call"), so the supervisor
page has honest numbers and the queue keeps some live work for a visitor.

Called by the demo's survey replay at each pass (`cati_demo_work(now=..., ...)`); the score of
an interview comes from the caller's `score_for`, so the demo's planted truth decides it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence

from django.contrib.auth.models import AbstractBaseUser

from surveys.channels.cati import (
    CatiError,
    cati_case_claim,
)
from surveys.channels.cati_record import (
    cati_record_answers,
    cati_record_disposition,
)
from surveys.channels.cati_rules import case_rules
from surveys.models import Invitation

# What one call brings, with its weight (a shift in a debt-collection CATI centre: about a third
# of calls reach an interview).
OUTCOMES: tuple[tuple[str, int], ...] = (
    ("complete", 30),
    ("partial", 3),
    ("no_answer", 26),
    ("answering_machine", 12),
    ("busy", 6),
    ("refusal", 7),
    ("callback", 6),
    ("break_off", 2),
    ("wrong_number", 3),
    ("language_barrier", 1),
    ("not_in_service", 2),
    ("do_not_call", 2),
)


def cati_demo_work(
    *,
    now: dt.datetime,
    callers: Sequence[AbstractBaseUser],
    rng: random.Random,
    score_for: Callable[[Invitation], int],
    limit: int = 200,
) -> dict[str, int]:
    """Up to `limit` calls at `now`, the callers taking turns. Returns the count per outcome."""
    counts: dict[str, int] = {}
    codes = [code for code, _ in OUTCOMES]
    weights = [weight for _, weight in OUTCOMES]
    idle: set[int] = set()
    turn = 0
    while sum(counts.values()) < limit and len(idle) < len(callers):
        caller = callers[turn % len(callers)]
        turn += 1
        if caller.pk in idle:
            continue
        case = cati_case_claim(caller=caller, now=now)
        if case is None:
            idle.add(caller.pk)  # nothing this caller may take now
            continue
        code = rng.choices(codes, weights)[0]
        try:
            if code in ("complete", "partial"):
                score = score_for(case.invitation)
                cati_record_answers(
                    case_id=case.pk,
                    caller=caller,
                    answers={"nps": score},
                    complete=code == "complete",
                    now=now,
                )
            else:
                callback_at = None
                if code == "callback":
                    callback_at = _evening_tomorrow(case_rules(case).zone, now)
                cati_record_disposition(
                    case_id=case.pk,
                    caller=caller,
                    code=code,
                    callback_at=callback_at,
                    note="Richiamare dopo le 18" if code == "callback" else "",
                    now=now,
                )
        except CatiError:
            # A call-back outside the window or past the last attempt: the debtor did not
            # answer after all.
            cati_record_disposition(case_id=case.pk, caller=caller, code="no_answer", now=now)
            code = "no_answer"
        counts[code] = counts.get(code, 0) + 1
    return counts


def _evening_tomorrow(zone: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    day = now.astimezone(zone).date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(18), tzinfo=zone)
