"""Seed the list-price catalog from the shipped price file (finops/data/price_history.csv)."""

from typing import Any

from django.db import migrations


def seed_prices(apps: Any, schema_editor: Any) -> None:
    from finops.catalog import catalog_price_fields

    model_price = apps.get_model("finops", "ModelPrice")
    model_price.objects.bulk_create([model_price(**fields) for fields in catalog_price_fields().values()], batch_size=1000)


def unseed_prices(apps: Any, schema_editor: Any) -> None:
    apps.get_model("finops", "ModelPrice").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("finops", "0001_initial")]
    operations = [migrations.RunPython(seed_prices, unseed_prices)]
