"""The NPS arithmetic: scores, intervals, tests, shrinkage, correlation and AAPOR rates.

Pure Python, NumPy and SciPy: no Django, no database. The aggregates (selectors) elsewhere
count answers in SQL and hand the counts to these functions, so every number the dashboards
print comes from one place that is tested against values worked by hand.

Conventions kept throughout:

- NPS values, intervals and differences are on the familiar -100..+100 "points" scale.
- A respondent scores +1 (promoter, 9-10), 0 (passive, 7-8) or -1 (detractor, 0-6); NPS is
  100 x the mean of that score, so its per-respondent variance is p + d - (p - d)^2.
- Where a number cannot be computed (no answers, a zero denominator) it is ``None``, never 0:
  a dashboard must be able to tell "zero" from "nothing to show".
"""

from __future__ import annotations

from nps.stats.correlation import Correlation, spearman_with_bootstrap
from nps.stats.rates import Proportion, Rates, aapor_rates, wilson
from nps.stats.scores import (
    ADJUSTED_WALD_PSEUDO,
    HIDE_BELOW,
    RANK_FROM,
    SHOW_RAW_FROM,
    Category,
    Counts,
    DisplayState,
    Interval,
    ZTest,
    adjusted_wald,
    bucket,
    display_state,
    nps_score,
    sample_size_for_difference,
    total,
    two_group_z,
    wald_se,
)
from nps.stats.shrinkage import (
    DEFAULT_DRAWS,
    DEFAULT_PRIOR_STRENGTH,
    DEFAULT_SEED,
    MAX_PRIOR_STRENGTH,
    MIN_DRAWS,
    MIN_PRIOR_STRENGTH,
    ChannelAdjusted,
    ChannelPart,
    PriorFit,
    Shares,
    Shrunk,
    channel_adjusted_nps,
    fit_prior_strength,
    pooled_shares,
    ranking,
    shrink,
)

__all__ = [
    "ADJUSTED_WALD_PSEUDO",
    "DEFAULT_DRAWS",
    "DEFAULT_PRIOR_STRENGTH",
    "DEFAULT_SEED",
    "HIDE_BELOW",
    "MAX_PRIOR_STRENGTH",
    "MIN_DRAWS",
    "MIN_PRIOR_STRENGTH",
    "RANK_FROM",
    "SHOW_RAW_FROM",
    "Category",
    "ChannelAdjusted",
    "ChannelPart",
    "Correlation",
    "Counts",
    "DisplayState",
    "Interval",
    "PriorFit",
    "Proportion",
    "Rates",
    "Shares",
    "Shrunk",
    "ZTest",
    "aapor_rates",
    "adjusted_wald",
    "bucket",
    "channel_adjusted_nps",
    "display_state",
    "fit_prior_strength",
    "nps_score",
    "pooled_shares",
    "ranking",
    "sample_size_for_difference",
    "shrink",
    "spearman_with_bootstrap",
    "total",
    "two_group_z",
    "wald_se",
    "wilson",
]
