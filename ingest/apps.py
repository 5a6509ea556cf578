"""App config for ingest: re-prices ledger estimates when the price book changes."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _reestimate_after_price_change(sender: Any, organization_id: int | None = None, **kwargs: Any) -> None:
    from ingest.tasks import reestimate_ledger_costs

    reestimate_ledger_costs.delay(organization_id)


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Uploads and ledger"

    def ready(self) -> None:
        from finops.signals import prices_changed

        prices_changed.connect(_reestimate_after_price_change, dispatch_uid="ingest.reestimate_after_price_change")
