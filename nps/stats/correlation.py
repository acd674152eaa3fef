"""Spearman's rho with a percentile-bootstrap interval, optionally weighted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from nps.stats.scores import FloatArray, _quantiles, _z
from nps.stats.shrinkage import DEFAULT_SEED

# The weighted rank correlation builds an n x n comparison matrix; beyond this many points
# (far more operators than any client has) the caller should use the unweighted version.
MAX_WEIGHTED_SPEARMAN_N = 3000


@dataclass(frozen=True, slots=True)
class Correlation:
    """Spearman's rho with a percentile-bootstrap interval; None when undefined (n < 3 or a
    variable that does not vary)."""

    rho: float | None
    low: float | None
    high: float | None
    n: int


def _rank_pearson(rx: FloatArray, ry: FloatArray, v: FloatArray) -> FloatArray:
    """Row-wise weighted Pearson correlation of ranks rx, ry with weights v (all (B, n))."""
    sw = v.sum(axis=1, keepdims=True)
    dx = rx - (v * rx).sum(axis=1, keepdims=True) / sw
    dy = ry - (v * ry).sum(axis=1, keepdims=True) / sw
    cov = (v * dx * dy).sum(axis=1)
    vx = (v * dx * dx).sum(axis=1)
    vy = (v * dy * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cov / np.sqrt(vx * vy)
    return np.asarray(np.clip(rho, -1.0, 1.0), dtype=np.float64)


def _varies(values: FloatArray, present: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Per row, whether the points present take at least two distinct values (exact)."""
    _, cls = np.unique(values, return_inverse=True)
    big = np.iinfo(np.int64).max
    lo = np.where(present, cls, big).min(axis=1)
    hi = np.where(present, cls, -1).max(axis=1)
    return np.asarray(hi > lo)


def spearman_with_bootstrap(
    x: Sequence[float],
    y: Sequence[float],
    *,
    weights: Sequence[float] | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = DEFAULT_SEED,
) -> Correlation:
    """Spearman's rho between x and y with a percentile-bootstrap interval.

    Ties get average ranks (rho is then the Pearson correlation of the ranks, as in
    scipy.stats.spearmanr). The bootstrap resamples the points (operators) with
    replacement, ``n_boot`` times, all at once; resamples in which x or y does not vary have
    no rho and are dropped. The percentile interval need not contain rho when the bootstrap
    distribution is skewed; that is information, not an error.

    ``weights`` (e.g. each operator's number of answers) treat point i as w_i identical
    observations: its rank is the weighted mid-rank (total weight below it plus half the
    weight tied with it) and rho is the weighted Pearson correlation of those ranks. With
    equal weights this is exactly the unweighted rho. It builds an n x n matrix, so it is
    meant for operator-level data (n <= 3000).
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise ValueError("x and y must be one-dimensional and of the same length")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x and y must be finite numbers")
    if n_boot < 1:
        raise ValueError("n_boot must be positive")
    _z(confidence)
    n = int(xa.shape[0])
    if weights is not None:
        wa = np.asarray(weights, dtype=np.float64)
        if wa.shape != xa.shape or not np.all(np.isfinite(wa)) or np.any(wa <= 0):
            raise ValueError("weights must be positive numbers, one per point")
        if n > MAX_WEIGHTED_SPEARMAN_N:
            raise ValueError(f"weighted Spearman is limited to {MAX_WEIGHTED_SPEARMAN_N} points")
    if n < 3:
        return Correlation(None, None, None, n)

    if weights is None:
        rho = _spearman_unweighted(xa[None, :], ya[None, :])[0]
    else:
        rho = _spearman_weighted(np.ones((1, n)), xa, ya, wa)[0]
    if not math.isfinite(rho):
        return Correlation(None, None, None, n)

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    if weights is None:
        boot = _spearman_unweighted(xa[idx], ya[idx])
    else:
        copies = np.zeros((n_boot, n), dtype=np.float64)
        np.add.at(copies, (np.arange(n_boot)[:, None], idx), 1.0)
        boot = _spearman_weighted(copies, xa, ya, wa)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return Correlation(float(rho), None, None, n)
    low, high = _quantiles(boot, confidence)
    return Correlation(float(rho), low, high, n)


def _spearman_unweighted(xs: FloatArray, ys: FloatArray) -> FloatArray:
    """Row-wise Spearman rho of (B, n) samples; NaN where a row does not vary."""
    rx = np.asarray(stats.rankdata(xs, axis=1), dtype=np.float64)
    ry = np.asarray(stats.rankdata(ys, axis=1), dtype=np.float64)
    ones = np.ones_like(rx)
    rho = _rank_pearson(rx, ry, ones)
    present = np.ones(xs.shape, dtype=bool)
    ok = _varies(xs, present) & _varies(ys, present)
    return np.where(ok, rho, np.nan)


def _spearman_weighted(
    copies: FloatArray, xa: FloatArray, ya: FloatArray, wa: FloatArray
) -> FloatArray:
    """Row-wise weighted Spearman rho; ``copies[b, i]`` is how often point i is in sample b.

    The weighted mid-rank of point i in sample b is sum_j v_bj L_ij with v = copies x w and
    L_ij = [x_j < x_i] + 1/2 [x_j == x_i]: one matrix product for all samples at once.
    """
    v = copies * wa[None, :]
    lx = (xa[None, :] < xa[:, None]) + 0.5 * (xa[None, :] == xa[:, None])
    ly = (ya[None, :] < ya[:, None]) + 0.5 * (ya[None, :] == ya[:, None])
    rx = v @ lx.T
    ry = v @ ly.T
    rho = _rank_pearson(rx, ry, v)
    present = copies > 0
    ok = _varies(np.broadcast_to(xa, copies.shape), present) & _varies(
        np.broadcast_to(ya, copies.shape), present
    )
    return np.where(ok, rho, np.nan)
