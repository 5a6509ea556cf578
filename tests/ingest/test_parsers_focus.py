"""The FOCUS parser on the real FOCUS 1.0 sample, the FOCUS AI draft examples and a hand-made Azure 1.2 export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.parsers import IngestError, ParseStats, parse_export
from ingest.parsers import azure as azure_cost
from ingest.parsers import focus as focus_export
from ingest.parsers import openai as openai_usage
from ingest.parsers.base import normalize_header_name, read_header

FOCUS = Path(__file__).resolve().parent.parent / "fixtures" / "focus"
AZURE = Path(__file__).resolve().parent.parent / "fixtures" / "azure"
OPENAI = Path(__file__).resolve().parent.parent / "fixtures" / "openai"
SAMPLE = FOCUS / "focus_sample.csv"
AZURE_FOCUS = FOCUS / "azure_focus_1.2-preview_openai.csv"
PROMPT_CACHING = FOCUS / "ai_prompt_caching__ai_prompt_caching_a.csv"
SPEC_EXAMPLES = sorted(path for path in FOCUS.glob("ai_*__*.csv"))


def parse_file(path: Path) -> tuple[list, ParseStats]:
    stats = ParseStats()
    return list(parse_export(path, focus_export, stats)), stats


def parse_text(text: str) -> tuple[list, ParseStats]:
    stats = ParseStats()
    return list(focus_export.parse(io.StringIO(text, newline=""), stats)), stats


def totals(records: list) -> dict[str, tuple[int, Decimal]]:
    """Tokens and cost per token type."""
    result: dict[str, tuple[int, Decimal]] = {}
    for record in records:
        tokens, cost = result.get(record.token_type, (0, Decimal(0)))
        result[record.token_type] = (tokens + record.quantity, cost + record.cost)
    return result


def columns(path: Path) -> set[str]:
    return {normalize_header_name(name) for name in read_header(path)}


def test_focus_sample_has_no_token_rows_and_counts_every_skip() -> None:
    records, stats = parse_file(SAMPLE)

    assert columns(SAMPLE) >= focus_export.SIGNATURE
    assert focus_export.detect_version(read_header(SAMPLE)) == "1.0"
    assert records == []
    assert stats.rows_read == 1000
    # 942 AWS + 51 Microsoft + 7 Oracle rows; the 9 "AI and Machine Learning" rows are Azure Machine
    # Learning VMs, disks, IPs and bandwidth: no token usage.
    assert stats.rows_skipped == {"not an AI service": 991, "AI and Machine Learning but not generative AI": 9}


@pytest.mark.parametrize(
    ("name", "expected", "provider", "models"),
    [
        # Legacy draft: TokenType in SkuPriceDetails. 8,400,000 input ($42.00), 2,100,000 output ($52.50).
        (
            "ai_billing__per_token_foundation_model_api.csv",
            {"input": (8_400_000, Decimal("42.00")), "output": (2_100_000, Decimal("52.50"))},
            "focus:Solora AI",
            {"solora-saturn-4.8"},
        ),
        (
            "ai_model_billing__per_token_ai_model_api.csv",
            {"input": (8_400_000, Decimal("42.00")), "output": (2_100_000, Decimal("52.50"))},
            "focus:Solora AI",
            {"solora-saturn-4.8"},
        ),
        # TokenCacheAction Read / Write: 50,000,000 cache reads ($10.00), 15,000,000 cache writes ($37.50).
        # Sold through a marketplace: the provider is the ServiceProviderName, not the invoice issuer.
        (
            "ai_model_billing__cached_tokens_via_csp_marketplace.csv",
            {"cached_input": (50_000_000, Decimal("10.00")), "cache_write": (15_000_000, Decimal("37.50"))},
            "focus:Solora AI",
            {"solora-neptune-5.0"},
        ),
        (
            "ai_model_billing__csp_served_third_party_model.csv",
            {"input": (3_000_000, Decimal("2.25")), "output": (500_000, Decimal("2.25"))},
            "focus:Aura Web",
            {"aura-web.solora-jupiter-5"},
        ),
        # Two models: input 10,000,000 + 3,000,000 ($50.00 + $2.25), output 2,000,000 + 500,000 ($50.00 + $2.25).
        (
            "ai_model_billing__multi_model_usage.csv",
            {"input": (13_000_000, Decimal("52.25")), "output": (2_500_000, Decimal("52.25"))},
            "focus:Solora AI",
            {"solora-atlas-5.5", "solora-atlas-5.4-mini"},
        ),
        # No token keys in SkuPriceDetails: the SkuMeter "Input Tokens"/"Output Tokens" decides.
        (
            "ai_model_identity__ai_model_identity_a.csv",
            {"input": (5_000_000, Decimal("15.0")), "output": (1_500_000, Decimal("22.5"))},
            "focus:Solora AI",
            {"solora-reasoning-pro"},
        ),
        (
            "ai_prompt_caching__ai_prompt_caching_a.csv",
            {
                "input": (500_000, Decimal("1.5")),
                "cache_write": (2_000_000, Decimal("7.5")),
                "cached_input": (8_000_000, Decimal("2.4")),
                "output": (1_500_000, Decimal("22.5")),
            },
            "focus:Solora AI",
            {"solora-reasoning-pro"},
        ),
    ],
)
def test_spec_ai_examples_give_hand_computed_totals(
    name: str, expected: dict[str, tuple[int, Decimal]], provider: str, models: set[str]
) -> None:
    path = FOCUS / name

    records, stats = parse_file(path)

    assert columns(path) >= focus_export.SIGNATURE
    assert totals(records) == expected
    assert {r.provider for r in records} == {provider}
    assert {r.model_raw for r in records} == models
    assert stats.rows_skipped == {}
    assert [r.source_row for r in records] == list(range(2, stats.rows_read + 2))
    assert {r.cost_basis for r in records} == {"amortized"}
    assert {r.currency for r in records} == {"USD"}
    assert {r.tags["focus_version"] for r in records} == {"1.3+"}


def test_all_seven_spec_examples_are_covered() -> None:
    assert len(SPEC_EXAMPLES) == 7


def test_draft_dimensions_credential_principal_period_and_billed_cost() -> None:
    records, _ = parse_file(FOCUS / "ai_model_billing__per_token_ai_model_api.csv")

    first = records[0]
    assert first.api_key == "key_01SOLORAPERSON1"
    assert first.tags["principal_id"] == "person1@example.com"
    assert first.tags["billed_cost"] == "42.00"
    assert first.period_start == datetime(2025, 5, 1, tzinfo=UTC)
    assert first.period_end == datetime(2025, 6, 1, tzinfo=UTC)
    assert first.unit == "tokens"


def test_crlf_example_parses_like_the_lf_one() -> None:
    crlf = FOCUS / "ai_billing__per_token_foundation_model_api.csv"
    lf = FOCUS / "ai_model_billing__per_token_ai_model_api.csv"

    assert b"\r\n" in crlf.read_bytes()
    assert totals(parse_file(crlf)[0]) == totals(parse_file(lf)[0])


def test_hand_made_azure_focus_1_2_export_gives_hand_computed_totals() -> None:
    records, stats = parse_file(AZURE_FOCUS)

    assert focus_export.detect_version(read_header(AZURE_FOCUS)) == "1.2"
    # Azure writes ConsumedUnit "Units": tokens = PricingQuantity x x_PricingBlockSize.
    # input:  row 2 1250 x 1000 = 1,250,000 (EUR 2.875) + row 8 correction -100 x 1000 = -100,000 (-0.23)
    #         + row 12 Llama 123.4567 x 1000 = 123,456.7 -> 123,457 (8.0617E-02 = 0.080617)
    #         = 1,273,457 / 2.725617
    # output: row 3 310,000 (2.852) + row 5 Batch 2,000,000 (4.04) + row 6 0.75 x 1,000,000 = 750,000 (6.9)
    #         = 3,060,000 / 13.792
    # cached: row 4 480,000 (0.6096) + row 7 ConsumedUnit "Tokens" 3,000,000 (0.483) = 3,480,000 / 1.0926
    # other:  row 9 PTU, 24 hours, EffectiveCost 22.08 (BilledCost 0: reservation), quantity 0
    assert totals(records) == {
        "input": (1_273_457, Decimal("2.725617")),
        "output": (3_060_000, Decimal("13.792")),
        "cached_input": (3_480_000, Decimal("1.0926")),
        "other": (0, Decimal("22.08")),
    }
    assert stats.rows_read == 11
    assert stats.rows_skipped == {"not an AI service": 1, "AI and Machine Learning but not generative AI": 1}
    by_row = {r.source_row: r for r in records}
    assert by_row[2].provider == "focus:Microsoft"
    assert by_row[2].model_raw == "gpt 4o 0806"
    assert by_row[2].tags["team"] == "search"
    assert by_row[2].tags["env"] == "prod"  # tag key " env" trimmed
    assert by_row[2].tags["focus_version"] == "1.2"
    assert by_row[2].account == "/subscriptions/3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b"
    assert by_row[2].region == "westeurope"
    assert by_row[2].project == "rg-search"
    assert by_row[2].currency == "EUR"
    assert by_row[5].service_tier == "batch"
    assert by_row[8].period_start == datetime(2025, 3, 2, tzinfo=UTC)  # 2025-03-02T00:00Z, no seconds
    assert by_row[8].quantity == -100_000
    assert by_row[9].tags["billed_cost"] == "0"
    assert (by_row[9].unit, by_row[9].tags["raw_quantity"], by_row[9].service_tier) == ("Hours", "24", "provisioned")
    assert by_row[12].tags["tokens_rounded"] == "true"
    assert by_row[12].model_raw == "Llama 3.3 70B"


def test_a_real_1_0_row_with_null_literals_and_space_separated_dates_becomes_a_token_row(tmp_path: Path) -> None:
    # The first Azure Machine Learning row of the FOCUS 1.0 sample (NULL literals, "2024-09-19 00:00:00"
    # dates, a tag key " org" elsewhere), turned into a 1K-token row described only by ChargeDescription.
    lines = list(csv.reader(io.StringIO(SAMPLE.read_text(encoding="utf-8"), newline="")))
    header = lines[0]
    row = next(line for line in lines[1:] if line[header.index("ServiceCategory")] == "AI and Machine Learning")
    row = list(row)
    for name, value in {
        "ConsumedQuantity": "1.5",
        "ConsumedUnit": "1K Tokens",
        "ChargeDescription": "gpt-4o output tokens",
        "Tags": '{" org": "trey"}',
    }.items():
        row[header.index(name)] = value
    path = tmp_path / "focus.csv"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, row])
    path.write_text(out.getvalue(), encoding="utf-8")

    records, _ = parse_file(path)

    assert [(r.token_type, r.quantity, r.model_raw) for r in records] == [("output", 1500, "gpt-4o output tokens")]
    record = records[0]
    assert record.period_start == datetime(2024, 9, 19, tzinfo=UTC)
    assert record.period_end == datetime(2024, 9, 20, tzinfo=UTC)
    assert record.cost == Decimal("-0.01288992000")
    assert record.provider == "focus:Microsoft"
    assert record.tags == {
        "org": "trey",
        "focus_version": "1.0",
        "billed_cost": "-0.01288992000",
        "raw_quantity": "1.5",
        "raw_unit": "1K Tokens",
    }


def _prompt_caching_with(changes: dict[int, dict[str, str]]) -> str:
    lines = list(csv.reader(io.StringIO(PROMPT_CACHING.read_text(encoding="utf-8"), newline="")))
    header = lines[0]
    for row_number, values in changes.items():
        for name, value in values.items():
            lines[row_number - 1][header.index(name)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(lines)
    return out.getvalue()


def test_impossible_date_and_non_numeric_quantity_are_reported_with_row_and_column() -> None:
    text = _prompt_caching_with({2: {"ChargePeriodStart": "2025-02-30T00:00:00Z"}, 4: {"ConsumedQuantity": "lots"}})

    with pytest.raises(IngestError) as caught:
        parse_text(text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (
            2,
            "chargeperiodstart",
            "'2025-02-30T00:00:00Z' is not a valid date and time; "
            "expected an ISO 8601 date and time such as 2025-01-01T00:00:00Z",
        ),
        (4, "consumedquantity", "'lots' is not a number; expected a quantity"),
    ]


def test_broken_price_details_and_a_non_token_unit_on_a_token_meter_are_reported() -> None:
    text = _prompt_caching_with({2: {"SkuPriceDetails": "{not json"}, 3: {"ConsumedUnit": "Hours"}})

    with pytest.raises(IngestError) as caught:
        parse_text(text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "skupricedetails", "'{not json' is not a JSON object"),
        (
            3,
            "consumedunit",
            "'Hours' is not a token unit, but the row is a token meter ('Cache Write Input Tokens'); "
            "expected Tokens, a block such as 1000 Tokens, or Units with x_PricingBlockSize",
        ),
    ]


def test_a_header_without_required_columns_is_refused_at_row_1() -> None:
    with pytest.raises(IngestError) as caught:
        parse_text("BilledCost,EffectiveCost,ChargePeriodStart,ServiceName,ChargeCategory\n1,1,2025-01-01,x,Usage\n")

    assert [(e.row, e.message) for e in caught.value.errors] == [
        (1, "the FOCUS header lacks servicecategory, chargeperiodend, billingcurrency")
    ]


@pytest.mark.parametrize(
    ("extra", "version"),
    [
        ([], "1.0"),
        (["SkuMeter"], "1.1"),
        (["ServiceSubcategory", "InvoiceId"], "1.2"),
        (["x_PricingCurrency", "PricingCurrency"], "1.2"),
        (["ServiceProviderName", "HostProviderName", "InvoiceId"], "1.3+"),
    ],
)
def test_detect_version(extra: list[str], version: str) -> None:
    header = ["BilledCost", "EffectiveCost", "ChargePeriodStart", "ServiceName", "ChargeCategory", *extra]

    assert focus_export.detect_version(header) == version


@pytest.mark.parametrize(
    ("unit", "block"),
    [("Tokens", 1), ("Token", 1), ("1K Tokens", 1000), ("1000 Tokens", 1000), ("1000000 Tokens", 1_000_000)],
)
def test_token_unit_blocks(unit: str, block: int) -> None:
    assert focus_export.token_unit_block(unit) == block


def test_signature_matches_no_azure_or_openai_header_and_theirs_miss_focus() -> None:
    focus_headers = [columns(path) for path in (SAMPLE, AZURE_FOCUS, *SPEC_EXAMPLES)]
    foreign_headers = [
        columns(AZURE / name)
        for name in (
            "EA_ActualCost_Small.csv",
            "EA_AmortizedCost_Small.csv",
            "sample-anonymous-ea-export-dataset.csv",
            "ea_2024-08-01_openai.csv",
            "mca_2023-12-01-preview_openai.csv",
            "ea_localized_zh_cny.csv",
        )
    ] + [columns(OPENAI / "completions_usage_2026-08-01_2026-08-31.csv")]

    assert all(header >= focus_export.SIGNATURE for header in focus_headers)
    assert not any(header >= focus_export.SIGNATURE for header in foreign_headers)
    assert not any(header >= azure_cost.SIGNATURE for header in focus_headers)
    assert not any(header >= openai_usage.SIGNATURE for header in focus_headers)


# --- Format version ------------------------------------------------------------------------------

MINIMAL_HEADER = (
    "BilledCost,EffectiveCost,ChargePeriodStart,ChargePeriodEnd,ServiceName,ChargeCategory,ServiceCategory,"
    "BillingCurrency"
)


def test_format_version_of_a_focus_1_1_header() -> None:
    _, stats = parse_text(MINIMAL_HEADER + ",SkuMeter\n")

    assert stats.format_version == "FOCUS 1.1"


def test_format_version_lists_the_versions_rows_declare_in_x_focus_version() -> None:
    # Given rows that state 1.0r2, nothing (the header's 1.1 then), and 1.0r2 again
    row = "0,0,2025-01-01T00:00:00Z,2025-01-02T00:00:00Z,Compute,Usage,Compute,USD,,{version}"
    text = "\n".join(
        [MINIMAL_HEADER + ",SkuMeter,x_FocusVersion", *(row.format(version=v) for v in ("1.0r2", "", "1.0r2"))]
    )

    _, stats = parse_text(text + "\n")

    assert stats.format_version == "FOCUS 1.0r2 + FOCUS 1.1"
