"""The Anthropic Console token and cost parsers, on the real cost sample and hand-written variants (no database)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from ingest.parsers import anthropic_cost, anthropic_tokens, openai_cost
from ingest.parsers import openai as openai_usage
from ingest.parsers.anthropic import model_id_from_display_name
from ingest.parsers.base import CanonicalRecord, IngestError, ParseStats, open_export_text, read_header

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ANTHROPIC = FIXTURES / "anthropic"
COST_SAMPLE = ANTHROPIC / "claude_api_cost_2026_02_08_to_2026_02_15.csv"
TOKENS_HEADER = (
    "usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
    "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
    "usage_output_tokens,web_search_count,inference_geo,speed"
)
COST_HEADER = (
    "usage_date_utc,model,workspace,api_key,usage_type,context_window,token_type,cost_usd,cost_type,inference_geo,speed"
)


def parse_file(module: ModuleType, path: Path) -> tuple[list[CanonicalRecord], ParseStats]:
    stats = ParseStats()
    with open_export_text(path) as text:
        records = list(module.parse(text, stats))
    return records, stats


def parse_text(module: ModuleType, text: str) -> list[CanonicalRecord]:
    return list(module.parse(io.StringIO(text, newline=""), ParseStats()))


def token_totals(records: list[CanonicalRecord]) -> dict[str, int]:
    result: dict[str, int] = {}
    for record in records:
        result[record.token_type] = result.get(record.token_type, 0) + record.quantity
    return result


def cost_totals(records: list[CanonicalRecord]) -> dict[str, Decimal]:
    result: dict[str, Decimal] = {}
    for record in records:
        assert record.cost is not None
        result[record.token_type] = result.get(record.token_type, Decimal(0)) + record.cost
    return result


# --- cost export -------------------------------------------------------------------------------


def test_real_cost_sample_gives_hand_computed_totals() -> None:
    records, stats = parse_file(anthropic_cost, COST_SAMPLE)

    # Sums of cost_usd by token_type over the 24 data rows (file lines 2-25):
    # input_no_cache       0.09 + 0.01 + 0.09 + 0.02 + 0.00 + 0.00        = 0.21
    # input_cache_read     0.01 + 2.63 + 0.01 + 7.06 + 0.49               = 10.20
    # input_cache_write_5m 0.02 + 0.75 + 1.16 + 0.13 + 3.03 + 0.22        = 5.31
    # output               0.03 + 1.78 + 0.04 + 2.10 + 0.00 + 0.23        = 4.18
    # web search (--)      0.07                                           = 0.07   (file total 19.97)
    assert cost_totals(records) == {
        "input": Decimal("0.21"),
        "cached_input": Decimal("10.20"),
        "cache_write": Decimal("5.31"),
        "output": Decimal("4.18"),
        "other": Decimal("0.07"),
    }
    assert sum((r.cost for r in records if r.cost is not None), Decimal(0)) == Decimal("19.97")
    assert stats.rows_read == 24
    assert stats.rows_skipped == {}
    assert [r.source_row for r in records] == list(range(2, 26))
    assert {(r.quantity, r.unit, r.currency, r.cost_basis, r.provider) for r in records} == {
        (0, "usd", "USD", "billed", "anthropic")
    }
    assert all(isinstance(r.cost, Decimal) for r in records)


def test_real_cost_sample_keeps_display_names_and_names_the_web_search_row() -> None:
    records, _ = parse_file(anthropic_cost, COST_SAMPLE)

    assert {r.model_raw for r in records} == {"web_search", "Claude Haiku 4.5", "Claude Sonnet 4.5"}
    web_search = records[0]
    assert (web_search.source_row, web_search.token_type, web_search.cost) == (2, "other", Decimal("0.07"))
    assert (web_search.service_tier, web_search.region) == ("", "")
    assert web_search.tags == {"cost_type": "web_search"}
    first_token_row = records[1]
    assert first_token_row.period_start == datetime(2026, 2, 12, tzinfo=UTC)
    assert first_token_row.period_end == datetime(2026, 2, 13, tzinfo=UTC)
    assert (first_token_row.workspace, first_token_row.api_key) == ("Default", "chat-key")
    assert (first_token_row.service_tier, first_token_row.region) == ("message", "")


def test_real_cost_sample_sums_the_repeated_key_instead_of_deduplicating() -> None:
    records, _ = parse_file(anthropic_cost, COST_SAMPLE)

    repeated = [
        r
        for r in records
        if r.model_raw == "Claude Sonnet 4.5"
        and r.token_type == "cache_write"
        and r.period_start == datetime(2026, 2, 12, tzinfo=UTC)
    ]

    # Lines 9 and 10 share day x model x token_type: 0.75 + 1.16 = 1.91.
    assert [(r.source_row, r.cost) for r in repeated] == [(9, Decimal("0.75")), (10, Decimal("1.16"))]
    assert sum((r.cost for r in repeated if r.cost is not None), Decimal(0)) == Decimal("1.91")
    assert all(r.tags["cache_ttl"] == "5m" for r in repeated)


def test_less_or_equal_sign_in_context_window_survives() -> None:
    records, _ = parse_file(anthropic_cost, COST_SAMPLE)

    assert {r.tags.get("context_window") for r in records} == {None, "≤ 200k"}
    assert records[1].tags["context_window"] == "\u2264 200k"


def test_2024_cost_variant_with_seven_columns() -> None:
    records, _ = parse_file(anthropic_cost, ANTHROPIC / "claude_api_cost_2024_10_21_to_2024_10_27.csv")

    # 1.20 input, 3.45 output, 0.02 cache read, 0.50 cache write (5m).
    assert cost_totals(records) == {
        "input": Decimal("1.20"),
        "output": Decimal("3.45"),
        "cached_input": Decimal("0.02"),
        "cache_write": Decimal("0.50"),
    }
    assert records[0].model_raw == "Claude 3.5 Sonnet 2024-10-22"
    assert records[0].tags == {}


def test_cost_variant_with_list_price_keeps_it_in_tags() -> None:
    records, _ = parse_file(anthropic_cost, ANTHROPIC / "claude_api_cost_2025_11_01_to_2025_11_07.csv")

    assert cost_totals(records) == {
        "input": Decimal("0.30"),
        "cache_write": Decimal("0.60"),
        "output": Decimal("7.50"),
        "other": Decimal("0.10"),
    }
    assert [r.tags.get("list_price_usd") for r in records] == ["0.30", "0.60", "7.50", "0.10"]
    assert records[1].tags["cache_ttl"] == "1h"
    assert records[2].region == "global"
    assert records[3].model_raw == "web_search"


def test_2026_08_cost_variant_keeps_the_key_name_and_tags_the_key_id() -> None:
    records, _ = parse_file(anthropic_cost, ANTHROPIC / "claude_api_cost_2026_08_03_to_2026_08_09.csv")

    assert cost_totals(records) == {
        "input": Decimal("0.12"),
        "output": Decimal("0.40"),
        "cached_input": Decimal("1.05"),
    }
    last = records[2]
    assert (last.api_key, last.workspace, last.region) == ("old-key", "Claude Code", "global")
    assert last.tags == {
        "context_window": "≤ 200k",
        "cost_type": "token",
        "api_key_id": "apikey_01XyZ",
        "api_key_status": "archived",
    }


def test_bad_cost_rows_are_reported_with_row_and_column() -> None:
    rows = [
        "2026-02-12,Claude Haiku 4.5,Default,k,message,≤ 200k,output,lots,token,not_available,",
        "2026-02-30,Claude Haiku 4.5,Default,k,message,≤ 200k,output,0.10,token,not_available,",
        "2026-02-12,Claude Haiku 4.5,Default,k,message,≤ 200k,input_cache_write_2h,0.10,token,not_available,",
        "2026-02-12,--,Default,k,message,≤ 200k,output,0.10,token,not_available,",
        "2026-02-12,Claude Haiku 4.5,Default,k,message,≤ 200k,output,--,token,not_available,",
    ]

    with pytest.raises(IngestError) as caught:
        parse_text(anthropic_cost, "\n".join([COST_HEADER, *rows]) + "\n")

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "cost_usd", "'lots' is not a number; expected an amount in USD"),
        (3, "usage_date_utc", "'2026-02-30' is not a date; expected YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC)"),
        (
            4,
            "token_type",
            "'input_cache_write_2h' is not a known token type; expected one of input_no_cache, input_cache_read, "
            "input_cache_write_5m, input_cache_write_1h, input_cache_write, output (or -- on web-search rows)",
        ),
        (5, "model", "is empty; expected a model name"),
        (6, "cost_usd", "is empty; expected an amount in USD"),
    ]
    assert str(caught.value.errors[0]) == "row 2, column 'cost_usd': 'lots' is not a number; expected an amount in USD"


# --- token export ------------------------------------------------------------------------------


def test_current_token_header_unpivots_every_count() -> None:
    records, stats = parse_file(anthropic_tokens, ANTHROPIC / "claude_api_tokens_2026_03.csv")

    # input  = 1200 + 300 + 200 + 0           = 1700
    # cache  = (3000 + 500) + 0 + 0 + 2000    = 5500   (5m + 1h write columns)
    # read   = 45000 + 10000                  = 55000
    # output = 800 + 150 + 50 + 400           = 1400
    # web    = 2 searches (requests, not tokens); line 6 is all zeros and yields nothing
    assert token_totals(records) == {
        "input": 1700,
        "cache_write": 5500,
        "cached_input": 55000,
        "output": 1400,
        "other": 2,
    }
    assert stats.rows_read == 5
    assert stats.rows_skipped == {"no usage on the row (every count is zero)": 1}
    assert {(r.cost, r.cost_basis, r.provider) for r in records} == {(None, "unknown", "anthropic")}
    other = next(r for r in records if r.token_type == "other")
    assert (other.unit, other.quantity, other.source_row, other.tags["kind"]) == ("requests", 2, 2, "web_search")
    assert {r.unit for r in records if r.token_type != "other"} == {"tokens"}


def test_token_rows_carry_dimensions_and_the_cache_ttl_split() -> None:
    records, _ = parse_file(anthropic_tokens, ANTHROPIC / "claude_api_tokens_2026_03.csv")

    sonnet_write = next(r for r in records if r.source_row == 2 and r.token_type == "cache_write")
    assert sonnet_write.quantity == 3500
    assert sonnet_write.tags == {"context_window": "≤ 200k", "cache_write_5m": "3000", "cache_write_1h": "500"}
    assert (sonnet_write.model_raw, sonnet_write.api_key, sonnet_write.workspace) == (
        "claude-sonnet-4-5-20250929",
        "chat-key",
        "Default",
    )
    assert (sonnet_write.service_tier, sonnet_write.region) == ("standard", "")
    assert sonnet_write.period_start == datetime(2026, 3, 1, tzinfo=UTC)
    assert sonnet_write.period_end == datetime(2026, 3, 2, tzinfo=UTC)
    batch_write = next(r for r in records if r.source_row == 5 and r.token_type == "cache_write")
    assert batch_write.tags == {"context_window": "≤ 200k", "cache_write_1h": "2000"}
    assert (batch_write.service_tier, batch_write.region, batch_write.workspace) == ("batch", "us", "Claude Code")
    haiku_input = [r.quantity for r in records if r.model_raw.startswith("claude-haiku") and r.token_type == "input"]
    assert haiku_input == [300, 200]  # the repeated key (lines 3 and 4) stays as two additive records
    assert next(r for r in records if r.source_row == 3).region == "global"


def test_hourly_token_file_gives_one_hour_periods() -> None:
    records, _ = parse_file(anthropic_tokens, ANTHROPIC / "claude_api_tokens_2026_03_31.csv")

    assert token_totals(records) == {"input": 140, "cached_input": 1200, "output": 70, "other": 1}
    assert {(r.period_start, r.period_end) for r in records if r.source_row == 2} == {
        (datetime(2026, 3, 31, 2, tzinfo=UTC), datetime(2026, 3, 31, 3, tzinfo=UTC))
    }


def test_2025_06_token_header_without_context_geo_and_speed() -> None:
    records, _ = parse_file(anthropic_tokens, ANTHROPIC / "claude_api_tokens_2025_06.csv")

    # input 5000 + 800 + 4000; cache write 1000 (5m) + 600 (1h); read 20000 + 18000; output 1500 + 200 + 1200.
    assert token_totals(records) == {
        "input": 9800,
        "cache_write": 1600,
        "cached_input": 38000,
        "output": 2900,
        "other": 3,
    }
    assert {r.region for r in records} == {""}
    assert [r.tags for r in records if r.token_type == "cache_write"] == [
        {"cache_write_5m": "1000"},
        {"cache_write_1h": "600"},
    ]
    assert {r.service_tier for r in records if r.model_raw == "claude-3-5-haiku-20241022"} == {"batch"}


def test_older_token_header_with_a_single_cache_write_column() -> None:
    records, _ = parse_file(anthropic_tokens, ANTHROPIC / "claude_api_tokens_2025_02.csv")

    # input 10000 + 7000 + 1500; cache write 2500 + 300; read 40000 + 12000; output 3000 + 2100 + 400.
    assert token_totals(records) == {"input": 18500, "cache_write": 2800, "cached_input": 52000, "output": 5500}
    assert [r.tags for r in records if r.token_type == "cache_write"] == [{}, {}]


def test_bad_token_rows_are_reported_with_row_and_column() -> None:
    rows = [
        "2026-03-01,claude-sonnet-4-5-20250929,k,Default,standard,≤ 200k,-5,0,0,0,1,0,us,",
        "2026-02-30,claude-sonnet-4-5-20250929,k,Default,standard,≤ 200k,5,0,0,0,1,0,us,",
        "2026-03-01 02:30,claude-sonnet-4-5-20250929,k,Default,standard,≤ 200k,5,0,0,0,1,0,us,",
        "03/01/2026,claude-sonnet-4-5-20250929,k,Default,standard,≤ 200k,5,0,0,0,1,0,us,",
        "2026-03-01,,k,Default,standard,≤ 200k,5,0,0,0,many,0,us,",
    ]

    with pytest.raises(IngestError) as caught:
        parse_text(anthropic_tokens, "\n".join([TOKENS_HEADER, *rows]) + "\n")

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "usage_input_tokens_no_cache", "'-5' is not a whole non-negative token count"),
        (3, "usage_date_utc", "'2026-02-30' is not a date; expected YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC)"),
        (4, "usage_date_utc", "'2026-03-01 02:30' is not the start of an hour; expected YYYY-MM-DD HH:00"),
        (5, "usage_date_utc", "'03/01/2026' is not a date; expected YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC)"),
        (6, "usage_output_tokens", "'many' is not a number; expected a token count"),
        (6, "model_version", "is empty; expected a model id"),
    ]


# --- shared helpers and detection --------------------------------------------------------------


@pytest.mark.parametrize(
    ("display_name", "model_id"),
    [
        ("Claude Sonnet 4.5", "claude-sonnet-4-5"),
        ("Claude Haiku 4.5", "claude-haiku-4-5"),
        ("Claude Opus 4", "claude-opus-4"),
        ("Claude 3.5 Sonnet 2024-10-22", "claude-3-5-sonnet-20241022"),
        ("Claude 3 Haiku", "claude-3-haiku"),
        ("claude  3.7 sonnet", "claude-3-7-sonnet"),
        ("Claude 2.1", "claude-2.1"),
        ("Claude Instant 1.2", "claude-instant-1.2"),
        ("web_search", None),
        ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", None),
    ],
)
def test_display_names_map_to_api_ids_or_to_none(display_name: str, model_id: str | None) -> None:
    assert model_id_from_display_name(display_name) == model_id


REAL_HEADERS = [
    ("openai_usage", FIXTURES / "openai" / "completions_usage_2026-08-01_2026-08-31.csv"),
    ("openai_cost", FIXTURES / "openai" / "cost_2026-08-01_2026-08-31.csv"),
    ("openai_cost", FIXTURES / "openai" / "cost_2026-09-01_2026-09-02_api_source.csv"),
    ("anthropic_tokens", ANTHROPIC / "claude_api_tokens_2026_03.csv"),
    ("anthropic_tokens", ANTHROPIC / "claude_api_tokens_2025_06.csv"),
    ("anthropic_tokens", ANTHROPIC / "claude_api_tokens_2025_02.csv"),
    ("anthropic_cost", COST_SAMPLE),
    ("anthropic_cost", ANTHROPIC / "claude_api_cost_2024_10_21_to_2024_10_27.csv"),
    ("anthropic_cost", ANTHROPIC / "claude_api_cost_2025_11_01_to_2025_11_07.csv"),
    ("anthropic_cost", ANTHROPIC / "claude_api_cost_2026_08_03_to_2026_08_09.csv"),
]
MODULES = (openai_usage, openai_cost, anthropic_tokens, anthropic_cost)


@pytest.mark.parametrize(("format_name", "path"), REAL_HEADERS, ids=[path.name for _, path in REAL_HEADERS])
def test_each_header_generation_matches_exactly_its_own_signature(format_name: str, path: Path) -> None:
    columns = {name.strip().lower() for name in read_header(path)}

    matching = [module.NAME for module in MODULES if columns >= module.SIGNATURE]

    assert matching == [format_name]


def test_no_signature_is_contained_in_another() -> None:
    for module in MODULES:
        for other in MODULES:
            if module is not other:
                assert not module.SIGNATURE <= other.SIGNATURE, (module.NAME, other.NAME)


# --- Format version ------------------------------------------------------------------------------


def test_format_version_of_a_2026_08_cost_export_with_list_prices() -> None:
    stats = ParseStats()

    list(anthropic_cost.parse(io.StringIO(COST_HEADER + ",list_price_usd,api_key_id,api_key_status\n"), stats))

    assert stats.format_version == "2026-08 layout (api_key_id, api_key_status), with list_price_usd"
