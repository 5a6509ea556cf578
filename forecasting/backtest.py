"""Pure rolling-origin backtests of the forecast engine, and per-series model selection.

A backtest cuts a daily history at several origins, forecasts the days after each cut-off with only the days
before it, exactly as ``forecasting.engine`` would serve them (same models, same intervals), and scores those
forecasts against what really happened:

* MAPE: mean absolute percentage error, in percent, over the days whose actual value is not zero (a zero day has
  no percentage error; how many were left out is reported);
* sMAPE: symmetric MAPE, ``200 * |a - f| / (|a| + |f|)``, in percent (0 to 200; a day where both are 0 counts 0);
* MASE: mean absolute error divided by the in-sample mean absolute error of the seasonal-naive (lag-7) forecast on
  that origin's training window; below 1 beats last week repeated. Averaged over origins;
* coverage: the share of actual days inside the forecast's interval (80% by default).

Origins are placed from the end: the last one leaves exactly the longest horizon after it, the others step back by
``spacing_days`` (the longest horizon by default, so 90-day windows do not overlap), as long as at least
``MIN_TRAIN_DAYS`` remain to train on. Each origin is forecast once with the longest horizon; shorter horizons
score its first days.

``select_model`` backtests every candidate and returns the winner (lowest MASE at the selection horizon) with every
candidate's metrics, so a caller can store the choice and serve it on later refreshes without backtesting again.
This module has no Django imports.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecasting import engine

__all__ = [
    "DEFAULT_CANDIDATES",
    "DEFAULT_HORIZONS",
    "MIN_ORIGINS_TO_SWITCH",
    "MIN_TRAIN_DAYS",
    "SELECTION_MARGIN",
    "BacktestMetrics",
    "ModelSelection",
    "backtest",
    "interval_coverage",
    "mape",
    "mase",
    "rolling_origins",
    "seasonal_naive_scale",
    "select_model",
    "smape",
]

FloatArray = npt.NDArray[np.float64]

DEFAULT_CANDIDATES = engine.MODEL_NAMES
"""Every model the engine can serve for a history of 8 weeks or more."""

DEFAULT_HORIZONS = (30, 90)

MIN_TRAIN_DAYS = engine.MIN_PROPHET_DAYS
"""An origin needs at least this many days before it (the engine's minimum for a fitted model)."""

MIN_ORIGINS_TO_SWITCH = 2
"""One origin is too few to trust a switch away from the default model: on the tuning cut-offs, single-origin choices
made the largest errors."""

SELECTION_MARGIN = 0.05
"""A candidate replaces the engine's default model only if its MASE is more than 5% lower: with three origins the
scores are noisy, and the default is the most accurate model on average across series."""


@dataclass(frozen=True)
class BacktestMetrics:
    """How one model did at one horizon, over every origin of a backtest."""

    model_name: str
    horizon_days: int
    origins: int
    days: int
    mape: float | None
    """Percent, over the days with a non-zero actual; None when every actual was zero."""
    mape_zero_days_skipped: int
    smape: float
    mase: float | None
    """None when every origin's training window is flat week over week (no seasonal-naive error to scale by)."""
    coverage: float
    interval_width: float


@dataclass(frozen=True)
class ModelSelection:
    """The model a series should be served with, why, and every candidate's backtest metrics."""

    model_name: str
    reason: str
    horizon_days: int | None
    """The horizon the choice was made on; None when the history was too short to backtest."""
    metrics: dict[str, dict[int, BacktestMetrics]]
    failures: dict[str, str]
    """Candidates that raised while fitting, with the error; they cannot win."""
    seconds: float


# --------------------------------------------------------------------------- metrics


def mape(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> tuple[float | None, int]:
    """Mean absolute percentage error in percent over the non-zero actuals, and how many zero actuals were skipped.

    Returns ``(None, n)`` when every one of the ``n`` actuals is zero.
    """
    actual_values, forecast_values = _pair(actual, forecast)
    nonzero = actual_values != 0
    skipped = int(np.count_nonzero(~nonzero))
    if not nonzero.any():
        return None, skipped
    errors = np.abs(actual_values[nonzero] - forecast_values[nonzero]) / np.abs(actual_values[nonzero])
    return float(100.0 * np.mean(errors)), skipped


def smape(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Symmetric MAPE in percent (0..200): ``200 * |a - f| / (|a| + |f|)``, counting 0 where both are 0."""
    actual_values, forecast_values = _pair(actual, forecast)
    denominator = np.abs(actual_values) + np.abs(forecast_values)
    safe = np.where(denominator == 0, 1.0, denominator)
    ratios = np.where(denominator == 0, 0.0, 2.0 * np.abs(actual_values - forecast_values) / safe)
    return float(100.0 * np.mean(ratios))


def seasonal_naive_scale(training: npt.ArrayLike, season: int = engine.SEASON_DAYS) -> float:
    """In-sample mean absolute error of the seasonal-naive forecast: ``mean |y[t] - y[t - season]|``.

    Raises ``ValueError`` when the training window is not longer than one season.
    """
    values = np.asarray(training, dtype=np.float64)
    if len(values) <= season:
        raise ValueError(f"the training window needs more than {season} days to scale MASE, got {len(values)}")
    return float(np.mean(np.abs(values[season:] - values[:-season])))


def mase(
    actual: npt.ArrayLike, forecast: npt.ArrayLike, training: npt.ArrayLike, season: int = engine.SEASON_DAYS
) -> float | None:
    """Mean absolute error scaled by ``seasonal_naive_scale(training)``; None when that scale is 0."""
    actual_values, forecast_values = _pair(actual, forecast)
    scale = seasonal_naive_scale(training, season)
    if scale == 0:
        return None
    return float(np.mean(np.abs(actual_values - forecast_values)) / scale)


def interval_coverage(actual: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike) -> float:
    """Share of actuals with ``lower <= actual <= upper``."""
    actual_values, lower_values = _pair(actual, lower)
    _, upper_values = _pair(actual, upper)
    return float(np.mean((lower_values <= actual_values) & (actual_values <= upper_values)))


def _pair(actual: npt.ArrayLike, other: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    actual_values = np.asarray(actual, dtype=np.float64)
    other_values = np.asarray(other, dtype=np.float64)
    if actual_values.shape != other_values.shape or actual_values.ndim != 1 or len(actual_values) == 0:
        raise ValueError(
            f"expected two non-empty 1-d arrays of the same length, got {actual_values.shape} and {other_values.shape}"
        )
    return actual_values, other_values


# --------------------------------------------------------------------------- backtests


def rolling_origins(
    n_days: int,
    *,
    horizon_days: int,
    origins: int = 3,
    spacing_days: int | None = None,
    min_train_days: int = MIN_TRAIN_DAYS,
) -> list[int]:
    """Cut-offs for a history of ``n_days`` days, oldest first, as the number of training days before each.

    The last cut-off leaves exactly ``horizon_days`` after it; earlier ones step back by ``spacing_days``
    (default ``horizon_days``). Cut-offs with fewer than ``min_train_days`` training days are dropped, so a short
    history gets fewer origins, or none.
    """
    if horizon_days < 1 or origins < 1:
        raise ValueError("horizon_days and origins must be at least 1")
    spacing = spacing_days if spacing_days is not None else horizon_days
    if spacing < 1:
        raise ValueError("spacing_days must be at least 1")
    cutoffs = [n_days - horizon_days - spacing * k for k in range(origins)]
    return sorted(cutoff for cutoff in cutoffs if cutoff >= min_train_days)


def backtest(
    history: pd.DataFrame,
    *,
    models: Sequence[str] = DEFAULT_CANDIDATES,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    origins: int = 3,
    spacing_days: int | None = None,
    interval_width: float = 0.8,
    holiday_country: str = "",
) -> tuple[dict[str, dict[int, BacktestMetrics]], dict[str, str]]:
    """Rolling-origin backtest of ``models`` on a ``ds``/``y`` history (cleaned as ``forecast_daily`` cleans it).

    Returns the metrics per model and horizon, for the horizons at least one origin fits, and the models that
    failed to fit (with the error); a failing model has no metrics. Horizons that no origin fits are left out, so a
    short history may get only its 30-day metrics, or none.
    """
    clean = engine.clean_history(history)
    return _backtest_clean(clean, models, horizons, origins, spacing_days, interval_width, holiday_country)


def _backtest_clean(
    clean: engine.CleanHistory,
    models: Sequence[str],
    horizons: Sequence[int],
    origins: int,
    spacing_days: int | None,
    interval_width: float,
    holiday_country: str = "",
) -> tuple[dict[str, dict[int, BacktestMetrics]], dict[str, str]]:
    unknown = [name for name in models if name not in engine.MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; expected some of {', '.join(engine.MODEL_NAMES)}")
    if not horizons or min(horizons) < 1:
        raise ValueError("horizons must be a non-empty list of positive day counts")
    y = clean.y
    # Prefer the longest horizon's cut-offs; if it fits no origin, fall back to the longest horizon that does.
    fitting = [h for h in sorted(horizons, reverse=True) if rolling_origins(len(y), horizon_days=h, origins=1)]
    if not fitting:
        return {}, {}
    longest = fitting[0]
    spacing = spacing_days if spacing_days is not None else longest
    cutoffs = rolling_origins(len(y), horizon_days=longest, origins=origins, spacing_days=spacing)
    scored = [h for h in horizons if h <= longest]

    failures: dict[str, str] = {}
    # model -> horizon -> list of (actual, forecast, lower, upper, mase) per origin
    per_origin: dict[str, dict[int, list[tuple[FloatArray, FloatArray, FloatArray, FloatArray, float | None]]]] = {
        name: {h: [] for h in scored} for name in models
    }
    for cutoff in cutoffs:
        training, actual = y[:cutoff], y[cutoff : cutoff + longest]
        points = _points_by_model(training, clean.ds[0], longest, models, failures, holiday_country)
        scale = seasonal_naive_scale(training)
        for name, forecast in points.items():
            lower, upper = engine.interval_bounds(name, training, forecast, interval_width)
            for h in scored:
                error = float(np.mean(np.abs(actual[:h] - forecast[:h])))
                per_origin[name][h].append(
                    (actual[:h], forecast[:h], lower[:h], upper[:h], None if scale == 0 else error / scale)
                )

    metrics: dict[str, dict[int, BacktestMetrics]] = {}
    for name in models:
        if name in failures:
            continue
        metrics[name] = {
            h: _summarize(name, h, per_origin[name][h], interval_width) for h in scored if per_origin[name][h]
        }
    return metrics, failures


def _points_by_model(
    training: FloatArray,
    first_day: pd.Timestamp,
    horizon: int,
    models: Sequence[str],
    failures: dict[str, str],
    holiday_country: str = "",
) -> dict[str, FloatArray]:
    """Point forecasts of the models that have not failed yet; a model that raises is recorded and skipped."""
    pending = [name for name in models if name not in failures]
    prophet_based = [name for name in pending if name in ("prophet", "blend")]
    groups = [prophet_based] + [[name] for name in pending if name not in prophet_based]
    points: dict[str, FloatArray] = {}
    for group in groups:
        if not group:
            continue
        try:
            points.update(engine.predict_points(training, first_day, horizon, group, holiday_country))
        except Exception as exc:  # a failing candidate must not sink the others
            for name in group:
                failures[name] = f"{type(exc).__name__}: {exc}"
    return points


def _summarize(
    name: str,
    horizon: int,
    rows: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray, float | None]],
    interval_width: float,
) -> BacktestMetrics:
    actual = np.concatenate([row[0] for row in rows])
    forecast = np.concatenate([row[1] for row in rows])
    lower = np.concatenate([row[2] for row in rows])
    upper = np.concatenate([row[3] for row in rows])
    scaled = [row[4] for row in rows if row[4] is not None]
    mape_value, skipped = mape(actual, forecast)
    return BacktestMetrics(
        model_name=name,
        horizon_days=horizon,
        origins=len(rows),
        days=len(actual),
        mape=mape_value,
        mape_zero_days_skipped=skipped,
        smape=smape(actual, forecast),
        mase=float(np.mean(scaled)) if scaled else None,
        coverage=interval_coverage(actual, lower, upper),
        interval_width=interval_width,
    )


# --------------------------------------------------------------------------- model selection


def select_model(
    history: pd.DataFrame,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    *,
    horizon_days: int = 90,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    origins: int = 3,
    spacing_days: int | None = None,
    interval_width: float = 0.8,
    margin: float = SELECTION_MARGIN,
    holiday_country: str = "",
    default: str | None = None,
) -> ModelSelection:
    """Backtest every candidate on ``history`` and pick the one to serve it with.

    The winner has the lowest MASE at ``horizon_days`` (or the longest horizon the history allows; sMAPE when no
    MASE exists); the engine's default model keeps the job unless the best candidate beats it by more than
    ``margin`` (a fraction of the default's score) over at least ``MIN_ORIGINS_TO_SWITCH`` origins.
    Histories too short to backtest, or that the engine serves with a simple model anyway (all zero, sparse), get
    the default and a reason. The metrics of every horizon in ``horizons`` are returned for storage and display.
    ``holiday_country`` gives the Prophet-based candidates that country's public holidays, as the forecast will.
    ``default`` replaces the engine's default model as the one kept without convincing evidence.
    """
    started = time.perf_counter()
    if not candidates:
        raise ValueError("select_model needs at least one candidate")
    unknown = [name for name in candidates if name not in engine.MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; expected some of {', '.join(engine.MODEL_NAMES)}")
    clean = engine.clean_history(history)
    all_horizons = sorted({*horizons, horizon_days})
    preferred = default or engine.DEFAULT_MODEL
    fallback = preferred if preferred in candidates else candidates[0]

    simple = engine.simple_model_reason(clean.y)
    if simple is not None:
        reason = f"no backtest: {simple[1]}"
        return ModelSelection(fallback, reason, None, {}, {}, time.perf_counter() - started)

    metrics, failures = _backtest_clean(
        clean, candidates, all_horizons, origins, spacing_days, interval_width, holiday_country
    )
    evaluated = sorted({h for by_horizon in metrics.values() for h in by_horizon})
    if not evaluated and failures:
        failed = ", ".join(f"{name} ({error})" for name, error in failures.items())
        reason = f"every candidate failed: {failed}; serving the default {fallback}"
        return ModelSelection(fallback, reason, None, metrics, failures, time.perf_counter() - started)
    if not evaluated:
        reason = (
            f"no backtest: history of {len(clean.y)} days leaves under {MIN_TRAIN_DAYS} training days before "
            f"a {min(all_horizons)}-day test window; serving the default {fallback}"
        )
        return ModelSelection(fallback, reason, None, metrics, failures, time.perf_counter() - started)

    horizon = horizon_days if horizon_days in evaluated else evaluated[-1]
    scores = {name: _score(by_horizon[horizon]) for name, by_horizon in metrics.items() if horizon in by_horizon}
    metric_name = "MASE" if all(metrics[name][horizon].mase is not None for name in scores) else "sMAPE"
    best = min(scores, key=lambda name: (scores[name], candidates.index(name)))
    origin_count = metrics[best][horizon].origins
    origins_text = f"{origin_count} origin{'s' if origin_count != 1 else ''}"
    summary = ", ".join(f"{name} {scores[name]:.3f}" for name in sorted(scores, key=lambda name: scores[name]))
    winner = best
    reason = f"{winner} had the best {horizon}-day {metric_name} over {origins_text} ({summary})"
    if fallback in scores and best != fallback:
        if origin_count < MIN_ORIGINS_TO_SWITCH:
            winner = fallback
            reason = f"{winner} kept: {best} led over only {origins_text} at {horizon} days ({summary})"
        elif scores[best] >= (1.0 - margin) * scores[fallback]:
            winner = fallback
            reason = (
                f"{winner} kept: {best} was not {margin:.0%} better at {horizon} days over {origins_text} ({summary})"
            )
    if failures:
        reason += "; failed: " + ", ".join(f"{name} ({error})" for name, error in failures.items())
    return ModelSelection(winner, reason, horizon, metrics, failures, time.perf_counter() - started)


def _score(metrics: BacktestMetrics) -> float:
    """MASE when it exists, else sMAPE (a flat training window has no seasonal-naive error to scale by)."""
    if metrics.mase is not None and math.isfinite(metrics.mase):
        return metrics.mase
    return metrics.smape
