"""The demo's simulation: `World` draws, from one `random.Random(seed)`, the debtors and their
phone numbers, the accounts placed with the agency, every operator's attempts on them (phone
calls and home visits, their outcomes and flags, within each operator's daily capacity and the
clients' working days), the promises and payments that follow, the clock time of every contact,
and the references the clients' systems would have issued. `collections_link.demo_data` turns
the world into CSV files.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays

from collections_link.demo_cast import (
    CLIENTS,
    DemoClient,
    DemoOperator,
    OperatorParams,
    demo_operators,
)

PERIOD_DAYS = 120
FULL_SCALE_ACCOUNTS = 20_000
# Every operator gets at least this many accounts, so that even a tiny --scale shows the whole
# cast (the new hire keeps a small n at any scale).
MIN_ACCOUNTS_PER_OPERATOR = 2

FLAG_ORDER = ("cease_contact", "deceased", "bankruptcy", "attorney", "vulnerable")
STOPPING_FLAGS = frozenset({"cease_contact", "deceased", "bankruptcy", "attorney"})


# --- the world's internals ---------------------------------------------------------------


@dataclass
class _Debtor:
    ref: str
    phone: str  # as the client's system spells it
    e164: str
    country: str
    language: str


@dataclass
class _Account:
    client: DemoClient
    ref: str
    debtor: _Debtor
    placed_on: dt.date
    amount_cents: int
    first_day: dt.date
    owner: DemoOperator | None = None
    first_owner: DemoOperator | None = None
    paid_cents: int = 0

    @property
    def balance(self) -> int:
        return self.amount_cents - self.paid_cents


@dataclass
class _Contact:
    account: _Account
    operator: DemoOperator
    day: dt.date
    channel: str
    outcome: str
    flags: str
    seconds: int
    consent: str
    promise_cents: int | None = None
    promise_due: dt.date | None = None
    start: dt.datetime | None = None  # local, aware; set by the day's schedule
    ref: str = ""


@dataclass
class _Payment:
    account: _Account
    amount_cents: int
    paid_at: dt.datetime | None = None  # local, aware
    on_call: _Contact | None = None  # paid during this call; time set after scheduling
    reversal_of: _Payment | None = None
    ref: str = ""

    @property
    def signed_cents(self) -> int:
        return -self.amount_cents if self.reversal_of else self.amount_cents


# fmt: off
_IT_MOBILE = (
    "320", "324", "327", "328", "329", "330", "331", "333", "334", "335", "336", "338", "339",
    "340", "342", "345", "346", "347", "348", "349", "351", "366", "370", "371", "377", "380",
    "388", "389", "392", "393",
)
# fmt: on
_ES_MOBILE = ("61", "62", "63", "64", "65", "66", "67", "68", "69", "71", "72", "73", "74")
# 555-0100..0199 is reserved for fiction in the North American plan: nobody real gets a text.
_US_AREA = ("212", "312", "415", "617", "305", "713", "206")

# fmt: off
_PHONE_OUTCOMES = (  # cumulative shares of the contacts that do not reach the debtor
    (0.26, "no_answer"), (0.32, "busy"), (0.41, "voicemail"), (0.45, "wrong_party"),
    (0.51, "third_party"),
)
_SECONDS = {  # how long the short outcomes of a phone call last, in seconds
    "no_answer": (25, 45), "busy": (3, 10), "voicemail": (30, 70), "wrong_party": (20, 90),
    "third_party": (45, 180),
}
# fmt: on
_VISIT_OUTCOMES = ((0.28, "no_answer"), (0.40, "third_party"))


class World:
    def __init__(self, *, seed: int, today: dt.date, scale: float) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.start = today - dt.timedelta(days=PERIOD_DAYS)
        self.scale = scale
        self.operators = demo_operators(today=today)
        self.zones = {c.ref: ZoneInfo(c.time_zone) for c in CLIENTS}
        years = sorted({self.start.year, today.year, (today + dt.timedelta(days=400)).year})
        self.holidays = {
            country: frozenset(holidays.country_holidays(country, years=years))
            for country in ("IT", "ES")
        }
        self.accounts: list[_Account] = []
        self.contacts: list[_Contact] = []
        self.payments: list[_Payment] = []
        self.used_phones: dict[str, set[str]] = defaultdict(set)
        self.load: dict[tuple[str, dt.date], int] = defaultdict(int)  # busy seconds per day

    # -- calendar ---------------------------------------------------------------------------

    def is_workday(self, country: str, day: dt.date) -> bool:
        return day.weekday() < 6 and day not in self.holidays[country]

    def next_workday(self, country: str, day: dt.date) -> dt.date:
        """The next day an operator works: Monday to Friday, and some Saturday mornings."""
        while True:
            if self.is_workday(country, day) and (day.weekday() < 5 or self.rng.random() < 0.35):
                return day
            day += dt.timedelta(days=1)

    def local(self, client: DemoClient, day: dt.date, seconds: int) -> dt.datetime:
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self.zones[client.ref])
        return midnight + dt.timedelta(seconds=seconds)

    # -- people -----------------------------------------------------------------------------

    def _phone(self, client: DemoClient, kind: str) -> tuple[str, str]:
        """(the phone as the client's system spells it, its E.164 form for uniqueness)."""
        rng = self.rng
        while True:
            if kind == "US":
                area, line = rng.choice(_US_AREA), rng.randint(100, 199)
                e164 = f"+1{area}5550{line}"
                shown = f"+1 ({area}) 555-0{line}"
            elif kind == "ES":
                digits = rng.choice(_ES_MOBILE) + f"{rng.randrange(10**7):07d}"
                e164 = "+34" + digits
                shown = e164 if rng.random() < 0.5 else f"{digits[:3]} {digits[3:6]} {digits[6:]}"
            else:
                digits = rng.choice(_IT_MOBILE) + f"{rng.randrange(10**7):07d}"
                e164 = "+39" + digits
                u = rng.random()
                shown = (
                    e164
                    if u < 0.5
                    else f"+39 {digits[:3]} {digits[3:6]} {digits[6:]}"
                    if u < 0.75
                    else digits
                )
            if e164 not in self.used_phones[client.ref]:
                self.used_phones[client.ref].add(e164)
                return shown, e164

    def _new_debtor(self, client: DemoClient, n: int, others: list[_Debtor]) -> _Debtor:
        rng = self.rng
        ref = f"{client.prefix}-C{n:06d}"
        u = rng.random()
        if client.ref == "telco-uno":
            # The same person may owe the energy company too: the cross-client cap sees it.
            if others and rng.random() < 0.02:
                twin = rng.choice(others)
                if twin.e164 not in self.used_phones[client.ref]:
                    self.used_phones[client.ref].add(twin.e164)
                    return _Debtor(ref, twin.phone, twin.e164, twin.country, twin.language)
            if u < 0.006:
                return _Debtor(ref, *self._phone(client, "US"), "US", "en")
            if u < 0.02:
                return _Debtor(ref, *self._phone(client, "ES"), "ES", "es")
            if u < 0.035:
                return _Debtor(ref, *self._phone(client, "IT"), "IT", "es")
            if u < 0.05:
                return _Debtor(ref, *self._phone(client, "IT"), "IT", "en")
            return _Debtor(ref, *self._phone(client, "IT"), "IT", "it")
        if client.ref == "luz-norte":
            lang = "en" if u < 0.02 else "es"
            return _Debtor(ref, *self._phone(client, "ES"), "ES", lang)
        return _Debtor(ref, *self._phone(client, "IT"), "IT", "it")

    # -- placements -------------------------------------------------------------------------

    def place_accounts(self) -> None:
        rng = self.rng
        total = max(len(CLIENTS) * 10, round(FULL_SCALE_ACCOUNTS * self.scale))
        acme_people: list[_Debtor] = []
        for client in CLIENTS:
            n_accounts = max(10, round(total * client.account_share))
            debtors: list[_Debtor] = []
            placed: list[tuple[dt.date, int]] = []
            for _ in range(n_accounts):
                day = self.start + dt.timedelta(days=rng.randrange(PERIOD_DAYS))
                while day.weekday() >= 5 or day in self.holidays[client.country]:
                    day += dt.timedelta(days=1)
                if day >= self.today:
                    day = self.today - dt.timedelta(days=1)
                amount = math.exp(rng.gauss(math.log(client.median_amount), client.amount_sigma))
                placed.append((day, round(100 * min(15_000.0, max(15.0, amount)))))
            placed.sort(key=lambda p: p[0])
            for i, (day, cents) in enumerate(placed, start=1):
                if debtors and rng.random() < 0.08:
                    debtor = rng.choice(debtors)  # a second account (gas and power, two lines)
                else:
                    debtor = self._new_debtor(client, len(debtors) + 1, acme_people)
                    debtors.append(debtor)
                first = self.next_workday(client.country, day + dt.timedelta(rng.randint(1, 6)))
                self.accounts.append(
                    _Account(client, f"{client.prefix}-A{i:07d}", debtor, day, cents, first)
                )
            if client.ref == "acme-energia":
                acme_people = [d for d in debtors if d.language == "it"]
        self._assign_owners()

    def _pick_owner(self, client: DemoClient, day: dt.date) -> DemoOperator:
        active = [o for o in self.operators if o.serves(client.ref, day)]
        return self.rng.choices(active, weights=[o.weight for o in active])[0]

    def _assign_owners(self) -> None:
        for acc in self.accounts:
            acc.owner = acc.first_owner = self._pick_owner(acc.client, acc.first_day)
        counts: dict[str, int] = defaultdict(int)
        for acc in self.accounts:
            assert acc.owner is not None
            counts[acc.owner.ref] += 1
        for op in self.operators:
            need = MIN_ACCOUNTS_PER_OPERATOR - counts[op.ref]
            # The latest eligible accounts go to whoever is short, so a tiny scale still
            # shows every operator; only the weightier operators give accounts away.
            for acc in reversed(self.accounts):
                if need <= 0:
                    break
                owner = acc.owner
                if (
                    owner is not None
                    and owner is not op
                    and op.serves(acc.client.ref, acc.first_day)
                    and acc.first_day < self.today
                    and counts[owner.ref] > MIN_ACCOUNTS_PER_OPERATOR
                ):
                    counts[owner.ref] -= 1
                    counts[op.ref] += 1
                    acc.owner = acc.first_owner = op
                    need -= 1

    # -- the collection process ------------------------------------------------------------

    def _pay(self, acc: _Account, cents: int, day: dt.date) -> None:
        """A payment on `day` at a plausible hour (bank transfers, online, post office)."""
        cents = min(cents, acc.balance)
        if cents <= 0 or day >= self.today:
            return
        acc.paid_cents += cents
        at = self.local(acc.client, day, self.rng.randint(7 * 3600, 22 * 3600))
        self.payments.append(_Payment(acc, cents, paid_at=at))

    def _promise_amount(self, balance: int) -> int:
        if self.rng.random() < 0.6 or balance < 5_000:
            return balance
        part = balance * self.rng.uniform(0.3, 0.7)
        return max(100, min(balance, round(part / 500) * 500))  # round euros, people promise

    def simulate_account(self, acc: _Account) -> None:
        self_cure: dt.date | None = None
        if self.rng.random() < 0.04:  # pays after the agency's letter, whatever the calls
            self_cure = acc.placed_on + dt.timedelta(days=self.rng.randint(3, 40))
        self._work(acc, until=self_cure)
        if self_cure is not None:
            self._pay(acc, acc.balance, self_cure)

    def _work(self, acc: _Account, *, until: dt.date | None) -> None:
        """The operators' attempts on one account, until it is settled, given up, or `until`
        (the day the debtor pays of their own accord)."""
        rng, today, client = self.rng, self.today, acc.client
        us = acc.debtor.country == "US"
        day = acc.first_day
        attempts, budget = 0, rng.choice((1, 2, 2, 2, 3, 3, 4, 5))
        phone_bad, silent_streak, vulnerable = False, 0, False
        while attempts < budget and acc.balance > 0:
            # Field visits go where the phone fails and the amount justifies the trip.
            if us:
                channel = "phone"
            elif phone_bad:
                if acc.amount_cents < 15_000 or rng.random() < 0.2:
                    return
                channel = "home_visit"
            elif silent_streak >= 3 and acc.amount_cents >= 25_000 and rng.random() < 0.5:
                channel = "home_visit"
            else:
                channel = "home_visit" if rng.random() < 0.07 else "phone"
            cost = 3600 if channel == "home_visit" else 240
            while True:
                day = self.next_workday(client.country, day)
                if day >= today or (until is not None and day >= until):
                    return
                op = acc.owner
                if op is None or not op.serves(client.ref, day):
                    op = acc.owner = self._pick_owner(client, day)
                # An operator's day holds only so much: a full day pushes the attempt on.
                if self.load[(op.ref, day)] + cost <= _DAY_CAPACITY[day.weekday() == 5]:
                    break
                day += dt.timedelta(days=1)
            p = op.params
            u = rng.random()
            outcome = ""
            for threshold, code in _PHONE_OUTCOMES if channel == "phone" else _VISIT_OUTCOMES:
                if u < threshold:
                    outcome = code
                    break
            if not outcome:
                outcome = self._right_party_outcome(p)
            flags: set[str] = {"vulnerable"} if vulnerable else set()
            if outcome == "hardship" and rng.random() < 0.08:
                flags.add("vulnerable")
            elif outcome == "refusal" and rng.random() < p.cease_rate:
                flags.add("cease_contact")
            elif outcome == "dispute" and rng.random() < 0.10:
                flags.add("attorney")
            elif outcome == "third_party" and rng.random() < 0.03:
                flags.add("deceased")
            elif outcome == "callback_requested" and rng.random() < 0.01:
                flags.add("bankruptcy")
            vulnerable = "vulnerable" in flags
            right_party = outcome not in NOT_RIGHT_PARTY
            consent = ""
            if right_party and "cease_contact" in flags:
                consent = "no"
            elif right_party:
                yes, no = (p.consent_yes, p.consent_no) if channel == "phone" else (0.5, 0.1)
                if us:
                    yes, no = 0.5, 0.1
                v = rng.random()
                consent = "yes" if v < yes else "no" if v < yes + no else ""
            contact = _Contact(
                acc, op, day, channel, outcome, " ".join(f for f in FLAG_ORDER if f in flags),
                self._duration(channel, outcome, p), consent,
            )  # fmt: skip
            self.contacts.append(contact)
            self.load[(op.ref, day)] += contact.seconds + (1800 if channel == "home_visit" else 70)
            attempts += 1
            silent_streak = silent_streak + 1 if outcome in _SILENT else 0
            if flags & STOPPING_FLAGS:
                return
            nxt = self._after(acc, contact, us)
            if outcome == "wrong_party":
                phone_bad = True
            if nxt is None:
                return
            day = nxt

    def _right_party_outcome(self, p: OperatorParams) -> str:
        v = self.rng.random()
        if v < p.promise_share:
            return "payment_plan" if v < p.promise_share * 0.35 else "promise_to_pay"
        v -= p.promise_share
        if v < p.settle_share:
            return "paid" if v < p.settle_share * 0.55 else "partial_payment"
        v -= p.settle_share
        if v < p.conflict_share:
            return "refusal" if v < p.conflict_share * 0.6 else "dispute"
        v -= p.conflict_share
        return "hardship" if v < p.hardship_share else "callback_requested"

    def _duration(self, channel: str, outcome: str, p: OperatorParams) -> int:
        rng = self.rng
        if channel == "home_visit":
            if outcome in NOT_RIGHT_PARTY:
                return rng.randint(120, 600)
            return int(min(5400, max(600, rng.lognormvariate(math.log(1500), 0.35))))
        if outcome in _SECONDS:
            return rng.randint(*_SECONDS[outcome])
        talk = rng.lognormvariate(math.log(240 * p.talk_factor), 0.5)
        return int(min(1800, max(60, talk)))

    def _after(self, acc: _Account, c: _Contact, us: bool) -> dt.date | None:
        """Books what this contact leads to (promises, payments) and returns the day of the
        next attempt, or None when the account needs no more calls."""
        rng, p, day, outcome = self.rng, c.operator.params, c.day, c.outcome
        days = dt.timedelta
        if outcome in _SILENT or outcome == "third_party":
            return day + days(rng.randint(2, 8))
        if outcome == "wrong_party":
            return None if us else day + days(rng.randint(5, 15))
        if outcome == "paid":
            self.payments.append(_Payment(acc, acc.balance, on_call=c))
            acc.paid_cents = acc.amount_cents
            return None
        if outcome == "partial_payment":
            cents = max(100, round(acc.balance * rng.uniform(0.2, 0.6)))
            self.payments.append(_Payment(acc, min(cents, acc.balance), on_call=c))
            acc.paid_cents += min(cents, acc.balance)
            return day + days(rng.randint(14, 30))
        if outcome == "promise_to_pay":
            cents = self._promise_amount(acc.balance)
            due = day + days(rng.randint(3, 15))
            c.promise_cents, c.promise_due = cents, due
            if rng.random() < p.keep_rate:
                paid_on = max(day + days(1), due + days(rng.randint(-3, 2)))
                self._pay(acc, cents, paid_on)
                if paid_on >= self.today or acc.balance <= 0:
                    return None
                return paid_on + days(rng.randint(7, 21))
            return due + days(rng.randint(2, 6))  # a broken promise gets a follow-up call
        if outcome == "payment_plan":
            n = rng.randint(3, 10)
            instalment = -(-acc.balance // n)
            due = day + days(rng.randint(5, 20))
            c.promise_cents, c.promise_due = instalment, due
            if rng.random() >= p.keep_rate:
                return due + days(rng.randint(2, 6))
            for k in range(n):
                if k and rng.random() >= p.instalment_keep_rate:
                    return due + days(30 * k + rng.randint(3, 7))
                paid_on = max(day + days(1), due + days(30 * k + rng.randint(-2, 2)))
                if paid_on >= self.today:
                    return None
                self._pay(acc, instalment, paid_on)
            return None
        # refusal, dispute, hardship, callback: sometimes the debtor pays anyway.
        if rng.random() < p.spontaneous_pay_rate:
            self._pay(acc, acc.balance, day + days(rng.randint(3, 20)))
            if acc.balance <= 0:
                return None
        if outcome == "dispute":
            return None if rng.random() < 0.7 else day + days(rng.randint(14, 21))
        if outcome == "callback_requested":
            return day + days(rng.randint(1, 3))
        return day + days(rng.randint(7, 14))

    # -- clocks -----------------------------------------------------------------------------

    def schedule(self) -> None:
        """Gives every contact a start time: each operator's day is a sequence of calls and
        visits inside 09:00-19:00 local (Saturday until 13:00), one after the other."""
        rng = self.rng
        days: dict[tuple[str, dt.date], list[tuple[int, int, _Contact]]] = defaultdict(list)
        for c in self.contacts:
            close = 12 * 3600 + 40 * 60 if c.day.weekday() == 5 else 18 * 3600 + 40 * 60
            if c.account.debtor.country == "US":
                lo = 15 * 3600  # their morning: the US window opens at 08:00 Eastern
            elif c.channel == "home_visit":
                lo, close = 9 * 3600 + 30 * 60, close - 3600
            else:
                lo = 9 * 3600
            days[(c.operator.ref, c.day)].append((rng.randint(lo, max(lo, close)), lo, c))
        for key in sorted(days):
            queue = sorted(days[key], key=lambda w: (w[0], w[2].account.ref))
            wrap = [
                rng.randint(1200, 2400) if c.channel == "home_visit" else rng.randint(20, 120)
                for _, _, c in queue
            ]
            close = (13 if key[1].weekday() == 5 else 19) * 3600
            free_at, starts = 0, []
            for (wanted, lo, c), w in zip(queue, wrap, strict=True):
                starts.append(max(wanted, lo, free_at))
                free_at = starts[-1] + c.seconds + w
            if free_at > close:
                # A full day: pack it from 09:00 and spread what slack is left between calls.
                # The slack is measured on the tightest packing, so the day ends by closing.
                tight = _pack(queue, wrap, [0] * len(queue))
                slack = max(0, close - tight[-1])
                shares = [rng.random() for _ in queue]
                total = sum(shares) or 1.0
                starts = _pack(queue, wrap, [int(slack * x / total) for x in shares])[:-1]
            for (_, _, c), begin in zip(queue, starts, strict=True):
                c.start = self.local(c.account.client, c.day, begin)
        for pay in self.payments:
            if pay.on_call is not None:
                call = pay.on_call
                assert call.start is not None
                pay.paid_at = call.start + dt.timedelta(seconds=max(1, call.seconds - 30))
        for pay in list(self.payments):
            # A returned direct debit or a charged-back card: about 1 % of payments.
            if rng.random() < 0.011:
                assert pay.paid_at is not None
                back = pay.paid_at + dt.timedelta(days=rng.randint(3, 10), hours=rng.randint(1, 9))
                if back.date() < self.today:
                    self.payments.append(
                        _Payment(pay.account, pay.amount_cents, paid_at=back, reversal_of=pay)
                    )

    def number(self) -> None:
        """The clients' references, in the order their systems would have issued them."""
        seq: dict[tuple[str, str], int] = defaultdict(int)
        for c in sorted(self.contacts, key=lambda c: (c.start, c.account.ref)):
            seq[(c.account.client.ref, "K")] += 1
            c.ref = f"{c.account.client.prefix}-K{seq[(c.account.client.ref, 'K')]:07d}"
        self.contacts.sort(key=lambda c: (c.start, c.account.client.ref, c.ref))
        self.payments.sort(key=lambda p: (p.paid_at, p.account.ref, p.reversal_of is not None))
        for pay in self.payments:
            seq[(pay.account.client.ref, "P")] += 1
            pay.ref = f"{pay.account.client.prefix}-P{seq[(pay.account.client.ref, 'P')]:06d}"


_SILENT = frozenset({"no_answer", "busy", "voicemail"})
# Seconds of calls, visits and wrap-up an operator fits into a day (weekday, Saturday): 85 % of
# 09:00-19:00 and of 09:00-13:00, so the day's schedule keeps some air.
_DAY_CAPACITY = {False: 30_600, True: 12_240}
NOT_RIGHT_PARTY = _SILENT | {"third_party", "wrong_party"}


def _pack(queue: list[tuple[int, int, _Contact]], wrap: list[int], gaps: list[int]) -> list[int]:
    """Starts (seconds after midnight) of a day's contacts laid end to end from 09:00, each
    after its gap and not before its earliest hour; the last item is when the day ends."""
    free_at, starts = 9 * 3600, []
    for (_, lo, c), w, gap in zip(queue, wrap, gaps, strict=True):
        starts.append(max(lo, free_at + gap))
        free_at = starts[-1] + c.seconds + w
    return [*starts, free_at]
