"""Reads the shipped list-price file into plain records (pure: no Django).

The file is ``finops/data/price_history.csv`` (provenance in ``finops/data/PROVENANCE.md``):
one row per provider, model and effective date with input, output and cached-input prices
in USD per million tokens.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

PRICE_FILE = Path(__file__).resolve().parent / "data" / "price_history.csv"

# The price file names where a price is charged; the ledger names providers by buying route.
PROVIDER_BY_CATALOG_NAME = {
    "openai": "openai",
    "anthropic": "anthropic",
    "aws-bedrock": "aws_bedrock",
    "google-vertex": "gcp_vertex",
    "google": "gcp_gemini_api",
    "azure": "azure_openai",
}

PRICE_COLUMNS = {"input_per_mtok": "input", "output_per_mtok": "output", "cached_input_per_mtok": "cached_input"}


@dataclass(frozen=True)
class CatalogPrice:
    provider: str
    model: str
    token_type: str
    usd_per_million: Decimal
    effective_from: date
    source: str


def catalog_prices(path: Path = PRICE_FILE) -> Iterator[CatalogPrice]:
    """Yield one price per (provider, model, token type, effective date) in the file."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            provider = PROVIDER_BY_CATALOG_NAME.get(row["provider"], row["provider"])
            for column, token_type in PRICE_COLUMNS.items():
                if row[column].strip():
                    yield CatalogPrice(
                        provider=provider,
                        model=row["model"],
                        token_type=token_type,
                        usd_per_million=Decimal(row[column]),
                        effective_from=date.fromisoformat(row["effective_date"]),
                        source=row["source"],
                    )


def catalog_price_fields(path: Path = PRICE_FILE) -> dict[tuple[str, str, str, date], dict[str, object]]:
    """Model-field values of each distinct catalog price, keyed by (provider, model, token type, date)."""
    fields: dict[tuple[str, str, str, date], dict[str, object]] = {}
    for price in catalog_prices(path):
        key = (price.provider, price.model, price.token_type, price.effective_from)
        fields.setdefault(key, price.__dict__.copy())
    return fields
