"""The rules of budgets (pure: no Django): which period a day belongs to, how a period is likely to end, when its
amount is (or will be) exceeded, which alert thresholds are crossed, and whether children outgrow their parent.

A budget has a period kind (``"month"``, ``"quarter"`` or ``"year"``), starts on ``starts_on`` (always the first day
of a month, so a fiscal year may start in April) and repeats every period from there. It may have ``ends_on``, the
inclusive last day on which it applies (``None``: open-ended). ``ends_on`` only bounds which periods exist: a period
is never cut short by it, so a quarterly budget ending on 2026-11-15 still has the period 2026-10-01..2026-12-31.

Money amounts are plain floats in the budget's currency; nothing here knows about currencies or rounding.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_THRESHOLD",
    "PERIOD_KINDS",
    "PERIOD_MONTHS",
    "PeriodOutlook",
    "breach_date",
    "children_excess",
    "highest_threshold_crossed",
    "month_starts",
    "period_bounds",
    "period_outlook",
    "thresholds_crossed",
    "validate_thresholds",
]

PERIOD_KINDS: tuple[str, ...] = ("month", "quarter", "year")
PERIOD_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}
MAX_THRESHOLD = 10.0  # an alert at 10x the amount is the highest that makes sense


def _add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month (``day`` is a first of a month)."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _months_between(first: date, later: date) -> int:
    """How many month boundaries lie between ``first``'s month and ``later``'s month."""
    return (later.year - first.year) * 12 + (later.month - first.month)


def period_bounds(*, starts_on: date, kind: str, on: date, ends_on: date | None = None) -> tuple[date, date]:
    """The period ``(first day, last day inclusive)`` of the repeating budget that contains ``on``.

    The budget's periods are ``kind``-long, back to back from ``starts_on``. ``ends_on`` only decides whether ``on``
    is covered at all; the period returned is always whole, even when ``ends_on`` falls inside it.

    Raises ``ValueError`` when ``kind`` is unknown, ``starts_on`` is not the first day of a month, ``ends_on`` is
    before ``starts_on``, or ``on`` is before ``starts_on`` or after ``ends_on``.
    """
    if kind not in PERIOD_MONTHS:
        raise ValueError(f"unknown period kind {kind!r}: expected one of {', '.join(PERIOD_KINDS)}")
    if starts_on.day != 1:
        raise ValueError(f"a budget starts on the first day of a month, not on {starts_on.isoformat()}")
    if ends_on is not None and ends_on < starts_on:
        raise ValueError(f"the budget ends on {ends_on.isoformat()}, before it starts on {starts_on.isoformat()}")
    if on < starts_on:
        raise ValueError(f"{on.isoformat()} is before the budget starts on {starts_on.isoformat()}")
    if ends_on is not None and on > ends_on:
        raise ValueError(f"{on.isoformat()} is after the budget ends on {ends_on.isoformat()}")
    length = PERIOD_MONTHS[kind]
    index = _months_between(starts_on, on) // length
    first = _add_months(starts_on, index * length)
    last = _add_months(first, length) - timedelta(days=1)
    return first, last


def month_starts(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s month through ``last``'s month (empty when ``last`` is in an
    earlier month than ``first``)."""
    start = first.replace(day=1)
    return [_add_months(start, offset) for offset in range(_months_between(start, last) + 1)]


@dataclass(frozen=True)
class PeriodOutlook:
    """How a budget period is likely to end.

    ``actual`` is the cost so far; ``forecast`` is ``actual`` plus the mean of the sampled remaining cost;
    ``lower``/``upper`` bound the central interval (80% by default) of ``actual`` plus the remaining paths, widened
    to include ``forecast`` if needed; ``overrun_probability`` is the share of paths that end above the amount;
    ``paths`` is how many sampled paths were used (0 when nothing of the period is left).
    """

    actual: float
    forecast: float
    lower: float
    upper: float
    overrun_probability: float
    paths: int


def _require_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")


def period_outlook(
    *,
    actual: float,
    amount: float,
    remaining_paths: npt.ArrayLike | None,
    width: float = 0.8,
    point: float | None = None,
) -> PeriodOutlook:
    """The outlook of a period from its ``actual`` cost so far and sampled totals of its remaining cost.

    Each element of ``remaining_paths`` (shape ``(n_samples,)``) is one sampled path's total cost over the
    remaining days of the period. The point is the mean of the paths (not the median); the interval is the central
    ``width`` quantiles (``numpy.quantile``, linear method), widened to contain the point. ``point``, when given,
    replaces the paths' mean as the remaining cost's point (the forecast's own point: mean tokens x point price,
    so a budget's forecast agrees with the run's monthly figures). A path overruns when
    ``actual + path > amount`` (strictly). With no paths (``None`` or empty: nothing of the period is left), the
    outlook is the actual cost itself, and the overrun probability is 1.0 if ``actual > amount`` else 0.0.

    Raises ``ValueError`` on a negative or non-finite amount, a non-finite actual or path, a 2-D (or 0-D) array of
    paths, or a width outside (0, 1).
    """
    _require_finite("actual", actual)
    _require_finite("amount", amount)
    if amount < 0:
        raise ValueError(f"the budget amount must not be negative, not {amount!r}")
    if not 0 < width < 1:
        raise ValueError(f"the interval width must be between 0 and 1 (exclusive), not {width!r}")
    paths = np.zeros(0) if remaining_paths is None else np.asarray(remaining_paths, dtype=float)
    if paths.ndim != 1:
        raise ValueError(f"remaining_paths must be 1-D (one total per sampled path), not of shape {paths.shape}")
    if paths.size == 0:
        return PeriodOutlook(
            actual=actual,
            forecast=actual,
            lower=actual,
            upper=actual,
            overrun_probability=1.0 if actual > amount else 0.0,
            paths=0,
        )
    if not np.all(np.isfinite(paths)):
        raise ValueError("remaining_paths must hold finite numbers only (found NaN or infinity)")
    tail = (1 - width) / 2
    low, high = (float(q) for q in np.quantile(paths, [tail, 1 - tail]))
    if point is not None:
        _require_finite("point", point)
    forecast = actual + (float(paths.mean()) if point is None else point)
    return PeriodOutlook(
        actual=actual,
        forecast=forecast,
        lower=min(actual + low, forecast),
        upper=max(actual + high, forecast),
        overrun_probability=float(np.count_nonzero(actual + paths > amount)) / paths.size,
        paths=int(paths.size),
    )


def _daily_costs(
    *,
    period_start: date,
    period_end: date,
    actual_daily: Sequence[tuple[date, float]],
    forecast_start: date | None,
    forecast_daily: Sequence[float],
) -> list[tuple[date, float]]:
    """The period's cost per day, in date order: actual before ``forecast_start``, forecast from it on."""
    costs: dict[date, float] = {}
    for day, cost in actual_daily:
        if period_start <= day <= period_end and (forecast_start is None or day < forecast_start):
            costs[day] = costs.get(day, 0.0) + float(cost)
    if forecast_start is not None:
        for offset, cost in enumerate(forecast_daily):
            day = forecast_start + timedelta(days=offset)
            if day > period_end:
                break
            if day >= period_start:
                costs[day] = costs.get(day, 0.0) + float(cost)
    return sorted(costs.items())


def breach_date(
    *,
    amount: float,
    period_start: date,
    actual_daily: Sequence[tuple[date, float]],
    forecast_start: date | None,
    forecast_daily: Sequence[float],
    period_end: date,
) -> date | None:
    """The first day of the period on which the running cost exceeds ``amount`` (strictly), or ``None``.

    The running cost adds, day by day from ``period_start`` through ``period_end``:

    * the actual cost of each day before ``forecast_start`` (all of ``actual_daily`` when it is ``None``; costs of
      the same day add up; ``actual_daily`` need not be sorted);
    * the forecast mean cost of each day from ``forecast_start`` on, ``forecast_daily[i]`` being the cost of the
      day ``forecast_start + i``; actual costs on or after ``forecast_start`` are ignored.

    Days outside the period (on either side, actual or forecast) are ignored; days with no data cost nothing.
    When ``amount <= 0`` any spending breaches: the answer is the first day with a positive cost.
    """
    _require_finite("amount", amount)
    if period_end < period_start:
        raise ValueError(f"the period ends on {period_end.isoformat()}, before it starts on {period_start.isoformat()}")
    days = _daily_costs(
        period_start=period_start,
        period_end=period_end,
        actual_daily=actual_daily,
        forecast_start=forecast_start,
        forecast_daily=forecast_daily,
    )
    if amount <= 0:
        return next((day for day, cost in days if cost > 0), None)
    total = 0.0
    for day, cost in days:
        total += cost
        if total > amount:
            return day
    return None


def thresholds_crossed(*, actual: float, amount: float, thresholds: Sequence[float]) -> list[float]:
    """The thresholds ``t`` (fractions of ``amount``: 0.8 is 80%) with ``actual >= t * amount``, ascending and
    without repeats."""
    return sorted({float(t) for t in thresholds if actual >= t * amount})


def highest_threshold_crossed(*, actual: float, amount: float, thresholds: Sequence[float]) -> float | None:
    """The highest threshold crossed by ``actual`` (see ``thresholds_crossed``), or ``None`` when none is."""
    crossed = thresholds_crossed(actual=actual, amount=amount, thresholds=thresholds)
    return crossed[-1] if crossed else None


def validate_thresholds(thresholds: Sequence[Any]) -> list[float]:
    """Alert thresholds as sorted unique floats; each must be a finite number with ``0 < t <= 10``.

    Raises ``ValueError`` naming the first bad value, or when there is no threshold at all. Booleans and strings
    (even numeric ones) are not numbers here.
    """
    if len(thresholds) == 0:
        raise ValueError("a budget needs at least one threshold")
    values: set[float] = set()
    for raw in thresholds:
        if isinstance(raw, bool) or not isinstance(raw, numbers.Real | Decimal):
            raise ValueError(f"threshold {raw!r} is not a number")
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"threshold {raw!r} is not a finite number")
        if not 0 < value <= MAX_THRESHOLD:
            raise ValueError(f"threshold {raw!r} is out of range: it must be above 0 and at most {MAX_THRESHOLD:g}")
        values.add(value)
    return sorted(values)


def children_excess(*, parent_amount: float, child_amounts: Sequence[float]) -> float | None:
    """How much the children's amounts add up to more than their parent's (``sum(children) - parent``), or
    ``None`` when they fit within it (equal counts as fitting)."""
    excess = math.fsum(child_amounts) - parent_amount
    return excess if excess > 0 else None
