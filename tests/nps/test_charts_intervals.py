"""The NPS bars with their 95 % interval, as the browser draws them: each error bar reaches
exactly from the NPS to the interval's ends, and a group too small to score keeps its label
and gets no bar."""

from __future__ import annotations

from nps import charts
from nps.charts import correlation_sentence
from nps.types import NpsRow


def row(channel: str, *, n: int, nps: float | None, low: float | None, high: float | None):
    return NpsRow(
        keys={"channel": channel},
        n=n,
        promoters=0,
        passives=0,
        detractors=0,
        nps=nps,
        ci_low=low,
        ci_high=high,
    )


def test_group_bars_reach_the_interval_and_small_groups_get_none() -> None:
    chart = charts.group_chart(
        [
            row("web", n=40, nps=20.0, low=-5.0, high=40.04),
            row("cati", n=3, nps=None, low=None, high=None),
        ],
        key="channels",
        group="channel",
        labels={"web": "Web page", "cati": "Phone"},
        title="By channel",
        how_to_read="",
    )
    (trace,) = chart["figure"]["data"]
    assert trace["x"] == ["Phone · n = 3", "Web page · n = 40"]  # ordered by key
    assert trace["y"] == [None, 20.0]
    assert trace["error_y"]["array"] == [None, 20.0]  # 40.04 - 20, one decimal
    assert trace["error_y"]["arrayminus"] == [None, 25.0]  # 20 - (-5)


def test_benchmark_bars_reach_an_interval_that_ends_at_zero() -> None:
    # An upper end of exactly 0 is an end like any other, not a missing one.
    chart = charts.benchmark_chart(
        [
            {"label": "Acme", "own": True, "nps": -10.0, "ci_low": -30.0, "ci_high": 0.0, "n": 50},
            {
                "label": "Client 2",
                "own": False,
                "nps": 35.0,
                "ci_low": 20.0,
                "ci_high": 50.0,
                "n": 80,
            },
        ]
    )
    (trace,) = chart["figure"]["data"]
    assert trace["y"] == [-10.0, 35.0]
    assert trace["error_y"]["array"] == [10.0, 15.0]
    assert trace["error_y"]["arrayminus"] == [20.0, 15.0]
    assert trace["marker"]["color"] == [charts.ACCENT, charts.GREY_LIGHT]


def test_the_correlation_sentence_says_when_it_means_little() -> None:
    few = correlation_sentence({"rho": 0.71, "low": -1.0, "high": 1.0, "n_operators": 4})
    assert "Spearman rho = 0.71 (95% interval -1.00 to 1.00) over 4 operators." in few
    assert "The interval includes 0: no clear link either way yet." in few
    assert "With fewer than 10 operators, read it as a hint, not a finding." in few
    assert "Operators with fewer than 10 answers are not drawn." in few
    firm = correlation_sentence({"rho": 0.62, "low": 0.31, "high": 0.81, "n_operators": 24})
    assert "includes 0" not in firm and "hint" not in firm


def test_the_payment_bars_carry_their_intervals_and_n() -> None:
    rows = [
        # 3 of 10 detractors paid: Wilson 95 % 0.1078 to 0.6032 (by hand: centre 0.3555,
        # half-width 0.2477 with z = 1.96).
        {"group": "detractor", "responses": 10, "rate": 0.3, "low": 0.1078, "high": 0.6032},
        {"group": "passive", "responses": 0, "rate": None, "low": None, "high": None},
        {"group": "promoter", "responses": 20, "rate": 0.5, "low": 0.2993, "high": 0.7007},
    ]
    chart = charts.payment_chart(rows)
    [bars] = chart["figure"]["data"]
    assert bars["y"] == [30.0, None, 50.0]
    assert bars["error_y"]["array"] == [30.3, None, 20.1]
    assert bars["error_y"]["arrayminus"] == [19.2, None, 20.1]
    assert bars["text"] == ["n = 10", "n = 0", "n = 20"]
    assert "Only answers at least 30 days old count" in chart["how_to_read"]
