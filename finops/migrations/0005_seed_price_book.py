"""Seed the price book from the shipped files: derived Claude cache-write prices, catalog models and
their aliases, batch/flex multipliers and regional surcharges, quality scores (finops/data/), and a
``created via seed`` change-log entry for every list price, those of migration 0002 included."""

from typing import Any

from django.db import migrations


def seed_price_book(apps: Any, schema_editor: Any) -> None:
    from finops.seed import catalog_seed, price_changes_log_created

    model_price = apps.get_model("finops", "ModelPrice")
    price_changes_log_created(get_model=apps.get_model, prices=model_price.objects.all())
    catalog_seed(get_model=apps.get_model)


def unseed_price_book(apps: Any, schema_editor: Any) -> None:
    for name in ("PriceChange", "ModelQualityScore", "PriceMultiplier", "CatalogModelAlias", "CatalogModel"):
        apps.get_model("finops", name).objects.all().delete()
    apps.get_model("finops", "ModelPrice").objects.exclude(cache_ttl="").delete()


class Migration(migrations.Migration):
    dependencies = [("finops", "0004_price_book")]
    operations = [migrations.RunPython(seed_price_book, unseed_price_book)]
