"""The bottom-up roll-up (pure): sums per level, intervals from sampled paths, cost from price paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.rollup import LeafForecast, PriceOutlook, roll_up, shared_shock_correlation

DATES = pd.date_range("2027-01-01", periods=59, freq="D")  # January (31 days) and February (28 days)


def leaf(team: str, model: str, token_type: str, level: float, spread: float, price: float | None = None):
    yhat = np.full(len(DATES), level)
    outlook = None
    if price is not None:
        outlook = PriceOutlook(point=np.full(len(DATES), price), samples=np.full((200, len(DATES)), price))
    return LeafForecast(
        provider="openai",
        team=team,
        model=model,
        token_type=token_type,
        yhat=yhat,
        lower=np.maximum(yhat - spread, 0),
        upper=yhat + spread,
        interval_width=0.8,
        price=outlook,
    )


def test_every_level_adds_up_to_the_organization_and_cost_is_tokens_times_price() -> None:
    leaves = [
        leaf("search", "gpt-4o", "input", 1000, 100, price=2e-6),
        leaf("search", "gpt-4o", "output", 200, 20, price=8e-6),
        leaf("support", "gpt-4o-mini", "input", 500, 50, price=None),
    ]

    rollup = roll_up(leaves, DATES, n_samples=200, seed=1)

    january = rollup.months[("organization", "")][0]
    assert (january.days, january.tokens) == (31, pytest.approx(31 * 1700))
    assert january.tokens_by_type == {"input": pytest.approx(31 * 1500), "output": pytest.approx(31 * 200)}
    # 31 x (1000 x $2/M + 200 x $8/M); the unpriced support tokens are counted, not costed.
    assert january.cost == pytest.approx(31 * (1000 * 2e-6 + 200 * 8e-6))
    assert january.unpriced_tokens == pytest.approx(31 * 500)
    teams = {key: months[0].tokens for (level, key), months in rollup.months.items() if level == "team"}
    assert teams == {"search": pytest.approx(31 * 1200), "support": pytest.approx(31 * 500)}
    assert rollup.months[("team_model", "support | gpt-4o-mini")][1].tokens == pytest.approx(28 * 500)


def test_monthly_intervals_nest_and_are_narrower_than_added_daily_bounds() -> None:
    rollup = roll_up([leaf("search", "gpt-4o", "input", 1000, 300)], DATES, n_samples=400, seed=2)

    january = rollup.months[("organization", "")][0]
    low50, high50 = january.tokens_intervals["50"]
    low80, high80 = january.tokens_intervals["80"]
    low95, high95 = january.tokens_intervals["95"]
    assert low95 <= low80 <= low50 <= january.tokens <= high50 <= high80 <= high95
    # Adding the daily 80% bounds would give 31 x 300 either side; days are only partly correlated.
    assert high80 - january.tokens < 31 * 300
    assert high80 - january.tokens > 31 * 300 / np.sqrt(31)  # wider than fully independent days


def test_a_retired_model_with_a_wide_band_stays_finite_and_bounded() -> None:
    retired = LeafForecast(
        provider="anthropic",
        team="support",
        model="claude-3-5-sonnet",
        token_type="input",
        yhat=np.zeros(len(DATES)),
        lower=np.zeros(len(DATES)),
        upper=np.full(len(DATES), 2_000_000.0),
        interval_width=0.8,
    )

    rollup = roll_up([retired], DATES, n_samples=300, seed=3)

    for month in rollup.months[("organization", "")]:
        low, high = month.tokens_intervals["95"]
        assert np.isfinite(high)
        assert 0 <= low <= high <= month.days * 2_000_000 * 2
    assert rollup.daily_upper is not None and np.all(rollup.daily_upper <= 2_000_000 * 2)


def test_leaves_of_the_wrong_length_are_refused() -> None:
    short = leaf("search", "gpt-4o", "input", 1, 1)
    short = LeafForecast(**{**short.__dict__, "yhat": short.yhat[:10]})

    with pytest.raises(ValueError, match="has 10 days, not 59"):
        roll_up([short], DATES)


def skewed_leaf(index: int) -> LeafForecast:
    """A leaf with a multiplicative band (the engine's log-space bands): half the point to 2.6x the point."""
    yhat = np.full(len(DATES), 1_000.0 + 10 * index)
    return LeafForecast(
        provider="openai",
        team=f"team-{index % 5}",
        model=f"model-{index % 7}",
        token_type="input",
        yhat=yhat,
        lower=yhat / 2,
        upper=yhat * 2.6,
        interval_width=0.8,
    )


def test_shared_shocks_keep_the_sum_of_skewed_leaves_inside_the_organization_band() -> None:
    leaves = [skewed_leaf(index) for index in range(60)]

    independent = roll_up(leaves, DATES, n_samples=300, seed=4)
    shared = roll_up(leaves, DATES, n_samples=300, seed=4, shared_correlation=0.6)

    def band(rollup):
        january = rollup.months[("organization", "")][0]
        return january.tokens, *january.tokens_intervals["80"]

    point, low, high = band(independent)
    # 60 independent right-skewed leaves: their sum's 10th percentile lies above the sum of their points (their
    # medians), so the band is clamped to start at the point, and it is narrow: independent errors cancel.
    assert low == point
    independent_width = high - low
    point, low, high = band(shared)
    # Shared shocks do not cancel: the band is much wider (1.9x here) and reaches below the point.
    assert low < point
    assert high - low > 1.5 * independent_width
    assert shared.shared_correlation == 0.6
    # The points are the same sums of the leaves either way: coherence does not depend on the sampling.
    assert point == pytest.approx(31 * sum(1_000.0 + 10 * index for index in range(60)))


def test_the_shared_correlation_is_measured_from_the_leaves_weekly_changes() -> None:
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
    assert shared_shock_correlation([together[0], retired]) == pytest.approx(0.0)  # one usable leaf
    assert shared_shock_correlation([together[0][-30:], together[1][-30:]]) == 0.0  # too short


def test_a_shared_correlation_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"shared_correlation must be in \[0, 1\)"):
        roll_up([skewed_leaf(0)], DATES, shared_correlation=1.0)
