"""The OpenAI dashboard cost parser, on the real sample and hand-written variants (no database)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.parsers import openai_cost
from ingest.parsers.base import CanonicalRecord, IngestError, ParseStats, open_export_text
from ingest.parsers.openai_cost import LineItem, split_line_item

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openai"
COST_SAMPLE = FIXTURES / "cost_2026-08-01_2026-08-31.csv"
BY_LINE_ITEM = FIXTURES / "cost_2026-01-01_2026-01-02_by_line_item.csv"
HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,quantity,quantity_unit,line_item,"
    "user_id,api_key_id,project_id,organization_id,project_name,organization_name,user_email"
)
DAY = "1767225600,1767312000,2026-01-01T00:00:00+00:00,2026-01-02T00:00:00+00:00"


def parse_file(path: Path) -> tuple[list[CanonicalRecord], ParseStats]:
    stats = ParseStats()
    with open_export_text(path) as text:
        records = list(openai_cost.parse(text, stats))
    return records, stats


def totals(records: list[CanonicalRecord]) -> tuple[dict[str, int], dict[str, Decimal]]:
    tokens: dict[str, int] = {}
    costs: dict[str, Decimal] = {}
    for record in records:
        assert record.cost is not None
        tokens[record.token_type] = tokens.get(record.token_type, 0) + record.quantity
        costs[record.token_type] = costs.get(record.token_type, Decimal(0)) + record.cost
    return tokens, costs


def test_real_sample_gives_hand_computed_totals() -> None:
    records, stats = parse_file(COST_SAMPLE)

    # 31 daily buckets: lines 2-31 are time-only (empty buckets); line 32 is the one ungrouped amount,
    # 0.003400000000000000000000000000000000 usd for 2026-08-31, organization org-_ ("Personal").
    assert totals(records) == ({"other": 0}, {"other": Decimal("0.0034")})
    assert stats.rows_read == 31
    assert stats.rows_skipped == {"empty time bucket (no cost that day)": 30}
    [record] = records
    assert str(record.cost) == "0.003400000000000000000000000000000000"
    assert (record.source_row, record.model_raw, record.unit, record.currency) == (32, "", "usd", "USD")
    assert (record.provider, record.cost_basis, record.account, record.project, record.api_key) == (
        "openai",
        "billed",
        "org-_",
        "",
        "",
    )
    assert record.tags == {"organization_name": "Personal"}
    assert record.period_start == datetime(2026, 8, 31, tzinfo=UTC)
    assert record.period_end == datetime(2026, 9, 1, tzinfo=UTC)


def test_export_grouped_by_line_item_splits_models_and_token_kinds() -> None:
    records, stats = parse_file(BY_LINE_ITEM)

    # billed tokens (kept in tags, not as ledger quantity, since the usage export carries them):
    # input 60000 + 10000 + 20000; output 30 x 1000 + 20 x 1000; cached 5 x 1000; cache write 4000;
    # the characters and file-search rows carry no tokens.
    # costs:  input 0.15 + 0.0015 + 0.003; output 0.36 + 0.012; cached 0.000375; cache write 0.01;
    # other 0.025 (file search) + 0.018 (tts-1 characters).
    assert totals(records) == (
        {"input": 0, "output": 0, "other": 0, "cached_input": 0, "cache_write": 0},
        {
            "input": Decimal("0.1545"),
            "output": Decimal("0.372"),
            "other": Decimal("0.043"),
            "cached_input": Decimal("0.000375"),
            "cache_write": Decimal("0.01"),
        },
    )
    billed: dict[str, int] = {}
    for record in records:
        billed[record.token_type] = billed.get(record.token_type, 0) + int(record.tags.get("billed_tokens", 0))
    assert billed == {"input": 90000, "output": 50000, "other": 0, "cached_input": 5000, "cache_write": 4000}
    assert stats.rows_skipped == {"empty time bucket (no cost that day)": 1}
    assert [r.model_raw for r in records] == [
        "ft-gpt-4o-2024-08-06",
        "ft-gpt-4o-2024-08-06",
        "file search",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-2024-08-06",
        "tts-1",
        "gpt-4o-mini-2024-07-18",
    ]
    first = records[0]
    assert (first.project, first.api_key, first.account, first.unit) == ("proj_a", "key_a", "org-a", "usd")
    assert first.tags == {
        "project_name": "Alpha",
        "organization_name": "Acme",
        "line_item": "ft-gpt-4o-2024-08-06, input",
        "billed_tokens": "60000",
    }
    assert records[2].tags["product"] == "assistants api"
    assert records[3].tags["product"] == "evals"
    characters = records[7]
    assert (characters.token_type, characters.quantity, characters.unit) == ("other", 0, "usd")
    assert (characters.tags["quantity"], characters.tags["quantity_unit"]) == ("1200.0", "characters")


def test_2026_09_variant_with_api_source_column() -> None:
    records, _ = parse_file(FIXTURES / "cost_2026-09-01_2026-09-02_api_source.csv")

    [record] = records
    assert record.cost == Decimal("0.0042")
    assert record.tags == {"organization_name": "Personal", "api_source": "dashboard"}


@pytest.mark.parametrize(
    ("line_item", "expected"),
    [
        ("ft-gpt-4o-2024-08-06, input", LineItem("", "ft-gpt-4o-2024-08-06", "input")),
        ("ft-gpt-4o-2024-08-06, output", LineItem("", "ft-gpt-4o-2024-08-06", "output")),
        ("evals | gpt-4o-mini-2024-07-18, input", LineItem("evals", "gpt-4o-mini-2024-07-18", "input")),
        ("gpt-4o, cached input", LineItem("", "gpt-4o", "cached_input")),
        ("gpt-4o, input_tokens", LineItem("", "gpt-4o", "input")),
        ("gpt-4o, output_tokens", LineItem("", "gpt-4o", "output")),
        ("gpt-4o, cache write", LineItem("", "gpt-4o", "cache_write")),
        ("gpt-4o, input_cache_write_tokens", LineItem("", "gpt-4o", "cache_write")),
        ("assistants api | file search", LineItem("assistants api", "file search", "other")),
        ("web search tool calls", LineItem("", "web search tool calls", "other")),
        ("tts-1, characters", LineItem("", "tts-1", "other")),
        ("my, odd, model, output", LineItem("", "my, odd, model", "output")),
    ],
)
def test_line_item_parsing(line_item: str, expected: LineItem) -> None:
    assert split_line_item(line_item) == expected


def test_bad_rows_are_reported_with_row_and_column() -> None:
    rows = [
        f"{DAY},lots,usd,,,,,,,org-a,,,",
        f'{DAY},0.1,usd,-5.0,tokens,"gpt-4o, input",,,,org-a,,,',
        f'{DAY},0.1,usd,0.0005,1000_tokens,"gpt-4o, input",,,,org-a,,,',
        f"{DAY},0.1,,,,,,,,org-a,,,",
        f'{DAY},,usd,10,tokens,"gpt-4o, input",,,,org-a,,,',
        f"{DAY},0.1,dollars,,,,,,,org-a,,,",
        "yesterday,1767312000,,,0.1,usd,,,,,,,org-a,,,",
    ]

    with pytest.raises(IngestError) as caught:
        list(openai_cost.parse(io.StringIO("\n".join([HEADER, *rows]) + "\n", newline=""), ParseStats()))

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [
        (2, "amount_value", "'lots' is not a number; expected an amount"),
        (3, "quantity", "'-5.0' tokens is not a whole non-negative token count"),
        (4, "quantity", "'0.0005' 1000_tokens is not a whole non-negative token count"),
        (5, "amount_currency", "is empty; expected a currency code such as usd"),
        (6, "amount_value", "is empty; expected an amount"),
        (7, "amount_currency", "'dollars' is not a currency code; expected three letters such as usd"),
        (8, "start_time", "'yesterday' is not a Unix time in seconds"),
    ]
    assert str(caught.value.errors[0]) == "row 2, column 'amount_value': 'lots' is not a number; expected an amount"


def test_signature_is_not_met_by_the_usage_export_header() -> None:
    usage_header = (FIXTURES / "completions_usage_2026-08-01_2026-08-31.csv").read_text().splitlines()[0]

    assert not set(usage_header.split(",")) >= openai_cost.SIGNATURE
    assert set(HEADER.split(",")) >= openai_cost.SIGNATURE
