"""A synthetic collection world for the demo: three clients, fifteen operators with a planted
style, about twenty thousand accounts, forty thousand contacts over 120 days, and the payments
they lead to.

Everything is drawn from one `random.Random(seed)`, so one seed and one reference date give
byte-identical CSV files, in the formats of the ingest contracts; the rows then go through the
ordinary ingest like a user's feeds. Nothing here touches the database.

The operators' styles are the planted truth the analytics should find again: an empathic
operator (the agencies' own method) wins more promises on a right-party contact, sees more of
them kept and recovers more money; a pushy one wins fewer, sees more broken and hears more
"stop calling me". `operator_params` holds the effect sizes; the manifest records each
operator's latent `empathy` so later steps (survey answers) can use the same truth.

The cast and reference data live in `collections_link.demo_cast`, the simulation in
`collections_link.demo_world`; this module writes the world out and keeps the names importable
from here.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from collections_link.demo_cast import (
    CALLER_OPERATOR_REF,
    CLIENTS,
    DEMO_OPERATOR_REFS,
    DEMO_SUFFIX,
    MOVE_DAYS_BEFORE,
    MOVER_REF,
    MOVER_TO,
    NEW_HIRE_REF,
    DemoAssignment,
    DemoClient,
    DemoOperator,
    OperatorParams,
    demo_operators,
    operator_params,
    style_of,
)
from collections_link.demo_world import (
    FLAG_ORDER,
    FULL_SCALE_ACCOUNTS,
    MIN_ACCOUNTS_PER_OPERATOR,
    NOT_RIGHT_PARTY,
    PERIOD_DAYS,
    STOPPING_FLAGS,
    World,
)

__all__ = [
    "ACCOUNT_COLUMNS",
    "CALLER_OPERATOR_REF",
    "CLIENTS",
    "CONTACT_COLUMNS",
    "DEMO_OPERATOR_REFS",
    "DEMO_SUFFIX",
    "FLAG_ORDER",
    "FULL_SCALE_ACCOUNTS",
    "MIN_ACCOUNTS_PER_OPERATOR",
    "MOVER_REF",
    "MOVER_TO",
    "MOVE_DAYS_BEFORE",
    "NEW_HIRE_REF",
    "PAYMENT_COLUMNS",
    "PERIOD_DAYS",
    "STOPPING_FLAGS",
    "DemoAssignment",
    "DemoClient",
    "DemoManifest",
    "DemoOperator",
    "OperatorParams",
    "StyleStats",
    "demo_operators",
    "generate",
    "operator_params",
    "style_of",
]

# fmt: off
ACCOUNT_COLUMNS = (
    "client_ref", "account_ref", "debtor_ref", "debtor_phone", "debtor_country", "debtor_language",
    "placed_at", "amount_placed", "currency",
)
CONTACT_COLUMNS = (
    "client_ref", "contact_ref", "account_ref", "operator_ref", "operator_name", "channel",
    "started_at", "ended_at", "outcome", "flags", "promise_amount", "promise_due",
    "survey_consent",
)
PAYMENT_COLUMNS = (
    "client_ref", "payment_ref", "account_ref", "paid_at", "amount", "currency", "reversal_of",
)
# fmt: on


@dataclass
class StyleStats:
    """What the generated data actually shows per style (the realised effect sizes)."""

    operators: int = 0
    right_party_contacts: int = 0
    promises: int = 0
    promises_due: int = 0
    promises_kept: int = 0
    accounts: int = 0
    placed_cents: int = 0
    collected_cents: int = 0

    @property
    def promise_rate(self) -> float:
        return self.promises / self.right_party_contacts if self.right_party_contacts else 0.0

    @property
    def kept_rate(self) -> float:
        return self.promises_kept / self.promises_due if self.promises_due else 0.0

    @property
    def recovery_rate(self) -> float:
        return self.collected_cents / self.placed_cents if self.placed_cents else 0.0


@dataclass
class DemoManifest:
    seed: int
    today: dt.date
    scale: float
    directory: Path
    clients: tuple[DemoClient, ...]
    operators: tuple[DemoOperator, ...]
    counts: dict[str, int] = field(default_factory=dict)
    by_style: dict[str, StyleStats] = field(default_factory=dict)

    def path(self, feed: str) -> Path:
        return self.directory / f"{feed}.csv"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (dates and paths as strings): the truth a curious user can read."""
        data = asdict(self)
        data.pop("directory")
        data["synthetic"] = True
        data["by_style"] = {
            style: {
                **asdict(s),
                "promise_rate": s.promise_rate,
                "kept_rate": s.kept_rate,
                "recovery_rate": s.recovery_rate,
            }
            for style, s in self.by_style.items()
        }
        return data


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _iso(moment: dt.datetime | None) -> str:
    assert moment is not None
    return moment.isoformat(timespec="seconds")


def _write(path: Path, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def generate(
    *, directory: Path, seed: int = 42, today: dt.date, scale: float = 1.0
) -> DemoManifest:
    """Draws the world and writes accounts.csv, contacts.csv and payments.csv (and
    manifest.json) into `directory`. The same arguments always give the same bytes."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    directory.mkdir(parents=True, exist_ok=True)
    world = World(seed=seed, today=today, scale=scale)
    world.place_accounts()
    for acc in world.accounts:
        world.simulate_account(acc)
    world.schedule()
    world.number()

    _write(
        directory / "accounts.csv",
        ACCOUNT_COLUMNS,
        [
            [a.client.ref, a.ref, a.debtor.ref, a.debtor.phone, a.debtor.country,
             a.debtor.language, a.placed_on.isoformat(), _money(a.amount_cents), "EUR"]
            for a in world.accounts
        ],
    )  # fmt: skip
    _write(
        directory / "contacts.csv",
        CONTACT_COLUMNS,
        [
            [
                c.account.client.ref, c.ref, c.account.ref, c.operator.ref, c.operator.name,
                c.channel, _iso(c.start),
                _iso(c.start + dt.timedelta(seconds=c.seconds) if c.start else None),
                c.outcome, c.flags,
                _money(c.promise_cents) if c.promise_cents else "",
                c.promise_due.isoformat() if c.promise_due else "",
                c.consent,
            ]
            for c in world.contacts
        ],
    )  # fmt: skip
    _write(
        directory / "payments.csv",
        PAYMENT_COLUMNS,
        [
            [p.account.client.ref, p.ref, p.account.ref, _iso(p.paid_at), _money(p.amount_cents),
             "EUR", p.reversal_of.ref if p.reversal_of else ""]
            for p in world.payments
        ],
    )  # fmt: skip

    manifest = DemoManifest(
        seed=seed,
        today=today,
        scale=scale,
        directory=directory,
        clients=CLIENTS,
        operators=world.operators,
        counts=_counts(world),
        by_style=_by_style(world),
    )
    (directory / "manifest.json").write_text(
        json.dumps(manifest.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    return manifest


def _counts(world: World) -> dict[str, int]:
    contacts, payments = world.contacts, world.payments
    return {
        "clients": len(CLIENTS),
        "operators": len(world.operators),
        "debtors": len({(a.client.ref, a.debtor.ref) for a in world.accounts}),
        "accounts": len(world.accounts),
        "contacts": len(contacts),
        "right_party_contacts": sum(c.outcome not in NOT_RIGHT_PARTY for c in contacts),
        "home_visits": sum(c.channel == "home_visit" for c in contacts),
        "flagged_contacts": sum(bool(c.flags) for c in contacts),
        "consent_yes": sum(c.consent == "yes" for c in contacts),
        "promises": sum(c.promise_cents is not None for c in contacts),
        "payments": sum(p.reversal_of is None for p in payments),
        "reversals": sum(p.reversal_of is not None for p in payments),
        "placed_cents": sum(a.amount_cents for a in world.accounts),
        "collected_cents": sum(p.signed_cents for p in payments),
    }


def _by_style(world: World) -> dict[str, StyleStats]:
    stats = {style: StyleStats() for style in ("empathic", "neutral", "pushy")}
    for op in world.operators:
        stats[op.style].operators += 1
    # A promise counts as kept when money arrived on the account within a week of its due day.
    paid_days: dict[str, list[dt.date]] = defaultdict(list)
    collected: dict[str, int] = defaultdict(int)
    for pay in world.payments:
        collected[pay.account.ref] += pay.signed_cents
        if pay.reversal_of is None and pay.on_call is None and pay.paid_at is not None:
            paid_days[pay.account.ref].append(pay.paid_at.date())
    horizon = world.today - dt.timedelta(days=7)
    for c in world.contacts:
        s = stats[c.operator.style]
        s.right_party_contacts += c.outcome not in NOT_RIGHT_PARTY
        if c.promise_due is None:
            continue
        s.promises += 1
        if c.promise_due <= horizon:
            s.promises_due += 1
            hi = c.promise_due + dt.timedelta(days=7)
            s.promises_kept += any(c.day < d <= hi for d in paid_days[c.account.ref])
    for acc in world.accounts:
        s = stats[acc.first_owner.style if acc.first_owner else "neutral"]
        s.accounts += 1
        s.placed_cents += acc.amount_cents
        s.collected_cents += collected[acc.ref]
    return stats
