"""The NPS arithmetic against values worked by hand.

Every expected number below is derived in the comments next to it, from the published formulas
(Reichheld; Rocks 2016; MeasuringU; AAPOR Standard Definitions), so a reader can check it with
a pencil. z at 95 % is the exact normal quantile 1.959964 (often rounded to 1.96; the
difference is under 0.001 point here).
"""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from nps.stats import (
    DEFAULT_PRIOR_STRENGTH,
    Counts,
    aapor_rates,
    adjusted_wald,
    bucket,
    channel_adjusted_nps,
    display_state,
    fit_prior_strength,
    nps_score,
    pooled_shares,
    ranking,
    sample_size_for_difference,
    shrink,
    spearman_with_bootstrap,
    two_group_z,
    wald_se,
    wilson,
)

Z95 = 1.959964


# --- the plain score -----------------------------------------------------------------------


def test_nps_of_the_three_reference_mixes():
    # 10 promoters of 10: 100 x (10 - 0) / 10 = +100
    assert nps_score(10, 0, 0) == 100.0
    # 10 detractors of 10: 100 x (0 - 10) / 10 = -100
    assert nps_score(0, 0, 10) == -100.0
    # 40 / 40 / 20 of 100: 100 x (40 - 20) / 100 = +20
    assert nps_score(40, 40, 20) == 20.0
    # nobody answered: there is no score, and it is not 0
    assert nps_score(0, 0, 0) is None


def test_answers_fall_into_the_right_bucket_at_the_edges():
    assert [bucket(s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]
    for bad in (-1, 11, 9.5, True):
        with pytest.raises(ValueError):
            bucket(bad)


def test_counts_from_raw_answers():
    # 10, 9 promoters; 8, 7 passives; 6, 0 detractors: NPS (2 - 2) / 6 = 0
    c = Counts.from_scores([10, 9, 8, 7, 6, 0])
    assert c == Counts(2, 2, 2)
    assert c.n == 6
    assert c.nps == 0.0
    with pytest.raises(ValueError):
        Counts(-1, 0, 0)


# --- adjusted-Wald interval and plain SE ---------------------------------------------------


def test_adjusted_wald_half_width_is_about_16_at_n_100_for_p40_d30():
    # P = 40, D = 30, n = 100 -> n' = 103
    # p' = 40.75 / 103 = 0.395631, d' = 30.75 / 103 = 0.298544
    # centre = 10 / 103 = 0.0970874 -> 9.71 points
    # var' = 71.5 / 103 - (10 / 103)^2 = 0.694175 - 0.009426 = 0.684749
    # SE' = sqrt(0.684749 / 103) = sqrt(0.00664805) = 0.0815356
    # half = 1.959964 x 0.0815356 = 0.159807 -> 15.98 points
    ci = adjusted_wald(40, 30, 30)
    assert ci.n == 100
    assert ci.centre == pytest.approx(9.71, abs=0.01)
    assert ci.half_width == pytest.approx(15.98, abs=0.01)
    assert ci.low == pytest.approx(9.71 - 15.98, abs=0.01)
    assert ci.high == pytest.approx(9.71 + 15.98, abs=0.01)


def test_adjusted_wald_half_width_is_about_28_at_n_30_for_p40_d30():
    # P = 12, D = 9, n = 30 -> n' = 33
    # p' = 12.75 / 33 = 0.386364, d' = 9.75 / 33 = 0.295455
    # centre = 3 / 33 = 0.0909091 -> 9.09 points
    # var' = 22.5 / 33 - (3 / 33)^2 = 0.681818 - 0.008264 = 0.673554
    # SE' = sqrt(0.673554 / 33) = sqrt(0.0204107) = 0.142866
    # half = 1.959964 x 0.142866 = 0.280012 -> 28.00 points
    ci = adjusted_wald(12, 9, 9)
    assert ci.centre == pytest.approx(9.09, abs=0.01)
    assert ci.half_width == pytest.approx(28.00, abs=0.01)


def test_adjusted_wald_is_clipped_at_the_top_for_five_promoters_of_five():
    # n' = 8, p' = 5.75 / 8 = 0.71875, d' = 0.75 / 8 = 0.09375, centre = 0.625 -> 62.5
    # var' = 0.8125 - 0.625^2 = 0.8125 - 0.390625 = 0.421875
    # half = 1.959964 x sqrt(0.421875 / 8) = 1.959964 x 0.229640 = 0.450086 -> 45.01
    # high = 62.5 + 45.01 = 107.51 -> clipped to 100; low = 62.5 - 45.01 = 17.49
    ci = adjusted_wald(5, 0, 0)
    assert ci.centre == pytest.approx(62.5, abs=0.01)
    assert ci.half_width == pytest.approx(45.01, abs=0.01)
    assert ci.high == 100.0
    assert ci.low == pytest.approx(17.49, abs=0.01)
    # and the mirror image at the bottom
    mirror = adjusted_wald(0, 0, 5)
    assert mirror.low == -100.0
    assert mirror.high == pytest.approx(-17.49, abs=0.01)


def test_plain_se_for_40_40_20_at_n_500_gives_the_6_6_margin():
    # The domain note's "+-6.6 (at 95 %)" is the margin 1.96 x SE, not the SE itself.
    # p = 0.4, d = 0.2: p + d - (p - d)^2 = 0.6 - 0.04 = 0.56
    # SE = 100 x sqrt(0.56 / 500) = 100 x sqrt(0.00112) = 100 x 0.0334664 = 3.35 points
    # margin = 1.96 x 3.34664 = 6.56 -> "6.6"
    se = wald_se(200, 200, 100)
    assert se is not None
    assert se == pytest.approx(3.35, abs=0.01)
    assert 1.96 * se == pytest.approx(6.56, abs=0.01)
    assert round(1.96 * se, 1) == 6.6
    assert wald_se(0, 0, 0) is None


# --- comparing two groups ------------------------------------------------------------------


def test_two_group_z_worked_by_hand():
    # A: 60 / 25 / 15 of 100 -> n' = 103, c1 = (60.75 - 15.75) / 103 = 45 / 103 = 0.436893
    #    v1 = 76.5 / 103 - 0.436893^2 = 0.742718 - 0.190876 = 0.551843
    # B: 40 / 30 / 30 of 100 -> c2 = 10 / 103 = 0.097087, v2 = 0.684749 (as above)
    # diff = 35 / 103 = 0.339806 -> 33.98 points
    # SE = sqrt((0.551843 + 0.684749) / 103) = sqrt(0.0120057) = 0.109571
    # z = 0.339806 / 0.109571 = 3.1012
    # p = 2 x (1 - Phi(3.1012)) = 2 x 0.000964 = 0.00193
    a, b = Counts(60, 25, 15), Counts(40, 30, 30)
    t = two_group_z(a, b)
    assert t.diff == pytest.approx(33.98, abs=0.01)
    assert t.z == pytest.approx(3.1012, abs=0.001)
    assert t.p_value == pytest.approx(0.00193, abs=0.00002)
    # swapping the groups flips the sign, not the verdict
    back = two_group_z(b, a)
    assert back.diff == pytest.approx(-33.98, abs=0.01)
    assert back.p_value == pytest.approx(t.p_value)
    # identical groups: no difference at all
    same = two_group_z(a, a)
    assert same.z == 0.0
    assert same.p_value == 1.0


def test_sample_size_for_a_ten_point_difference():
    # Z = Z_0.025 + Z_0.20 = 1.959964 + 0.841621 = 2.801585, Z^2 = 7.848879
    # s^2 = 0.69 + 0.69 = 1.38 (variance of the difference per answer), d = 0.10
    # n = 1.38 x 7.848879 / 0.01 - 3 = 1083.145 - 3 = 1080.15 -> 1081 per group
    n = sample_size_for_difference(10, variance=0.69)
    assert n == 1081
    # Check against the test itself: at n = 1081 (n' = 1084) the SE of a 10-point
    # difference is sqrt(1.38 / 1084) = 0.035680, so z = 0.10 / 0.035680 = 2.8027 >= Z.
    assert 0.10 / math.sqrt(1.38 / (n + 3)) >= 2.801585
    assert 0.10 / math.sqrt(1.38 / (n + 2)) < 2.801585
    # worst case variance 1: n = 2 x 7.848879 / 0.01 - 3 = 1566.78 -> 1567
    assert sample_size_for_difference(10) == 1567
    with pytest.raises(ValueError):
        sample_size_for_difference(0)


# --- display states and shrinkage ---------------------------------------------------------


def test_display_states_at_their_boundaries():
    assert [display_state(n) for n in (0, 9, 10, 29, 30, 49, 50, 500)] == [
        "hidden",
        "hidden",
        "shrunk_only",
        "shrunk_only",
        "shown",
        "shown",
        "ranked",
        "ranked",
    ]


def test_shrinkage_with_a_fixed_prior_worked_by_hand():
    # Prior shares (0.5, 0.3, 0.2): prior NPS = 100 x (0.5 - 0.2) = +30; strength a = 10,
    # i.e. 10 pseudo-answers split 5 / 3 / 2.
    prior = (0.5, 0.3, 0.2)
    groups = {
        "Giulia": Counts(6, 2, 2),  # raw +40
        "Marco": Counts(1, 3, 6),  # raw -50
        "Sara": Counts(30, 10, 10),  # raw +40
    }
    out = shrink(groups, prior_shares=prior, prior_strength=10)

    # Giulia: (6 + 5, 2 + 3, 2 + 2) = (11, 5, 4) of 20 -> 100 x (11 - 4) / 20 = +35
    #   (= the n-weighted mean of raw and prior: (10 x 40 + 10 x 30) / 20 = 35)
    assert out["Giulia"].shrunk_nps == pytest.approx(35.0)
    # Marco: (1 + 5, 3 + 3, 6 + 2) = (6, 6, 8) of 20 -> 100 x (6 - 8) / 20 = -10
    assert out["Marco"].shrunk_nps == pytest.approx(-10.0)
    # Sara: (35, 13, 12) of 60 -> 100 x 23 / 60 = +38.33: fifty answers barely move
    assert out["Sara"].shrunk_nps == pytest.approx(38.3333, abs=1e-4)

    assert out["Giulia"].raw_nps == 40.0
    assert out["Giulia"].prior_nps == pytest.approx(30.0)
    assert out["Giulia"].prior_strength == 10
    assert [out[k].state for k in groups] == ["shrunk_only", "shrunk_only", "ranked"]

    # The credible interval: posterior Dirichlet(11, 5, 4), a0 = 20, means 0.55 / 0.25 / 0.20.
    # Var(p - d) = [m_p + m_d - (m_p - m_d)^2] / (a0 + 1) = (0.75 - 0.1225) / 21 = 0.029881,
    # SD = 0.17286 -> 17.3 points; a 95 % interval spans about 2 x 1.96 x 17.3 = 67.8 points
    # (the posterior is bounded and a little skewed, so allow a few points either way).
    g = out["Giulia"]
    assert g.low < g.shrunk_nps < g.high
    assert g.high - g.low == pytest.approx(67.8, abs=4.0)


def test_shrinkage_is_reproducible_and_independent_of_order():
    groups = {"a": Counts(6, 2, 2), "b": Counts(1, 3, 6), "c": Counts(30, 10, 10)}
    first = shrink(groups, prior_strength=10)
    again = shrink(dict(reversed(list(groups.items()))), prior_strength=10)
    assert first == again


def test_a_near_unanimous_group_keeps_its_dot_inside_its_interval():
    # 20 promoters of 20 under a prior that all but rules out the other answers (pseudo-
    # counts 0.999 / 0.0005 / 0.0005 at a = 1). Posterior mean NPS:
    # (20.999 - 0.0005) / 21 = 0.999929 -> +99.993; the draws' 2.5th percentile is
    # +99.99999..., above the mean, because the posterior piles up at +100. The interval
    # must still contain the value printed next to it.
    r = shrink({"Giulia": Counts(20, 0, 0)}, prior_shares=(0.999, 0.0005, 0.0005),
               prior_strength=1)["Giulia"]  # fmt: skip
    assert r.shrunk_nps == pytest.approx(100 * (20.999 - 0.0005) / 21)
    assert r.low <= r.shrunk_nps <= r.high == 100.0


def test_default_prior_is_the_pooled_mix_and_an_empty_group_gets_it():
    groups = {"a": Counts(6, 2, 2), "b": Counts(1, 3, 6), "nobody": Counts()}
    # pooled: 7 / 5 / 8 of 20 -> shares (0.35, 0.25, 0.40), NPS 100 x (0.35 - 0.40) = -5
    assert pooled_shares(groups.values()) == pytest.approx((0.35, 0.25, 0.40))
    out = shrink(groups, prior_strength=20)
    assert out["nobody"].raw_nps is None
    assert out["nobody"].shrunk_nps == pytest.approx(-5.0)
    assert out["nobody"].state == "hidden"
    # a: (6 + 7, 2 + 5, 2 + 8) = (13, 7, 10) of 30 -> 100 x 3 / 30 = +10
    assert out["a"].shrunk_nps == pytest.approx(10.0)


def test_fitted_prior_is_stronger_for_alike_operators_than_for_different_ones():
    # NPS 10, 30, 15, 35, 5 at n = 100: a spread a little above sampling noise (SE ~ 8)
    alike = [Counts(40, 30, 30), Counts(50, 30, 20), Counts(45, 25, 30), Counts(55, 25, 20),
             Counts(35, 35, 30)]  # fmt: skip
    # NPS 70, -70, 40, -30, 60: operators who really differ
    different = [Counts(80, 10, 10), Counts(10, 10, 80), Counts(50, 40, 10), Counts(20, 30, 50),
                 Counts(70, 20, 10)]  # fmt: skip
    a_alike = fit_prior_strength(alike)
    a_different = fit_prior_strength(different)
    assert a_alike.fitted and a_different.fitted
    assert a_alike.strength > 10 * a_different.strength
    # and so the same operator is pulled harder towards the pool among alike colleagues
    s_alike = shrink(dict(enumerate(alike)))[3]
    s_diff = shrink(dict(enumerate(different)))[0]
    assert s_alike.raw_nps is not None and s_diff.raw_nps is not None
    pull_alike = abs(s_alike.raw_nps - s_alike.shrunk_nps) / abs(
        s_alike.raw_nps - s_alike.prior_nps
    )
    pull_diff = abs(s_diff.raw_nps - s_diff.shrunk_nps) / abs(s_diff.raw_nps - s_diff.prior_nps)
    # pull = a / (n + a): 375 / 475 ~ 0.79 against 4.2 / 104.2 ~ 0.04
    assert pull_alike > 0.7
    assert pull_diff < 0.1


def test_prior_strength_falls_back_to_20_when_it_cannot_be_fitted():
    two = fit_prior_strength([Counts(40, 30, 30), Counts(10, 10, 80)])
    assert (two.strength, two.fitted) == (DEFAULT_PRIOR_STRENGTH, False)
    assert "fewer than 3" in two.reason
    # identical mixes: no spread beyond sampling noise to measure
    same = fit_prior_strength([Counts(20, 10, 10)] * 4)
    assert (same.strength, same.fitted) == (DEFAULT_PRIOR_STRENGTH, False)
    assert "overdispersion" in same.reason


def test_ranking_uses_shrunken_values_and_leaves_out_small_groups():
    # Prior (0.3, 0.4, 0.3): NPS 0; strength 50 -> pseudo-answers 15 / 20 / 15.
    groups = {
        # 50 answers, raw +44: (27 + 15, 18 + 20, 5 + 15) = (42, 38, 20) of 100 -> +22.0
        "Luca": Counts(27, 18, 5),
        # 400 answers, raw +42: (215, 188, 47) of 450 -> 100 x 168 / 450 = +37.33
        "Anna": Counts(200, 168, 32),
        # 20 answers, raw +100: (35, 20, 15) of 70 -> +28.57, but too few to be ranked
        "Paolo": Counts(20, 0, 0),
    }
    out = shrink(groups, prior_shares=(0.3, 0.4, 0.3), prior_strength=50)
    assert out["Luca"].shrunk_nps == pytest.approx(22.0)
    assert out["Anna"].shrunk_nps == pytest.approx(37.3333, abs=1e-4)
    assert out["Paolo"].shrunk_nps == pytest.approx(28.5714, abs=1e-4)
    # Raw, Luca (+44) beats Anna (+42); shrunk, Anna's 400 answers win. Paolo is not last:
    # he is not in the table at all.
    assert ranking(out) == ["Anna", "Luca"]


# --- channel adjustment --------------------------------------------------------------------


def test_channel_adjustment_cancels_a_pure_channel_effect():
    # The client: 100 SMS answers 20 / 50 / 30 (NPS -10), 100 CATI answers 50 / 30 / 20
    # (NPS +30): phone answers run 40 points kinder. Mix 50 % / 50 %.
    client = {"sms": Counts(20, 50, 30), "cati": Counts(50, 30, 20)}
    # Two operators, each 20 points above the client in the only channel they used:
    # Giulia (SMS only) 6 / 10 / 4 -> +10; Marco (CATI only) 12 / 6 / 2 -> +50.
    giulia = channel_adjusted_nps(operator={"sms": Counts(6, 10, 4)}, client=client)
    marco = channel_adjusted_nps(operator={"cati": Counts(12, 6, 2)}, client=client)
    assert (giulia.raw_nps, marco.raw_nps) == (10.0, 50.0)
    # a = 20 pseudo-answers at the client's channel mix:
    # Giulia SMS: (6 + 4, 10 + 10, 4 + 6) = (10, 20, 10) of 40 -> 0; CATI unseen -> +30
    #   adjusted = 0.5 x 0 + 0.5 x 30 = +15
    # Marco CATI: (12 + 10, 6 + 6, 2 + 4) = (22, 12, 6) of 40 -> +40; SMS unseen -> -10
    #   adjusted = 0.5 x (-10) + 0.5 x 40 = +15
    assert giulia.adjusted_nps == pytest.approx(15.0)
    assert marco.adjusted_nps == pytest.approx(15.0)
    assert [p.shrunk_nps for p in giulia.parts] == pytest.approx([0.0, 30.0])
    assert [p.weight for p in marco.parts] == [0.5, 0.5]
    assert giulia.low is not None and giulia.high is not None
    assert giulia.low < 15.0 < giulia.high


def test_channel_adjustment_still_separates_a_better_operator():
    client = {"sms": Counts(20, 50, 30), "cati": Counts(50, 30, 20)}
    # Elena (SMS only) 8 / 10 / 2 -> +30, 40 above the SMS average:
    # SMS (8 + 4, 10 + 10, 2 + 6) = (12, 20, 8) of 40 -> +10; adjusted 0.5 x 10 + 0.5 x 30 = +20
    elena = channel_adjusted_nps(operator={"sms": Counts(8, 10, 2)}, client=client)
    assert elena.adjusted_nps == pytest.approx(20.0)
    nobody = channel_adjusted_nps(operator={}, client=client)
    assert nobody.adjusted_nps is None
    with pytest.raises(ValueError):
        channel_adjusted_nps(operator={"ivr": Counts(1, 0, 0)}, client=client)


# --- Spearman ------------------------------------------------------------------------------


def test_spearman_of_monotone_and_reversed_sets():
    up = spearman_with_bootstrap([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert (up.rho, up.low, up.high, up.n) == (1.0, 1.0, 1.0, 5)
    # any monotone transform: ranks are all that count
    assert spearman_with_bootstrap([1, 2, 3, 4, 5], [1, 10, 100, 1000, 10**6]).rho == 1.0
    down = spearman_with_bootstrap([1, 2, 3, 4, 5], [10, 8, 6, 4, 2])
    assert (down.rho, down.low, down.high) == (-1.0, -1.0, -1.0)


def test_spearman_with_ties_worked_by_hand():
    x = [1, 2, 2, 4, 5, 7, 3]
    y = [3, 1, 4, 1, 5, 9, 2]
    # average ranks: rx = [1, 2.5, 2.5, 5, 6, 7, 4], ry = [4, 1.5, 5, 1.5, 6, 7, 3], means 4
    # dx = [-3, -1.5, -1.5, 1, 2, 3, 0], dy = [0, -2.5, 1, -2.5, 2, 3, -1]
    # sum dx dy = 0 + 3.75 - 1.5 - 2.5 + 4 + 9 + 0 = 12.75; sum dx^2 = sum dy^2 = 27.5
    # rho = 12.75 / 27.5 = 0.463636
    r = spearman_with_bootstrap(x, y)
    assert r.rho == pytest.approx(0.463636, abs=1e-6)
    assert r.rho == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    assert r.rho is not None and r.low is not None and r.high is not None
    assert r.low <= r.rho <= r.high
    assert r.n == 7
    assert spearman_with_bootstrap(x, y) == r  # same seed, same interval


def test_weighted_spearman_counts_a_point_as_w_observations():
    # x = [1, 2, 3], y = [1, 3, 2], weights [1, 1, 2].
    # weighted mid-ranks (weight below + half the weight tied):
    #   rx = [0.5, 1.5, 1 + 1 + 1] = [0.5, 1.5, 3]; ry = [0.5, 1 + 2 + 0.5, 1 + 1] = [0.5, 3.5, 2]
    # weighted means: (0.5 + 1.5 + 2 x 3) / 4 = 2 and (0.5 + 3.5 + 2 x 2) / 4 = 2
    # dx = [-1.5, -0.5, 1], dy = [-1.5, 1.5, 0]
    # cov = 2.25 - 0.75 + 0 = 1.5; vx = 2.25 + 0.25 + 2 = 4.5; vy = 2.25 + 2.25 = 4.5
    # rho = 1.5 / 4.5 = 1/3 (the unweighted rho is 1 - 6 x 2 / 24 = 0.5)
    assert spearman_with_bootstrap([1, 2, 3], [1, 3, 2]).rho == pytest.approx(0.5)
    w = spearman_with_bootstrap([1, 2, 3], [1, 3, 2], weights=[1, 1, 2])
    assert w.rho == pytest.approx(1 / 3)
    # the same as repeating the third point
    assert spearman_with_bootstrap([1, 2, 3, 3], [1, 3, 2, 2]).rho == pytest.approx(1 / 3)


def test_equal_weights_give_the_unweighted_answer_interval_included():
    x = [0.1, 0.4, 0.35, 0.8, 0.55, 0.2, 0.9, 0.6]
    y = [12.0, 30.0, 25.0, 41.0, 20.0, 5.0, 38.0, 44.0]
    plain = spearman_with_bootstrap(x, y)
    weighted = spearman_with_bootstrap(x, y, weights=[3.0] * 8)
    assert weighted.rho == pytest.approx(plain.rho)
    assert weighted.low == pytest.approx(plain.low)
    assert weighted.high == pytest.approx(plain.high)


def test_spearman_is_undefined_below_three_points_or_without_variation():
    assert spearman_with_bootstrap([1, 2], [2, 1]).rho is None
    flat = spearman_with_bootstrap([5, 5, 5, 5], [1, 2, 3, 4])
    assert (flat.rho, flat.low, flat.high, flat.n) == (None, None, None, 4)
    with pytest.raises(ValueError):
        spearman_with_bootstrap([1, 2, 3], [1, 2])


# --- AAPOR rates and proportions -----------------------------------------------------------


def test_aapor_rates_worked_by_hand():
    # I 50, P 10, R 20, NC 10, O 5, UH 4, UO 1, NE 5
    r = aapor_rates(I=50, P=10, R=20, NC=10, O=5, UH=4, UO=1, NE=5)
    # e = (50 + 10 + 20 + 10 + 5) / (95 + 5) = 0.95
    assert r.e == pytest.approx(0.95)
    # all cases of known or unknown eligibility: 60 + 35 + 5 = 100
    assert r.rr1 == pytest.approx(50 / 100)  # 0.5
    assert r.rr2 == pytest.approx(60 / 100)  # 0.6
    # RR3 = 50 / (95 + 0.95 x 5) = 50 / 99.75 = 0.501253; RR4 = 60 / 99.75 = 0.601504
    assert r.rr3 == pytest.approx(0.501253, abs=1e-6)
    assert r.rr4 == pytest.approx(0.601504, abs=1e-6)
    # COOP1 = 50 / (60 + 20 + 5) = 50 / 85 = 0.588235; COOP2 = 60 / 85 = 0.705882
    assert r.coop1 == pytest.approx(0.588235, abs=1e-6)
    assert r.coop2 == pytest.approx(0.705882, abs=1e-6)
    # REF1 = 20 / 100 = 0.2; CON1 = (60 + 20 + 5) / (85 + 10 + 5) = 0.85
    assert r.ref1 == pytest.approx(0.2)
    assert r.con1 == pytest.approx(0.85)


def test_aapor_rates_with_a_given_e_and_with_nothing_to_divide():
    # e = 0.2 given: RR3 = 50 / (95 + 0.2 x 5) = 50 / 96 = 0.520833
    r = aapor_rates(I=50, P=10, R=20, NC=10, O=5, UH=4, UO=1, NE=5, e=0.2)
    assert r.rr3 == pytest.approx(0.520833, abs=1e-6)
    empty = aapor_rates(I=0, P=0, R=0, NC=0, O=0, UH=0, UO=0)
    assert empty == type(empty)(None, None, None, None, None, None, None, None, None)
    # only unknown-eligibility cases: RR1 = 0 / 3 = 0, but nobody was reached to cooperate
    unknown = aapor_rates(I=0, P=0, R=0, NC=0, O=0, UH=3, UO=0)
    assert unknown.rr1 == 0.0
    assert unknown.coop1 is None
    assert unknown.rr3 is None  # e is unknown too
    with pytest.raises(ValueError):
        aapor_rates(I=1, P=0, R=0, NC=0, O=0, UH=0, UO=0, e=1.5)


def test_wilson_interval_for_a_delivery_rate():
    # k = 98, n = 100, z^2 = 3.841459, z^2 / n = 0.0384146
    # centre = (0.98 + 0.0192073) / 1.0384146 = 0.962243
    # half = 1.959964 / 1.0384146 x sqrt(0.98 x 0.02 / 100 + 3.841459 / 40000)
    #      = 1.887457 x sqrt(0.000292037) = 1.887457 x 0.0170891 = 0.032255
    w = wilson(98, 100)
    assert w.p == pytest.approx(0.98)
    assert w.low == pytest.approx(0.929988, abs=1e-5)
    assert w.high == pytest.approx(0.994498, abs=1e-5)
    # 0 of 10: centre = half = 0.192073 / 1.384146 = 0.138766 -> [0, 0.277533]
    zero = wilson(0, 10)
    assert zero.low == 0.0
    assert zero.high == pytest.approx(0.277533, abs=1e-5)
    assert wilson(0, 0).p is None
    with pytest.raises(ValueError):
        wilson(3, 2)
