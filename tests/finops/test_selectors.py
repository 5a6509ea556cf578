"""The price book (in force on a date, aliases, TTLs, tiers, overrides), price queries, and FX conversion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finops.models import CatalogModel, CatalogModelAlias, ModelPrice, ModelQualityScore, PriceChange, PriceMultiplier
from finops.selectors import (
    FxRateMissing,
    fx_convert,
    price_book,
    price_history,
    price_quotes,
    prices_in_force,
)
from tests.factories import FxRateFactory, ModelPriceFactory, OrganizationFactory, PriceOverrideFactory

pytestmark = pytest.mark.django_db


def test_migrations_seed_the_catalog_from_the_shipped_files() -> None:
    sonnet = CatalogModel.objects.get(provider="anthropic", model_id="claude-sonnet-4-5")
    long_context = CatalogModel.objects.get(provider="anthropic", model_id="claude-sonnet-4.5-200k")

    assert (sonnet.family, sonnet.tier, sonnet.release_date) == ("sonnet", "mid", date(2025, 9, 29))
    assert (long_context.long_context_above_tokens, long_context.long_context_base.model_id) == (
        200_000,
        "claude-sonnet-4.5",
    )
    assert set(
        ModelPrice.objects.filter(
            provider="anthropic", model="claude-sonnet-4-5", token_type="cache_write"
        ).values_list("cache_ttl", "usd_per_million")
    ) == {("5m", Decimal("3.750000")), ("1h", Decimal("6.000000"))}
    assert PriceMultiplier.objects.get(provider="aws_bedrock", kind="batch").multiplier == Decimal("0.5")
    assert ModelQualityScore.objects.filter(catalog_model=sonnet, score_name="lmarena_text_elo").exists()
    assert PriceChange.objects.filter(via="seed").count() == ModelPrice.objects.count()


def test_price_in_force_is_the_latest_step_on_or_before_the_day_including_scheduled_ones() -> None:
    book = price_book()

    def sonnet_5(on: date) -> Decimal | None:
        return book.usd_per_million(provider="anthropic", model="claude-sonnet-5", token_type="input", on=on)

    assert sonnet_5(date(2026, 6, 29)) is None
    assert sonnet_5(date(2026, 6, 30)) == Decimal("2")
    assert sonnet_5(date(2026, 8, 31)) == Decimal("2")
    assert sonnet_5(date(2026, 9, 1)) == Decimal("3")  # the scheduled end of the intro price


def test_an_ended_price_prices_nothing_after_its_last_day() -> None:
    ModelPriceFactory(model="m", usd_per_million=Decimal("2"), effective_to=date(2025, 1, 31))
    book = price_book()

    assert book.usd_per_million(provider="testcloud", model="m", token_type="input", on=date(2025, 1, 31)) == 2
    assert book.usd_per_million(provider="testcloud", model="m", token_type="input", on=date(2025, 2, 1)) is None


def test_route_spellings_are_found_through_aliases_preferring_global_over_regional() -> None:
    quote = price_book().quote(
        provider="aws_bedrock", model="claude-sonnet-4-6", token_type="input", on=date(2026, 3, 1)
    )

    assert quote is not None
    assert (quote.priced_model, quote.usd_per_million) == ("global.anthropic.claude-sonnet-4-6-v1:0", Decimal("3"))
    assert (
        CatalogModelAlias.objects.filter(
            provider="aws_bedrock", alias="claude-sonnet-4-6", catalog_model__model_id__startswith="regional."
        )
        .get()
        .priority
        == 101
    )


def test_a_token_type_missing_from_the_exact_id_comes_from_another_spelling() -> None:
    book = price_book()
    cached = book.quote(provider="anthropic", model="claude-sonnet-4", token_type="cached_input", on=date(2025, 8, 1))
    exported_name = book.usd_per_million(
        provider="anthropic", model="claude-sonnet-4-5-20250929", token_type="output", on=date(2026, 1, 1)
    )

    assert cached is not None
    assert (cached.priced_model, cached.usd_per_million) == ("claude-sonnet-4-20250514", Decimal("0.3"))
    assert exported_name == Decimal("15")


def test_cache_writes_without_ttl_take_the_five_minute_price() -> None:
    book = price_book()
    on = date(2026, 1, 1)

    assert book.usd_per_million(provider="anthropic", model="claude-sonnet-4-5", token_type="cache_write", on=on) == (
        Decimal("3.75")
    )
    assert book.usd_per_million(
        provider="anthropic", model="claude-sonnet-4-5", token_type="cache_write", on=on, cache_ttl="1h"
    ) == Decimal("6")


def test_service_tier_multipliers_apply_to_the_token_types_they_name() -> None:
    book = price_book()
    on = date(2026, 1, 1)

    def price(token_type: str, tier: str) -> Decimal | None:
        return book.usd_per_million(
            provider="anthropic", model="claude-sonnet-4-5", token_type=token_type, on=on, service_tier=tier
        )

    assert price("input", "batch") == Decimal("1.5")
    assert price("output", "batch") == Decimal("7.5")
    assert price("cached_input", "batch") == Decimal("0.3")  # the reference gives batch for input and output only
    assert price("input", "priority") == Decimal("3")  # no multiplier known


def test_organization_overrides_most_specific_wins_and_they_are_effective_dated() -> None:
    organization = OrganizationFactory()
    PriceOverrideFactory(organization=organization, provider="anthropic", discount_percent=Decimal("10"))
    PriceOverrideFactory(
        organization=organization,
        provider="anthropic",
        model="claude-sonnet-4-5",
        discount_percent=Decimal("20"),
        effective_from=date(2026, 1, 1),
        effective_to=date(2026, 6, 30),
    )
    PriceOverrideFactory(
        organization=organization,
        provider="anthropic",
        model="claude-sonnet-4-5",
        token_type="output",
        discount_percent=None,
        usd_per_million=Decimal("11"),
        effective_from=date(2026, 3, 1),
    )
    PriceOverrideFactory(provider="anthropic", discount_percent=Decimal("50"))  # another organization's
    book = price_book(organization=organization)

    def price(model: str, token_type: str, on: date) -> Decimal | None:
        return book.usd_per_million(provider="anthropic", model=model, token_type=token_type, on=on)

    assert price("claude-sonnet-4-5", "input", date(2025, 12, 31)) == Decimal("2.7")  # provider discount
    assert price("claude-sonnet-4-5", "input", date(2026, 1, 1)) == Decimal("2.4")  # model discount wins
    assert price("claude-sonnet-4-5", "output", date(2026, 2, 1)) == Decimal("12")
    assert price("claude-sonnet-4-5", "output", date(2026, 3, 1)) == Decimal("11")  # custom price wins
    assert price("claude-sonnet-4-5", "input", date(2026, 7, 1)) == Decimal("2.7")  # model discount ended
    assert price("claude-haiku-4-5", "input", date(2026, 1, 1)) == Decimal("0.9")
    assert price_book().usd_per_million(
        provider="anthropic", model="claude-sonnet-4-5", token_type="input", on=date(2026, 1, 1)
    ) == Decimal("3")


def test_a_custom_price_prices_a_model_the_catalog_lacks() -> None:
    organization = OrganizationFactory()
    PriceOverrideFactory(
        organization=organization,
        provider="openai",
        model="our-finetune",
        token_type="input",
        discount_percent=None,
        usd_per_million=Decimal("4"),
    )

    quote = price_book(organization=organization).quote(
        provider="openai", model="our-finetune", token_type="input", on=date(2025, 6, 1)
    )

    assert quote is not None
    assert (quote.list_usd_per_million, quote.usd_per_million) == (None, Decimal("4"))
    assert quote.override == "custom $4/M for openai/our-finetune input from 2025-01-01"


def test_prices_in_force_keeps_one_step_per_series() -> None:
    prices = prices_in_force(on=date(2026, 8, 31), provider="anthropic", model="claude-sonnet-5")

    assert sorted((p.token_type, p.cache_ttl, p.usd_per_million) for p in prices) == [
        ("cache_write", "1h", Decimal("4.000000")),
        ("cache_write", "5m", Decimal("2.500000")),
        ("cached_input", "", Decimal("0.200000")),
        ("input", "", Decimal("2.000000")),
        ("output", "", Decimal("10.000000")),
    ]


def test_price_quotes_per_route_and_history_across_spellings() -> None:
    quotes = price_quotes(model="claude-sonnet-4-5", on=date(2026, 3, 1), provider="aws_bedrock")
    history = price_history(model="claude-sonnet-5", provider="anthropic")

    assert [(q.token_type, q.cache_ttl, q.usd_per_million) for q in quotes] == [
        ("input", "", Decimal("3")),
        ("output", "", Decimal("15")),
        ("cached_input", "", Decimal("0.3")),
        ("cache_write", "5m", Decimal("3.75")),
        ("cache_write", "1h", Decimal("6")),
    ]
    assert [(p.token_type, p.cache_ttl, p.effective_from, p.usd_per_million) for p in history][:4] == [
        ("cache_write", "1h", date(2026, 6, 30), Decimal("4.000000")),
        ("cache_write", "1h", date(2026, 9, 1), Decimal("6.000000")),
        ("cache_write", "5m", date(2026, 6, 30), Decimal("2.500000")),
        ("cache_write", "5m", date(2026, 9, 1), Decimal("3.750000")),
    ]


def test_fx_convert_uses_the_latest_rate_on_or_before_the_day() -> None:
    FxRateFactory(rate=Decimal("1.05"), rate_date=date(2025, 1, 1))
    FxRateFactory(rate=Decimal("1.10"), rate_date=date(2025, 3, 1))

    early = fx_convert(amount=Decimal("100"), from_currency="EUR", to_currency="USD", on=date(2025, 2, 28))
    later = fx_convert(amount=Decimal("100"), from_currency="EUR", to_currency="USD", on=date(2025, 3, 15))

    assert (early.amount, early.rate, early.rate_date) == (Decimal("105.00"), Decimal("1.05"), date(2025, 1, 1))
    assert (later.amount, later.rate, later.rate_date) == (Decimal("110.00"), Decimal("1.10"), date(2025, 3, 1))


def test_fx_convert_inverts_and_crosses_through_usd() -> None:
    FxRateFactory(from_currency="EUR", to_currency="USD", rate=Decimal("1.25"), rate_date=date(2025, 1, 1))
    FxRateFactory(from_currency="USD", to_currency="GBP", rate=Decimal("0.8"), rate_date=date(2025, 1, 10))

    inverse = fx_convert(amount=Decimal("125"), from_currency="USD", to_currency="EUR", on=date(2025, 2, 1))
    cross = fx_convert(amount=Decimal("100"), from_currency="EUR", to_currency="GBP", on=date(2025, 2, 1))
    same = fx_convert(amount=Decimal("7"), from_currency="USD", to_currency="USD", on=date(2025, 2, 1))

    assert (inverse.amount, inverse.rate_date) == (Decimal("100.0"), date(2025, 1, 1))
    assert (cross.amount, cross.rate, cross.rate_date) == (Decimal("100.000"), Decimal("1.000"), date(2025, 1, 1))
    assert (same.amount, same.rate, same.rate_date) == (Decimal("7"), Decimal("1"), None)


def test_fx_convert_without_a_rate_says_what_to_do() -> None:
    FxRateFactory(rate_date=date(2025, 3, 1))

    with pytest.raises(FxRateMissing) as caught:
        fx_convert(amount=Decimal("1"), from_currency="EUR", to_currency="USD", on=date(2025, 2, 28))

    assert str(caught.value) == (
        "no EUR->USD exchange rate on or before 2025-02-28; add one in the admin (FX rates) or with manage.py fx_import"
    )
