"""Empirical-Bayes shrinkage of per-operator NPS and the channel-adjusted operator NPS."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy import optimize, special

from nps.stats.scores import (
    ADJUSTED_WALD_PSEUDO,
    Counts,
    DisplayState,
    FloatArray,
    _quantiles,
    _z,
    display_state,
    total,
)

K = TypeVar("K", bound=Hashable)
Shares = tuple[float, float, float]
"""(promoter, passive, detractor) shares, summing to 1."""

# Empirical-Bayes prior strength: the default when it cannot be fitted, and the range a fitted
# value is clipped to. 20 pseudo-answers means an operator's own answers outweigh the client
# average from n = 20 on; the clip stops one odd client from producing a prior that ignores
# the operator (huge strength) or one that does not shrink at all (strength near 0).
DEFAULT_PRIOR_STRENGTH = 20.0
MIN_PRIOR_STRENGTH = 1.0
MAX_PRIOR_STRENGTH = 1000.0
# Fitting the between-group spread needs at least this many groups with 2+ answers each
# (a group of one answer carries no information about overdispersion).
MIN_GROUPS_FOR_FIT = 3
# The fit searches this far; a likelihood still rising at the end means "no overdispersion".
_FIT_SEARCH_MAX = 1e6
_FIT_GRID_POINTS = 241
_NEGLIGIBLE_SHARE = 1e-12

# Posterior draws for credible intervals: >= 4,000 keeps the Monte Carlo error of a 2.5 %
# quantile well under a point of NPS.
DEFAULT_DRAWS = 4000
MIN_DRAWS = 4000
DEFAULT_SEED = 20160101


def _check_shares(shares: Sequence[float]) -> FloatArray:
    arr = np.asarray(shares, dtype=np.float64)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"prior shares are three non-negative numbers, got {shares!r}")
    if not math.isclose(float(arr.sum()), 1.0, abs_tol=1e-9):
        raise ValueError(f"prior shares must sum to 1, got {shares!r}")
    return arr


def pooled_shares(groups: Iterable[Counts]) -> Shares:
    """The (P, Pa, D) shares of all groups together: the client's pooled mix.

    With no answers at all there is nothing to pool; the adjusted-Wald pseudo-answers
    (1/4, 1/2, 1/4, NPS 0) stand in, and every group is hidden anyway.
    """
    pooled = total(groups)
    if pooled.n == 0:
        s = sum(ADJUSTED_WALD_PSEUDO)
        return (
            ADJUSTED_WALD_PSEUDO[0] / s,
            ADJUSTED_WALD_PSEUDO[1] / s,
            ADJUSTED_WALD_PSEUDO[2] / s,
        )
    return (pooled.promoters / pooled.n, pooled.passives / pooled.n, pooled.detractors / pooled.n)


@dataclass(frozen=True, slots=True)
class PriorFit:
    """The prior strength used, whether it was fitted, and why not when it was not."""

    strength: float
    fitted: bool
    reason: str


def _dm_loglik(alphas: FloatArray, x: FloatArray, pi: FloatArray) -> FloatArray:
    """Dirichlet-multinomial log-likelihood (up to a constant) at each prior strength.

    Per group: lgamma(a) - lgamma(n + a) + sum_k [lgamma(x_k + a pi_k) - lgamma(a pi_k)].
    Vectorised over the strengths (m,), groups (G,) and categories (K,).
    """
    n = x.sum(axis=1)  # (G,)
    a = alphas[:, None]  # (m, 1)
    per_total = special.gammaln(a) - special.gammaln(n[None, :] + a)  # (m, G)
    ap = alphas[:, None, None] * pi[None, None, :]  # (m, 1, K)
    # A category a group never used adds exactly 0; computing it could give inf - inf when a
    # tiny share times a underflows to 0, so it is masked rather than computed.
    with np.errstate(invalid="ignore"):
        per_cat = np.where(
            x[None, :, :] > 0, special.gammaln(x[None, :, :] + ap) - special.gammaln(ap), 0.0
        )  # (m, G, K)
    return np.asarray(per_total.sum(axis=1) + per_cat.sum(axis=(1, 2)), dtype=np.float64)


def fit_prior_strength(
    groups: Mapping[K, Counts] | Iterable[Counts], *, prior_shares: Sequence[float] | None = None
) -> PriorFit:
    """Maximum marginal likelihood of the Dirichlet-multinomial prior strength a.

    Model: group i's true shares ~ Dirichlet(a x pi), its answers ~ Multinomial(n_i, shares),
    with pi the pooled shares. a measures how alike the groups are: a large a means the
    groups differ little beyond sampling noise (so shrink hard), a small a means they
    genuinely differ (so trust each group's own answers). The likelihood is maximised over
    log a on a grid, then refined with Brent's method.

    Falls back to DEFAULT_PRIOR_STRENGTH (20) when a cannot be estimated: fewer than 3 groups
    with 2+ answers, an observed category the prior calls impossible, or no overdispersion
    (the likelihood still rising at a = 1e6: the data cannot tell "identical groups" from
    "too few answers to see a difference"). In that last case the maximum-likelihood answer,
    a -> infinity, would paint every group the client's colour with falsely narrow
    intervals, because plug-in empirical Bayes ignores the uncertainty in a itself; the
    moderate default is the honest choice. Fitted values are clipped to [1, 1000].
    """
    values = list(groups.values()) if isinstance(groups, Mapping) else list(groups)
    pi = np.asarray(pooled_shares(values) if prior_shares is None else _check_shares(prior_shares))
    informative = [c.as_array() for c in values if c.n >= 2]
    if len(informative) < MIN_GROUPS_FOR_FIT:
        return PriorFit(
            DEFAULT_PRIOR_STRENGTH,
            False,
            f"fewer than {MIN_GROUPS_FOR_FIT} groups with 2 or more answers",
        )
    x = np.vstack(informative)
    # A share this small is a zero in all but floating-point noise, and a x share would
    # underflow towards lgamma(0) = inf; treat it as the zero it means.
    pi = np.where(pi < _NEGLIGIBLE_SHARE, 0.0, pi)
    seen = x.sum(axis=0) > 0
    if np.any(seen & (pi == 0)):
        return PriorFit(
            DEFAULT_PRIOR_STRENGTH, False, "the prior gives no weight to an observed category"
        )
    # A category with pi = 0 (and so no answers) adds lgamma(0) - lgamma(0): drop it.
    keep = pi > 0
    x, pi = x[:, keep], pi[keep]

    grid = np.linspace(0.0, math.log(_FIT_SEARCH_MAX), _FIT_GRID_POINTS)
    ll = _dm_loglik(np.exp(grid), x, pi)
    # -inf where a share times a underflows to 0 under an observed category: that a is
    # impossible, not the whole fit; only a likelihood that is nowhere finite gives up.
    if not np.any(np.isfinite(ll)) or np.any(np.isnan(ll)):
        return PriorFit(DEFAULT_PRIOR_STRENGTH, False, "the likelihood could not be evaluated")
    best = int(np.argmax(ll))
    if best == len(grid) - 1:
        return PriorFit(DEFAULT_PRIOR_STRENGTH, False, "no overdispersion between groups")
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(
        lambda t: -float(_dm_loglik(np.array([math.exp(t)]), x, pi)[0]),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},
    )
    t_best = float(res.x) if res.success and math.isfinite(res.fun) else float(grid[best])
    strength = min(MAX_PRIOR_STRENGTH, max(MIN_PRIOR_STRENGTH, math.exp(t_best)))
    return PriorFit(strength, True, "maximum marginal likelihood")


@dataclass(frozen=True, slots=True)
class Shrunk:
    """One group's raw and shrunken NPS, with a credible interval and its display state.

    ``raw_nps`` is None for a group with no answers; ``shrunk_nps`` is then the prior's NPS.
    ``low``/``high`` bound the central credible interval of the shrunken NPS.
    """

    raw_nps: float | None
    shrunk_nps: float
    low: float
    high: float
    n: int
    state: DisplayState
    prior_nps: float
    prior_strength: float


def _seeded_rng(seed: int, c: Counts) -> np.random.Generator:
    # Seeded from the group's own counts as well, so a group's interval does not depend on
    # the order of the mapping or on which other groups happen to be in it.
    return np.random.default_rng([seed, c.promoters, c.passives, c.detractors])


def _dirichlet_nps_draws(alpha: FloatArray, draws: int, rng: np.random.Generator) -> FloatArray:
    """NPS (on -1..+1) of ``draws`` Dirichlet(alpha) share vectors, in one vectorised call.

    Drawn as normalised Gamma variates rather than Generator.dirichlet because a prior share
    of 0 (a client with no detractors at all) gives a 0 parameter, which Gamma(0) = 0 handles
    and dirichlet() rejects.
    """
    g = rng.standard_gamma(alpha, size=(draws, alpha.shape[0]))
    shares = g / g.sum(axis=1, keepdims=True)
    return np.asarray(shares[:, 0] - shares[:, 2], dtype=np.float64)


def _credible(sample: FloatArray, estimate: float, confidence: float) -> tuple[float, float]:
    """Central credible interval of the draws, stretched to include the exact estimate.

    When a category's pseudo-count is far below 1 (a near-unanimous group under a prior that
    all but rules that category out) the posterior is so skewed that its mean can sit past
    the 97.5th percentile, by a hair. Stretching the interval to the mean only adds
    posterior mass, so it is still a valid (slightly conservative) credible interval, and a
    dashboard bar never floats off its own dot.
    """
    low, high = _quantiles(sample, confidence)
    return min(low, estimate), max(high, estimate)


def shrink(
    groups: Mapping[K, Counts],
    *,
    prior_shares: Sequence[float] | None = None,
    prior_strength: float | None = None,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
) -> dict[K, Shrunk]:
    """Empirical-Bayes NPS per group, shrunk towards the pooled shares.

    Each group's (P, Pa, D) shares get a Dirichlet(a x pi) prior: pi the pooled shares of all
    groups (or ``prior_shares``), a the prior strength (fitted by fit_prior_strength() unless
    given). The posterior is Dirichlet(counts + a x pi), so the shrunken NPS is

        100 x [(P + a pi_P) / (n + a) - (D + a pi_D) / (n + a)],

    a weighted average of the raw NPS (weight n) and the prior's NPS (weight a): a small
    group moves most of the way to the pool, a large one hardly moves. The credible interval
    is the central ``confidence`` quantile range of ``draws`` posterior draws.
    """
    if draws < MIN_DRAWS:
        raise ValueError(f"use at least {MIN_DRAWS} posterior draws, got {draws}")
    _z(confidence)  # validates the level
    values = list(groups.values())
    pi = np.asarray(pooled_shares(values) if prior_shares is None else _check_shares(prior_shares))
    if prior_strength is None:
        strength = fit_prior_strength(values, prior_shares=pi.tolist()).strength
    else:
        if not math.isfinite(prior_strength) or prior_strength <= 0:
            raise ValueError(f"prior strength must be positive, got {prior_strength}")
        strength = float(prior_strength)
    prior_nps = 100.0 * float(pi[0] - pi[2])

    out: dict[K, Shrunk] = {}
    for key, c in groups.items():
        post = c.as_array() + strength * pi
        mean = post / post.sum()
        shrunk_nps = 100.0 * float(mean[0] - mean[2])
        sample = _dirichlet_nps_draws(post, draws, _seeded_rng(seed, c))
        low, high = _credible(100.0 * sample, shrunk_nps, confidence)
        out[key] = Shrunk(
            raw_nps=c.nps,
            shrunk_nps=shrunk_nps,
            low=low,
            high=high,
            n=c.n,
            state=display_state(c.n),
            prior_nps=prior_nps,
            prior_strength=strength,
        )
    return out


def ranking(results: Mapping[K, Shrunk]) -> list[K]:
    """Keys of the groups that may be ranked (n >= 50), best shrunken NPS first.

    Ties keep the mapping's order; groups below the ranking threshold are left out rather
    than put at the bottom, because "not enough answers" is not "worst".
    """
    eligible = [(key, r) for key, r in results.items() if r.state == "ranked"]
    eligible.sort(key=lambda item: item[1].shrunk_nps, reverse=True)
    return [key for key, _ in eligible]


# --------------------------------------------------------------------------------------------
# Channel-adjusted operator NPS (direct standardisation)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelPart:
    """One channel's contribution to a channel-adjusted NPS."""

    channel: Hashable
    weight: float
    n: int
    raw_nps: float | None
    shrunk_nps: float


@dataclass(frozen=True, slots=True)
class ChannelAdjusted:
    """An operator's NPS as if they had worked the client's channel mix.

    ``adjusted_nps``/``low``/``high`` are None when the operator has no answers at all.
    """

    adjusted_nps: float | None
    low: float | None
    high: float | None
    raw_nps: float | None
    n: int
    parts: tuple[ChannelPart, ...]


def channel_adjusted_nps(
    *,
    operator: Mapping[K, Counts],
    client: Mapping[K, Counts],
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
) -> ChannelAdjusted:
    """Direct standardisation of an operator's NPS to the client's channel mix.

    Phone (CATI) answers run more extreme and usually kinder than SMS-web answers, so an
    SMS-only operator and a CATI-only operator cannot be compared raw. For each channel c:

    1. the operator's shares in c are shrunk towards the *client's* shares in c,
       (x_c + a pi_c) / (n_c + a), so a channel the operator never used contributes the
       client's own NPS there (no information, so assume average), and a thin one little more;
    2. those per-channel NPS are averaged with the client's overall channel weights
       w_c = n_client_c / n_client.

    The result answers "what NPS would this operator have if they had worked the client's
    channel mix", so two operators who are equally good within their channels get equal
    values whatever channels they used. ``client`` holds all of the client's answers per
    channel (this operator's included). The credible interval sums the per-channel posterior
    draws with the same weights.
    """
    if draws < MIN_DRAWS:
        raise ValueError(f"use at least {MIN_DRAWS} posterior draws, got {draws}")
    if not math.isfinite(prior_strength) or prior_strength <= 0:
        raise ValueError(f"prior strength must be positive, got {prior_strength}")
    _z(confidence)
    unknown = [ch for ch, c in operator.items() if c.n and ch not in client]
    if unknown:
        raise ValueError(f"the client's counts lack the operator's channels {unknown!r}")
    client_n = sum(c.n for c in client.values())
    op_total = total(operator.values())
    if client_n == 0:
        raise ValueError("the client has no answers to take a channel mix from")

    rng = np.random.default_rng(seed)
    parts: list[ChannelPart] = []
    adjusted = 0.0
    sample = np.zeros(draws, dtype=np.float64)
    for ch, cc in client.items():
        if cc.n == 0:
            continue  # weight 0: the client has no answers in this channel
        weight = cc.n / client_n
        pi = cc.as_array() / cc.n
        oc = operator.get(ch, Counts())
        post = oc.as_array() + prior_strength * pi
        mean = post / post.sum()
        channel_nps = 100.0 * float(mean[0] - mean[2])
        adjusted += weight * channel_nps
        sample += weight * 100.0 * _dirichlet_nps_draws(post, draws, rng)
        parts.append(ChannelPart(ch, weight, oc.n, oc.nps, channel_nps))

    if op_total.n == 0:
        return ChannelAdjusted(None, None, None, None, 0, tuple(parts))
    low, high = _credible(sample, adjusted, confidence)
    return ChannelAdjusted(adjusted, low, high, op_total.nps, op_total.n, tuple(parts))
