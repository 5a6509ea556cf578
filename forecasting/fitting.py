"""Fits one leaf series for a run: choose the model by backtest (or reuse the last choice), then forecast.

Pure (no Django): the service hands it a daily ``ds``/``y`` history and stores what it returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist, median
from typing import Any

import numpy as np
import pandas as pd

from forecasting.backtest import ModelSelection, select_model
from forecasting.engine import ProphetFit, SeriesForecast, forecast_daily, validate_holiday_country
from forecasting.growth import holiday_labels, level_uncertainty


@dataclass(frozen=True)
class FittedSeries:
    """The forecast of one series as the run stores it: model, reason, backtest and daily bands."""

    model_name: str
    reason: str
    backtest: dict[str, Any]
    forecast: dict[str, Any]
    prophet_fit: dict[str, Any] | None


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(value), 3) for value in values]


@dataclass(frozen=True)
class SelectionPolicy:
    """The candidates a series' backtest chooses among, and the model kept without convincing evidence."""

    candidates: tuple[str, ...]
    default: str


SELECTION_POLICIES = {
    "series": SelectionPolicy(("blend", "prophet", "weekly_profile", "ets", "seasonal_naive"), "blend"),
    "workload": SelectionPolicy(("trend", "prophet", "blend", "ets", "weekly_profile", "seasonal_naive"), "trend"),
}
"""The one registry of forecast candidates (a model itself is registered in ``engine.MODELS``).

``series``: any daily series (``manage.py forecast_csv``, the real-series accuracy benchmark): the blend (damped
Prophet with the weekly profile) by default, against Prophet, the weekly profile, exponential smoothing
(statsforecast's AutoETS, weekly season, last year) and seasonal naive.

``workload``: the token volume of a provider x team workload, what a run fits. Programs grow, so the default is
the growth model (``forecasting.growth``), which carries the measured growth rate forward and keeps a launch step
a step; the others win only by a clear margin in the backtest. The backtest scores at the longest horizon an origin
reaches (origins train on 56 days at least), so a workload under 86 days old, or one whose longest horizon has a
single origin, keeps the growth model. Backtesting young workloads on 42 training days and at 14 or 30 days ahead
(two origins or more) was tried: it changed nothing on the tuning cut-offs and chose AutoETS for a young program's
workload at a reported one (-14.5% on its organization's third month), so it was left out. See
``benchmarks/org_backtest.py``."""


def _metrics_dict(metrics: Any) -> dict[str, Any]:
    return {
        "mase": metrics.mase,
        "smape": metrics.smape,
        "mape": metrics.mape,
        "coverage": metrics.coverage,
        "origins": metrics.origins,
        "days": metrics.days,
    }


def choose_and_forecast(
    history: pd.DataFrame,
    *,
    horizon_days: int,
    interval_width: float,
    reuse_model: str | None = None,
    previous_backtest: dict[str, Any] | None = None,
    previous_fit: dict[str, Any] | None = None,
    holiday_country: str = "",
    policy: str = "series",
    label: str = "",
) -> tuple[SeriesForecast, dict[str, Any]]:
    """The service's path for one series: choose the model by backtest (or reuse a recent choice), forecast.

    With ``reuse_model`` (the choice of a recent backtest of the same series) the backtest is skipped
    and its stored metrics (``previous_backtest``) are carried over, marked ``reused``: a nightly refresh
    costs no model selection. ``previous_fit`` (the stored ``ProphetFit`` of the series' last forecast) is
    reused when ``engine.reusable_prophet_fit`` accepts it, so most nightly refreshes fit no Prophet at all; an
    AutoETS series keeps the form (``backtest["ets_form"]``) its selection's fit chose and re-estimates only that.
    An unreadable stored fit is ignored (fitted again). ``holiday_country`` gives Prophet that country's public
    holidays, in the backtest and the forecast alike. ``policy`` names the ``SELECTION_POLICIES`` entry (candidates
    and default). ``manage.py forecast_csv`` calls this too.
    """
    validate_holiday_country(holiday_country)  # before the backtest, which would take a bad one for a failing model
    if reuse_model:
        backtest = {**(previous_backtest or {}), "selected": reuse_model, "reused": True}
        model_name = reuse_model
    else:
        chosen_policy = SELECTION_POLICIES[policy]
        selection = select_model(
            history,
            chosen_policy.candidates,
            interval_width=interval_width,
            holiday_country=holiday_country,
            default=chosen_policy.default,
        )
        model_name = selection.model_name
        metrics = {
            name: {str(horizon): _metrics_dict(value) for horizon, value in by_horizon.items()}
            for name, by_horizon in selection.metrics.items()
        }
        backtest = {
            "selected": model_name,
            "reason": selection.reason,
            "horizon_days": selection.horizon_days,
            "seconds": round(selection.seconds, 3),
            "failures": selection.failures,
            "metrics": metrics,
            "selected_metrics": metrics.get(model_name, {}),
            "reused": False,
        }
        backtest["interval_scale"] = interval_scale(selection, interval_width=interval_width)
    result = forecast_daily(
        history,
        horizon_days=horizon_days,
        interval_width=interval_width,
        model=model_name,
        prophet_fit=_stored_fit(previous_fit) if reuse_model else None,
        holiday_country=holiday_country,
        ets_form=backtest.get("ets_form") if reuse_model else None,
        label=label,
    )
    if result.ets_form:
        backtest["ets_form"] = result.ets_form
    scale = float(backtest.get("interval_scale") or 1.0)
    if scale != 1.0:
        frame = result.frame.copy()
        point = frame["yhat"]
        frame["yhat_lower"] = (point - scale * (point - frame["yhat_lower"])).clip(lower=0.0)
        frame["yhat_upper"] = point + scale * (frame["yhat_upper"] - point)
        result = replace(result, frame=frame, reason=f"{result.reason}; interval scaled x{scale:.2f} by its backtest")
    return result, backtest


def _stored_fit(data: dict[str, Any] | None) -> ProphetFit | None:
    if not data:
        return None
    try:
        return ProphetFit.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None  # written by another version, or damaged: fit again


MIN_INTERVAL_SCALE = 0.6
MAX_INTERVAL_SCALE = 1.6


def interval_scale(selection: ModelSelection, *, interval_width: float) -> float:
    """Per-series interval calibration from the series' own backtest (never from the future).

    If the chosen model's bands covered a share ``c`` of the backtest's actual days instead of the nominal
    ``w``, its band half-widths are multiplied by ``z(w) / z(c)`` (``z`` the central normal quantile), clipped
    to [0.6, 1.6]: bands that covered 95% instead of 80% shrink by 0.67, bands that covered 60% widen by 1.52.
    1.0 when the backtest has fewer than 2 origins at its longest horizon.
    """
    by_horizon = selection.metrics.get(selection.model_name) or {}
    if not by_horizon:
        return 1.0
    metrics = by_horizon[max(by_horizon)]
    if metrics.origins < 2:
        return 1.0
    covered = min(max(metrics.coverage, 0.5), 0.99)
    normal = NormalDist()
    scale = normal.inv_cdf(0.5 + interval_width / 2) / normal.inv_cdf(0.5 + covered / 2)
    return round(min(max(scale, MIN_INTERVAL_SCALE), MAX_INTERVAL_SCALE), 3)


def fit_series(
    history: pd.DataFrame,
    *,
    horizon_days: int,
    interval_width: float,
    reuse_model: str | None = None,
    previous_backtest: dict[str, Any] | None = None,
    previous_fit: dict[str, Any] | None = None,
    holiday_country: str = "",
    policy: str = "workload",
    label: str = "",
) -> FittedSeries:
    """``choose_and_forecast`` with the result in the shape a ForecastSeries stores, plus the level drift and noise
    autocorrelation (``forecasting.growth.level_uncertainty``) the roll-up samples its paths with."""
    result, backtest = choose_and_forecast(
        history,
        horizon_days=horizon_days,
        interval_width=interval_width,
        reuse_model=reuse_model,
        previous_backtest=previous_backtest,
        previous_fit=previous_fit,
        holiday_country=holiday_country,
        policy=policy,
        label=label,
    )
    frame = result.frame
    uncertainty = _level_uncertainty(history, backtest, holiday_country)
    return FittedSeries(
        model_name=result.model_name,
        reason=result.reason,
        backtest=backtest,
        forecast={
            "yhat": _rounded(frame["yhat"].to_numpy()),
            "lower": _rounded(frame["yhat_lower"].to_numpy()),
            "upper": _rounded(frame["yhat_upper"].to_numpy()),
            **uncertainty,
        },
        prophet_fit=result.prophet_fit.as_dict() if result.prophet_fit is not None else None,
    )


def _level_uncertainty(history: pd.DataFrame, backtest: dict[str, Any], holiday_country: str) -> dict[str, Any]:
    """The series' level drift and noise autocorrelation (``forecasting.growth.level_uncertainty``): measured with
    each model selection and kept in its backtest, reused while the selection is (a replay costs about 0.5 s)."""
    stored = backtest.get("level_uncertainty")
    if backtest.get("reused") and isinstance(stored, dict) and "drift_sigma" in stored:
        return stored
    y = history["y"].to_numpy(dtype=np.float64)
    first_day = pd.Timestamp(history["ds"].iloc[0]).date()
    measured = level_uncertainty(y, holiday_labels(first_day, len(y), holiday_country))
    backtest["level_uncertainty"] = {
        "drift_sigma": round(measured.drift_sigma, 6),
        "noise_autocorrelation": round(measured.noise_autocorrelation, 4),
        "drift_errors": measured.errors,
    }
    return dict(backtest["level_uncertainty"])


def summarize_backtests(backtests: list[dict[str, Any]]) -> dict[str, Any]:
    """Median metrics of the selected models across series, per horizon, and how many series had a backtest."""
    per_horizon: dict[str, dict[str, list[float]]] = {}
    selected: dict[str, int] = {}
    for backtest in backtests:
        choice = backtest.get("selected")
        if choice:
            selected[choice] = selected.get(choice, 0) + 1
        for horizon, metrics in (backtest.get("selected_metrics") or {}).items():
            bucket = per_horizon.setdefault(horizon, {})
            for name, value in metrics.items():
                if isinstance(value, int | float) and math.isfinite(value):
                    bucket.setdefault(name, []).append(float(value))
    return {
        "series_with_backtest": len(backtests),
        "selected": selected,
        "median": {
            horizon: {name: round(median(values), 4) for name, values in metrics.items() if values}
            for horizon, metrics in per_horizon.items()
        },
    }
