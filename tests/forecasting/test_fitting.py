"""One series through the service's path: model choice, reuse, and interval calibration by its own backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.backtest import BacktestMetrics, ModelSelection
from forecasting.fitting import choose_and_forecast, interval_scale


def selection(coverage: float, origins: int = 3) -> ModelSelection:
    metrics = BacktestMetrics(
        model_name="blend",
        horizon_days=90,
        origins=origins,
        days=90 * origins,
        mape=10.0,
        mape_zero_days_skipped=0,
        smape=10.0,
        mase=1.0,
        coverage=coverage,
        interval_width=0.8,
    )
    return ModelSelection("blend", "test", 90, {"blend": {90: metrics}}, {}, 0.1)


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [
        (0.8, 1.0),  # calibrated: left alone
        (0.95, 0.654),  # z(0.80) / z(0.95) = 1.2816 / 1.9600
        (0.6, 1.523),  # z(0.80) / z(0.60) = 1.2816 / 0.8416
        (1.0, 0.6),  # covered everything: shrunk, but not below the floor
        (0.2, 1.6),  # coverage read as at least 0.5, then 1.2816 / 0.6745 = 1.90 is capped at 1.6
    ],
)
def test_bands_are_scaled_toward_nominal_coverage(coverage: float, expected: float) -> None:
    assert interval_scale(selection(coverage), interval_width=0.8) == pytest.approx(min(expected, 1.6), abs=1e-3)


def test_a_backtest_with_one_origin_does_not_rescale() -> None:
    assert interval_scale(selection(0.99, origins=1), interval_width=0.8) == 1.0


def test_the_service_path_stores_its_choice_and_scale_and_reuses_them() -> None:
    days = pd.date_range("2025-01-01", periods=300, freq="D")
    rng = np.random.default_rng(4)
    y = 1000 + 300 * (days.dayofweek < 5) + rng.normal(0, 40, len(days))
    history = pd.DataFrame({"ds": days, "y": y})

    first, backtest = choose_and_forecast(history, horizon_days=30, interval_width=0.8)
    again, reused = choose_and_forecast(
        history, horizon_days=30, interval_width=0.8, reuse_model=backtest["selected"], previous_backtest=backtest
    )

    assert backtest["selected"] in backtest["metrics"]
    assert 0.6 <= backtest["interval_scale"] <= 1.6
    assert reused["reused"] is True and reused["interval_scale"] == backtest["interval_scale"]
    assert np.allclose(first.frame["yhat_upper"], again.frame["yhat_upper"])
    assert (first.frame["yhat_lower"] <= first.frame["yhat"]).all()
    assert (first.frame["yhat"] <= first.frame["yhat_upper"]).all()
