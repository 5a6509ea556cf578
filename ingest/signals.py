"""Signals the ingest app sends, so apps above it can react without ingest importing them."""

from __future__ import annotations

from django.dispatch import Signal

upload_succeeded = Signal()
"""Sent after an upload's ledger rows are committed; ``sender`` is ``Upload``, with ``upload`` (the instance)."""
