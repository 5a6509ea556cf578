"""Adds workload forecasts up to every budgeting level, with points and intervals from the same sampled paths
(pure: no Django).

A run forecasts the token volume of each workload (provider x team, daily tokens) and splits it into leaves
(model x token type) by the workload's mix (``forecasting.mix``): a leaf's path is its workload's path times the
leaf's fraction of each day. This module turns those paths into monthly tokens and cost at the levels people budget
at: organization, provider, team, model and team x model.

**Points are means of the summed paths.** Every level's monthly point is the mean over samples of its leaves'
paths (each workload's volume paths split by its forecast mix), and its intervals are central quantiles of the
summed paths with the mix's uncertainty added. The mix's uncertainty moves tokens between a workload's models in
every path but never changes the workload's total, so at the organization, provider and team levels the point
and the interval come from literally the same summed paths; at the model levels the point is the mean of the
paths before the mix is perturbed (perturbing shares in log space and scaling them back to one pulls every mean
toward an even split, which is not a forecast). Means add up exactly, so teams and models add up to the
organization, and a point lies inside its own interval (an interval that would not contain it is widened to it).

Paths of a workload, in ``log1p`` space around its point forecast ``yhat``:

* **day-to-day noise**: the workload's band half-width of its first forecast week over the normal quantile of its
  width (separately above and below, so skewed bands stay skewed) times a stationary AR(1) series of standard
  normals with the workload's own lag-1 autocorrelation (``noise_autocorrelation``, measured on its history);
* **level drift**: a random walk with the workload's own daily standard deviation ``drift_sigma``
  (``forecasting.growth.level_uncertainty``, measured on the history's monthly sums), so the uncertainty of a
  month's total grows with how far ahead it is, calibrated on monthly sums.

* **mix**: in a workload with several models, each model's log share takes a random walk (``SHARE_SIGMA`` a day)
  and the leaves' fractions are scaled back to their sum in every path, so a model's band carries the uncertainty
  of the mix while its workload's and team's do not.

Workloads share shocks: both volume parts are ``sqrt(rho) * common + sqrt(1 - rho) * own`` with one common series
for the run, where ``rho`` is ``shared_shock_correlation``, the average correlation of the workloads' own week-on-week
changes (teams share the business cycle). Each leaf brings a price outlook: a point path and sampled paths of USD
per token per day; cost of a path is the sum over days of tokens x price of the same sample index, so volume and
price uncertainty combine in the cost intervals. A level's cost point is the sum over its leaves and days of the
leaf's mean tokens times its point price: it adds up exactly too, and equals tokens x price where the price is flat.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

__all__ = [
    "INTERVAL_WIDTHS",
    "LEVELS",
    "PATH_AUTOCORRELATION",
    "LeafPart",
    "LevelMonth",
    "PriceOutlook",
    "Rollup",
    "WorkloadForecast",
    "level_keys",
    "roll_up",
    "shared_shock_correlation",
]

FloatArray = npt.NDArray[np.float64]

INTERVAL_WIDTHS = (0.5, 0.8, 0.95)
PATH_AUTOCORRELATION = 0.5
"""Day-to-day persistence of a path's noise where the workload brings none of its own (each workload's is measured
on its history). Persistent error (a level or growth rate that was wrong) is the level drift's part, measured on
monthly sums; the noise only carries a busy day into the next."""
SHARE_SIGMA = 0.2
"""Daily standard deviation of the random walk of a model's log share within its workload. Measured on the tuning
cut-offs of ``benchmarks/org_backtest.py``: the log-odds error of a model's share of its workload was 1.0, 1.6 and
2.0 one, two and three months ahead (models moving on to newer ones after the cut-off make most of it), about a
random walk of 0.2 a day."""
NOISE_DAYS = 7
"""The day-to-day noise of a path is the band of the first forecast week; the level drift does the widening."""
MAX_LOG_SPREAD = 1.0
"""Largest standard deviation of the day-to-day noise in log space: a workload forecast at about zero with an
additive band (a short history's simple model) must not draw astronomically large days from the log-normal tail."""
LEVELS = ("organization", "provider", "team", "model", "team_model")
BAND_DAYS = 62
"""How many first forecast days keep a daily 99% band (organization and team x model) for anomaly checks."""
ANOMALY_WIDTH = 0.99
KEY_SEPARATOR = " | "


@dataclass(frozen=True)
class PriceOutlook:
    """USD per token per future day: the point path and ``n_samples`` sampled paths (rows)."""

    point: FloatArray
    samples: FloatArray


@dataclass(frozen=True)
class LeafPart:
    """One leaf of a workload: its keys, its fraction of the workload's volume per future day, its prices."""

    provider: str
    team: str
    model: str
    token_type: str
    fraction: FloatArray
    price: PriceOutlook | None = None
    series_key: tuple[str, str, str, str] | None = None
    """The leaf series this part stands for, when its keys differ from it (a what-if's model switch books a
    model's tokens under another); ``Rollup.leaf_means`` is keyed by it."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.series_key or (self.provider, self.team, self.model, self.token_type)


@dataclass(frozen=True)
class WorkloadForecast:
    """A workload's daily volume forecast with its band at ``interval_width``, its level drift and its leaves."""

    provider: str
    team: str
    yhat: FloatArray
    lower: FloatArray
    upper: FloatArray
    interval_width: float
    drift_sigma: float
    leaves: tuple[LeafPart, ...]
    noise_autocorrelation: float = PATH_AUTOCORRELATION


@dataclass
class LevelMonth:
    """A level's month: point tokens and cost, tokens per type, and the interval bounds per width."""

    month: pd.Timestamp
    days: int
    tokens: float
    tokens_by_type: dict[str, float]
    tokens_intervals: dict[str, tuple[float, float]]
    cost: float | None
    cost_intervals: dict[str, tuple[float, float]]
    unpriced_tokens: float


@dataclass
class CellPaths:
    """One provider x team x model: each sampled path's cost per month, and its mean daily cost and tokens."""

    monthly_cost_paths: FloatArray
    daily_cost: FloatArray
    daily_tokens: FloatArray
    priced: bool = False


@dataclass
class DayBands:
    """The mean and the 99% band of the first ``BAND_DAYS`` forecast days, in tokens and cost."""

    tokens_mean: FloatArray
    tokens_lower: FloatArray
    tokens_upper: FloatArray
    cost_mean: FloatArray
    cost_lower: FloatArray
    cost_upper: FloatArray


@dataclass
class Rollup:
    """Monthly results per (level, key), each leaf's mean daily path (by ``LeafPart.key``), and the organization's
    daily point and band."""

    months: dict[tuple[str, str], list[LevelMonth]] = field(default_factory=dict)
    shared_correlation: float = 0.0
    leaf_means: dict[tuple[str, str, str, str], FloatArray] = field(default_factory=dict)
    daily_dates: pd.DatetimeIndex | None = None
    daily_tokens: FloatArray | None = None
    daily_lower: FloatArray | None = None
    daily_upper: FloatArray | None = None
    daily_cost: FloatArray | None = None
    daily_cost_lower: FloatArray | None = None
    daily_cost_upper: FloatArray | None = None
    month_starts: pd.DatetimeIndex | None = None
    cells: dict[tuple[str, str, str], CellPaths] = field(default_factory=dict)
    day_bands: dict[tuple[str, str], DayBands] = field(default_factory=dict)


def level_keys(leaf: LeafPart) -> list[tuple[str, str]]:
    """The (level, key) pairs a leaf adds into."""
    return [
        ("organization", ""),
        ("provider", leaf.provider),
        ("team", leaf.team),
        ("model", leaf.model),
        ("team_model", f"{leaf.team}{KEY_SEPARATOR}{leaf.model}"),
    ]


def _ar1_normals(rng: np.random.Generator, n_samples: int, horizon: int, phi: float) -> FloatArray:
    """Stationary AR(1) paths with standard-normal marginals, shape (n_samples, horizon):
    ``x_0 = e_0``, ``x_t = phi * x_(t-1) + sqrt(1 - phi^2) * e_t`` (one recursive filter over all paths)."""
    shocks = rng.standard_normal((n_samples, horizon))
    scale = np.sqrt(1.0 - phi * phi)
    shocks[:, 0] /= scale  # so that the filter's first value is e_0 itself
    return np.asarray(lfilter([scale], [1.0, -phi], shocks, axis=1), dtype=np.float64)


def _random_walks(rng: np.random.Generator, n_samples: int, horizon: int) -> FloatArray:
    """Random walks of standard-normal daily steps, shape (n_samples, horizon): variance ``t + 1`` on day ``t``."""
    return np.cumsum(rng.standard_normal((n_samples, horizon)), axis=1)


MAX_SHARED_CORRELATION = 0.9
SHARED_CORRELATION_DAYS = 365
_MIN_ACTIVE_DAYS = 56


def shared_shock_correlation(histories: Sequence[FloatArray], *, days: int = SHARED_CORRELATION_DAYS) -> float:
    """How much the workloads' shocks move together: the mean pairwise correlation of their week-on-week changes of
    ``log1p`` daily tokens (which removes level, growth and the weekday rhythm) over their last ``days`` days.

    ``histories`` are daily values ending on the same day. Series with under 56 days or under 56 non-zero days
    in the window, or without any change, are left out; the result is clipped to [0, 0.9] and is 0 with fewer
    than two usable series.
    """
    window = min(days, min((len(values) for values in histories), default=0))
    if window < _MIN_ACTIVE_DAYS:
        return 0.0
    changes = []
    for values in histories:
        recent = np.asarray(values[-window:], dtype=np.float64)
        if np.count_nonzero(recent) < _MIN_ACTIVE_DAYS:
            continue
        log_values = np.log1p(np.clip(recent, 0.0, None))
        weekly_change = log_values[7:] - log_values[:-7]
        if np.std(weekly_change) > 0:
            changes.append(weekly_change)
    if len(changes) < 2:
        return 0.0
    correlations = np.corrcoef(np.vstack(changes))
    pairs = correlations[~np.eye(len(changes), dtype=bool)]
    return float(np.clip(np.nanmean(pairs), 0.0, MAX_SHARED_CORRELATION))


@dataclass(frozen=True)
class _Shocks:
    """The run's common noise and drift series, and how much of each workload's shocks they make up."""

    common_noise: FloatArray
    common_drift: FloatArray
    shared_part: float
    own_part: float


def _volume_paths(workload: WorkloadForecast, rng: np.random.Generator, shocks: _Shocks) -> FloatArray:
    """Sampled daily volume paths of a workload, shape (n_samples, horizon)."""
    horizon = len(workload.yhat)
    n_samples = shocks.common_noise.shape[0]
    noise = _ar1_normals(rng, n_samples, horizon, workload.noise_autocorrelation)
    drift = _random_walks(rng, n_samples, horizon)
    noise = shocks.shared_part * shocks.common_noise + shocks.own_part * noise
    drift = shocks.shared_part * shocks.common_drift + shocks.own_part * drift
    z = NormalDist().inv_cdf(0.5 + workload.interval_width / 2)
    centre = np.log1p(np.maximum(workload.yhat, 0.0))
    first = slice(0, min(NOISE_DAYS, horizon))
    above = float(np.mean(np.log1p(np.maximum(workload.upper, 0.0))[first] - centre[first])) / z
    below = float(np.mean(centre[first] - np.log1p(np.maximum(workload.lower, 0.0))[first])) / z
    spread = np.where(noise >= 0, min(max(above, 0.0), MAX_LOG_SPREAD), min(max(below, 0.0), MAX_LOG_SPREAD))
    log_paths = centre + spread * noise + workload.drift_sigma * drift
    return np.maximum(np.expm1(log_paths), 0.0)


class _Accumulator:
    """Sums of one level: token and cost paths per month, the mean tokens per type, tokens without a price."""

    def __init__(self, n_samples: int, n_months: int) -> None:
        self.tokens = np.zeros(n_months)
        self.token_paths = np.zeros((n_samples, n_months))
        self.cost_paths = np.zeros((n_samples, n_months))
        self.cost = np.zeros(n_months)
        self.priced_any = False
        self.unpriced = np.zeros(n_months)
        self.by_type: dict[str, FloatArray] = {}

    def add(
        self,
        token_type: str,
        mean_tokens: FloatArray,
        token_paths: FloatArray,
        cost: tuple[FloatArray, FloatArray] | None,
    ) -> None:
        self.tokens += mean_tokens
        self.token_paths += token_paths
        self.by_type[token_type] = self.by_type.get(token_type, 0.0) + mean_tokens
        if cost is None:
            self.unpriced += mean_tokens
        else:
            self.priced_any = True
            self.cost += cost[0]
            self.cost_paths += cost[1]


def _central(paths: FloatArray, point: FloatArray, width: float) -> list[tuple[float, float]]:
    lower = np.quantile(paths, (1 - width) / 2, axis=0)
    upper = np.quantile(paths, 1 - (1 - width) / 2, axis=0)
    return [(float(min(lo, p)), float(max(hi, p))) for lo, hi, p in zip(lower, upper, point, strict=True)]


class _Calendar:
    """The months of the forecast days and the sums over them."""

    def __init__(self, dates: pd.DatetimeIndex) -> None:
        month_starts = dates.to_period("M").to_timestamp()
        month_index, month_codes = np.unique(month_starts.asi8, return_inverse=True)
        self.months = pd.DatetimeIndex(month_index)
        self.days_per_month = np.bincount(month_codes, minlength=len(self.months))
        self.first_days = np.flatnonzero(np.r_[True, month_codes[1:] != month_codes[:-1]])

    def monthly(self, values: FloatArray) -> FloatArray:
        """Sums over the days of each month, along the last axis."""
        return np.add.reduceat(values, self.first_days, axis=-1)


def _fraction_paths(workload: WorkloadForecast, rng: np.random.Generator, n_samples: int) -> list[FloatArray]:
    """Each leaf's sampled fraction of its workload's volume, shape (n_samples, horizon), or its fixed fraction when
    the workload has one model. Each model's log share takes a random walk of ``SHARE_SIGMA`` a day (the same for
    every token type of the model), and the fractions of every path and day are scaled back to the forecast's sum:
    the mix is uncertain, the workload's volume is not changed by it."""
    models = sorted({leaf.model for leaf in workload.leaves})
    if len(models) < 2 or SHARE_SIGMA == 0:
        return [leaf.fraction for leaf in workload.leaves]
    horizon = len(workload.yhat)
    walks = {model: SHARE_SIGMA * _random_walks(rng, n_samples, horizon) for model in models}
    perturbed = [leaf.fraction * np.exp(walks[leaf.model]) for leaf in workload.leaves]
    planned = np.sum([leaf.fraction for leaf in workload.leaves], axis=0)
    scale = np.divide(planned, np.sum(perturbed, axis=0), out=np.zeros((n_samples, horizon)), where=planned > 0)
    return [values * scale for values in perturbed]


def _check_workload(workload: WorkloadForecast, horizon: int, n_samples: int) -> None:
    for name, values in (("yhat", workload.yhat), ("lower", workload.lower), ("upper", workload.upper)):
        if len(values) != horizon:
            raise ValueError(
                f"workload {workload.provider}/{workload.team}: {name} has {len(values)} days, not {horizon}"
            )
    for leaf in workload.leaves:
        if len(leaf.fraction) != horizon:
            raise ValueError(f"leaf {leaf.model}/{leaf.token_type}: fraction has {len(leaf.fraction)} days")
        if leaf.price is not None and leaf.price.samples.shape[0] != n_samples:
            raise ValueError(f"price outlook has {leaf.price.samples.shape[0]} samples, expected {n_samples}")


class _Daily:
    """The organization's daily token and cost paths (for the run's chart)."""

    def __init__(self, n_samples: int, horizon: int) -> None:
        self.tokens = np.zeros((n_samples, horizon))
        self.cost = np.zeros((n_samples, horizon))
        self.cost_point = np.zeros(horizon)
        self.token_point = np.zeros(horizon)


class _BandAccumulator:
    """Daily token and cost paths of the first days of one scope, for its 99% band."""

    def __init__(self, n_samples: int, days: int) -> None:
        self.tokens = np.zeros((n_samples, days))
        self.cost = np.zeros((n_samples, days))
        self.tokens_mean = np.zeros(days)
        self.cost_mean = np.zeros(days)

    def add(self, leaf_paths: FloatArray, leaf_mean: FloatArray, leaf: LeafPart, cost_paths: FloatArray | None) -> None:
        days = self.tokens_mean.shape[0]
        self.tokens += leaf_paths[:, :days]
        self.tokens_mean += leaf_mean[:days]
        if cost_paths is not None and leaf.price is not None:
            self.cost += cost_paths[:, :days]
            self.cost_mean += (leaf_mean * leaf.price.point)[:days]

    def bands(self, width: float = ANOMALY_WIDTH) -> DayBands:
        low, high = (1 - width) / 2, 1 - (1 - width) / 2
        return DayBands(
            tokens_mean=self.tokens_mean,
            tokens_lower=np.minimum(np.quantile(self.tokens, low, axis=0), self.tokens_mean),
            tokens_upper=np.maximum(np.quantile(self.tokens, high, axis=0), self.tokens_mean),
            cost_mean=self.cost_mean,
            cost_lower=np.minimum(np.quantile(self.cost, low, axis=0), self.cost_mean),
            cost_upper=np.maximum(np.quantile(self.cost, high, axis=0), self.cost_mean),
        )


class _Scopes:
    """The cells (provider x team x model) and the banded scopes (organization, team x model) of a roll-up."""

    def __init__(self, n_samples: int, horizon: int, calendar: _Calendar) -> None:
        self.n_samples = n_samples
        self.horizon = horizon
        self.calendar = calendar
        self.band_days = min(BAND_DAYS, horizon)
        self.cells: dict[tuple[str, str, str], CellPaths] = {}
        self.bands: dict[tuple[str, str], _BandAccumulator] = {}

    def add(self, leaf: LeafPart, leaf_paths: FloatArray, leaf_mean: FloatArray, cost_paths: FloatArray | None) -> None:
        cell = self.cells.get((leaf.provider, leaf.team, leaf.model))
        if cell is None:
            cell = self.cells[(leaf.provider, leaf.team, leaf.model)] = CellPaths(
                monthly_cost_paths=np.zeros((self.n_samples, len(self.calendar.months))),
                daily_cost=np.zeros(self.horizon),
                daily_tokens=np.zeros(self.horizon),
            )
        cell.daily_tokens += leaf_mean
        if cost_paths is not None and leaf.price is not None:
            cell.priced = True
            cell.monthly_cost_paths += self.calendar.monthly(cost_paths)
            cell.daily_cost += leaf_mean * leaf.price.point
        for key in (("organization", ""), ("team_model", f"{leaf.team}{KEY_SEPARATOR}{leaf.model}")):
            band = self.bands.get(key)
            if band is None:
                band = self.bands[key] = _BandAccumulator(self.n_samples, self.band_days)
            band.add(leaf_paths, leaf_mean, leaf, cost_paths)


def roll_up(
    workloads: Iterable[WorkloadForecast],
    dates: pd.DatetimeIndex,
    *,
    n_samples: int = 300,
    seed: int = 20240101,
    shared_correlation: float = 0.0,
) -> Rollup:
    """Add the leaves of ``workloads`` (all over the same future ``dates``) up to every level, by month, with points
    and intervals from the same sampled paths; the workloads' shocks are correlated by ``shared_correlation``."""
    if not 0.0 <= shared_correlation < 1.0:
        raise ValueError(f"shared_correlation must be in [0, 1), got {shared_correlation}")
    horizon = len(dates)
    calendar = _Calendar(dates)
    rng = np.random.default_rng(seed)
    shocks = _Shocks(
        common_noise=_ar1_normals(rng, n_samples, horizon, PATH_AUTOCORRELATION),
        common_drift=_random_walks(rng, n_samples, horizon),
        shared_part=math.sqrt(shared_correlation),
        own_part=math.sqrt(1.0 - shared_correlation),
    )
    levels: dict[tuple[str, str], _Accumulator] = {}
    daily = _Daily(n_samples, horizon)
    scopes = _Scopes(n_samples, horizon, calendar)
    rollup = Rollup(shared_correlation=shared_correlation, month_starts=calendar.months)
    for workload in workloads:
        _check_workload(workload, horizon, n_samples)
        volume = _volume_paths(workload, rng, shocks)
        mean_volume = volume.mean(axis=0)
        fractions = _fraction_paths(workload, rng, n_samples)
        for leaf, fraction in zip(workload.leaves, fractions, strict=True):
            leaf_paths = volume * fraction
            leaf_mean = mean_volume * leaf.fraction  # the mean of the volume paths split by the forecast mix
            rollup.leaf_means[leaf.key] = leaf_mean
            daily.tokens += leaf_paths
            daily.token_point += leaf_mean
            monthly_cost = None
            cost_paths: FloatArray | None = None
            if leaf.price is not None:
                cost_paths = leaf_paths * leaf.price.samples
                daily.cost += cost_paths
                daily.cost_point += leaf_mean * leaf.price.point
                monthly_cost = (calendar.monthly(leaf_mean * leaf.price.point), calendar.monthly(cost_paths))
            monthly_token_paths = calendar.monthly(leaf_paths)
            scopes.add(leaf, leaf_paths, leaf_mean, cost_paths)
            for level_key in level_keys(leaf):
                accumulator = levels.get(level_key)
                if accumulator is None:
                    accumulator = levels[level_key] = _Accumulator(n_samples, len(calendar.months))
                accumulator.add(leaf.token_type, calendar.monthly(leaf_mean), monthly_token_paths, monthly_cost)
    for level_key, accumulator in levels.items():
        rollup.months[level_key] = _level_months(accumulator, calendar)
    if levels:
        _daily_results(rollup, daily, dates)
    rollup.cells = scopes.cells
    rollup.day_bands = {key: band.bands() for key, band in scopes.bands.items()}
    return rollup


def _level_months(accumulator: _Accumulator, calendar: _Calendar) -> list[LevelMonth]:
    tokens = accumulator.tokens
    cost = accumulator.cost
    token_bounds = {f"{round(w * 100)}": _central(accumulator.token_paths, tokens, w) for w in INTERVAL_WIDTHS}
    cost_bounds = (
        {f"{round(w * 100)}": _central(accumulator.cost_paths, cost, w) for w in INTERVAL_WIDTHS}
        if accumulator.priced_any
        else {}
    )
    return [
        LevelMonth(
            month=calendar.months[index],
            days=int(calendar.days_per_month[index]),
            tokens=float(tokens[index]),
            tokens_by_type={kind: float(values[index]) for kind, values in sorted(accumulator.by_type.items())},
            tokens_intervals={width: bounds[index] for width, bounds in token_bounds.items()},
            cost=float(cost[index]) if accumulator.priced_any else None,
            cost_intervals={width: bounds[index] for width, bounds in cost_bounds.items()},
            unpriced_tokens=float(accumulator.unpriced[index]),
        )
        for index in range(len(calendar.months))
    ]


def _daily_results(rollup: Rollup, daily: _Daily, dates: pd.DatetimeIndex, width: float = 0.8) -> None:
    """The organization's daily mean and 80% band, of tokens and (when any leaf had a price) of cost."""
    rollup.daily_dates = dates
    low, high = (1 - width) / 2, 1 - (1 - width) / 2
    rollup.daily_tokens = daily.token_point
    rollup.daily_lower = np.minimum(np.quantile(daily.tokens, low, axis=0), rollup.daily_tokens)
    rollup.daily_upper = np.maximum(np.quantile(daily.tokens, high, axis=0), rollup.daily_tokens)
    rollup.daily_cost = daily.cost_point
    rollup.daily_cost_lower = np.minimum(np.quantile(daily.cost, low, axis=0), rollup.daily_cost)
    rollup.daily_cost_upper = np.maximum(np.quantile(daily.cost, high, axis=0), rollup.daily_cost)
