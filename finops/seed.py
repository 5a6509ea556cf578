"""Seeds and keeps in step the catalog built from the shipped files (``finops/data/``).

One code path for migration 0005 (historical models through ``apps.get_model``) and for
``finops.services.price_catalog_load`` (current models), so a flushed test database and a fresh
install hold the same catalog. Every function is idempotent: what exists is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from finops.catalog import (
    DIRECT_ROUTE_BY_VENDOR,
    GEO_RANK,
    canonical_model_id,
    catalog_price_fields,
    catalog_prices,
    derived_cache_write_prices,
    geo_prefix,
    long_context_tier,
    model_family_tier,
    price_multipliers,
    quality_scores,
)

ModelGetter = Callable[[str, str], Any]
DERIVED_ALIAS_PRIORITY = 100
# Routes that are sold at another route's list prices: Azure's price list covers Azure OpenAI and the
# other models of Azure AI Foundry (Llama, Phi ...), which the ledger books as ``azure_foundry``.
ALSO_PRICED_ON = {"azure_openai": ("azure_foundry",)}
# Caching arrived with Claude 3; older Claude ids get no derived cache-write price.
_PRE_CACHING_CLAUDE = ("claude-instant", "claude-1", "claude-2")


def catalog_seed(*, get_model: ModelGetter) -> int:
    """Load everything shipped that is missing; returns the number of list prices added."""
    added = list_prices_seed(get_model=get_model)
    catalog_models_sync(get_model=get_model)
    multipliers_seed(get_model=get_model)
    quality_scores_seed(get_model=get_model)
    return added


def list_prices_seed(*, get_model: ModelGetter) -> int:
    """Shipped list prices and the derived Claude cache-write prices, each with a ``created`` log entry."""
    model_price = get_model("finops", "ModelPrice")
    existing = set(model_price.objects.values_list("provider", "model", "token_type", "cache_ttl", "effective_from"))
    new_prices = []
    for (provider, model, token_type, effective_from), fields in catalog_price_fields().items():
        if (provider, model, token_type, "", effective_from) not in existing:
            new_prices.append(model_price(**fields, cache_ttl=""))
    claude_inputs = (
        price for price in catalog_prices() if not canonical_model_id(price.model).startswith(_PRE_CACHING_CLAUDE)
    )
    seen: set[tuple[str, str, str, str, date]] = set()
    for price, ttl in derived_cache_write_prices(claude_inputs):
        key = (price.provider, price.model, price.token_type, ttl, price.effective_from)
        if key not in existing and key not in seen:
            seen.add(key)
            new_prices.append(model_price(**price.__dict__, cache_ttl=ttl))
    created = model_price.objects.bulk_create(new_prices, batch_size=1000)
    price_changes_log_created(get_model=get_model, prices=created)
    return len(created)


def price_changes_log_created(*, get_model: ModelGetter, prices: Iterable[Any]) -> None:
    """A ``created via seed`` log entry for each price (backfill and fresh seeds)."""
    price_change = get_model("finops", "PriceChange")
    price_change.objects.bulk_create(
        [
            price_change(
                price_id=price.pk,
                provider=price.provider,
                model=price.model,
                token_type=price.token_type,
                cache_ttl=price.cache_ttl,
                effective_from=price.effective_from,
                action="created",
                new_usd_per_million=price.usd_per_million,
                new_effective_to=price.effective_to,
                via="seed",
                source=price.source,
            )
            for price in prices
        ],
        batch_size=1000,
    )


def catalog_models_sync(*, get_model: ModelGetter, providers: Iterable[str] | None = None) -> int:
    """Make a catalog model for every price series, fill derived fields, and recompute derived aliases.

    Fields set by hand are kept: family and tier only fill blanks, release date only moves earlier
    when an earlier price appears. Returns the number of catalog models created.
    """
    model_price = get_model("finops", "ModelPrice")
    catalog_model = get_model("finops", "CatalogModel")
    prices = model_price.objects.all()
    if providers is not None:
        prices = prices.filter(provider__in=list(providers))
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for provider, model, token_type, effective_from in prices.values_list(
        "provider", "model", "token_type", "effective_from"
    ):
        info = series.setdefault((provider, model), {"token_types": set(), "first": effective_from})
        info["token_types"].add(token_type)
        info["first"] = min(info["first"], effective_from)
    existing = {
        (row.provider, row.model_id): row for row in catalog_model.objects.filter(provider__in={p for p, _ in series})
    }
    created = []
    for (provider, model), info in series.items():
        if (provider, model) in existing:
            continue
        family, tier = model_family_tier(model)
        created.append(
            catalog_model(
                provider=provider,
                model_id=model,
                canonical_id=canonical_model_id(model),
                family=family,
                tier=tier,
                release_date=info["first"],
            )
        )
    catalog_model.objects.bulk_create(created, batch_size=1000)
    models_by_key = {
        (row.provider, row.model_id): row for row in catalog_model.objects.filter(provider__in={p for p, _ in series})
    }
    for key, row in models_by_key.items():
        seen = series.get(key)
        if seen is not None and row.release_date is not None and seen["first"] < row.release_date:
            row.release_date = seen["first"]
            row.save(update_fields=["release_date"])
        long_context = long_context_tier(row.model_id)
        if long_context is not None and row.long_context_base_id is None:
            base = models_by_key.get((row.provider, long_context[0]))
            if base is not None:
                row.long_context_base = base
                row.long_context_above_tokens = long_context[1]
                row.save(update_fields=["long_context_base", "long_context_above_tokens"])
    _derived_aliases_rebuild(get_model=get_model, models_by_key=models_by_key, series=series)
    return len(created)


def _derived_aliases_rebuild(
    *, get_model: ModelGetter, models_by_key: dict[tuple[str, str], Any], series: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """Alias each model's canonical id on its route (and on the routes in ALSO_PRICED_ON) to it.

    Ranked: no geo prefix, then ``global.``, other geos, ``regional.`` last (it carries a surcharge);
    then more token types priced, longer history, id.
    """
    alias_model = get_model("finops", "CatalogModelAlias")
    groups: dict[tuple[str, str], list[tuple[tuple[Any, ...], Any]]] = {}
    for (provider, model), row in models_by_key.items():
        info = series.get((provider, model))
        if info is None:
            continue
        rank = (
            GEO_RANK.get(geo_prefix(model), 2),
            -len(info["token_types"]),
            info["first"],
            model,
        )
        groups.setdefault((provider, row.canonical_id), []).append((rank, row))
    alias_model.objects.filter(derived=True, catalog_model__in=list(models_by_key.values())).delete()
    aliases = []
    for (provider, canonical), members in groups.items():
        members.sort(key=lambda member: member[0])
        for position, (_, row) in enumerate(members):
            routes = [provider] if row.model_id != canonical else []
            for route in routes + list(ALSO_PRICED_ON.get(provider, ())):
                aliases.append(
                    alias_model(
                        catalog_model=row,
                        provider=route,
                        alias=canonical,
                        priority=DERIVED_ALIAS_PRIORITY + position,
                        derived=True,
                    )
                )
    alias_model.objects.bulk_create(aliases, batch_size=1000, ignore_conflicts=True)


def multipliers_seed(*, get_model: ModelGetter) -> int:
    """The shipped batch/flex multipliers and regional surcharges that are missing; returns how many were added."""
    price_multiplier = get_model("finops", "PriceMultiplier")
    existing = set(price_multiplier.objects.values_list("provider", "kind"))
    new_rows = [
        price_multiplier(**multiplier.__dict__)
        for multiplier in price_multipliers()
        if (multiplier.provider, multiplier.kind) not in existing
    ]
    price_multiplier.objects.bulk_create(new_rows)
    return len(new_rows)


def quality_scores_seed(*, get_model: ModelGetter) -> int:
    """The shipped quality scores that are missing, linked to the vendor's direct-route catalog model
    with the same id, or else the same canonical id. Returns how many were added."""
    score_model = get_model("finops", "ModelQualityScore")
    catalog_model = get_model("finops", "CatalogModel")
    by_id: dict[tuple[str, str], int] = {}
    by_canonical: dict[tuple[str, str], int] = {}
    for pk, provider, model_id, canonical in catalog_model.objects.order_by("model_id").values_list(
        "pk", "provider", "model_id", "canonical_id"
    ):
        by_id[(provider, model_id.lower())] = pk
        by_canonical.setdefault((provider, canonical), pk)
    existing = set(score_model.objects.values_list("provider", "model", "score_name", "as_of"))
    new_rows = []
    for score in quality_scores():
        if (score.provider, score.model, score.score_name, score.as_of) in existing:
            continue
        route = DIRECT_ROUTE_BY_VENDOR.get(score.provider, score.provider)
        canonical = canonical_model_id(score.model)
        new_rows.append(
            score_model(
                **score.__dict__,
                canonical_id=canonical,
                catalog_model_id=by_id.get((route, score.model.lower())) or by_canonical.get((route, canonical)),
            )
        )
    score_model.objects.bulk_create(new_rows, batch_size=1000)
    return len(new_rows)
