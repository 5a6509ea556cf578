"""Format detection over every fixture export: each file is recognized as exactly its own format, and says
which generation of the format it is (``format_version``) and which parts of a split export it holds."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.parsers import FORMATS, ParseStats, detect_format, parse_export

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED = {
    "openai/completions_usage_2026-08-01_2026-08-31.csv": "openai_usage",
    "openai/cost_2026-08-01_2026-08-31.csv": "openai_cost",
    "openai/cost_2026-01-01_2026-01-02_by_line_item.csv": "openai_cost",
    "anthropic/claude_api_cost_2026_02_08_to_2026_02_15.csv": "anthropic_cost",
    "anthropic/claude_api_tokens_2026_03.csv": "anthropic_tokens",
    "anthropic/claude_api_tokens_2025_06.csv": "anthropic_tokens",
    "focus/focus_sample.csv": "focus",
    "focus/ai_prompt_caching__ai_prompt_caching_a.csv": "focus",
    "focus/azure_focus_1.2-preview_openai.csv": "focus",
    "azure/EA_ActualCost_Small.csv": "azure_cost",
    "azure/sample-anonymous-ea-export-dataset.csv": "azure_cost",
    "azure/ea_2024-08-01_openai.csv": "azure_cost",
    "azure/mca_2023-12-01-preview_openai.csv": "azure_cost",
    "azure/ea_localized_zh_cny.csv": "azure_cost",
    "aws/sample-anonymous-aws-export-dataset.csv": "aws_cur_legacy",
    "aws/cur2_bedrock_daily.csv": "aws_cur2",
    "aws/cur_legacy_bedrock_hourly.csv": "aws_cur_legacy",
    "gcp/bigquery_export_dotted.csv": "gcp_bigquery",
    "gcp/bigquery_export_underscored.csv": "gcp_bigquery",
    "gcp/bigquery_export_json_columns.csv": "gcp_bigquery",
    "gcp/console_cost_table_usd.csv": "gcp_console",
    "openai/cookbook_usage_completions_ungrouped_2025-01.json": "openai_api",
    "openai/cookbook_costs_ungrouped_2025-01.json": "openai_api",
    "anthropic/admin_api_usage_report_2025-08.json": "anthropic_api",
    "anthropic/admin_api_cost_report_2025-08.json": "anthropic_api",
}
# Real exports whose rows are all of other cloud services: detected, parsed, and nothing enters the ledger.
WITHOUT_AI_ROWS = {
    "focus/focus_sample.csv",
    "azure/EA_ActualCost_Small.csv",
    "azure/sample-anonymous-ea-export-dataset.csv",
    "aws/sample-anonymous-aws-export-dataset.csv",
}


@pytest.mark.parametrize(("relative", "format_name"), sorted(EXPECTED.items()))
def test_fixture_is_detected_as_its_format_and_parses(relative: str, format_name: str) -> None:
    path = FIXTURES / relative

    module = detect_format(path)
    records = list(parse_export(path, module, ParseStats()))

    assert format_name == module.NAME
    assert bool(records) is (relative not in WITHOUT_AI_ROWS)


@pytest.mark.parametrize(
    ("relative", "format_name"), sorted(item for item in EXPECTED.items() if item[0].endswith(".csv"))
)
def test_no_other_format_claims_the_fixture(relative: str, format_name: str) -> None:
    from ingest.parsers.base import normalize_header_name, read_header

    columns = {normalize_header_name(name) for name in read_header(FIXTURES / relative)}

    csv_formats = {name: module for name, module in FORMATS.items() if getattr(module, "KIND", "csv") == "csv"}
    claimed = [name for name, module in csv_formats.items() if columns >= module.SIGNATURE]
    assert claimed == [format_name]


# What stats.format_version says for each fixture: the generation or variant of its format.
FOCUS_DRAFT = "FOCUS 1.3+ or working draft"
ANTHROPIC_TOKENS_CURRENT = "current layout (context_window, inference_geo, speed)"
ANTHROPIC_TOKENS_2025_06 = "2025-06 layout (5-minute and 1-hour cache writes)"
FORMAT_VERSIONS = {
    "openai/completions_usage_2026-08-01_2026-08-31.csv": "2026 schema (input_text_tokens, input_cache_write_tokens)",
    "openai/cost_2026-08-01_2026-08-31.csv": "standard layout",
    "openai/cost_2026-01-01_2026-01-02_by_line_item.csv": "standard layout",
    "openai/cost_2026-09-01_2026-09-02_api_source.csv": "2026-09 layout (with api_source)",
    "openai/cookbook_usage_completions_ungrouped_2025-01.json": "Usage API",
    "openai/usage_api_completions_grouped_2026-01.json": "Usage API",
    "openai/usage_api_other_endpoints_2026-01.json": "Usage API",
    "openai/cookbook_costs_ungrouped_2025-01.json": "Costs API",
    "openai/costs_api_by_line_item_2026-01.json": "Costs API",
    "anthropic/claude_api_tokens_2026_03.csv": ANTHROPIC_TOKENS_CURRENT,
    "anthropic/claude_api_tokens_2026_03_31.csv": ANTHROPIC_TOKENS_CURRENT,
    "anthropic/claude_api_tokens_2025_06.csv": ANTHROPIC_TOKENS_2025_06,
    "anthropic/claude_api_tokens_2025_02.csv": "older layout (one cache-write column)",
    "anthropic/claude_api_cost_2024_10_21_to_2024_10_27.csv": "2024 layout (7 columns)",
    "anthropic/claude_api_cost_2025_11_01_to_2025_11_07.csv": "2025 layout (with list_price_usd)",
    "anthropic/claude_api_cost_2026_02_08_to_2026_02_15.csv": "2026 layout (cost_type, no list_price_usd)",
    "anthropic/claude_api_cost_2026_08_03_to_2026_08_09.csv": "2026-08 layout (api_key_id, api_key_status)",
    "anthropic/admin_api_usage_report_2025-08.json": "Usage report",
    "anthropic/admin_api_cost_report_2025-08.json": "Cost report",
    "focus/focus_sample.csv": "FOCUS 1.0",
    "focus/azure_focus_1.2-preview_openai.csv": "FOCUS 1.2",
    "focus/ai_billing__per_token_foundation_model_api.csv": FOCUS_DRAFT,
    "focus/ai_model_billing__cached_tokens_via_csp_marketplace.csv": FOCUS_DRAFT,
    "focus/ai_model_billing__csp_served_third_party_model.csv": FOCUS_DRAFT,
    "focus/ai_model_billing__multi_model_usage.csv": FOCUS_DRAFT,
    "focus/ai_model_billing__per_token_ai_model_api.csv": FOCUS_DRAFT,
    "focus/ai_model_identity__ai_model_identity_a.csv": FOCUS_DRAFT,
    "focus/ai_prompt_caching__ai_prompt_caching_a.csv": FOCUS_DRAFT,
    "azure/EA_ActualCost_Small.csv": "EA, older schema (Cost, BillingCurrency)",
    "azure/EA_AmortizedCost_Small.csv": "EA, older schema (Cost, BillingCurrency)",
    "azure/sample-anonymous-ea-export-dataset.csv": "EA, schema 2023-12-01-preview or earlier",
    "azure/ea_2024-08-01_openai.csv": "EA, schema 2024-08-01",
    "azure/mca_2023-12-01-preview_openai.csv": "MCA",
    "azure/ea_localized_zh_cny.csv": "EA, older schema (Cost, BillingCurrency), localized headers",
    "aws/cur2_bedrock_daily.csv": "CUR 2.0",
    "aws/cur_legacy_bedrock_hourly.csv": "legacy CUR (CUR 1)",
    "aws/sample-anonymous-aws-export-dataset.csv": "legacy CUR (CUR 1)",
    "gcp/bigquery_export_dotted.csv": "dotted columns (service.description)",
    "gcp/bigquery_export_underscored.csv": "underscored columns (service_description)",
    "gcp/bigquery_export_json_columns.csv": "JSON columns (service)",
    "gcp/console_cost_table_usd.csv": "with unrounded cost",
}
# The parts of a split export each API document holds (one Usage API endpoint per kind of usage); CSV: none.
SOURCE_PARTS = {
    "openai/cookbook_usage_completions_ungrouped_2025-01.json": {"completions"},
    "openai/usage_api_completions_grouped_2026-01.json": {"completions"},
    "openai/usage_api_other_endpoints_2026-01.json": {
        "audio_speeches",
        "embeddings",
        "images",
        "moderations",
        "vector_stores",
    },
    "openai/cookbook_costs_ungrouped_2025-01.json": {"costs"},
    "openai/costs_api_by_line_item_2026-01.json": {"costs"},
    "anthropic/admin_api_usage_report_2025-08.json": {"usage_report"},
    "anthropic/admin_api_cost_report_2025-08.json": {"cost_report"},
}
NOT_EXPORTS = {"azure/retail-prices-sample.json"}


def parse_fixture(relative: str) -> ParseStats:
    path = FIXTURES / relative
    stats = ParseStats()
    list(parse_export(path, detect_format(path), stats))
    return stats


def test_every_fixture_export_has_its_format_version_listed() -> None:
    exports = {
        path.relative_to(FIXTURES).as_posix() for path in FIXTURES.rglob("*") if path.suffix in (".csv", ".json")
    }

    assert exports - NOT_EXPORTS == set(FORMAT_VERSIONS)


@pytest.mark.parametrize(("relative", "version"), sorted(FORMAT_VERSIONS.items()))
def test_format_version_names_the_generation_of_the_fixture(relative: str, version: str) -> None:
    stats = parse_fixture(relative)

    assert stats.format_version == version


@pytest.mark.parametrize("relative", sorted(FORMAT_VERSIONS))
def test_source_parts_are_the_api_endpoints_of_the_fixture_and_none_for_csv(relative: str) -> None:
    stats = parse_fixture(relative)

    assert stats.source_parts == SOURCE_PARTS.get(relative, set())


@pytest.mark.parametrize(
    ("members", "version"),
    [
        (["claude_api_tokens_2026_03.csv", "claude_api_tokens_2026_03_31.csv"], ANTHROPIC_TOKENS_CURRENT),
        (
            ["claude_api_tokens_2026_03.csv", "claude_api_tokens_2025_06.csv", "claude_api_tokens_2026_03_31.csv"],
            f"{ANTHROPIC_TOKENS_CURRENT} + {ANTHROPIC_TOKENS_2025_06}",
        ),
    ],
)
def test_a_zip_of_several_exports_lists_each_generation_once(tmp_path: Path, members: list[str], version: str) -> None:
    upload = tmp_path / "exports.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for member in members:
            archive.write(FIXTURES / "anthropic" / member, arcname=member)
    stats = ParseStats()

    list(parse_export(upload, detect_format(upload), stats))

    assert stats.format_version == version
