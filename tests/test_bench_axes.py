"""The cost/accuracy chart's axes, shared by the terminal plot and the HTML report."""

from __future__ import annotations

import pytest

from mmo.app.bench.axes import accuracy_axis, cost_axis, dollars_tick, linear_ticks, log_scale, log_ticks


def test_cost_axis_is_logarithmic_only_when_costs_span_ten_times_and_none_is_zero() -> None:
    assert log_scale([0.0001, 0.001])
    assert not log_scale([0.0002, 0.001])
    assert not log_scale([0.0, 0.001])
    assert not log_scale([])


@pytest.mark.parametrize("costs", [[0.0001, 0.0025, 0.00008], [0.001, 0.002], [0.0], [0.5], [0.0, 3.0]])
def test_every_cost_lies_inside_the_axis_and_ticks_too(costs: list[float]) -> None:
    axis = cost_axis(costs)
    assert all(axis.low <= c <= axis.high for c in costs)
    assert all(0 < axis.position(c) < 1 for c in costs if axis.high > axis.low and c > axis.low)
    assert axis.ticks and all(axis.low <= t <= axis.high for t in axis.ticks)
    assert len(axis.labels) == len(axis.ticks)


def test_ticks_are_round_values() -> None:
    assert linear_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # 0.25 apart is asked: 0.2 is the closest round step
    assert linear_ticks(47.0, 81.0) == [50.0, 60.0, 70.0, 80.0]
    assert log_ticks(0.00005, 0.004) == [0.0001, 0.0003, 0.001, 0.003]  # three decades: 1 and 3 times each power
    assert log_ticks(0.00011, 0.0009) == [0.0002, 0.0005]


def test_position_on_a_log_axis_is_by_order_of_magnitude() -> None:
    axis = cost_axis([0.0001, 0.01])
    assert axis.log
    assert axis.position(0.001) == pytest.approx(0.5)  # halfway in log space between 1e-4 / 1.6 and 1e-2 * 1.6


def test_accuracy_axis_stays_within_0_and_100() -> None:
    axis = accuracy_axis([99.5, 100.0])
    assert axis.high == 100.0 and axis.low <= 99.5
    assert accuracy_axis([0.0]).low == 0.0
    assert accuracy_axis([47.2, 81.0]).labels == ("50%", "60%", "70%", "80%")


def test_dollar_ticks() -> None:
    assert [dollars_tick(v) for v in (0.0, 0.0003, 0.001, 0.2, 12.0)] == ["$0", "$0.0003", "$0.001", "$0.2", "$12"]
    assert [dollars_tick(v, 0.005) for v in (0.095, 0.1, 0.105)] == ["$0.095", "$0.100", "$0.105"]
    assert dollars_tick(0.0, 0.0002) == "$0.0000"


@pytest.mark.parametrize("costs", [[0.1], [0.001, 0.0013], [0.0, 0.5], [0.0001, 0.0025, 0.00008], [2e-7, 3e-7]])
def test_tick_labels_are_all_different(costs: list[float]) -> None:
    labels = cost_axis(costs).labels
    assert len(set(labels)) == len(labels), labels
