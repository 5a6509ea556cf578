"""Prices each forecast leaf over the horizon: what the organization pays per token now, projected forward.

For a leaf (provider, model, token type) the price path in USD per token is

    paid_today x reference(t) / reference(today) x multiplier(t)

* ``paid_today``: what the organization actually paid per token over the last ``PAID_WINDOW_DAYS`` days
  of history (billed cost where the provider bills, else list-price estimates; both from the ledger),
  so negotiated rates and discounts carry into the forecast. Without ledger cost, the price book's price
  (list, with the organization's overrides) on the last day of history; without that, the leaf is
  unpriced and its tokens are reported as such.
* ``reference(t)``: the price book's price of the model on each future day, so scheduled (future-dated)
  list-price changes land on their date.
* ``multiplier(t)``: the price projection (``forecasting.projection``) under the run's migration policy
  and scenario; Monte Carlo paths over the conservative-aggressive range give the price uncertainty.

Demand elasticity (a scenario parameter, 0 by default): where the scenario makes a model cheaper, its
forecast tokens are multiplied by ``(price(t) / price(today)) ** -elasticity`` (constant-elasticity demand).

What-if changes: ``batch_share`` moves that share of input and output tokens to the batch tier
(``1 - 0.5 x share``); ``cached_input_share`` bills that share of uncached input at the model's cached-input
list price (when the catalog has one); a model switch prices the source model's tokens as the target's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from finops.models import CatalogModel, Organization
from finops.selectors import PriceBook, price_book
from forecasting import projection
from forecasting.models import PriceScenario
from forecasting.rollup import PriceOutlook
from ingest.selectors import usage_cost_per_token, usage_unit_costs

PAID_WINDOW_DAYS = 90
MILLION = 1_000_000
PROJECTED_TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")
FRONTIER_MONTHS = 6
COMMODITY_MONTHS = 18
DEFAULT_TIER = "mid"


def resolve_scenario(*, name: str, organization: Organization | None = None) -> projection.Scenario:
    """A built-in scenario (conservative, base, aggressive) or one the organization defined in the admin."""
    if name in projection.SCENARIOS:
        return projection.SCENARIOS[name]
    custom = PriceScenario.objects.filter(organization=organization, name=name).first() if organization else None
    if custom is None:
        own = (
            list(PriceScenario.objects.filter(organization=organization).values_list("name", flat=True))
            if organization
            else []
        )
        choices = ", ".join([*projection.SCENARIOS, *own])
        raise ValueError(f"unknown scenario {name!r}; expected one of {choices}")
    return scenario_projection(custom)


def scenario_projection(custom: PriceScenario) -> projection.Scenario:
    """An organization's stored scenario as the projection reads it (ValueError when its values are unusable)."""
    return projection.Scenario(
        name=custom.name,
        stay_annual_drift=custom.stay_annual_drift,
        follow_tier_annual_drift=custom.follow_tier_annual_drift,
        commodity=projection.DeclineCurve(custom.commodity_lag_months, custom.commodity_annual_factor),
        mid=projection.DeclineCurve(custom.mid_lag_months, custom.mid_annual_factor),
        frontier=projection.DeclineCurve(custom.frontier_lag_months, custom.frontier_annual_factor),
        elasticity=custom.elasticity,
    )


def validate_scenario_and_policy(*, scenario: str, policy: str, organization: Organization | None = None) -> None:
    """Raise ValueError for an unknown scenario or migration policy."""
    resolve_scenario(name=scenario, organization=organization)
    if policy not in projection.POLICIES:
        raise ValueError(f"unknown migration policy {policy!r}; expected one of {', '.join(projection.POLICIES)}")


def frontier_tier(*, release_date: date | None, on: date) -> str:
    """The projection tier by distance from the frontier: commodity (18+ months old), mid, or frontier (<= 6)."""
    if release_date is None:
        return DEFAULT_TIER
    months = (on - release_date).days / projection.DAYS_PER_MONTH
    if months >= COMMODITY_MONTHS:
        return "commodity"
    if months <= FRONTIER_MONTHS:
        return "frontier"
    return "mid"


@dataclass
class _Projected:
    point: np.ndarray
    samples: np.ndarray


class LeafPricer:
    """Builds each leaf's PriceOutlook for one run (prices and projections cached per model)."""

    def __init__(
        self,
        *,
        organization: Organization,
        history_end: date,
        start: date,
        horizon_days: int,
        scenario: str,
        policy: str,
        what_if: dict[str, Any],
        n_samples: int,
        seed: int = 20240101,
    ) -> None:
        self._organization = organization
        self._book: PriceBook = price_book(organization=organization)
        self._paid = usage_unit_costs(
            organization=organization,
            date_from=history_end - timedelta(days=PAID_WINDOW_DAYS - 1),
            date_to=history_end,
        )
        self._history_end = history_end
        self._start = start
        self._horizon = horizon_days
        self._scenario = resolve_scenario(name=scenario, organization=organization)
        self._policy = policy
        self._what_if = what_if
        self._n_samples = n_samples
        self._seed = seed
        self._releases = {
            (model.provider, model.model_id): model.release_date
            for model in CatalogModel.objects.exclude(release_date=None).only("provider", "model_id", "release_date")
        }
        self._releases_by_id = {model_id: released for (_, model_id), released in self._releases.items()}
        self._projections: dict[tuple[str, str], dict[str, _Projected] | None] = {}
        self._volume: dict[tuple[str, str], np.ndarray] = {}

    def _list_price(self, provider: str, model: str, token_type: str, on: date) -> Decimal | None:
        return self._book.usd_per_million(provider=provider, model=model, token_type=token_type, on=on)

    def _schedule(self, provider: str, model: str) -> projection.PriceSchedule | None:
        """The model's list prices per token type from today over the horizon, as step functions."""
        steps: dict[str, list[tuple[date, Decimal]]] = {}
        for token_type in PROJECTED_TOKEN_TYPES:
            today = self._list_price(provider, model, token_type, self._start)
            if today is None or today <= 0:
                continue
            series = [(self._start, today)]
            for offset in range(1, self._horizon):
                day = self._start + timedelta(days=offset)
                price = self._list_price(provider, model, token_type, day)
                if price is not None and price > 0 and price != series[-1][1]:
                    series.append((day, price))
            steps[token_type] = series
        if "input" not in steps and "output" not in steps:
            # No list price: project what the organization pays (from the ledger) instead.
            steps = {
                token_type: [(self._start, (paid * MILLION).quantize(Decimal("0.000001")))]
                for (paid_provider, paid_model, token_type), paid in self._paid.items()
                if (paid_provider, paid_model) == (provider, model) and token_type in PROJECTED_TOKEN_TYPES and paid > 0
            }
            if "input" not in steps and "output" not in steps:
                return None
        return projection.PriceSchedule.from_steps(steps)

    def _tier(self, provider: str, model: str) -> str:
        released = self._releases.get((provider, model)) or self._releases_by_id.get(model)
        return frontier_tier(release_date=released, on=self._start)

    def _relative_paths(self, provider: str, model: str) -> dict[str, _Projected] | None:
        """Per token type: price relative to today's, the scenario's path and Monte Carlo paths."""
        key = (provider, model)
        if key in self._projections:
            return self._projections[key]
        schedule = self._schedule(provider, model)
        result: dict[str, _Projected] | None = None
        if schedule is not None:
            tier = self._tier(provider, model)
            projected = projection.project_prices(
                schedule,
                start=self._start,
                horizon_days=self._horizon,
                policy=self._policy,
                scenario=self._scenario,
                tier=tier,
            )
            samples = projection.sample_price_paths(
                schedule,
                start=self._start,
                horizon_days=self._horizon,
                policy=self._policy,
                seed=self._seed,
                n_samples=self._n_samples,
                tier=tier,
            )
            result = {}
            for token_type, reference in projected.reference_prices.items():
                relative = reference / reference[0]
                result[token_type] = _Projected(point=relative * projected.multipliers, samples=relative * samples)
            if self._scenario.elasticity:
                self._volume[key] = projected.volume_multipliers()
        self._projections[key] = result
        return result

    def volume_multipliers(self, *, provider: str, model: str) -> np.ndarray | None:
        """Token volume multipliers from the scenario's demand elasticity (None when elasticity is 0 or the
        model has no list price to project)."""
        if not self._scenario.elasticity:
            return None
        self._relative_paths(provider, model)
        return self._volume.get((provider, model))

    def _flat(self) -> _Projected:
        return _Projected(point=np.ones(self._horizon), samples=np.ones((self._n_samples, self._horizon)))

    def outlook(self, *, provider: str, model: str, token_type: str) -> PriceOutlook | None:
        """The leaf's USD-per-token price paths, or None when nothing prices it."""
        paid = self._paid.get((provider, model, token_type))
        if paid is None:
            listed = self._list_price(provider, model, token_type, self._history_end)
            paid = listed / MILLION if listed is not None else None
        if paid is None:
            return None
        paths = self._relative_paths(provider, model)
        projected = (paths or {}).get(token_type) or (paths or {}).get("input") or self._flat()
        factor = float(paid) * self._what_if_factor(provider, model, token_type)
        return PriceOutlook(point=projected.point * factor, samples=projected.samples * factor)

    def _what_if_factor(self, provider: str, model: str, token_type: str) -> float:
        factor = 1.0
        batch_share = float(self._what_if.get("batch_share") or 0.0)
        if batch_share:
            factor *= projection.batch_multiplier(token_type, batch_share)
        cached_share = float(self._what_if.get("cached_input_share") or 0.0)
        if cached_share and token_type == "input":
            full = self._list_price(provider, model, "input", self._start)
            cached = self._list_price(provider, model, "cached_input", self._start)
            if full and cached is not None:
                factor *= (1 - cached_share) + cached_share * float(cached / full)
        return factor

    def current_cost_per_million(self) -> Decimal | None:
        """What the organization paid per million tokens over the paid window, all token types together."""
        per_token = usage_cost_per_token(
            organization=self._organization,
            date_from=self._history_end - timedelta(days=PAID_WINDOW_DAYS - 1),
            date_to=self._history_end,
        )
        return (per_token * MILLION).quantize(Decimal("0.000001")) if per_token is not None else None
