"""The catalog's pure side: naming rules, the price-file and FX-file parsers, range conflicts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finops.catalog import (
    FileRejected,
    PriceRow,
    canonical_model_id,
    long_context_tier,
    model_family_tier,
    parse_fx_file,
    parse_price_file,
    range_conflict,
    text_lines,
)

WIDE_HEADER = "provider,model,effective_date,input_per_mtok,output_per_mtok,cached_input_per_mtok,currency,source\n"
LONG_HEADER = "provider,model,token_type,usd_per_million,effective_from,currency,source\n"


def rejected(text: str) -> list[str]:
    with pytest.raises(FileRejected) as caught:
        parse_price_file(text.splitlines(keepends=True))
    return [str(error) for error in caught.value.errors]


@pytest.mark.parametrize(
    ("model_id", "canonical"),
    [
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("regional.amazon.nova-2-lite-v1:0", "nova-2-lite"),
        ("amazon-nova-lite", "nova-lite"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("claude-3.5-sonnet", "claude-3-5-sonnet"),
        ("claude-sonnet-4-0", "claude-sonnet-4"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("meta.llama3-3-70b-instruct-v1:0", "llama-3.3-70b"),
        ("Llama-3.3-70B-Instruct", "llama-3.3-70b"),
        ("openai.gpt-oss-120b-1:0", "gpt-oss-120b"),
        ("claude-sonnet-4.5-200k", "claude-sonnet-4-5-200k"),
        ("gemini-2.5-pro--200k", "gemini-2.5-pro-200k"),
        ("gpt-4-32k", "gpt-4-32k"),
    ],
)
def test_canonical_model_id_strips_route_decorations(model_id: str, canonical: str) -> None:
    assert canonical_model_id(model_id) == canonical


@pytest.mark.parametrize(
    ("model_id", "family_tier"),
    [
        ("claude-sonnet-4-5", ("sonnet", "mid")),
        ("claude-3-5-sonnet-20240620", ("sonnet", "mid")),
        ("global.anthropic.claude-opus-4-6-v1:0", ("opus", "large")),
        ("claude-haiku-4-5", ("haiku", "small")),
        ("gpt-4o-mini", ("gpt-mini", "small")),
        ("gpt-5-nano", ("gpt-nano", "small")),
        ("gpt-4o", ("gpt", "mid")),
        ("gpt-5.2-pro", ("gpt-pro", "large")),
        ("o4-mini", ("o-mini", "small")),
        ("o3", ("o", "large")),
        ("gemini-2.5-flash-lite", ("gemini-flash-lite", "small")),
        ("gemini-2.5-pro", ("gemini-pro", "mid")),
        ("amazon.nova-premier-v1:0", ("nova-premier", "large")),
        ("meta.llama3-1-405b-instruct-v1:0", ("llama", "large")),
        ("meta.llama3-1-8b-instruct-v1:0", ("llama", "small")),
        ("deepseek-chat", ("", "")),
    ],
)
def test_family_and_tier_follow_the_documented_rules(model_id: str, family_tier: tuple[str, str]) -> None:
    assert model_family_tier(model_id) == family_tier


def test_long_context_suffixes_of_100k_and_more_are_price_tiers() -> None:
    assert long_context_tier("claude-sonnet-4-200k") == ("claude-sonnet-4", 200_000)
    assert long_context_tier("gpt-5.4-272k") == ("gpt-5.4", 272_000)
    assert long_context_tier("gemini-1.5-flash-128k") == ("gemini-1.5-flash", 128_000)
    assert long_context_tier("gpt-4-32k") is None
    assert long_context_tier("claude-sonnet-4") is None


def test_wide_file_gives_one_row_per_priced_token_type() -> None:
    text = WIDE_HEADER + "aws-bedrock,nova-x,2025-03-01,0.06,0.24,,USD,vendor page\n"

    rows = parse_price_file(text.splitlines(keepends=True))

    assert rows == [
        PriceRow(
            2, "aws_bedrock", "nova-x", "input", "", Decimal("0.06"), "USD", date(2025, 3, 1), None, "vendor page"
        ),
        PriceRow(
            2, "aws_bedrock", "nova-x", "output", "", Decimal("0.24"), "USD", date(2025, 3, 1), None, "vendor page"
        ),
    ]


def test_wide_file_takes_cache_write_columns_and_an_end_date() -> None:
    text = (
        "provider,model,effective_date,input_per_mtok,output_per_mtok,cached_input_per_mtok,cache_write_5m_per_mtok,"
        "cache_write_1h_per_mtok,currency,source,effective_to\n"
        "anthropic,claude-x,2025-01-01,3,15,0.3,3.75,6,USD,docs,2025-06-30\n"
    )

    rows = parse_price_file(text.splitlines(keepends=True))

    assert [(row.token_type, row.cache_ttl, row.amount, row.effective_to) for row in rows] == [
        ("input", "", Decimal("3"), date(2025, 6, 30)),
        ("output", "", Decimal("15"), date(2025, 6, 30)),
        ("cached_input", "", Decimal("0.3"), date(2025, 6, 30)),
        ("cache_write", "5m", Decimal("3.75"), date(2025, 6, 30)),
        ("cache_write", "1h", Decimal("6"), date(2025, 6, 30)),
    ]


def test_long_file_with_bom_and_cache_ttl() -> None:
    data = (
        "\ufeffprovider,model,token_type,usd_per_million,effective_from,currency,source,cache_ttl\n"
        "anthropic,claude-x,cache_write,6,2025-01-01,usd,docs,1h\n"
    ).encode()

    rows = parse_price_file(text_lines(data))

    assert rows == [
        PriceRow(2, "anthropic", "claude-x", "cache_write", "1h", Decimal("6"), "USD", date(2025, 1, 1), None, "docs")
    ]


def test_negative_price_is_rejected_with_row_and_column() -> None:
    assert rejected(WIDE_HEADER + "openai,gpt-x,2025-01-01,-1,2,,USD,s\n") == [
        "row 2, column 'input_per_mtok': -1 is negative; a price must be zero or more"
    ]


def test_unknown_token_type_is_rejected() -> None:
    assert rejected(
        LONG_HEADER + "openai,gpt-x,input,1,2025-01-01,USD,s\nopenai,gpt-x,reasoning,1,2025-01-01,USD,s\n"
    ) == [
        "row 3, column 'token_type': unknown token type 'reasoning'; expected one of input, output, cached_input, "
        "cache_write"
    ]


def test_unknown_currency_is_rejected() -> None:
    assert rejected(WIDE_HEADER + "openai,gpt-x,2025-01-01,1,2,,XYZ,s\n") == [
        "row 2, column 'currency': unknown currency 'XYZ'; expected an ISO 4217 code such as USD"
    ]


def test_duplicate_effective_date_for_the_same_key_is_rejected() -> None:
    text = LONG_HEADER + "openai,gpt-x,input,1,2025-01-01,USD,a\nopenai,gpt-x,output,4,2025-01-01,USD,a\n"
    text += "openai,gpt-x,input,2,2025-01-01,USD,b\n"

    assert rejected(text) == ["row 4: duplicate: row 2 already prices openai/gpt-x input from 2025-01-01"]


def test_overlapping_effective_ranges_are_rejected() -> None:
    text = (
        "provider,model,token_type,usd_per_million,effective_from,effective_to,currency,source\n"
        "openai,gpt-x,input,1,2025-01-01,2025-06-30,USD,a\n"
        "openai,gpt-x,input,2,2025-03-01,,USD,b\n"
    )

    assert rejected(text) == [
        "row 3: overlaps row 2: openai/gpt-x input is priced 2025-01-01 to 2025-06-30 there, and from 2025-03-01 here"
    ]


def test_unparseable_dates_and_numbers_are_each_reported() -> None:
    text = WIDE_HEADER + "openai,gpt-x,01/02/2025,1,2,,USD,s\nopenai,gpt-y,2025-01-01,1.2.3,2,,USD,s\n"

    assert rejected(text) == [
        "row 2, column 'effective_date': '01/02/2025' is not a date; expected YYYY-MM-DD",
        "row 3, column 'input_per_mtok': '1.2.3' is not a number; expected a number like 2.50",
    ]


def test_missing_columns_are_named() -> None:
    assert rejected("provider,model,effective_date,input_per_mtok,currency\nopenai,gpt-x,2025-01-01,1,USD\n") == [
        "row 1: missing column(s) output_per_mtok, cached_input_per_mtok, source; expected the header "
        "provider,model,effective_date,input_per_mtok,output_per_mtok,cached_input_per_mtok,currency,source"
    ]


def test_end_before_start_and_empty_cells_are_rejected() -> None:
    text = (
        "provider,model,token_type,usd_per_million,effective_from,effective_to,currency,source\n"
        "openai,,input,,2025-03-01,2025-01-31,USD,s\n"
    )

    assert rejected(text) == [
        "row 2, column 'model': is empty; a value is required",
        "row 2, column 'effective_to': 2025-01-31 is before the effective date 2025-03-01",
        "row 2, column 'usd_per_million': is empty; a price is required",
    ]


def test_binary_and_empty_files_are_rejected() -> None:
    with pytest.raises(FileRejected, match="the file is binary"):
        text_lines(b"\x00\x01")
    assert rejected("") == ["row 1: the file is empty; expected a CSV header row"]
    assert rejected(WIDE_HEADER) == ["the file has a header but no price rows"]


def test_range_conflict_finds_steps_inside_a_closed_range_and_closed_steps_around_a_start() -> None:
    steps = [(date(2025, 1, 1), date(2025, 3, 31)), (date(2025, 6, 1), None)]

    assert range_conflict(effective_from=date(2025, 2, 1), effective_to=None, steps=steps) == steps[0]
    assert range_conflict(effective_from=date(2025, 5, 1), effective_to=date(2025, 6, 15), steps=steps) == steps[1]
    assert range_conflict(effective_from=date(2025, 4, 1), effective_to=date(2025, 5, 31), steps=steps) is None
    assert range_conflict(effective_from=date(2025, 1, 1), effective_to=None, steps=steps) is None


def test_fx_file_rows_and_errors() -> None:
    good = "date,from_currency,to_currency,rate,source\n2025-03-01,eur,USD,1.08,ECB\n"
    bad = "date,from_currency,to_currency,rate\n2025-03-01,EUR,USD,0\n2025-03-01,EUR,EUR,1\n2025-03-02,ABC,USD,x\n"

    assert [(r.from_currency, r.to_currency, r.rate, r.source) for r in parse_fx_file(good.splitlines())] == [
        ("EUR", "USD", Decimal("1.08"), "ECB")
    ]
    with pytest.raises(FileRejected) as caught:
        parse_fx_file(bad.splitlines())
    assert [str(error) for error in caught.value.errors] == [
        "row 2, column 'rate': is zero; a rate must be above zero",
        "row 3, column 'to_currency': converts a currency to itself",
        "row 4, column 'from_currency': unknown currency 'ABC'; expected an ISO 4217 code such as USD",
        "row 4, column 'rate': 'x' is not a number; expected a number like 2.50",
    ]
