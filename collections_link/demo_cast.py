"""The demo's cast and reference data: the three synthetic clients, the fifteen operators with
their planted styles (who serves which client, the mover, the new hire, the CATI caller), and
the effect sizes those styles have on a right-party contact. `operator_params` holds the effect
sizes; `demo_operators` builds the cast for a reference date. Nothing here draws at random.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

DEMO_SUFFIX = " (demo)"


@dataclass(frozen=True)
class DemoClient:
    ref: str
    name: str
    country: str
    language: str
    time_zone: str
    sector: str
    account_share: float
    median_amount: float
    amount_sigma: float
    prefix: str


CLIENTS: tuple[DemoClient, ...] = (
    DemoClient(
        "acme-energia", "Acme Energia (demo)", "IT", "it", "Europe/Rome",
        "electricity and gas utility", 0.45, 320.0, 0.85, "AE",
    ),
    DemoClient(
        "luz-norte", "Luz Norte (demo)", "ES", "es", "Europe/Madrid",
        "electricity utility", 0.30, 280.0, 0.85, "LN",
    ),
    DemoClient(
        "telco-uno", "Telco Uno (demo)", "IT", "it", "Europe/Rome",
        "telecom", 0.25, 160.0, 0.70, "TU",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class OperatorParams:
    """How an operator's style moves the outcome of a right-party contact and what follows.
    Shares are of right-party contacts; rates are probabilities."""

    promise_share: float  # promise_to_pay or payment_plan
    settle_share: float  # paid or partial_payment on the call
    conflict_share: float  # refusal or dispute
    hardship_share: float
    callback_share: float
    keep_rate: float  # a promise (or a plan's first instalment) is honoured
    instalment_keep_rate: float  # each later instalment of a plan is honoured
    spontaneous_pay_rate: float  # pays later without having promised
    cease_rate: float  # a refusal comes with "stop calling me"
    consent_yes: float  # survey consent on a right-party phone contact
    consent_no: float
    talk_factor: float  # right-party call length relative to the median


def operator_params(empathy: float) -> OperatorParams:
    """The effect sizes, linear in the latent empathy e in [-1, 1] (e = 0 is the neutral
    operator): +1 adds 10 points of promise share and 16 points of kept promises."""
    e = max(-1.0, min(1.0, empathy))
    promise = 0.30 + 0.10 * e
    settle = 0.13 + 0.03 * e
    conflict = 0.20 - 0.09 * e
    hardship = 0.12 + 0.02 * e
    return OperatorParams(
        promise_share=promise, settle_share=settle, conflict_share=conflict,
        hardship_share=hardship, callback_share=1.0 - promise - settle - conflict - hardship,
        keep_rate=0.58 + 0.16 * e, instalment_keep_rate=0.86 + 0.08 * e,
        spontaneous_pay_rate=0.05 + 0.03 * e, cease_rate=0.08 - 0.05 * e,
        consent_yes=0.70 + 0.06 * e, consent_no=0.10 - 0.03 * e,
        # Listening takes time: empathic calls run longer, pushy ones shorter.
        talk_factor=math.exp(0.25 * e),
    )  # fmt: skip


def style_of(empathy: float) -> str:
    if empathy >= 0.4:
        return "empathic"
    if empathy <= -0.4:
        return "pushy"
    return "neutral"


@dataclass(frozen=True)
class DemoAssignment:
    client_ref: str
    started_on: dt.date
    ended_on: dt.date | None  # exclusive; None while open


@dataclass(frozen=True)
class DemoOperator:
    ref: str
    name: str
    style: str
    empathy: float
    weight: float
    assignments: tuple[DemoAssignment, ...]
    params: OperatorParams
    note: str = ""

    @property
    def client_ref(self) -> str:
        """The client served now (the open assignment)."""
        return self.assignments[-1].client_ref

    def serves(self, client_ref: str, day: dt.date) -> bool:
        return any(
            a.client_ref == client_ref
            and a.started_on <= day
            and (a.ended_on is None or day < a.ended_on)
            for a in self.assignments
        )


# (ref, name, first client, empathy, hired days before the reference date, weight, note)
_CAST: tuple[tuple[str, str, str, float, int, float, str], ...] = (
    ("op-giulia-rossi", "Giulia Rossi", "acme-energia", 0.85, 900, 1.0, ""),
    ("op-francesca-romano", "Francesca Romano", "acme-energia", 0.55, 700, 1.0, ""),
    ("op-marco-bianchi", "Marco Bianchi", "acme-energia", 0.05, 1200, 1.0,
     "moved from Acme Energia to Telco Uno mid-period"),
    ("op-luca-ferrari", "Luca Ferrari", "acme-energia", -0.80, 800, 1.0, ""),
    ("op-alessandro-esposito", "Alessandro Esposito", "acme-energia", -0.50, 400, 1.0, ""),
    ("op-lucia-garcia", "Lucía García", "luz-norte", 0.80, 1000, 1.0, ""),
    ("op-carmen-lopez", "Carmen López", "luz-norte", 0.50, 600, 1.0, ""),
    ("op-javier-martinez", "Javier Martínez", "luz-norte", 0.00, 900, 1.0, ""),
    ("op-pablo-fernandez", "Pablo Fernández", "luz-norte", -0.25, 500, 1.0, ""),
    ("op-sergio-sanchez", "Sergio Sánchez", "luz-norte", -0.85, 750, 1.0, ""),
    ("op-chiara-colombo", "Chiara Colombo", "telco-uno", 0.70, 850, 1.0, ""),
    ("op-sara-marino", "Sara Marino", "telco-uno", 0.20, 650, 1.0,
     "also works CATI shifts as a caller"),
    ("op-davide-ricci", "Davide Ricci", "telco-uno", -0.70, 950, 1.0, ""),
    ("op-matteo-greco", "Matteo Greco", "telco-uno", -0.45, 550, 1.0, ""),
    ("op-elena-bruno", "Elena Bruno", "telco-uno", 0.90, 12, 0.25,
     "new hire: very few contacts"),
)  # fmt: skip
DEMO_OPERATOR_REFS: tuple[str, ...] = tuple(member[0] for member in _CAST)
MOVER_REF = "op-marco-bianchi"
MOVER_TO = "telco-uno"
MOVE_DAYS_BEFORE = 55
NEW_HIRE_REF = "op-elena-bruno"
CALLER_OPERATOR_REF = "op-sara-marino"


def demo_operators(*, today: dt.date) -> tuple[DemoOperator, ...]:
    operators = []
    for ref, name, client_ref, empathy, hired, weight, note in _CAST:
        start = today - dt.timedelta(days=hired)
        if ref == MOVER_REF:
            moved = today - dt.timedelta(days=MOVE_DAYS_BEFORE)
            assignments: tuple[DemoAssignment, ...] = (
                DemoAssignment(client_ref, start, moved),
                DemoAssignment(MOVER_TO, moved, None),
            )
        else:
            assignments = (DemoAssignment(client_ref, start, None),)
        params = operator_params(empathy)
        style = style_of(empathy)
        operators.append(DemoOperator(ref, name, style, empathy, weight, assignments, params, note))
    return tuple(operators)
