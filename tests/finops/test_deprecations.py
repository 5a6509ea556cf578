"""Model deprecations: the file's rows set shutdown dates and successors on the catalog, once."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from finops.catalog import canonical_model_id
from finops.deprecations import DEPRECATIONS_FILE, model_deprecations, model_deprecations_load
from finops.models import CatalogModel

HEADER = "provider,model_id,deprecation_date,date_kind,successor_model_id,source\n"


def catalog(*models: tuple[str, str]) -> None:
    """Replace the migration-seeded catalog with these (provider, model id) models."""
    CatalogModel.objects.all().delete()
    CatalogModel.objects.bulk_create(
        CatalogModel(provider=provider, model_id=model_id, canonical_id=canonical_model_id(model_id))
        for provider, model_id in models
    )


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "model_deprecations.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def state() -> dict[tuple[str, str], tuple[date | None, str | None]]:
    return {
        (model.provider, model.model_id): (
            model.deprecation_date,
            model.successor.model_id if model.successor else None,
        )
        for model in CatalogModel.objects.select_related("successor")
    }


SMALL_CATALOG = (
    ("openai", "gpt-4o-mini-2024-07-18"),
    ("openai", "gpt-4o-mini"),
    ("openai", "o4-mini-2025-04-16"),
    ("openai", "gpt-5.6-terra"),
    ("azure_openai", "gpt-4o-mini-2024-07-18"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-sonnet-4.5"),
    ("anthropic", "claude-sonnet-4-6"),
    ("aws_bedrock", "anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("aws_bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("aws_bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
)
SMALL_FILE = (
    "openai,gpt-4o-mini-2024-07-18,2027-01-14,shutdown,,OpenAI deprecations page\n"
    "openai,o4-mini-2025-04-16,2026-10-23,shutdown,gpt-5.6-terra,OpenAI deprecations page\n"
    "azure,gpt-4o-mini-2024-07-18,2027-04-14,shutdown,,Azure retirement schedule\n"
    'anthropic,claude-sonnet-4-5-20250929,2026-11-30,shutdown,claude-sonnet-4-6,"Anthropic, model page"\n'
    "aws_bedrock,global.anthropic.claude-3-7-sonnet-20250219-v1:0,2026-04-28,shutdown,,Bedrock lifecycle\n"
)


@pytest.mark.django_db
def test_loading_sets_dates_and_successors_on_the_models_the_rows_name(tmp_path: Path) -> None:
    catalog(*SMALL_CATALOG)

    assert model_deprecations_load(write(tmp_path, SMALL_FILE)) == 7

    after = state()
    assert after["openai", "gpt-4o-mini-2024-07-18"] == (date(2027, 1, 14), None)
    assert after["openai", "gpt-4o-mini"] == (None, None)  # the exact id matched: the alias is left alone
    assert after["openai", "o4-mini-2025-04-16"] == (date(2026, 10, 23), "gpt-5.6-terra")
    assert after["azure_openai", "gpt-4o-mini-2024-07-18"] == (date(2027, 4, 14), None)  # ``azure`` is azure_openai
    # A dated id the catalog spells undated: every undated spelling, as no other snapshot is priced.
    assert after["anthropic", "claude-sonnet-4-5"] == (date(2026, 11, 30), "claude-sonnet-4-6")
    assert after["anthropic", "claude-sonnet-4.5"] == (date(2026, 11, 30), "claude-sonnet-4-6")
    # Same canonical id and snapshot: every geo spelling of that snapshot, not another model of the family.
    assert after["aws_bedrock", "anthropic.claude-3-7-sonnet-20250219-v1:0"] == (date(2026, 4, 28), None)
    assert after["aws_bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"] == (date(2026, 4, 28), None)
    assert after["aws_bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"] == (None, None)
    assert after["anthropic", "claude-sonnet-4-6"] == (None, None)


@pytest.mark.django_db
def test_a_row_for_a_model_the_catalog_lacks_is_skipped_and_logged(tmp_path: Path, caplog) -> None:
    catalog(("openai", "gpt-4o-mini-2024-07-18"), ("openai", "gpt-4o-2024-08-06"))
    path = write(
        tmp_path,
        "openai,gpt-3.5-turbo-0125,2026-10-23,shutdown,,OpenAI\n"
        "openai,gpt-4o-2024-05-13,2026-10-23,shutdown,,OpenAI\n"  # another snapshot of a priced model
        "anthropic,gpt-4o-mini-2024-07-18,2027-01-14,shutdown,,wrong route\n"
        "openai,gpt-4o-mini-2024-07-18,2027-01-14,shutdown,gpt-6-luna,OpenAI\n",
    )

    with caplog.at_level(logging.INFO, logger="finops.deprecations"):
        assert model_deprecations_load(path) == 1

    assert state() == {
        ("openai", "gpt-4o-mini-2024-07-18"): (date(2027, 1, 14), None),
        ("openai", "gpt-4o-2024-08-06"): (None, None),
    }
    assert "openai/gpt-3.5-turbo-0125 is not in the catalog: skipped" in caplog.text
    assert "openai/gpt-4o-2024-05-13 is not in the catalog: skipped" in caplog.text
    assert "anthropic/gpt-4o-mini-2024-07-18 is not in the catalog: skipped" in caplog.text
    assert "successor gpt-6-luna is not in the catalog on that route: not set" in caplog.text


@pytest.mark.django_db
def test_loading_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    catalog(*SMALL_CATALOG)
    path = write(tmp_path, SMALL_FILE)
    model_deprecations_load(path)
    first = state()

    assert model_deprecations_load(path) == 0
    assert state() == first


@pytest.mark.django_db
def test_the_file_date_replaces_the_catalogs_and_a_blank_successor_keeps_one_set_by_hand(tmp_path: Path) -> None:
    catalog(("openai", "gpt-4o-mini-2024-07-18"), ("openai", "gpt-5.6-luna"))
    CatalogModel.objects.filter(model_id="gpt-4o-mini-2024-07-18").update(
        deprecation_date=date(2030, 1, 1), successor=CatalogModel.objects.get(model_id="gpt-5.6-luna")
    )

    assert model_deprecations_load(write(tmp_path, "openai,gpt-4o-mini-2024-07-18,2027-01-14,shutdown,,OpenAI\n")) == 1
    assert state()["openai", "gpt-4o-mini-2024-07-18"] == (date(2027, 1, 14), "gpt-5.6-luna")


@pytest.mark.django_db
def test_an_announcement_date_alone_sets_nothing(tmp_path: Path) -> None:
    catalog(("openai", "gpt-4o-mini-2024-07-18"))

    assert model_deprecations_load(write(tmp_path, "openai,gpt-4o-mini-2024-07-18,2026-10-14,announcement,,x\n")) == 0
    assert state()["openai", "gpt-4o-mini-2024-07-18"] == (None, None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "openai,gpt-4o,2027-14-01,shutdown,,x\n",
            "row 2, column 'deprecation_date': '2027-14-01' is not a YYYY-MM-DD",
        ),
        ("openai,gpt-4o,2027-01-14,retired,,x\n", "row 2, column 'date_kind': 'retired' is not one of"),
        ("openai,gpt-4o,2027-01-14,shutdown,,\n", "row 2, column 'source': empty"),
        ("openai,gpt-4o,2027-01-14,shutdown,,x\nopenai,gpt-4o,2027-01-15,shutdown,,y\n", "is also on row 2"),
    ],
)
def test_a_malformed_file_is_refused_with_its_row_and_column(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model_deprecations(write(tmp_path, body))


def test_a_file_without_a_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model_deprecations.csv"
    path.write_text("provider,model_id,deprecation_date\nopenai,gpt-4o,2027-01-14\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        model_deprecations(path)


def test_every_shipped_row_is_sourced_and_dated() -> None:
    rows = model_deprecations(DEPRECATIONS_FILE)

    assert rows
    assert all(row.source.strip() and row.date_kind == "shutdown" for row in rows)


def test_the_shipped_catalog_load_sets_the_demo_models_deprecations(price_catalog) -> None:
    """``price_catalog_load`` ran the loader: every shipped row and successor is in the catalog, and a second load
    changes nothing."""
    for row in model_deprecations(DEPRECATIONS_FILE):
        model = CatalogModel.objects.get(provider=row.provider, model_id=row.model_id)
        assert model.deprecation_date == row.deprecation_date, row
        if row.successor_model_id:
            assert model.successor is not None and model.successor.model_id == row.successor_model_id, row
    after = state()
    assert after["openai", "gpt-5-mini-2025-08-07"] == (date(2026, 12, 11), None)
    assert after["openai", "o4-mini-2025-04-16"] == (date(2026, 10, 23), "gpt-5.6-terra")
    assert after["azure_openai", "gpt-4o-mini-2024-07-18"] == (date(2027, 4, 14), None)
    assert after["anthropic", "claude-sonnet-4-20250514"] == (date(2026, 6, 15), "claude-sonnet-4-6")
    assert model_deprecations_load() == 0
    assert state() == after
