"""The roll-up (pure): workloads split into leaves, points and intervals from the same sampled paths, cost from
price paths, monthly uncertainty from each workload's level drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.rollup import LeafPart, PriceOutlook, WorkloadForecast, roll_up, shared_shock_correlation

DATES = pd.date_range("2027-01-01", periods=59, freq="D")  # January (31 days) and February (28 days)
DAYS = len(DATES)


def part(team: str, model: str, token_type: str, fraction: float, price: float | None = None) -> LeafPart:
    outlook = None
    if price is not None:
        outlook = PriceOutlook(point=np.full(DAYS, price), samples=np.full((200, DAYS), price))
    return LeafPart("openai", team, model, token_type, np.full(DAYS, fraction), outlook)


def workload(team: str, level: float, spread: float, leaves: list[LeafPart], drift: float = 0.0) -> WorkloadForecast:
    """A workload with a log-symmetric band (as the engine makes): ``level`` times/divided by ``1 + spread``."""
    yhat = np.full(DAYS, level)
    return WorkloadForecast(
        provider="openai",
        team=team,
        yhat=yhat,
        lower=yhat / (1 + spread),
        upper=yhat * (1 + spread),
        interval_width=0.8,
        drift_sigma=drift,
        leaves=tuple(leaves),
    )


def test_points_are_path_means_that_add_up_at_every_level_and_cost_is_tokens_times_price() -> None:
    search = workload(
        "search",
        1200,
        0.2,
        [
            part("search", "gpt-4o", "input", 1000 / 1200, price=2e-6),
            part("search", "gpt-4o", "output", 200 / 1200, 8e-6),
        ],
    )
    support = workload("support", 500, 0.2, [part("support", "gpt-4o-mini", "input", 1.0)])

    rollup = roll_up([search, support], DATES, n_samples=200, seed=1)

    january = rollup.months[("organization", "")][0]
    teams = {key: months[0] for (level, key), months in rollup.months.items() if level == "team"}
    # Means add up exactly: the organization's point is the sum of the teams' and of the token types'.
    assert january.tokens == pytest.approx(teams["search"].tokens + teams["support"].tokens, rel=1e-12)
    assert january.tokens == pytest.approx(sum(january.tokens_by_type.values()), rel=1e-12)
    # A log-symmetric band: the mean is a little above the median (31 x 1700), never below.
    assert 31 * 1700 < january.tokens < 31 * 1700 * 1.03
    # Cost comes from the same paths: exactly tokens x price for the priced leaves; support is counted, not costed.
    search_input = rollup.months[("team_model", "search | gpt-4o")][0].tokens_by_type["input"]
    search_output = rollup.months[("team_model", "search | gpt-4o")][0].tokens_by_type["output"]
    assert january.cost == pytest.approx(search_input * 2e-6 + search_output * 8e-6, rel=1e-9)
    assert january.unpriced_tokens == pytest.approx(teams["support"].tokens, rel=1e-12)
    assert search_output / search_input == pytest.approx(0.2, rel=1e-9)  # one path, split by the fractions


def test_every_point_lies_inside_its_own_intervals_which_nest() -> None:
    workloads = [
        workload(f"team-{index}", 1000 + index, 0.6, [part(f"team-{index}", "m", "input", 1.0)], 0.02)
        for index in range(8)
    ]

    rollup = roll_up(workloads, DATES, n_samples=300, seed=2, shared_correlation=0.3)

    for months in rollup.months.values():
        for month in months:
            low50, high50 = month.tokens_intervals["50"]
            low80, high80 = month.tokens_intervals["80"]
            low95, high95 = month.tokens_intervals["95"]
            assert low95 <= low80 <= low50 <= month.tokens <= high50 <= high80 <= high95


def test_the_level_drift_widens_later_months_and_monthly_bands() -> None:
    flat = roll_up([workload("a", 1000, 0.3, [part("a", "m", "input", 1.0)])], DATES, n_samples=400, seed=3)
    drifting = roll_up([workload("a", 1000, 0.3, [part("a", "m", "input", 1.0)], 0.02)], DATES, n_samples=400, seed=3)

    def relative_width(rollup, index):
        month = rollup.months[("organization", "")][index]
        low, high = month.tokens_intervals["80"]
        return (high - low) / month.tokens

    # Without drift the monthly band is day-to-day noise averaged over the month (log sd 0.205 a day, AR(1) 0.5:
    # about 0.064 a month, an 80% band 16% wide), the same each month.
    assert 0.10 < relative_width(flat, 0) < 0.22
    assert relative_width(flat, 1) == pytest.approx(relative_width(flat, 0), rel=0.3)
    # A random-walk drift of 2%/day adds about 0.065 of log sd to January's mean and 0.127 to February's.
    assert relative_width(drifting, 0) > 1.2 * relative_width(flat, 0)
    assert relative_width(drifting, 1) > 1.3 * relative_width(drifting, 0)


def test_a_migration_moves_tokens_between_models_inside_one_workload_path() -> None:
    ramp = np.linspace(0.1, 0.9, DAYS)
    migrating = WorkloadForecast(
        provider="openai",
        team="search",
        yhat=np.full(DAYS, 1000.0),
        lower=np.full(DAYS, 800.0),
        upper=np.full(DAYS, 1250.0),
        interval_width=0.8,
        drift_sigma=0.01,
        leaves=(
            LeafPart("openai", "search", "new", "input", ramp),
            LeafPart("openai", "search", "old", "input", 1.0 - ramp),
        ),
    )

    rollup = roll_up([migrating], DATES, n_samples=300, seed=4)

    new_months = rollup.months[("model", "new")]
    old_months = rollup.months[("model", "old")]
    assert new_months[1].tokens > new_months[0].tokens and old_months[1].tokens < old_months[0].tokens
    team = rollup.months[("team", "search")]
    for index in range(2):
        assert team[index].tokens == pytest.approx(new_months[index].tokens + old_months[index].tokens, rel=1e-12)
    means = (
        rollup.leaf_means[("openai", "search", "new", "input")]
        + rollup.leaf_means[("openai", "search", "old", "input")]
    )
    assert rollup.daily_tokens is not None and np.allclose(means, rollup.daily_tokens)


def test_a_stopped_workload_with_a_wide_band_stays_finite_and_bounded() -> None:
    stopped = WorkloadForecast(
        provider="anthropic",
        team="support",
        yhat=np.zeros(DAYS),
        lower=np.zeros(DAYS),
        upper=np.full(DAYS, 2_000_000.0),
        interval_width=0.8,
        drift_sigma=0.0,
        leaves=(LeafPart("anthropic", "support", "claude-3-5-sonnet", "input", np.ones(DAYS)),),
    )

    rollup = roll_up([stopped], DATES, n_samples=300, seed=3)

    for month in rollup.months[("organization", "")]:
        low, high = month.tokens_intervals["95"]
        assert np.isfinite(high)
        assert 0 <= low <= month.tokens <= high <= month.days * 2_000_000 * 10
    assert rollup.daily_upper is not None and np.all(np.isfinite(rollup.daily_upper))


def test_workloads_and_leaves_of_the_wrong_length_are_refused() -> None:
    good = workload("a", 1, 0.1, [part("a", "m", "input", 1.0)])
    short = WorkloadForecast(**{**good.__dict__, "yhat": good.yhat[:10]})
    with pytest.raises(ValueError, match="has 10 days, not 59"):
        roll_up([short], DATES)
    bad_leaf = WorkloadForecast(**{**good.__dict__, "leaves": (LeafPart("openai", "a", "m", "input", np.ones(5)),)})
    with pytest.raises(ValueError, match="fraction has 5 days"):
        roll_up([bad_leaf], DATES)


def test_shared_shocks_widen_the_organization_band() -> None:
    workloads = [
        workload(f"team-{index}", 1000, 0.5, [part(f"team-{index}", "m", "input", 1.0)], 0.01) for index in range(30)
    ]

    independent = roll_up(workloads, DATES, n_samples=300, seed=4)
    shared = roll_up(workloads, DATES, n_samples=300, seed=4, shared_correlation=0.6)

    def width(rollup):
        low, high = rollup.months[("organization", "")][0].tokens_intervals["80"]
        return high - low

    assert width(shared) > 2 * width(independent)  # 30 independent workloads cancel; shared shocks do not
    assert shared.shared_correlation == 0.6


def test_the_shared_correlation_is_measured_from_the_series_weekly_changes() -> None:
    rng = np.random.default_rng(5)
    days = 400
    weekday = np.tile([1.0, 1.1, 1.1, 1.0, 0.9, 0.4, 0.3], days // 7 + 1)[:days]
    common = np.exp(np.cumsum(rng.normal(0, 0.05, days)))

    def series(own_noise: float, shared: bool) -> np.ndarray:
        shock = common if shared else np.exp(np.cumsum(rng.normal(0, 0.05, days)))
        return 1e6 * weekday * shock * np.exp(rng.normal(0, own_noise, days))

    together = [series(0.005, shared=True) for _ in range(4)]
    apart = [series(0.005, shared=False) for _ in range(4)]
    retired = np.concatenate([np.full(days - 60, 5e5), np.zeros(60)])

    assert shared_shock_correlation(together) == pytest.approx(0.9)  # clipped at the maximum
    assert abs(shared_shock_correlation(apart)) < 0.15
    assert shared_shock_correlation([together[0], retired]) == pytest.approx(0.0)  # one usable series
    assert shared_shock_correlation([together[0][-30:], together[1][-30:]]) == 0.0  # too short


def test_a_shared_correlation_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"shared_correlation must be in \[0, 1\)"):
        roll_up([workload("a", 1, 0.1, [part("a", "m", "input", 1.0)])], DATES, shared_correlation=1.0)
