"""AAPOR outcome rates (CATI dispositions) and Wilson intervals for funnel proportions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nps.stats.scores import _check_count, _z


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


@dataclass(frozen=True, slots=True)
class Rates:
    """AAPOR (Standard Definitions, 10th ed.) outcome rates as fractions 0..1; None where
    the denominator is 0. ``e`` is the share of unknown-eligibility cases assumed eligible."""

    rr1: float | None
    rr2: float | None
    rr3: float | None
    rr4: float | None
    coop1: float | None
    coop2: float | None
    ref1: float | None
    con1: float | None
    e: float | None


def aapor_rates(
    *,
    I: int,  # noqa: E741 - AAPOR's own letters: complete interviews
    P: int,
    R: int,
    NC: int,
    O: int,  # noqa: E741 - AAPOR's own letters: other eligible non-interviews
    UH: int,
    UO: int,
    NE: int = 0,
    e: float | None = None,
) -> Rates:
    """AAPOR response, cooperation, refusal and contact rates from final dispositions.

    I complete, P partial, R refusal and break-off, NC non-contact, O other eligible,
    UH/UO unknown eligibility (household / other), NE not eligible. ``e`` defaults to the
    eligibility rate among the resolved cases, (I+P+R+NC+O) / (I+P+R+NC+O+NE); with a list
    of named debtors reached on the number e is close to 1, which is why NE is usually 0.
    """
    counts = {"I": I, "P": P, "R": R, "NC": NC, "O": O, "UH": UH, "UO": UO, "NE": NE}
    for name, value in counts.items():
        _check_count(name, value)
    eligible = I + P + R + NC + O
    if e is None:
        e = _ratio(eligible, eligible + NE)
    elif not 0.0 <= e <= 1.0:
        raise ValueError(f"e is a share between 0 and 1, got {e}")
    interviews = I + P
    unknown = UH + UO
    base = interviews + R + NC + O  # known-eligible cases
    all_den = base + unknown
    # With e unknown (nothing resolved at all) RR3/RR4 are unknown too, unless nobody is of
    # unknown eligibility, in which case e does not matter.
    e_den: float | None = base + (e or 0.0) * unknown
    if e is None and unknown:
        e_den = None
    return Rates(
        rr1=_ratio(I, all_den),
        rr2=_ratio(interviews, all_den),
        rr3=None if e_den is None else _ratio(I, e_den),
        rr4=None if e_den is None else _ratio(interviews, e_den),
        coop1=_ratio(I, interviews + R + O),
        coop2=_ratio(interviews, interviews + R + O),
        ref1=_ratio(R, all_den),
        con1=_ratio(interviews + R + O, interviews + R + O + NC + unknown),
        e=e,
    )


@dataclass(frozen=True, slots=True)
class Proportion:
    """k of n with a Wilson score interval; ``p``/``low``/``high`` None when n == 0."""

    p: float | None
    low: float | None
    high: float | None
    k: int
    n: int


def wilson(k: int, n: int, *, confidence: float = 0.95) -> Proportion:
    """Wilson score interval for k successes in n (funnel steps: delivered of sent...).

    Chosen over the plain Wald interval because funnel rates sit near 0 or 1 (delivery
    ~ 98 %), where Wald gives intervals past 100 % or of zero width.
    """
    k = _check_count("k", k)
    n = _check_count("n", n)
    if k > n:
        raise ValueError(f"k ({k}) cannot exceed n ({n})")
    if n == 0:
        return Proportion(None, None, None, 0, 0)
    z = _z(confidence)
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return Proportion(p, max(0.0, centre - half), min(1.0, centre + half), k, n)
