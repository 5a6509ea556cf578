"""Pure price projection: what a million tokens of each type will cost on every future day.

Prophet forecasts token *volume*; prices come from here (``reference/price-decline.md`` section 4). A forecast
line's cost is ``cost(t) = sum_k tokens_k(t) * unit_price_k(t) * batch_multiplier_k``, and this module supplies
``unit_price_k(t)`` for a horizon of days, deterministically per scenario and as Monte Carlo paths for intervals.
It imports no Django: data in, data out.

Units and money
    List prices (``PriceStep``, ``price_in_force``) are ``Decimal`` USD per million tokens, as stored. Projection
    math is float64 (USD per million tokens, or dimensionless multipliers); callers round money to cents at the
    edge. Day offset ``d`` is the date ``start + d``; ``t`` below is months since ``start``,
    ``t = d / 30.4375`` (a month is 365.25 / 12 days, a year 365.25 days). Blended prices weight token types by a
    mix, 3 input : 1 output unless a mix is given (types of the mix that a SKU does not price are left out and
    the remaining weights renormalised).

Every projection is ``unit_price_k(t) = reference_k(t) * multiplier(t)``
    ``reference_k(t)`` is the current SKU's list price in force on day t: today's price carried forward, with
    future-dated (scheduled) steps honoured on their date. ``multiplier(t)`` is one number for all token types
    (so the token mix of a price never changes) and depends on the migration policy and the scenario:

    * ``stay`` and ``follow_tier`` (drift): ``multiplier(t) = (1 + r) ** (t / 12)``, i.e. the annual drift ``r``
      compounded continuously from the forecast start. Stay: conservative +5%, base 0%, aggressive -25% a year;
      follow tier (the vendor's successor in the tier): +20%, 0%, -40% a year (a 1.7x annual factor).
    * ``cheapest_at_bar`` (lag, exponential decline, fade): with lag ``L`` months and annual factor ``f`` from the
      scenario's row for the tier, the decline rate in natural-log units per year is

        rate(s) = 0                                          for s < L
        rate(s) = ln f                                       for L <= s < 24
        rate(s) = ln f + (ln g - ln f) * min(1, (s - 24) / 12)   for s >= 24,   g = min(f, 3)

      i.e. a linear blend in log space over months 24-36 from ``f`` to 3x/yr (Gundlach's algorithmic-only rate),
      then 3x/yr; a rate already at or below 3x/yr is left alone (the fade slows declines, never speeds them up).
      The decline multiplier is ``exp(-integral_0^t rate(s) ds / 12)``: exactly ``P0`` while ``t < L`` and
      ``f ** (-(t - L) / 12)`` until month 24. The cheapest model at the bar is never dearer than the current SKU
      (which meets the bar itself), so in blended terms::

        multiplier(t) = min(1, blended_today * decline(t) / blended_reference(t))

Floors (applied to every policy, per Monte Carlo path too)
    * Decline cap, 100x per 24 months: the horizon is cut into consecutive 24-month blocks from ``start``; within
      each block the log-multiplier may fall at most ``ln 100`` below its value at the block start
      (``m_capped(t) = m_capped(b) * max(m(t) / m(b), 1/100)`` for t in the block starting at b). Within the
      first two years the model multiplier therefore never goes below 0.01.
    * Blended floor, $0.02 per million tokens: the model multiplier never goes below
      ``min(1, 0.02 / blended)``, where ``blended`` is today's blended price (cheapest at bar) or the reference's
      blended price on that day (stay, follow tier). All token types are scaled by the same factor, so the
      blended price stops exactly at $0.02 (a SKU already below $0.02 is not projected further down). A scheduled
      list price below the floor is a known price and is kept.

Scenarios
    ``SCENARIOS`` holds the table of section 4.1/4.2. Cheapest at bar (lag months, annual factor):
    commodity (0, 5x) / (0, 10x) / (0, 20x); mid (3, 3x) / (1.5, 13x) / (0, 40x); frontier (12, 1x) / (6, 10x) /
    (3, 40x) for conservative / base / aggressive. The mid lag range "0-3 months" is read as 3 / 1.5 / 0.

Monte Carlo (``sample_price_paths``)
    Cheapest at bar: ``ln f ~ Normal(ln f_base, sigma)``, ``sigma = (ln f_aggressive - ln f_conservative) / 3.29``,
    truncated at ``ln f >= 0`` (the cheapest model at the bar never gets dearer), and
    ``L ~ Uniform(min(L_cons, L_aggr), max(L_cons, L_aggr))``. Stay / follow tier: the continuously compounded
    drift ``ln(1 + r) ~ Normal(mu, s)`` with ``mu`` and ``s`` chosen so that its 5% and 95% quantiles are the
    aggressive and conservative drifts: ``mu = (ln(1 + r_cons) + ln(1 + r_aggr)) / 2``,
    ``s = (ln(1 + r_cons) - ln(1 + r_aggr)) / 3.29``. Its median (-11.3%/yr for stay, -15.1%/yr for follow tier)
    is the centre of that range, not the base scenario's 0%. Likewise the frontier lag draws centre on 7.5 months,
    not the base 6, so frontier paths sit a little above the base path. Cap and floors then apply per path.

Demand elasticity
    Constant-elasticity demand: ``volume_multiplier = price_ratio ** (-elasticity)`` where ``price_ratio`` is the
    blended price on day t over today's. Elasticity 0 (the default) leaves volume alone; a 10x cheaper token with
    elasticity 0.3 brings ``10 ** 0.3 = 1.995x`` the tokens.

Batch and caching
    Batch tokens cost 0.5x for input and output only: ``batch_multiplier = 1 - 0.5 * batch_share``; cached input
    and cache writes are not discounted. A SKU without a cached-input or cache-write price is charged its input
    price for those tokens (no caching discount or premium is assumed).

Fitting rates from history (section 4.3)
    ``cheapest_at_bar_series`` builds, per calendar month, the lowest blended price in force at any time in the
    month among models scoring at or above the bar. ``fit_decline_rate`` fits OLS ``ln price = a + b * years``,
    ``f = exp(-b)``, 90% CI ``exp(-b -/+ t_{0.95, n-2} * se(b))``. When the window is under 12 months or the
    cheapest model changed fewer than 3 times, ``ln f`` is shrunk toward the prior by a precision-weighted mean,
    ``ln f_post = (ln f_ols / se^2 + ln f_prior / tau^2) / (1 / se^2 + 1 / tau^2)`` with
    ``tau = ln 3 / 1.645``, and the CI becomes ``exp(ln f_post -/+ 1.645 * se_post)``,
    ``se_post = (1 / se^2 + 1 / tau^2) ** -0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from statistics import NormalDist
from types import MappingProxyType
from typing import TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "AGGRESSIVE",
    "BASE",
    "BATCH_DISCOUNTED_TOKEN_TYPES",
    "BATCH_PRICE_FACTOR",
    "BLENDED_PRICE_FLOOR",
    "CHEAPEST_AT_BAR",
    "CONSERVATIVE",
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "DECLINE_CAP_FACTOR",
    "DECLINE_CAP_MONTHS",
    "DEFAULT_MIX",
    "FADE_ANNUAL_FACTOR",
    "FADE_MONTHS",
    "FADE_START_MONTHS",
    "FOLLOW_TIER",
    "POLICIES",
    "PRIOR_SD_LN_FACTOR",
    "SCENARIOS",
    "STAY",
    "TIERS",
    "TOKEN_TYPES",
    "CheapestPricePoint",
    "DeclineCurve",
    "DeclineFit",
    "ModelPriceRecord",
    "PriceProjection",
    "PriceSchedule",
    "PriceStep",
    "Scenario",
    "batch_multiplier",
    "blended_price",
    "cheapest_at_bar_series",
    "effective_unit_price",
    "fit_decline_rate",
    "get_scenario",
    "normalize_steps",
    "price_in_force",
    "price_multiplier",
    "price_multipliers",
    "project_prices",
    "sample_price_paths",
    "volume_multiplier",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
PriceLike = TypeVar("PriceLike", float, FloatArray)
StepLike: TypeAlias = "PriceStep | tuple[date, Decimal | int | float]"

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12

STAY = "stay"
FOLLOW_TIER = "follow_tier"
CHEAPEST_AT_BAR = "cheapest_at_bar"
POLICIES = (STAY, FOLLOW_TIER, CHEAPEST_AT_BAR)
"""Migration policies: keep the SKU, follow the vendor's tier, move to the cheapest model at the quality bar."""

TIERS = ("commodity", "mid", "frontier")
"""Distance of the current model from the frontier at forecast start: >=18, 6-18, <=6 months behind."""

TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")

DEFAULT_MIX: Mapping[str, float] = MappingProxyType({"input": 3.0, "output": 1.0})
"""Blend weights of the blended price: 3 input tokens to 1 output token, as in the published price studies."""

DECLINE_CAP_FACTOR = 100.0
DECLINE_CAP_MONTHS = 24.0
"""The projected price falls at most ``DECLINE_CAP_FACTOR`` times per ``DECLINE_CAP_MONTHS`` block."""

BLENDED_PRICE_FLOOR = 0.02
"""USD per million blended tokens below which no first-party price is projected (section 4.2)."""

FADE_START_MONTHS = 24.0
FADE_MONTHS = 12.0
FADE_ANNUAL_FACTOR = 3.0
"""From month 24 the decline rate blends (linearly in log space, over 12 months) toward 3x a year."""

BATCH_PRICE_FACTOR = 0.5
BATCH_DISCOUNTED_TOKEN_TYPES = frozenset({"input", "output"})

QUANTILE_SPREAD = 3.29
"""Width of a 90% normal interval in standard deviations (2 * 1.645): conservative..aggressive span it."""

PRIOR_SD_LN_FACTOR = math.log(3.0) / 1.645
"""Prior SD of ln f when shrinking a fitted rate: the prior's 90% interval spans a factor 3 either way."""

SHRINK_BELOW_WINDOW_MONTHS = 12
SHRINK_BELOW_MODEL_CHANGES = 3

_Z95 = NormalDist().inv_cdf(0.95)
"""One-sided 95% normal quantile (1.64485), for two-sided 90% intervals."""

_T95_BY_DOF = (6.3138, 2.9200, 2.3534, 2.1318, 2.0150, 1.9432, 1.8946, 1.8595)
"""One-sided 95% Student t quantiles for 1..8 degrees of freedom; beyond, the expansion is within 6e-5."""


# --------------------------------------------------------------------------- validation
# (first: the scenario table below is validated when the module is imported)


def _check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    return policy


def _check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
    return tier


def _check_optional_tier(tier: str | None) -> str | None:
    return None if tier is None else _check_tier(tier)


def _require_tier(tier: str | None) -> str:
    if tier is None:
        raise ValueError(f"the cheapest_at_bar policy needs a tier: one of {', '.join(TIERS)}")
    return _check_tier(tier)


def _check_token_type(token_type: str) -> None:
    if token_type not in TOKEN_TYPES:
        raise ValueError(f"unknown token type {token_type!r}; expected one of {', '.join(TOKEN_TYPES)}")


def _resolve_scenario(scenario: Scenario | str) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else get_scenario(scenario)


def _check_share(share: float, label: str) -> float:
    if not (math.isfinite(share) and 0.0 <= share <= 1.0):
        raise ValueError(f"{label} must be between 0 and 1, got {share!r}")
    return float(share)


def _check_elasticity(elasticity: float) -> None:
    if not (math.isfinite(elasticity) and elasticity >= 0):
        raise ValueError(f"elasticity must be a non-negative number (0 = volume ignores price), got {elasticity!r}")


def _check_horizon(horizon_days: int) -> int:
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)) or horizon_days < 1:
        raise ValueError(f"horizon_days must be a positive integer, got {horizon_days!r}")
    return int(horizon_days)


def _months(day_offsets: npt.ArrayLike) -> FloatArray:
    days = np.asarray(day_offsets, dtype=np.float64)
    if not np.all(np.isfinite(days)) or np.any(days < 0):
        raise ValueError("day offsets must be finite and non-negative (0 = the forecast start)")
    return days / DAYS_PER_MONTH


# --------------------------------------------------------------------------- price steps


@dataclass(frozen=True)
class PriceStep:
    """A list price in USD per million tokens, in force from ``effective_from`` until the next step."""

    effective_from: date
    usd_per_million: Decimal

    def __post_init__(self) -> None:
        if isinstance(self.effective_from, datetime) or not isinstance(self.effective_from, date):
            raise ValueError(f"effective_from must be a date, got {self.effective_from!r}")
        if not isinstance(self.usd_per_million, Decimal) or not self.usd_per_million.is_finite():
            raise ValueError(f"usd_per_million must be a finite Decimal, got {self.usd_per_million!r}")
        if self.usd_per_million < 0:
            raise ValueError(f"price must not be negative, got {self.usd_per_million} from {self.effective_from}")


def normalize_steps(steps: Iterable[StepLike]) -> tuple[PriceStep, ...]:
    """Validate steps given as ``PriceStep`` or ``(effective_from, usd_per_million)`` pairs and sort them by date.

    Raises ``ValueError`` for no steps, a negative or non-finite price, or two steps on the same date.
    """
    normalized = sorted((_coerce_step(step) for step in steps), key=lambda step: step.effective_from)
    if not normalized:
        raise ValueError("a price needs at least one step (effective_from, usd_per_million); got none")
    for earlier, later in pairwise(normalized):
        if earlier.effective_from == later.effective_from:
            raise ValueError(f"two prices take effect on {later.effective_from}; keep one step per date")
    return tuple(normalized)


def price_in_force(steps: Iterable[StepLike], on: date) -> Decimal:
    """The list price in force on ``on``: the latest step whose ``effective_from`` is on or before it.

    Future-dated steps are scheduled changes and take effect on their date. Raises ``ValueError`` when ``on`` is
    before the first step (no price was in force).
    """
    normalized = normalize_steps(steps)
    if isinstance(on, datetime) or not isinstance(on, date):
        raise ValueError(f"on must be a date, got {on!r}")
    in_force = [step for step in normalized if step.effective_from <= on]
    if not in_force:
        raise ValueError(f"no price in force on {on}: the first step starts on {normalized[0].effective_from}")
    return in_force[-1].usd_per_million


def _coerce_step(step: StepLike) -> PriceStep:
    if isinstance(step, PriceStep):
        return step
    if not isinstance(step, tuple) or len(step) != 2:
        raise ValueError(f"a price step is a PriceStep or an (effective_from, usd_per_million) pair, got {step!r}")
    effective_from, price = step
    return PriceStep(effective_from=effective_from, usd_per_million=_coerce_decimal(price))


def _coerce_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"a price must be a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # the float's shortest repr, not its binary expansion
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"a price must be a number, got {value!r}") from exc
    raise ValueError(f"a price must be a number, got {value!r}")


@dataclass(frozen=True)
class PriceSchedule:
    """A SKU's list prices per token type, each a step function of date (scheduled future steps included).

    Build it with ``PriceSchedule.from_steps({"input": [(date, Decimal)], "output": [...]})``.
    """

    steps: Mapping[str, tuple[PriceStep, ...]]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a price schedule needs at least one token type with price steps")
        for token_type in self.steps:
            _check_token_type(token_type)
        # Re-validate (sorting, duplicates) and freeze, so every schedule in circulation is well formed.
        frozen = {token_type: normalize_steps(steps) for token_type, steps in self.steps.items()}
        object.__setattr__(self, "steps", MappingProxyType(frozen))

    @classmethod
    def from_steps(cls, steps: Mapping[str, Iterable[StepLike]]) -> PriceSchedule:
        """A schedule from ``PriceStep`` objects or ``(effective_from, usd_per_million)`` pairs per token type."""
        return cls(steps={token_type: normalize_steps(token_steps) for token_type, token_steps in steps.items()})

    @property
    def token_types(self) -> tuple[str, ...]:
        return tuple(self.steps)

    def price_on(self, token_type: str, on: date) -> Decimal:
        """The list price of ``token_type`` in force on ``on``."""
        _check_token_type(token_type)
        if token_type not in self.steps:
            raise ValueError(f"this schedule has no {token_type} price; it prices {', '.join(self.steps)}")
        return price_in_force(self.steps[token_type], on)

    def reference_prices(self, *, start: date, horizon_days: int) -> dict[str, FloatArray]:
        """Daily list prices (float USD per million) per token type for day offsets ``0 .. horizon_days - 1``."""
        horizon = _check_horizon(horizon_days)
        days = np.arange(horizon)
        prices: dict[str, FloatArray] = {}
        for token_type, steps in self.steps.items():
            if steps[0].effective_from > start:
                raise ValueError(
                    f"no {token_type} price in force on {start}: the first step starts on {steps[0].effective_from}"
                )
            offsets = np.array([(step.effective_from - start).days for step in steps])
            values = np.array([float(step.usd_per_million) for step in steps])
            prices[token_type] = values[np.searchsorted(offsets, days, side="right") - 1]
        return prices


# --------------------------------------------------------------------------- blending, batch and caching


def blended_price(prices: Mapping[str, float], mix: Mapping[str, float] | None = None) -> float:
    """The mix-weighted average of ``prices`` (USD per million per token type); 3 input : 1 output by default."""
    weights = _blend_weights(tuple(prices), mix)
    return float(sum(weight * float(prices[token_type]) for token_type, weight in weights.items()))


def _blend_arrays(prices: Mapping[str, FloatArray], weights: Mapping[str, float]) -> FloatArray:
    total = np.zeros_like(next(iter(prices.values())))
    for token_type, weight in weights.items():
        total = total + weight * prices[token_type]
    return total


def _blend_weights(available: Sequence[str], mix: Mapping[str, float] | None) -> dict[str, float]:
    """Normalized weights of ``mix`` over the token types in ``available``; the others drop out."""
    mix = DEFAULT_MIX if mix is None else mix
    if not mix:
        raise ValueError("a blend mix needs at least one token type with a positive weight")
    for token_type, weight in mix.items():
        _check_token_type(token_type)
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"mix weights must be non-negative numbers, got {token_type}={weight!r}")
    present = {token_type: float(weight) for token_type, weight in mix.items() if token_type in available}
    total = sum(present.values())
    if total <= 0:
        raise ValueError(
            f"the mix ({', '.join(mix)}) gives no weight to a priced token type ({', '.join(available) or 'none'})"
        )
    return {token_type: weight / total for token_type, weight in present.items()}


def batch_multiplier(token_type: str, batch_share: float) -> float:
    """Average price factor of ``token_type`` when ``batch_share`` of its tokens go through the batch tier.

    Batch halves input and output prices at OpenAI, Anthropic, Bedrock and Gemini:
    ``1 - batch_share * (1 - 0.5)``. Cached input and cache writes are not discounted (factor 1).
    """
    _check_token_type(token_type)
    share = _check_share(batch_share, "batch_share")
    if token_type not in BATCH_DISCOUNTED_TOKEN_TYPES:
        return 1.0
    return 1.0 - share * (1.0 - BATCH_PRICE_FACTOR)


def effective_unit_price(token_type: str, prices: Mapping[str, PriceLike], *, batch_share: float = 0.0) -> PriceLike:
    """The price actually paid per million ``token_type`` tokens: its list price times the batch multiplier.

    ``prices`` maps token types to list prices (floats or daily arrays). Cached input and cache writes fall back
    to the input price when the SKU lists no price for them (no caching discount or premium assumed).
    """
    _check_token_type(token_type)
    if token_type in prices:
        list_price = prices[token_type]
    elif token_type in ("cached_input", "cache_write") and "input" in prices:
        list_price = prices["input"]
    else:
        raise ValueError(f"no {token_type} price to charge; the prices cover {', '.join(prices) or 'nothing'}")
    return list_price * batch_multiplier(token_type, batch_share)


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class DeclineCurve:
    """How the cheapest price at a quality bar falls: flat for ``lag_months``, then ``annual_factor`` x a year."""

    lag_months: float
    annual_factor: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lag_months) and self.lag_months >= 0):
            raise ValueError(f"lag_months must be a non-negative number, got {self.lag_months!r}")
        if not (math.isfinite(self.annual_factor) and self.annual_factor >= 1):
            raise ValueError(
                f"annual_factor must be >= 1 (1 = flat): the cheapest model at the bar never gets dearer, "
                f"got {self.annual_factor!r}"
            )


@dataclass(frozen=True)
class Scenario:
    """One row set of the price scenario table: drifts for stay/follow tier, decline curves per tier, elasticity.

    Drifts are annual fractional changes (+0.05 = prices rise 5% a year). ``elasticity`` is the constant price
    elasticity of token demand (0 = volume unaffected by price).
    """

    name: str
    stay_annual_drift: float
    follow_tier_annual_drift: float
    commodity: DeclineCurve
    mid: DeclineCurve
    frontier: DeclineCurve
    elasticity: float = 0.0

    def __post_init__(self) -> None:
        for label, drift in (("stay", self.stay_annual_drift), ("follow_tier", self.follow_tier_annual_drift)):
            if not (math.isfinite(drift) and drift > -1):
                raise ValueError(f"{label} annual drift must be a number above -1 (-100%/yr), got {drift!r}")
        _check_elasticity(self.elasticity)

    def annual_drift(self, policy: str) -> float:
        """The drift of the ``stay`` or ``follow_tier`` policy."""
        policy = _check_policy(policy)
        if policy == STAY:
            return self.stay_annual_drift
        if policy == FOLLOW_TIER:
            return self.follow_tier_annual_drift
        raise ValueError("cheapest_at_bar follows a decline curve, not a drift: use decline_curve(tier)")

    def decline_curve(self, tier: str) -> DeclineCurve:
        """The cheapest-at-bar lag and annual factor for ``tier``."""
        curves = {"commodity": self.commodity, "mid": self.mid, "frontier": self.frontier}
        return curves[_check_tier(tier)]


CONSERVATIVE = Scenario(
    name="conservative",
    stay_annual_drift=0.05,
    follow_tier_annual_drift=0.20,
    commodity=DeclineCurve(lag_months=0, annual_factor=5),
    mid=DeclineCurve(lag_months=3, annual_factor=3),
    frontier=DeclineCurve(lag_months=12, annual_factor=1),
)
BASE = Scenario(
    name="base",
    stay_annual_drift=0.0,
    follow_tier_annual_drift=0.0,
    commodity=DeclineCurve(lag_months=0, annual_factor=10),
    mid=DeclineCurve(lag_months=1.5, annual_factor=13),
    frontier=DeclineCurve(lag_months=6, annual_factor=10),
)
AGGRESSIVE = Scenario(
    name="aggressive",
    stay_annual_drift=-0.25,
    follow_tier_annual_drift=-0.40,
    commodity=DeclineCurve(lag_months=0, annual_factor=20),
    mid=DeclineCurve(lag_months=0, annual_factor=40),
    frontier=DeclineCurve(lag_months=3, annual_factor=40),
)
SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {scenario.name: scenario for scenario in (CONSERVATIVE, BASE, AGGRESSIVE)}
)


def get_scenario(name: str) -> Scenario:
    """The built-in scenario called ``name`` (conservative, base or aggressive)."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; expected one of {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


# --------------------------------------------------------------------------- multiplier curves


def price_multipliers(
    day_offsets: npt.ArrayLike,
    *,
    policy: str,
    scenario: Scenario | str = "base",
    tier: str | None = None,
    min_multiplier: float = 0.0,
) -> FloatArray:
    """The policy's model multiplier on today's price for each day offset (vectorised over any array shape).

    This is the drift or lag/decline/fade curve with the 100x-per-24-months cap, floored at ``min_multiplier``
    (pass ``min(1, 0.02 / blended_price)`` for the blended floor). It knows nothing of the SKU's scheduled steps;
    ``project_prices`` combines the two.
    """
    policy = _check_policy(policy)
    resolved = _resolve_scenario(scenario)
    months = _months(day_offsets)
    if policy == CHEAPEST_AT_BAR:
        curve = resolved.decline_curve(_require_tier(tier))
        log_multiplier = _decline_curve_log(curve.lag_months, math.log(curve.annual_factor))
    else:
        _check_optional_tier(tier)
        log_multiplier = _drift_log(math.log1p(resolved.annual_drift(policy)))
    if not (math.isfinite(min_multiplier) and min_multiplier >= 0):
        raise ValueError(f"min_multiplier must be a non-negative number, got {min_multiplier!r}")
    return np.maximum(np.exp(_capped_log_multiplier(months, log_multiplier)), min_multiplier)


def price_multiplier(
    day_offset: float,
    *,
    policy: str,
    scenario: Scenario | str = "base",
    tier: str | None = None,
    min_multiplier: float = 0.0,
) -> float:
    """``price_multipliers`` for a single day offset."""
    multipliers = price_multipliers(
        np.array([day_offset], dtype=float), policy=policy, scenario=scenario, tier=tier, min_multiplier=min_multiplier
    )
    return float(multipliers[0])


LogCurve: TypeAlias = Callable[[FloatArray], FloatArray]


def _drift_log(log_growth: float | FloatArray) -> LogCurve:
    """ln multiplier of a continuously compounded annual growth ``exp(log_growth)``: ``log_growth * t / 12``."""

    def curve(months: FloatArray) -> FloatArray:
        return np.asarray(log_growth * months / 12.0, dtype=np.float64)

    return curve


def _decline_curve_log(lag_months: float | FloatArray, log_factor: float | FloatArray) -> LogCurve:
    """ln multiplier of the lag + exponential + fade curve: ``-(G(max(t, L)) - G(L)) / 12``.

    ``G(x) = integral_0^x rate(s) ds`` ignoring the lag: ``a * x + (b - a) * H(x)`` with ``a = ln f``,
    ``b = ln min(f, 3)`` and ``H(x) = u^2 / (2 W) + v``, ``u = clip(x - 24, 0, W)``, ``v = max(x - 24 - W, 0)``,
    ``W = 12``: the closed form of the linear log-space fade.
    """
    fade_log = np.minimum(log_factor, math.log(FADE_ANNUAL_FACTOR))

    def integrated_rate(months: FloatArray) -> FloatArray:
        beyond = months - FADE_START_MONTHS
        fading = np.clip(beyond, 0.0, FADE_MONTHS)
        faded = np.maximum(beyond - FADE_MONTHS, 0.0)
        fade_shape = fading**2 / (2.0 * FADE_MONTHS) + faded
        return np.asarray(log_factor * months + (fade_log - log_factor) * fade_shape, dtype=np.float64)

    def curve(months: FloatArray) -> FloatArray:
        return -(integrated_rate(np.maximum(months, lag_months)) - integrated_rate(np.asarray(lag_months) + 0.0)) / 12

    return curve


def _capped_log_multiplier(months: FloatArray, log_multiplier: LogCurve) -> FloatArray:
    """Apply the 100x-per-24-month-block cap to a log-multiplier curve (declines only; rises are not capped)."""
    values = log_multiplier(months)
    if values.size == 0:
        return values
    max_fall = math.log(DECLINE_CAP_FACTOR)
    block = np.floor(months / DECLINE_CAP_MONTHS)
    capped = np.zeros(values.shape)
    carried: float | FloatArray = 0.0  # capped log-multiplier at the start of the current block
    for index in range(int(block.max()) + 1):
        block_start = np.array(index * DECLINE_CAP_MONTHS)
        at_block_start = log_multiplier(block_start)
        capped = np.where(block == index, carried + np.maximum(values - at_block_start, -max_fall), capped)
        block_change = log_multiplier(block_start + DECLINE_CAP_MONTHS) - at_block_start
        carried = carried + np.maximum(block_change, -max_fall)
    return capped


def _floored_multipliers(
    model_multipliers: FloatArray, reference_blended: FloatArray, *, policy: str, today_blended: float
) -> FloatArray:
    """Apply the $0.02 blended floor and, for cheapest at bar, the never-dearer-than-the-SKU rule.

    ``model_multipliers`` has the day axis last (one path or ``(n_samples, n_days)``); the result has its shape.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if policy != CHEAPEST_AT_BAR:
            floor = np.where(reference_blended > 0, np.minimum(1.0, BLENDED_PRICE_FLOOR / reference_blended), 1.0)
            return np.maximum(model_multipliers, floor)
        floor_today = min(1.0, BLENDED_PRICE_FLOOR / today_blended) if today_blended > 0 else 1.0
        decline = np.maximum(model_multipliers, floor_today)
        versus_sku = np.where(reference_blended > 0, today_blended * decline / reference_blended, 1.0)
        return np.minimum(1.0, versus_sku)


# --------------------------------------------------------------------------- projections


@dataclass(frozen=True, eq=False)
class PriceProjection:
    """Daily projected prices for one SKU under one policy and scenario, for day offsets ``0 .. horizon - 1``.

    ``unit_prices(token_type) = reference_prices[token_type] * multipliers`` (float USD per million tokens).
    """

    start: date
    policy: str
    scenario: Scenario
    tier: str | None
    mix: Mapping[str, float]
    reference_prices: Mapping[str, FloatArray]
    multipliers: FloatArray

    @property
    def horizon_days(self) -> int:
        return int(self.multipliers.shape[0])

    def unit_prices(self, token_type: str, *, batch_share: float = 0.0) -> FloatArray:
        """Projected price per million ``token_type`` tokens for each day, after the batch discount."""
        return effective_unit_price(token_type, self.reference_prices, batch_share=batch_share) * self.multipliers

    def blended_prices(self) -> FloatArray:
        """Projected blended price (``mix``) for each day."""
        return _blend_arrays(self.reference_prices, self.mix) * self.multipliers

    def price_ratios(self) -> FloatArray:
        """Blended price on each day over today's (1 when today's price is 0)."""
        today = float(_blend_arrays(self.reference_prices, self.mix)[0])
        if today <= 0:
            return np.ones(self.horizon_days)
        return self.blended_prices() / today

    def volume_multipliers(self) -> FloatArray:
        """Token volume multiplier from the scenario's demand elasticity: ``price_ratio ** -elasticity``."""
        return volume_multiplier(self.price_ratios(), self.scenario.elasticity)


def project_prices(
    schedule: PriceSchedule,
    *,
    start: date,
    horizon_days: int,
    policy: str,
    scenario: Scenario | str = "base",
    tier: str | None = None,
    mix: Mapping[str, float] | None = None,
) -> PriceProjection:
    """Project ``schedule``'s prices over ``horizon_days`` days from ``start`` under ``policy`` and ``scenario``.

    ``tier`` (commodity, mid, frontier) is required for ``cheapest_at_bar``. ``mix`` weights the blended price
    used by the floor, the cheapest-at-bar comparison and elasticity (3 input : 1 output by default).
    """
    policy = _check_policy(policy)
    resolved = _resolve_scenario(scenario)
    tier = _require_tier(tier) if policy == CHEAPEST_AT_BAR else _check_optional_tier(tier)
    reference = schedule.reference_prices(start=start, horizon_days=horizon_days)
    weights = _blend_weights(tuple(reference), mix)
    reference_blended = _blend_arrays(reference, weights)
    model = price_multipliers(np.arange(horizon_days, dtype=float), policy=policy, scenario=resolved, tier=tier)
    multipliers = _floored_multipliers(
        model, reference_blended, policy=policy, today_blended=float(reference_blended[0])
    )
    return PriceProjection(
        start=start,
        policy=policy,
        scenario=resolved,
        tier=tier,
        mix=MappingProxyType(weights),
        reference_prices=MappingProxyType(reference),
        multipliers=multipliers,
    )


def sample_price_paths(
    schedule: PriceSchedule,
    *,
    start: date,
    horizon_days: int,
    policy: str,
    seed: int | np.random.Generator,
    n_samples: int = 1000,
    tier: str | None = None,
    mix: Mapping[str, float] | None = None,
    conservative: Scenario = CONSERVATIVE,
    base: Scenario = BASE,
    aggressive: Scenario = AGGRESSIVE,
) -> FloatArray:
    """Monte Carlo multipliers, shape ``(n_samples, horizon_days)``, on ``schedule.reference_prices(...)``.

    With no scheduled steps the reference is today's price carried forward, so these are multipliers on today's
    price. Parameters are drawn once per path (module docstring, "Monte Carlo"); the cap, the blended floor and
    the never-dearer-than-the-SKU rule apply per path. The same seed gives the same paths.
    """
    policy = _check_policy(policy)
    tier = _require_tier(tier) if policy == CHEAPEST_AT_BAR else _check_optional_tier(tier)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    reference = schedule.reference_prices(start=start, horizon_days=horizon_days)
    reference_blended = _blend_arrays(reference, _blend_weights(tuple(reference), mix))
    months = np.arange(horizon_days, dtype=float)[np.newaxis, :] / DAYS_PER_MONTH

    if policy == CHEAPEST_AT_BAR:
        bar_tier = _require_tier(tier)
        curves = [scenario.decline_curve(bar_tier) for scenario in (conservative, base, aggressive)]
        low, centre, high = (math.log(curve.annual_factor) for curve in curves)
        sigma = abs(high - low) / QUANTILE_SPREAD
        log_factor = np.maximum(rng.normal(centre, sigma, size=(n_samples, 1)), 0.0)
        lags = (curves[0].lag_months, curves[2].lag_months)
        lag = rng.uniform(min(lags), max(lags), size=(n_samples, 1))
        log_curve = _decline_curve_log(lag, log_factor)
    else:
        growth_high = math.log1p(conservative.annual_drift(policy))
        growth_low = math.log1p(aggressive.annual_drift(policy))
        mean = (growth_high + growth_low) / 2
        spread = abs(growth_high - growth_low) / QUANTILE_SPREAD
        log_curve = _drift_log(rng.normal(mean, spread, size=(n_samples, 1)))

    model = np.exp(_capped_log_multiplier(months, log_curve))
    return _floored_multipliers(model, reference_blended, policy=policy, today_blended=float(reference_blended[0]))


# --------------------------------------------------------------------------- demand elasticity


def volume_multiplier(price_ratio: PriceLike, elasticity: float) -> PriceLike:
    """Constant-elasticity demand: token volume scales by ``price_ratio ** -elasticity``.

    ``price_ratio`` is the price on a day over today's (0.1 = ten times cheaper); elasticity 0.3 turns a 10x
    cheaper token into ``10 ** 0.3 = 1.995x`` the volume.
    """
    _check_elasticity(elasticity)
    if isinstance(price_ratio, np.ndarray):
        if not (np.all(np.isfinite(price_ratio)) and np.all(price_ratio > 0)):
            raise ValueError("price ratios must be positive finite numbers")
        return np.asarray(price_ratio**-elasticity, dtype=np.float64)
    ratio = float(price_ratio)
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"price ratio must be a positive finite number, got {price_ratio!r}")
    return ratio**-elasticity


# --------------------------------------------------------------------------- rate fitting (section 4.3)


@dataclass(frozen=True)
class ModelPriceRecord:
    """One dated list price of a model, as in ``price_history.csv`` (USD per million tokens)."""

    provider: str
    model: str
    effective_date: date
    input_usd_per_million: float
    output_usd_per_million: float
    cached_input_usd_per_million: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.effective_date, datetime) or not isinstance(self.effective_date, date):
            raise ValueError(f"effective_date must be a date, got {self.effective_date!r}")
        for label, price in (
            ("input", self.input_usd_per_million),
            ("output", self.output_usd_per_million),
            ("cached_input", self.cached_input_usd_per_million),
        ):
            if price is None:
                continue
            if not math.isfinite(price) or price < 0:
                raise ValueError(f"{self.provider}/{self.model} {label} price must be >= 0, got {price!r}")

    def blended(self, weights: Mapping[str, float]) -> float:
        """Blended price under normalized ``weights`` (cached input falls back to the input price)."""
        prices = {
            "input": self.input_usd_per_million,
            "output": self.output_usd_per_million,
            "cached_input": (
                self.input_usd_per_million
                if self.cached_input_usd_per_million is None
                else self.cached_input_usd_per_million
            ),
        }
        return sum(weight * float(prices[token_type]) for token_type, weight in weights.items())


RecordLike: TypeAlias = "ModelPriceRecord | tuple[str, str, date, float | Decimal, float | Decimal]"


@dataclass(frozen=True)
class CheapestPricePoint:
    """The lowest blended price at the bar in one calendar month, and which model offered it."""

    month: date
    usd_per_million: float
    provider: str
    model: str


def cheapest_at_bar_series(
    prices: Iterable[RecordLike],
    scores: Mapping[str, float] | Iterable[tuple[str, float]],
    bar: float,
    *,
    mix: Mapping[str, float] | None = None,
    providers: Iterable[str] | None = None,
    through: date | None = None,
) -> list[CheapestPricePoint]:
    """Monthly minimum blended price among models scoring at least ``bar``, from the month the bar is first met.

    ``prices`` are ``ModelPriceRecord`` or ``(provider, model, effective_date, input, output)`` tuples, each a step
    in force until the model's next record. ``scores`` maps model to score (one scale; unscored models are left
    out). The month's price is the lowest in force at any time during the month. The series runs through
    ``through``'s month, or the month of the latest record. ``providers`` restricts to approved providers. Ties
    go to the alphabetically first provider/model so the result is deterministic.
    """
    if not math.isfinite(bar):
        raise ValueError(f"bar must be a finite score, got {bar!r}")
    weights = _blend_weights(("input", "output", "cached_input"), mix)
    score_by_model = _score_map(scores)
    allowed = None if providers is None else frozenset(providers)
    records = [_coerce_record(record) for record in prices]
    if allowed is not None:
        records = [record for record in records if record.provider in allowed]
    if not records:
        return []

    steps_by_sku: dict[tuple[str, str], list[tuple[date, float]]] = {}
    for record in records:
        if score_by_model.get(record.model, -math.inf) < bar:
            continue
        steps_by_sku.setdefault((record.provider, record.model), []).append(
            (record.effective_date, record.blended(weights))
        )
    if not steps_by_sku:
        return []
    for (provider, model), steps in steps_by_sku.items():
        steps.sort()
        for (earlier, _), (later, _) in pairwise(steps):
            if earlier == later:
                raise ValueError(f"{provider}/{model} has two prices on {later}; keep one record per date")

    first_month = _month_start(min(steps[0][0] for steps in steps_by_sku.values()))
    last_month = _month_start(through if through is not None else max(record.effective_date for record in records))
    series: list[CheapestPricePoint] = []
    month = first_month
    while month <= last_month:
        following = _next_month(month)
        offers: list[tuple[float, str, str]] = []
        for (provider, model), steps in steps_by_sku.items():
            in_month = [price for effective, price in steps if effective < following]
            started_before = [price for effective, price in steps if effective <= month]
            during = [price for effective, price in steps if month < effective < following]
            if in_month:
                candidates = started_before[-1:] + during
                offers.append((min(candidates), provider, model))
        if offers:
            price, provider, model = min(offers)
            series.append(CheapestPricePoint(month=month, usd_per_million=price, provider=provider, model=model))
        month = following
    return series


@dataclass(frozen=True)
class DeclineFit:
    """A fitted annual decline factor of the cheapest price at a bar (>1 = falling), with its 90% CI.

    ``annual_factor``/``ci90`` are what to report: the OLS fit, or its shrinkage toward the prior when the window
    is under 12 months or the cheapest model changed fewer than 3 times (``shrinkage_applied``).
    """

    annual_factor: float
    ci90: tuple[float, float]
    ols_annual_factor: float
    ols_ci90: tuple[float, float]
    prior_annual_factor: float
    n_points: int
    window_start: date
    window_end: date
    window_months: int
    cheapest_model_changes: int
    shrinkage_applied: bool


PointLike: TypeAlias = "CheapestPricePoint | tuple[date, float] | tuple[date, float, str]"


def fit_decline_rate(points: Iterable[PointLike], *, prior_annual_factor: float = 10.0) -> DeclineFit:
    """Fit ``f`` from monthly cheapest prices: OLS of ``ln price`` on years, ``f = exp(-slope)``.

    ``points`` are ``CheapestPricePoint`` (from ``cheapest_at_bar_series``) or ``(date, price)`` /
    ``(date, price, model)`` tuples. Model changes are counted between consecutive points by model, or by price
    when a point carries no model. ``prior_annual_factor`` is the scenario table's base value for the bar's tier
    (10x commodity and frontier, 13x mid).
    """
    if not (math.isfinite(prior_annual_factor) and prior_annual_factor > 0):
        raise ValueError(f"prior_annual_factor must be a positive number, got {prior_annual_factor!r}")
    observations = sorted((_coerce_point(point) for point in points), key=lambda point: point[0])
    if len(observations) < 2:
        raise ValueError(f"fitting a decline rate needs at least 2 points, got {len(observations)}")
    first, last = observations[0][0], observations[-1][0]
    if first == last:
        raise ValueError(f"all points fall on {first}; a rate needs points on at least two dates")

    years = np.array([(when - first).days / DAYS_PER_YEAR for when, _, _ in observations])
    log_prices = np.log(np.array([price for _, price, _ in observations]))
    n = len(observations)
    years_centred = years - years.mean()
    slope = float(years_centred @ (log_prices - log_prices.mean()) / (years_centred @ years_centred))
    intercept = float(log_prices.mean() - slope * years.mean())
    residuals = log_prices - (intercept + slope * years)
    dof = n - 2
    if dof > 0:
        std_error = math.sqrt(float(residuals @ residuals) / dof / float(years_centred @ years_centred))
    else:
        std_error = math.inf  # two points fit exactly and say nothing about their own uncertainty
    ols_log_factor = -slope
    ols_half_width = _t_quantile_95(dof) * std_error if dof > 0 else math.inf

    changes = sum(1 for before, after in pairwise(observations) if before[2] != after[2])
    window_months = (last.year - first.year) * 12 + last.month - first.month
    shrink = window_months < SHRINK_BELOW_WINDOW_MONTHS or changes < SHRINK_BELOW_MODEL_CHANGES
    log_factor, half_width = ols_log_factor, ols_half_width
    if shrink:
        log_factor, posterior_sd = _precision_weighted(
            ols_log_factor, std_error, math.log(prior_annual_factor), PRIOR_SD_LN_FACTOR
        )
        half_width = _Z95 * posterior_sd

    return DeclineFit(
        annual_factor=math.exp(log_factor),
        ci90=_factor_interval(log_factor, half_width),
        ols_annual_factor=math.exp(ols_log_factor),
        ols_ci90=_factor_interval(ols_log_factor, ols_half_width),
        prior_annual_factor=prior_annual_factor,
        n_points=n,
        window_start=first,
        window_end=last,
        window_months=window_months,
        cheapest_model_changes=changes,
        shrinkage_applied=shrink,
    )


def _precision_weighted(estimate: float, std_error: float, prior: float, prior_sd: float) -> tuple[float, float]:
    """Posterior mean and SD of a normal estimate combined with a normal prior (precision-weighted mean)."""
    if std_error == 0:
        return estimate, 0.0  # an exact fit outweighs any prior
    precision_data = 0.0 if math.isinf(std_error) else 1.0 / std_error**2
    precision_prior = 1.0 / prior_sd**2
    total = precision_data + precision_prior
    return (estimate * precision_data + prior * precision_prior) / total, math.sqrt(1.0 / total)


def _factor_interval(log_factor: float, half_width: float) -> tuple[float, float]:
    if math.isinf(half_width):
        return 0.0, math.inf
    return math.exp(log_factor - half_width), math.exp(log_factor + half_width)


def _t_quantile_95(dof: int) -> float:
    """One-sided 95% quantile of Student's t: tabulated to 8 dof, then the Cornish-Fisher expansion."""
    if dof <= len(_T95_BY_DOF):
        return _T95_BY_DOF[dof - 1]
    z = _Z95
    return (
        z
        + (z**3 + z) / (4 * dof)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3)
    )


def _coerce_point(point: PointLike) -> tuple[date, float, object]:
    """(date, price, change key): the model when known, else the price itself."""
    key: object
    if isinstance(point, CheapestPricePoint):
        when, price, key = point.month, point.usd_per_million, (point.provider, point.model)
    elif isinstance(point, tuple) and len(point) in (2, 3):
        when, price = point[0], float(point[1])
        key = point[2] if len(point) == 3 else price
    else:
        raise ValueError(f"a point is a CheapestPricePoint or a (date, price[, model]) tuple, got {point!r}")
    if isinstance(when, datetime) or not isinstance(when, date):
        raise ValueError(f"a point's date must be a date, got {when!r}")
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"prices must be positive to take their log, got {price!r} on {when}")
    return when, float(price), key


def _coerce_record(record: RecordLike) -> ModelPriceRecord:
    if isinstance(record, ModelPriceRecord):
        return record
    if not isinstance(record, tuple) or len(record) != 5:
        raise ValueError(
            f"a price record is a ModelPriceRecord or (provider, model, effective_date, input, output), got {record!r}"
        )
    provider, model, effective_date, input_price, output_price = record
    return ModelPriceRecord(
        provider=provider,
        model=model,
        effective_date=effective_date,
        input_usd_per_million=float(input_price),
        output_usd_per_million=float(output_price),
    )


def _score_map(scores: Mapping[str, float] | Iterable[tuple[str, float]]) -> dict[str, float]:
    pairs = scores.items() if isinstance(scores, Mapping) else scores
    score_by_model: dict[str, float] = {}
    for model, score in pairs:
        if not math.isfinite(score):
            raise ValueError(f"score of {model} must be a finite number, got {score!r}")
        if model in score_by_model and score_by_model[model] != score:
            raise ValueError(f"{model} has two scores ({score_by_model[model]} and {score}); use one snapshot")
        score_by_model[model] = float(score)
    return score_by_model


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)
