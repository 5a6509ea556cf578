"""The model mix of a workload and its token-type split, forecast apart from its volume (pure: no Django).

A workload (provider x team) is forecast as one volume series (``forecasting.fitting``); its leaves (model x token
type) are that volume times the model's share times the model's token-type split. Volume is stable where a leaf
is not: a model migration makes the old model's leaf fall and the new one's a short steep ramp, while the
workload's total keeps the program's growth.

* **Model shares** are weekly shares of the workload's tokens over the last ``SHARE_WEEKS`` weeks. A model whose
  log share moves steadily over the last ``SHARE_TREND_WEEKS`` weeks (a migration under way: the slope's t-value is
  at least ``SHARE_MIN_T`` and it moved by at least ``SHARE_MIN_CHANGE``) goes on from the last week's share at
  that pace, damped by ``SHARE_TREND_DAMPING`` a week (a migration slows as it completes); a model without a clear
  move may still drift slowly (its projects grow faster or slower than the others: a trend over up to
  ``SHARE_WEEKS`` weeks, damped by ``SHARE_DRIFT_DAMPING`` a week), or else keeps its share of the last
  ``SHARE_STEADY_WEEKS`` weeks. Shares are a softmax of ``level + slope x weeks``, so
  they always add up to one: a new model's share follows its observed ramp toward the whole workload, a replaced
  model's share tails off toward zero, and a model unused in the last week is gone.
* **Token-type split** of each model is its mix of input, output, cached input and cache writes over the last
  ``SPLIT_DAYS`` days.

``workload_mix`` returns, for every leaf, the fraction of the workload's volume it gets on each future day; the
fractions of a day add up to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "SHARE_MIN_CHANGE",
    "SHARE_MIN_T",
    "SHARE_TREND_DAMPING",
    "SHARE_WEEKS",
    "SPLIT_DAYS",
    "LeafKey",
    "MixForecast",
    "workload_mix",
]

FloatArray = npt.NDArray[np.float64]
LeafKey = tuple[str, str]
"""(model, token type)."""

SHARE_WEEKS = 26
"""Weeks of shares behind a model's slow drift (a migration's trend reads the last ``SHARE_TREND_WEEKS``)."""

SHARE_TREND_WEEKS = 4
"""A trend's pace is measured over the last four of those weeks (a ramp slows as it completes)."""

SHARE_STEADY_WEEKS = 4
"""A model without a clear trend keeps its share of the last four weeks."""

SHARE_MIN_WEEKS = 3
"""A trend needs at least three weeks with the model in use."""

SHARE_MIN_T = 4.0
"""A share trend is kept when its slope is at least four standard errors from zero..."""

SHARE_MIN_CHANGE = 0.25
"""...and it moved the log share by at least 0.25 (about 28%) over the weeks measured."""

SHARE_DRIFT_MIN_WEEKS = 8
SHARE_DRIFT_MIN_CHANGE = 0.1
SHARE_DRIFT_DAMPING = 0.98
"""A model without a migration's trend may still drift: its projects grow faster or slower than the workload's
others. A drift needs at least 8 weeks in use, the same pace (within a factor of two) in both halves of them, the same
t-value and a move of at least 0.1 in log share over the weeks measured (up to ``SHARE_WEEKS``); it goes on damped
by 0.98 a week (at most 49 weeks' worth)."""

SHARE_TREND_DAMPING = 0.85
"""Weekly damping of a share's trend: a migration goes on at its observed pace at first and then slows, so the
log share moves at most 5.7 weeks' worth of its current weekly change in all. Several models ramping at once must
not end with the steepest taking everything."""

SPLIT_DAYS = 28
"""Days behind a model's token-type split."""


@dataclass(frozen=True)
class ModelShare:
    """How one model's share is carried forward: share now, weekly change of its log share and why."""

    model: str
    share: float
    weekly_log_change: float
    note: str
    damping: float = SHARE_TREND_DAMPING


@dataclass(frozen=True)
class MixForecast:
    """Each leaf's fraction of its workload's volume per future day, and how each model's share was set."""

    fractions: dict[LeafKey, FloatArray]
    shares: list[ModelShare]

    def describe(self) -> str:
        parts = []
        for item in sorted(self.shares, key=lambda share: -share.share):
            trend = f", {item.weekly_log_change:+.2f}/week in log share ({item.note})" if item.weekly_log_change else ""
            parts.append(f"{item.model} {item.share:.0%}{trend}")
        return "; ".join(parts)


def _weekly_sums(values: FloatArray, weeks: int) -> FloatArray:
    """Sums of the last ``weeks`` whole weeks, oldest first (fewer when the history is shorter)."""
    available = min(weeks, len(values) // 7)
    if available == 0:
        return np.asarray([float(values.sum())])
    recent = values[len(values) - 7 * available :]
    return recent.reshape(available, 7).sum(axis=1)


def _share_trend(log_share: FloatArray) -> tuple[float, float, float]:
    """Slope per week of ``log_share``, its t-value and the fitted log share of the last week (0, 0 and the last
    value when there are too few weeks)."""
    weeks = len(log_share)
    if weeks < SHARE_MIN_WEEKS:
        return 0.0, 0.0, float(log_share[-1])
    x = np.arange(weeks, dtype=np.float64) - (weeks - 1)
    design = np.column_stack([np.ones(weeks), x])
    coefficients, *_ = np.linalg.lstsq(design, log_share, rcond=None)
    residuals = log_share - design @ coefficients
    dof = weeks - 2
    spread = float(residuals @ residuals) / dof if dof > 0 else 0.0
    x_spread = float(((x - x.mean()) ** 2).sum())
    standard_error = np.sqrt(spread / x_spread) if x_spread > 0 else np.inf
    slope = float(coefficients[1])
    t_value = np.inf if standard_error == 0 else abs(slope) / standard_error
    return slope, float(t_value), float(coefficients[0])


def _model_shares(model_totals: Mapping[str, FloatArray]) -> list[ModelShare]:
    names = sorted(model_totals)
    weekly = np.vstack([_weekly_sums(model_totals[name], SHARE_WEEKS) for name in names])
    totals = weekly.sum(axis=0)
    shares_by_week = np.divide(weekly, totals, out=np.zeros_like(weekly), where=totals > 0)
    steady_weeks = min(SHARE_STEADY_WEEKS, weekly.shape[1])
    steady = weekly[:, -steady_weeks:].sum(axis=1)
    steady_share = steady / steady.sum() if steady.sum() > 0 else np.full(len(names), 1.0 / len(names))
    result = []
    for row, name in enumerate(names):
        if weekly[row, -1] <= 0 and totals[-1] > 0:
            continue  # not used in the last week: gone
        result.append(_carried_share(name, shares_by_week[row], float(steady_share[row])))
    total = sum(item.share for item in result) or 1.0
    return [
        ModelShare(item.model, item.share / total, item.weekly_log_change, item.note, item.damping) for item in result
    ]


def _carried_share(name: str, weekly_shares: FloatArray, steady_share: float) -> ModelShare:
    """How a model's share goes on: a migration's trend, a slow drift, or its steady share."""
    first_use = int(np.argmax(weekly_shares > 0))
    log_share = np.log(weekly_shares[first_use:].clip(1e-12))
    slope, t_value, _ = _share_trend(log_share[-SHARE_TREND_WEEKS:])
    if t_value >= SHARE_MIN_T and abs(slope) * (min(len(log_share), SHARE_TREND_WEEKS) - 1) >= SHARE_MIN_CHANGE:
        # A ramp is seldom straight in log share: it starts from the last week's share at its recent pace.
        note = "ramping up" if slope > 0 else "tailing off"
        return ModelShare(name, float(weekly_shares[-1]), slope, note)
    if len(log_share) >= SHARE_DRIFT_MIN_WEEKS and _steady_pace(log_share):
        slope, t_value, fitted_now = _share_trend(log_share)
        if t_value >= SHARE_MIN_T and abs(slope) * (len(log_share) - 1) >= SHARE_DRIFT_MIN_CHANGE:
            note = "drifting up" if slope > 0 else "drifting down"
            return ModelShare(name, float(np.exp(fitted_now)), slope, note, SHARE_DRIFT_DAMPING)
    return ModelShare(name, steady_share, 0.0, "steady")


def _steady_pace(log_share: FloatArray) -> bool:
    """Whether the log share moved the same way at a similar pace (within a factor of two) in both halves of the
    weeks: a drift, not a ramp that has run its course."""
    half = len(log_share) // 2
    first, second = _share_trend(log_share[:half])[0], _share_trend(log_share[half:])[0]
    if first * second <= 0:
        return False
    return min(abs(first), abs(second)) >= 0.5 * max(abs(first), abs(second))


def _future_shares(shares: list[ModelShare], horizon: int) -> FloatArray:
    """Shares per model (rows) and future day (columns): a softmax of log share plus its damped weekly change."""
    weeks_ahead = (np.arange(1, horizon + 1, dtype=np.float64) + 3.0) / 7.0  # from the middle of the last week

    def damped(damping: float) -> FloatArray:
        return np.asarray(damping * (1.0 - damping**weeks_ahead) / (1.0 - damping), dtype=np.float64)

    logits = np.vstack(
        [np.log(max(item.share, 1e-12)) + item.weekly_log_change * damped(item.damping) for item in shares]
    )
    logits -= logits.max(axis=0, keepdims=True)
    weights = np.exp(logits)
    return np.asarray(weights / weights.sum(axis=0, keepdims=True), dtype=np.float64)


def workload_mix(leaves: Mapping[LeafKey, FloatArray], horizon: int) -> MixForecast:
    """Fractions of the workload's future volume per leaf.

    ``leaves`` maps (model, token type) to daily tokens, all ending on the workload's last day (a leaf that started
    later may be shorter; it is padded with zeros at the front).
    """
    if not leaves:
        raise ValueError("a workload needs at least one leaf")
    length = max(len(values) for values in leaves.values())
    padded = {
        key: np.pad(np.asarray(values, dtype=np.float64), (length - len(values), 0)) for key, values in leaves.items()
    }
    model_totals: dict[str, FloatArray] = {}
    for (model, _), values in padded.items():
        model_totals[model] = model_totals.get(model, np.zeros(length)) + values
    recent_total = sum(float(values[-SPLIT_DAYS:].sum()) for values in model_totals.values())
    if recent_total <= 0:
        # Nothing used lately: shares and splits of the last days that had usage.
        used = np.flatnonzero(sum(model_totals.values()))
        end = int(used[-1]) + 1 if len(used) else length
        padded = {key: values[:end] for key, values in padded.items()}
        model_totals = {model: values[:end] for model, values in model_totals.items()}
    shares = _model_shares(model_totals)
    future = _future_shares(shares, horizon)
    fractions: dict[LeafKey, FloatArray] = {}
    for row, share in enumerate(shares):
        model_recent = float(model_totals[share.model][-SPLIT_DAYS:].sum())
        for (model, token_type), values in padded.items():
            if model != share.model:
                continue
            split = float(values[-SPLIT_DAYS:].sum()) / model_recent if model_recent > 0 else 0.0
            if split > 0:
                fractions[(model, token_type)] = future[row] * split
    for key in padded:
        fractions.setdefault(key, np.zeros(horizon))
    return MixForecast(fractions=fractions, shares=shares)
