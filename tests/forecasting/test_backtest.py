"""Tests of the pure backtest module: metrics by hand, rolling origins, backtests and model selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import backtest, engine
from forecasting.backtest import (
    interval_coverage,
    mape,
    mase,
    rolling_origins,
    seasonal_naive_scale,
    select_model,
    smape,
)

WEEK = np.array([120.0, 130.0, 125.0, 118.0, 90.0, 30.0, 25.0])


def daily_history(values: np.ndarray, start: str = "2024-01-01") -> pd.DataFrame:
    return pd.DataFrame({"ds": pd.date_range(start, periods=len(values), freq="D"), "y": values})


def periodic(days: int) -> np.ndarray:
    return WEEK[np.arange(days) % 7]


# --------------------------------------------------------------------------- metrics


def test_mape_skips_zero_actuals_and_counts_them() -> None:
    # |100 - 110| / 100 = 10%, the zero day is skipped, |50 - 40| / 50 = 20%.
    assert mape([100.0, 0.0, 50.0], [110.0, 5.0, 40.0]) == (pytest.approx(15.0), 1)


def test_mape_of_all_zero_actuals_is_none() -> None:
    assert mape([0.0, 0.0, 0.0], [1.0, 0.0, 2.0]) == (None, 3)


def test_smape_by_hand() -> None:
    # 200 * 50 / 150 = 66.67 for the first day, 0 for the day where both are 0, 200 for the day with a zero actual.
    assert smape([100.0, 0.0, 0.0], [50.0, 0.0, 7.0]) == pytest.approx((200 * 50 / 150 + 0.0 + 200.0) / 3)


def test_mase_by_hand() -> None:
    training = np.array([10.0, 20, 30, 40, 50, 60, 70, 14, 24, 34])  # lag-7 errors 4, 4, 4: scale 4
    actual = np.array([44.0, 54.0])
    forecast = np.array([40.0, 60.0])  # errors 4 and 6: MAE 5

    assert seasonal_naive_scale(training) == pytest.approx(4.0)
    assert mase(actual, forecast, training) == pytest.approx(5.0 / 4.0)


def test_mase_is_none_when_the_training_window_repeats_exactly() -> None:
    assert mase([1.0], [2.0], periodic(21)) is None


def test_seasonal_naive_scale_needs_more_than_a_week() -> None:
    with pytest.raises(ValueError, match="more than 7 days"):
        seasonal_naive_scale(periodic(7))


def test_interval_coverage_by_hand() -> None:
    actual = [5.0, 10.0, 15.0, 20.0]
    lower = [4.0, 10.0, 16.0, 0.0]
    upper = [6.0, 12.0, 18.0, 19.0]

    assert interval_coverage(actual, lower, upper) == 0.5  # 5 and 10 (bounds included) are in; 15 and 20 are not


def test_metrics_reject_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        smape([1.0, 2.0], [1.0])


# --------------------------------------------------------------------------- rolling origins


def test_rolling_origins_step_back_by_the_horizon() -> None:
    assert rolling_origins(400, horizon_days=90, origins=3) == [130, 220, 310]


def test_rolling_origins_with_a_spacing_of_30_days() -> None:
    assert rolling_origins(400, horizon_days=90, origins=4, spacing_days=30) == [220, 250, 280, 310]


def test_rolling_origins_drop_cut_offs_with_too_little_training() -> None:
    assert rolling_origins(200, horizon_days=90, origins=3) == [110]
    assert rolling_origins(140, horizon_days=90, origins=3) == []


# --------------------------------------------------------------------------- backtests


def test_backtest_of_a_pure_weekly_pattern_scores_the_seasonal_models_perfectly() -> None:
    metrics, failures = backtest.backtest(
        daily_history(periodic(300)), models=("seasonal_naive", "weekly_profile"), horizons=(30, 90)
    )

    assert failures == {}
    for name in ("seasonal_naive", "weekly_profile"):
        assert set(metrics[name]) == {30, 90}
        ninety = metrics[name][90]
        assert (ninety.origins, ninety.days) == (2, 180)  # cut-offs at 120 and 210 days
        assert metrics[name][30].days == 60
        assert ninety.mape == pytest.approx(0.0)
        assert ninety.mape_zero_days_skipped == 0
        assert ninety.smape == pytest.approx(0.0)
        assert ninety.mase is None  # a perfectly repeating history has no seasonal-naive error to scale by
        assert ninety.interval_width == 0.8
    assert metrics["seasonal_naive"][90].coverage == 1.0  # a zero-width band around exact forecasts holds them


def test_backtest_mase_matches_a_hand_computed_seasonal_naive() -> None:
    rng = np.random.default_rng(0)
    values = periodic(200) * rng.uniform(0.8, 1.2, 200)

    metrics, _ = backtest.backtest(daily_history(values), models=("seasonal_naive",), horizons=(90,), origins=1)

    cutoff = 110
    training, actual = values[:cutoff], values[cutoff:]
    forecast = training[-7:][np.arange(90) % 7]
    assert metrics["seasonal_naive"][90].mase == pytest.approx(mase(actual, forecast, training))
    assert metrics["seasonal_naive"][90].smape == pytest.approx(smape(actual, forecast))


def test_backtest_of_a_history_too_short_for_any_origin_is_empty() -> None:
    assert backtest.backtest(daily_history(periodic(80)), models=("seasonal_naive",), horizons=(30, 90)) == ({}, {})


def test_backtest_falls_back_to_the_horizons_that_fit() -> None:
    metrics, _ = backtest.backtest(daily_history(periodic(100)), models=("seasonal_naive",), horizons=(30, 90))

    assert set(metrics["seasonal_naive"]) == {30}
    assert metrics["seasonal_naive"][30].origins == 1


# --------------------------------------------------------------------------- model selection


def test_select_model_picks_seasonal_naive_on_a_pure_weekly_pattern() -> None:
    selection = select_model(daily_history(periodic(300)), ("blend", "seasonal_naive"))

    assert selection.model_name == "seasonal_naive"
    assert selection.horizon_days == 90
    assert selection.reason.startswith("seasonal_naive had the best 90-day sMAPE over 2 origins (seasonal_naive 0.000")
    assert set(selection.metrics) == {"blend", "seasonal_naive"}
    assert selection.metrics["blend"][90].smape > 0.0
    assert selection.failures == {}
    assert selection.seconds > 0.0


def test_select_model_picks_prophet_for_compounding_growth() -> None:
    t = np.arange(400)
    values = 1000.0 * np.exp(0.006 * t) * (WEEK[t % 7] / WEEK.mean())

    selection = select_model(daily_history(values), ("prophet", "weekly_profile", "seasonal_naive"))

    assert selection.model_name == "prophet"
    mases = {name: selection.metrics[name][90].mase for name in selection.metrics}
    assert mases["prophet"] < 0.5 * min(mases["weekly_profile"], mases["seasonal_naive"])


def test_select_model_keeps_the_default_unless_another_model_is_clearly_better() -> None:
    selection = select_model(daily_history(periodic(300)), ("blend", "seasonal_naive"), margin=1.0)

    assert selection.model_name == "blend"
    assert selection.reason.startswith("blend kept: seasonal_naive was not 100% better at 90 days over 2 origins")


def test_select_model_of_a_short_history_serves_the_default_and_says_why() -> None:
    selection = select_model(daily_history(periodic(100)[:60]), horizon_days=90, horizons=(90,))

    assert selection.model_name == engine.DEFAULT_MODEL
    assert selection.horizon_days is None
    assert selection.reason == (
        "no backtest: history of 60 days leaves under 56 training days before a 90-day test window; "
        "serving the default blend"
    )


def test_select_model_of_an_all_zero_history_does_not_backtest() -> None:
    selection = select_model(daily_history(np.zeros(200)))

    assert selection.model_name == engine.DEFAULT_MODEL
    assert selection.reason == "no backtest: history of 200 days is all zero: forecasting zero"
    assert selection.metrics == {}


def test_a_failing_candidate_is_reported_and_cannot_win(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_ets(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no convergence")

    monkeypatch.setattr(engine, "_ets_points", broken_ets)

    selection = select_model(daily_history(periodic(300)), ("ets", "seasonal_naive"))

    assert selection.model_name == "seasonal_naive"
    assert selection.failures == {"ets": "RuntimeError: no convergence"}
    assert "ets" not in selection.metrics
    assert selection.reason.endswith("; failed: ets (RuntimeError: no convergence)")


def test_select_model_rejects_unknown_candidates() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        select_model(daily_history(periodic(300)), ("arima",))


def test_select_model_does_not_switch_on_a_single_origin() -> None:
    selection = select_model(daily_history(periodic(200)), ("blend", "seasonal_naive"))

    assert selection.model_name == "blend"
    assert selection.reason.startswith("blend kept: seasonal_naive led over only 1 origin at 90 days")


def test_select_model_when_every_candidate_fails_serves_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "_ets_points", broken)

    selection = select_model(daily_history(periodic(300)), ("ets",))

    assert selection.model_name == "ets"
    assert selection.reason == "every candidate failed: ets (RuntimeError: boom); serving the default ets"
