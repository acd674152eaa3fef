"""The CATI channel: the callers' queue (claims, leases, the rules). What a caller records on
a case, an outcome or the debtor's answers, is in `surveys.channels.cati_record`.

The queue
---------
A case is offered when it is queued, due (`due_at <= now`), and any call-back booked on it has
come. Due call-backs go first (by their time), then the others by `due_at`. One caller holds a
case at a time under a lease (`LEASE`, renewed by the console while the page is open and on
every form post); a lease that runs out returns the case to the queue with the attempt counted
(`cati_leases_expire`, called before every claim and by a beat task).

On PostgreSQL the claim is one `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)`, so
callers asking at the same moment each get a different case and never wait for one another; on
SQLite (one writer at a time) it is a guarded update `queued -> held`.

`due_at` is always kept at the next moment the case may be called: the next opening of the
debtor's window after the retry delay, the booked call-back, or when the US call ledger allows.
So the claim never re-examines cases that cannot be called now, and the Python checks after the
claim (window, opt-out, expiry, limits, ledger) only confirm. A case that fails them has its
`due_at` moved and the claim runs again.

The rules (defaults from the client's policy; DOMAIN rules 3, 4, 10):
- at most `cati_max_attempts` counted attempts within `cati_max_days` of the first one; the
  invitation's expiry is pushed to that deadline at the first attempt, so the CATI rule (not the
  SMS link's lifetime) decides how long a case lives once called;
- at least `cati_min_gap` between attempts, or the disposition's own retry delay if longer. A
  busy line (AAPOR 3.12) is the exception: the phone never rang, so its own shorter delay (15
  minutes in the shipped data) applies;
- attempts rotate over the day-parts (morning before 12:00, afternoon 12:00-17:00, evening from
  17:00, in the debtor's time): when the next opening falls in the day-part of the last attempt,
  it moves to the start of the following day-part if that is allowed within a day. Call-backs
  and busy recalls are not rotated;
- a case is never offered to a caller who, as an operator, made the contact it rates;
- "do not call" opts the number out for every client (`opt_out_record`), which closes every
  queued case for that number.

A case that closes without an interview (a final disposition, attempts used up, the deadline
passed, the link expired before any call) sets its invitation to "expired" and keeps the last
disposition as its final one, the AAPOR code the rates count; "do not call" sets it to
"cancelled" through the opt-out. Interviews set "completed" or "partial" through
`response_record`, the same record the web page makes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone

from collections_link.models import Operator
from surveys.channels.cati_rules import CaseRules, case_rules, next_due
from surveys.ledger import call_ledger_check
from surveys.models import (
    CallAttempt,
    CatiCase,
    CatiCaseStatus,
    Disposition,
    Invitation,
    InvitationStatus,
    OptOut,
)
from surveys.pg import server_binding_cursor

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
# How many claimed cases may fail the Python checks before one claim gives up (each failure
# moves the case's due_at, so the next round sees other cases).
CLAIM_ROUNDS = 25
COMPLETE_CODE = "complete"
PARTIAL_CODE = "partial"
NO_ANSWER_CODE = "no_answer"
# AAPOR 3.12: the line was busy, the phone never rang, so the minimum gap does not apply.
SHORT_RECALL_AAPOR_CODES = frozenset({"3.12"})
RELEASED_NOTE = "Released without a call"
LEASE_LOST_NOTE = "The caller's hold ran out"

HELD = CatiCaseStatus.HELD
QUEUED = CatiCaseStatus.QUEUED
DONE = CatiCaseStatus.DONE
ANSWERABLE = (InvitationStatus.CATI, InvitationStatus.PARTIAL)


class CatiError(Exception):
    """A caller's request refused, with the message to show them. Nothing was stored."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class CaseNotHeld(CatiError):
    """The caller does not hold this case (any more)."""


class AnswersInvalid(CatiError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(iter(errors.values()), ["Check the answers."])
        super().__init__(first[0] if first else "Check the answers.")
        self.errors = errors


@dataclass(frozen=True)
class DispositionResult:
    case_id: int
    disposition: Disposition
    closed: bool
    due_at: dt.datetime | None
    message: str


# --- dispositions --------------------------------------------------------------------------------


def disposition_get(code: str) -> Disposition:
    try:
        return Disposition.objects.get(code=code)
    except Disposition.DoesNotExist:
        raise CatiError(
            f"The disposition {code!r} is not configured.", field="disposition"
        ) from None


def dispositions_for_callers() -> list[Disposition]:
    """The dispositions a caller records by key (the interview ones come from the answers)."""
    return list(Disposition.objects.exclude(aapor_class__in=["I", "P"]).order_by("order", "pk"))


# --- leases --------------------------------------------------------------------------------------


def end_attempt(
    case: CatiCase,
    *,
    caller_id: int | None,
    now: dt.datetime,
    disposition: Disposition | None = None,
    note: str = "",
    lease_lost: bool = False,
) -> CallAttempt:
    """The row of the attempt that just ended. The claim stamped its start on the case
    (`last_attempt_at`) in the same statement that took the case, so a caller who vanishes
    leaves nothing half-written."""
    return CallAttempt.objects.create(
        case=case,
        caller_id=caller_id,
        started_at=case.last_attempt_at or now,
        ended_at=now,
        disposition=disposition,
        note=note,
        lease_lost=lease_lost,
    )


def count_attempt(
    case: CatiCase, *, started_at: dt.datetime, rules: CaseRules, counts: bool = True
) -> None:
    """Update the case's attempt counters (in memory) and, at the first attempt, push the
    invitation's expiry to the CATI deadline so answers keyed later are still accepted."""
    if counts:
        case.attempts += 1
    if case.first_attempt_at is None:
        case.first_attempt_at = started_at
        deadline = started_at + dt.timedelta(days=rules.policy.cati_max_days)
        invitation = case.invitation
        if invitation.expires_at is None or invitation.expires_at < deadline:
            Invitation.objects.filter(pk=invitation.pk).update(expires_at=deadline)
            invitation.expires_at = deadline
    case.last_attempt_at = max(case.last_attempt_at or started_at, started_at)


def case_close(
    case: CatiCase,
    *,
    now: dt.datetime,
    final: Disposition | None,
    invitation_status: str = InvitationStatus.EXPIRED,
) -> None:
    case.status = DONE
    case.closed_at = now
    case.held_by = None
    case.lease_expires_at = None
    case.callback_at = None
    if final is not None:
        case.final_disposition = final
    case.save()
    Invitation.objects.filter(pk=case.invitation_id, status=InvitationStatus.CATI).update(
        status=invitation_status
    )


def case_requeue(case: CatiCase, *, due_at: dt.datetime) -> None:
    case.status = QUEUED
    case.held_by = None
    case.lease_expires_at = None
    case.due_at = due_at
    case.save()


def retry_schedule(
    case: CatiCase,
    *,
    disposition: Disposition,
    rules: CaseRules,
    now: dt.datetime,
    attempt_started: dt.datetime,
) -> dt.datetime | None:
    """After a counted attempt that did not end the case: the next due time, or None when the
    case must close (attempts used up, or nothing allowed before the deadline)."""
    if disposition.final or case.attempts >= rules.policy.cati_max_attempts:
        return None
    short = disposition.aapor_code in SHORT_RECALL_AAPOR_CODES
    retry = disposition.retry_after
    if short and retry is not None:
        gap = retry
    else:
        gap = max(retry or dt.timedelta(0), rules.policy.cati_min_gap)
    due = next_due(
        rules=rules, earliest=now + gap, last_attempt_at=attempt_started, rotate=not short
    )
    deadline = rules.deadline(case)
    if due is None or (deadline is not None and due >= deadline):
        return None
    return due


def cati_leases_expire(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Return held cases whose lease ran out to the queue: the attempt is recorded as lost and
    counted, and the case is due again after the no-answer delay (or closed when it was the
    last attempt allowed). Returns how many leases expired."""
    now = now or timezone.now()
    ids = list(
        CatiCase.objects.filter(status=HELD, lease_expires_at__lte=now)
        .order_by("lease_expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in ids:
        with transaction.atomic():
            # Locked so that the caller's late post and this pass cannot both act on the case:
            # whoever locks first wins, the other sees the new state.
            case = (
                CatiCase.objects.select_for_update(of=("self",))
                .select_related("invitation")
                .filter(pk=pk, status=HELD, lease_expires_at__lte=now)
                .first()
            )
            if case is None:
                continue
            rules = case_rules(case)
            attempt = end_attempt(
                case, caller_id=case.held_by_id, now=now, note=LEASE_LOST_NOTE, lease_lost=True
            )
            count_attempt(case, started_at=attempt.started_at, rules=rules)
            no_answer = disposition_get(NO_ANSWER_CODE)
            case.callback_at = None
            due = retry_schedule(
                case,
                disposition=no_answer,
                rules=rules,
                now=now,
                attempt_started=attempt.started_at,
            )
            if due is None:
                case_close(case, now=now, final=no_answer)
            else:
                case_requeue(case, due_at=due)
            expired += 1
            logger.info("CATI case %s: lease ran out, attempt %s counted", case.pk, case.attempts)
    return expired


def cati_lease_renew(
    *, case_id: int, caller: AbstractBaseUser, now: dt.datetime | None = None
) -> bool:
    """Extend the caller's hold on the case; False when they no longer hold it."""
    now = now or timezone.now()
    return bool(
        CatiCase.objects.filter(pk=case_id, status=HELD, held_by_id=caller.pk).update(
            lease_expires_at=now + LEASE
        )
    )


def cati_case_release(
    *, case_id: int, caller: AbstractBaseUser, now: dt.datetime | None = None
) -> bool:
    """Give the case back without calling (end of a shift): not an attempt, due as before.
    The row it leaves (no disposition, not lost) is not a call for the ledger nor the rates."""
    now = now or timezone.now()
    with transaction.atomic():
        case = (
            CatiCase.objects.select_for_update(of=("self",))
            .filter(pk=case_id, status=HELD, held_by_id=caller.pk)
            .first()
        )
        if case is None:
            return False
        end_attempt(case, caller_id=caller.pk, now=now, note=RELEASED_NOTE)
        CatiCase.objects.filter(pk=case.pk).update(
            status=QUEUED, held_by=None, lease_expires_at=None
        )
    return True


# --- the claim -----------------------------------------------------------------------------------

# The two branches are index scans that stop at the first unlocked row they may take: due
# call-backs by their time (the partial index on callback_at where queued), then due cases by
# due_at (the partial index on due_at where queued). COALESCE runs the second only when the
# first finds nothing. The caller's own contacts (as an operator) are left out with a
# one-row subselect, evaluated once per statement.
_PG_BRANCH = """
    SELECT q.id FROM {case} AS q JOIN {invitation} AS i ON i.id = q.invitation_id
    WHERE q.status = 'queued' AND q.due_at <= %(now)s AND {cond}
      AND i.operator_id IS DISTINCT FROM
          (SELECT o.id FROM {operator} AS o WHERE o.user_id = %(caller)s)
    ORDER BY {order}, q.id
    LIMIT 1
    FOR UPDATE OF q SKIP LOCKED
"""
_PG_CLAIM = """
UPDATE {case} AS c
SET status = 'held', held_by_id = %(caller)s, lease_expires_at = %(lease)s,
    last_attempt_at = %(now)s
FROM {invitation} AS inv
WHERE NOT EXISTS (SELECT 1 FROM {case} AS h WHERE h.held_by_id = %(caller)s)
  AND c.id = COALESCE(({callbacks}), ({due})) AND c.status = 'queued'
  AND inv.id = c.invitation_id
RETURNING {case_columns}, {invitation_columns},
    (SELECT p.last_attempt_at FROM {case} AS p WHERE p.id = c.id) AS previous_attempt_at,
    EXISTS (SELECT 1 FROM {optout} AS oo WHERE oo.phone_e164 = inv.phone_e164 AND oo.active)
"""
# The columns the claim returns, in the order `_claimed_from_row` reads them.
_CASE_FIELDS = [f.attname for f in CatiCase._meta.concrete_fields]
_INVITATION_FIELDS = [f.attname for f in Invitation._meta.concrete_fields]


def _pg_claim_sql() -> str:
    tables = {
        "case": CatiCase._meta.db_table,
        "invitation": Invitation._meta.db_table,
        "operator": Operator._meta.db_table,
    }
    callbacks = _PG_BRANCH.format(**tables, cond="q.callback_at <= %(now)s", order="q.callback_at")
    due = _PG_BRANCH.format(
        **tables, cond="(q.callback_at IS NULL OR q.callback_at <= %(now)s)", order="q.due_at"
    )
    return _PG_CLAIM.format(
        case=tables["case"],
        invitation=tables["invitation"],
        optout=OptOut._meta.db_table,
        callbacks=callbacks,
        due=due,
        case_columns=", ".join(f"c.{f.column}" for f in CatiCase._meta.concrete_fields),
        invitation_columns=", ".join(f"inv.{f.column}" for f in Invitation._meta.concrete_fields),
    )


# `held_by` is set exactly while a case is held (every move out of "held" clears it), so the
# caller's held case is found through the index on held_by alone.
# The claim, one statement: unless the caller already holds a case, it takes one, stamps the
# attempt's start, and returns the case, its invitation, the case's previous `last_attempt_at`
# (a subselect sees the row as it was before this statement) and whether the number is opted
# out. Parameters: %(caller)s, %(lease)s, %(now)s. The benchmark runs this very statement bare.
PG_CLAIM_SQL = _pg_claim_sql()


@dataclass
class _Claimed:
    case: CatiCase
    previous_attempt_at: dt.datetime | None
    opted_out: bool


def _claimed_from_row(row: tuple[Any, ...]) -> _Claimed:
    n, m = len(_CASE_FIELDS), len(_INVITATION_FIELDS)
    case = CatiCase.from_db(connection.alias, _CASE_FIELDS, row[:n])
    case.invitation = Invitation.from_db(connection.alias, _INVITATION_FIELDS, row[n : n + m])
    return _Claimed(case=case, previous_attempt_at=row[n + m], opted_out=bool(row[n + m + 1]))


def _claim_one(*, caller_id: int, now: dt.datetime) -> _Claimed | None:
    lease = now + LEASE
    if connection.vendor == "postgresql":
        # A prepared statement: planning this statement costs more than running it. Django's
        # cursor binds on the client, where `prepare` does nothing; this one binds on the
        # server, in whatever transaction Django has open on that connection.
        with server_binding_cursor() as cursor:
            cursor.execute(
                PG_CLAIM_SQL, {"caller": caller_id, "lease": lease, "now": now}, prepare=True
            )
            row = cursor.fetchone()
        return _claimed_from_row(row) if row else None
    # SQLite has one writer at a time; the guarded update makes a second claim of the same row
    # change nothing, and the next candidate is tried.
    candidates = list(
        CatiCase.objects.filter(status=QUEUED, due_at__lte=now)
        .filter(Q(callback_at__isnull=True) | Q(callback_at__lte=now))
        .exclude(invitation__operator__user_id=caller_id)
        .annotate(
            is_callback=Case(
                When(callback_at__isnull=False, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("is_callback", "callback_at", "due_at", "pk")
        .values_list("pk", "last_attempt_at")[:20]
    )
    opted_out = OptOut.objects.filter(phone_e164=OuterRef("invitation__phone_e164"), active=True)
    if candidates and CatiCase.objects.filter(status=HELD, held_by_id=caller_id).exists():
        return None
    for pk, previous in candidates:
        if CatiCase.objects.filter(pk=pk, status=QUEUED).update(
            status=HELD, held_by_id=caller_id, lease_expires_at=lease, last_attempt_at=now
        ):
            case = (
                CatiCase.objects.select_related("invitation")
                .annotate(opted_out=Exists(opted_out))
                .get(pk=pk)
            )
            return _Claimed(case=case, previous_attempt_at=previous, opted_out=bool(case.opted_out))
    return None


def _vet(claimed: _Claimed, *, now: dt.datetime) -> bool:
    """Confirm a freshly claimed case may be called now; otherwise move or close it (still under
    the claim, with its attempt stamp put back) and return False."""
    case = claimed.case
    invitation = case.invitation
    stamped = case.last_attempt_at
    case.last_attempt_at = claimed.previous_attempt_at
    if invitation.status not in ANSWERABLE:
        case_close(case, now=now, final=None)
        return False
    if claimed.opted_out:
        case_close(case, now=now, final=None, invitation_status=InvitationStatus.CANCELLED)
        return False
    rules = case_rules(case)
    if case.first_attempt_at is None and invitation.is_expired(now):
        case_close(case, now=now, final=None)
        return False
    deadline = rules.deadline(case)
    if case.attempts >= rules.policy.cati_max_attempts or (deadline and now >= deadline):
        case_close(case, now=now, final=_last_disposition(case))
        return False
    due: dt.datetime | None
    if not rules.allowed(now):
        due = rules.next_open(now)
    elif rules.policy.us_call_ledger:
        decision = call_ledger_check(
            account_id=invitation.contact.account_id, now=now, exclude_case_id=case.pk
        )
        if decision.allowed:
            case.last_attempt_at = stamped
            return True
        logger.info("CATI case %s deferred by the call ledger: %s", case.pk, decision.reason)
        due = rules.next_open(decision.allowed_from)
    else:
        case.last_attempt_at = stamped
        return True
    if due is None or (deadline is not None and due >= deadline):
        case_close(case, now=now, final=_last_disposition(case))
    else:
        case_requeue(case, due_at=due)
    return False


def _last_disposition(case: CatiCase) -> Disposition | None:
    attempt = (
        CallAttempt.objects.filter(case=case, disposition__isnull=False)
        .select_related("disposition")
        .order_by("-started_at", "-pk")
        .first()
    )
    if attempt is not None:
        return attempt.disposition
    if case.attempts:
        return Disposition.objects.filter(code=NO_ANSWER_CODE).first()
    return None


def caller_operator_id(caller: AbstractBaseUser) -> int | None:
    """The operator record of a caller who also collects, if any."""
    return Operator.objects.filter(user_id=caller.pk).values_list("pk", flat=True).first()


def cati_cases_expire(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Close, in bulk, the queued cases whose invitation expired before anyone called (a queue
    left unworked for days), so that a claim does not meet them one by one."""
    now = now or timezone.now()
    ids = list(
        CatiCase.objects.filter(
            status=QUEUED, first_attempt_at__isnull=True, invitation__expires_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return 0
    with transaction.atomic():
        closed = CatiCase.objects.filter(pk__in=ids, status=QUEUED).update(
            status=DONE, closed_at=now
        )
        Invitation.objects.filter(cati__in=ids, status=InvitationStatus.CATI).update(
            status=InvitationStatus.EXPIRED
        )
    return closed


def _claim_rounds(*, caller_id: int, now: dt.datetime) -> CatiCase | bool | None:
    """The claimed case; None when nothing is due; False when every round met a case that
    could not be called (and moved or closed it)."""
    for _ in range(CLAIM_ROUNDS):
        claimed = _claim_one(caller_id=caller_id, now=now)
        if claimed is None:
            return None
        # The claim committed on its own (one statement, one commit); a case that fails the
        # checks is moved or closed in a second, short write.
        if _vet(claimed, now=now):
            return claimed.case
    return False


def cati_case_claim(*, caller: AbstractBaseUser, now: dt.datetime | None = None) -> CatiCase | None:
    """The next case for this caller, held under a lease, with the start of the attempt
    stamped on it; the case the caller already holds, if any; None when nothing can be called
    now.

    The claim itself refuses a caller who holds a case, so the common path is one statement.
    Only when it takes nothing does a second look find the caller's own case (a reload, a
    double press) and return held cases whose lease ran out to the queue (the beat task does
    that too, every minute, when nobody asks)."""
    now = now or timezone.now()
    case = _claim_rounds(caller_id=int(caller.pk), now=now)
    if isinstance(case, CatiCase):
        return case
    if case is False and cati_cases_expire(now=now):
        # The front of the queue was expired invitations: cleared in bulk, try again.
        case = _claim_rounds(caller_id=int(caller.pk), now=now)
        return case if isinstance(case, CatiCase) else None
    # The caller's own held case and any held case whose lease ran out (the index on held_by
    # and the partial index on lease_expires_at where held).
    held = list(
        CatiCase.objects.filter(status=HELD)
        .filter(Q(held_by_id=caller.pk) | Q(lease_expires_at__lte=now))
        .values_list("pk", "held_by_id", "lease_expires_at")[:50]
    )
    mine = [pk for pk, holder, lease in held if holder == caller.pk and lease and lease > now]
    if mine:
        cati_lease_renew(case_id=mine[0], caller=caller, now=now)
        return CatiCase.objects.select_related("invitation__contact").get(pk=mine[0])
    if any(lease is not None and lease <= now for _, _, lease in held):
        cati_leases_expire(now=now)
        # The caller's own forgotten case may have been one of them: try again.
        case = _claim_rounds(caller_id=int(caller.pk), now=now)
        return case if isinstance(case, CatiCase) else None
    return None


def cati_next_due(
    *, caller: AbstractBaseUser, now: dt.datetime | None = None
) -> dt.datetime | None:
    """When the next case this caller may take becomes due (for the "nothing now" message)."""
    now = now or timezone.now()
    qs = CatiCase.objects.filter(status=QUEUED, due_at__gt=now)
    operator_id = caller_operator_id(caller)
    if operator_id:
        qs = qs.exclude(invitation__operator_id=operator_id)
    return qs.order_by("due_at").values_list("due_at", flat=True).first()
