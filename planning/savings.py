"""The savings rules behind recommendations (pure: no Django).

Every saving is computed the same way, so a reader can redo it from a recommendation's evidence::

    saving(month) = sum over token types of tokens(month, type) x unit_saving(type) / 1,000,000

``tokens`` are a forecast's monthly token totals (integers, the daily means of the forecast summed over each full
calendar month and rounded once); ``unit_saving`` is what one million tokens of that type cost less after the change
(USD, negative when the change costs more). Prices are the ones in force on the evaluation day, held flat over the
window. The window is the forecast's first ``WINDOW_MONTHS`` full calendar months (fewer when the horizon is shorter);
``monthly`` is the saving of the first month that counts, ``twelve_month`` the sum over the window. Money is rounded
to cents (ROUND_HALF_UP) only at the end.

The rules and their named assumptions:

* **model switch** (``choose_switch``): a candidate on the same route, priced for every token type the team uses
  (cached input and cache writes at the candidate's own price for them, else its input price), scored on the same
  leaderboard snapshot as the current model. Kept when cheaper on the team's token mix and scoring at least the
  current score minus ``QUALITY_TOLERANCE`` points; the cheapest is proposed. Confidence is high when it scores at
  least as well, medium when it scores lower within the tolerance (then ``lower_quality`` with the gap).
* **prompt caching** (``caching_check``, ``caching_unit_saving``): input is at least ``CACHING_MIN_INPUT_SHARE`` of the
  tokens and cached input under ``CACHING_MAX_CACHED_SHARE`` of all input; ``CACHE_HIT_RATE`` of today's uncached
  input would be read at the cached price, the rest written at the cache-write price (or, without one, still read at
  the input price).
* **batch** (``weekly_shape``, ``batch_unit_savings``): traffic whose weekend days carry at least
  ``BATCH_MIN_WEEKEND_RATIO`` of a weekday's tokens (over the last ``BATCH_SHAPE_WINDOW_DAYS`` days of history, at
  least ``BATCH_MIN_HISTORY_DAYS``) runs without people waiting on it; ``BATCH_ELIGIBLE_SHARE`` of its input and
  output moves to the batch tier, which charges ``multiplier`` x the price.
* **deprecation**: the successor's prices replace the current ones from the month of the deprecation date on
  (``applies_from``); earlier months save nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from finops.catalog import PRICED_TOKEN_TYPES  # pure, like this module; ``other`` tokens have no price

__all__ = [
    "BATCH_ELIGIBLE_SHARE",
    "BATCH_MIN_HISTORY_DAYS",
    "BATCH_MIN_WEEKEND_RATIO",
    "BATCH_SHAPE_WINDOW_DAYS",
    "BATCH_TOKEN_TYPES",
    "CACHE_HIT_RATE",
    "CACHING_MAX_CACHED_SHARE",
    "CACHING_MIN_INPUT_SHARE",
    "DEPRECATION_LOOKAHEAD_DAYS",
    "FORMULA",
    "PRICED_TOKEN_TYPES",
    "QUALITY_TOLERANCE",
    "WINDOW_MONTHS",
    "CachingCheck",
    "MonthTokens",
    "Price",
    "Quality",
    "Savings",
    "SwitchChoice",
    "SwitchOption",
    "WeeklyShape",
    "batch_unit_savings",
    "caching_check",
    "caching_unit_saving",
    "choose_switch",
    "evidence",
    "full_months",
    "money",
    "month_tokens",
    "savings",
    "switch_unit_savings",
    "token_totals",
    "weekly_shape",
]

MILLION = Decimal(1_000_000)
CENT = Decimal("0.01")
WINDOW_MONTHS = 12
QUALITY_TOLERANCE = Decimal("2.0")
CACHE_HIT_RATE = Decimal("0.5")
CACHING_MIN_INPUT_SHARE = Decimal("0.5")
CACHING_MAX_CACHED_SHARE = Decimal("0.2")
BATCH_ELIGIBLE_SHARE = Decimal("0.3")
BATCH_MIN_WEEKEND_RATIO = 0.6
BATCH_SHAPE_WINDOW_DAYS = 56
BATCH_MIN_HISTORY_DAYS = 14
BATCH_TOKEN_TYPES = ("input", "output")
DEPRECATION_LOOKAHEAD_DAYS = 365
FORMULA = "saving(month) = sum over token types of tokens[month][type] x unit_savings_usd_per_million[type] / 1e6"


def money(value: Decimal) -> Decimal:
    """``value`` rounded to cents, halves away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Price:
    """A price per million tokens a saving uses, and where it came from (``note`` says when it stands in for a
    price the model does not list, e.g. its input price for cached input)."""

    usd_per_million: Decimal
    effective_from: date | None
    source: str
    override: str = ""
    note: str = ""

    def as_evidence(self) -> dict[str, str | None]:
        found: dict[str, str | None] = {
            "usd_per_million": str(self.usd_per_million),
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "source": self.source,
        }
        if self.override:
            found["override"] = self.override
        if self.note:
            found["note"] = self.note
        return found


@dataclass(frozen=True)
class Quality:
    """A model's score in one leaderboard snapshot (scores compare only within one ``score_name`` and ``as_of``)."""

    score_name: str
    as_of: date
    score: Decimal
    model: str
    source: str

    @property
    def snapshot(self) -> tuple[str, date]:
        return self.score_name, self.as_of

    def as_evidence(self) -> dict[str, str]:
        return {
            "score_name": self.score_name,
            "as_of": self.as_of.isoformat(),
            "score": str(self.score),
            "model": self.model,
            "source": self.source,
        }


@dataclass(frozen=True)
class MonthTokens:
    """One full calendar month of a forecast: its first day, its length and its tokens per token type."""

    month: date
    days: int
    tokens: Mapping[str, int]

    def as_evidence(self) -> dict[str, Any]:
        return {"month": self.month.isoformat(), "days": self.days, "tokens": dict(sorted(self.tokens.items()))}


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def full_months(*, start: date, days: int, limit: int = WINDOW_MONTHS) -> list[tuple[date, int]]:
    """The first ``limit`` calendar months wholly inside ``days`` days from ``start``: (first day, length)."""
    end = start + timedelta(days=days - 1)
    month = start if start.day == 1 else _next_month(start)
    months: list[tuple[date, int]] = []
    while len(months) < limit:
        following = _next_month(month)
        if following - timedelta(days=1) > end:
            break
        months.append((month, (following - month).days))
        month = following
    return months


def month_tokens(
    *, start: date, daily: Mapping[str, Sequence[float]], months: Sequence[tuple[date, int]]
) -> list[MonthTokens]:
    """Monthly token totals per token type from daily means starting on ``start`` (each month's sum rounded once)."""
    result = []
    for month, length in months:
        offset = (month - start).days
        tokens = {
            token_type: round(math.fsum(values[offset : offset + length])) for token_type, values in daily.items()
        }
        result.append(MonthTokens(month=month, days=length, tokens=tokens))
    return result


def token_totals(months: Sequence[MonthTokens]) -> dict[str, int]:
    """Tokens per token type over all ``months``."""
    totals: dict[str, int] = {}
    for month in months:
        for token_type, tokens in month.tokens.items():
            totals[token_type] = totals.get(token_type, 0) + tokens
    return totals


@dataclass(frozen=True)
class Savings:
    """What a change saves over a window: each month's saving (unrounded; zero before ``applies_from``), the first
    month that counts (``monthly_month``), how many months count, and the two rounded figures (None when no month of
    the window counts)."""

    per_month: tuple[Decimal, ...]
    monthly_month: date | None
    months_counted: int
    monthly: Decimal | None
    twelve_month: Decimal | None


def savings(
    months: Sequence[MonthTokens], unit_savings: Mapping[str, Decimal], *, applies_from: date | None = None
) -> Savings:
    """The saving of each month of ``months`` (see the module docstring), counting months from ``applies_from``."""
    per_month: list[Decimal] = []
    counted: list[tuple[date, Decimal]] = []
    for month in months:
        if applies_from is not None and month.month < applies_from:
            per_month.append(Decimal(0))
            continue
        saved = sum(
            (Decimal(month.tokens.get(token_type, 0)) * unit for token_type, unit in unit_savings.items()),
            Decimal(0),
        )
        saved /= MILLION
        per_month.append(saved)
        counted.append((month.month, saved))
    if not counted:
        return Savings(tuple(per_month), None, 0, None, None)
    total = sum((saved for _, saved in counted), Decimal(0))
    return Savings(tuple(per_month), counted[0][0], len(counted), money(counted[0][1]), money(total))


def switch_unit_savings(prices_from: Mapping[str, Price], prices_to: Mapping[str, Price]) -> dict[str, Decimal]:
    """Per token type priced on both sides: the current price minus the new one (USD per million)."""
    return {
        token_type: prices_from[token_type].usd_per_million - prices_to[token_type].usd_per_million
        for token_type in PRICED_TOKEN_TYPES
        if token_type in prices_from and token_type in prices_to
    }


def caching_unit_saving(
    *, input_price: Price, cached_price: Price, write_price: Price | None, hit_rate: Decimal = CACHE_HIT_RATE
) -> Decimal:
    """What caching saves per million of today's uncached input tokens: the input price minus
    ``hit_rate x cached + (1 - hit_rate) x (cache-write price, or the input price without one)``."""
    rest = write_price.usd_per_million if write_price is not None else input_price.usd_per_million
    return input_price.usd_per_million - (hit_rate * cached_price.usd_per_million + (1 - hit_rate) * rest)


def batch_unit_savings(
    *, prices: Mapping[str, Price], multipliers: Mapping[str, Decimal], share: Decimal = BATCH_ELIGIBLE_SHARE
) -> dict[str, Decimal]:
    """Per batch-discounted token type (input, output) with a multiplier: ``share x (1 - multiplier) x price``."""
    return {
        token_type: share * (1 - multipliers[token_type]) * prices[token_type].usd_per_million
        for token_type in BATCH_TOKEN_TYPES
        if token_type in prices and token_type in multipliers
    }


@dataclass(frozen=True)
class CachingCheck:
    """A token mix measured for caching: input's share of all tokens, cached input's share of all input."""

    input_share: Decimal
    cached_share: Decimal
    eligible: bool

    def as_evidence(self) -> dict[str, float | bool]:
        return {
            "input_share": round(float(self.input_share), 4),
            "cached_share": round(float(self.cached_share), 4),
            "eligible": self.eligible,
        }


def caching_check(totals: Mapping[str, int]) -> CachingCheck:
    """Whether a mix is worth caching: input >= ``CACHING_MIN_INPUT_SHARE`` of all tokens and cached input
    < ``CACHING_MAX_CACHED_SHARE`` of all input."""
    uncached, cached = totals.get("input", 0), totals.get("cached_input", 0)
    everything = sum(totals.values())
    input_share = Decimal(uncached) / Decimal(everything) if everything else Decimal(0)
    cached_share = Decimal(cached) / Decimal(uncached + cached) if uncached + cached else Decimal(0)
    eligible = uncached > 0 and input_share >= CACHING_MIN_INPUT_SHARE and cached_share < CACHING_MAX_CACHED_SHARE
    return CachingCheck(input_share=input_share, cached_share=cached_share, eligible=eligible)


@dataclass(frozen=True)
class WeeklyShape:
    """Daily tokens of the last days of history, weekdays against weekends; ``tolerates_delay`` when weekends carry
    at least ``BATCH_MIN_WEEKEND_RATIO`` of a weekday's tokens over at least ``BATCH_MIN_HISTORY_DAYS`` days."""

    first_day: date
    last_day: date
    days: int
    weekday_mean: float
    weekend_mean: float
    weekend_ratio: float | None
    tolerates_delay: bool

    def as_evidence(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "days": self.days,
            "weekday_mean_tokens": round(self.weekday_mean, 1),
            "weekend_mean_tokens": round(self.weekend_mean, 1),
            "weekend_to_weekday_ratio": round(self.weekend_ratio, 4) if self.weekend_ratio is not None else None,
            "tolerates_delay": self.tolerates_delay,
        }


def weekly_shape(*, start: date, values: Sequence[float], window_days: int = BATCH_SHAPE_WINDOW_DAYS) -> WeeklyShape:
    """The weekday/weekend shape of the last ``window_days`` of a daily series starting on ``start``."""
    offset = max(len(values) - window_days, 0)
    first_day = start + timedelta(days=offset)
    weekday: list[float] = []
    weekend: list[float] = []
    for index, value in enumerate(values[offset:]):
        (weekend if (first_day + timedelta(days=index)).weekday() >= 5 else weekday).append(float(value))
    weekday_mean = math.fsum(weekday) / len(weekday) if weekday else 0.0
    weekend_mean = math.fsum(weekend) / len(weekend) if weekend else 0.0
    ratio = weekend_mean / weekday_mean if weekday_mean > 0 and weekend else None
    days = len(values) - offset
    return WeeklyShape(
        first_day=first_day,
        last_day=first_day + timedelta(days=max(days - 1, 0)),
        days=days,
        weekday_mean=weekday_mean,
        weekend_mean=weekend_mean,
        weekend_ratio=ratio,
        tolerates_delay=ratio is not None and days >= BATCH_MIN_HISTORY_DAYS and ratio >= BATCH_MIN_WEEKEND_RATIO,
    )


@dataclass(frozen=True)
class SwitchOption:
    """A model a team could move to, with its prices for the team's token types and its score (None: unscored in
    the current model's snapshot)."""

    model: str
    prices: Mapping[str, Price]
    quality: Quality | None


@dataclass(frozen=True)
class SwitchChoice:
    """The proposed switch: the option, its unit savings, what it saves on the team's mix, the quality gap (current
    minus candidate; positive = lower quality), confidence, and how many options were weighed."""

    option: SwitchOption
    unit_savings: dict[str, Decimal]
    saving: Decimal
    quality_gap: Decimal
    lower_quality: bool
    confidence: str
    counts: dict[str, int] = field(default_factory=dict)


def _mix_saving(totals: Mapping[str, int], unit_savings: Mapping[str, Decimal]) -> Decimal:
    return sum((Decimal(totals.get(token_type, 0)) * unit for token_type, unit in unit_savings.items()), Decimal(0))


def choose_switch(
    *,
    prices_from: Mapping[str, Price],
    quality_from: Quality,
    options: Sequence[SwitchOption],
    totals: Mapping[str, int],
    tolerance: Decimal = QUALITY_TOLERANCE,
) -> SwitchChoice | None:
    """The cheapest option on the team's mix that scores at least ``quality_from - tolerance`` in the same
    snapshot (ties: the better score, then the name), or None when no option is cheaper and good enough."""
    counts = {"considered": 0, "unscored": 0, "not_cheaper": 0, "below_quality_bar": 0, "eligible": 0}
    kept: list[tuple[Decimal, Decimal, str, SwitchOption, dict[str, Decimal]]] = []
    for option in options:
        counts["considered"] += 1
        if option.quality is None or option.quality.snapshot != quality_from.snapshot:
            counts["unscored"] += 1
            continue
        unit = switch_unit_savings(prices_from, option.prices)
        saving = _mix_saving(totals, unit)
        if saving <= 0:
            counts["not_cheaper"] += 1
        elif option.quality.score < quality_from.score - tolerance:
            counts["below_quality_bar"] += 1
        else:
            counts["eligible"] += 1
            kept.append((saving, option.quality.score, option.model, option, unit))
    if not kept:
        return None
    saving, score, _, option, unit = min(kept, key=lambda item: (-item[0], -item[1], item[2]))
    gap = quality_from.score - score
    return SwitchChoice(
        option=option,
        unit_savings=unit,
        saving=saving,
        quality_gap=gap,
        lower_quality=gap > 0,
        confidence="high" if gap <= 0 else "medium",
        counts=counts,
    )


def evidence(
    *,
    months: Sequence[MonthTokens],
    result: Savings,
    unit_savings: Mapping[str, Decimal],
    prices_from: Mapping[str, Price],
    prices_to: Mapping[str, Price],
    assumptions: Mapping[str, float | int | str],
    notes: Sequence[str] = (),
    formula: str = FORMULA,
    **extra: Any,
) -> dict[str, Any]:
    """The common evidence shape: months and their tokens, the window, prices on both sides, unit savings, every
    assumption by name, the formula and the resulting figures (decimal strings). ``extra`` adds kind-specific keys."""
    counted = result.months_counted
    window = f"the first {len(months)} full calendar months of the forecast"
    if len(months) < WINDOW_MONTHS:
        window += f" (the horizon covers only {len(months)}; the twelve-month figure sums those)"
    return {
        "months": [month.as_evidence() for month in months],
        "window": window,
        "monthly_month": result.monthly_month.isoformat() if result.monthly_month else None,
        "months_counted": counted,
        "prices_from": {token_type: price.as_evidence() for token_type, price in sorted(prices_from.items())},
        "prices_to": {token_type: price.as_evidence() for token_type, price in sorted(prices_to.items())},
        "unit_savings_usd_per_million": {token_type: str(unit) for token_type, unit in sorted(unit_savings.items())},
        "assumptions": dict(assumptions),
        "formula": formula,
        "notes": list(notes),
        "monthly_savings_by_month": [str(saved) for saved in result.per_month],
        "monthly_savings": str(result.monthly) if result.monthly is not None else None,
        "twelve_month_savings": str(result.twelve_month) if result.twelve_month is not None else None,
        **extra,
    }
