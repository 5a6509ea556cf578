"""Signals the core domain sends, so apps above it (the ledger) can react without finops importing them."""

from __future__ import annotations

from django.dispatch import Signal

prices_changed = Signal()
"""Sent after list prices or an organization's negotiated prices changed (on commit).

``organization_id`` is the organization whose overrides changed, or None when the shared catalog changed.
"""


def send_prices_changed(*, organization_id: int | None = None) -> None:
    """Send ``prices_changed`` once the current transaction commits (at once outside a transaction)."""
    from django.db import transaction

    transaction.on_commit(lambda: prices_changed.send(sender=None, organization_id=organization_id))
