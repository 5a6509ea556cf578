"""Pure forecast engine: turn a daily usage history into a daily forecast with an interval.

``forecast_daily`` cleans a ``ds``/``y`` history (sort, sum duplicate days, fill gaps with 0, treat NaN as 0,
clip negatives to 0), picks the model the data can support and returns the future horizon only:

* all-zero history            -> ``"zero"``: zeros with a zero-width interval;
* fewer than 7 days           -> ``"mean"``: the history mean, interval from the spread of the history;
* under 56 days, or fewer
  than 14 non-zero days       -> ``"seasonal_naive"``: the last 7 days repeated, interval from the spread of the
                                 weekly (lag-7) residuals, widening each week ahead;
* otherwise                   -> ``"prophet"``: linear growth on ``log1p(y)`` (growth compounds), weekly seasonality,
                                 yearly seasonality once ~2 years of history exist, back-transformed with ``expm1``
                                 and capped at ``MAX_GROWTH_FACTOR`` times the largest day of history.

If Prophet is unavailable or fails, the engine falls back to seasonal naive and says so in ``reason``:
the service must never crash on data it can forecast somehow.

This module has no Django imports, and Prophet is imported lazily inside the function that fits it,
so web processes that import this module never load Prophet/Stan.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "MAX_GROWTH_FACTOR",
    "MAX_HORIZON_DAYS",
    "MIN_NONZERO_DAYS_FOR_PROPHET",
    "MIN_PROPHET_DAYS",
    "PROPHET_UNCERTAINTY_SAMPLES",
    "SEASON_DAYS",
    "YEARLY_SEASONALITY_MIN_DAYS",
    "SeriesForecast",
    "forecast_daily",
]

logger = logging.getLogger(__name__)

MAX_HORIZON_DAYS = 730
"""Longest forecast horizon accepted, in days."""

MIN_PROPHET_DAYS = 56
"""Histories shorter than this (8 weeks) are served by seasonal naive / mean."""

MIN_NONZERO_DAYS_FOR_PROPHET = 14
"""Histories with fewer non-zero days than this are too sparse for Prophet."""

SEASON_DAYS = 7
"""Length of the weekly season used by seasonal naive."""

YEARLY_SEASONALITY_MIN_DAYS = 2 * 365 - 30
"""Yearly seasonality is only fitted once roughly two full years of history exist."""

PROPHET_UNCERTAINTY_SAMPLES = 300
"""Posterior samples for Prophet intervals (default is 1000; 300 is ~3x cheaper and stable enough)."""

_PROPHET_SEED = 20240101
"""Fixed seed so the same history always yields the same Prophet interval."""

MAX_GROWTH_FACTOR = 1000.0
"""Prophet outputs are capped at this multiple of the largest day of history.

Compounding (log-space) trends extrapolated over up to two years can explode; the cap keeps results finite and
storable (token counts go into 64-bit integers) and is mentioned in ``reason`` when it bites.
"""

_FORECAST_COLUMNS = ["ds", "yhat", "yhat_lower", "yhat_upper"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Bands: TypeAlias = tuple[FloatArray, FloatArray, FloatArray]
"""yhat, yhat_lower, yhat_upper."""


@dataclass(frozen=True)
class SeriesForecast:
    """A daily forecast for the future horizon only, plus which model served it and why.

    ``frame`` has columns ``ds`` (datetime64, one row per future day), ``yhat``, ``yhat_lower`` and
    ``yhat_upper`` (floats, never NaN, never negative, ``yhat_lower <= yhat <= yhat_upper``).
    """

    frame: pd.DataFrame
    model_name: str
    reason: str
    history_days: int


@dataclass(frozen=True)
class _CleanHistory:
    """A gap-free daily history and the data-quality notes gathered while cleaning it."""

    ds: pd.DatetimeIndex
    y: FloatArray
    notes: tuple[str, ...]


def forecast_daily(history: pd.DataFrame, *, horizon_days: int, interval_width: float = 0.8) -> SeriesForecast:
    """Forecast ``horizon_days`` future days from a daily ``history`` with columns ``ds`` and ``y``.

    Duplicate days are summed, missing days between the first and last date count as 0 (no usage),
    NaN/non-numeric ``y`` counts as 0 and negative days are clipped to 0 (mentioned in ``reason``).

    Raises ``ValueError`` for an unusable request: horizon outside 1..730, interval width outside (0, 1),
    missing ``ds``/``y`` columns, unparseable dates or an empty history.
    """
    horizon = _validate_horizon(horizon_days)
    width = _validate_interval_width(interval_width)
    clean = _clean_history(history)

    y = clean.y
    n_days = len(y)
    nonzero_days = int(np.count_nonzero(y))
    future_ds = pd.date_range(clean.ds[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")

    if nonzero_days == 0:
        zeros = np.zeros(horizon)
        frame = _frame(future_ds, zeros, zeros, zeros)
        return _result(frame, "zero", f"history of {_days(n_days)} is all zero: forecasting zero", n_days, clean)

    if n_days < SEASON_DAYS:
        yhat, lower, upper = _mean_forecast(y, horizon, width)
        reason = f"history of {_days(n_days)} is under {SEASON_DAYS} days: mean of history"
        return _result(_frame(future_ds, yhat, lower, upper), "mean", reason, n_days, clean)

    if n_days < MIN_PROPHET_DAYS or nonzero_days < MIN_NONZERO_DAYS_FOR_PROPHET:
        yhat, lower, upper = _seasonal_naive_forecast(y, horizon, width)
        if n_days < MIN_PROPHET_DAYS:
            why = f"history of {_days(n_days)} is under {MIN_PROPHET_DAYS} days"
        else:
            why = f"only {nonzero_days} non-zero days (under {MIN_NONZERO_DAYS_FOR_PROPHET})"
        reason = f"{why}: seasonal naive (last {SEASON_DAYS} days repeated)"
        return _result(_frame(future_ds, yhat, lower, upper), "seasonal_naive", reason, n_days, clean)

    yearly = n_days >= YEARLY_SEASONALITY_MIN_DAYS
    try:
        (yhat, lower, upper), capped = _prophet_forecast(clean.ds, y, future_ds, width, yearly=yearly)
    except Exception as exc:  # any Prophet/Stan failure must degrade to seasonal naive, never crash the service
        logger.warning("Prophet failed on %d days of history, falling back to seasonal naive", n_days, exc_info=True)
        yhat, lower, upper = _seasonal_naive_forecast(y, horizon, width)
        reason = f"prophet failed ({type(exc).__name__}): seasonal naive (last {SEASON_DAYS} days repeated)"
        return _result(_frame(future_ds, yhat, lower, upper), "seasonal_naive", reason, n_days, clean)

    seasonality = "weekly and yearly" if yearly else "weekly"
    reason = (
        f"history of {_days(n_days)} with {nonzero_days} non-zero days: prophet "
        f"(compounding growth on log1p, {seasonality} seasonality)"
    )
    if capped:
        reason += f", capped at {MAX_GROWTH_FACTOR:g}x the largest day of history"
    return _result(_frame(future_ds, yhat, lower, upper), "prophet", reason, n_days, clean)


# --------------------------------------------------------------------------- validation and cleaning


def _validate_horizon(horizon_days: object) -> int:
    # Every unusable request raises ValueError (not TypeError) so callers handle a single exception type.
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)):
        raise ValueError(f"horizon_days must be an integer from 1 to {MAX_HORIZON_DAYS}, got {horizon_days!r}")
    if not 1 <= int(horizon_days) <= MAX_HORIZON_DAYS:
        raise ValueError(f"horizon_days must be from 1 to {MAX_HORIZON_DAYS}, got {int(horizon_days)}")
    return int(horizon_days)


def _validate_interval_width(interval_width: object) -> float:
    if isinstance(interval_width, bool) or not isinstance(interval_width, (int, float, np.integer, np.floating)):
        raise ValueError(f"interval_width must be a number strictly between 0 and 1, got {interval_width!r}")
    width = float(interval_width)
    if not (math.isfinite(width) and 0.0 < width < 1.0):
        raise ValueError(f"interval_width must be strictly between 0 and 1, got {width}")
    return width


def _clean_history(history: pd.DataFrame) -> _CleanHistory:
    """Sort, sum duplicate days, fill gaps with 0, treat NaN as 0 and clip negatives, noting what was fixed."""
    if not isinstance(history, pd.DataFrame):
        raise ValueError(f"history must be a DataFrame with columns ds and y, got {type(history).__name__}")
    missing = [column for column in ("ds", "y") if column not in history.columns]
    if missing:
        raise ValueError(f"history is missing column(s) {', '.join(missing)}; expected columns ds and y")
    if history.empty:
        raise ValueError("no history: at least one day with ds and y is required to forecast")

    notes: list[str] = []
    try:
        raw_ds = history["ds"]
        # Already-parsed datetimes pass through; strings may mix "2024-01-05" and "2024-01-05 13:30".
        ds = raw_ds if pd.api.types.is_datetime64_any_dtype(raw_ds) else pd.to_datetime(raw_ds, format="mixed")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"history column ds has a value that is not a date: {exc}") from exc
    if isinstance(ds.dtype, pd.DatetimeTZDtype):
        ds = ds.dt.tz_localize(None)
    ds = ds.dt.normalize()

    y = pd.to_numeric(history["y"], errors="coerce").astype("float64")
    y = y.where(np.isfinite(y))  # +/-inf is as unusable as NaN

    frame = pd.DataFrame({"ds": ds.to_numpy(), "y": y.to_numpy()})
    no_date = int(frame["ds"].isna().sum())
    if no_date:
        frame = frame.dropna(subset=["ds"])
        notes.append(f"{no_date} row(s) without a date ignored")
    if frame.empty:
        raise ValueError("no history: no row of history has a date")

    missing_values = int(frame["y"].isna().sum())
    if missing_values:
        notes.append(f"{missing_values} missing/non-numeric value(s) treated as 0")

    daily = frame.groupby("ds", sort=True)["y"].sum(min_count=0)  # NaN-only days sum to 0
    full_index = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    gap_days = len(full_index) - len(daily)
    daily = daily.reindex(full_index, fill_value=0.0)
    if gap_days:
        notes.append(f"{gap_days} missing day(s) filled with 0")

    negative = daily < 0
    if bool(negative.any()):
        first = pd.Timestamp(daily.index[negative.to_numpy()][0]).strftime("%Y-%m-%d")
        notes.append(f"{int(negative.sum())} negative day(s) clipped to 0 (first on {first})")
        daily = daily.clip(lower=0.0)

    values = daily.to_numpy(dtype=np.float64, copy=True)
    return _CleanHistory(ds=pd.DatetimeIndex(daily.index), y=values, notes=tuple(notes))


# --------------------------------------------------------------------------- models


def _z_score(interval_width: float) -> float:
    return NormalDist().inv_cdf(0.5 + interval_width / 2.0)


def _fallback_sigma(y: FloatArray) -> float:
    """Spread for series too short to have residuals: sample std, floored by sqrt(mean) (count noise)."""
    mean = float(np.mean(y))
    std = float(np.std(y, ddof=1)) if len(y) >= 2 else 0.0
    return max(std, math.sqrt(max(mean, 0.0)))


def _mean_forecast(y: FloatArray, horizon: int, interval_width: float) -> Bands:
    """Flat forecast at the history mean; interval is the mean-method prediction interval sigma*sqrt(1+1/n)."""
    yhat = np.full(horizon, float(np.mean(y)))
    half_width = _z_score(interval_width) * _fallback_sigma(y) * math.sqrt(1.0 + 1.0 / len(y))
    return yhat, yhat - half_width, yhat + half_width


def _seasonal_naive_forecast(y: FloatArray, horizon: int, interval_width: float) -> Bands:
    """Repeat the last 7 days; the interval is the lag-7 residual spread, widened by sqrt(weeks ahead).

    Residuals are ``y[t] - y[t-7]``. With at least 7 of them the spread is their root mean square;
    with fewer the sample std of the history (floored by sqrt(mean)) is used instead.
    """
    last_week = y[-SEASON_DAYS:]
    steps = np.arange(horizon)
    yhat = last_week[steps % SEASON_DAYS].astype(np.float64)

    residuals = y[SEASON_DAYS:] - y[:-SEASON_DAYS]
    sigma = float(np.sqrt(np.mean(residuals**2))) if len(residuals) >= SEASON_DAYS else _fallback_sigma(y)
    weeks_ahead = steps // SEASON_DAYS  # 0 for the first forecast week
    half_width = _z_score(interval_width) * sigma * np.sqrt(weeks_ahead + 1.0)
    return yhat, yhat - half_width, yhat + half_width


def _quiet_prophet_logging() -> None:
    """Silence Prophet/cmdstanpy INFO chatter (chain start/stop); warnings still get through.

    Must run after importing Prophet: ``prophet.forecaster`` sets its logger to INFO at import, and cmdstanpy
    installs its own stderr handler at DEBUG unless its logger already has a handler.
    """
    cmdstanpy_logger = logging.getLogger("cmdstanpy")
    if not cmdstanpy_logger.handlers:
        cmdstanpy_logger.addHandler(logging.NullHandler())  # records still propagate to the app's handlers
    cmdstanpy_logger.setLevel(logging.WARNING)
    logging.getLogger("prophet").setLevel(logging.WARNING)


def _prophet_forecast(
    ds: pd.DatetimeIndex,
    y: FloatArray,
    future_ds: pd.DatetimeIndex,
    interval_width: float,
    *,
    yearly: bool,
) -> tuple[Bands, bool]:
    """Fit Prophet on log1p(y) with linear growth; return back-transformed bands for future_ds and whether any
    value hit the ``MAX_GROWTH_FACTOR`` ceiling."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed" is not our concern
    from prophet import Prophet  # lazy: keeps Prophet/Stan out of web processes

    _quiet_prophet_logging()

    model = Prophet(
        growth="linear",
        weekly_seasonality=True,
        yearly_seasonality=yearly,
        daily_seasonality=False,
        interval_width=interval_width,
        uncertainty_samples=PROPHET_UNCERTAINTY_SAMPLES,
    )
    model.fit(pd.DataFrame({"ds": ds, "y": np.log1p(y)}))

    # Prophet samples its interval from numpy's global RNG: seed it for reproducible output, then restore it.
    rng_state = np.random.get_state()
    np.random.seed(_PROPHET_SEED)
    try:
        predicted = model.predict(pd.DataFrame({"ds": future_ds}))
    finally:
        np.random.set_state(rng_state)

    log_ceiling = float(np.log1p(MAX_GROWTH_FACTOR * float(np.max(y))))
    log_bands = [predicted[column].to_numpy(dtype=np.float64) for column in ("yhat", "yhat_lower", "yhat_upper")]
    capped = any(bool(np.any(band > log_ceiling)) for band in log_bands)
    yhat, lower, upper = (np.expm1(np.clip(band, None, log_ceiling)) for band in log_bands)
    return (yhat, lower, upper), capped


# --------------------------------------------------------------------------- output


def _frame(
    future_ds: pd.DatetimeIndex,
    yhat: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> pd.DataFrame:
    """Build the output frame, enforcing finite, non-negative values with yhat_lower <= yhat <= yhat_upper."""

    def tidy(values: FloatArray) -> FloatArray:
        finite = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=np.finfo(np.float64).max)
        return np.clip(finite, 0.0, None)

    yhat_c = tidy(yhat)
    lower_c = np.minimum(tidy(lower), yhat_c)
    upper_c = np.maximum(tidy(upper), yhat_c)
    frame = pd.DataFrame({"ds": future_ds, "yhat": yhat_c, "yhat_lower": lower_c, "yhat_upper": upper_c})
    frame["ds"] = frame["ds"].astype("datetime64[ns]")
    return frame[_FORECAST_COLUMNS].reset_index(drop=True)


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def _result(
    frame: pd.DataFrame, model_name: str, reason: str, history_days: int, clean: _CleanHistory
) -> SeriesForecast:
    full_reason = "; ".join([reason, *clean.notes])
    return SeriesForecast(frame=frame, model_name=model_name, reason=full_reason, history_days=history_days)
