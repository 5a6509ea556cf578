"""The growth model of the engine (``"trend"``) and the monthly level uncertainty of a series (pure: no Django).

Token usage of an AI program grows (or shrinks) at a rate that holds for months, with a weekday rhythm, holiday
dips and launch steps. ``trend_points`` fits exactly that on the last ``TREND_WINDOW_DAYS`` days of ``log1p``
tokens: a straight line (compound growth), one effect per weekday and, when the data show one, a single level
shift (a launch or a cut-over). The shift is a step, never a slope: the best break day is searched and kept only
when it explains far more than chance would (``BREAK_MIN_F``) and moves the level by at least
``BREAK_MIN_STEP``. Days far off the fit (outages, holidays) are left out of a second fit. The slope is carried
forward lightly damped (``TREND_DAMPING`` per day: 92% of the undamped growth after 90 days, 71% after a year).

``level_drift_sigma`` measures how far a series' monthly sums stray from such a forecast: the growth model is
replayed from weekly origins over the history, and the log errors of its 30-day sums one, two and three months
ahead give the daily variance of a random-walk level drift. The roll-up adds that drift to every sampled path of
the series, so monthly intervals are calibrated on monthly sums, not only on days.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "BREAK_MIN_F",
    "BREAK_MIN_STEP",
    "DRIFT_PRIOR_SIGMA",
    "TREND_DAMPING",
    "TREND_WINDOW_DAYS",
    "TrendFit",
    "fit_trend",
    "level_drift_sigma",
    "trend_points",
]

FloatArray = npt.NDArray[np.float64]

TREND_WINDOW_DAYS = 126
"""The growth model sees the last 18 weeks: long enough to measure a monthly growth rate through daily noise
(slope error about 0.03%/day at 12% daily noise), short enough to follow a program whose growth changed."""

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

DRIFT_PRIOR_SIGMA = 0.007
"""Prior daily drift of a series' log level (6% after 75 days), what a series with little history gets."""

DRIFT_PRIOR_WEIGHT = 4
"""The prior counts as four measured monthly errors."""

DRIFT_MIN_TRAINING_DAYS = 56
DRIFT_MAX_REPLAY_DAYS = 365
DRIFT_ORIGIN_SPACING = 7
_DRIFT_WINDOWS = ((0, 30), (30, 60), (60, 90))
_CHI2_1_MEDIAN = 0.4549364
"""The median of a squared standard normal: the median of ``e^2 / (a + 10)`` over it estimates the variance."""


class TrendFit:
    """A fitted growth model: level at the last day, daily slope, weekday effects and the level shift found."""

    def __init__(self, level: float, slope: float, weekday: FloatArray, step: float, break_age: int | None) -> None:
        self.level = level
        self.slope = slope
        self.weekday = weekday
        self.step = step
        self.break_age = break_age

    def log_points(self, horizon: int, n_days: int, damping: float = TREND_DAMPING) -> FloatArray:
        """``log1p`` forecast for the ``horizon`` days after a history of ``n_days`` days."""
        steps = np.arange(1, horizon + 1, dtype=np.float64)
        grown = self.slope * damping * (1.0 - damping**steps) / (1.0 - damping)
        weekdays = (n_days - 1 + steps.astype(np.int64)) % 7
        return self.level + grown + self.weekday[weekdays]


def _design(length: int, n_days: int, break_at: int | None) -> FloatArray:
    """Columns: intercept (level at the last day), days from the last day, six weekday indicators, and a step that is
    1 from ``break_at`` on. Weekday indicators are aligned on the index in the whole history (``n_days``)."""
    index = np.arange(n_days - length, n_days)
    columns = [np.ones(length), (index - (n_days - 1)).astype(np.float64)]
    weekday = index % 7
    reference = (n_days - 1) % 7
    columns += [(weekday == day).astype(np.float64) for day in range(7) if day != reference]
    if break_at is not None:
        columns.append((np.arange(length) >= break_at).astype(np.float64))
    return np.column_stack(columns)


def _weighted_fit(design: FloatArray, target: FloatArray, keep: npt.NDArray[np.bool_]) -> tuple[FloatArray, float]:
    coefficients, *_ = np.linalg.lstsq(design[keep], target[keep], rcond=None)
    residuals = target[keep] - design[keep] @ coefficients
    return np.asarray(coefficients, dtype=np.float64), float(residuals @ residuals)


def _best_break(log_y: FloatArray, n_days: int, keep: npt.NDArray[np.bool_]) -> tuple[int | None, FloatArray, float]:
    """The level shift (day index in the window) that explains most, if it passes the F and step thresholds."""
    length = len(log_y)
    base_design = _design(length, n_days, None)
    base, base_rss = _weighted_fit(base_design, log_y, keep)
    best: tuple[int | None, FloatArray, float] = (None, base, base_rss)
    if length < 2 * BREAK_MARGIN_DAYS + 7:
        return best
    for break_at in range(BREAK_MARGIN_DAYS, length - BREAK_MARGIN_DAYS):
        coefficients, rss = _weighted_fit(_design(length, n_days, break_at), log_y, keep)
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


def fit_trend(y: FloatArray, window_days: int = TREND_WINDOW_DAYS) -> TrendFit:
    """Fit the growth model to the last ``window_days`` of a clean daily history ``y`` (at least 14 days)."""
    n_days = len(y)
    if n_days < 14:
        raise ValueError(f"the growth model needs at least 14 days of history, got {n_days}")
    log_y = np.log1p(np.clip(np.asarray(y[-window_days:], dtype=np.float64), 0.0, None))
    keep = np.ones(len(log_y), dtype=bool)
    for _ in range(2):
        break_at, coefficients, _ = _best_break(log_y, n_days, keep)
        residuals = log_y - _design(len(log_y), n_days, break_at) @ coefficients
        spread = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
        new_keep = np.abs(residuals) <= OUTLIER_MADS * max(spread, 1e-6)
        if np.count_nonzero(new_keep) < 14 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    weekday = np.zeros(7)
    reference = (n_days - 1) % 7
    others = [day for day in range(7) if day != reference]
    weekday[others] = coefficients[2:8]
    step = float(coefficients[8]) if break_at is not None else 0.0
    # The intercept is the level of the last day with the step on (the break lies inside the window).
    level = float(coefficients[0]) + step
    break_age = None if break_at is None else len(log_y) - break_at
    return TrendFit(level=level, slope=float(coefficients[1]), weekday=weekday, step=step, break_age=break_age)


def trend_points(y: FloatArray, horizon: int) -> FloatArray:
    """The growth model's point forecast (tokens, not logs) for the ``horizon`` days after ``y``."""
    fit = fit_trend(y)
    ceiling = np.log1p(1000.0 * float(np.max(y)))
    return np.expm1(np.clip(fit.log_points(horizon, len(y)), 0.0, ceiling))


def level_drift_sigma(y: FloatArray) -> tuple[float, int]:
    """Daily standard deviation of the random-walk drift of a series' log level, and how many monthly errors
    measured it.

    From origins every 7 days in the last year (each with at least 56 days before it), the growth model forecasts
    90 days; each 30-day window that the history covers gives a log error ``e`` of the window's sum. A random walk
    with daily variance ``s^2`` puts variance ``s^2 * (a + 10)`` on the log of a 30-day mean starting ``a`` days
    ahead, so ``s^2`` is estimated robustly by the median of ``e^2 / (a + 10)`` over that of a squared normal (one
    launch step the replay could not foresee must not widen every later month), shrunk toward
    ``DRIFT_PRIOR_SIGMA`` with the weight of ``DRIFT_PRIOR_WEIGHT`` errors.
    """
    values = np.clip(np.asarray(y, dtype=np.float64), 0.0, None)
    n_days = len(values)
    ratios: list[float] = []
    first_origin = max(DRIFT_MIN_TRAINING_DAYS, n_days - DRIFT_MAX_REPLAY_DAYS)
    for origin in range(n_days - _DRIFT_WINDOWS[0][1], first_origin - 1, -DRIFT_ORIGIN_SPACING):
        training = values[:origin]
        if np.count_nonzero(training[-28:]) < 14:
            continue
        ahead = min(90, n_days - origin)
        forecast = trend_points(training, ahead)
        for start, end in _DRIFT_WINDOWS:
            if end > ahead:
                break
            actual_sum = float(values[origin + start : origin + end].sum())
            forecast_sum = float(forecast[start:end].sum())
            if actual_sum > 0 and forecast_sum > 0:
                ratios.append(float(np.log(actual_sum / forecast_sum)) ** 2 / (start + 10))
    measured = float(np.median(ratios)) / _CHI2_1_MEDIAN if ratios else 0.0
    variance = (DRIFT_PRIOR_WEIGHT * DRIFT_PRIOR_SIGMA**2 + len(ratios) * measured) / (DRIFT_PRIOR_WEIGHT + len(ratios))
    return float(np.sqrt(variance)), len(ratios)
