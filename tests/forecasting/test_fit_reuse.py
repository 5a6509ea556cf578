"""Tests of fit reuse: when a stored Prophet fit or AutoETS form may serve a later forecast, and what it changes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecasting import engine, fitting
from forecasting.engine import PROPHET_REUSE_MAX_DAYS, ProphetFit, forecast_daily, reusable_prophet_fit
from forecasting.fitting import fit_series

WEEKDAY_PATTERN = np.array([0.25, 0.3, 0.3, 0.25, 0.1, -0.6, -0.6])
START = "2024-01-01"


def usage(days: int, *, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return np.exp(np.log(5_000.0) + 0.002 * t + WEEKDAY_PATTERN[t % 7] + rng.normal(0.0, 0.1, days))


def history(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"ds": pd.date_range(START, periods=len(values), freq="D"), "y": values})


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    return usage(400)


@pytest.fixture(scope="module")
def fitted(series: np.ndarray) -> engine.SeriesForecast:
    """A blend forecast of the first 390 days, with the Prophet fit it made."""
    return forecast_daily(history(series[:390]), horizon_days=30, model="blend")


def count_prophet_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real_fit = engine._fit_prophet

    def counting_fit(*args: Any, **kwargs: Any) -> ProphetFit:
        calls.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(engine, "_fit_prophet", counting_fit)
    return calls


def test_a_new_fit_keeps_components_for_the_longest_horizon_and_fingerprints_its_history(fitted, series) -> None:
    fit = fitted.prophet_fit
    assert fit is not None
    assert fit.first_day == pd.Timestamp(START)
    assert fit.last_day == pd.Timestamp(START) + pd.Timedelta(days=389)
    assert len(fit.trend) == len(fit.seasonal) == 1 + engine.MAX_HORIZON_DAYS + PROPHET_REUSE_MAX_DAYS
    assert fit.history_digest == engine.history_digest(series[:390])
    assert 0.0 < fit.residual_limit < 1.0  # log-space residuals of noise with sigma 0.1


def test_reusing_a_fit_on_the_same_history_gives_the_same_forecast_without_fitting(fitted, series, monkeypatch) -> None:
    calls = count_prophet_fits(monkeypatch)

    again = forecast_daily(history(series[:390]), horizon_days=30, model="blend", prophet_fit=fitted.prophet_fit)

    assert calls == []
    pd.testing.assert_frame_equal(again.frame, fitted.frame)
    assert "prophet fit through 2025-01-24 reused (0 days added since, within its fitted pattern)" in again.reason


def test_a_stored_fit_round_trips_through_json(fitted, series) -> None:
    stored = ProphetFit.from_dict(fitted.prophet_fit.as_dict())

    again = forecast_daily(history(series[:390]), horizon_days=30, model="blend", prophet_fit=stored)

    np.testing.assert_allclose(again.frame["yhat"], fitted.frame["yhat"], rtol=1e-5)


def test_new_days_within_the_pattern_reuse_the_fit_and_still_move_the_forecast(fitted, series, monkeypatch) -> None:
    calls = count_prophet_fits(monkeypatch)

    later = forecast_daily(history(series[:392]), horizon_days=30, model="blend", prophet_fit=fitted.prophet_fit)

    assert calls == []
    assert "reused (2 days added since, within its fitted pattern)" in later.reason
    assert later.prophet_fit is fitted.prophet_fit
    assert later.frame["ds"].iloc[0] == pd.Timestamp(START) + pd.Timedelta(days=392)
    # The Prophet half is the stored fit 2 days on (trend from the new last day); the weekly-profile half sees the
    # 2 new days: the blend is their mean in log space.
    trend, seasonal = fitted.prophet_fit.components(pd.Timestamp(START) + pd.Timedelta(days=391), 30)
    np.testing.assert_array_equal(trend, fitted.prophet_fit.trend[2:33])
    prophet_half = engine._damped_trend(trend, engine.BLEND_TREND_DAMPING) + seasonal
    profile_half = np.log1p(engine._weekly_profile_points(series[:392], 30))
    np.testing.assert_allclose(later.frame["yhat"], np.expm1((prophet_half + profile_half) / 2.0), rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("restated", "prophet refitted: usage up to 2025-01-24 changed since the fit"),
        ("stale", f"prophet refitted: {PROPHET_REUSE_MAX_DAYS + 1} new days since the fit through 2025-01-24"),
        ("break", "prophet refitted: a new day left the pattern fitted through 2025-01-24"),
        ("noisy", "prophet refitted: a new day left the pattern fitted through 2025-01-24"),
        ("later_start", "prophet refitted: the history no longer starts on 2024-01-01"),
    ],
)
def test_a_fit_is_refitted_when_the_data_says_so(fitted, series, monkeypatch, change, reason) -> None:
    # "noisy": day 393 of this series is 2.8 sigma off (residual 0.282 > the fit's 99% limit 0.271).
    length = {"stale": 390 + PROPHET_REUSE_MAX_DAYS + 1, "noisy": 393}.get(change, 391)
    values = series[:length].copy()
    first_day = pd.Timestamp(START)
    if change == "restated":
        values[100] *= 1.5
    elif change == "break":
        values[-1] *= 20.0  # an outage's opposite: a launch day far outside anything the fit saw
    elif change == "later_start":
        first_day += pd.Timedelta(days=1)
        values = values[1:]
    calls = count_prophet_fits(monkeypatch)

    kept, note = reusable_prophet_fit(fitted.prophet_fit, values, first_day, 30)
    result = forecast_daily(
        pd.DataFrame({"ds": pd.date_range(first_day, periods=len(values), freq="D"), "y": values}),
        horizon_days=30,
        model="blend",
        prophet_fit=fitted.prophet_fit,
    )

    assert kept is None
    assert note == reason
    assert reason in result.reason
    assert calls == [1]
    assert result.prophet_fit is not None
    assert result.prophet_fit.last_day == first_day + pd.Timedelta(days=len(values) - 1)


def test_a_fit_that_does_not_reach_the_horizon_is_refitted(series) -> None:
    short = forecast_daily(history(series[:390]), horizon_days=30, model="prophet")
    fit = short.prophet_fit
    clipped = ProphetFit.from_dict(
        {**fit.as_dict(), "trend": fit.as_dict()["trend"][:40], "seasonal": fit.as_dict()["seasonal"][:40]}
    )

    kept, note = reusable_prophet_fit(clipped, series[:391], pd.Timestamp(START), 60)

    assert kept is None
    assert note == "prophet refitted: the fit through 2025-01-24 does not reach 60 days ahead"


def test_models_without_prophet_neither_make_nor_use_a_fit(fitted, series) -> None:
    result = forecast_daily(
        history(series[:391]), horizon_days=30, model="weekly_profile", prophet_fit=fitted.prophet_fit
    )

    assert result.prophet_fit is None
    assert "prophet" not in result.reason


def refresh(series: np.ndarray, stored: dict[str, Any] | None, *, reuse_model: str | None = "blend"):
    """The service's path for one series one day after ``fitted``: 391 days, a stored fit, maybe a stored choice."""
    return fit_series(
        history(series[:391]),
        horizon_days=30,
        interval_width=0.8,
        reuse_model=reuse_model,
        previous_backtest={"selected": reuse_model} if reuse_model else None,
        previous_fit=stored,
    )


@pytest.mark.parametrize(
    "damaged",
    [{"trend": [1.0]}, {"trend": "abc"}, {"residual_limit": None}, {"first_day": "not a day"}, None, {}],
)
def test_fit_series_ignores_a_damaged_stored_fit_and_fits_again(fitted, series, monkeypatch, damaged) -> None:
    stored = None if damaged is None else {**fitted.prophet_fit.as_dict(), **damaged} if damaged else {}
    calls = count_prophet_fits(monkeypatch)

    result = refresh(series, stored)

    assert calls == [1]
    assert result.prophet_fit is not None
    assert result.prophet_fit["last_day"] == "2025-01-25"
    assert "reused" not in result.reason


def test_fit_series_reuses_a_stored_fit_with_a_reused_model_choice(fitted, series, monkeypatch) -> None:
    calls = count_prophet_fits(monkeypatch)
    stored = fitted.prophet_fit.as_dict()

    reused = refresh(series, stored)

    assert calls == []
    assert "prophet fit through 2025-01-24 reused (1 day added since" in reused.reason
    assert reused.prophet_fit == stored


def test_a_new_model_selection_fits_afresh_whatever_was_stored(fitted, series, monkeypatch) -> None:
    monkeypatch.setitem(fitting.SELECTION_POLICIES, "workload", fitting.SelectionPolicy(("blend", "prophet"), "blend"))
    selected = refresh(series, fitted.prophet_fit.as_dict(), reuse_model=None)

    assert selected.backtest["reused"] is False
    assert selected.model_name == "prophet"  # this series grows steadily: the backtest picks undamped Prophet
    assert "reused" not in selected.reason
    assert selected.prophet_fit["last_day"] == "2025-01-25"


# --------------------------------------------------------------------------- AutoETS keeps its form


def test_autoets_reports_its_form_and_a_later_forecast_keeps_it(series) -> None:
    searched = forecast_daily(history(series[:390]), horizon_days=30, model="ets")

    assert engine.ETS_FORM.fullmatch(searched.ets_form)
    assert f"AutoETS (weekly season, last 365 days): {searched.ets_form}" in searched.reason

    kept = forecast_daily(history(series[:390]), horizon_days=30, model="ets", ets_form=searched.ets_form)

    assert kept.ets_form == searched.ets_form
    assert "form kept from its last model selection" in kept.reason
    # The same form on the same days: the same parameters, the same forecast.
    np.testing.assert_allclose(kept.frame["yhat"], searched.frame["yhat"], rtol=1e-6)


@pytest.mark.parametrize("form", ["ETS(X,N,N)", "MAM", "", None])
def test_an_unusable_ets_form_means_a_full_search(series, form) -> None:
    result = forecast_daily(history(series[:390]), horizon_days=7, model="ets", ets_form=form)

    assert engine.ETS_FORM.fullmatch(result.ets_form)
    assert "kept" not in result.reason


def test_fit_series_stores_the_ets_form_and_reuses_it(series) -> None:
    first = refresh(series, None, reuse_model="ets")
    form = first.backtest["ets_form"]

    again = fit_series(
        history(series[:392]),
        horizon_days=30,
        interval_width=0.8,
        reuse_model="ets",
        previous_backtest=first.backtest,
    )

    assert again.backtest["ets_form"] == form
    assert "form kept from its last model selection" in again.reason
