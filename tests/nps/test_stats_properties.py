"""Properties the NPS arithmetic must keep for any counts, checked with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nps.stats import (
    Counts,
    aapor_rates,
    adjusted_wald,
    nps_score,
    shrink,
    spearman_with_bootstrap,
    total,
    wilson,
)

EPS = 1e-9

count = st.integers(min_value=0, max_value=500)
counts = st.builds(Counts, count, count, count)
nonempty_counts = counts.filter(lambda c: c.n > 0)
groups = st.dictionaries(
    st.sampled_from(["Giulia", "Marco", "Sara", "Luca", "Anna", "Paolo", "Elena", "Dario"]),
    counts,
    min_size=1,
    max_size=8,
)
prior_shares = (
    st.tuples(
        st.floats(min_value=0, max_value=1),
        st.floats(min_value=0, max_value=1),
        st.floats(min_value=0, max_value=1),
    )
    .filter(lambda t: sum(t) > 0.01)
    .map(lambda t: (t[0] / sum(t), t[1] / sum(t), 1.0 - t[0] / sum(t) - t[1] / sum(t)))
    .filter(lambda t: t[2] >= 0)
)
strengths = st.one_of(st.none(), st.floats(min_value=0.5, max_value=1000))


@given(nonempty_counts)
def test_nps_lies_between_minus_and_plus_100(c):
    score = nps_score(c.promoters, c.passives, c.detractors)
    assert score is not None
    assert -100.0 <= score <= 100.0


@given(counts)
def test_the_interval_holds_its_centre_and_stays_on_the_scale(c):
    ci = adjusted_wald(c.promoters, c.passives, c.detractors)
    assert -100.0 <= ci.low <= ci.centre <= ci.high <= 100.0
    assert ci.half_width > 0
    assert ci.n == c.n


@settings(max_examples=60, deadline=None)
@given(groups, st.one_of(st.none(), prior_shares), strengths)
def test_a_shrunken_value_lies_between_the_raw_value_and_the_prior(gs, shares, strength):
    out = shrink(gs, prior_shares=shares, prior_strength=strength)
    assert out.keys() == gs.keys()
    for key, r in out.items():
        if r.raw_nps is None:
            assert r.shrunk_nps == pytest.approx(r.prior_nps)
            continue
        lo, hi = sorted((r.raw_nps, r.prior_nps))
        assert lo - EPS <= r.shrunk_nps <= hi + EPS, key
        # the pull towards the prior is a / (n + a): smaller groups move further
        if abs(r.raw_nps - r.prior_nps) > 1e-6:
            pull = (r.raw_nps - r.shrunk_nps) / (r.raw_nps - r.prior_nps)
            assert pull == pytest.approx(r.prior_strength / (r.n + r.prior_strength))


@settings(max_examples=60, deadline=None)
@given(groups, st.one_of(st.none(), prior_shares), strengths)
def test_the_credible_interval_contains_the_shrunken_mean(gs, shares, strength):
    for r in shrink(gs, prior_shares=shares, prior_strength=strength).values():
        assert -100.0 <= r.low <= r.shrunk_nps <= r.high <= 100.0


@given(st.lists(st.integers(min_value=0, max_value=10), max_size=200))
def test_the_buckets_add_up_to_the_answers(scores):
    c = Counts.from_scores(scores)
    assert c.promoters + c.passives + c.detractors == c.n == len(scores)


@given(st.lists(counts, min_size=1, max_size=10))
def test_nps_of_the_union_is_the_n_weighted_mean_of_the_groups(parts):
    whole = total(parts)
    assert whole.n == sum(c.n for c in parts)
    if whole.n == 0:
        assert whole.nps is None
        return
    weighted = sum(c.n * c.nps for c in parts if c.nps is not None) / whole.n
    assert whole.nps == pytest.approx(weighted, abs=1e-9)


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_wilson_stays_in_0_1_and_holds_the_observed_rate(a, b):
    k, n = min(a, b), max(a, b)
    w = wilson(k, n)
    if n == 0:
        assert w.p is None
        return
    assert w.p is not None and w.low is not None and w.high is not None
    assert 0.0 <= w.low <= w.p + EPS
    assert w.p - EPS <= w.high <= 1.0


@given(*(st.integers(min_value=0, max_value=300) for _ in range(8)))
def test_aapor_rates_are_fractions_and_rr1_never_exceeds_rr2(i, p, r, nc, o, uh, uo, ne):
    rates = aapor_rates(I=i, P=p, R=r, NC=nc, O=o, UH=uh, UO=uo, NE=ne)
    for value in (rates.rr1, rates.rr2, rates.rr3, rates.rr4, rates.coop1, rates.coop2,
                  rates.ref1, rates.con1, rates.e):  # fmt: skip
        assert value is None or 0.0 <= value <= 1.0 + EPS
    if rates.rr1 is not None and rates.rr2 is not None:
        assert rates.rr1 <= rates.rr2
    # with e <= 1 the estimated-eligibility rate can only be higher
    if rates.rr3 is not None and rates.rr1 is not None:
        assert rates.rr1 <= rates.rr3 + EPS


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-5, 5), st.integers(-5, 5), st.integers(1, 50)),
        min_size=3,
        max_size=15,
    )
)
def test_spearman_lies_in_minus_1_plus_1_and_equal_weights_change_nothing(points):
    x = [float(a) for a, _, _ in points]
    y = [float(b) for _, b, _ in points]
    plain = spearman_with_bootstrap(x, y, n_boot=300)
    same_weights = spearman_with_bootstrap(x, y, weights=[7.0] * len(x), n_boot=300)
    weighted = spearman_with_bootstrap(x, y, weights=[float(w) for *_, w in points], n_boot=300)
    if plain.rho is None:
        assert same_weights.rho is None and weighted.rho is None
        return
    assert -1.0 <= plain.rho <= 1.0
    assert same_weights.rho == pytest.approx(plain.rho, abs=1e-9)
    assert weighted.rho is not None
    assert -1.0 <= weighted.rho <= 1.0
    if plain.low is not None:
        assert plain.high is not None
        assert -1.0 <= plain.low <= plain.high <= 1.0
