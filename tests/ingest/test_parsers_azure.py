"""The Azure cost-details parser on real EA samples, hand-made EA/MCA/localized exports and the meter grammar."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.parsers import IngestError, ParseStats, parse_export
from ingest.parsers import azure as azure_cost
from ingest.parsers import focus as focus_export
from ingest.parsers import openai as openai_usage
from ingest.parsers.base import RowReader, normalize_header_name, open_export_text, parse_decimal, read_header

AZURE = Path(__file__).resolve().parent.parent / "fixtures" / "azure"
FOCUS = Path(__file__).resolve().parent.parent / "fixtures" / "focus"
OPENAI = Path(__file__).resolve().parent.parent / "fixtures" / "openai"
EA_ACTUAL = AZURE / "EA_ActualCost_Small.csv"
EA_AMORTIZED = AZURE / "EA_AmortizedCost_Small.csv"
EA_PREVIEW = AZURE / "sample-anonymous-ea-export-dataset.csv"
EA_OPENAI = AZURE / "ea_2024-08-01_openai.csv"
MCA_OPENAI = AZURE / "mca_2023-12-01-preview_openai.csv"
ZH_OPENAI = AZURE / "ea_localized_zh_cny.csv"
RETAIL_PRICES = AZURE / "retail-prices-sample.json"


def parse_file(path: Path) -> tuple[list, ParseStats]:
    stats = ParseStats()
    return list(parse_export(path, azure_cost, stats)), stats


def parse_text(text: str) -> tuple[list, ParseStats]:
    stats = ParseStats()
    return list(azure_cost.parse(io.StringIO(text, newline=""), stats)), stats


def tokens_by_type(records: list) -> dict[str, int]:
    result: dict[str, int] = {}
    for record in records:
        result[record.token_type] = result.get(record.token_type, 0) + record.quantity
    return result


def cost_by_type(records: list) -> dict[str, Decimal]:
    result: dict[str, Decimal] = {}
    for record in records:
        result[record.token_type] = result.get(record.token_type, Decimal(0)) + record.cost
    return result


def columns(path: Path) -> set[str]:
    return {normalize_header_name(name) for name in read_header(path)}


@pytest.mark.parametrize(("path", "rows"), [(EA_ACTUAL, 11), (EA_AMORTIZED, 28), (EA_PREVIEW, 27)])
def test_real_ea_samples_have_no_ai_rows_and_every_row_is_skipped_and_counted(path: Path, rows: int) -> None:
    records, stats = parse_file(path)

    assert columns(path) >= azure_cost.SIGNATURE
    assert records == []
    assert stats.rows_read == rows
    assert stats.rows_skipped == {"not an AI service": rows}


def test_real_samples_bom_dates_scientific_notation_and_tags_parse() -> None:
    errors: list = []
    seen: dict[str, list] = {"dates": [], "costs": [], "tags": []}
    for path, cost_column in ((EA_ACTUAL, "cost"), (EA_AMORTIZED, "cost"), (EA_PREVIEW, "costinbillingcurrency")):
        with open_export_text(path) as text:
            reader = RowReader(text, errors)
            for row_number, row in reader:
                seen["dates"].append(azure_cost.parse_day(row["date"], row=row_number, column="date", errors=errors))
                seen["costs"].append(
                    parse_decimal(
                        row[cost_column], row=row_number, column=cost_column, errors=errors, expected="an amount"
                    )
                )
                seen["tags"].append(azure_cost.parse_tags(row["tags"]))

    assert errors == []
    assert read_header(EA_ACTUAL)[0] == "BillingAccountId"  # the BOM is stripped
    assert len(seen["dates"]) == 11 + 28 + 27
    assert None not in seen["tags"]
    assert seen["dates"][0] == datetime(2023, 9, 21, tzinfo=UTC)  # EA_ActualCost row 2: 09/21/2023
    assert seen["dates"][-1] == datetime(2023, 9, 2, tzinfo=UTC)  # preview row 28: 9/2/2023
    assert Decimal("0.0000564902") in seen["costs"]  # preview row 3: 5.64902E-05
    assert seen["tags"][1] == {
        "CostCenter": "1234",
        "env": "prod",
        "org": "trey",
        "application": "databricks",
        "databricks-environment": "true",
    }


def _rewrite_row(source: Path, target: Path, row_index: int, changes: dict[str, str]) -> None:
    """Copy a real export with one data row turned into an Azure OpenAI row (BOM and line endings kept)."""
    raw = source.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text, newline="")))
    header = lines[0]
    for name, value in changes.items():
        lines[row_index][header.index(name)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if "\r\n" in text else "\n").writerows(lines)
    target.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8"))


def test_a_real_preview_row_turned_into_azure_openai_keeps_cad_scientific_cost_and_m_d_yyyy_date(
    tmp_path: Path,
) -> None:
    # Row 3 of the 2023-12-01-preview sample: Quantity 0.0129 (10K in the original), cost 5.64902E-05 CAD.
    path = tmp_path / "preview.csv"
    _rewrite_row(
        EA_PREVIEW,
        path,
        2,
        {
            "MeterCategory": "Foundry Models",
            "MeterSubCategory": "Azure OpenAI",
            "MeterName": "gpt 4o 0806 Inp glbl Tokens",
            "UnitOfMeasure": "1K",
            "ConsumedService": "Microsoft.CognitiveServices",
        },
    )

    records, stats = parse_file(path)

    # 0.0129 x 1000 = 12.9 tokens, rounded half up to 13 (an estimate: tagged).
    assert [(r.source_row, r.token_type, r.quantity) for r in records] == [(3, "input", 13)]
    record = records[0]
    assert record.cost == Decimal("0.0000564902")
    assert record.currency == "CAD"
    assert record.cost_basis == "billed"
    assert record.period_start == datetime(2023, 9, 2, tzinfo=UTC)
    assert record.period_end == datetime(2023, 9, 3, tzinfo=UTC)
    assert record.tags["tokens_rounded"] == "true"
    assert record.tags["raw_quantity"] == "0.0129"
    assert record.tags["tagA"] == "valueA"
    assert record.account == "d275fcd5-3305-4a03-80c2-999999999999"
    assert record.project == "rg-example"
    assert record.region == "CentralUS"
    assert stats.rows_skipped == {"not an AI service": 26}


def test_a_real_old_ea_row_with_bom_turned_into_azure_openai_parses(tmp_path: Path) -> None:
    # Row 4 of EA_ActualCost_Small: Quantity 0.0047, Cost 0.000011139 USD, Date 09/04/2023 (MM/DD/YYYY).
    path = tmp_path / "ea_actual.csv"
    _rewrite_row(
        EA_ACTUAL,
        path,
        3,
        {
            "MeterCategory": "Cognitive Services",
            "MeterSubCategory": "Azure OpenAI",
            "MeterName": "gpt 4o 1120 cached Inp Data Zone Tokens",
            "UnitOfMeasure": "1K",
        },
    )

    records, _ = parse_file(path)

    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [(r.source_row, r.token_type, r.quantity, r.cost) for r in records] == [
        (4, "cached_input", 5, Decimal("0.000011139"))  # 0.0047 x 1000 = 4.7 -> 5
    ]
    assert records[0].period_start == datetime(2023, 9, 4, tzinfo=UTC)
    assert records[0].tags["deployment"] == "data_zone"


def test_hand_made_ea_2024_export_gives_hand_computed_totals() -> None:
    records, stats = parse_file(EA_OPENAI)

    assert columns(EA_OPENAI) >= azure_cost.SIGNATURE
    # input:  row 2 gpt-4o-0806-Inp-glbl 1250.5 x 1K = 1,250,500 ($3.12625)
    #         + row 8 Llama 3.3 70B Inp glbl 2000 x 1K = 2,000,000 ($1.42)            = 3,250,500 / $4.54625
    # output: row 3 310.25 x 1K = 310,250 ($3.1025) + row 5 1.23456789E+03 x 1K = 1,234,567.89 -> 1,234,568
    #         ($2.716049358) + row 6 GPT 5 outpt 0.75 x 1M = 750,000 ($7.5)            = 2,294,818 / $13.318549358
    # cached: row 4 480 x 1K = 480,000 ($0.66) + row 7 "cd inp" 3 x 1M = 3,000,000 ($0.525) = 3,480,000 / $1.185
    # other:  row 9 PTU hours $1200 + row 12 PTU reservation purchase $4290, quantity 0  = $5490
    assert tokens_by_type(records) == {"input": 3_250_500, "output": 2_294_818, "cached_input": 3_480_000, "other": 0}
    assert cost_by_type(records) == {
        "input": Decimal("4.54625"),
        "output": Decimal("13.318549358"),
        "cached_input": Decimal("1.185"),
        "other": Decimal("5490"),
    }
    assert stats.rows_read == 11
    assert stats.rows_skipped == {"not an AI service": 2}  # row 10 Storage, row 11 Speech (Cognitive Services)
    assert {r.currency for r in records} == {"USD"}
    assert {r.cost_basis for r in records} == {"billed"}
    by_row = {r.source_row: r for r in records}
    assert by_row[2].provider == "azure_openai"  # older Cognitive Services / Azure OpenAI Service category
    assert by_row[2].model_raw == "gpt-4o-0806"
    assert by_row[8].provider == "azure_foundry"
    assert by_row[8].model_raw == "Llama 3.3 70B"
    assert by_row[5].service_tier == "batch"
    assert by_row[5].tags["tokens_rounded"] == "true"
    assert "tokens_rounded" not in by_row[2].tags
    assert by_row[4].period_start == datetime(2025, 3, 2, tzinfo=UTC)  # 03/02/2025
    assert by_row[6].tags["meter"] == "GPT 5 outpt Glbl 1M Tokens"
    assert by_row[6].model_raw == "GPT 5"
    assert (by_row[9].token_type, by_row[9].quantity, by_row[9].unit) == ("other", 0, "1/Hour")
    assert by_row[9].service_tier == "provisioned"
    assert by_row[9].tags["raw_quantity"] == "1200"
    assert by_row[12].tags["charge_type"] == "Purchase"
    assert by_row[2].tags["team"] == "search"
    assert by_row[2].account == "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
    assert by_row[2].project == "rg-search"
    assert by_row[2].region == "EastUS2"


def test_hand_made_mca_export_in_eur_sums_repeated_keys() -> None:
    records, stats = parse_file(MCA_OPENAI)

    assert columns(MCA_OPENAI) >= azure_cost.SIGNATURE
    # input:  rows 2 and 3 are the same day and meter in two resource groups: 800 + 200 = 1000 x 1K
    #         = 1,000,000 (EUR 1.84 + 0.46 = 2.30)
    # output: row 4 150 x 1K = 150,000 (1.38) + row 6 5E+2 x 1K = 500,000 (0.138)    = 650,000 / 1.518
    # cached: row 5 "o4-mini 0416 cached Inp glbl" 1000 x 1K = 1,000,000 (0.25)
    assert tokens_by_type(records) == {"input": 1_000_000, "output": 650_000, "cached_input": 1_000_000}
    assert cost_by_type(records) == {
        "input": Decimal("2.30"),
        "output": Decimal("1.518"),
        "cached_input": Decimal("0.25"),
    }
    assert [r.source_row for r in records if r.token_type == "input"] == [2, 3]
    assert stats.rows_skipped == {"not an AI service": 1}
    assert {r.currency for r in records} == {"EUR"}
    assert records[0].period_start == datetime(2025, 3, 10, tzinfo=UTC)
    assert records[0].project == "rg-support"  # resourceGroupName
    assert records[0].account == "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
    assert records[0].region == "swedencentral"
    assert records[0].tags["team"] == "support"  # tags with braces
    assert records[-1].service_tier == "batch"


def test_localized_chinese_export_in_cny() -> None:
    records, stats = parse_file(ZH_OPENAI)

    assert "metername" in columns(ZH_OPENAI)  # 计量名称 (MeterName)
    # input 10000 x 1K = 10,000,000 (CNY 11.88); output 2500 x 1K = 2,500,000 (11.88);
    # cached 4000 x 1K = 4,000,000 (2.376)
    assert tokens_by_type(records) == {"input": 10_000_000, "output": 2_500_000, "cached_input": 4_000_000}
    assert cost_by_type(records) == {
        "input": Decimal("11.88"),
        "output": Decimal("11.88"),
        "cached_input": Decimal("2.376"),
    }
    assert stats.rows_skipped == {"not an AI service": 1}
    assert {r.currency for r in records} == {"CNY"}
    assert records[0].model_raw == "gpt-4o-mini-0718"
    assert records[0].tags["项目"] == "客服"
    assert records[0].period_start == datetime(2025, 3, 5, tzinfo=UTC)


BAD_HEADER = "Date,MeterCategory,MeterSubCategory,MeterName,UnitOfMeasure,Quantity,Cost,BillingCurrency"


def test_bad_quantity_and_impossible_date_are_reported_with_row_and_column() -> None:
    text = (
        f"{BAD_HEADER}\n"
        "3/1/2025,Foundry Models,Azure OpenAI,gpt 4o 0806 Inp glbl Tokens,1K,lots,1.0,USD\n"
        "2/30/2025,Foundry Models,Azure OpenAI,gpt 4o 0806 Outp glbl Tokens,1K,1,0.01,USD\n"
        "2/30/2025,Storage,Tiered Block Blob,Hot LRS Write Operations,10K,lots,1.0,USD\n"
    )

    with pytest.raises(IngestError) as caught:
        parse_text(text)

    # Row 4 is not an AI row: it is skipped unread, so its bad values are no error.
    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "quantity", "'lots' is not a number; expected a quantity"),
        (3, "date", "'2/30/2025' is not a valid date; expected MM/DD/YYYY, M/D/YYYY or YYYY-MM-DD"),
    ]


def test_token_meter_with_an_unknown_unit_and_a_bad_currency_are_reported() -> None:
    text = f"{BAD_HEADER}\n3/1/2025,Foundry Models,Azure OpenAI,gpt 4o 0806 Inp glbl Tokens,1 Hour,1,1.0,dollars\n"

    with pytest.raises(IngestError) as caught:
        parse_text(text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "billingcurrency", "'dollars' is not a currency code; expected an ISO 4217 currency code such as USD"),
        (
            2,
            "unitofmeasure",
            "'1 Hour' is not a token block size for the token meter 'gpt 4o 0806 Inp glbl Tokens'; "
            "expected 1K, 1M, 10K or a number",
        ),
    ]


def test_a_header_without_cost_or_currency_is_refused_at_row_1() -> None:
    with pytest.raises(IngestError) as caught:
        parse_text("Date,MeterCategory,MeterName,Quantity\n3/1/2025,Storage,x,1\n")

    assert [(e.row, e.message) for e in caught.value.errors] == [
        (1, "the header has no cost column; expected one of CostInBillingCurrency, Cost, PreTaxCost"),
        (1, "the header has no currency column; expected one of BillingCurrencyCode, BillingCurrency, Currency"),
    ]


def test_signature_matches_no_focus_or_openai_header_and_theirs_miss_azure() -> None:
    azure_headers = [columns(path) for path in (EA_ACTUAL, EA_AMORTIZED, EA_PREVIEW, EA_OPENAI, MCA_OPENAI, ZH_OPENAI)]
    foreign_headers = [
        columns(FOCUS / "focus_sample.csv"),
        columns(FOCUS / "azure_focus_1.2-preview_openai.csv"),
        columns(FOCUS / "ai_prompt_caching__ai_prompt_caching_a.csv"),
        columns(OPENAI / "completions_usage_2026-08-01_2026-08-31.csv"),
    ]

    assert all(header >= azure_cost.SIGNATURE for header in azure_headers)
    assert not any(header >= azure_cost.SIGNATURE for header in foreign_headers)
    assert not any(header >= focus_export.SIGNATURE for header in azure_headers)
    assert not any(header >= openai_usage.SIGNATURE for header in azure_headers)


# --- meter-name grammar ---


def _retail_items() -> list[dict]:
    return json.loads(RETAIL_PRICES.read_text(encoding="utf-8"))["Items"]


def test_every_token_meter_of_the_retail_price_list_classifies_as_a_token_type() -> None:
    token_meters = [
        item["meterName"]
        for item in _retail_items()
        if item["unitOfMeasure"] in ("1K", "1M") and item["meterName"].endswith("Tokens")
    ]
    cached_markers = {"cached", "cchd", "ccchd", "cched", "chd", "cd"}

    readings = {meter: azure_cost.classify_meter(meter) for meter in token_meters}

    assert len(token_meters) == 880  # 549 distinct names
    assert {reading.token_type for reading in readings.values()} == {"input", "output", "cached_input"}
    for meter, reading in readings.items():
        words = {word.lower() for word in meter.replace("-", " ").split()}
        assert (reading.token_type == "cached_input") == bool(words & cached_markers), meter
        assert reading.model, meter
    # 33 distinct token meters name no direction (embeddings, fine-tuning training): input is assumed.
    assert len({meter for meter, reading in readings.items() if reading.direction_assumed}) == 33


def test_non_token_meters_of_the_retail_price_list_are_other() -> None:
    others = {item["meterName"] for item in _retail_items() if not item["meterName"].endswith("Tokens")}

    assert len(others) == 56
    assert {azure_cost.classify_meter(meter).token_type for meter in others} == {"other"}


@pytest.mark.parametrize(
    ("meter", "token_type", "model", "tier", "deployment", "block"),
    [
        ("gpt 4o 0806 Inp glbl Tokens", "input", "gpt 4o 0806", "standard", "global", None),
        ("gpt-4o-0806-Inp-glbl Tokens", "input", "gpt-4o-0806", "standard", "global", None),
        ("gpt 4o 1120 cached Inp Data Zone Tokens", "cached_input", "gpt 4o 1120", "standard", "data_zone", None),
        ("o4-mini 0416 Batch Outp glbl Tokens", "output", "o4-mini 0416", "batch", "global", None),
        ("GPT 5 outpt Glbl 1M Tokens", "output", "GPT 5", "standard", "global", 1_000_000),
        ("5.2 chat 0210 cd inp Dz 1M Tokens", "cached_input", "5.2 chat 0210", "standard", "data_zone", 1_000_000),
        ("GPT 5 Nano Batch Inpt cchd Dzone 1M Tokens", "cached_input", "GPT 5 Nano", "batch", "data_zone", 1_000_000),
        ("gpt 4o mini0718 BatchOutp DataZone Tokens", "output", "gpt 4o mini0718", "batch", "data_zone", None),
        ("gpt-5-codex-ccchd-inp-glbl Tokens", "cached_input", "gpt-5-codex", "standard", "global", None),
        ("gpt 41 mn pp cd inp dz Tokens", "cached_input", "gpt 41 mn", "priority", "data_zone", None),
        ("Phi-3-Medium-128K-Instruct-Input Tokens", "input", "Phi-3-Medium-128K-Instruct", "standard", "", None),
        ("Llama3.3-Out-FT Tokens", "output", "Llama3.3", "standard", "", None),
        ("Provisioned Managed Global Unit", "other", "Provisioned Managed", "provisioned", "global", None),
        ("Image-Dall-E-3 HD HighRes-regnl EP Images", "other", "Image-Dall-E-3 HD HighRes", "", "regional", None),
    ],
)
def test_meter_grammar_examples(
    meter: str, token_type: str, model: str, tier: str, deployment: str, block: int | None
) -> None:
    reading = azure_cost.classify_meter(meter)

    assert (reading.token_type, reading.model, reading.service_tier, reading.deployment, reading.block) == (
        token_type,
        model,
        tier,
        deployment,
        block,
    )


@pytest.mark.parametrize(
    ("unit", "size"), [("1K", 1000), ("1M", 1_000_000), ("10K", 10_000), ("1000", 1000), ("1 Hour", None), ("", None)]
)
def test_block_size_of_units_of_measure(unit: str, size: int | None) -> None:
    assert azure_cost.block_size(unit) == size


# --- Format version ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "version"),
    [
        ("UsageDateTime,MeterCategory,MeterName,Quantity,PreTaxCost,Currency", "pay-as-you-go (PreTaxCost)"),
        ("date,meterCategory,meterName,quantity,costInBillingCurrency,billingCurrency", "MCA"),
    ],
)
def test_format_version_of_headers_without_a_fixture(header: str, version: str) -> None:
    _, stats = parse_text(header + "\n")

    assert stats.format_version == version
