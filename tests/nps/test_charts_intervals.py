"""The NPS bars with their 95 % interval, as the browser draws them: each error bar reaches
exactly from the NPS to the interval's ends, and a group too small to score keeps its label
and gets no bar."""

from __future__ import annotations

from nps import charts
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
