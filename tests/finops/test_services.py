"""Price-book writes: price-file imports (all or nothing, logged), admin edits, FX imports, the shipped catalog."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finops.catalog import FileRejected
from finops.models import CatalogModel, CatalogModelAlias, FxRate, ModelPrice, PriceChange
from finops.selectors import price_book
from finops.services import fx_rates_import, model_price_delete, model_price_save, price_catalog_load, prices_import
from tests.factories import FxRateFactory, ModelPriceFactory, UserFactory

pytestmark = pytest.mark.django_db

WIDE_HEADER = "provider,model,effective_date,input_per_mtok,output_per_mtok,cached_input_per_mtok,currency,source\n"
LONG_HEADER = "provider,model,token_type,usd_per_million,effective_from,currency,source\n"


def run_import(text: str, user=None):
    return prices_import(lines=text.splitlines(keepends=True), filename="prices.csv", user=user)


def catalog_snapshot() -> tuple[list[tuple], int, int]:
    prices = list(
        ModelPrice.objects.order_by("id").values_list(
            "id", "provider", "model", "token_type", "cache_ttl", "usd_per_million", "effective_from", "effective_to"
        )
    )
    return prices, PriceChange.objects.count(), CatalogModel.objects.count()


def test_import_creates_prices_catalog_models_and_logs_who_and_from_where() -> None:
    user = UserFactory(username="finance")

    result = run_import(
        WIDE_HEADER + "aws-bedrock,amazon.nova-9-lite-v1:0,2026-10-01,0.05,0.2,,USD,vendor page\n", user
    )

    assert result.as_dict() == {"created": 2, "updated": 0, "unchanged": 0}
    model = CatalogModel.objects.get(provider="aws_bedrock", model_id="amazon.nova-9-lite-v1:0")
    assert (model.canonical_id, model.family, model.tier, model.release_date) == (
        "nova-9-lite",
        "nova-lite",
        "small",
        date(2026, 10, 1),
    )
    assert CatalogModelAlias.objects.filter(provider="aws_bedrock", alias="nova-9-lite", catalog_model=model).exists()
    changes = PriceChange.objects.filter(model="amazon.nova-9-lite-v1:0").order_by("token_type")
    assert [(c.token_type, c.action, c.new_usd_per_million, c.via, c.changed_by, c.source) for c in changes] == [
        ("input", "created", Decimal("0.050000"), "import", user, "prices.csv row 2"),
        ("output", "created", Decimal("0.200000"), "import", user, "prices.csv row 2"),
    ]
    assert price_book().usd_per_million(
        provider="aws_bedrock", model="nova-9-lite", token_type="input", on=date(2026, 10, 2)
    ) == Decimal("0.05")


def test_reimport_updates_changed_prices_with_old_and_new_and_leaves_the_rest() -> None:
    run_import(LONG_HEADER + "openai,gpt-x,input,1,2025-01-01,USD,a\nopenai,gpt-x,output,4,2025-01-01,USD,a\n")

    result = run_import(
        LONG_HEADER + "openai,gpt-x,input,0.8,2025-01-01,USD,b\nopenai,gpt-x,output,4,2025-01-01,USD,a\n"
    )

    assert result.as_dict() == {"created": 0, "updated": 1, "unchanged": 1}
    change = PriceChange.objects.get(model="gpt-x", action="updated")
    assert (change.token_type, change.old_usd_per_million, change.new_usd_per_million) == (
        "input",
        Decimal("1.000000"),
        Decimal("0.800000"),
    )
    assert ModelPrice.objects.get(model="gpt-x", token_type="input").source == "b"


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        (
            WIDE_HEADER + "openai,gpt-4o,2026-10-01,2,8,,USD,s\nopenai,gpt-4o,2026-11-01,-2,8,,USD,s\n",
            ["row 3, column 'input_per_mtok': -2 is negative; a price must be zero or more"],
        ),
        (
            LONG_HEADER + "openai,gpt-4o,input,2,2026-10-01,USD,s\nopenai,gpt-4o,thinking,2,2026-10-01,USD,s\n",
            [
                "row 3, column 'token_type': unknown token type 'thinking'; expected one of input, output, "
                "cached_input, cache_write"
            ],
        ),
        (
            WIDE_HEADER + "openai,gpt-4o,2026-10-01,2,8,,US$,s\n",
            ["row 2, column 'currency': unknown currency 'US$'; expected an ISO 4217 code such as USD"],
        ),
        (
            "provider,model,token_type,usd_per_million,effective_from,effective_to,currency,source\n"
            "openai,gpt-4o,input,2,2026-10-01,2026-12-31,USD,s\nopenai,gpt-4o,input,1.5,2026-11-01,,USD,s\n",
            [
                "row 3: overlaps row 2: openai/gpt-4o input is priced 2026-10-01 to 2026-12-31 there, and from "
                "2026-11-01 here"
            ],
        ),
        (
            LONG_HEADER + "openai,gpt-4o,input,2,2026-10-01,USD,s\nopenai,gpt-4o,input,1.9,2026-10-01,USD,t\n",
            ["row 3: duplicate: row 2 already prices openai/gpt-4o input from 2026-10-01"],
        ),
        (
            WIDE_HEADER + "openai,gpt-4o,2026-13-01,2,8,,USD,s\nopenai,gpt-4o,2026-10-01,2,eight,,USD,s\n",
            [
                "row 2, column 'effective_date': '2026-13-01' is not a date; expected YYYY-MM-DD",
                "row 3, column 'output_per_mtok': 'eight' is not a number; expected a number like 2.50",
            ],
        ),
        (
            "provider,model,usd_per_million,token_type\nopenai,gpt-4o,2,input\n",
            [
                "row 1: missing column(s) effective_from, currency, source; expected the header "
                "provider,model,token_type,usd_per_million,effective_from,currency,source"
            ],
        ),
        (
            WIDE_HEADER + "openai,gpt-4o,2026-10-01,2,8,,EUR,s\n",
            [
                "row 2, column 'currency': no EUR->USD exchange rate on or before 2026-10-01; add one in the admin "
                "(FX rates) or with manage.py fx_import"
            ],
        ),
    ],
    ids=["negative", "token-type", "currency", "overlap", "duplicate", "unparseable", "columns", "no-fx-rate"],
)
def test_bad_files_are_rejected_whole_and_the_catalog_is_unchanged(text: str, messages: list[str]) -> None:
    before = catalog_snapshot()

    with pytest.raises(FileRejected) as caught:
        run_import(text)

    assert [str(error) for error in caught.value.errors] == messages
    assert catalog_snapshot() == before


def test_a_range_overlapping_a_closed_catalog_price_is_rejected() -> None:
    ModelPriceFactory(model="gpt-x", effective_from=date(2025, 1, 1), effective_to=date(2025, 6, 30))
    before = catalog_snapshot()

    with pytest.raises(FileRejected) as caught:
        run_import(LONG_HEADER + "testcloud,gpt-x,input,2,2025-03-01,USD,s\n")

    assert [str(error) for error in caught.value.errors] == [
        "row 2: overlaps the catalog: testcloud/gpt-x input is priced from 2025-01-01 to 2025-06-30, "
        "this row from 2025-03-01"
    ]
    assert catalog_snapshot() == before


def test_prices_in_another_currency_are_converted_at_the_rate_of_their_start() -> None:
    FxRateFactory(from_currency="EUR", to_currency="USD", rate=Decimal("1.1"), rate_date=date(2025, 12, 31))

    run_import(LONG_HEADER + "mistral,mistral-x,input,2,2026-01-01,EUR,mistral.ai\n")

    price = ModelPrice.objects.get(model="mistral-x")
    assert price.usd_per_million == Decimal("2.200000")
    assert price.source == "mistral.ai (converted from 2 EUR at 1.1000000000 of 2025-12-31)"


def test_admin_saves_and_deletes_are_logged() -> None:
    user = UserFactory()
    price = model_price_save(
        price=ModelPrice(
            provider="p",
            model="m",
            token_type="input",
            usd_per_million=Decimal(1),
            effective_from=date(2025, 1, 1),
            source="s",
        ),
        user=user,
    )
    price.usd_per_million = Decimal("0.9")
    model_price_save(price=price, user=user)
    model_price_delete(price=price, user=user)

    changes = PriceChange.objects.filter(model="m").order_by("id")
    assert [(c.action, c.old_usd_per_million, c.new_usd_per_million, c.via, c.changed_by) for c in changes] == [
        ("created", None, Decimal("1.000000"), "admin", user),
        ("updated", Decimal("1.000000"), Decimal("0.900000"), "admin", user),
        ("deleted", Decimal("0.900000"), None, "admin", user),
    ]
    assert CatalogModel.objects.filter(provider="p", model_id="m").exists()


def test_fx_import_creates_and_replaces_rates_all_or_nothing() -> None:
    FxRateFactory(from_currency="EUR", to_currency="USD", rate=Decimal("1.05"), rate_date=date(2025, 3, 1))

    result = fx_rates_import(
        lines=[
            "date,from_currency,to_currency,rate,source\n",
            "2025-03-01,EUR,USD,1.08,ECB\n",
            "2025-03-01,GBP,USD,1.27,ECB\n",
        ],
        filename="fx.csv",
    )
    with pytest.raises(FileRejected):
        fx_rates_import(lines=["date,from_currency,to_currency,rate\n", "2025-03-02,EUR,USD,-1\n"], filename="bad.csv")

    assert result.as_dict() == {"created": 1, "updated": 1, "unchanged": 0}
    assert sorted(FxRate.objects.values_list("from_currency", "rate")) == [
        ("EUR", Decimal("1.0800000000")),
        ("GBP", Decimal("1.2700000000")),
    ]


def test_loading_the_shipped_catalog_again_adds_nothing() -> None:
    before = catalog_snapshot()

    assert price_catalog_load() == 0
    assert catalog_snapshot() == before
