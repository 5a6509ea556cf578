"""Format detection over every fixture export: each file is recognized as exactly its own format."""

from __future__ import annotations

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
