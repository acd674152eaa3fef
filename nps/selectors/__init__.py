"""Reads for the NPS analytics: aggregates in SQL, turned into honest numbers by nps.stats.

- ``aggregates``: NPS per group (raw responses or the monthly roll-up), overall, trend,
  comparison, score distribution and the operator leaderboard;
- ``rates``: AAPOR response rates and the SMS funnel;
- ``recovery``: satisfaction beside recovery (correlation, payment after the answer,
  respondents against non-respondents);
- ``comments``: the latest reasons, with personal data masked.

Every selector takes an ``NpsFilters`` whose ``client_ids`` are the caller's visible clients
(or a subset) and never widens them. Periods and date filters are calendar days in the
agency's time zone (``settings.TIME_ZONE``).
"""

from __future__ import annotations

from nps.selectors.aggregates import (
    count_cells,
    nps_compare,
    nps_overall,
    nps_table,
    nps_trend,
    operator_leaderboard,
    posterior_nps,
    rollup_answerable,
    score_distribution,
)
from nps.selectors.comments import latest_comments, mask_pii
from nps.selectors.rates import response_rates
from nps.selectors.recovery import (
    payment_by_nps_group,
    recovery_correlation,
    respondents_vs_nonrespondents,
)

__all__ = [
    "count_cells",
    "latest_comments",
    "mask_pii",
    "nps_compare",
    "nps_overall",
    "nps_table",
    "nps_trend",
    "operator_leaderboard",
    "payment_by_nps_group",
    "posterior_nps",
    "recovery_correlation",
    "respondents_vs_nonrespondents",
    "response_rates",
    "rollup_answerable",
    "score_distribution",
]
