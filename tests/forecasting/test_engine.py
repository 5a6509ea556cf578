"""Tests of the pure forecast engine: cleaning, model choice, known answers and interval sanity."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from forecasting import engine
from forecasting.engine import SeriesForecast, forecast_daily

Z80 = NormalDist().inv_cdf(0.9)  # two-sided 80% interval
WEEKDAY_PATTERN = np.array([0.25, 0.3, 0.3, 0.25, 0.1, -0.6, -0.6])


def daily_history(values: Sequence[object] | np.ndarray, start: str = "2024-01-01") -> pd.DataFrame:
    return pd.DataFrame({"ds": pd.date_range(start, periods=len(values), freq="D"), "y": values})


def weekly_process(days: int, *, seed: int, growth: float = 0.001, noise: float = 0.15) -> np.ndarray:
    """Usage with compounding growth, a weekday/weekend pattern and multiplicative (log-normal) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return np.exp(np.log(500.0) + growth * t + WEEKDAY_PATTERN[t % 7] + rng.normal(0.0, noise, days))


def day_after(days: int, start: str = "2024-01-01") -> str:
    return str((pd.Timestamp(start) + pd.Timedelta(days=days)).date())


def assert_well_formed(result: SeriesForecast, *, horizon: int, first_day: str) -> None:
    frame = result.frame
    assert list(frame.columns[:4]) == ["ds", "yhat", "yhat_lower", "yhat_upper"]
    assert frame["ds"].dtype == np.dtype("datetime64[ns]")
    assert list(frame["ds"]) == list(pd.date_range(first_day, periods=horizon, freq="D"))
    values = frame.drop(columns="ds").to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    lowers = [column for column in frame.columns if column.startswith("yhat_lower")]
    for lower in lowers:
        upper = lower.replace("lower", "upper")
        assert (frame[lower] <= frame["yhat"]).all()
        assert (frame["yhat"] <= frame[upper]).all()


# --------------------------------------------------------------------------- short, sparse and degenerate histories


def test_seasonal_naive_repeats_last_week_with_residual_interval() -> None:
    history = daily_history([100.0 + day for day in range(1, 15)])  # 101..114, every lag-7 residual is 7

    result = forecast_daily(history, horizon_days=9, interval_width=0.8)

    assert result.model_name == "seasonal_naive"
    assert result.history_days == 14
    assert result.reason == "history of 14 days is under 56 days: seasonal naive (last 7 days repeated)"
    assert_well_formed(result, horizon=9, first_day="2024-01-15")
    assert list(result.frame["yhat"]) == [108.0, 109.0, 110.0, 111.0, 112.0, 113.0, 114.0, 108.0, 109.0]
    half_widths = [Z80 * 7.0] * 7 + [Z80 * 7.0 * math.sqrt(2.0)] * 2  # widens by sqrt(weeks ahead)
    assert list(result.frame["yhat_upper"] - result.frame["yhat"]) == pytest.approx(half_widths)
    assert list(result.frame["yhat"] - result.frame["yhat_lower"]) == pytest.approx(half_widths)


def test_sparse_long_history_uses_seasonal_naive() -> None:
    values = np.zeros(100)
    values[::10] = 50.0  # 10 non-zero days out of 100

    result = forecast_daily(daily_history(values), horizon_days=7)

    assert result.model_name == "seasonal_naive"
    assert result.reason.startswith("only 10 non-zero days (under 14): seasonal naive")
    assert list(result.frame["yhat"]) == list(values[-7:])


def test_all_zero_history_forecasts_zero_with_zero_width() -> None:
    result = forecast_daily(daily_history([0.0] * 30), horizon_days=5, interval_widths=(0.5, 0.95))

    assert result.model_name == "zero"
    assert result.reason == "history of 30 days is all zero: forecasting zero"
    assert_well_formed(result, horizon=5, first_day="2024-01-31")
    assert (result.frame.drop(columns="ds").to_numpy() == 0.0).all()


def test_one_day_of_history_forecasts_its_mean() -> None:
    result = forecast_daily(daily_history([5.0]), horizon_days=3)

    assert result.model_name == "mean"
    assert result.history_days == 1
    assert result.reason == "history of 1 day is under 7 days: mean of history"
    assert_well_formed(result, horizon=3, first_day="2024-01-02")
    assert list(result.frame["yhat"]) == [5.0, 5.0, 5.0]
    # No spread to measure from one day: count noise sqrt(mean), times the mean-method factor sqrt(1 + 1/n).
    assert result.frame["yhat_upper"].iloc[0] == pytest.approx(5.0 + Z80 * math.sqrt(5.0) * math.sqrt(2.0))


def test_gaps_are_filled_with_zero_and_duplicates_summed() -> None:
    history = pd.DataFrame(
        {
            "ds": ["2024-01-03", "2024-01-01", "2024-01-01", "2024-01-05 13:30"],
            "y": [3.0, 1.0, 1.0, 5.0],
        }
    )

    result = forecast_daily(history, horizon_days=2)

    # Days: 01-01 = 2 (1 + 1), 01-02 = 0, 01-03 = 3, 01-04 = 0, 01-05 = 5 -> mean 2.
    assert result.history_days == 5
    assert result.model_name == "mean"
    assert list(result.frame["yhat"]) == [2.0, 2.0]
    assert "2 missing day(s) filled with 0" in result.reason
    assert_well_formed(result, horizon=2, first_day="2024-01-06")


def test_missing_values_count_as_zero() -> None:
    history = daily_history([4.0, None, "n/a", 4.0])

    result = forecast_daily(history, horizon_days=1)

    assert list(result.frame["yhat"]) == [2.0]
    assert "2 missing/non-numeric value(s) treated as 0" in result.reason


def test_negative_values_are_clipped_and_reported() -> None:
    history = daily_history([10.0, -4.0, 10.0, -1.0, 10.0, 10.0, 10.0, 10.0])

    result = forecast_daily(history, horizon_days=8)

    assert result.model_name == "seasonal_naive"
    assert "2 negative day(s) clipped to 0 (first on 2024-01-02)" in result.reason
    assert list(result.frame["yhat"]) == [0.0, 10.0, 0.0, 10.0, 10.0, 10.0, 10.0, 0.0]
    assert_well_formed(result, horizon=8, first_day="2024-01-09")


def test_requested_model_on_a_short_history_gets_the_simple_model_and_says_why() -> None:
    result = forecast_daily(daily_history(weekly_process(20, seed=1)), horizon_days=7, model="prophet")

    assert result.model_name == "seasonal_naive"
    assert result.reason == (
        "history of 20 days is under 56 days: seasonal naive (last 7 days repeated) "
        "(requested prophet needs more history)"
    )


# --------------------------------------------------------------------------- bad input on long histories


@pytest.mark.parametrize("days", [20, 200])
def test_huge_outlier_gives_finite_output(days: int) -> None:
    values = weekly_process(days, seed=3)
    values[days // 2] = 1e15

    result = forecast_daily(daily_history(values), horizon_days=30, interval_widths=(0.95,))

    assert_well_formed(result, horizon=30, first_day=day_after(days))
    assert result.frame["yhat_upper_95"].max() <= engine.MAX_GROWTH_FACTOR * 1e15


def test_a_spike_in_the_last_weeks_does_not_move_the_weekly_profile() -> None:
    values = np.exp(np.log(500.0) + WEEKDAY_PATTERN[np.arange(70) % 7])
    values[-10] = 1e12  # one absurd day inside the 8-week window

    result = forecast_daily(daily_history(values), horizon_days=7, model="weekly_profile")

    # The trimmed mean drops each weekday's highest and lowest week: the pattern comes back exactly.
    assert list(result.frame["yhat"]) == pytest.approx(list(values[-7:]))


@pytest.mark.parametrize("model", [None, "prophet", "weekly_profile", "seasonal_naive"])
def test_zeros_gaps_negatives_and_outliers_together_never_give_nan(model: str | None) -> None:
    values = weekly_process(120, seed=4)
    values[30:40] = 0.0  # an outage
    values[50] = -1e6  # a refund booked as negative usage
    values[80] = 1e13  # a runaway job
    history = daily_history(values).drop(index=[60, 61, 62])  # three days missing

    result = forecast_daily(history, horizon_days=60, model=model, interval_widths=(0.5, 0.95))

    assert_well_formed(result, horizon=60, first_day=day_after(120))
    assert "3 missing day(s) filled with 0" in result.reason
    assert "1 negative day(s) clipped to 0 (first on 2024-02-20)" in result.reason


# --------------------------------------------------------------------------- fitted models


def test_default_model_is_the_blend_and_learns_the_weekly_pattern() -> None:
    values = weekly_process(200, seed=0)

    result = forecast_daily(daily_history(values), horizon_days=60)

    assert result.model_name == "blend"
    assert result.history_days == 200
    assert result.reason == (
        "history of 200 days with 200 non-zero days: blend of prophet (log1p, damped trend, weekly seasonality) "
        "and the 8-week weekday profile"
    )
    assert_well_formed(result, horizon=60, first_day="2024-07-19")
    frame = result.frame
    weekend = frame["ds"].dt.dayofweek >= 5
    assert frame.loc[weekend, "yhat"].mean() < 0.7 * frame.loc[~weekend, "yhat"].mean()


def test_weekly_profile_of_a_noise_free_pattern_is_the_pattern_with_a_zero_width_band() -> None:
    values = np.exp(np.log(500.0) + WEEKDAY_PATTERN[np.arange(70) % 7])

    result = forecast_daily(daily_history(values), horizon_days=10, model="weekly_profile")

    assert result.reason == (
        "history of 70 days with 70 non-zero days: weekly profile (each weekday's geometric mean over the last "
        "8 weeks) (requested)"
    )
    assert list(result.frame["yhat"]) == pytest.approx(list(values[-7:]) + list(values[-7:-4]))
    assert list(result.frame["yhat_lower"]) == pytest.approx(list(result.frame["yhat"]))
    assert list(result.frame["yhat_upper"]) == pytest.approx(list(result.frame["yhat"]))


def test_seasonal_naive_can_be_requested_for_a_long_history() -> None:
    values = weekly_process(90, seed=6)

    result = forecast_daily(daily_history(values), horizon_days=9, model="seasonal_naive")

    assert result.model_name == "seasonal_naive"
    assert list(result.frame["yhat"]) == pytest.approx(list(values[-7:]) + list(values[-7:-5]))


def test_prophet_follows_compounding_growth_and_the_blend_damps_it() -> None:
    values = weekly_process(300, seed=2, growth=0.01, noise=0.05)  # +1% a day
    last_weeks_mean = values[-28:].mean()

    prophet = forecast_daily(daily_history(values), horizon_days=90, model="prophet").frame["yhat"]
    blend = forecast_daily(daily_history(values), horizon_days=90).frame["yhat"]

    # Ninety more days of +1% a day is about 2.5x; the damped blend stops growing after a couple of weeks.
    assert prophet[-28:].mean() > 2.0 * last_weeks_mean
    assert blend[-28:].mean() < 1.3 * last_weeks_mean
    assert prophet[-28:].mean() > blend[-28:].mean()


def test_damped_trend_adds_a_geometric_series_of_the_slope() -> None:
    trend = np.array([10.0, 12.0, 14.0, 16.0])  # slope 2 a day

    damped = engine._damped_trend(trend, 0.5)

    assert list(damped) == pytest.approx([10.0 + 2 * 0.5, 10.0 + 2 * 0.75, 10.0 + 2 * 0.875])


def test_forecasts_are_reproducible() -> None:
    history = daily_history(weekly_process(80, seed=11))

    first = forecast_daily(history, horizon_days=14, interval_widths=(0.95,))
    second = forecast_daily(history, horizon_days=14, interval_widths=(0.95,))

    pd.testing.assert_frame_equal(first.frame, second.frame)


def test_model_failure_falls_back_to_the_weekly_profile(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_prophet(*args: object, **kwargs: object) -> None:
        raise RuntimeError("stan optimisation failed")

    monkeypatch.setattr(engine, "_fit_prophet", broken_prophet)
    values = np.exp(np.log(500.0) + WEEKDAY_PATTERN[np.arange(70) % 7])

    with caplog.at_level(logging.WARNING, logger="forecasting.engine"):
        result = forecast_daily(daily_history(values), horizon_days=10, label="openai/search (workload)")

    assert result.model_name == "weekly_profile"
    assert result.reason.startswith("blend failed (RuntimeError): history of 70 days with 70 non-zero days: weekly")
    assert list(result.frame["yhat"]) == pytest.approx(list(values[-7:]) + list(values[-7:-4]))
    # One line that says which series, what failed and what served instead (no traceback).
    assert [record.getMessage() for record in caplog.records] == [
        "forecast of openai/search (workload): blend failed on 70 days of history (RuntimeError: stan optimisation "
        "failed); the weekly profile serves it instead"
    ]
    assert caplog.records[0].exc_info is None


def test_stan_chatter_about_an_early_stop_does_not_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    # Prophet fits; cmdstanpy's "Chain [1] error: code '1' ..." (L-BFGS stopped early, Prophet then fits with
    # Newton) is what a newcomer saw during make demo. After a fit, nothing from cmdstanpy reaches the handlers.
    forecast_daily(daily_history(weekly_process(120, seed=3)), horizon_days=10, model="prophet")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("cmdstanpy").error("Chain [%d] error: code '%d' %s", 1, 1, "Operation not permitted")

    assert not [record for record in caplog.records if record.name.startswith("cmdstanpy")]


# --------------------------------------------------------------------------- intervals


def test_extra_interval_widths_add_nested_bands() -> None:
    result = forecast_daily(daily_history(weekly_process(150, seed=8)), horizon_days=30, interval_widths=(0.5, 0.95))

    frame = result.frame
    assert list(frame.columns) == [
        "ds",
        "yhat",
        "yhat_lower",
        "yhat_upper",
        "yhat_lower_50",
        "yhat_upper_50",
        "yhat_lower_95",
        "yhat_upper_95",
    ]
    assert_well_formed(result, horizon=30, first_day=day_after(150))
    assert (frame["yhat_lower_95"] < frame["yhat_lower"]).all()
    assert (frame["yhat_lower"] < frame["yhat_lower_50"]).all()
    assert (frame["yhat_upper_50"] < frame["yhat_upper"]).all()
    assert (frame["yhat_upper"] < frame["yhat_upper_95"]).all()


def test_band_column_names() -> None:
    assert engine.band_column_names(0.95) == ("yhat_lower_95", "yhat_upper_95")
    assert engine.band_column_names(0.975) == ("yhat_lower_97_5", "yhat_upper_97_5")


def test_interval_widens_with_the_horizon() -> None:
    result = forecast_daily(daily_history(weekly_process(400, seed=9)), horizon_days=365)

    log_width = np.log1p(result.frame["yhat_upper"]) - np.log1p(result.frame["yhat_lower"])
    assert log_width.iloc[-30:].mean() > log_width.iloc[:30].mean()
    assert (np.diff(log_width.to_numpy()) >= -1e-9).all()  # a band never narrows further out


@pytest.mark.parametrize("model", ["blend", "weekly_profile", "seasonal_naive"])
def test_interval_coverage_on_known_noise_is_close_to_nominal(model: str) -> None:
    # Stationary weekly usage with log-normal noise of known spread: 8 independent histories of 200 days, each
    # followed by 60 held-out days from the same process, 480 days pooled. The 80% band should hold about 80%.
    covered: list[bool] = []
    for seed in range(8):
        values = weekly_process(260, seed=100 + seed, growth=0.0, noise=0.2)
        history, held_out = values[:200], values[200:]

        frame = forecast_daily(daily_history(history), horizon_days=60, interval_width=0.8, model=model).frame

        covered.extend((frame["yhat_lower"] <= held_out) & (held_out <= frame["yhat_upper"]))

    assert 0.70 <= np.mean(covered) <= 0.90


# --------------------------------------------------------------------------- invalid requests


@pytest.mark.parametrize("horizon", [0, -1, 731, 1.5, "30", True])
def test_bad_horizon_raises(horizon: object) -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        forecast_daily(daily_history([1.0, 2.0]), horizon_days=horizon)  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_bad_interval_width_raises(width: float) -> None:
    with pytest.raises(ValueError, match="interval_width"):
        forecast_daily(daily_history([1.0, 2.0]), horizon_days=7, interval_width=width)


def test_bad_extra_interval_width_raises() -> None:
    with pytest.raises(ValueError, match="interval_width"):
        forecast_daily(daily_history([1.0, 2.0]), horizon_days=7, interval_widths=(0.5, 1.2))


def test_unknown_model_raises() -> None:
    with pytest.raises(ValueError, match="model must be one of blend, prophet"):
        forecast_daily(daily_history([1.0, 2.0]), horizon_days=7, model="arima")


def test_empty_history_raises() -> None:
    with pytest.raises(ValueError, match=r"^no history"):
        forecast_daily(pd.DataFrame({"ds": [], "y": []}), horizon_days=7)


def test_history_without_y_column_raises() -> None:
    with pytest.raises(ValueError, match="missing column"):
        forecast_daily(pd.DataFrame({"ds": ["2024-01-01"], "tokens": [1.0]}), horizon_days=7)


@pytest.mark.parametrize(
    "values",
    [[5.0, 0.0, 7.5, 3.0], list(weekly_process(120, seed=3)), [0.0] * 10, [1.0]],
)
def test_an_already_clean_history_is_taken_as_it_is_and_equals_the_cleaned_one(values) -> None:
    clean = daily_history(values)
    as_text = clean.assign(ds=clean["ds"].dt.strftime("%Y-%m-%d"))  # text dates always take the cleaning path

    fast = engine.clean_history(clean)
    cleaned = engine.clean_history(as_text)

    assert engine._already_clean(clean) is not None
    assert engine._already_clean(as_text) is None
    assert list(fast.ds) == list(cleaned.ds)
    np.testing.assert_array_equal(fast.y, cleaned.y)
    assert fast.notes == cleaned.notes == ()


@pytest.mark.parametrize(
    ("change", "note"),
    [
        ("gap", "1 missing day(s) filled with 0"),
        ("duplicate", None),
        ("negative", "1 negative day(s) clipped to 0 (first on 2024-01-03)"),
        ("nan", "1 missing/non-numeric value(s) treated as 0"),
        ("noon", None),
    ],
)
def test_a_history_that_needs_cleaning_is_cleaned(change, note) -> None:
    frame = daily_history([4.0, 5.0, 6.0, 7.0])
    if change == "gap":
        frame = frame.drop(index=1)
    elif change == "duplicate":
        frame = pd.concat([frame, frame.iloc[[0]]])
    elif change == "negative":
        frame.loc[2, "y"] = -1.0
    elif change == "nan":
        frame.loc[2, "y"] = np.nan
    elif change == "noon":
        frame["ds"] = frame["ds"] + pd.Timedelta(hours=12)

    assert engine._already_clean(frame) is None
    result = engine.clean_history(frame)

    assert list(result.ds) == list(pd.date_range("2024-01-01", periods=4, freq="D"))
    if note:
        assert note in result.notes
    if change == "duplicate":
        assert result.y[0] == 8.0
