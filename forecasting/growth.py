"""The growth model of the engine (``"trend"``) and the monthly level uncertainty of a series (pure: no Django).

Token usage of an AI program grows (or shrinks) at a rate that holds for months, with a weekday rhythm, holiday
dips and launch steps. ``trend_points`` fits exactly that on the last ``TREND_WINDOW_DAYS`` (a year, recent days
weighted more) of ``log1p`` tokens: a straight line (compound growth), one effect per weekday, one per public
holiday of the organization's country seen in the window (``holiday_labels``: Christmas Day, Thanksgiving...) and,
when the data show one, a single level shift (a launch or a cut-over). The shift is a step, never a slope: the best
break day is searched and kept only when it explains far more than chance would (``BREAK_MIN_F``) and moves the
level by at least ``BREAK_MIN_STEP``. Days far off the fit (outages, other dips) are left out of a second fit.
The slope is carried forward lightly damped (``TREND_DAMPING`` per day: 92% of the undamped growth after 90 days,
71% after a year).

``level_uncertainty`` measures how far a series' monthly sums stray from such a forecast: the growth model is
replayed from weekly origins over the history, and the log errors of its 30-day sums one, two and three months
ahead, less what day-to-day noise explains, give the daily variance of a random-walk level drift. The roll-up adds
that drift to every sampled path of the series, so monthly intervals are calibrated on monthly sums, not only on
days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

__all__ = [
    "BREAK_MIN_F",
    "BREAK_MIN_STEP",
    "DRIFT_PRIOR_SIGMA",
    "TREND_DAMPING",
    "TREND_WINDOW_DAYS",
    "LevelUncertainty",
    "TrendFit",
    "fit_trend",
    "level_uncertainty",
    "trend_points",
]

FloatArray = npt.NDArray[np.float64]

TREND_WINDOW_DAYS = 364
"""The growth model sees at most the last 52 weeks..."""

TREND_HALF_LIFE_DAYS = 182.0
"""...and a day counts half as much as the last one 26 weeks before it (a quarter a year before). Long enough to
measure a monthly growth rate through daily noise, recent enough to follow a program whose growth changed. Replayed
three months ahead on the tuning cut-offs of ``benchmarks/org_backtest.py`` (workloads of the demo and the mature
organization), the mean absolute error of a month's tokens was 2.7% / 5.3% with the last 26 weeks unweighted, 2.0%
/ 4.7% with this weighting, 2.2% / 5.3% with a 60-day half-life."""

TREND_DAMPING = 0.998
"""Daily damping of the extrapolated slope (light: half of the slope is left after 346 days)."""

BREAK_MARGIN_DAYS = 14
"""A level shift is searched between 14 days after the window's start and 14 days before its end."""

BREAK_MIN_F = 30.0
"""How much a level shift must explain: the drop in squared error over the remaining error per degree of freedom.
The largest such value over every candidate day of a shift-free series is about 10-15."""

BREAK_MIN_STEP = 0.1
"""A level shift smaller than 10% (in log space) is not worth a step."""

OUTLIER_MADS = 3.0
"""Days more than three robust standard deviations off the first fit are left out of the second."""

DRIFT_PRIOR_SIGMA = 0.005
"""Prior daily drift of a series' log level (4% of standard deviation 60 days ahead), what a series with little
history gets."""

MAX_NOISE_AUTOCORRELATION = 0.9

DRIFT_PRIOR_WEIGHT = 4
"""The prior counts as four measured monthly errors."""

DRIFT_MIN_TRAINING_DAYS = 56
DRIFT_MAX_REPLAY_DAYS = 365
DRIFT_ORIGIN_SPACING = 7
_DRIFT_WINDOWS = ((0, 30), (30, 60), (60, 90))
_CHI2_1_MEDIAN = 0.4549364
"""The median of a squared standard normal: the median of ``e^2 / (a + 10)`` over it estimates the variance."""


class TrendFit:
    """A fitted growth model: level at the last day, daily slope, weekday effects, the level shift found and the
    in-sample log residuals over its window."""

    def __init__(
        self,
        level: float,
        slope: float,
        weekday: FloatArray,
        step: float,
        break_age: int | None,
        residuals: FloatArray,
        holiday_effects: dict[str, float] | None = None,
    ) -> None:
        self.level = level
        self.slope = slope
        self.weekday = weekday
        self.step = step
        self.break_age = break_age
        self.residuals = residuals
        self.holiday_effects = holiday_effects or {}

    def log_points(
        self, horizon: int, n_days: int, damping: float = TREND_DAMPING, holidays: Sequence[str] = ()
    ) -> FloatArray:
        """``log1p`` forecast for the ``horizon`` days after a history of ``n_days`` days; ``holidays`` names the
        public holiday of each future day ("" for none), whose effect measured in the history applies."""
        steps = np.arange(1, horizon + 1, dtype=np.float64)
        grown = self.slope * damping * (1.0 - damping**steps) / (1.0 - damping)
        weekdays = (n_days - 1 + steps.astype(np.int64)) % 7
        points = self.level + grown + self.weekday[weekdays]
        if holidays and self.holiday_effects:
            points = points + np.array([self.holiday_effects.get(name, 0.0) for name in holidays[:horizon]])
        return points


def holiday_labels(first_day: date, days: int, country: str) -> list[str]:
    """The public holiday of ``country`` (a code of the ``holidays`` package) on each of ``days`` days from
    ``first_day``, by name ("" on other days). Empty when no country is given."""
    if not country:
        return []
    import holidays  # lazy: only forecasts with a holiday country need it

    last_day = first_day + timedelta(days=days - 1)
    calendar = holidays.country_holidays(country, years=range(first_day.year, last_day.year + 1))
    return [str(calendar.get(first_day + timedelta(days=offset)) or "") for offset in range(days)]


def _holiday_columns(labels: Sequence[str]) -> tuple[list[str], FloatArray]:
    """The holidays that occur in ``labels`` and one indicator column per holiday."""
    names = sorted({name for name in labels if name})
    matrix = np.zeros((len(labels), len(names)))
    for row, name in enumerate(labels):
        if name:
            matrix[row, names.index(name)] = 1.0
    return names, matrix


def _design(length: int, n_days: int, break_at: int | None, holidays: FloatArray | None = None) -> FloatArray:
    """Columns: intercept (level at the last day), days from the last day, six weekday indicators, one indicator per
    public holiday that occurs (``holidays``), and last a step that is 1 from ``break_at`` on. Weekday indicators are
    aligned on the index in the whole history (``n_days``)."""
    index = np.arange(n_days - length, n_days)
    columns = [np.ones(length), (index - (n_days - 1)).astype(np.float64)]
    weekday = index % 7
    reference = (n_days - 1) % 7
    columns += [(weekday == day).astype(np.float64) for day in range(7) if day != reference]
    if holidays is not None and holidays.shape[1]:
        columns += list(holidays.T)
    if break_at is not None:
        columns.append((np.arange(length) >= break_at).astype(np.float64))
    return np.column_stack(columns)


def _recency_weights(length: int) -> FloatArray:
    """Square roots of the days' weights: a day ``age`` days before the last counts ``0.5 ** (age / half-life)``."""
    ages = np.arange(length - 1, -1, -1, dtype=np.float64)
    return np.asarray(np.sqrt(0.5 ** (ages / TREND_HALF_LIFE_DAYS)), dtype=np.float64)


def _weighted_fit(design: FloatArray, target: FloatArray, keep: npt.NDArray[np.bool_]) -> tuple[FloatArray, float]:
    """Least squares of the kept days, each weighted by its recency."""
    root_weights = _recency_weights(len(target))[keep]
    kept_design = design[keep] * root_weights[:, None]
    kept_target = target[keep] * root_weights
    coefficients, *_ = np.linalg.lstsq(kept_design, kept_target, rcond=None)
    residuals = kept_target - kept_design @ coefficients
    return np.asarray(coefficients, dtype=np.float64), float(residuals @ residuals)


def _best_break(
    log_y: FloatArray, n_days: int, keep: npt.NDArray[np.bool_], holidays: FloatArray | None = None
) -> tuple[int | None, FloatArray, float]:
    """The level shift (day index in the window) that explains most, if it passes the F and step thresholds."""
    length = len(log_y)
    base_design = _design(length, n_days, None, holidays)
    base, base_rss = _weighted_fit(base_design, log_y, keep)
    best: tuple[int | None, FloatArray, float] = (None, base, base_rss)
    if length < 2 * BREAK_MARGIN_DAYS + 7:
        return best
    last = length - BREAK_MARGIN_DAYS
    # Every week first, then every day around the best week's day.
    for candidates in (range(BREAK_MARGIN_DAYS, last, 7), None):
        if candidates is None:
            if best[0] is None:
                break
            candidates = range(max(BREAK_MARGIN_DAYS, best[0] - 6), min(last, best[0] + 7))
        for break_at in candidates:
            coefficients, rss = _weighted_fit(_design(length, n_days, break_at, holidays), log_y, keep)
            if rss < best[2]:
                best = (break_at, coefficients, rss)
    found, coefficients, rss = best
    if found is None:
        return best
    dof = max(int(np.count_nonzero(keep)) - base_design.shape[1] - 1, 1)
    f_value = (base_rss - rss) / max(rss / dof, 1e-12)
    if f_value < BREAK_MIN_F or abs(float(coefficients[-1])) < BREAK_MIN_STEP:
        return None, base, base_rss
    return best


def fit_trend(y: FloatArray, window_days: int | None = None, holidays: Sequence[str] = ()) -> TrendFit:
    """Fit the growth model to the last ``window_days`` (default ``TREND_WINDOW_DAYS``) of a clean daily history
    ``y`` (at least 14 days). ``holidays`` names each history day's public holiday ("" for none; see
    ``holiday_labels``): each holiday that occurs in the window gets its own effect, and holidays are never left
    out as outliers."""
    window_days = window_days or TREND_WINDOW_DAYS
    n_days = len(y)
    if n_days < 14:
        raise ValueError(f"the growth model needs at least 14 days of history, got {n_days}")
    log_y = np.log1p(np.clip(np.asarray(y[-window_days:], dtype=np.float64), 0.0, None))
    window_labels = list(holidays[n_days - len(log_y) : n_days]) if holidays else [""] * len(log_y)
    names, holiday_matrix = _holiday_columns(window_labels)
    is_holiday = holiday_matrix.sum(axis=1) > 0
    keep = np.ones(len(log_y), dtype=bool)
    for _ in range(2):
        break_at, coefficients, _ = _best_break(log_y, n_days, keep, holiday_matrix)
        residuals = log_y - _design(len(log_y), n_days, break_at, holiday_matrix) @ coefficients
        spread = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
        new_keep = (np.abs(residuals) <= OUTLIER_MADS * max(spread, 1e-6)) | is_holiday
        if np.count_nonzero(new_keep) < 14 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    weekday = np.zeros(7)
    reference = (n_days - 1) % 7
    others = [day for day in range(7) if day != reference]
    weekday[others] = coefficients[2:8]
    effects = {name: float(coefficients[8 + position]) for position, name in enumerate(names)}
    step = float(coefficients[-1]) if break_at is not None else 0.0
    # The intercept is the level of the last day with the step on (the break lies inside the window).
    level = float(coefficients[0]) + step
    break_age = None if break_at is None else len(log_y) - break_at
    non_holiday = ~is_holiday
    return TrendFit(
        level=level,
        slope=float(coefficients[1]),
        weekday=weekday,
        step=step,
        break_age=break_age,
        residuals=np.asarray(residuals[non_holiday], dtype=np.float64),
        holiday_effects=effects,
    )


def trend_points(y: FloatArray, horizon: int, holidays: Sequence[str] = ()) -> FloatArray:
    """The growth model's point forecast (tokens, not logs) for the ``horizon`` days after ``y``; ``holidays`` names
    the public holiday of each day of the history and the horizon ("" for none; empty for no holiday country)."""
    fit = fit_trend(y, holidays=holidays[: len(y)])
    ceiling = np.log1p(1000.0 * float(np.max(y)))
    future = holidays[len(y) : len(y) + horizon] if holidays else ()
    return np.expm1(np.clip(fit.log_points(horizon, len(y), holidays=future), 0.0, ceiling))


@dataclass(frozen=True)
class LevelUncertainty:
    """How a series' future strays from its forecast: the daily standard deviation of a random-walk drift of its
    log level, the lag-1 autocorrelation of its day-to-day noise, and how many monthly errors measured the drift."""

    drift_sigma: float
    noise_autocorrelation: float
    errors: int


def _noise(y: FloatArray, holidays: Sequence[str] = ()) -> tuple[float, float]:
    """Standard deviation (robust) and lag-1 autocorrelation (clipped to [0, 0.9]) of the growth model's in-sample
    log residuals over its window: the day-to-day noise around the fitted level, weekday and steps."""
    fit = fit_trend(y, holidays=holidays)
    residuals = fit.residuals
    spread = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
    if len(residuals) < 3 or float(np.std(residuals)) == 0.0:
        return spread, 0.0
    clipped = np.clip(residuals, -OUTLIER_MADS * spread, OUTLIER_MADS * spread)
    correlation = float(np.corrcoef(clipped[:-1], clipped[1:])[0, 1])
    return spread, float(np.clip(np.nan_to_num(correlation), 0.0, MAX_NOISE_AUTOCORRELATION))


def _replayed_errors(values: FloatArray, holidays: Sequence[str] = ()) -> tuple[list[float], list[float]]:
    """Log errors of the growth model's 30-day sums one, two and three months ahead, replayed from weekly origins,
    and how many days ahead each window starts."""
    n_days = len(values)
    errors: list[float] = []
    starts: list[float] = []
    first_origin = max(DRIFT_MIN_TRAINING_DAYS, n_days - DRIFT_MAX_REPLAY_DAYS)
    for origin in range(n_days - _DRIFT_WINDOWS[0][1], first_origin - 1, -DRIFT_ORIGIN_SPACING):
        training = values[:origin]
        if np.count_nonzero(training[-28:]) < 14:
            continue
        ahead = min(90, n_days - origin)
        forecast = trend_points(training, ahead, holidays[: origin + ahead] if holidays else ())
        for start, end in _DRIFT_WINDOWS:
            if end > ahead:
                break
            actual_sum = float(values[origin + start : origin + end].sum())
            forecast_sum = float(forecast[start:end].sum())
            if actual_sum > 0 and forecast_sum > 0:
                errors.append(float(np.log(actual_sum / forecast_sum)))
                starts.append(float(start))
    return errors, starts


def _drift_variance(errors: list[float], starts: list[float], noise_variance: float) -> float:
    """The daily drift variance ``s^2`` that makes the median of ``e^2 / (v + s^2 * (a + 10))`` the median of a
    squared standard normal (bisection; 0 when the noise ``v`` alone explains the errors)."""
    squared = np.square(np.asarray(errors))
    centres = np.asarray(starts) + 10.0

    def median_ratio(variance: float) -> float:
        return float(np.median(squared / (noise_variance + variance * centres)))

    if median_ratio(0.0) <= _CHI2_1_MEDIAN:
        return 0.0
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        if median_ratio(middle) > _CHI2_1_MEDIAN:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def level_uncertainty(y: FloatArray, holidays: Sequence[str] = ()) -> LevelUncertainty:
    """How far a series' monthly sums stray from a forecast, measured on its own history.

    From origins every 7 days in the last year (each with at least 56 days before it), the growth model forecasts
    90 days; each 30-day window that the history covers gives a log error ``e`` of the window's sum. Two things
    make up ``e``: the day-to-day noise averaged over 30 days (variance ``v``, from the growth model's own residuals
    and their autocorrelation ``phi``: ``sigma^2 / 30 * (1 + phi) / (1 - phi)``) and a drift of the level, a random
    walk of daily variance ``s^2``, which puts ``s^2 * (a + 10)`` on a 30-day mean starting ``a`` days ahead.
    ``s^2`` is the value at which the median of ``e^2 / (v + s^2 * (a + 10))`` is that of a squared normal (a
    robust fit: one launch the replay could not foresee must not widen every later month), shrunk toward
    ``DRIFT_PRIOR_SIGMA`` with the weight of ``DRIFT_PRIOR_WEIGHT`` errors. ``holidays`` names each day's public
    holiday, as for ``trend_points``.
    """
    values = np.clip(np.asarray(y, dtype=np.float64), 0.0, None)
    if len(values) < 14 or np.count_nonzero(values) < 14:
        return LevelUncertainty(DRIFT_PRIOR_SIGMA, 0.0, 0)
    spread, autocorrelation = _noise(values, holidays)
    noise_variance = spread**2 / 30.0 * (1.0 + autocorrelation) / (1.0 - autocorrelation)
    errors, starts = _replayed_errors(values, holidays)
    measured = _drift_variance(errors, starts, noise_variance) if errors else 0.0
    count = len(errors)
    variance = (DRIFT_PRIOR_WEIGHT * DRIFT_PRIOR_SIGMA**2 + count * measured) / (DRIFT_PRIOR_WEIGHT + count)
    return LevelUncertainty(float(np.sqrt(variance)), autocorrelation, count)
