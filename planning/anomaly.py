"""Is a day unusual, and who drove it (pure: no Django).

A day of one scope (the organization, a team, ...) and one measure (tokens or cost) is compared with the forecast's
mean and 99% band for that day (``DayBand``): ``deviation`` says how far outside the band it fell, ``is_anomalous``
whether that is worth an alert, ``attribute`` which (team, model) cells explain the deviation from the expected
value, and ``describe`` puts it all in one readable sentence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

__all__ = [
    "MEASURES",
    "DayBand",
    "Deviation",
    "Driver",
    "attribute",
    "describe",
    "deviation",
    "is_anomalous",
]

MEASURES: tuple[str, ...] = ("tokens", "cost")


@dataclass(frozen=True)
class DayBand:
    """The forecast of one day of one scope and one measure: its mean and its 99% band."""

    expected: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Deviation:
    """How a day's actual value compares with its band.

    ``excess`` is ``actual - upper`` above the band, ``actual - lower`` (negative) below it and 0 inside it;
    ``direction`` is ``"above"``, ``"below"`` or ``"inside"``; ``ratio`` is ``actual / expected`` (``math.inf``
    when nothing was expected but something happened, 1.0 when both are 0).
    """

    measure: str
    actual: float
    expected: float
    lower: float
    upper: float
    excess: float
    direction: str
    ratio: float


def _ratio(actual: float, expected: float) -> float:
    if expected != 0:
        return actual / expected
    if actual == 0:
        return 1.0
    return math.inf if actual > 0 else -math.inf


def deviation(*, measure: str, actual: float, band: DayBand) -> Deviation:
    """Where ``actual`` falls relative to ``band`` (the band's bounds count as inside).

    Raises ``ValueError`` on an unknown measure, a non-finite number, or a band whose lower bound is above its
    upper bound.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}: expected one of {', '.join(MEASURES)}")
    for name, value in (("actual", actual), ("expected", band.expected), ("lower", band.lower), ("upper", band.upper)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
    if band.lower > band.upper:
        raise ValueError(f"the band's lower bound {band.lower!r} is above its upper bound {band.upper!r}")
    if actual > band.upper:
        excess, direction = actual - band.upper, "above"
    elif actual < band.lower:
        excess, direction = actual - band.lower, "below"
    else:
        excess, direction = 0.0, "inside"
    return Deviation(
        measure=measure,
        actual=actual,
        expected=band.expected,
        lower=band.lower,
        upper=band.upper,
        excess=excess,
        direction=direction,
        ratio=_ratio(actual, band.expected),
    )


def is_anomalous(dev: Deviation, *, min_excess: float = 0.0) -> bool:
    """Whether the day fell outside its band by more than ``min_excess`` (in the measure's unit), so callers can
    ignore sub-cent or tiny token excesses."""
    return dev.direction != "inside" and abs(dev.excess) > min_excess


@dataclass(frozen=True)
class Driver:
    """One (team, model) cell's part in a day's deviation.

    ``delta`` is ``actual - expected``; ``share`` is ``delta`` over the total delta of all cells (sign-aware: the
    share of the organization's deviation this cell explains; above 1 when other cells offset part of it; 0 when
    the total delta is 0).
    """

    team: str
    model: str
    actual: float
    expected: float
    delta: float
    share: float


def attribute(
    *,
    actual_by_cell: Mapping[tuple[str, str], float],
    expected_by_cell: Mapping[tuple[str, str], float],
    limit: int = 3,
) -> list[Driver]:
    """The (team, model) cells that drove a day's deviation, strongest first, at most ``limit`` of them.

    A cell missing from one mapping counts 0 there. Only cells whose delta has the sign of the total delta drive
    it: above expectations the largest positive deltas come first, below them the most negative ones. Ties are
    broken by (team, model). With a total delta of 0 there is nothing to attribute and the list is empty.
    """
    if limit < 0:
        raise ValueError(f"limit must not be negative, not {limit!r}")
    cells = sorted(set(actual_by_cell) | set(expected_by_cell))
    deltas = {cell: actual_by_cell.get(cell, 0.0) - expected_by_cell.get(cell, 0.0) for cell in cells}
    total = math.fsum(deltas.values())
    if total == 0:
        return []
    sign = 1.0 if total > 0 else -1.0
    ranked = sorted((cell for cell in cells if deltas[cell] * sign > 0), key=lambda cell: (-deltas[cell] * sign, cell))
    return [
        Driver(
            team=team,
            model=model,
            actual=actual_by_cell.get((team, model), 0.0),
            expected=expected_by_cell.get((team, model), 0.0),
            delta=deltas[(team, model)],
            share=deltas[(team, model)] / total,
        )
        for team, model in ranked[:limit]
    ]


def _number(value: float, measure: str, *, signed: bool = False) -> str:
    """A value with thousands separators: whole tokens, or money with two decimals; ``signed`` always shows a sign."""
    sign = "+" if signed else ""
    return f"{value:{sign},.2f}" if measure == "cost" else f"{value:{sign},.0f}"


def _with_unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit else text


def describe(*, scope: str, day: date, dev: Deviation, drivers: Sequence[Driver], unit: str) -> str:
    """One sentence about a day's deviation, for an alert.

    Numbers have thousands separators: cost with two decimals followed by ``unit`` (a currency code: "1,234.00
    USD"), tokens as whole numbers followed by ``unit`` when it is not empty (e.g. "tokens"). For example::

        2026-03-14: organization cost 1,234.00 USD is 3.1x the expected 400.00 USD (99% band 300.00-520.00 USD);
        driven by Search / gpt-4o (+800.00 USD, 96% of the excess)
    """
    actual = _with_unit(_number(dev.actual, dev.measure), unit)
    expected = _with_unit(_number(dev.expected, dev.measure), unit)
    band = _with_unit(f"{_number(dev.lower, dev.measure)}-{_number(dev.upper, dev.measure)}", unit)
    comparison = f"is {dev.ratio:.1f}x the expected" if math.isfinite(dev.ratio) else "against an expected"
    sentence = f"{day.isoformat()}: {scope} {dev.measure} {actual} {comparison} {expected} (99% band {band})"
    if not drivers:
        return sentence
    part = "excess" if drivers[0].delta > 0 else "shortfall"
    causes = ", ".join(
        f"{driver.team} / {driver.model} ({_with_unit(_number(driver.delta, dev.measure, signed=True), unit)}, "
        f"{driver.share:.0%} of the {part})"
        for driver in drivers
    )
    return f"{sentence}; driven by {causes}"
