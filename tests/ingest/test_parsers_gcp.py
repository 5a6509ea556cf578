"""The Google Cloud billing parsers (BigQuery export CSV in three spellings, console cost table) on
hand-written files: no public GCP export with Vertex AI or Gemini rows exists (no database)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ingest.parsers import gcp, gcp_bigquery, gcp_console
from ingest.parsers import openai as openai_usage
from ingest.parsers.base import (
    IngestError,
)
from tests.ingest.parser_helpers import by_row, edited, header_columns, parse_file, parse_text, totals

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DOTTED = FIXTURES / "gcp" / "bigquery_export_dotted.csv"
UNDERSCORED = FIXTURES / "gcp" / "bigquery_export_underscored.csv"
JSON_COLUMNS = FIXTURES / "gcp" / "bigquery_export_json_columns.csv"
CONSOLE = FIXTURES / "gcp" / "console_cost_table_usd.csv"
GCP_MODULES = (gcp_bigquery, gcp_console)


# --- BigQuery export, three spellings ----------------------------------------------------------


def test_dotted_export_gives_hand_computed_totals() -> None:
    records, stats = parse_file(gcp_bigquery, DOTTED)

    # cost = cost + sum(credits.amount); usage.unit count = 1 token, "1000 count" = blocks of 1,000.
    # input:        row 2 Vertex 2.5 Flash 1,200,000 (0.36) + row 7 Flash-Lite 1500.5 x 1000 = 1,500,500 (0.15005)
    #             + row 10 Gemini API 2,000,000 (0.6) = 4,700,500 tokens, 1.11005
    # output:       row 3 300,000 (0.75 - 0.25 credit = 0.50) + row 4 thinking 100,000 (0.25)
    #             + row 11 Gemini API 400,000 (1.0) = 800,000 tokens, 1.75
    # cached_input: row 5 input text caching 500,000 (0.0375)
    # other:        row 6 caching storage 2 hour (0.002) + row 8 Gemini 1.5 Pro 40,000 characters (0.05)
    #             + row 9 grounding 10 requests (0.35) = 0 tokens, 0.402
    assert totals(records) == {
        "input": (4_700_500, Decimal("1.11005")),
        "output": (800_000, Decimal("1.75")),
        "cached_input": (500_000, Decimal("0.0375")),
        "other": (0, Decimal("0.402")),
    }
    # Row 12 Compute Engine, row 13 a Vertex AI adjustment, row 14 tax.
    assert stats.rows_read == 13
    assert stats.rows_skipped == {"not an AI service": 1, "adjustment": 1, "tax": 1}
    assert sorted(by_row(records)) == list(range(2, 12))


def test_dotted_export_records_carry_provider_model_and_dimensions() -> None:
    records, _ = parse_file(gcp_bigquery, DOTTED)
    rows = by_row(records)

    first = rows[2]
    assert (first.provider, first.model_raw, first.token_type, first.unit) == (
        "gcp_vertex",
        "gemini-2.5-flash",
        "input",
        "tokens",
    )
    assert (first.project, first.region, first.currency, first.cost_basis) == (
        "search-prod-4711",
        "us-central1",
        "USD",
        "billed",
    )
    assert first.period_start.isoformat() == "2026-03-01T10:00:00+00:00"
    assert first.period_end.isoformat() == "2026-03-01T11:00:00+00:00"
    assert first.tags == {"team": "search", "sku": "Gemini 2.5 Flash GA Text Input - Predictions"}
    assert rows[3].tags["credits"] == "-0.25"
    assert rows[7].model_raw == "gemini-2.5-flash-lite"
    assert rows[7].tags["env"] == "prod"
    characters = rows[8]
    assert (characters.token_type, characters.quantity, characters.unit, characters.model_raw) == (
        "other",
        0,
        "characters",
        "gemini-1.5-pro",
    )
    assert (characters.tags["raw_unit"], characters.tags["raw_quantity"]) == ("characters", "40000")
    assert rows[9].model_raw == "LLM Grounding with Google Search tool - Predictions"
    api = rows[10]
    assert (api.provider, api.model_raw, api.region) == ("gcp_gemini_api", "gemini-2.5-flash", "global")
    assert api.tags["context_window"] == "short input"
    assert rows[11].token_type == "output"


def test_underscored_export_gives_hand_computed_totals() -> None:
    records, stats = parse_file(gcp_bigquery, UNDERSCORED)

    # Currency EUR from the currency column.
    # input:        row 2 2.5 Pro 800,000 (0.9) + row 5 no usage_unit, so amount_in_pricing_units 0.4 x
    #               "1 million tokens" = 400,000 (0.18) + row 6 Gemini API flash lite 1,000,000 (0.09)
    #             = 2,200,000 tokens, 1.17
    # output:       row 3 "Text and Thinking Output" 150,000 (1.35 - 0.1 - 0.05 credits = 1.20)
    # cached_input: row 4 Gemini 3 Flash caching 250,000 (0.0113)
    assert totals(records) == {
        "input": (2_200_000, Decimal("1.17")),
        "output": (150_000, Decimal("1.20")),
        "cached_input": (250_000, Decimal("0.0113")),
    }
    assert {record.currency for record in records} == {"EUR"}
    assert stats.rows_read == 6
    assert stats.rows_skipped == {"not an AI service": 1}
    rows = by_row(records)
    assert (rows[2].model_raw, rows[2].tags["context_window"]) == ("gemini-2.5-pro", "≤200k")
    assert rows[4].model_raw == "gemini-3-flash"
    assert rows[4].tags == {"env": "prod", "sku": "Gemini 3 Flash Text Input Caching"}
    assert (rows[6].provider, rows[6].model_raw) == ("gcp_gemini_api", "gemini-2.5-flash-lite")


def test_json_column_export_gives_hand_computed_totals() -> None:
    records, stats = parse_file(gcp_bigquery, JSON_COLUMNS)

    # input:  row 2 priority SKU, usage {"amount":1.2E6,"unit":"count"} = 1,200,000 (0.648)
    # output: row 3 200,000 (0.5 - 0.5 credit = 0) + row 5 Gemini API 50,000 (0.125) = 250,000, 0.125
    # other:  row 5 Vertex Gemini 1.5 Flash, billed per character even though the unit says count (0.00225)
    assert totals(records) == {
        "input": (1_200_000, Decimal("0.648")),
        "output": (250_000, Decimal("0.125")),
        "other": (0, Decimal("0.00225")),
    }
    assert stats.rows_read == 6
    assert stats.rows_skipped == {"tax": 1, "not an AI service": 1}
    rows = by_row(records)
    assert (rows[2].service_tier, rows[2].project, rows[2].region) == ("priority", "search-prod-4711", "us-central1")
    assert rows[3].cost == 0
    assert (rows[4].provider, rows[4].project, rows[4].region) == ("gcp_gemini_api", "gemini-app-1", "global")
    assert (rows[5].unit, rows[5].model_raw) == ("characters", "gemini-1.5-flash")


def test_header_without_a_service_column_is_rejected_clearly() -> None:
    text = "usage_start_time,usage_end_time,cost,currency,sku_description\n2026-03-01,2026-03-02,1,USD,x\n"

    with pytest.raises(IngestError) as caught:
        parse_text(gcp_bigquery, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (
            1,
            None,
            "not a Google Cloud billing export (BigQuery, CSV): the header has no service.description, "
            "service_description or service column; expected the billing export's service and SKU description "
            "columns",
        )
    ]


def test_header_without_a_sku_column_is_rejected_clearly() -> None:
    text = "usage_start_time,usage_end_time,cost,currency,service.description\n2026-03-01,2026-03-02,1,USD,x\n"

    with pytest.raises(IngestError) as caught:
        parse_text(gcp_bigquery, text)

    assert "the header has no sku.description, sku_description or sku column" in caught.value.errors[0].message


def test_bigquery_bad_amount_and_impossible_date_are_reported_with_row_and_column() -> None:
    text = edited(DOTTED, {(2, "usage.amount"): "lots", (3, "usage_start_time"): "2026-02-30 10:00:00 UTC"})

    with pytest.raises(IngestError) as caught:
        parse_text(gcp_bigquery, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "usage.amount", "'lots' is not a number; expected a usage amount"),
        (
            3,
            "usage_start_time",
            "'2026-02-30 10:00:00 UTC' is not a valid date and time; expected ISO-8601 such as 2026-03-01T00:00:00Z",
        ),
    ]


def test_bigquery_bad_json_cells_are_reported() -> None:
    text = edited(
        JSON_COLUMNS,
        {(2, "usage"): "{amount: 5", (3, "credits"): "[{oops", (4, "labels"): '"team"'},
    )

    with pytest.raises(IngestError) as caught:
        parse_text(gcp_bigquery, text)

    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "usage"), (3, "credits"), (4, "labels")]
    assert caught.value.errors[1].message == ("'[{oops' is not a JSON array of credits; expected [{\"amount\": …}]")


def test_token_sku_with_a_non_token_unit_is_an_error_not_a_guess() -> None:
    text = edited(DOTTED, {(2, "usage.unit"): "requests"})

    with pytest.raises(IngestError) as caught:
        parse_text(gcp_bigquery, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (
            2,
            "usage.unit",
            "'requests' is not a token unit; expected count or tokens (or a block such as 1000 count)",
        )
    ]


# --- Console cost table ------------------------------------------------------------------------


def test_console_export_gives_hand_computed_totals() -> None:
    records, stats = parse_file(gcp_console, CONSOLE)

    # Unrounded Cost ($) is used. input: row 2 12,000,000 (3.6) + row 6 Gemini API 3,000,000 (0.3)
    # = 15,000,000 tokens, 3.9; output: row 3 2,500,000 (6.25); cached_input: row 4 4,000,000 (0.3);
    # other: row 5 free-trial credit (-1.234567) + row 7 Imagen (0.8) = -0.434567.
    assert totals(records) == {
        "input": (15_000_000, Decimal("3.9")),
        "output": (2_500_000, Decimal("6.25")),
        "cached_input": (4_000_000, Decimal("0.3")),
        "other": (0, Decimal("-0.434567")),
    }
    # Row 8 tax, row 9 Compute Engine.
    assert stats.rows_read == 8
    assert stats.rows_skipped == {"tax": 1, "not an AI service": 1}
    rows = by_row(records)
    first = rows[2]
    assert (first.provider, first.model_raw, first.currency, first.project) == (
        "gcp_vertex",
        "gemini-2.5-flash",
        "USD",
        "search-prod-4711",
    )
    # "Usage end date" 2026-03-31 is inclusive: the period ends at the next midnight.
    assert first.period_start.isoformat() == "2026-03-01T00:00:00+00:00"
    assert first.period_end.isoformat() == "2026-04-01T00:00:00+00:00"
    credit = rows[5]
    assert (credit.token_type, credit.quantity, credit.cost, credit.tags["credit_type"]) == (
        "other",
        0,
        Decimal("-1.234567"),
        "Free trial",
    )
    assert (rows[6].provider, rows[6].model_raw) == ("gcp_gemini_api", "gemini-2.0-flash")
    assert rows[7].model_raw == "Imagen 3 Generation"


CONSOLE_ROW = (
    "Acme,012345-6789AB-CDEF01,P,p-1,,Vertex AI,C7E2-9256-1C43,Gemini 2.5 Flash GA Text Input - Predictions,"
    "FDBB-0B1A-77D5,Default,,Usage,2026-03-01,2026-03-31,{amount},count,{cost}"
)
CONSOLE_HEADER = (
    "Billing account name,Billing account ID,Project name,Project ID,Project hierarchy,Service description,"
    "Service ID,SKU description,SKU ID,Consumption model description,Credit type,Cost type,Usage start date,"
    "Usage end date,Usage amount,Usage unit,{cost_header}"
)


@pytest.mark.parametrize(
    ("cost_header", "currency"),
    [
        ("Cost ($)", "USD"),
        ("Cost (€)", "EUR"),
        ("Cost (£)", "GBP"),
        ("Cost (¥)", "JPY"),
        ("Cost (CAD)", "CAD"),
        ("Unrounded Cost (chf)", "CHF"),
    ],
)
def test_console_currency_comes_from_the_cost_header(cost_header: str, currency: str) -> None:
    text = CONSOLE_HEADER.format(cost_header=cost_header) + "\n" + CONSOLE_ROW.format(amount="1000", cost="0.5") + "\n"

    records, _ = parse_text(gcp_console, text)

    assert [(r.currency, r.cost, r.quantity) for r in records] == [(currency, Decimal("0.5"), 1000)]


def test_console_grouped_digits_are_read() -> None:
    text = (
        CONSOLE_HEADER.format(cost_header="Cost ($)")
        + "\n"
        + CONSOLE_ROW.format(amount='"1,200,000"', cost='"1,234.50"')
        + "\n"
    )

    records, _ = parse_text(gcp_console, text)

    assert [(r.quantity, r.cost) for r in records] == [(1_200_000, Decimal("1234.50"))]


def test_console_header_without_a_cost_column_or_with_an_unknown_currency_is_rejected() -> None:
    no_cost = CONSOLE_HEADER.format(cost_header="Amount") + "\n"
    odd = CONSOLE_HEADER.format(cost_header="Cost (¤)") + "\n"

    with pytest.raises(IngestError) as missing:
        parse_text(gcp_console, no_cost)
    with pytest.raises(IngestError) as unknown:
        parse_text(gcp_console, odd)

    assert [(e.row, e.message) for e in missing.value.errors] == [
        (
            1,
            "not a Google Cloud console cost table CSV: the header has no Cost (…) column; "
            "expected e.g. Cost ($) with the currency in parentheses",
        )
    ]
    assert [(e.row, e.column, e.message) for e in unknown.value.errors] == [
        (
            1,
            "Cost (¤)",
            "cannot tell the currency from 'Cost (¤)'; expected a symbol ($, €, £, ¥) or an ISO code as in Cost (CAD)",
        )
    ]


def test_console_bad_amount_and_impossible_date_are_reported_with_row_and_column() -> None:
    text = edited(CONSOLE, {(3, "Usage amount"): "lots", (4, "Usage start date"): "2026-02-30"})

    with pytest.raises(IngestError) as caught:
        parse_text(gcp_console, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (3, "Usage amount", "'lots' is not a number; expected a usage amount"),
        (
            4,
            "Usage start date",
            "'2026-02-30' is not a valid date and time; expected ISO-8601 such as 2026-03-01T00:00:00Z",
        ),
    ]


def test_console_errors_name_the_cost_column_as_written() -> None:
    text = edited(CONSOLE, {(2, "Unrounded Cost ($)"): "n/a"})

    with pytest.raises(IngestError) as caught:
        parse_text(gcp_console, text)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "Unrounded Cost ($)", "'n/a' is not a number; expected an amount of money")
    ]


# --- SKU logic -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "token_type", "model"),
    [
        ("Gemini 2.5 Flash GA Text Input - Predictions", "input", "gemini-2.5-flash"),
        ("Gemini 3 Flash Text Input - Predictions", "input", "gemini-3-flash"),
        ("Gemini 2.5 Pro Text Input (≤200k)", "input", "gemini-2.5-pro"),
        ("Gemini 2.5 Flash GA Text Output - Predictions", "output", "gemini-2.5-flash"),
        ("Gemini 2.5 Flash GA Thinking Text Output - Predictions", "output", "gemini-2.5-flash"),
        ("Gemini 2.5 Pro Text and Thinking Output (≤200k)", "output", "gemini-2.5-pro"),
        ("Gemini 2.5 Flash GA Input Text Caching", "cached_input", "gemini-2.5-flash"),
        ("Gemini 3 Flash Text Input Caching", "cached_input", "gemini-3-flash"),
        ("Gemini 2.5 Flash GA Input Caching Storage", "other", "gemini-2.5-flash"),
        (
            "LLM Grounding with Google Search tool - Predictions",
            "other",
            "LLM Grounding with Google Search tool - Predictions",
        ),
        ("Gemini 2.0 Flash Lite Text Input - Predictions", "input", "gemini-2.0-flash-lite"),
        ("Generate content input token count gemini 2.5 flash short input text", "input", "gemini-2.5-flash"),
        ("Generate content output token count gemini 2.5 flash short input text", "output", "gemini-2.5-flash"),
        (
            "Generate content output token count gemini 2.5 flash-lite long input text",
            "output",
            "gemini-2.5-flash-lite",
        ),
        (
            "Generate content cached content token count gemini 2.5 pro long input text",
            "cached_input",
            "gemini-2.5-pro",
        ),
        ("Gemini 2.5 Flash Provisioned Throughput", "other", "gemini-2.5-flash"),
        ("Gemini 2.0 Flash Tuning Input Tokens", "other", "gemini-2.0-flash"),
        ("Veo 2 Video Generation", "other", "Veo 2 Video Generation"),
    ],
)
def test_sku_descriptions_map_to_token_type_and_model(sku: str, token_type: str, model: str) -> None:
    described = gcp.describe_sku(sku, provider="gcp_vertex", units=("count",))

    assert (described.token_type, described.model) == (token_type, model)


def test_gemini_1_0_and_1_5_are_characters_on_vertex_but_tokens_on_the_gemini_api() -> None:
    vertex = gcp.describe_sku("Gemini 1.0 Pro Text Input - Predictions", provider="gcp_vertex", units=("count",))
    api = gcp.describe_sku(
        "Generate content input token count gemini 1.5 flash short input text",
        provider="gcp_gemini_api",
        units=("count",),
    )
    by_unit = gcp.describe_sku("Some Future Text Input", provider="gcp_gemini_api", units=("k{char}",))

    assert (vertex.token_type, vertex.characters) == ("other", True)
    assert (api.token_type, api.characters) == ("input", False)
    assert (by_unit.token_type, by_unit.characters) == ("other", True)


@pytest.mark.parametrize(
    ("unit", "block"),
    [
        ("count", 1),
        ("tokens", 1),
        ("1000 count", 1000),
        ("k{token}", 1000),
        ("1 million tokens", 1_000_000),
        ("requests", None),
        ("hour", None),
        ("0.5 count", None),
    ],
)
def test_token_unit_blocks(unit: str, block: int | None) -> None:
    assert gcp.token_block(unit) == block


# --- Signatures ----------------------------------------------------------------------------------


def test_each_signature_matches_its_own_fixtures_only() -> None:
    modules = (*GCP_MODULES, openai_usage)
    expected = {DOTTED: gcp_bigquery, UNDERSCORED: gcp_bigquery, JSON_COLUMNS: gcp_bigquery, CONSOLE: gcp_console}
    for path, module in expected.items():
        columns = header_columns(path)
        assert [m for m in modules if columns >= m.SIGNATURE] == [module], path.name


def test_signatures_match_no_other_fixture_nor_the_openai_signature() -> None:
    others = sorted(path for path in FIXTURES.rglob("*.csv") if path.parent.name != "gcp")
    assert others, "expected other formats' fixtures to compare against"
    for module in GCP_MODULES:
        assert not module.SIGNATURE <= openai_usage.SIGNATURE
        assert not openai_usage.SIGNATURE <= module.SIGNATURE
        for path in others:
            assert not header_columns(path) >= module.SIGNATURE, (module.NAME, path.name)
    assert gcp_bigquery.SIGNATURE.isdisjoint(gcp_console.SIGNATURE)


# --- Format version ------------------------------------------------------------------------------


def test_format_version_of_a_console_table_without_the_unrounded_cost() -> None:
    _, stats = parse_text(gcp_console, CONSOLE_HEADER.format(cost_header="Cost ($)") + "\n")

    assert stats.format_version == "rounded cost only"


def test_format_version_of_a_bigquery_export_mixing_dotted_and_underscored_names() -> None:
    header = "service.description,sku_description,usage_start_time,usage_end_time,cost,currency\n"

    _, stats = parse_text(gcp_bigquery, header)

    assert stats.format_version == "mixed column naming (dotted, underscored)"
