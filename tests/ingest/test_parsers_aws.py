"""The AWS CUR parsers (CUR 2.0 and legacy) on the real Bedrock-free sample and on hand-written
Bedrock files (no database)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ingest.parsers import aws, aws_cur2, aws_cur_legacy
from ingest.parsers import openai as openai_usage
from ingest.parsers.base import (
    IngestError,
)
from tests.ingest.parser_helpers import by_row, edited, header_columns, parse_file, parse_text, totals

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REAL_LEGACY = FIXTURES / "aws" / "sample-anonymous-aws-export-dataset.csv"
CUR2 = FIXTURES / "aws" / "cur2_bedrock_daily.csv"
LEGACY = FIXTURES / "aws" / "cur_legacy_bedrock_hourly.csv"
AWS_MODULES = (aws_cur2, aws_cur_legacy)


# --- The real legacy CUR sample (no Bedrock rows) -------------------------------------------


def test_real_legacy_sample_skips_and_counts_every_row() -> None:
    records, stats = parse_file(aws_cur_legacy, REAL_LEGACY)

    # 1,281 line items: 12 Tax lines (one per service) and 1,269 Usage lines of S3, Glue, SQS, ...
    assert records == []
    assert stats.rows_read == 1281
    assert stats.rows_skipped == {"tax": 12, "not an AI service": 1269}


# --- CUR 2.0 -------------------------------------------------------------------------------


def test_cur2_fixture_gives_hand_computed_totals() -> None:
    records, stats = parse_file(aws_cur2, CUR2)

    # tokens = line_item_usage_amount x block of pricing_unit (1K tokens = 1,000; 1M tokens = 1,000,000;
    # Units = 1); cost = line_item_net_unblended_cost when filled, else line_item_unblended_cost.
    # input:        row 2  1250 x 1K = 1,250,000 (net 3.375)  + row 6 3000 x 1K = 3,000,000 (0.18)
    #             + row 10 500 x 1K = 500,000 batch (0.75)      + row 11 marketplace 40000 Units = 40,000 (0.12)
    #             = 4,790,000 tokens, 3.375 + 0.18 + 0.75 + 0.12 = 4.425
    # output:       row 3  80.5 x 1K = 80,500 (net 1.08675)   + row 7 0.75 x 1M = 750,000 (0.18)
    #             = 830,500 tokens, 1.26675
    # cached_input: row 4  2.4 x 1M = 2,400,000 (0.72)        + row 8 1000.0005 x 1K = 1,000,000.5 -> 1,000,001
    #               (half-up; cost 1.50000075E-2 = 0.0150000075) + row 12 marketplace 100000 Units (0.03)
    #             = 3,500,001 tokens, 0.7650000075
    # cache_write:  row 5  0.3 x 1M = 300,000 (1.125)        + row 9 200 x 1K = 200,000 (0)
    #             = 500,000 tokens, 1.125
    # other:        row 13 provisioned throughput 24 Hrs (480) + row 14 Credit (-2) = 0 tokens, 478
    assert totals(records) == {
        "input": (4_790_000, Decimal("4.425")),
        "output": (830_500, Decimal("1.26675")),
        "cached_input": (3_500_001, Decimal("0.7650000075")),
        "cache_write": (500_000, Decimal("1.125")),
        "other": (0, Decimal("478")),
    }
    # Row 15 is a Tax line of Bedrock, row 16 an S3 line.
    assert stats.rows_read == 15
    assert stats.rows_skipped == {"tax": 1, "not an AI service": 1}
    assert sorted(by_row(records)) == list(range(2, 15))


def test_cur2_records_carry_model_tier_routing_and_dimensions() -> None:
    records, _ = parse_file(aws_cur2, CUR2)
    rows = by_row(records)

    first = rows[2]
    assert (first.provider, first.model_raw, first.token_type, first.quantity) == (
        "aws_bedrock",
        "Claude4.6Sonnet",
        "input",
        1_250_000,
    )
    assert first.period_start.isoformat() == "2026-03-01T00:00:00+00:00"
    assert first.period_end.isoformat() == "2026-03-02T00:00:00+00:00"
    assert (first.currency, first.cost_basis, first.account, first.region) == (
        "USD",
        "billed",
        "444455556666",
        "us-east-1",
    )
    assert first.tags == {
        "user_team": "search",
        "user_env": "prod",
        "resource_id": "arn:aws:bedrock:us-east-1:444455556666:application-inference-profile/a1b2c3d4e5f6",
    }
    assert rows[6].model_raw == "NovaLite"
    assert rows[10].service_tier == "batch"
    assert rows[2].service_tier == ""
    # Marketplace usage types carry no model: it comes from the product name.
    assert rows[11].model_raw == "Claude Sonnet 4.5"
    assert rows[12].model_raw == "Claude Sonnet 4.5"
    assert rows[12].tags == {"cross_region": "global"}
    provisioned = rows[13]
    assert (provisioned.token_type, provisioned.quantity, provisioned.unit, provisioned.cost) == (
        "other",
        0,
        "Hrs",
        Decimal("480"),
    )
    assert provisioned.tags["raw_unit"] == "Hrs"
    assert provisioned.tags["raw_quantity"] == "24"
    assert provisioned.tags["usage_type"] == "USE1-NovaLite-ProvisionedThroughput-NoCommit-ModelUnits"
    credit = rows[14]
    assert (credit.token_type, credit.quantity, credit.cost, credit.model_raw) == (
        "other",
        0,
        Decimal("-2"),
        "Claude4.6Sonnet",
    )
    assert credit.tags["line_item_type"] == "Credit"


def test_cur2_athena_map_text_and_flattened_tag_columns() -> None:
    header = (
        "line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,"
        "line_item_usage_type,line_item_usage_amount,line_item_currency_code,line_item_unblended_cost,"
        "pricing_unit,resource_tags,resource_tags_user_cost_center"
    )
    row = (
        "Usage,2026-03-01 00:00:00,2026-03-01 01:00:00,AmazonBedrock,USE1-NovaLite-input-tokens,2,EUR,0.0001,"
        '1K tokens,"{user_team=search, user_env=prod}",4711'
    )
    records, _ = parse_text(aws_cur2, f"{header}\n{row}\n")

    assert records[0].tags == {"user_team": "search", "user_env": "prod", "user_cost_center": "4711"}
    assert records[0].currency == "EUR"
    assert records[0].quantity == 2000
    assert records[0].period_start.isoformat() == "2026-03-01T00:00:00+00:00"


def test_discounted_and_savings_plan_usage_give_tokens_other_line_types_give_other() -> None:
    header = (
        "line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,"
        "line_item_usage_type,line_item_usage_amount,line_item_currency_code,line_item_unblended_cost,pricing_unit"
    )
    day = "2026-03-01T00:00:00Z,2026-03-02T00:00:00Z"
    text = (
        f"{header}\n"
        f"DiscountedUsage,{day},AmazonBedrock,USE1-NovaLite-input-tokens,10,USD,0,1K tokens\n"
        f"SavingsPlanCoveredUsage,{day},AmazonBedrock,USE1-NovaLite-output-tokens,1,USD,0.24,1M tokens\n"
        f"EdpDiscount,{day},AmazonBedrock,USE1-NovaLite-input-tokens,0,USD,-0.02,\n"
        f"Refund,{day},AmazonBedrock,USE1-NovaLite-output-tokens,0,USD,-0.1,\n"
    )
    records, stats = parse_text(aws_cur2, text)

    assert totals(records) == {
        "input": (10_000, Decimal("0")),
        "output": (1_000_000, Decimal("0.24")),
        "other": (0, Decimal("-0.12")),
    }
    assert [r.tags.get("line_item_type") for r in records] == [None, None, "EdpDiscount", "Refund"]
    assert stats.rows_skipped == {}


# --- Legacy CUR ----------------------------------------------------------------------------


def test_legacy_fixture_gives_hand_computed_totals() -> None:
    records, stats = parse_file(aws_cur_legacy, LEGACY)

    # input:        row 2 420.25 x 1K = 420,250 (1.26075) + row 6 1.2 x 1M = 1,200,000 (0.0936)
    #             + row 8 marketplace 25000 Units = 25,000 (0.075) = 1,645,250 tokens, 1.42935
    # output:       row 3 12.5 x 1K = 12,500 (0.1875) + row 7 0.05 x 1M = 50,000 (0.0156)
    #             + row 9 batch 4 x 1K = 4,000 (0.03) = 66,500 tokens, 0.2331
    # cached_input: row 4 900 x 1K = 900,000 (0.27)
    # cache_write:  row 5 60 x 1K = 60,000 (0.225)
    # other:        row 10 provisioned throughput 1 Hrs (20) + row 11 Refund (-0.5) = 19.5
    assert totals(records) == {
        "input": (1_645_250, Decimal("1.42935")),
        "output": (66_500, Decimal("0.2331")),
        "cached_input": (900_000, Decimal("0.27")),
        "cache_write": (60_000, Decimal("0.225")),
        "other": (0, Decimal("19.5")),
    }
    # Row 12 is a Tax line of Bedrock, row 13 an S3 line.
    assert stats.rows_read == 12
    assert stats.rows_skipped == {"tax": 1, "not an AI service": 1}


def test_legacy_records_carry_tags_regions_and_marketplace_tier() -> None:
    records, _ = parse_file(aws_cur_legacy, LEGACY)
    rows = by_row(records)

    assert rows[2].tags == {"user:team": "search", "user:CostCenter": "4711"}
    assert rows[2].period_start.isoformat() == "2026-03-01T10:00:00+00:00"
    assert rows[2].period_end.isoformat() == "2026-03-01T11:00:00+00:00"
    assert (rows[6].model_raw, rows[6].region) == ("NovaLite", "eu-central-1")
    assert (rows[8].model_raw, rows[8].service_tier, rows[8].region) == ("Claude Sonnet 4.5", "standard", "us-west-2")
    assert (rows[9].token_type, rows[9].service_tier) == ("output", "batch")
    assert rows[11].tags["line_item_type"] == "Refund"


# --- Usage types and pricing units -----------------------------------------------------------


@pytest.mark.parametrize(
    ("usage_type", "token_type", "model", "tier", "cross_region"),
    [
        ("USE1-NovaLite-input-tokens", "input", "NovaLite", "", ""),
        ("USE1-Claude4.6Sonnet-input-tokens", "input", "Claude4.6Sonnet", "", ""),
        ("USE1-openai.gpt-oss-120b-mantle-input-tokens-standard", "input", "openai.gpt-oss-120b", "standard", ""),
        ("USE1-MP:USE1_InputTokenCount-Units", "input", "", "", ""),
        ("USW2-MP:USW2_input_tokens_standard-Units", "input", "", "standard", ""),
        ("USE1-NovaLite-output-tokens", "output", "NovaLite", "", ""),
        ("USE1-MP:USE1_OutputTokenCount-Units", "output", "", "", ""),
        ("USE1-NovaPro-cache-read-input-token-count", "cached_input", "NovaPro", "", ""),
        ("USE1-MP:USE1_CacheReadInputTokenCount_Global-Units", "cached_input", "", "", "global"),
        ("USE1-Nova2.0Lite-cache-write-input-token-count", "cache_write", "Nova2.0Lite", "", ""),
        ("USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units", "cache_write", "", "", "global"),
        ("APS3-NovaLite-output-tokens-flex", "output", "NovaLite", "flex", ""),
        ("USE1-Claude4.6Sonnet-input-tokens-priority", "input", "Claude4.6Sonnet", "priority", ""),
        ("USE2-Claude3.5Haiku-latency-optimized-input-tokens", "input", "Claude3.5Haiku", "latency-optimized", ""),
        ("USE1-Claude4.6Sonnet-cross-region-global-output-tokens", "output", "Claude4.6Sonnet", "", "global"),
        ("USE1-NovaLite-Input-Tokens", "input", "NovaLite", "", ""),
        ("USE1-NovaLite-Customization-Training", "other", "NovaLite-Customization-Training", "", ""),
        ("USE1-TitanImageG1-T2I-1024-Standard", "other", "TitanImageG1-T2I-1024-Standard", "", ""),
    ],
)
def test_usage_types_map_to_token_type_model_tier_and_routing(
    usage_type: str, token_type: str, model: str, tier: str, cross_region: str
) -> None:
    usage = aws.classify_usage_type(usage_type)

    assert (usage.token_type, usage.model, usage.service_tier, usage.cross_region) == (
        token_type,
        model,
        tier,
        cross_region,
    )


def test_cache_write_ttl_rides_along() -> None:
    assert aws.classify_usage_type("USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units").cache_ttl == "1h"


@pytest.mark.parametrize(
    ("unit", "block"),
    [("1K tokens", 1000), ("1M tokens", 1_000_000), ("tokens", 1), ("Units", 1), ("", 1), ("1,000 Tokens", 1000)],
)
def test_pricing_unit_block_sizes(unit: str, block: int) -> None:
    assert aws.pricing_block(unit) == block


@pytest.mark.parametrize("unit", ["Hrs", "GB-Mo", "Requests", "0.5 tokens"])
def test_non_token_pricing_units_have_no_block(unit: str) -> None:
    assert aws.pricing_block(unit) is None


# --- Bad input -------------------------------------------------------------------------------


def test_cur2_bad_amount_and_impossible_date_are_reported_with_row_and_column() -> None:
    text = edited(
        CUR2, {(2, "line_item_usage_amount"): "lots", (3, "line_item_usage_start_date"): "2026-02-30T00:00:00Z"}
    )

    with pytest.raises(IngestError) as caught:
        parse_text(aws_cur2, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "line_item_usage_amount", "'lots' is not a number; expected a usage amount"),
        (
            3,
            "line_item_usage_start_date",
            "'2026-02-30T00:00:00Z' is not a valid date and time; expected ISO-8601 such as 2026-03-01T00:00:00Z",
        ),
    ]


def test_legacy_errors_name_the_columns_as_written() -> None:
    text = edited(LEGACY, {(2, "lineItem/UsageAmount"): "1,2", (5, "lineItem/UsageStartDate"): "2026-13-01T10:00:00Z"})

    with pytest.raises(IngestError) as caught:
        parse_text(aws_cur_legacy, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "lineItem/UsageAmount", "'1,2' is not a number; expected a usage amount"),
        (
            5,
            "lineItem/UsageStartDate",
            "'2026-13-01T10:00:00Z' is not a valid date and time; expected ISO-8601 such as 2026-03-01T00:00:00Z",
        ),
    ]


def test_token_row_with_a_non_token_pricing_unit_is_an_error_not_a_guess() -> None:
    text = edited(CUR2, {(6, "pricing_unit"): "Hrs"})

    with pytest.raises(IngestError) as caught:
        parse_text(aws_cur2, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (6, "pricing_unit", "'Hrs' is not a token pricing unit; expected tokens, 1K tokens, 1M tokens or Units")
    ]


def test_bad_cells_of_skipped_rows_are_not_errors() -> None:
    # Row 16 is S3 and row 15 Tax: they are skipped before any cell is read.
    text = edited(
        CUR2,
        {(16, "line_item_usage_amount"): "n/a", (15, "line_item_usage_start_date"): "someday"},
    )

    records, stats = parse_text(aws_cur2, text)

    assert len(records) == 13
    assert stats.rows_skipped == {"tax": 1, "not an AI service": 1}


def test_empty_cost_and_bad_currency_are_errors() -> None:
    text = edited(CUR2, {(4, "line_item_unblended_cost"): "", (5, "line_item_currency_code"): "dollars"})

    with pytest.raises(IngestError) as caught:
        parse_text(aws_cur2, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (4, "line_item_unblended_cost", "is empty; expected an amount of money"),
        (
            5,
            "line_item_currency_code",
            ("'dollars' is not a currency code; expected an ISO 4217 currency code such as USD"),
        ),
    ]


# --- Signatures --------------------------------------------------------------------------------


def test_each_signature_matches_its_own_fixtures_only() -> None:
    modules = (*AWS_MODULES, openai_usage)
    expected = {CUR2: aws_cur2, LEGACY: aws_cur_legacy, REAL_LEGACY: aws_cur_legacy}
    for path, module in expected.items():
        columns = header_columns(path)
        assert [m for m in modules if columns >= m.SIGNATURE] == [module], path.name


def test_signatures_match_no_other_fixture_nor_the_openai_signature() -> None:
    others = sorted(path for path in FIXTURES.rglob("*.csv") if path.parent.name != "aws")
    assert others, "expected other formats' fixtures to compare against"
    for module in AWS_MODULES:
        assert not module.SIGNATURE <= openai_usage.SIGNATURE
        assert not openai_usage.SIGNATURE <= module.SIGNATURE
        for path in others:
            assert not header_columns(path) >= module.SIGNATURE, (module.NAME, path.name)
    assert aws_cur2.SIGNATURE.isdisjoint(aws_cur_legacy.SIGNATURE)


# --- Format version ------------------------------------------------------------------------------


def test_format_version_of_a_snake_case_cur_with_flattened_tag_columns() -> None:
    header = "line_item_usage_type,line_item_unblended_cost,line_item_usage_start_date,resource_tags_user_team\n"

    _, stats = parse_text(aws_cur2, header)

    assert stats.format_version == "snake_case CUR with flattened tag columns (Athena/Parquet)"
