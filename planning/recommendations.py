"""Recommendations: changes that make the same work cheaper, priced on a forecast, stored with their evidence.

``recommendations_generate`` reads a succeeded forecast run (the latest by default): its leaves (provider x team x
model x token type, daily mean tokens over the horizon and daily history) give each team's token mix per month; the
organization's price book (negotiated prices included) gives the prices in force on the evaluation day; the catalog
gives routes, deprecations, successors and quality scores. The rules themselves are pure (``planning.savings``); this
module gathers their inputs and stores what they propose, one ``Recommendation`` per identity (kind, team, provider,
model, to_model):

* model_switch: per team x provider x model, the cheapest model on the same route at the quality bar;
* prompt_caching: per team x provider x model with a cached-input price and mostly uncached input;
* batch: per team x provider x model whose provider has a batch multiplier and whose traffic runs at weekends too;
* deprecation: per provider x model whose catalog entry is deprecated within a year (or already is), priced on its
  successor from the deprecation month on;
* commitment: per provider x model with a provisioned-throughput offer (``planning/commitment.py``): the plan that
  saves most against pay-as-you-go, or the spend at which it would break even; per provider with spend and no offer
  for any of its models, what is missing instead of a figure.

Regenerating never duplicates: an open recommendation (or a snoozed one whose date has come) is updated in place;
accepted and dismissed ones, and snoozes still running, are left alone; open ones no longer proposed are withdrawn.
Accepting one starts a what-if run of the forecast it was computed from (``recommendation_accept``); the forecasting
what-if changes have no team, so that run applies the change to every team using the model: an upper bound.

Money is USD: ledger cost and list prices are USD.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from finops.catalog import canonical_model_id
from finops.models import CatalogModel, ModelQualityScore, Organization, PriceMultiplier
from finops.selectors import PriceBook, price_book, price_series_for
from forecasting.models import ForecastRun, ForecastSeries
from forecasting.selectors import forecast_latest, forecast_monthly
from forecasting.services import forecast_run_create
from forecasting.trends import DEFAULT_SCORE
from planning import commitment, savings
from planning.models import Recommendation
from planning.savings import MonthTokens, Price, Quality

CURRENCY = "USD"
Kind = Recommendation.Kind
Status = Recommendation.Status
Confidence = Recommendation.Confidence
RecommendationKey = tuple[str, str, str, str, str]
PROVISIONED_NEEDS = {
    "hourly_usd_per_unit": "the hourly price of one provisioned-throughput unit (per provider and model)",
    "tokens_per_minute_per_unit": "the tokens per minute one unit serves (input and output, per model)",
}
COMMITMENT_FORMULA = (
    "each month: pay-as-you-go cost (sum of tokens x usd_per_million / 1e6 over token types) minus the committed cost "
    "(sum over the plan's units of units_by_month x usd_per_unit_hour x 24 x days)"
)
COMMITMENT_FORMULA_UNPRICED = (
    "a unit pays off when the pay-as-you-go cost of the tokens it serves in a month (tokens_per_minute_per_unit x 60 "
    "x 24 x days x utilisation x blended USD per token) exceeds hourly_usd_per_unit x 24 x days"
)


@dataclass
class RecommendationResult:
    """What a regeneration did: rows created, updated in place, already up to date, left alone (accepted,
    dismissed or still snoozed) and withdrawn (open ones no longer proposed), and the rows proposed."""

    run: ForecastRun | None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    left_alone: int = 0
    withdrawn: int = 0
    recommendations: list[Recommendation] = field(default_factory=list)


@dataclass(frozen=True)
class _Proposal:
    """A recommendation as a rule proposes it, before it is stored."""

    kind: str
    team: str
    provider: str
    model: str
    to_model: str
    title: str
    monthly_savings: Decimal | None
    twelve_month_savings: Decimal | None
    confidence: str
    evidence: dict[str, Any]
    lower_quality: bool = False
    quality_gap: float | None = None

    @property
    def key(self) -> RecommendationKey:
        return (self.kind, self.team, self.provider, self.model, self.to_model)


@dataclass
class _Cell:
    """One team x provider x model of a run: daily mean tokens per token type from the forecast start, and the
    daily history per token type (its first day and values)."""

    team: str
    provider: str
    model: str
    daily: dict[str, list[float]] = field(default_factory=dict)
    history: dict[str, tuple[date, list[int]]] = field(default_factory=dict)


class _Scores:
    """Quality scores by canonical model id and snapshot (score name, as of). Several spellings of one model in one
    snapshot keep the highest score, as ``forecasting.trends`` does for the cheapest-at-bar fits."""

    def __init__(self, rows: Iterable[tuple[str, str, str, date, Decimal, str]]) -> None:
        self._by_model: dict[str, dict[tuple[str, date], Quality]] = {}
        for canonical, model, score_name, as_of, score, source in rows:
            snapshots = self._by_model.setdefault(canonical, {})
            known = snapshots.get((score_name, as_of))
            if known is None or score > known.score:
                snapshots[(score_name, as_of)] = Quality(score_name, as_of, score, model, source)

    def reference(self, model: str) -> Quality | None:
        """The score a model is judged by: the default leaderboard first, then its latest snapshot."""
        snapshots = self._by_model.get(canonical_model_id(model))
        if not snapshots:
            return None
        return max(snapshots.values(), key=lambda quality: (quality.score_name == DEFAULT_SCORE, quality.as_of))

    def in_snapshot(self, model: str, snapshot: tuple[str, date]) -> Quality | None:
        return self._by_model.get(canonical_model_id(model), {}).get(snapshot)


class _Context:
    """What every rule reads for one run and evaluation day, loaded once."""

    def __init__(self, *, organization: Organization, run: ForecastRun, on: date) -> None:
        assert run.history_end is not None
        self.organization, self.run, self.on = organization, run, on
        self.book: PriceBook = price_book(organization=organization)
        self.start = run.history_end + timedelta(days=1)
        self.window = savings.full_months(start=self.start, days=run.horizon_days)
        self.cells = _cells(run)
        self.scores = _Scores(
            ModelQualityScore.objects.values_list("canonical_id", "model", "score_name", "as_of", "score", "source")
        )
        self._route_models: dict[str, list[str]] = {}

    def months(self, cells: Iterable[_Cell]) -> list[MonthTokens]:
        """The window's monthly tokens per token type of ``cells`` together."""
        daily: dict[str, list[float]] = {}
        for cell in cells:
            for token_type, values in cell.daily.items():
                total = daily.setdefault(token_type, [0.0] * len(values))
                for index, value in enumerate(values[: len(total)]):
                    total[index] += value
        return savings.month_tokens(start=self.start, daily=daily, months=self.window)

    def price(self, provider: str, model: str, token_type: str) -> Price | None:
        """The book's price on the evaluation day (list, or the organization's), with its provenance."""
        quote = self.book.quote(provider=provider, model=model, token_type=token_type, on=self.on)
        if quote is None:
            return None
        source = quote.source or "the organization's custom price"
        note = f"{quote.cache_ttl} cache-write price" if token_type == "cache_write" and quote.cache_ttl else ""
        return Price(quote.usd_per_million, quote.effective_from, source, quote.override, note)

    def prices(self, provider: str, model: str, token_types: Iterable[str]) -> dict[str, Price] | None:
        """Prices for every token type, cached input and cache writes at the input price when the model lists none
        for them; None when a type stays unpriced."""
        found: dict[str, Price] = {}
        input_price = self.price(provider, model, "input")
        for token_type in token_types:
            price = self.price(provider, model, token_type)
            if price is None and token_type in ("cached_input", "cache_write") and input_price is not None:
                price = replace(input_price, note=f"{model} lists no {token_type} price: its input price stands in")
            if price is None:
                return None
            found[token_type] = price
        return found

    def route_models(self, provider: str) -> list[str]:
        """Canonical ids of the route's catalog models (not long-context price tiers, none deprecated within the
        look-ahead): the models a team on that route could move to."""
        if provider not in self._route_models:
            horizon = self.on + timedelta(days=savings.DEPRECATION_LOOKAHEAD_DAYS)
            rows = CatalogModel.objects.filter(provider=provider, long_context_base__isnull=True).values_list(
                "canonical_id", "deprecation_date"
            )
            retiring = {canonical for canonical, retired in rows if retired is not None and retired <= horizon}
            self._route_models[provider] = sorted({canonical for canonical, _ in rows} - retiring)
        return self._route_models[provider]

    def header(self, kind: str) -> dict[str, Any]:
        """Evidence keys every kind shares: the run, the evaluation day and what is held flat."""
        return {
            "kind": str(kind),
            "forecast_run": self.run.pk,
            "evaluated_on": self.on.isoformat(),
            "forecast_start": self.start.isoformat(),
            "currency": CURRENCY,
            "prices_held_flat": f"prices in force on {self.on.isoformat()} (the organization's price book), held flat",
        }


def _cells(run: ForecastRun) -> dict[tuple[str, str, str], _Cell]:
    """The run's succeeded leaves grouped by team x provider x model (read from the run's series: the forecasting
    selectors have no reader of leaves yet)."""
    cells: dict[tuple[str, str, str], _Cell] = {}
    leaves = run.series.filter(kind=ForecastSeries.Kind.LEAF, status=ForecastSeries.Status.SUCCEEDED).values_list(
        "provider", "team", "model", "token_type", "history", "forecast"
    )
    for provider, team, model, token_type, history, forecast in leaves.order_by("team", "provider", "model"):
        yhat = (forecast or {}).get("yhat") or []
        if not yhat:
            continue
        cell = cells.setdefault((team, provider, model), _Cell(team=team, provider=provider, model=model))
        cell.daily[token_type] = [float(value) for value in yhat]
        if history and history.get("values"):
            cell.history[token_type] = (date.fromisoformat(history["start"]), list(history["values"]))
    return cells


def _used(months: list[MonthTokens]) -> list[str]:
    totals = savings.token_totals(months)
    return [token_type for token_type in savings.PRICED_TOKEN_TYPES if totals.get(token_type, 0) > 0]


def _usd(value: Decimal) -> str:
    return f"${value:,.2f}"


def _saves(value: Decimal | None) -> str:
    if value is None:
        return "savings unknown"
    return f"save {_usd(value)} a month" if value >= 0 else f"costs {_usd(-value)} more a month"


def _model_switches(ctx: _Context) -> Iterator[_Proposal]:
    for cell in ctx.cells.values():
        months = ctx.months([cell])
        used = _used(months)
        prices_from = ctx.prices(cell.provider, cell.model, used) if used and months else None
        quality_from = ctx.scores.reference(cell.model)
        if prices_from is None or quality_from is None:
            continue  # no price or no score for the current model: nothing to compare a candidate with
        current = canonical_model_id(cell.model)
        options = []
        for name in ctx.route_models(cell.provider):
            candidate_prices = ctx.prices(cell.provider, name, used) if name != current else None
            if candidate_prices is not None:
                options.append(
                    savings.SwitchOption(name, candidate_prices, ctx.scores.in_snapshot(name, quality_from.snapshot))
                )
        choice = savings.choose_switch(
            prices_from=prices_from, quality_from=quality_from, options=options, totals=savings.token_totals(months)
        )
        if choice is not None:
            yield _switch_proposal(ctx, cell, months, prices_from, quality_from, choice)


def _switch_proposal(
    ctx: _Context,
    cell: _Cell,
    months: list[MonthTokens],
    prices_from: dict[str, Price],
    quality_from: Quality,
    choice: savings.SwitchChoice,
) -> _Proposal:
    result = savings.savings(months, choice.unit_savings)
    target = choice.option
    assert target.quality is not None
    title = f"{cell.team}: switch {cell.model} to {target.model} on {cell.provider}: {_saves(result.monthly)}"
    if choice.lower_quality:
        title += f" (lower quality by {choice.quality_gap:.1f} points on {quality_from.score_name})"
    evidence = savings.evidence(
        months=months,
        result=result,
        unit_savings=choice.unit_savings,
        prices_from=prices_from,
        prices_to=target.prices,
        assumptions={"quality_tolerance_points": float(savings.QUALITY_TOLERANCE)},
        notes=[
            "unit_savings[type] = prices_from[type] - prices_to[type]",
            "candidates: the route's catalog models priced for every token type the team uses and scored in the "
            "same snapshot; kept when cheaper on this mix and scoring >= current - quality_tolerance_points",
        ],
        quality={
            "current": quality_from.as_evidence(),
            "candidate": target.quality.as_evidence(),
            "gap_points": str(choice.quality_gap),
        },
        candidates=choice.counts,
        **ctx.header(Kind.MODEL_SWITCH),
    )
    return _Proposal(
        kind=Kind.MODEL_SWITCH,
        team=cell.team,
        provider=cell.provider,
        model=cell.model,
        to_model=target.model,
        title=title[:300],
        monthly_savings=result.monthly,
        twelve_month_savings=result.twelve_month,
        confidence=choice.confidence,
        evidence=evidence,
        lower_quality=choice.lower_quality,
        quality_gap=float(choice.quality_gap),
    )


def _caching(ctx: _Context) -> Iterator[_Proposal]:
    for cell in ctx.cells.values():
        months = ctx.months([cell])
        check = savings.caching_check(savings.token_totals(months))
        input_price = ctx.price(cell.provider, cell.model, "input")
        cached_price = ctx.price(cell.provider, cell.model, "cached_input")
        if not months or not check.eligible or input_price is None or cached_price is None:
            continue
        write_price = ctx.price(cell.provider, cell.model, "cache_write")
        unit = savings.caching_unit_saving(input_price=input_price, cached_price=cached_price, write_price=write_price)
        if unit <= 0:
            continue
        if write_price is None:
            write_price = replace(input_price, note="no cache-write price: the remainder stays at the input price")
        else:
            write_price = replace(write_price, note="the (1 - hit rate) remainder is written at this price")
        result = savings.savings(months, {"input": unit})
        yield _Proposal(
            kind=Kind.PROMPT_CACHING,
            team=cell.team,
            provider=cell.provider,
            model=cell.model,
            to_model="",
            title=f"{cell.team}: cache prompts on {cell.model} ({cell.provider}): {_saves(result.monthly)}"[:300],
            monthly_savings=result.monthly,
            twelve_month_savings=result.twelve_month,
            confidence=Confidence.MEDIUM,
            evidence=savings.evidence(
                months=months,
                result=result,
                unit_savings={"input": unit},
                prices_from={"input": input_price},
                prices_to={"cached_input": cached_price, "cache_write": write_price},
                assumptions={
                    "cache_hit_rate": float(savings.CACHE_HIT_RATE),
                    "min_input_share": float(savings.CACHING_MIN_INPUT_SHARE),
                    "max_cached_share": float(savings.CACHING_MAX_CACHED_SHARE),
                },
                notes=[
                    "unit_savings[input] = prices_from.input - (cache_hit_rate x prices_to.cached_input "
                    "+ (1 - cache_hit_rate) x prices_to.cache_write)",
                    "only today's uncached input changes; output and cached input are unchanged",
                ],
                mix=check.as_evidence(),
                **ctx.header(Kind.PROMPT_CACHING),
            ),
        )


def _history(cell: _Cell) -> tuple[date, list[float]] | None:
    """The cell's daily tokens (all token types) over its history."""
    if not cell.history:
        return None
    start = min(first for first, _ in cell.history.values())
    end = max(first + timedelta(days=len(values) - 1) for first, values in cell.history.values())
    total = [0.0] * ((end - start).days + 1)
    for first, values in cell.history.values():
        offset = (first - start).days
        for index, value in enumerate(values):
            total[offset + index] += value
    return start, total


def _batch(ctx: _Context) -> Iterator[_Proposal]:
    sources = dict(PriceMultiplier.objects.filter(kind=PriceMultiplier.Kind.BATCH).values_list("provider", "source"))
    for cell in ctx.cells.values():
        months = ctx.months([cell])
        used = [token_type for token_type in _used(months) if token_type in savings.BATCH_TOKEN_TYPES]
        multipliers = {
            token_type: found
            for token_type in used
            if (found := ctx.book.multiplier(provider=cell.provider, kind="batch", token_type=token_type)) is not None
        }
        history = _history(cell)
        if not multipliers or history is None:
            continue
        shape = savings.weekly_shape(start=history[0], values=history[1])
        prices = ctx.prices(cell.provider, cell.model, multipliers)
        if not shape.tolerates_delay or prices is None:
            continue
        unit = savings.batch_unit_savings(prices=prices, multipliers=multipliers)
        result = savings.savings(months, unit)
        if result.twelve_month is None or result.twelve_month <= 0:
            continue
        source = sources.get(cell.provider, "")
        yield _batch_proposal(ctx, cell, months, prices, multipliers, source, shape, unit, result)


def _batch_proposal(
    ctx: _Context,
    cell: _Cell,
    months: list[MonthTokens],
    prices: dict[str, Price],
    multipliers: dict[str, Decimal],
    source: str,
    shape: savings.WeeklyShape,
    unit: dict[str, Decimal],
    result: savings.Savings,
) -> _Proposal:
    share = savings.BATCH_ELIGIBLE_SHARE
    prices_to = {
        token_type: replace(price, usd_per_million=price.usd_per_million * multipliers[token_type], note="batch tier")
        for token_type, price in prices.items()
    }
    evidence = savings.evidence(
        months=months,
        result=result,
        unit_savings=unit,
        prices_from=prices,
        prices_to=prices_to,
        assumptions={
            "batch_eligible_share": float(share),
            "min_weekend_to_weekday_ratio": savings.BATCH_MIN_WEEKEND_RATIO,
            "shape_window_days": savings.BATCH_SHAPE_WINDOW_DAYS,
            "min_history_days": savings.BATCH_MIN_HISTORY_DAYS,
        },
        notes=[
            "unit_savings[type] = batch_eligible_share x (1 - batch_multipliers[type].multiplier) x prices_from[type]",
            "traffic whose weekends carry most of a weekday's tokens is machine-driven and tolerates batch delay",
        ],
        batch_multipliers={
            token_type: {"multiplier": str(multiplier), "source": source}
            for token_type, multiplier in multipliers.items()
        },
        shape=shape.as_evidence(),
        **ctx.header(Kind.BATCH),
    )
    title = f"{cell.team}: move {share:.0%} of {cell.model} to the {cell.provider} batch tier: {_saves(result.monthly)}"
    return _Proposal(
        kind=Kind.BATCH,
        team=cell.team,
        provider=cell.provider,
        model=cell.model,
        to_model="",
        title=title[:300],
        monthly_savings=result.monthly,
        twelve_month_savings=result.twelve_month,
        confidence=Confidence.MEDIUM,
        evidence=evidence,
    )


def _deprecated_entry(ctx: _Context, provider: str, model: str) -> CatalogModel | None:
    """The model's catalog entry on the route (``price_series_for``) deprecated within the look-ahead, if any."""
    series = [model_id for route, model_id in price_series_for(model=model, provider=provider) if route == provider]
    horizon = ctx.on + timedelta(days=savings.DEPRECATION_LOOKAHEAD_DAYS)
    return (
        CatalogModel.objects.filter(provider=provider, model_id__in=series, deprecation_date__lte=horizon)
        .select_related("successor")
        .order_by("deprecation_date", "model_id")
        .first()
    )


def _successor_name(ctx: _Context, successor: CatalogModel) -> str:
    """The successor as the ledger would spell it (its canonical id) when the book prices that, else its id."""
    priced = ctx.price(successor.provider, successor.canonical_id, "input") is not None
    return successor.canonical_id if priced else successor.model_id


def _deprecations(ctx: _Context) -> Iterator[_Proposal]:
    if not CatalogModel.objects.exclude(deprecation_date=None).exists():
        return
    groups: dict[tuple[str, str], list[_Cell]] = {}
    for cell in ctx.cells.values():
        groups.setdefault((cell.provider, cell.model), []).append(cell)
    for (provider, model), cells in sorted(groups.items()):
        entry = _deprecated_entry(ctx, provider, model)
        if entry is not None and entry.deprecation_date is not None:
            yield _deprecation_proposal(ctx, provider, model, entry, ctx.months(cells))


def _deprecation_quality(ctx: _Context, model: str, successor: str) -> tuple[dict[str, Any], Decimal | None]:
    current = ctx.scores.reference(model)
    following = ctx.scores.in_snapshot(successor, current.snapshot) if current and successor else None
    gap = current.score - following.score if current and following else None
    return {
        "current": current.as_evidence() if current else None,
        "successor": following.as_evidence() if following else None,
        "gap_points": str(gap) if gap is not None else None,
    }, gap


@dataclass
class _Priced:
    """A change priced on a window: both sides' prices, the unit savings, the result and what to say about it."""

    prices_from: dict[str, Price]
    prices_to: dict[str, Price]
    unit: dict[str, Decimal]
    result: savings.Savings
    notes: list[str]


def _deprecation_priced(
    ctx: _Context, provider: str, model: str, successor: tuple[str, str] | None, months: list[MonthTokens], start: date
) -> _Priced:
    """The move to the successor (provider, name) from ``start`` on; unknown without successor or prices."""
    used = _used(months)
    prices_from = ctx.prices(provider, model, used) or {}
    prices_to = (ctx.prices(successor[0], successor[1], used) if successor else None) or {}
    priced = _Priced(prices_from, prices_to, {}, savings.Savings((), None, 0, None, None), [])
    priced.notes.append(
        "unit_savings[type] = prices_from[type] - prices_to[type], counted from applies_from (the deprecation "
        "month) on; earlier months save nothing; a negative saving is a cost increase"
    )
    if successor is None:
        priced.notes.append("the catalog names no successor: the savings are unknown")
    elif not prices_from or not prices_to:
        priced.notes.append("a token type the forecast uses has no price on one side: the savings are unknown")
    else:
        priced.unit = savings.switch_unit_savings(prices_from, prices_to)
        priced.result = savings.savings(months, priced.unit, applies_from=start)
        if priced.result.monthly is None:
            priced.notes.append("the deprecation month falls after the forecast window: the savings are unknown")
    return priced


def _deprecation_proposal(
    ctx: _Context, provider: str, model: str, entry: CatalogModel, months: list[MonthTokens]
) -> _Proposal:
    assert entry.deprecation_date is not None
    retired = entry.deprecation_date
    applies_from = retired.replace(day=1)
    successor = entry.successor
    to_model = _successor_name(ctx, successor) if successor is not None else ""
    target = (successor.provider, to_model) if successor is not None else None
    priced = _deprecation_priced(ctx, provider, model, target, months, applies_from)
    result = priced.result
    quality, gap = _deprecation_quality(ctx, model, to_model)
    evidence = savings.evidence(
        months=months,
        result=result,
        unit_savings=priced.unit,
        prices_from=priced.prices_from,
        prices_to=priced.prices_to,
        assumptions={"lookahead_days": savings.DEPRECATION_LOOKAHEAD_DAYS},
        notes=priced.notes,
        deprecation_date=retired.isoformat(),
        applies_from=applies_from.isoformat(),
        catalog_model={"provider": entry.provider, "model_id": entry.model_id},
        successor=(
            {"provider": successor.provider, "model_id": successor.model_id, "model": to_model} if successor else None
        ),
        quality=quality,
        **ctx.header(Kind.DEPRECATION),
    )
    when = "was deprecated on" if retired < ctx.on else "is deprecated on"
    title = f"{model} ({provider}) {when} {retired.isoformat()}: " + (
        f"moving to {to_model}: {_saves(result.monthly)}" if successor else "no successor is known"
    )
    return _Proposal(
        kind=Kind.DEPRECATION,
        team="",
        provider=provider,
        model=model,
        to_model=to_model,
        title=title[:300],
        monthly_savings=result.monthly,
        twelve_month_savings=result.twelve_month,
        confidence=Confidence.HIGH if result.monthly is not None else Confidence.LOW,
        evidence=evidence,
        lower_quality=gap is not None and gap > 0,
        quality_gap=float(gap) if gap is not None else None,
    )


def _commitments(ctx: _Context) -> Iterator[_Proposal]:
    """Per provider x model with a provisioned-throughput offer: the plan that saves most against pay-as-you-go;
    per provider with spend and no offer for any of its models: what is missing."""
    offers: dict[tuple[str, str], list[commitment.Offer]] = {}
    for offer in commitment.offers_read():
        offers.setdefault((offer.provider, canonical_model_id(offer.model_id)), []).append(offer)
    by_model: dict[tuple[str, str], list[_Cell]] = {}
    for cell in ctx.cells.values():
        by_model.setdefault((cell.provider, cell.model), []).append(cell)
    covered = set()
    for (provider, model), cells in sorted(by_model.items()):
        matching = offers.get((provider, canonical_model_id(model)))
        months = ctx.months(cells)
        prices = ctx.prices(provider, model, _used(months)) if matching and months else None
        if not matching or prices is None:
            continue
        covered.add(provider)
        yield _commitment_proposal(ctx, provider, model, months, prices, matching)
    yield from _commitments_unpriced(ctx, covered)


def _commitment_options(
    months: list[MonthTokens], prices: dict[str, Price], matching: list[commitment.Offer]
) -> tuple[str, str, list[commitment.Offer], list[commitment.MonthCommitment]]:
    """The plan (and term) that saves most over the window, or loses least, with each month's units and costs."""
    usd_per_million = {token_type: price.usd_per_million for token_type, price in prices.items()}
    options = []
    for (plan_name, term), plan in sorted(commitment.plans(matching).items()):
        per_month = [
            commitment.month_commitment(
                plan=plan, tokens=month.tokens, days=month.days, usd_per_million=usd_per_million
            )
            for month in months
        ]
        options.append((sum((item.saving for item in per_month), Decimal(0)), plan_name, term, plan, per_month))
    _, plan_name, term, plan, per_month = max(options, key=lambda option: option[0])
    return plan_name, term, plan, per_month


def _commitment_proposal(
    ctx: _Context,
    provider: str,
    model: str,
    months: list[MonthTokens],
    prices: dict[str, Price],
    matching: list[commitment.Offer],
) -> _Proposal:
    plan_name, term, plan, per_month = _commitment_options(months, prices, matching)
    total = sum((item.saving for item in per_month), Decimal(0))
    result = savings.Savings(
        tuple(item.saving for item in per_month),
        months[0].month,
        len(months),
        savings.money(per_month[0].saving),
        savings.money(total),
    )
    first = per_month[0]
    if total > 0:
        title = f"{model} on {provider}: {plan_name} ({term}) instead of pay-as-you-go: {_saves(result.monthly)}"
    elif first.break_even is None:
        ratio = first.cost_per_pay_as_you_go_dollar or Decimal(0)
        title = (
            f"{model} on {provider}: pay-as-you-go stays cheaper than {plan_name} ({term}) at any volume: its capacity "
            f"costs {ratio:,.2f}x the tokens it carries at pay-as-you-go prices"
        )
    else:
        times = first.break_even / first.pay_as_you_go
        title = (
            f"{model} on {provider}: pay-as-you-go stays cheaper than {plan_name} ({term}) until "
            f"{_usd(first.break_even)} a month of spend ({times:,.1f}x the forecast)"
        )
    evidence = savings.evidence(
        months=months,
        result=result,
        unit_savings={},
        prices_from=prices,
        prices_to={},
        assumptions={
            "peak_to_average_load": str(commitment.PEAK_TO_AVERAGE_LOAD),
            "cached_input_and_cache_writes_count_as_input": "yes",
            "hours_per_day": commitment.HOURS_PER_DAY,
        },
        notes=[
            "units per month = max(minimum_units, ceil(average tokens per minute x peak_to_average_load / tokens per "
            "minute per unit)); the route's list prices, not a negotiated commitment price",
        ],
        formula=COMMITMENT_FORMULA,
        plan=plan_name,
        term=term,
        offers=[offer.as_evidence() for offer in plan],
        units_by_month=[list(item.units) for item in per_month],
        committed_cost_by_month=[str(item.committed) for item in per_month],
        pay_as_you_go_cost_by_month=[str(item.pay_as_you_go) for item in per_month],
        cost_per_pay_as_you_go_dollar_by_month=[
            _decimal_text(item.cost_per_pay_as_you_go_dollar) for item in per_month
        ],
        break_even_pay_as_you_go_by_month=[_decimal_text(item.break_even) for item in per_month],
        **ctx.header(Kind.COMMITMENT),
    )
    return _Proposal(
        kind=Kind.COMMITMENT,
        team="",
        provider=provider,
        model=model,
        to_model="",
        title=title,
        monthly_savings=result.monthly,
        twelve_month_savings=result.twelve_month,
        confidence=Confidence.MEDIUM if total > 0 else Confidence.LOW,
        evidence=evidence,
    )


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.000001")))


def _commitments_unpriced(ctx: _Context, covered: set[str]) -> Iterator[_Proposal]:
    """Per provider with forecast spend and no offer for any of its models: what a break-even would need."""
    window = {month for month, _ in ctx.window}
    for provider in sorted({cell.provider for cell in ctx.cells.values()} - covered):
        costs = {
            row["month"]: row["cost"]
            for row in forecast_monthly(run=ctx.run, level="provider", key=provider)
            if row["cost"] is not None and date.fromisoformat(f"{row['month']}-01") in window
        }
        if sum(costs.values(), Decimal(0)) <= 0:
            continue
        months = ctx.months(cell for cell in ctx.cells.values() if cell.provider == provider)
        evidence = savings.evidence(
            months=months,
            result=savings.Savings((), None, 0, None, None),
            unit_savings={},
            prices_from={},
            prices_to={},
            assumptions={},
            notes=["no provisioned-throughput offer for this route's models: add one to compute the break-even"],
            formula=COMMITMENT_FORMULA_UNPRICED,
            needed=PROVISIONED_NEEDS,
            pay_as_you_go_cost_by_month={month: str(cost) for month, cost in sorted(costs.items())},
            **ctx.header(Kind.COMMITMENT),
        )
        yield _Proposal(
            kind=Kind.COMMITMENT,
            team="",
            provider=provider,
            model="",
            to_model="",
            title=f"{provider}: provisioned throughput vs pay-as-you-go: the catalog lacks the prices to compare",
            monthly_savings=None,
            twelve_month_savings=None,
            confidence=Confidence.LOW,
            evidence=evidence,
        )


def _refreshable(row: Recommendation, on: date) -> bool:
    """Open rows, and snoozed rows whose date has come, follow the newest figures."""
    if row.status == Status.OPEN:
        return True
    return row.status == Status.SNOOZED and (row.snoozed_until is None or row.snoozed_until <= on)


def _key(row: Recommendation) -> RecommendationKey:
    return (row.kind, row.team, row.provider, row.model, row.to_model)


_STORED_FIELDS = (
    "title",
    "monthly_savings",
    "twelve_month_savings",
    "confidence",
    "lower_quality",
    "quality_gap",
    "evidence",
)


def _apply(row: Recommendation, proposal: _Proposal, run: ForecastRun) -> bool:
    """Bring an open row up to date with a proposal (reopening an expired snooze); True when anything changed."""
    wanted: dict[str, Any] = {name: getattr(proposal, name) for name in _STORED_FIELDS}
    wanted.update(currency=CURRENCY, status=Status.OPEN, snoozed_until=None, forecast_run=run)
    changed = row.forecast_run_id != run.pk or any(
        getattr(row, name) != value for name, value in wanted.items() if name != "forecast_run"
    )
    for name, value in wanted.items():
        setattr(row, name, value)
    return changed


def _store(organization: Organization, run: ForecastRun, proposals: list[_Proposal], on: date) -> RecommendationResult:
    result = RecommendationResult(run=run)
    with transaction.atomic():
        # One regeneration at a time per organization: two at once would both create the same new rows.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        existing = {
            _key(row): row for row in Recommendation.objects.select_for_update().filter(organization=organization)
        }
        seen: set[RecommendationKey] = set()
        for proposal in proposals:
            if proposal.key in seen:
                continue
            seen.add(proposal.key)
            row = existing.get(proposal.key)
            if row is None:
                row = Recommendation(
                    organization=organization,
                    kind=proposal.kind,
                    team=proposal.team,
                    provider=proposal.provider,
                    model=proposal.model,
                    to_model=proposal.to_model,
                )
                _apply(row, proposal, run)
                row.save()
                result.created += 1
            elif not _refreshable(row, on):
                result.left_alone += 1
            elif _apply(row, proposal, run):
                row.save()
                result.updated += 1
            else:
                result.unchanged += 1
            result.recommendations.append(row)
        stale = [row.pk for key, row in existing.items() if key not in seen and _refreshable(row, on)]
        Recommendation.objects.filter(pk__in=stale).delete()
        result.withdrawn = len(stale)
    return result


def recommendations_generate(
    *, organization: Organization, run: ForecastRun | None = None, on: date | None = None
) -> RecommendationResult:
    """Recompute every recommendation of the organization from ``run`` (default: its latest succeeded forecast, not
    a what-if) with the prices in force on ``on`` (default: today), and store them without duplicates (see the module
    docstring).

    Without a succeeded run nothing changes and the result has ``run=None``.
    """
    on = on or timezone.localdate()
    run = run or forecast_latest(organization=organization)
    if run is None:
        return RecommendationResult(run=None)
    if run.organization_id != organization.pk:
        raise ValueError(f"forecast run #{run.pk} belongs to another organization")
    if run.status != ForecastRun.Status.SUCCEEDED or run.history_end is None:
        raise ValueError(f"forecast run #{run.pk} has not succeeded (status {run.status})")
    if run.trigger == ForecastRun.Trigger.WHAT_IF:
        raise ValueError(f"forecast run #{run.pk} is a what-if (a re-pricing); recommend from a forecast")
    ctx = _Context(organization=organization, run=run, on=on)
    proposals = [*_model_switches(ctx), *_caching(ctx), *_batch(ctx), *_deprecations(ctx), *_commitments(ctx)]
    return _store(organization, run, proposals, on)


def _what_if(recommendation: Recommendation) -> dict[str, Any]:
    """The what-if change (``forecasting.services.WHAT_IF_KEYS``) that carries out a recommendation."""
    evidence = recommendation.evidence or {}
    assumptions = evidence.get("assumptions") or {}
    if recommendation.kind == Kind.MODEL_SWITCH:
        return {"switch": {"from_model": recommendation.model, "to_model": recommendation.to_model}}
    if recommendation.kind == Kind.DEPRECATION:
        if not recommendation.to_model:
            raise ValueError(f"{recommendation.model} has no known successor: there is no model to switch to")
        switch = {"from_model": recommendation.model, "to_model": recommendation.to_model}
        successor_provider = (evidence.get("successor") or {}).get("provider")
        if successor_provider and successor_provider != recommendation.provider:
            switch["to_provider"] = successor_provider
        return {"switch": switch}
    if recommendation.kind == Kind.PROMPT_CACHING:
        return {"cached_input_share": float(assumptions.get("cache_hit_rate", savings.CACHE_HIT_RATE))}
    if recommendation.kind == Kind.BATCH:
        return {"batch_share": float(assumptions.get("batch_eligible_share", savings.BATCH_ELIGIBLE_SHARE))}
    raise ValueError(
        "a commitment cannot be tried as a what-if: the catalog has no provisioned-throughput prices "
        f"(needed: {', '.join(PROVISIONED_NEEDS)})"
    )


def _actor(user: User | AnonymousUser | None) -> User | None:
    return user if isinstance(user, User) else None


def recommendation_accept(*, recommendation: Recommendation, user: User | AnonymousUser | None) -> ForecastRun:
    """Accept a recommendation: start a what-if run re-pricing the forecast it was computed from with its change,
    and mark it accepted. ValueError when it has no what-if (a commitment, a deprecation without successor), was
    accepted already, or its forecast run is gone."""
    if recommendation.status == Status.ACCEPTED:
        raise ValueError(f"already accepted (what-if run #{recommendation.what_if_run_id})")
    what_if = _what_if(recommendation)
    baseline = recommendation.forecast_run
    if baseline is None:
        raise ValueError("the forecast run it was computed from is gone; regenerate the recommendations first")
    with transaction.atomic():
        run = forecast_run_create(
            organization=recommendation.organization,
            what_if=what_if,
            baseline=baseline,
            scenario=baseline.scenario,
            policy=baseline.policy,
            user=user,
        )
        recommendation.status = Status.ACCEPTED
        recommendation.what_if_run = run
        recommendation.snoozed_until = None
        recommendation.acted_by = _actor(user)
        recommendation.save(update_fields=["status", "what_if_run", "snoozed_until", "acted_by", "updated_at"])
    return run


def recommendation_dismiss(
    *, recommendation: Recommendation, reason: str, user: User | AnonymousUser | None
) -> Recommendation:
    """Dismiss a recommendation with a reason (required); regenerating leaves it dismissed."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("say why the recommendation is dismissed: a reason is required")
    if recommendation.status == Status.ACCEPTED:
        raise ValueError("an accepted recommendation cannot be dismissed")
    recommendation.status = Status.DISMISSED
    recommendation.dismiss_reason = reason
    recommendation.snoozed_until = None
    recommendation.acted_by = _actor(user)
    recommendation.save(update_fields=["status", "dismiss_reason", "snoozed_until", "acted_by", "updated_at"])
    return recommendation


def recommendation_snooze(
    *, recommendation: Recommendation, until: date, user: User | AnonymousUser | None
) -> Recommendation:
    """Hide a recommendation until ``until`` (a future date): the first regeneration on or after it reopens it."""
    today = timezone.localdate()
    if until <= today:
        raise ValueError(f"snooze until a future date: {until.isoformat()} is not after today ({today.isoformat()})")
    if recommendation.status not in (Status.OPEN, Status.SNOOZED):
        raise ValueError(f"only an open recommendation can be snoozed (this one is {recommendation.status})")
    recommendation.status = Status.SNOOZED
    recommendation.snoozed_until = until
    recommendation.acted_by = _actor(user)
    recommendation.save(update_fields=["status", "snoozed_until", "acted_by", "updated_at"])
    return recommendation
