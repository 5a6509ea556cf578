"""Adds leaf forecasts up to every budgeting level, with intervals from sampled paths (pure: no Django).

A run forecasts leaves (provider x team x model x token type, daily tokens). This module turns them into
monthly tokens and cost at the levels people budget at: organization, provider, team, model and
team x model. Reconciliation is **bottom-up**: every level's point forecast is the sum of its leaves'
point forecasts, so teams and models add up to the organization total exactly.

Intervals come from sampling, not from adding bounds:

* Volume. Each leaf gets ``n_samples`` daily paths around its point forecast: ``yhat_t + s_t * e_t``, where
  ``s_t`` is the leaf's own band half-width over the normal quantile of its interval (separately above and
  below the point, so skewed bands stay skewed), clipped at 0, and ``e_t`` is a stationary AR(1) series of
  standard normals with ``phi = PATH_AUTOCORRELATION``: a day above forecast tends to be followed by
  another, so a month's interval is wider than if days were independent, and narrower than adding daily
  bounds. Leaves share shocks: each leaf's normals are ``sqrt(rho) * c_t + sqrt(1 - rho) * e_t`` with one
  common AR(1) series ``c_t`` for the whole run, where ``rho`` is ``shared_shock_correlation``: the average
  correlation of the leaves' own week-on-week changes in their history (token types of one model move
  together, teams share the business cycle). Independent leaves (``rho = 0``) would make every level's
  interval too narrow and, with skewed leaf bands, put the sum of the leaves' points below the level's
  lower bound. Paths are drawn in token space, not log space:
  a leaf whose band is many times its point (a retired model: point 0, band up to last year's volume)
  would otherwise draw astronomically large days from the log-normal tail.
* Price. Each leaf brings a price outlook: a point path and sampled paths of USD per token per day
  (from the price projection under the run's scenario and migration policy). Cost of a path is the sum
  over days of tokens x price of the same sample index, so volume and price uncertainty combine.

Monthly intervals (50%, 80%, 95%) are the central quantiles of the summed paths of each level, widened
if needed so they always contain the point forecast.
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
    "LeafForecast",
    "LevelMonth",
    "PriceOutlook",
    "Rollup",
    "level_keys",
    "roll_up",
    "shared_shock_correlation",
]

FloatArray = npt.NDArray[np.float64]

INTERVAL_WIDTHS = (0.5, 0.8, 0.95)
PATH_AUTOCORRELATION = 0.8
LEVELS = ("organization", "provider", "team", "model", "team_model")
KEY_SEPARATOR = " | "


@dataclass(frozen=True)
class PriceOutlook:
    """USD per token per future day: the point path and ``n_samples`` sampled paths (rows)."""

    point: FloatArray
    samples: FloatArray


@dataclass(frozen=True)
class LeafForecast:
    """One leaf's daily forecast over the run's horizon, with its interval at ``interval_width``."""

    provider: str
    team: str
    model: str
    token_type: str
    yhat: FloatArray
    lower: FloatArray
    upper: FloatArray
    interval_width: float
    price: PriceOutlook | None = None


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
class Rollup:
    """Monthly results per (level, key), and the organization's daily point and band for charts."""

    months: dict[tuple[str, str], list[LevelMonth]] = field(default_factory=dict)
    shared_correlation: float = 0.0
    daily_dates: pd.DatetimeIndex | None = None
    daily_tokens: FloatArray | None = None
    daily_lower: FloatArray | None = None
    daily_upper: FloatArray | None = None
    daily_cost: FloatArray | None = None
    daily_cost_lower: FloatArray | None = None
    daily_cost_upper: FloatArray | None = None


def level_keys(leaf: LeafForecast) -> list[tuple[str, str]]:
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


MAX_SHARED_CORRELATION = 0.9
SHARED_CORRELATION_DAYS = 365
_MIN_ACTIVE_DAYS = 56


def shared_shock_correlation(histories: Sequence[FloatArray], *, days: int = SHARED_CORRELATION_DAYS) -> float:
    """How much the leaves' shocks move together: the mean pairwise correlation of their week-on-week changes of
    ``log1p`` daily tokens (which removes level, growth and the weekday rhythm) over their last ``days`` days.

    ``histories`` are daily values ending on the same day. Leaves with under 56 days or under 56 non-zero days
    in the window, or without any change, are left out; the result is clipped to [0, 0.9] and is 0 with fewer
    than two usable leaves.
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


def _volume_paths(leaf: LeafForecast, normals: FloatArray) -> FloatArray:
    z = NormalDist().inv_cdf(0.5 + leaf.interval_width / 2)
    centre = np.maximum(leaf.yhat, 0.0)
    above = np.maximum(leaf.upper - centre, 0.0) / z
    below = np.maximum(centre - leaf.lower, 0.0) / z
    spread = np.where(normals >= 0, above, below)
    return np.maximum(centre + spread * normals, 0.0)


class _Accumulator:
    """Sums of one level: point per day, paths per month, cost per month, tokens by type."""

    def __init__(self, n_samples: int, n_months: int) -> None:
        self.tokens = np.zeros(n_months)
        self.token_paths = np.zeros((n_samples, n_months))
        self.cost = np.zeros(n_months)
        self.cost_paths = np.zeros((n_samples, n_months))
        self.priced_any = False
        self.unpriced = np.zeros(n_months)
        self.by_type: dict[str, FloatArray] = {}

    def add(
        self,
        leaf: LeafForecast,
        monthly_tokens: FloatArray,
        monthly_token_paths: FloatArray,
        monthly_cost: FloatArray | None,
        monthly_cost_paths: FloatArray | None,
    ) -> None:
        self.tokens += monthly_tokens
        self.token_paths += monthly_token_paths
        self.by_type[leaf.token_type] = self.by_type.get(leaf.token_type, 0.0) + monthly_tokens
        if monthly_cost is None or monthly_cost_paths is None:
            self.unpriced += monthly_tokens
        else:
            self.priced_any = True
            self.cost += monthly_cost
            self.cost_paths += monthly_cost_paths


def _central(paths: FloatArray, point: FloatArray, width: float) -> list[tuple[float, float]]:
    lower = np.quantile(paths, (1 - width) / 2, axis=0)
    upper = np.quantile(paths, 1 - (1 - width) / 2, axis=0)
    return [(float(min(lo, p)), float(max(hi, p))) for lo, hi, p in zip(lower, upper, point, strict=True)]


def roll_up(
    leaves: Iterable[LeafForecast],
    dates: pd.DatetimeIndex,
    *,
    n_samples: int = 300,
    seed: int = 20240101,
    shared_correlation: float = 0.0,
) -> Rollup:
    """Add ``leaves`` (all over the same future ``dates``) up to every level, by month, with intervals; the leaves'
    sampled shocks are correlated by ``shared_correlation`` (see ``shared_shock_correlation``)."""
    if not 0.0 <= shared_correlation < 1.0:
        raise ValueError(f"shared_correlation must be in [0, 1), got {shared_correlation}")
    horizon = len(dates)
    month_starts = dates.to_period("M").to_timestamp()
    month_index, month_codes = np.unique(month_starts.asi8, return_inverse=True)
    months = pd.DatetimeIndex(month_index)
    days_per_month = np.bincount(month_codes, minlength=len(months))
    n_months = len(months)
    month_first_days = np.flatnonzero(np.r_[True, month_codes[1:] != month_codes[:-1]])

    def monthly(values: FloatArray) -> FloatArray:
        """Sums over the days of each month, along the last axis."""
        return np.add.reduceat(values, month_first_days, axis=-1)

    rng = np.random.default_rng(seed)
    common = _ar1_normals(rng, n_samples, horizon, PATH_AUTOCORRELATION) if shared_correlation > 0 else None
    shared_part, own_part = math.sqrt(shared_correlation), math.sqrt(1.0 - shared_correlation)
    levels: dict[tuple[str, str], _Accumulator] = {}
    daily_point = np.zeros(horizon)
    daily_paths = np.zeros((n_samples, horizon))
    daily_cost = np.zeros(horizon)
    daily_cost_paths = np.zeros((n_samples, horizon))
    for leaf in leaves:
        for name, values in (("yhat", leaf.yhat), ("lower", leaf.lower), ("upper", leaf.upper)):
            if len(values) != horizon:
                raise ValueError(f"leaf {leaf.model}/{leaf.token_type}: {name} has {len(values)} days, not {horizon}")
        normals = _ar1_normals(rng, n_samples, horizon, PATH_AUTOCORRELATION)
        if common is not None:
            normals = shared_part * common + own_part * normals
        volume = _volume_paths(leaf, normals)
        monthly_tokens = monthly(leaf.yhat)
        monthly_token_paths = monthly(volume)
        daily_point += leaf.yhat
        daily_paths += volume
        monthly_cost = monthly_cost_paths = None
        if leaf.price is not None:
            if leaf.price.samples.shape[0] != n_samples:
                raise ValueError(f"price outlook has {leaf.price.samples.shape[0]} samples, expected {n_samples}")
            leaf_daily_cost = leaf.yhat * leaf.price.point
            cost_paths = volume * leaf.price.samples
            monthly_cost = monthly(leaf_daily_cost)
            monthly_cost_paths = monthly(cost_paths)
            daily_cost += leaf_daily_cost
            daily_cost_paths += cost_paths
        for level_key in level_keys(leaf):
            accumulator = levels.get(level_key)
            if accumulator is None:
                accumulator = levels[level_key] = _Accumulator(n_samples, n_months)
            accumulator.add(leaf, monthly_tokens, monthly_token_paths, monthly_cost, monthly_cost_paths)

    rollup = Rollup(shared_correlation=shared_correlation)
    for level_key, accumulator in levels.items():
        token_bounds = {
            f"{round(w * 100)}": _central(accumulator.token_paths, accumulator.tokens, w) for w in INTERVAL_WIDTHS
        }
        cost_bounds = (
            {f"{round(w * 100)}": _central(accumulator.cost_paths, accumulator.cost, w) for w in INTERVAL_WIDTHS}
            if accumulator.priced_any
            else {}
        )
        rollup.months[level_key] = [
            LevelMonth(
                month=months[index],
                days=int(days_per_month[index]),
                tokens=float(accumulator.tokens[index]),
                tokens_by_type={kind: float(values[index]) for kind, values in sorted(accumulator.by_type.items())},
                tokens_intervals={width: bounds[index] for width, bounds in token_bounds.items()},
                cost=float(accumulator.cost[index]) if accumulator.priced_any else None,
                cost_intervals={width: bounds[index] for width, bounds in cost_bounds.items()},
                unpriced_tokens=float(accumulator.unpriced[index]),
            )
            for index in range(n_months)
        ]
    if levels:
        rollup.daily_dates = dates
        rollup.daily_tokens = daily_point
        width = 0.8
        rollup.daily_lower = np.minimum(np.quantile(daily_paths, (1 - width) / 2, axis=0), daily_point)
        rollup.daily_upper = np.maximum(np.quantile(daily_paths, 1 - (1 - width) / 2, axis=0), daily_point)
        rollup.daily_cost = daily_cost
        rollup.daily_cost_lower = np.minimum(np.quantile(daily_cost_paths, (1 - width) / 2, axis=0), daily_cost)
        rollup.daily_cost_upper = np.maximum(np.quantile(daily_cost_paths, 1 - (1 - width) / 2, axis=0), daily_cost)
    return rollup
