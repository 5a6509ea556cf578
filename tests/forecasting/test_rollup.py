"""The bottom-up roll-up (pure): sums per level, intervals from sampled paths, cost from price paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.rollup import LeafForecast, PriceOutlook, roll_up

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
