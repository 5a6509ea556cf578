"""Ingest app: uploads, the usage ledger, export parsers, model-id normalization and allocation."""
