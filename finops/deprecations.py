"""Model deprecations: the shipped shutdown dates and successors of catalog models.

``finops/data/model_deprecations.csv`` (format in ``finops/data/FORMATS.md``, sources in ``PROVENANCE.md``) has one
row per route and model: the day the route stops serving it and, where the source names a replacement that the
catalog prices, the successor. ``model_deprecations_load`` copies them onto ``CatalogModel.deprecation_date`` and
``CatalogModel.successor``, which the planning app's deprecation recommendation reads.

Matching a row to the catalog, on the row's route (``provider``, price-file names such as ``azure`` accepted):

- the catalog model with the same ``model_id``;
- else the models with the same canonical id (``finops.catalog.canonical_model_id``) and the same snapshot date
  (``claude-sonnet-4.5`` for ``claude-sonnet-4-5``, ``us.anthropic.x-20250219-v1:0`` for ``anthropic.x-20250219-v1:0``);
  a dated row also takes the undated spellings when the route prices no other snapshot of that model.

Rows whose model the catalog lacks are logged and skipped. Loading is idempotent: a second run changes nothing.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.db import transaction

from finops.catalog import DATA_DIR, canonical_model_id, provider_route
from finops.models import CatalogModel

logger = logging.getLogger(__name__)

DEPRECATIONS_FILE = DATA_DIR / "model_deprecations.csv"
DEPRECATION_COLUMNS = ("provider", "model_id", "deprecation_date", "date_kind", "successor_model_id", "source")
# ``shutdown``: the day the route stops serving the model (OpenAI's shutdown date, Anthropic's and Azure's retirement
# date, Bedrock's EOL date). ``announcement``: only the day the deprecation was announced is known; such a row is
# kept in the file for the record but sets nothing, since the catalog's date is the one requests start to fail.
DATE_KINDS = ("shutdown", "announcement")
_SNAPSHOT = re.compile(r"[-@](\d{8}|\d{4}-\d{2}-\d{2})(?=$|[-:@])")


@dataclass(frozen=True)
class ModelDeprecation:
    """One row of the deprecations file; ``row`` is its spreadsheet row number (the header is row 1)."""

    row: int
    provider: str
    model_id: str
    deprecation_date: date
    date_kind: str
    successor_model_id: str
    source: str


def model_deprecations(path: Path = DEPRECATIONS_FILE) -> list[ModelDeprecation]:
    """The rows of a deprecations file. Raises ValueError naming the row and column of any malformed cell."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in DEPRECATION_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
        rows: list[ModelDeprecation] = []
        seen: dict[tuple[str, str], int] = {}
        for number, raw in enumerate(reader, start=2):
            cells = {column: (raw.get(column) or "").strip() for column in DEPRECATION_COLUMNS}
            for column in ("provider", "model_id", "deprecation_date", "date_kind", "source"):
                if not cells[column]:
                    raise ValueError(f"{path.name} row {number}, column '{column}': empty")
            try:
                day = date.fromisoformat(cells["deprecation_date"])
            except ValueError:
                raise ValueError(
                    f"{path.name} row {number}, column 'deprecation_date': "
                    f"{cells['deprecation_date']!r} is not a YYYY-MM-DD date"
                ) from None
            if cells["date_kind"] not in DATE_KINDS:
                raise ValueError(
                    f"{path.name} row {number}, column 'date_kind': {cells['date_kind']!r} is not one of "
                    f"{', '.join(DATE_KINDS)}"
                )
            provider = provider_route(cells["provider"])
            key = (provider, cells["model_id"])
            if key in seen:
                raise ValueError(f"{path.name} row {number}: {provider}/{cells['model_id']} is also on row {seen[key]}")
            seen[key] = number
            rows.append(
                ModelDeprecation(
                    row=number,
                    provider=provider,
                    model_id=cells["model_id"],
                    deprecation_date=day,
                    date_kind=cells["date_kind"],
                    successor_model_id=cells["successor_model_id"],
                    source=cells["source"],
                )
            )
    return rows


def _snapshot(model_id: str) -> str:
    """The snapshot date in an id (``20250929``, ``2024-07-18``, Vertex ``@20250219``), digits only; else ``""``."""
    match = _SNAPSHOT.search(model_id.strip().lower())
    return match.group(1).replace("-", "") if match else ""


def catalog_models_matching(*, provider: str, model_id: str) -> list[CatalogModel]:
    """The catalog models on ``provider`` that ``model_id`` names (rules in the module docstring)."""
    exact = list(CatalogModel.objects.filter(provider=provider, model_id=model_id))
    if exact:
        return exact
    siblings = list(
        CatalogModel.objects.filter(provider=provider, canonical_id=canonical_model_id(model_id)).order_by("model_id")
    )
    version = _snapshot(model_id)
    same_version = [model for model in siblings if _snapshot(model.model_id) == version]
    if same_version:
        return same_version
    other_versions = {_snapshot(model.model_id) for model in siblings} - {""}
    return siblings if version and not other_versions else []


def _successor(provider: str, model_id: str) -> CatalogModel | None:
    """The one catalog model a successor id names: the exact id, else the canonical spelling, else the first."""
    candidates = catalog_models_matching(provider=provider, model_id=model_id)
    if not candidates:
        return None
    canonical = canonical_model_id(model_id)
    return next((model for model in candidates if model.model_id == canonical), candidates[0])


def model_deprecations_load(path: Path = DEPRECATIONS_FILE) -> int:
    """Set ``deprecation_date`` and ``successor`` of the catalog models the file names; returns how many were set
    (catalog models changed), so a second load returns 0.

    The file's date replaces the catalog's; a successor replaces the catalog's only when the file names one that the
    catalog has on the same route (a blank successor keeps one set by hand). Rows whose model is not in the catalog,
    successors the catalog lacks and ``announcement`` rows are logged and skipped.
    """
    changed = 0
    with transaction.atomic():
        for row in model_deprecations(path):
            label = f"{path.name} row {row.row}: {row.provider}/{row.model_id}"
            if row.date_kind != "shutdown":
                logger.info("%s: only an %s date is known, nothing set", label, row.date_kind)
                continue
            models = catalog_models_matching(provider=row.provider, model_id=row.model_id)
            if not models:
                logger.info("%s is not in the catalog: skipped", label)
                continue
            successor = _successor(row.provider, row.successor_model_id) if row.successor_model_id else None
            if row.successor_model_id and successor is None:
                logger.warning(
                    "%s: successor %s is not in the catalog on that route: not set", label, row.successor_model_id
                )
            for model in models:
                fields = []
                if model.deprecation_date != row.deprecation_date:
                    model.deprecation_date = row.deprecation_date
                    fields.append("deprecation_date")
                if successor is not None and successor.pk != model.pk and model.successor_id != successor.pk:
                    model.successor = successor
                    fields.append("successor")
                if fields:
                    model.save(update_fields=fields)
                    changed += 1
    return changed
