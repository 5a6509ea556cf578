"""Shipped model deprecation dates and successors (finops/data/model_deprecations.csv) onto the seeded catalog, so a
fresh install's deprecation recommendations have them without a price-catalog reload."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def load_deprecations(apps: Any, schema_editor: Any) -> None:
    # The loader reads and writes only CatalogModel's deprecation_date and successor, which exist at this state.
    from finops.deprecations import model_deprecations_load

    model_deprecations_load()


class Migration(migrations.Migration):
    dependencies = [("finops", "0006_holiday_country")]

    operations = [migrations.RunPython(load_deprecations, migrations.RunPython.noop)]
