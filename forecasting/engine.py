"""Pure forecast engine: turn a daily usage history into a daily forecast with intervals.

``forecast_daily`` cleans a ``ds``/``y`` history (sort, sum duplicate days, fill gaps with 0, treat NaN as 0,
clip negatives to 0), picks the model the data can support and returns the future horizon only:

* all-zero history            -> ``"zero"``: zeros with a zero-width interval;
* fewer than 7 days           -> ``"mean"``: the history mean, interval from the spread of the history;
* under 56 days, or fewer
  than 14 non-zero days       -> ``"seasonal_naive"``: the last 7 days repeated, interval from the spread of the
                                 weekly (lag-7) residuals, widening each week ahead;
* otherwise                   -> the requested ``model`` (one of ``MODEL_NAMES``, usually the winner of
                                 ``forecasting.backtest.select_model`` stored from the last backtest), or
                                 ``DEFAULT_MODEL`` when none is given.

The models for histories of 8 weeks and more, all fitted on ``log1p(y)`` so growth compounds and spikes are damped:

* ``"blend"`` (the default): the mean, in log space, of a damped-trend Prophet and the weekly profile. On real daily
  series at a 90-day horizon it was more accurate than either part, default Prophet, AutoETS and seasonal naive
  (see ``benchmarks/accuracy.py``): Prophet brings yearly seasonality and the recent trend, the profile anchors the
  level to the last weeks, and damping keeps a trend from running away over months;
* ``"prophet"``: Prophet (MAP fit, linear trend, weekly seasonality, yearly from a year of history) with its trend
  extrapolated undamped: wins for series that keep growing;
* ``"weekly_profile"``: each weekday's (trimmed) geometric mean over the last 8 weeks;
* ``"ets"``: statsforecast's AutoETS with a weekly season, on the last year (a later forecast may keep the form it
  chose, ``ets_form``, and only re-estimate that form's parameters);
* ``"seasonal_naive"``: the last 7 days repeated;
* ``"trend"``: the growth model of ``forecasting.growth``: a log-linear trend with weekday effects over the last 18
  weeks, a launch step kept as a step, the slope carried forward lightly damped. The default of workload volumes.

Intervals do not sample paths. They come from the history itself: the engine replays the weekly-profile forecast
from every day of the last two years and measures how far the actual days fell from it at each horizon (in log
space, so the band is multiplicative). The quantile of those errors at the requested width, scaled per model by a
factor measured on real series, gives the band; past the longest horizon the history can show, it widens with the
square root of the horizon.

Refits are not repeated needlessly: a forecast returns its Prophet fit (``ProphetFit``: the fitted trend and seasonal
terms for the days ahead, exactly what the fitted model predicts), and a later forecast of the same series may pass it
back. ``reusable_prophet_fit`` accepts it while the past the fit saw is unchanged, at most a week of days was added
and every added day stays inside the fit's own residual band; otherwise Prophet is fitted again. The weekly profile
and the intervals are always recomputed from the whole current history, so new days move the blend at once.

Prophet is imported lazily inside the function that fits it, so web processes that import this module never load
Prophet/Stan; statsforecast likewise. If a model fails, the engine falls back to the weekly profile and says so in
``reason``: the service must never crash on data it can forecast somehow. This module has no Django imports.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from forecasting.growth import TREND_WINDOW_DAYS, holiday_labels, trend_points

__all__ = [
    "BLEND_TREND_DAMPING",
    "DEFAULT_MODEL",
    "ETS_MAX_HISTORY_DAYS",
    "INTERVAL_SCALE",
    "MAX_GROWTH_FACTOR",
    "MAX_HORIZON_DAYS",
    "MIN_NONZERO_DAYS_FOR_PROPHET",
    "MIN_PROPHET_DAYS",
    "MODELS",
    "MODEL_NAMES",
    "PROFILE_WEEKS",
    "PROPHET_MODELS",
    "PROPHET_REUSE_MAX_DAYS",
    "SEASON_DAYS",
    "YEARLY_SEASONALITY_MIN_DAYS",
    "CleanHistory",
    "ModelInput",
    "ModelSpec",
    "ProphetFit",
    "SeriesForecast",
    "band_column_names",
    "clean_history",
    "forecast_daily",
    "history_digest",
    "interval_bands",
    "interval_bounds",
    "predict_points",
    "reusable_prophet_fit",
    "simple_model_reason",
    "validate_holiday_country",
]

logger = logging.getLogger(__name__)

MAX_HORIZON_DAYS = 730
"""Longest forecast horizon accepted, in days."""

MIN_PROPHET_DAYS = 56
"""Histories shorter than this (8 weeks) are served by seasonal naive / mean."""

MIN_NONZERO_DAYS_FOR_PROPHET = 14
"""Histories with fewer non-zero days than this are too sparse for a fitted model."""

SEASON_DAYS = 7
"""Length of the weekly season."""

YEARLY_SEASONALITY_MIN_DAYS = 365
"""Prophet fits yearly seasonality once a full year of history exists (it helped on every real series tried)."""

PROFILE_WEEKS = 8
"""Weeks of history behind the weekly profile."""

BLEND_TREND_DAMPING = 0.9
"""Daily damping factor of the blend's Prophet trend: the trend adds ``slope * 0.9 / (1 - 0.9)`` = 9 days' worth
of growth at most. Chosen on tuning cut-offs that precede the reported ones (``benchmarks/accuracy.py``);
persistent growth is served by ``"prophet"`` when the backtest prefers it."""

ETS_MAX_HISTORY_DAYS = 365
"""AutoETS sees at most the last year: its season is the week, and its fit time grows with the history (0.23 s on
365 days, 0.45 s on 730 here)."""


@dataclass(frozen=True)
class ModelInput:
    """What a model forecasts from: a clean daily history starting on ``first_day``, the horizon, the holidays."""

    y: FloatArray
    first_day: pd.Timestamp
    horizon: int
    holiday_country: str


@dataclass(frozen=True)
class ModelSpec:
    """One forecasting model of the engine, everything about it in one place.

    ``interval_scale`` multiplies the weekly-profile error quantiles its bands are made of (measured on the tuning
    cut-offs of the real series: a model more accurate than the weekly profile needs a narrower band for the same
    coverage). ``describe(n_days, seasonality)`` says what it is in a forecast's reason. A model forecasts either with
    ``points`` (tokens per future day) or, when it is built on Prophet, with ``from_prophet(trend, seasonal, input)``
    (log-space points from the fitted trend of the last history day and the days ahead, and the seasonal terms of
    the days ahead); models built on Prophet share one fit.
    """

    interval_scale: float
    describe: Callable[[int, str], str]
    points: Callable[[ModelInput], FloatArray] | None = None
    from_prophet: Callable[[FloatArray, FloatArray, ModelInput], FloatArray] | None = None


MODELS: dict[str, ModelSpec] = {
    "blend": ModelSpec(
        0.8,
        lambda days, seasonality: (
            f"blend of prophet (log1p, damped trend, {seasonality}) and the {_profile_weeks(days)}-week weekday profile"
        ),
        from_prophet=lambda trend, seasonal, given: _blend_log_points(trend, seasonal, given),
    ),
    "prophet": ModelSpec(
        1.0,
        lambda days, seasonality: f"prophet (compounding growth on log1p, {seasonality})",
        from_prophet=lambda trend, seasonal, given: trend[1:] + seasonal,
    ),
    "weekly_profile": ModelSpec(
        0.95,
        lambda days, _: f"weekly profile (each weekday's geometric mean over the last {_profile_weeks(days)} weeks)",
        points=lambda given: _weekly_profile_points(given.y, given.horizon),
    ),
    "ets": ModelSpec(
        1.05,
        lambda days, _: f"AutoETS (weekly season, last {min(days, ETS_MAX_HISTORY_DAYS)} days)",
        points=lambda given: _ets_points(given.y, given.horizon)[0],
    ),
    "seasonal_naive": ModelSpec(
        1.0,
        lambda days, _: f"seasonal naive (last {SEASON_DAYS} days repeated)",
        points=lambda given: _seasonal_naive_points(given.y, given.horizon),
    ),
    "trend": ModelSpec(
        1.0,
        lambda days, _: (
            f"growth model (log-linear trend over the last {min(days, TREND_WINDOW_DAYS)} days, lightly damped, "
            "weekday and public-holiday effects, a level shift where the data show one)"
        ),
        points=lambda given: trend_points(
            given.y,
            given.horizon,
            holiday_labels(given.first_day.date(), len(given.y) + given.horizon, given.holiday_country),
        ),
    ),
}
"""The one registry of the engine's models: adding a model is one entry here (and, to have backtests choose it, a
place among a policy's candidates in ``forecasting.fitting.SELECTION_POLICIES``)."""

MODEL_NAMES = tuple(MODELS)
"""Models a caller may request for histories of at least ``MIN_PROPHET_DAYS`` days."""

DEFAULT_MODEL = "blend"

INTERVAL_SCALE = {name: spec.interval_scale for name, spec in MODELS.items()}
"""Per-model factor on the weekly-profile error quantiles (``seasonal_naive`` uses its own errors)."""

MAX_GROWTH_FACTOR = 1000.0
"""Outputs are capped at this multiple of the largest day of history.

Compounding (log-space) trends extrapolated over up to two years can explode; the cap keeps results finite and
storable (token counts go into 64-bit integers) and is mentioned in ``reason`` when it bites.
"""

_ERROR_HISTORY_DAYS = 730
"""Interval errors are replayed from origins in the last two years only (recent behaviour, bounded cost)."""

_ERROR_MAX_HORIZON = 120
"""Longest horizon measured directly from the history; longer ones extrapolate with sqrt(horizon)."""

_MIN_ERROR_SAMPLES = 28
"""A horizon needs at least this many replayed errors to be measured rather than extrapolated."""

_ERROR_SMOOTHING_DAYS = 3
"""Errors of horizons within +-3 days are pooled, so the band does not jitter from one day to the next."""

_FORECAST_COLUMNS = ["ds", "yhat", "yhat_lower", "yhat_upper"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Bands: TypeAlias = tuple[FloatArray, FloatArray, FloatArray]
"""yhat, yhat_lower, yhat_upper."""


PROPHET_MODELS = frozenset(name for name, spec in MODELS.items() if spec.from_prophet is not None)
"""Models that need a Prophet fit."""

PROPHET_REUSE_MAX_DAYS = 7
"""A Prophet fit serves later forecasts of the same series for at most this many new days of history; then it is
fitted again (a nightly refresh refits each series about weekly)."""

PROPHET_REUSE_RESIDUAL_QUANTILE = 0.99
"""A new day whose log residual from the fit exceeds this quantile of the fit's in-sample residuals means the
series has left the fitted pattern (a launch, an outage, a new trend): Prophet is fitted again."""

_FIT_DECIMALS = 6
"""Stored log-space components are rounded to 6 decimals: a relative error of at most 1e-6 on the forecast."""


def history_digest(y: FloatArray) -> str:
    """A fingerprint of a daily history (values rounded to whole tokens): a changed past means a new fit."""
    return hashlib.blake2b(np.rint(y).astype(np.int64).tobytes(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class ProphetFit:
    """What a Prophet fit predicts, kept so a later forecast of the same series can reuse it without refitting.

    ``trend`` and ``seasonal`` are Prophet's trend and seasonal terms in ``log1p`` space for ``last_day`` (the last
    day of the history it was fitted on) and every day after it, ``horizon + PROPHET_REUSE_MAX_DAYS`` days in all:
    exactly what ``Prophet.predict`` of the fitted model returns for those dates, so reusing them is the same as
    predicting from the stored model. ``residual_limit`` is the ``PROPHET_REUSE_RESIDUAL_QUANTILE`` quantile of the
    absolute in-sample log residuals; ``history_digest`` fingerprints the history it was fitted on.
    """

    first_day: pd.Timestamp
    last_day: pd.Timestamp
    trend: FloatArray
    seasonal: FloatArray
    residual_limit: float
    history_digest: str
    holiday_country: str = ""

    def components(self, last_history_day: pd.Timestamp, horizon: int) -> tuple[FloatArray, FloatArray]:
        """The trend of ``last_history_day`` and the ``horizon`` days after it (``horizon + 1`` values), and the
        seasonal terms of those future days, in log space."""
        offset = (last_history_day - self.last_day).days
        if offset < 0 or offset + horizon >= len(self.trend):
            raise ValueError(f"the Prophet fit of {self.last_day.date()} does not cover {horizon} days after {offset}")
        return self.trend[offset : offset + horizon + 1], self.seasonal[offset + 1 : offset + horizon + 1]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (what ``from_dict`` reads back)."""
        return {
            "first_day": self.first_day.date().isoformat(),
            "last_day": self.last_day.date().isoformat(),
            "trend": [round(float(value), _FIT_DECIMALS) for value in self.trend],
            "seasonal": [round(float(value), _FIT_DECIMALS) for value in self.seasonal],
            "residual_limit": self.residual_limit,
            "history_digest": self.history_digest,
            "holiday_country": self.holiday_country,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ProphetFit:
        """Read ``as_dict`` output back; raises ``ValueError`` (or ``KeyError``/``TypeError``) on anything else."""
        trend = np.asarray(data["trend"], dtype=np.float64)
        seasonal = np.asarray(data["seasonal"], dtype=np.float64)
        if trend.ndim != 1 or trend.shape != seasonal.shape or len(trend) < 2:
            raise ValueError("stored Prophet components have inconsistent shapes")
        return cls(
            first_day=pd.Timestamp(str(data["first_day"])),
            last_day=pd.Timestamp(str(data["last_day"])),
            trend=trend,
            seasonal=seasonal,
            residual_limit=float(data["residual_limit"]),  # type: ignore[arg-type]
            history_digest=str(data["history_digest"]),
            holiday_country=str(data.get("holiday_country") or ""),
        )


def reusable_prophet_fit(
    fit: ProphetFit, y: FloatArray, first_day: pd.Timestamp, horizon: int, holiday_country: str = ""
) -> tuple[ProphetFit | None, str]:
    """``fit`` if it may serve a forecast of the clean history ``y`` (starting ``first_day``) without refitting,
    else ``None``; and a note for the reason saying which and why.

    Reused only when the holidays are the same country's, the history starts on the same day, the days the fit
    saw are unchanged (no restated usage),
    at most ``PROPHET_REUSE_MAX_DAYS`` days were added since, each of them within the fit's in-sample residual limit,
    and the stored components reach ``horizon`` days past the new last day.
    """
    fitted_days = (fit.last_day - fit.first_day).days + 1
    new_days = len(y) - fitted_days
    fitted_on = fit.last_day.date().isoformat()
    if fit.holiday_country != holiday_country:
        return None, "prophet refitted: the organization's holiday country changed"
    if fit.first_day != first_day or new_days < 0:
        return None, f"prophet refitted: the history no longer starts on {fit.first_day.date().isoformat()}"
    if new_days > PROPHET_REUSE_MAX_DAYS:
        return None, f"prophet refitted: {new_days} new days since the fit through {fitted_on}"
    if new_days + horizon >= len(fit.trend):
        return None, f"prophet refitted: the fit through {fitted_on} does not reach {horizon} days ahead"
    if history_digest(y[:fitted_days]) != fit.history_digest:
        return None, f"prophet refitted: usage up to {fitted_on} changed since the fit"
    if new_days:
        predicted = fit.trend[1 : new_days + 1] + fit.seasonal[1 : new_days + 1]
        worst = float(np.max(np.abs(np.log1p(y[fitted_days:]) - predicted)))
        if worst > fit.residual_limit:
            return None, f"prophet refitted: a new day left the pattern fitted through {fitted_on}"
    return fit, f"prophet fit through {fitted_on} reused ({_days(new_days)} added since, within its fitted pattern)"


@dataclass(frozen=True)
class SeriesForecast:
    """A daily forecast for the future horizon only, plus which model served it and why.

    ``frame`` has columns ``ds`` (datetime64, one row per future day), ``yhat``, ``yhat_lower`` and
    ``yhat_upper`` (floats, never NaN, never negative, ``yhat_lower <= yhat <= yhat_upper``), then for every
    extra width requested in ``interval_widths`` a ``yhat_lower_<pct>``/``yhat_upper_<pct>`` pair (e.g.
    ``yhat_lower_95``), with the same guarantees.
    """

    frame: pd.DataFrame
    model_name: str
    reason: str
    history_days: int
    prophet_fit: ProphetFit | None = None
    ets_form: str | None = None


@dataclass(frozen=True)
class CleanHistory:
    """A gap-free daily history and the data-quality notes gathered while cleaning it."""

    ds: pd.DatetimeIndex
    y: FloatArray
    notes: tuple[str, ...]


def forecast_daily(
    history: pd.DataFrame,
    *,
    horizon_days: int,
    interval_width: float = 0.8,
    interval_widths: Sequence[float] = (),
    model: str | None = None,
    prophet_fit: ProphetFit | None = None,
    holiday_country: str = "",
    ets_form: str | None = None,
    label: str = "",
) -> SeriesForecast:
    """Forecast ``horizon_days`` future days from a daily ``history`` with columns ``ds`` and ``y``.

    Duplicate days are summed, missing days between the first and last date count as 0 (no usage),
    NaN/non-numeric ``y`` counts as 0 and negative days are clipped to 0 (mentioned in ``reason``).

    ``interval_width`` is the main band (``yhat_lower``/``yhat_upper``); ``interval_widths`` adds more bands,
    e.g. ``(0.5, 0.8, 0.95)`` adds ``yhat_lower_50`` ... ``yhat_upper_95``. ``model`` forces one of
    ``MODEL_NAMES`` (typically the stored winner of the last backtest); ``None`` means ``DEFAULT_MODEL``. Short or
    sparse histories get the simple model whatever ``model`` says, and the reason says so. ``prophet_fit`` (from an
    earlier result's ``prophet_fit``) is reused instead of fitting Prophet again when ``reusable_prophet_fit`` accepts
    it for this history; the result's ``prophet_fit`` is the fit it used, and its reason says whether it was reused.
    ``holiday_country`` (a country code of the ``holidays`` package, e.g. ``"US"``, ``"DE"``) adds that country's
    public holidays to Prophet. ``ets_form`` (an earlier result's ``ets_form``, e.g. ``"ETS(M,A,A)"``) makes AutoETS
    fit that form only instead of searching them all. ``label`` names the series in the warning logged when the
    requested model fails and the weekly profile serves instead.

    Raises ``ValueError`` for an unusable request: horizon outside 1..730, interval width outside (0, 1), unknown
    model, missing ``ds``/``y`` columns, unparseable dates or an empty history.
    """
    horizon = _validate_horizon(horizon_days)
    width = _validate_interval_width(interval_width)
    extra_widths = [_validate_interval_width(extra) for extra in interval_widths]
    if model is not None and model not in MODEL_NAMES:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}, got {model!r}")
    validate_holiday_country(holiday_country)
    clean = clean_history(history)
    widths = [width, *[extra for extra in extra_widths if extra != width]]

    y = clean.y
    n_days = len(y)
    future_ds = pd.date_range(clean.ds[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")

    simple = simple_model_reason(y)
    if simple is not None:
        model_name, reason = simple
        if model is not None and model != model_name:
            reason = f"{reason} (requested {model} needs more history)"
        yhat, bands = _simple_forecast(model_name, y, horizon, widths)
        return _result(future_ds, yhat, bands, widths, model_name, reason, n_days, clean)

    requested = model or DEFAULT_MODEL
    try:
        served = _fit_requested(requested, y, clean.ds[0], horizon, prophet_fit, holiday_country, ets_form)
        failure = ""
    except Exception as exc:  # any fitting failure must degrade to the weekly profile, never crash the service
        served, failure = _weekly_profile_instead(requested, exc, y, horizon, label)

    yhat = served.yhat
    capped = _cap(yhat, y)
    bands = interval_bands(served.model_name, y, yhat, widths)
    reason = failure + _model_description(served.model_name, y, holiday_country)
    if served.ets_form:
        reason += f": {served.ets_form}"
    if model is not None and not failure:
        reason += " (requested)"
    if served.reuse_note:
        reason += f"; {served.reuse_note}"
    if capped:
        reason += f", capped at {MAX_GROWTH_FACTOR:g}x the largest day of history"
    return _result(
        future_ds, yhat, bands, widths, served.model_name, reason, n_days, clean, served.prophet_fit, served.ets_form
    )


def _weekly_profile_instead(
    requested: str, error: Exception, y: FloatArray, horizon: int, label: str
) -> tuple[_Served, str]:
    """The weekly profile's forecast when the requested model failed, and the reason's prefix; one warning line
    that says which series, what failed and what serves instead."""
    logger.warning(
        "forecast of %s: %s failed on %d days of history (%s: %s); the weekly profile serves it instead",
        label or "a series",
        requested,
        len(y),
        type(error).__name__,
        error,
    )
    return _Served(
        "weekly_profile", _weekly_profile_points(y, horizon)
    ), f"{requested} failed ({type(error).__name__}): "


@dataclass(frozen=True)
class _Served:
    """The point forecast of the model that served, with the fit it used and a note on what it reused."""

    model_name: str
    yhat: FloatArray
    prophet_fit: ProphetFit | None = None
    ets_form: str | None = None
    reuse_note: str = ""


def _fit_requested(
    requested: str,
    y: FloatArray,
    first_day: pd.Timestamp,
    horizon: int,
    prophet_fit: ProphetFit | None,
    holiday_country: str,
    ets_form: str | None,
) -> _Served:
    """The ``requested`` model's forecast, reusing an earlier Prophet fit or AutoETS form where it still holds."""
    if requested == "ets":
        yhat, used_form = _ets_points(y, horizon, ets_form)
        note = "form kept from its last model selection" if ets_form and used_form == ets_form else ""
        return _Served(requested, yhat, ets_form=used_form, reuse_note=note)
    note = ""
    if prophet_fit is not None and requested in PROPHET_MODELS:
        prophet_fit, note = reusable_prophet_fit(prophet_fit, y, first_day, horizon, holiday_country)
    # A new fit keeps components for the longest horizon, so a later run of any horizon can reuse it.
    points, used_fit = _points_and_fit(
        y, first_day, horizon, [requested], prophet_fit, fit_days=MAX_HORIZON_DAYS, holiday_country=holiday_country
    )
    return _Served(requested, points[requested], prophet_fit=used_fit, reuse_note=note)


def band_column_names(interval_width: float) -> tuple[str, str]:
    """Names of the extra band columns for ``interval_width``: 0.95 -> ``("yhat_lower_95", "yhat_upper_95")``."""
    label = f"{interval_width * 100:.10g}".replace(".", "_")
    return f"yhat_lower_{label}", f"yhat_upper_{label}"


def simple_model_reason(y: FloatArray) -> tuple[str, str] | None:
    """The simple model a clean history must get (zero, mean or seasonal naive) and why, or None when any model fits."""
    n_days = len(y)
    nonzero_days = int(np.count_nonzero(y))
    if nonzero_days == 0:
        return "zero", f"history of {_days(n_days)} is all zero: forecasting zero"
    if n_days < SEASON_DAYS:
        return "mean", f"history of {_days(n_days)} is under {SEASON_DAYS} days: mean of history"
    if n_days < MIN_PROPHET_DAYS:
        why = f"history of {_days(n_days)} is under {MIN_PROPHET_DAYS} days"
    elif nonzero_days < MIN_NONZERO_DAYS_FOR_PROPHET:
        why = f"only {nonzero_days} non-zero days (under {MIN_NONZERO_DAYS_FOR_PROPHET})"
    else:
        return None
    return "seasonal_naive", f"{why}: seasonal naive (last {SEASON_DAYS} days repeated)"


# --------------------------------------------------------------------------- validation and cleaning


def validate_holiday_country(holiday_country: object) -> str:
    """``holiday_country`` if it is ``""`` (no holidays) or a country code the ``holidays`` package knows."""
    if holiday_country == "":
        return ""
    import holidays  # lazy: only forecasts with holidays need it

    if not isinstance(holiday_country, str) or holiday_country not in holidays.list_supported_countries():
        raise ValueError(
            f"holiday country must be a country code of the holidays package (e.g. US, DE, GB), got {holiday_country!r}"
        )
    return holiday_country


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


def clean_history(history: pd.DataFrame) -> CleanHistory:
    """Sort, sum duplicate days, fill gaps with 0, treat NaN as 0 and clip negatives, noting what was fixed.

    Raises ``ValueError`` when ``history`` is not a DataFrame with ``ds`` and ``y``, has no rows or no dates.
    """
    if not isinstance(history, pd.DataFrame):
        raise ValueError(f"history must be a DataFrame with columns ds and y, got {type(history).__name__}")
    missing = [column for column in ("ds", "y") if column not in history.columns]
    if missing:
        raise ValueError(f"history is missing column(s) {', '.join(missing)}; expected columns ds and y")
    if history.empty:
        raise ValueError("no history: at least one day with ds and y is required to forecast")

    already_clean = _already_clean(history)
    if already_clean is not None:
        return already_clean
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
    return CleanHistory(ds=pd.DatetimeIndex(daily.index), y=values, notes=tuple(notes))


_ONE_DAY = np.timedelta64(1, "D")


def _already_clean(history: pd.DataFrame) -> CleanHistory | None:
    """The history as is when it needs no cleaning (what the service passes: one row per consecutive day at
    midnight, finite non-negative values), without pandas' grouping; ``None`` when ``clean_history`` must work."""
    raw_ds, raw_y = history["ds"], history["y"]
    if raw_ds.dtype != np.dtype("datetime64[ns]") or not pd.api.types.is_numeric_dtype(raw_y):
        return None
    days = raw_ds.to_numpy()
    y = raw_y.to_numpy(dtype=np.float64, copy=True)
    if np.isnat(days).any() or not np.all(np.diff(days) == _ONE_DAY):
        return None
    if (days[0] - days[0].astype("datetime64[D]")) != np.timedelta64(0, "ns"):
        return None
    if not np.all(np.isfinite(y)) or bool(np.any(y < 0)):
        return None
    return CleanHistory(ds=pd.DatetimeIndex(days), y=y, notes=())


# --------------------------------------------------------------------------- simple models (short/sparse histories)


def _z_score(interval_width: float) -> float:
    return NormalDist().inv_cdf(0.5 + interval_width / 2.0)


def _fallback_sigma(y: FloatArray) -> float:
    """Spread for series too short to have residuals: sample std, floored by sqrt(mean) (count noise)."""
    mean = float(np.mean(y))
    std = float(np.std(y, ddof=1)) if len(y) >= 2 else 0.0
    return max(std, math.sqrt(max(mean, 0.0)))


def _simple_forecast(
    model_name: str, y: FloatArray, horizon: int, widths: Sequence[float]
) -> tuple[FloatArray, dict[float, tuple[FloatArray, FloatArray]]]:
    if model_name == "zero":
        zeros = np.zeros(horizon)
        return zeros, {width: (zeros, zeros) for width in widths}
    if model_name == "mean":
        # Mean-method prediction interval sigma * sqrt(1 + 1/n).
        yhat = np.full(horizon, float(np.mean(y)))
        spread = _fallback_sigma(y) * math.sqrt(1.0 + 1.0 / len(y))
        return yhat, {width: (yhat - _z_score(width) * spread, yhat + _z_score(width) * spread) for width in widths}
    # Seasonal naive on a short or sparse history: the interval is the lag-7 residual spread, widened by
    # sqrt(weeks ahead). With at least 7 residuals the spread is their root mean square; with fewer, the sample std
    # of the history (floored by sqrt(mean)).
    yhat = _seasonal_naive_points(y, horizon)
    residuals = y[SEASON_DAYS:] - y[:-SEASON_DAYS]
    sigma = float(np.sqrt(np.mean(residuals**2))) if len(residuals) >= SEASON_DAYS else _fallback_sigma(y)
    weeks_ahead = np.arange(horizon) // SEASON_DAYS  # 0 for the first forecast week
    spread_by_day = sigma * np.sqrt(weeks_ahead + 1.0)
    return yhat, {
        width: (yhat - _z_score(width) * spread_by_day, yhat + _z_score(width) * spread_by_day) for width in widths
    }


# --------------------------------------------------------------------------- point forecasts


def predict_points(
    y: FloatArray, first_day: pd.Timestamp, horizon: int, models: Sequence[str], holiday_country: str = ""
) -> dict[str, FloatArray]:
    """Point forecasts of ``models`` for the ``horizon`` days after a clean, gap-free daily history ``y`` that
    starts on ``first_day``. Values are non-negative and finite. Prophet is fitted once for ``"prophet"`` and
    ``"blend"`` together, so a backtest asking for both pays for one fit; with ``holiday_country`` (a code of
    the ``holidays`` package, e.g. ``"US"``) it models that country's public holidays.

    Raises whatever the underlying library raises when a fit fails; ``forecast_daily`` turns that into a fallback.
    """
    points, _ = _points_and_fit(y, first_day, horizon, models, None, fit_days=horizon, holiday_country=holiday_country)
    return points


def _points_and_fit(
    y: FloatArray,
    first_day: pd.Timestamp,
    horizon: int,
    models: Sequence[str],
    prophet_fit: ProphetFit | None,
    *,
    fit_days: int,
    holiday_country: str,
) -> tuple[dict[str, FloatArray], ProphetFit | None]:
    """``predict_points``, reusing ``prophet_fit`` (already checked by ``reusable_prophet_fit``) instead of fitting
    Prophet; a new fit keeps its components for ``fit_days`` days ahead (plus ``PROPHET_REUSE_MAX_DAYS``). Also
    returns the Prophet fit used, or ``None`` when no model needed one."""
    unknown = [name for name in models if name not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; expected one of {', '.join(MODEL_NAMES)}")
    given = ModelInput(y=y, first_day=first_day, horizon=horizon, holiday_country=holiday_country)
    points: dict[str, FloatArray] = {}
    used_fit: ProphetFit | None = None
    if any(name in PROPHET_MODELS for name in models):
        used_fit = prophet_fit or _fit_prophet(y, first_day, fit_days, holiday_country)
        trend, seasonal = used_fit.components(first_day + pd.Timedelta(days=len(y) - 1), horizon)
        ceiling = math.log1p(MAX_GROWTH_FACTOR * float(np.max(y)))
    for name in models:
        spec = MODELS[name]
        if spec.from_prophet is not None:
            points[name] = np.expm1(np.clip(spec.from_prophet(trend, seasonal, given), 0.0, ceiling))
        elif spec.points is not None:
            points[name] = spec.points(given)
    return points, used_fit


def _seasonal_naive_points(y: FloatArray, horizon: int) -> FloatArray:
    last_week = y[-SEASON_DAYS:]
    return last_week[np.arange(horizon) % SEASON_DAYS].astype(np.float64)


def _lagged_weeks(log_y: FloatArray, weeks: int) -> FloatArray:
    """Row ``m`` holds ``log_y`` shifted by ``m`` weeks: column ``t`` is the value ``7m`` days before day
    ``t + 7(weeks-1)``, so each column holds the same weekday over ``weeks`` consecutive weeks."""
    usable = len(log_y) - SEASON_DAYS * (weeks - 1)
    return np.vstack(
        [log_y[SEASON_DAYS * (weeks - 1 - m) : SEASON_DAYS * (weeks - 1 - m) + usable] for m in range(weeks)]
    )


def _trimmed_weekday_means(log_y: FloatArray, weeks: int) -> FloatArray:
    """For every day ``t >= 7(weeks-1)``: the mean of ``log_y`` on that weekday over the ``weeks`` weeks ending at
    ``t``, leaving out the highest and lowest value once there are 4 weeks or more (one spike must not move it)."""
    stacked = _lagged_weeks(log_y, weeks)
    if weeks < 4:
        return stacked.mean(axis=0)
    total = stacked.sum(axis=0) - stacked.max(axis=0) - stacked.min(axis=0)
    return total / (weeks - 2)


def _profile_weeks(n_days: int) -> int:
    return max(1, min(PROFILE_WEEKS, n_days // SEASON_DAYS))


def _weekly_profile_points(y: FloatArray, horizon: int) -> FloatArray:
    """Each weekday's trimmed geometric mean (in ``log1p`` space) over the last ``PROFILE_WEEKS`` weeks, repeated."""
    weeks = _profile_weeks(len(y))
    profile = _trimmed_weekday_means(np.log1p(y[-SEASON_DAYS * weeks :]), weeks)  # the last week's 7 weekdays
    return np.expm1(profile[np.arange(horizon) % SEASON_DAYS]).astype(np.float64)


ETS_FORM = re.compile(r"ETS\(([AM]),(N|A|Ad|M|Md),([NAM])\)")
"""An exponential-smoothing form as statsforecast names it: ETS(error, trend, season), e.g. ``ETS(M,Ad,A)``."""


def _ets_points(y: FloatArray, horizon: int, form: str | None = None) -> tuple[FloatArray, str]:
    """AutoETS's forecast and the form it fitted. With ``form`` (an earlier fit's, e.g. ``"ETS(M,A,A)"``) only that
    form's parameters are estimated, about 20x faster than searching every form; if that fit fails, the search runs.
    """
    from statsforecast.models import AutoETS  # lazy: keeps numba/statsforecast out of web processes

    recent = np.ascontiguousarray(y[-ETS_MAX_HISTORY_DAYS:], dtype=np.float64)
    match = ETS_FORM.fullmatch(form or "")
    model = None
    if match:
        error, trend, season = match.groups()
        try:
            model = AutoETS(
                season_length=SEASON_DAYS, model=f"{error}{trend[0]}{season}", damped=trend.endswith("d")
            ).fit(recent)
        except Exception:  # the kept form no longer fits this history: search again
            logger.info("ETS form %s failed on the new history; searching every form", form, exc_info=True)
            model = None
    if model is None:
        model = AutoETS(season_length=SEASON_DAYS).fit(recent)
    predicted = model.predict(h=horizon)["mean"]
    ceiling = MAX_GROWTH_FACTOR * float(np.max(y))
    points = np.clip(np.nan_to_num(np.asarray(predicted, dtype=np.float64), nan=0.0), 0.0, ceiling)
    return points, str(model.model_["method"])


def _quiet_prophet_logging() -> None:
    """Silence Prophet/cmdstanpy chatter.

    Must run after importing Prophet: ``prophet.forecaster`` sets its logger to INFO at import, and cmdstanpy
    installs its own stderr handler at DEBUG unless its logger already has a handler. Prophet's own warnings are
    raised to ERROR because the engine turns yearly seasonality on from one year of history on purpose, which
    Prophet would otherwise warn about on every fit.
    """
    cmdstanpy_logger = logging.getLogger("cmdstanpy")
    if not cmdstanpy_logger.handlers:
        cmdstanpy_logger.addHandler(logging.NullHandler())
    # cmdstanpy logs "Chain [1] error: code '1' Operation not permitted" whenever Stan's L-BFGS stops early (the
    # code is Stan's, the text a misreading of it as an OS error), and Prophet then fits with Newton: nothing
    # failed. A fit that really fails raises, and ``forecast_daily`` says which series and what served instead.
    cmdstanpy_logger.setLevel(logging.CRITICAL)
    cmdstanpy_logger.propagate = False
    logging.getLogger("prophet").setLevel(logging.ERROR)


def _fit_prophet(y: FloatArray, first_day: pd.Timestamp, fit_days: int, holiday_country: str) -> ProphetFit:
    """Fit Prophet (MAP, no sampling) on ``log1p(y)``, with ``holiday_country``'s public holidays when one is given;
    keep its trend and seasonal terms (holidays included) in log space from the last history day to
    ``fit_days + PROPHET_REUSE_MAX_DAYS`` days past it, so later runs can reuse the fit."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed" is not our concern
    from prophet import Prophet  # lazy: keeps Prophet/Stan out of web processes

    _quiet_prophet_logging()
    n_days = len(y)
    model = Prophet(
        growth="linear",
        weekly_seasonality=True,
        yearly_seasonality=n_days >= YEARLY_SEASONALITY_MIN_DAYS,
        daily_seasonality=False,
        uncertainty_samples=0,  # MAP point forecast; the engine builds intervals from the history's errors
    )
    if holiday_country:
        model.add_country_holidays(country_name=holiday_country)
    ds = pd.date_range(first_day, periods=n_days, freq="D")
    log_y = np.log1p(y)
    model.fit(pd.DataFrame({"ds": ds, "y": log_y}))
    path_days = fit_days + PROPHET_REUSE_MAX_DAYS
    predicted = model.predict(pd.DataFrame({"ds": pd.date_range(ds[0], periods=n_days + path_days, freq="D")}))
    trend = predicted["trend"].to_numpy(dtype=np.float64)
    seasonal = predicted["additive_terms"].to_numpy(dtype=np.float64)
    residuals = np.abs(log_y - (trend[:n_days] + seasonal[:n_days]))
    return ProphetFit(
        first_day=ds[0],
        last_day=ds[-1],
        trend=trend[n_days - 1 :],
        seasonal=seasonal[n_days - 1 :],
        residual_limit=float(np.quantile(residuals, PROPHET_REUSE_RESIDUAL_QUANTILE)),
        history_digest=history_digest(y),
        holiday_country=holiday_country,
    )


def _blend_log_points(trend: FloatArray, seasonal: FloatArray, given: ModelInput) -> FloatArray:
    """The blend in log space: the mean of the damped Prophet forecast and the weekly profile."""
    damped = _damped_trend(trend, BLEND_TREND_DAMPING)
    return (damped + seasonal + np.log1p(_weekly_profile_points(given.y, given.horizon))) / 2.0


def _damped_trend(trend: FloatArray, damping: float) -> FloatArray:
    """Damp a linear trend's extrapolation: step ``h`` adds ``slope * (d + d^2 + ... + d^h)`` instead of
    ``slope * h``. ``trend`` is the undamped trend of the last history day followed by the future days (Prophet's
    trend is linear past its last changepoint, so its first step is the slope)."""
    slope = float(trend[1] - trend[0])
    steps = np.arange(1, len(trend), dtype=np.float64)
    return float(trend[0]) + slope * damping * (1.0 - damping**steps) / (1.0 - damping)


# --------------------------------------------------------------------------- intervals


def interval_bounds(
    model_name: str, y: FloatArray, yhat: FloatArray, interval_width: float
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper bound of the ``interval_width`` band around ``yhat``; see ``interval_bands``."""
    return interval_bands(model_name, y, yhat, [interval_width])[interval_width]


def interval_bands(
    model_name: str, y: FloatArray, yhat: FloatArray, interval_widths: Sequence[float]
) -> dict[float, tuple[FloatArray, FloatArray]]:
    """Lower and upper bounds around ``yhat`` for each of ``interval_widths``, for a history ``y`` of at least
    ``MIN_PROPHET_DAYS`` days: ``yhat`` times/divided by the history's own error quantile at each horizon.

    The weekly profile (the last week for ``seasonal_naive``) is replayed from every day of the last two years;
    the quantile of ``|error - median error|`` in ``log1p`` space at the width, pooled over +-3 days of horizon and
    never shrinking with the horizon, times ``INTERVAL_SCALE[model_name]``, is the half-width in log space.
    Horizons the history cannot show widen with sqrt(horizon) from the longest one it can.
    """
    weeks = 1 if model_name == "seasonal_naive" else _profile_weeks(len(y) // 3)
    half_widths = INTERVAL_SCALE[model_name] * _error_quantiles(y, len(yhat), interval_widths, weeks=weeks)
    point = np.clip(yhat, 0.0, None)
    log_yhat = np.log1p(point)
    bands: dict[float, tuple[FloatArray, FloatArray]] = {}
    for width, half_width in zip(interval_widths, half_widths, strict=True):
        # min/max: expm1(log1p(x)) is not always exactly x, and a zero-width band must still contain yhat.
        lower = np.minimum(np.expm1(log_yhat - half_width), point).clip(0.0, None)
        bands[width] = (lower, np.maximum(np.expm1(log_yhat + half_width), point))
    return bands


def _error_quantiles(y: FloatArray, horizon: int, interval_widths: Sequence[float], *, weeks: int) -> FloatArray:
    """Half-widths in log space, one row per width, one column per horizon day (see ``interval_bands``)."""
    log_y = np.log1p(y[-(_ERROR_HISTORY_DAYS + _ERROR_MAX_HORIZON + SEASON_DAYS * weeks) :])
    n_days = len(log_y)
    widths = np.asarray(interval_widths, dtype=np.float64)
    measured = min(horizon, _ERROR_MAX_HORIZON)
    # profile[j]: the weekday mean over the `weeks` weeks ending at day j + 7(weeks-1).
    profile = _trimmed_weekday_means(log_y, weeks)
    offset = SEASON_DAYS * (weeks - 1)
    origins = np.arange(SEASON_DAYS * weeks, n_days)  # the first forecast day of each replay
    steps = np.arange(measured)
    target = origins[:, None] + steps[None, :]
    valid = target < n_days
    # The forecast for origin o, step s is the profile of the weekday of day o + s, taken from the last full week
    # before o: day o - 7 + (s mod 7).
    source = origins[:, None] - SEASON_DAYS + (steps[None, :] % SEASON_DAYS) - offset
    errors = np.where(valid, log_y[np.minimum(target, n_days - 1)] - profile[np.clip(source, 0, None)], np.nan)

    # Row `step` pools the errors of horizons step-3 .. step+3 over every origin (NaN where there is none).
    padded = np.pad(errors, ((0, 0), (_ERROR_SMOOTHING_DAYS, _ERROR_SMOOTHING_DAYS)), constant_values=np.nan)
    window = 2 * _ERROR_SMOOTHING_DAYS + 1
    pooled = sliding_window_view(padded, window, axis=1).transpose(1, 0, 2).reshape(measured, -1)
    counts = np.count_nonzero(~np.isnan(pooled), axis=1)
    too_few = np.flatnonzero(counts < _MIN_ERROR_SAMPLES)
    known = int(too_few[0]) if len(too_few) else measured
    if known == 0:
        # Not enough history to replay: the spread of lag-7 differences in log space, widened by sqrt(weeks ahead).
        differences = np.abs(log_y[SEASON_DAYS:] - log_y[:-SEASON_DAYS])
        spread = np.quantile(differences, widths) if len(differences) else np.zeros(len(widths))
        return spread[:, None] * np.sqrt(np.arange(horizon) // SEASON_DAYS + 1.0)[None, :]
    pooled, counts = pooled[:known], counts[:known]
    centre = _row_quantiles(np.sort(pooled, axis=1), counts, np.array([0.5]))
    deviations = np.sort(np.abs(pooled - centre.T), axis=1)
    quantiles = np.maximum.accumulate(_row_quantiles(deviations, counts, widths), axis=1)
    if known >= horizon:
        return quantiles[:, :horizon]
    beyond = np.sqrt(np.arange(known + 1, horizon + 1, dtype=np.float64) / known)
    return np.concatenate([quantiles, quantiles[:, -1:] * beyond[None, :]], axis=1)


def _row_quantiles(rows: FloatArray, counts: npt.NDArray[np.intp], probabilities: FloatArray) -> FloatArray:
    """Quantiles of each row's first ``counts[row]`` values (``rows`` sorted ascending, NaN last), one row of the
    result per probability: ``numpy.quantile``'s default (linear) method, for all rows at once."""
    positions = (counts[None, :] - 1) * probabilities[:, None]
    below = np.floor(positions).astype(np.intp)
    above = np.minimum(below + 1, counts[None, :] - 1)
    fraction = positions - below
    low = np.take_along_axis(rows, below.T, axis=1).T
    high = np.take_along_axis(rows, above.T, axis=1).T
    return low + (high - low) * fraction


# --------------------------------------------------------------------------- output


def _model_description(model_name: str, y: FloatArray, holiday_country: str = "") -> str:
    n_days = len(y)
    nonzero_days = int(np.count_nonzero(y))
    seasonality = "weekly and yearly" if n_days >= YEARLY_SEASONALITY_MIN_DAYS else "weekly"
    seasonality += " seasonality" + (f", {holiday_country} public holidays" if holiday_country else "")
    description = MODELS[model_name].describe(n_days, seasonality)
    return f"history of {_days(n_days)} with {nonzero_days} non-zero days: {description}"


def _cap(yhat: FloatArray, y: FloatArray) -> bool:
    ceiling = MAX_GROWTH_FACTOR * float(np.max(y))
    return bool(np.any(yhat >= ceiling * (1.0 - 1e-9)))


def _tidy(values: FloatArray) -> FloatArray:
    finite = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=np.finfo(np.float64).max)
    return np.clip(finite, 0.0, None)


def _result(
    future_ds: pd.DatetimeIndex,
    yhat: FloatArray,
    bands: dict[float, tuple[FloatArray, FloatArray]],
    widths: Sequence[float],
    model_name: str,
    reason: str,
    history_days: int,
    clean: CleanHistory,
    prophet_fit: ProphetFit | None = None,
    ets_form: str | None = None,
) -> SeriesForecast:
    """Build the output frame, enforcing finite, non-negative values with lower <= yhat <= upper for every band."""
    yhat_c = _tidy(yhat)
    columns: dict[str, object] = {"ds": future_ds, "yhat": yhat_c}
    for position, width in enumerate(widths):
        lower, upper = bands[width]
        lower_name, upper_name = ("yhat_lower", "yhat_upper") if position == 0 else band_column_names(width)
        columns[lower_name] = np.minimum(_tidy(lower), yhat_c)
        columns[upper_name] = np.maximum(_tidy(upper), yhat_c)
    frame = pd.DataFrame(columns)
    frame["ds"] = frame["ds"].astype("datetime64[ns]")
    ordered = _FORECAST_COLUMNS + [name for name in frame.columns if name not in _FORECAST_COLUMNS]
    full_reason = "; ".join([reason, *clean.notes])
    return SeriesForecast(
        frame=frame[ordered].reset_index(drop=True),
        model_name=model_name,
        reason=full_reason,
        history_days=history_days,
        prophet_fit=prophet_fit,
        ets_form=ets_form,
    )


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"
