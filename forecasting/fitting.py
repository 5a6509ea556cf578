"""Fits one leaf series for a run: choose the model by backtest (or reuse the last choice), then forecast.

Pure (no Django): the service hands it a daily ``ds``/``y`` history and stores what it returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import Any

import numpy as np
import pandas as pd

from forecasting.engine import forecast_daily


@dataclass(frozen=True)
class FittedSeries:
    """The forecast of one series as the run stores it: model, reason, backtest and daily bands."""

    model_name: str
    reason: str
    backtest: dict[str, Any]
    forecast: dict[str, list[float]]


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(value), 3) for value in values]


def fit_series(
    history: pd.DataFrame, *, horizon_days: int, interval_width: float, reuse_model: str | None = None
) -> FittedSeries:
    """Forecast ``history`` over ``horizon_days``; the backtest chooses the model unless ``reuse_model`` is set."""
    result = forecast_daily(history, horizon_days=horizon_days, interval_width=interval_width)
    frame = result.frame
    return FittedSeries(
        model_name=result.model_name,
        reason=result.reason,
        backtest={},
        forecast={
            "yhat": _rounded(frame["yhat"].to_numpy()),
            "lower": _rounded(frame["yhat_lower"].to_numpy()),
            "upper": _rounded(frame["yhat_upper"].to_numpy()),
        },
    )


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
