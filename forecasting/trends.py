"""Re-fits price decline rates from the shipped price history, next to the published scenario values.

``price_trends_fit`` repeats section 4.3 of the price-decline reference for a few quality bars: the bar is
a reference model's score in one leaderboard snapshot; for each month since the bar was first met, the
cheapest first-party blended price (3 input : 1 output) among models scoring at least the bar; an OLS fit
of ln price on time gives the annual factor ``f`` with a 90% interval, shrunk toward the published base
value of the bar's tier when the window is short or the cheapest model rarely changed
(``forecasting.projection.fit_decline_rate``). Each fit is stored as a ``PriceTrendFit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.db import transaction

from finops.models import CatalogModel, ModelPrice, ModelQualityScore
from forecasting import projection
from forecasting.models import PriceTrendFit
from forecasting.pricing import frontier_tier

DEFAULT_SCORE = "lmarena_text_elo"
DEFAULT_AS_OF = date(2025, 12, 11)
# The bars of the reference's table (section 2a): models whose quality level people budget against.
DEFAULT_BAR_MODELS = (
    "gpt-4-0314",
    "gpt-4-turbo-2024-04-09",
    "claude-3-5-sonnet-20240620",
    "gpt-4o-2024-05-13",
    "o1-2024-12-17",
    "gpt-4.5-preview-2025-02-27",
)
FIRST_PARTY_PROVIDERS = frozenset({"openai", "anthropic", "gcp_gemini_api", "deepseek", "xai", "mistral"})


class TrendFitError(ValueError):
    """A bar cannot be fitted (unknown model, no score in the snapshot, too few points)."""


def _price_records() -> list[projection.ModelPriceRecord]:
    """(provider, model, date, input, output) steps of first-party list prices, from the catalog."""
    by_step: dict[tuple[str, str, date], dict[str, Decimal]] = {}
    prices = ModelPrice.objects.filter(
        provider__in=FIRST_PARTY_PROVIDERS, token_type__in=["input", "output"], cache_ttl=""
    ).values_list("provider", "model", "effective_from", "token_type", "usd_per_million")
    for provider, model, effective_from, token_type, usd in prices:
        by_step.setdefault((provider, model, effective_from), {})[token_type] = usd
    return [
        projection.ModelPriceRecord(
            provider=provider,
            model=model,
            effective_date=effective_from,
            input_usd_per_million=float(step["input"]),
            output_usd_per_million=float(step["output"]),
        )
        for (provider, model, effective_from), step in sorted(by_step.items())
        if "input" in step and "output" in step and step["input"] > 0 and step["output"] >= step["input"]
    ]


def _scores(score_name: str, as_of: date) -> tuple[dict[str, float], dict[str, float]]:
    """Scores of one snapshot: by price-catalog model id (linked scores only) and by leaderboard id."""
    rows = ModelQualityScore.objects.filter(score_name=score_name, as_of=as_of).select_related("catalog_model")
    by_catalog: dict[str, float] = {}
    by_leaderboard: dict[str, float] = {}
    for row in rows:
        by_leaderboard[row.model] = float(row.score)
        if row.catalog_model is not None:
            model_id = row.catalog_model.model_id
            by_catalog[model_id] = max(by_catalog.get(model_id, float("-inf")), float(row.score))
    return by_catalog, by_leaderboard


def price_trends_fit(
    *,
    bar_models: Sequence[str] = DEFAULT_BAR_MODELS,
    score_name: str = DEFAULT_SCORE,
    as_of: date = DEFAULT_AS_OF,
    today: date | None = None,
) -> list[PriceTrendFit]:
    """Fit the decline rate at each bar and store the fits; raises TrendFitError when no bar can be fitted."""
    today = today or date.today()
    records = _price_records()
    scores, leaderboard = _scores(score_name, as_of)
    if not scores:
        raise TrendFitError(f"no {score_name} scores of {as_of} are linked to catalog models")
    releases = {model.model_id: model.release_date for model in CatalogModel.objects.exclude(release_date=None)}
    fits: list[PriceTrendFit] = []
    problems: list[str] = []
    for bar_model in bar_models:
        if bar_model not in leaderboard:
            problems.append(f"{bar_model}: no {score_name} score in the {as_of} snapshot")
            continue
        bar = leaderboard[bar_model]
        points = projection.cheapest_at_bar_series(records, scores, bar)
        tier = frontier_tier(release_date=releases.get(bar_model), on=today)
        published = projection.BASE.decline_curve(tier).annual_factor
        try:
            fit = projection.fit_decline_rate(points, prior_annual_factor=published)
        except ValueError as error:
            problems.append(f"{bar_model}: {error}")
            continue
        path: list[str] = []
        for point in points:
            if not path or path[-1] != point.model:
                path.append(point.model)
        fits.append(
            PriceTrendFit(
                bar_model=bar_model,
                score_name=score_name,
                score_as_of=as_of,
                bar_score=bar,
                tier=tier,
                annual_factor=fit.annual_factor,
                ci90_low=fit.ci90[0],
                ci90_high=fit.ci90[1],
                ols_annual_factor=fit.ols_annual_factor,
                published_base_factor=published,
                n_points=fit.n_points,
                window_start=fit.window_start,
                window_end=fit.window_end,
                cheapest_model_changes=fit.cheapest_model_changes,
                shrinkage_applied=fit.shrinkage_applied,
                cheapest_path=" -> ".join(path),
            )
        )
    if not fits:
        raise TrendFitError("; ".join(problems) or "no bar to fit")
    with transaction.atomic():
        PriceTrendFit.objects.bulk_create(fits)
    return fits
