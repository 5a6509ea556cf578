"""App config for ingest: re-prices ledger estimates when the price book changes, and gives cached usage answers a
new version when a team or an exchange rate changes."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _reestimate_after_price_change(sender: Any, organization_id: int | None = None, **kwargs: Any) -> None:
    from ingest.tasks import reestimate_ledger_costs

    reestimate_ledger_costs.delay(organization_id)


def _team_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from ingest.rollup import usage_version_bump

    usage_version_bump(organization_id=instance.organization_id)


def _fx_rate_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from ingest.rollup import usage_version_bump

    usage_version_bump()


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Uploads and ledger"

    def ready(self) -> None:
        from finops.signals import prices_changed

        prices_changed.connect(_reestimate_after_price_change, dispatch_uid="ingest.reestimate_after_price_change")
        # Every save and delete (the admin's, the API's, the services', a cascade's), not bulk updates: none exist.
        for name, signal in (("saved", post_save), ("deleted", post_delete)):
            signal.connect(_team_changed, sender="finops.Team", dispatch_uid=f"ingest.team_{name}")
            signal.connect(_fx_rate_changed, sender="finops.FxRate", dispatch_uid=f"ingest.fx_rate_{name}")
