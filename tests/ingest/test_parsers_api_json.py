"""The OpenAI Usage/Costs API and Anthropic Admin API JSON parsers (no database).

Documents are loaded exactly as the dispatcher loads them (``json.loads(..., parse_float=Decimal)``), so
JSON floats arrive as Decimal and money never passes through a float.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

import ingest.parsers
from ingest.parsers import anthropic_api, openai_api
from ingest.parsers.base import CanonicalRecord, IngestError, ParseStats

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OPENAI_USAGE_SAMPLE = FIXTURES / "openai" / "cookbook_usage_completions_ungrouped_2025-01.json"
OPENAI_COSTS_SAMPLE = FIXTURES / "openai" / "cookbook_costs_ungrouped_2025-01.json"
OPENAI_USAGE_GROUPED = FIXTURES / "openai" / "usage_api_completions_grouped_2026-01.json"
OPENAI_COSTS_BY_LINE_ITEM = FIXTURES / "openai" / "costs_api_by_line_item_2026-01.json"
OPENAI_OTHER_ENDPOINTS = FIXTURES / "openai" / "usage_api_other_endpoints_2026-01.json"
ANTHROPIC_USAGE = FIXTURES / "anthropic" / "admin_api_usage_report_2025-08.json"
ANTHROPIC_COST = FIXTURES / "anthropic" / "admin_api_cost_report_2025-08.json"
JSON_FIXTURES = {
    OPENAI_USAGE_SAMPLE: openai_api,
    OPENAI_COSTS_SAMPLE: openai_api,
    OPENAI_USAGE_GROUPED: openai_api,
    OPENAI_COSTS_BY_LINE_ITEM: openai_api,
    OPENAI_OTHER_ENDPOINTS: openai_api,
    ANTHROPIC_USAGE: anthropic_api,
    ANTHROPIC_COST: anthropic_api,
}


def load(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8-sig"), parse_float=Decimal)


def loads(text: str) -> object:
    return json.loads(text, parse_float=Decimal)


def parse(module: ModuleType, document: object) -> tuple[list[CanonicalRecord], ParseStats]:
    stats = ParseStats()
    return list(module.parse_document(document, stats)), stats


def token_totals(records: list[CanonicalRecord]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for record in records:
        totals[record.token_type] = totals.get(record.token_type, 0) + record.quantity
    return totals


def cost_totals(records: list[CanonicalRecord]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for record in records:
        assert record.cost is not None
        totals[record.token_type] = totals.get(record.token_type, Decimal(0)) + record.cost
    return totals


def requests_total(records: list[CanonicalRecord]) -> int:
    return sum(record.requests or 0 for record in records)


def errors_of(module: ModuleType, document: object) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(IngestError) as caught:
        parse(module, document)
    return [(error.row, error.column, error.message) for error in caught.value.errors]


# OpenAI: the two real cookbook responses ---------------------------------------------------------------------


def test_openai_cookbook_usage_sample_gives_hand_computed_totals() -> None:
    document = load(OPENAI_USAGE_SAMPLE)
    assert openai_api.matches(document)

    records, stats = parse(openai_api, document)

    # 31 daily buckets, 5 of them empty (buckets 10, 16, 17, 22, 30): 26 ungrouped completions results.
    # The results have no input_text_tokens key (the older schema), so input_tokens and output_tokens are
    # text only and the audio counts come on top. Column sums over the 26 results:
    #   input_tokens 16,951,009; input_cached_tokens 168,128; input_audio_tokens 49,963;
    #   output_tokens 729,421; output_audio_tokens 18,042; num_model_requests 19,347.
    # input = 16,951,009 - 168,128 + 49,963 = 16,832,844; output = 729,421 + 18,042 = 747,463;
    # cached input = 168,128 (non-zero in 10 results). Records: 26 input + 26 output + 10 cached = 62.
    assert token_totals(records) == {"input": 16_832_844, "output": 747_463, "cached_input": 168_128}
    assert requests_total(records) == 19_347
    assert len(records) == 62
    assert stats.rows_read == 26
    assert stats.rows_skipped == {}
    assert {(r.provider, r.model_raw, r.unit, r.project, r.api_key, r.service_tier) for r in records} == {
        ("openai", "", "tokens", "", "", "")
    }
    assert all(record.cost is None and record.tags == {} for record in records)

    # The first bucket starts at the requested start_time (1736616660 = 2025-01-11 17:31 UTC), not at midnight;
    # the last one ends at "now" (1739208663).
    first, last = records[0], records[-1]
    assert (first.period_start, first.period_end) == (
        datetime(2025, 1, 11, 17, 31, tzinfo=UTC),
        datetime(2025, 1, 12, tzinfo=UTC),
    )
    assert (first.token_type, first.quantity, first.requests) == ("input", 141_201, 470)
    assert (last.period_start, last.period_end) == (
        datetime(2025, 2, 10, tzinfo=UTC),
        datetime(2025, 2, 10, 17, 31, 3, tzinfo=UTC),
    )
    # Result 3 (bucket 3): input 3,718,360 - 76,544 cached + 5,776 audio; output 97,756 + 3,166 audio.
    third = [(r.token_type, r.quantity, r.requests) for r in records if r.source_row == 3]
    assert third == [("input", 3_647_592, 3053), ("output", 100_922, None), ("cached_input", 76_544, None)]
    # source_row counts results, not buckets: bucket 11 holds result 10 (bucket 10 is empty).
    assert {r.period_start for r in records if r.source_row == 10} == {datetime(2025, 1, 21, tzinfo=UTC)}
    assert max(record.source_row for record in records) == 26


def test_openai_cookbook_costs_sample_gives_hand_computed_totals() -> None:
    document = load(OPENAI_COSTS_SAMPLE)
    assert openai_api.matches(document)

    records, stats = parse(openai_api, document)

    # 31 day-aligned buckets with one ungrouped result each (line_item null). Sum of the 31 amount.value
    # numbers as written: 284.93943937274981134156 usd.
    assert cost_totals(records) == {"other": Decimal("284.93943937274981134156")}
    assert token_totals(records) == {"other": 0}
    assert len(records) == 31
    assert stats.rows_read == 31
    assert {(r.provider, r.model_raw, r.unit, r.currency, r.cost_basis) for r in records} == {
        ("openai", "", "usd", "USD", "billed")
    }
    assert {(r.account, r.project, r.api_key) for r in records} == {("org-GLHrIv00VVN9dEQC2b4wsBkf", "", "")}
    first = records[0]
    assert str(first.cost) == "0.13080438340307526"  # all 17 digits: never a float
    assert (first.period_start, first.period_end) == (
        datetime(2025, 1, 11, tzinfo=UTC),
        datetime(2025, 1, 12, tzinfo=UTC),
    )
    assert [record.source_row for record in records] == list(range(1, 32))


# OpenAI: hand-written documents (reference section 4 shapes) -------------------------------------------------


def test_openai_grouped_completions_page() -> None:
    document = load(OPENAI_USAGE_GROUPED)
    assert openai_api.matches(document)

    records, stats = parse(openai_api, document)

    # Result 1 (the reference's example): input_uncached_tokens 3000 is used as is; cached 1800, cache write
    # 200, output 1000; the modality counts are sub-breakdowns (input_text_tokens is present: current schema).
    # Result 2: input_uncached_tokens null, so input = 120000 - 20000 - 0 = 100000; cached 20000; output 8000.
    # Result 3: input 40000, output 15000. Result 4: input 5000, cached 2000, output 300.
    # Result 5: every count zero, skipped.
    assert token_totals(records) == {
        "input": 3000 + 100_000 + 40_000 + 5000,
        "output": 1000 + 8000 + 15_000 + 300,
        "cached_input": 1800 + 20_000 + 2000,
        "cache_write": 200,
    }
    assert requests_total(records) == 5 + 40 + 12 + 3
    assert stats.rows_read == 5
    assert stats.rows_skipped == {"result with no tokens (every count is zero)": 1}

    by_row = {record.source_row: record for record in records}
    assert by_row[1].model_raw == "gpt-4o-mini-2024-07-18"
    assert (by_row[1].project, by_row[1].api_key, by_row[1].service_tier) == (
        "proj_fixture_alpha",
        "key_fixture_alpha1",
        "default",
    )
    assert by_row[1].tags == {"user_id": "user-fixture-alice"}
    assert by_row[2].service_tier == "batch"  # batch: true wins over service_tier "default"
    assert by_row[3].service_tier == "flex"
    # Bucket 2 is empty; results 3-5 are in bucket 3 (2026-01-03).
    assert by_row[3].period_start == datetime(2026, 1, 3, tzinfo=UTC)
    assert [(r.token_type, r.quantity) for r in records if r.source_row == 1] == [
        ("input", 3000),
        ("output", 1000),
        ("cached_input", 1800),
        ("cache_write", 200),
    ]


def test_openai_costs_by_line_item_list_of_pages() -> None:
    document = load(OPENAI_COSTS_BY_LINE_ITEM)
    assert openai_api.matches(document)

    records, stats = parse(openai_api, document)

    # Page 1: 0.15 (input), "0.6" (output, a JSON string), 0.0375 (cached input), 0.025 (file search);
    # page 2: 1.2 (evals input), "0.015" (tts-1 characters: other), 0.0021 (no line item: other).
    assert cost_totals(records) == {
        "input": Decimal("1.35"),
        "output": Decimal("0.6"),
        "cached_input": Decimal("0.0375"),
        "other": Decimal("0.0421"),
    }
    assert token_totals(records) == {"input": 0, "output": 0, "cached_input": 0, "other": 0}
    assert stats.rows_read == 7
    by_row = {record.source_row: record for record in records}
    assert by_row[1].tags["billed_tokens"] == "1000000"
    assert by_row[2].tags["billed_tokens"] == "1000000"  # 1000 x 1000_tokens
    assert by_row[3].tags["billed_tokens"] == "500000"
    assert (by_row[4].model_raw, by_row[4].token_type, by_row[4].tags.get("product")) == (
        "file search",
        "other",
        "assistants api",
    )
    assert (by_row[5].model_raw, by_row[5].token_type, by_row[5].tags["product"]) == (
        "gpt-4.1-2025-04-14",
        "input",
        "evals",
    )
    assert by_row[5].period_start == datetime(2026, 1, 3, tzinfo=UTC)
    assert by_row[6].tags["quantity"] == "1000"
    assert by_row[6].tags["quantity_unit"] == "characters"
    assert "billed_tokens" not in by_row[6].tags
    assert (by_row[7].model_raw, by_row[7].project, by_row[7].tags) == ("", "", {})
    assert {(r.account, r.currency, r.cost_basis, r.unit) for r in records} == {("org-fixture", "USD", "billed", "usd")}
    assert by_row[1].api_key == "key_fixture_alpha1"


def test_openai_other_usage_endpoints() -> None:
    document = load(OPENAI_OTHER_ENDPOINTS)
    assert openai_api.matches(document)

    records, _ = parse(openai_api, document)

    # Embeddings: 250000 input tokens; moderations, images, audio speeches and vector stores are not
    # token usage: one "other" record each with quantity 0 and the raw counts in tags.
    assert token_totals(records) == {"input": 250_000, "other": 0}
    embeddings, moderations, images, speeches, stores = records
    assert (embeddings.model_raw, embeddings.requests, embeddings.tags) == (
        "text-embedding-3-small",
        120,
        {"usage_type": "embeddings"},
    )
    assert moderations.tags == {"usage_type": "moderations", "input_tokens": "3000", "num_model_requests": "30"}
    assert (images.unit, images.requests, images.model_raw) == ("images", 12, "dall-e-3")
    assert images.tags == {
        "usage_type": "images",
        "images": "12",
        "num_model_requests": "12",
        "size": "1024x1024",
        "source": "image.generation",
    }
    assert (speeches.unit, speeches.tags["characters"]) == ("characters", "4200")
    assert (stores.unit, stores.requests, stores.project, stores.tags) == (
        "bytes",
        None,
        "proj_fixture_beta",
        {"usage_type": "vector_stores", "usage_bytes": "1048576"},
    )


def test_openai_page_list_of_buckets_and_list_of_pages_agree() -> None:
    buckets = load(OPENAI_USAGE_SAMPLE)
    assert isinstance(buckets, list)
    as_page = {"object": "page", "data": buckets, "has_more": False, "next_page": None}
    as_pages = [
        {"object": "page", "data": buckets[:7], "has_more": True, "next_page": "page_2"},
        {"object": "page", "data": buckets[7:], "has_more": False, "next_page": None},
    ]

    expected, _ = parse(openai_api, buckets)
    for document in (as_page, as_pages):
        assert openai_api.matches(document)
        assert parse(openai_api, document)[0] == expected


# Anthropic: hand-written documents (reference section 7 shapes; no real response is public) ---------------------


def test_anthropic_usage_report() -> None:
    document = load(ANTHROPIC_USAGE)
    assert anthropic_api.matches(document)

    records, stats = parse(anthropic_api, document)

    # Result 1: input 12000, cache write 4000 (5m), cache read 30000, output 2500.
    # Result 2: input 5000, cache write 1500 (1h), output 800, 3 web searches.
    # Result 3: input 250000, cache write 1000 (5m) + 2000 (1h), cache read 10000, output 6000.
    # Result 4: every count zero, skipped. Result 5: input 900, output 100 (cache_creation and
    # server_tool_use null).
    assert token_totals(records) == {
        "input": 12_000 + 5000 + 250_000 + 900,
        "cache_write": 4000 + 1500 + 3000,
        "cached_input": 30_000 + 10_000,
        "output": 2500 + 800 + 6000 + 100,
        "other": 3,
    }
    assert stats.rows_read == 5
    assert stats.rows_skipped == {"result with no usage (every count is zero)": 1}
    assert len(records) == 4 + 4 + 4 + 2
    assert {record.provider for record in records} == {"anthropic"}
    assert all(record.cost is None for record in records)

    by_key = {(record.source_row, record.token_type): record for record in records}
    first = by_key[(1, "input")]
    assert (first.model_raw, first.workspace, first.api_key, first.service_tier, first.region) == (
        "claude-sonnet-4-20250514",
        "",  # workspace_id null: the default workspace
        "apikey_01FixtureKeyA",
        "standard",
        "",
    )
    assert first.tags == {"context_window": "0-200k"}
    assert (first.period_start, first.period_end) == (
        datetime(2025, 8, 1, tzinfo=UTC),
        datetime(2025, 8, 2, tzinfo=UTC),
    )
    assert by_key[(1, "cache_write")].tags == {"context_window": "0-200k", "cache_write_5m": "4000"}
    assert by_key[(2, "cache_write")].tags == {"context_window": "0-200k", "cache_write_1h": "1500"}
    web = by_key[(2, "other")]
    assert (web.quantity, web.unit, web.tags["kind"], web.service_tier) == (3, "requests", "web_search", "batch")
    third = by_key[(3, "cache_write")]
    assert third.tags == {"context_window": "200k-1M", "cache_write_5m": "1000", "cache_write_1h": "2000"}
    assert (third.workspace, third.region, third.service_tier) == ("wrkspc_01FixtureWorkspaceA", "us", "priority")
    assert third.period_start == datetime(2025, 8, 3, tzinfo=UTC)
    assert (by_key[(5, "input")].api_key, by_key[(5, "input")].region) == ("", "global")


def test_anthropic_cost_report_list_of_pages() -> None:
    document = load(ANTHROPIC_COST)
    assert anthropic_api.matches(document)

    records, stats = parse(anthropic_api, document)

    # Amounts are cents as decimal strings: "123.45" -> 1.2345 input; "375.5" + "1250.125" -> 3.755 + 12.50125
    # output; "9" -> 0.09 cache read; "150" (5m) + "30" (1h) -> 1.50 + 0.30 cache write; "3" web search +
    # "0.5" code execution -> 0.03 + 0.005 other.
    assert cost_totals(records) == {
        "input": Decimal("1.2345"),
        "output": Decimal("16.25625"),
        "cached_input": Decimal("0.09"),
        "cache_write": Decimal("1.80"),
        "other": Decimal("0.035"),
    }
    assert token_totals(records) == dict.fromkeys(("input", "output", "cached_input", "cache_write", "other"), 0)
    assert stats.rows_read == 8
    assert {(r.provider, r.unit, r.currency, r.cost_basis) for r in records} == {("anthropic", "usd", "USD", "billed")}

    by_row = {record.source_row: record for record in records}
    assert str(by_row[1].cost) == "1.2345"
    assert by_row[1].tags == {
        "context_window": "0-200k",
        "cost_type": "tokens",
        "description": "Claude Sonnet 4 Usage - Input Tokens",
    }
    assert (by_row[4].token_type, by_row[4].tags["cache_ttl"]) == ("cache_write", "5m")
    assert (by_row[5].token_type, by_row[5].tags["cache_ttl"], by_row[5].workspace, by_row[5].service_tier) == (
        "cache_write",
        "1h",
        "wrkspc_01FixtureWorkspaceA",
        "batch",
    )
    # Non-token costs have no model: model_raw falls back to the description.
    assert (by_row[6].token_type, by_row[6].model_raw, by_row[6].tags["cost_type"]) == (
        "other",
        "Web Search Usage",
        "web_search",
    )
    # source_row runs across pages: result 7 is the first of page 2.
    assert (by_row[7].model_raw, by_row[7].cost, by_row[7].period_start) == (
        "Code Execution Usage",
        Decimal("0.005"),
        datetime(2025, 8, 2, tzinfo=UTC),
    )
    assert (by_row[8].model_raw, by_row[8].token_type) == ("claude-opus-4-1-20250805", "output")


@pytest.mark.parametrize(
    ("amount", "dollars"),
    [("123.45", "1.2345"), ("0.01", "0.0001"), ("100", "1.00"), ("-250", "-2.50"), ("1250.125", "12.50125")],
)
def test_anthropic_cost_amount_is_cents(amount: str, dollars: str) -> None:
    document = {
        "data": [
            {
                "starting_at": "2025-08-01T00:00:00Z",
                "ending_at": "2025-08-02T00:00:00Z",
                "results": [{"currency": "usd", "amount": amount, "workspace_id": None, "description": None}],
            }
        ],
        "has_more": False,
        "next_page": None,
    }

    [record] = parse(anthropic_api, document)[0]

    assert record.cost == Decimal(dollars)
    assert str(record.cost) == dollars
    assert (record.currency, record.token_type, record.model_raw) == ("USD", "other", "")
    assert anthropic_api.cents_to_major(Decimal(amount)) == Decimal(dollars)


def test_anthropic_single_page_and_list_of_pages_agree() -> None:
    page = load(ANTHROPIC_USAGE)
    assert isinstance(page, dict)
    buckets = page["data"]
    as_pages = [
        {"data": buckets[:1], "has_more": True, "next_page": "page_2"},
        {"data": buckets[1:], "has_more": False, "next_page": None},
    ]

    expected, _ = parse(anthropic_api, page)
    for document in (as_pages, buckets):
        assert anthropic_api.matches(document)
        assert parse(anthropic_api, document)[0] == expected


# Detection: each module claims only its own documents ---------------------------------------------------------


OPENAI_DOCUMENTS = [
    OPENAI_USAGE_SAMPLE,
    OPENAI_COSTS_SAMPLE,
    OPENAI_USAGE_GROUPED,
    OPENAI_COSTS_BY_LINE_ITEM,
    OPENAI_OTHER_ENDPOINTS,
]
ANTHROPIC_DOCUMENTS = [ANTHROPIC_USAGE, ANTHROPIC_COST]


@pytest.mark.parametrize("path", OPENAI_DOCUMENTS, ids=lambda path: path.name)
def test_anthropic_module_rejects_openai_documents(path: Path) -> None:
    assert openai_api.matches(load(path))
    assert not anthropic_api.matches(load(path))


@pytest.mark.parametrize("path", ANTHROPIC_DOCUMENTS, ids=lambda path: path.name)
def test_openai_module_rejects_anthropic_documents(path: Path) -> None:
    assert anthropic_api.matches(load(path))
    assert not openai_api.matches(load(path))


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        "[]",
        "{}",
        "[1, 2, 3]",
        '"bucket"',
        "null",
        '{"object": "page", "data": []}',
        '{"data": [], "has_more": false, "next_page": null}',
        '{"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}',
        '[{"object": "bucket", "results": []}]',
        '[{"object": "bucket", "start_time": 1, "end_time": 2, "results": [{"object": "organization.other"}]}]',
        '{"data": [{"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z", '
        '"results": [{"input_tokens": 5}]}]}',
    ],
)
def test_random_json_matches_neither(text: str) -> None:
    document = loads(text)
    assert not openai_api.matches(document)
    assert not anthropic_api.matches(document)


def test_real_azure_price_list_json_matches_neither() -> None:
    document = load(FIXTURES / "azure" / "retail-prices-sample.json")
    assert not openai_api.matches(document)
    assert not anthropic_api.matches(document)


def test_documents_with_only_empty_buckets_still_match_and_yield_nothing() -> None:
    openai_document = loads('[{"object": "bucket", "start_time": 1767225600, "end_time": 1767312000, "results": []}]')
    anthropic_document = loads(
        '{"data": [{"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z", "results": []}], '
        '"has_more": false, "next_page": null}'
    )

    assert openai_api.matches(openai_document)
    assert anthropic_api.matches(anthropic_document)
    assert not anthropic_api.matches(openai_document)
    assert not openai_api.matches(anthropic_document)
    assert parse(openai_api, openai_document) == ([], ParseStats())
    assert parse(anthropic_api, anthropic_document) == ([], ParseStats())


# Split exports: the parts (endpoints) a document holds, and its format version ------------------------------


def test_openai_source_parts_name_the_endpoint_of_every_result_read() -> None:
    # Given one document mixing a completions result with no tokens, an embeddings result and a costs result
    document = [
        {
            "object": "bucket",
            "start_time": 1767225600,
            "end_time": 1767312000,
            "results": [
                {"object": "organization.usage.completions.result", "input_tokens": 0, "output_tokens": 0},
                {"object": "organization.usage.embeddings.result", "input_tokens": 12, "num_model_requests": 1},
                {"object": "organization.costs.result", "amount": {"value": "0.5", "currency": "usd"}},
            ],
        }
    ]

    _, stats = parse(openai_api, document)

    # The empty completions result still says the document covers that endpoint.
    assert (stats.source_parts, stats.format_version) == (
        {"completions", "embeddings", "costs"},
        "Usage API + Costs API",
    )


def test_anthropic_source_parts_are_the_usage_and_cost_reports_the_document_holds() -> None:
    # Given the usage report page and the cost report pages saved as one list of pages
    cost_pages = load(ANTHROPIC_COST)
    assert isinstance(cost_pages, list)
    document = [load(ANTHROPIC_USAGE), *cost_pages]

    _, stats = parse(anthropic_api, document)

    assert (stats.source_parts, stats.format_version) == ({"usage_report", "cost_report"}, "Usage report + Cost report")


# Bad input: result-numbered errors, nothing half-loaded ------------------------------------------------------


def _openai_bucket(start: int, results: list[object]) -> dict[str, object]:
    return {"object": "bucket", "start_time": start, "end_time": start + 86400, "results": results}


def _completion(**counts: object) -> dict[str, object]:
    return {"object": "organization.usage.completions.result", "model": "gpt-4o-mini", **counts}


def test_openai_bad_counts_and_amounts_are_reported_by_result() -> None:
    document = loads(
        json.dumps(
            [
                _openai_bucket(1767225600, [_completion(input_tokens=10, output_tokens=5)]),
                _openai_bucket(1767312000, []),
                _openai_bucket(
                    1767398400,
                    [
                        _completion(input_tokens=10, output_tokens=-5),
                        _completion(input_tokens="ten", output_tokens=1.5),
                        _completion(input_tokens=10, input_text_tokens=10, input_cached_tokens=20, output_tokens=1),
                    ],
                ),
                _openai_bucket(
                    1767484800,
                    [
                        {"object": "organization.costs.result", "amount": {"value": "abc", "currency": "usd"}},
                        {"object": "organization.costs.result", "amount": {"value": 1, "currency": "dollars"}},
                        {"object": "organization.costs.result"},
                        {"object": "organization.usage.completions", "input_tokens": 1},
                    ],
                ),
            ]
        )
    )

    assert errors_of(openai_api, document) == [
        (2, "output_tokens", "result 2 (bucket 3): -5 is not a whole non-negative count"),
        (3, "input_tokens", "result 3 (bucket 3): 'ten' is not a whole non-negative count"),
        (3, "output_tokens", "result 3 (bucket 3): 1.5 is not a whole non-negative count"),
        (
            4,
            "input_tokens",
            "result 4 (bucket 3): input_tokens (10) is smaller than cached (20) plus cache-write (0) tokens; "
            "expected input_tokens to include both",
        ),
        (5, "amount.value", "result 5 (bucket 4): 'abc' is not a number; expected an amount"),
        (
            6,
            "amount.currency",
            "result 6 (bucket 4): 'dollars' is not a currency code; expected three letters such as usd",
        ),
        (7, "amount.value", "result 7 (bucket 4): null is not a number; expected an amount"),
        (
            7,
            "amount.currency",
            "result 7 (bucket 4): null is not a currency code; expected three letters such as usd",
        ),
    ]


def test_openai_bad_buckets_and_unknown_results() -> None:
    document = loads(
        json.dumps(
            {
                "object": "page",
                "data": [
                    {"object": "bucket", "start_time": "2026-01-01", "end_time": 1767312000, "results": [{}]},
                    {"object": "bucket", "start_time": 1767312000, "end_time": 1767225600, "results": []},
                    {"object": "bucket", "start_time": 1767398400, "end_time": 1767484800, "results": None},
                    _openai_bucket(1767484800, [{"object": "organization.invoice"}, 7]),
                ],
            }
        )
    )

    assert errors_of(openai_api, document) == [
        (None, "start_time", "bucket 1: '2026-01-01' is not a Unix time in seconds"),
        (None, "end_time", "bucket 2: ends (2026-01-01T00:00:00+00:00) before it starts (2026-01-02T00:00:00+00:00)"),
        (None, "results", "bucket 3: is null; expected a list of results"),
        (
            2,
            "object",
            "result 2 (bucket 4): 'organization.invoice' is not a known result; expected "
            "organization.usage.<endpoint>.result or organization.costs.result",
        ),
        (3, None, "result 3 (bucket 4): is 7; expected a result object"),
    ]


def test_openai_parse_of_a_non_document_says_what_was_expected() -> None:
    [(row, column, message)] = errors_of(openai_api, {"a": 1})
    assert (row, column) == (None, None)
    assert message.startswith("not an OpenAI Usage/Costs API response")


def test_anthropic_bad_counts_amounts_and_types_are_reported_by_result() -> None:
    usage = {
        "uncached_input_tokens": 10,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    document = loads(
        json.dumps(
            {
                "data": [
                    {
                        "starting_at": "2025-08-01T00:00:00Z",
                        "ending_at": "2025-08-02T00:00:00Z",
                        "results": [usage, {**usage, "uncached_input_tokens": -3}],
                    },
                    {
                        "starting_at": "2025-08-02T00:00:00Z",
                        "ending_at": "2025-08-03T00:00:00Z",
                        "results": [
                            {**usage, "cache_creation": {"ephemeral_5m_input_tokens": "x"}},
                            {**usage, "cache_creation": 5},
                            {"currency": "USD", "amount": "12,50"},
                            {"currency": "USD", "amount": True},
                            {"currency": "USD", "amount": "1", "cost_type": "tokens", "token_type": "thinking_tokens"},
                            {"currency": "", "amount": "1"},
                            {"input_tokens": 4},
                        ],
                    },
                    {"starting_at": "yesterday", "ending_at": "2025-08-03T00:00:00Z", "results": [usage]},
                ],
                "has_more": False,
                "next_page": None,
            }
        )
    )

    assert errors_of(anthropic_api, document) == [
        (2, "uncached_input_tokens", "result 2 (bucket 1): -3 is not a whole non-negative count"),
        (
            3,
            "cache_creation.ephemeral_5m_input_tokens",
            "result 3 (bucket 2): 'x' is not a whole non-negative count",
        ),
        (4, "cache_creation", "result 4 (bucket 2): is 5; expected an object with 'ephemeral_5m_input_tokens'"),
        (4, "cache_creation", "result 4 (bucket 2): is 5; expected an object with 'ephemeral_1h_input_tokens'"),
        (
            5,
            "amount",
            "result 5 (bucket 2): '12,50' is not a number; expected an amount in cents as a decimal string "
            "such as '123.45'",
        ),
        (
            6,
            "amount",
            "result 6 (bucket 2): true is not a number; expected an amount in cents as a decimal string "
            "such as '123.45'",
        ),
        (
            7,
            "token_type",
            "result 7 (bucket 2): 'thinking_tokens' is not a known token type; expected one of "
            "uncached_input_tokens, output_tokens, cache_read_input_tokens or cache_creation.*",
        ),
        (8, "currency", "result 8 (bucket 2): '' is not a currency code; expected three letters such as usd"),
        (
            9,
            None,
            "result 9 (bucket 2): is neither a usage item (no uncached_input_tokens) nor a cost item "
            "(no amount and currency)",
        ),
        (
            None,
            "starting_at",
            "bucket 3: 'yesterday' is not a time; expected an RFC 3339 time such as 2025-08-01T00:00:00Z",
        ),
    ]


# End to end through the package API (detect_format + parse_export) --------------------------------------------


@pytest.mark.parametrize(("path", "module"), list(JSON_FIXTURES.items()), ids=lambda value: getattr(value, "name", ""))
def test_detect_format_and_parse_export_find_the_json_module(
    path: Path, module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The modules are not registered in FORMATS yet; register them for this test only.
    monkeypatch.setitem(ingest.parsers.FORMATS, openai_api.NAME, openai_api)
    monkeypatch.setitem(ingest.parsers.FORMATS, anthropic_api.NAME, anthropic_api)
    upload = tmp_path / path.name
    upload.write_bytes(path.read_bytes())

    detected = ingest.parsers.detect_format(upload)
    stats = ParseStats()
    records = list(ingest.parsers.parse_export(upload, detected, stats))

    assert detected is module
    expected, expected_stats = parse(module, load(path))
    assert records == expected
    assert stats == expected_stats
    assert (token_totals(records), requests_total(records)) == (token_totals(expected), requests_total(expected))


def test_detect_format_reads_json_with_a_bom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ingest.parsers.FORMATS, openai_api.NAME, openai_api)
    monkeypatch.setitem(ingest.parsers.FORMATS, anthropic_api.NAME, anthropic_api)
    upload = tmp_path / "cost_report.json"
    upload.write_bytes(b"\xef\xbb\xbf\n" + ANTHROPIC_COST.read_bytes())

    module = ingest.parsers.detect_format(upload)
    records = list(ingest.parsers.parse_export(upload, module, ParseStats()))

    assert module is anthropic_api
    assert sum(record.cost or Decimal(0) for record in records) == Decimal("19.41575")


def test_parse_export_surfaces_result_numbered_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ingest.parsers.FORMATS, openai_api.NAME, openai_api)
    upload = tmp_path / "usage.json"
    upload.write_text(
        json.dumps([_openai_bucket(1767225600, [_completion(input_tokens=1), _completion(input_tokens=-1)])])
    )

    module = ingest.parsers.detect_format(upload)
    with pytest.raises(IngestError) as caught:
        list(ingest.parsers.parse_export(upload, module, ParseStats()))

    assert module is openai_api
    assert (
        str(caught.value) == "row 2, column 'input_tokens': result 2 (bucket 1): -1 is not a whole non-negative count"
    )
