"""Counts, the NPS score, adjusted-Wald intervals, the two-group test and display states."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]

Category = Literal["promoter", "passive", "detractor"]
DisplayState = Literal["hidden", "shrunk_only", "shown", "ranked"]

# Adjusted Wald (Rocks 2016) adds 3 pseudo-answers: 3/4 promoter, 3/2 passive, 3/4 detractor.
ADJUSTED_WALD_PSEUDO = (0.75, 1.5, 0.75)

# Display thresholds for a group's NPS: see display_state().
HIDE_BELOW = 10
SHOW_RAW_FROM = 30
RANK_FROM = 50

# --------------------------------------------------------------------------------------------
# Counts and the plain score
# --------------------------------------------------------------------------------------------


def _check_count(name: str, value: object) -> int:
    # bool is an int subclass; True promoters is a bug upstream, not a count.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return int(value)


@dataclass(frozen=True, slots=True)
class Counts:
    """How many promoters, passives and detractors one group (a cell) has."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    def __post_init__(self) -> None:
        for name in ("promoters", "passives", "detractors"):
            object.__setattr__(self, name, _check_count(name, getattr(self, name)))

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        return nps_score(self.promoters, self.passives, self.detractors)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.promoters + other.promoters,
            self.passives + other.passives,
            self.detractors + other.detractors,
        )

    def as_array(self) -> FloatArray:
        return np.array([self.promoters, self.passives, self.detractors], dtype=np.float64)

    @classmethod
    def from_scores(cls, scores: Iterable[int]) -> Counts:
        tally = {"promoter": 0, "passive": 0, "detractor": 0}
        for score in scores:
            tally[bucket(score)] += 1
        return cls(tally["promoter"], tally["passive"], tally["detractor"])


def bucket(score: int) -> Category:
    """The NPS category of one 0-10 answer: 9-10 promoter, 7-8 passive, 0-6 detractor."""
    if isinstance(score, bool) or not isinstance(score, int | np.integer):
        raise ValueError(f"an NPS answer is a whole number 0-10, got {score!r}")
    if not 0 <= score <= 10:
        raise ValueError(f"an NPS answer is 0-10, got {score}")
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


def nps_score(promoters: int, passives: int, detractors: int) -> float | None:
    """100 x (promoters - detractors) / n, or None when nobody answered."""
    c = Counts(promoters, passives, detractors)
    if c.n == 0:
        return None
    return 100.0 * (c.promoters - c.detractors) / c.n


def total(groups: Iterable[Counts]) -> Counts:
    """The union of several groups (e.g. all operators of a client)."""
    out = Counts()
    for c in groups:
        out = out + c
    return out


# --------------------------------------------------------------------------------------------
# Intervals and tests (Rocks 2016 adjusted Wald; MeasuringU comparison)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _z(confidence: float) -> float:
    # Cached: scipy's ppf costs ~0.1 ms and a table computes thousands of intervals.
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    # Exact normal quantile (1.959964 at 95 %), not the rounded 1.96.
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _clip_points(value: float) -> float:
    return min(100.0, max(-100.0, value))


@dataclass(frozen=True, slots=True)
class Interval:
    """An adjusted-Wald interval, in NPS points.

    ``centre`` is the adjusted estimate p' - d' (pulled slightly towards 0 at small n), not
    the raw NPS; ``half_width`` is the unclipped z x SE, while ``low``/``high`` are clipped to
    [-100, 100], so near the ends the interval is lopsided rather than impossible.
    """

    centre: float
    low: float
    high: float
    half_width: float
    n: int


def _adjusted(c: Counts) -> tuple[float, float, float]:
    """(centre, variance, n') of the adjusted-Wald estimate on the -1..+1 scale."""
    n_adj = c.n + 3.0
    p = (c.promoters + ADJUSTED_WALD_PSEUDO[0]) / n_adj
    d = (c.detractors + ADJUSTED_WALD_PSEUDO[2]) / n_adj
    return p - d, p + d - (p - d) ** 2, n_adj


def adjusted_wald(
    promoters: int, passives: int, detractors: int, *, confidence: float = 0.95
) -> Interval:
    """Rocks (2016) adjusted-Wald interval: the best-covering of six methods at small n.

    n' = n + 3, p' = (P + 3/4) / n', d' = (D + 3/4) / n', centre = p' - d',
    half-width = z x sqrt((p' + d' - (p' - d')^2) / n'), all x 100. Defined even at n = 0
    (it is the interval of the pseudo-answers alone), but nobody should display that.
    """
    c = Counts(promoters, passives, detractors)
    centre, var, n_adj = _adjusted(c)
    half = 100.0 * _z(confidence) * math.sqrt(var / n_adj)
    mid = 100.0 * centre
    return Interval(
        centre=mid,
        low=_clip_points(mid - half),
        high=_clip_points(mid + half),
        half_width=half,
        n=c.n,
    )


def wald_se(promoters: int, passives: int, detractors: int) -> float | None:
    """Plain standard error of NPS in points: 100 x sqrt((p + d - (p - d)^2) / n).

    This is one standard error, not a margin: the "+-6.6 at 95 %" for 40/40/20 at n = 500
    is 1.96 x this (3.35). Kept for comparison with other tools; the dashboards use
    adjusted_wald(), which behaves at small n where this collapses to 0 (all promoters).
    """
    c = Counts(promoters, passives, detractors)
    if c.n == 0:
        return None
    p, d = c.promoters / c.n, c.detractors / c.n
    return 100.0 * math.sqrt((p + d - (p - d) ** 2) / c.n)


@dataclass(frozen=True, slots=True)
class ZTest:
    """Difference of adjusted NPS (a - b, in points), its z statistic and two-sided p."""

    diff: float
    z: float
    p_value: float


def two_group_z(a: Counts, b: Counts) -> ZTest:
    """MeasuringU's test of two independent NPS on adjusted-Wald values.

    z = (c1 - c2) / sqrt(v1 / n1' + v2 / n2'). The adjusted variance is never 0 (the
    pseudo-answers see to that), so the test is defined even for tiny or unanimous groups.
    """
    c1, v1, n1 = _adjusted(a)
    c2, v2, n2 = _adjusted(b)
    z = (c1 - c2) / math.sqrt(v1 / n1 + v2 / n2)
    # sf(|z|) rather than 1 - cdf keeps precision for large |z|.
    p_value = float(2.0 * stats.norm.sf(abs(z)))
    return ZTest(diff=100.0 * (c1 - c2), z=z, p_value=min(1.0, p_value))


def sample_size_for_difference(
    diff_points: float,
    *,
    variance: float = 1.0,
    variance_b: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Answers needed *per group* to detect an NPS difference of ``diff_points``.

    MeasuringU: n = s^2 Z^2 / d^2 - 3 with Z = Z_(alpha/2) + Z_beta (two-sided test). Here
    s^2 is the variance of the *difference* per answer, i.e. the sum of the two groups'
    per-answer variances (p + d - (p - d)^2 on the -1..+1 scale): that is what solving the
    two-group z above for equal n' gives. ``variance`` defaults to 1, the worst case
    (half promoters, half detractors); a typical mix (40 % P, 30 % D) is about 0.69.
    """
    if diff_points <= 0:
        raise ValueError("the difference to detect must be positive (in NPS points)")
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise ValueError("alpha and power must be between 0 and 1")
    var_b = variance if variance_b is None else variance_b
    if variance <= 0 or var_b <= 0 or variance > 1 or var_b > 1:
        raise ValueError("an NPS variance per answer lies in (0, 1]")
    z = float(stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power))
    d = diff_points / 100.0
    n = (variance + var_b) * z * z / (d * d) - 3.0
    return max(1, math.ceil(n))


# --------------------------------------------------------------------------------------------
# Display states
# --------------------------------------------------------------------------------------------


def display_state(n: int) -> DisplayState:
    """What a dashboard may show for a group (an operator) with n answers.

    - ``hidden`` (n < 10): nothing: not the raw NPS, not a shrunken one; only "fewer than 10
      answers". Any number at this size is mostly noise and invites blame.
    - ``shrunk_only`` (10 <= n < 30): only the shrunken estimate with its credible interval,
      greyed out; never the raw NPS; excluded from any ranking.
    - ``shown`` (30 <= n < 50): the raw NPS with its adjusted-Wald interval (the shrunken
      value beside it); still not ranked.
    - ``ranked`` (n >= 50): as ``shown``, and may appear in league tables, which order
      operators by their *shrunken* NPS only (see ranking()).
    """
    n = _check_count("n", n)
    if n < HIDE_BELOW:
        return "hidden"
    if n < SHOW_RAW_FROM:
        return "shrunk_only"
    if n < RANK_FROM:
        return "shown"
    return "ranked"


# Shared by the credible and bootstrap intervals.
def _quantiles(sample: FloatArray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(sample, [tail, 1.0 - tail])
    return float(low), float(high)
