"""Seed the list-price catalog from the shipped price file (finops/data/price_history.csv)."""

from typing import Any

from django.db import migrations


def seed_prices(apps: Any, schema_editor: Any) -> None:
    from finops.catalog import catalog_prices

    model_price = apps.get_model("finops", "ModelPrice")
    seen = set()
    rows = []
    for price in catalog_prices():
        key = (price.provider, price.model, price.token_type, price.effective_from)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            model_price(
                provider=price.provider,
                model=price.model,
                token_type=price.token_type,
                usd_per_million=price.usd_per_million,
                effective_from=price.effective_from,
                source=price.source,
            )
        )
    model_price.objects.bulk_create(rows, batch_size=1000)


def unseed_prices(apps: Any, schema_editor: Any) -> None:
    apps.get_model("finops", "ModelPrice").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("finops", "0001_initial")]
    operations = [migrations.RunPython(seed_prices, unseed_prices)]
