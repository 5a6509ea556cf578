"""The OpenAI usage export's column-by-column fast path writes exactly what the row parser writes.

Each file is ingested twice, into two organizations with the same teams and rules: once as any upload
is (the fast path where it applies) and once with the fast path turned off. The ledger records, field by
field, and the upload summaries must be the same; files the fast path does not take must say so
(``read_by``) and still load, or fail with the row parser's messages.
"""

from __future__ import annotations

import gzip
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from finops.models import AllocationRule, Organization
from ingest import services
from ingest.demo_data import write_openai_usage_exports
from ingest.models import LedgerEntry, Upload
from ingest.parsers.openai_columnar import NotColumnar
from ingest.services import upload_create, upload_ingest
from tests.conftest import OPENAI_USAGE_SAMPLE
from tests.factories import OrganizationFactory, TeamFactory

HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,"
    "service_tier,compute_units,input_tokens,output_tokens,input_cached_tokens,input_cache_write_tokens,"
    "input_uncached_tokens,input_text_tokens,output_text_tokens,input_cached_text_tokens,input_audio_tokens,"
    "input_cached_audio_tokens,output_audio_tokens,input_image_tokens,input_cached_image_tokens,output_image_tokens"
)
DAY_1 = "1735689600,1735776000,2025-01-01T00:00:00+00:00,2025-01-02T00:00:00+00:00"
DAY_2 = "1735776000,1735862400,2025-01-02T00:00:00+00:00,2025-01-03T00:00:00+00:00"
# Rows that exercise the line assembly: every token type, none but output, cached > 0 with the uncached
# column empty (derived) or stated, cache writes, Batch API and flex traffic, users and no user, a model
# priced only as exported, a fine-tune, quoted cells, an empty time bucket and a row with no tokens at all.
EDGE_ROWS = [
    f"{DAY_1},proj_a,3.0,user-a,key_a,gpt-4o-2024-08-06,False,default,,5000.0,700.0,1200.0,300.0,3500.0,"
    "5000.0,700.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0",
    f"{DAY_1},proj_a,1,,key_b,gpt-4o-mini-2024-07-18,True,default,,0,90,0,0,,0,90,0,0,0,0,0,0,0",
    f'{DAY_1},"proj_b",7.0,user-b,key_a,o3-2025-04-16,False,flex,,999,10,99,0,,999,10,0,0,0,0,0,0,0',
    f"{DAY_1},proj_b,2.0,user-b,key_a,ft:gpt-4o-mini-2024-07-18:acme::abc,False,,,10,1,0,0,10,10,1,0,0,0,0,0,0,0",
    f"{DAY_1},proj_c,2.0,,key_c,acme-private-model,False,default,,10,1,0,0,10,10,1,0,0,0,0,0,0,0",
    f"{DAY_2},,,,,,,,,,,,,,,,,,,,,,",
    f"{DAY_2},proj_a,0.0,user-a,key_a,gpt-4o-2024-08-06,False,default,,0.0,0.0,0.0,0.0,0.0,0,0,0,0,0,0,0,0,0",
    f"{DAY_2},proj_c,5.0,user-c,key_c,gpt-4.1-2025-04-14,False,priority,,123456789,98765,23456789,1000,"
    "100000000,123456789,98765,0,0,0,0,0,0,0",
]
RECORD_FIELDS = [
    field.attname
    for field in LedgerEntry._meta.concrete_fields
    if field.attname not in ("id", "line_id", "organization_id", "upload_id", "team_id")
]


def _organization(slug: str) -> Organization:
    organization = OrganizationFactory(slug=slug)
    search = TeamFactory(organization=organization, name="Search")
    research = TeamFactory(organization=organization, name="Research")
    AllocationRule.objects.create(organization=organization, team=search, dimension="project", value="proj_b")
    AllocationRule.objects.create(organization=organization, team=research, dimension="tag", value="user_id=user-a")
    return organization


def _ingest(organization: Organization, name: str, content: bytes) -> Upload:
    upload = upload_create(organization=organization, source=io.BytesIO(content), filename=name)
    return upload_ingest(upload_id=upload.pk)


def _records(organization: Organization) -> list[dict[str, Any]]:
    rows = LedgerEntry.objects.filter(organization=organization).select_related("team")
    return [
        {**{field: getattr(entry, field) for field in RECORD_FIELDS}, "team": entry.team.name if entry.team else None}
        for entry in rows.order_by("source_row", "token_type")
    ]


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key not in ("read_by", "duration_seconds")}


def _row_path_only(*args: object, **kwargs: object) -> None:
    raise NotColumnar("turned off by the test")


def _both_ways(name: str, content: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Upload, Upload]:
    fast = _ingest(_organization("fast"), name, content)
    with monkeypatch.context() as patch:
        patch.setattr(services, "usage_export_batches", _row_path_only)
        rows = _ingest(_organization("rows"), name, content)
    return fast, rows


def _demo_export(directory: Path) -> tuple[str, bytes]:
    path = write_openai_usage_exports(directory, end=date(2026, 3, 31), months=1)[0]
    return path.name, path.read_bytes()


@pytest.mark.parametrize(
    "source",
    ["edge_rows", "edge_rows_crlf", "edge_rows_gzip", "public_sample", "demo_export"],
)
def test_the_fast_path_writes_what_the_row_parser_writes(source: str, db, price_catalog, monkeypatch, tmp_path) -> None:
    if source == "public_sample":
        name, content = OPENAI_USAGE_SAMPLE.name, OPENAI_USAGE_SAMPLE.read_bytes()
    elif source == "demo_export":
        name, content = _demo_export(tmp_path)
    else:
        text = "\n".join([HEADER, *EDGE_ROWS]) + "\n"
        name, content = "completions_usage_2025-01-01_2025-01-02.csv", text.encode()
        if source == "edge_rows_crlf":
            content = text.replace("\n", "\r\n").encode()
        if source == "edge_rows_gzip":
            name, content = name + ".gz", gzip.compress(content)

    fast, rows = _both_ways(name, content, monkeypatch)

    assert (fast.status, rows.status) == ("succeeded", "succeeded")
    assert (fast.summary["read_by"], rows.summary["read_by"]) == ("columns", "rows")
    assert fast.summary["records"] > 0
    assert _records(fast.organization) == _records(rows.organization)
    assert _comparable(fast.summary) == _comparable(rows.summary)


def test_edge_rows_land_as_lines_with_the_right_slots(db, price_catalog, monkeypatch) -> None:
    fast, _ = _both_ways("usage.csv", ("\n".join([HEADER, *EDGE_ROWS]) + "\n").encode(), monkeypatch)

    lines = {line.source_row: line for line in fast.lines.all()}
    # 8 data rows: one empty time bucket skipped, one with no tokens at all writes nothing.
    assert sorted(lines) == [2, 3, 4, 5, 6, 9]
    assert fast.summary["rows_read"] == 8
    assert fast.summary["rows_skipped"] == {"empty time bucket (no usage that day)": 1}
    first = lines[2]
    assert (first.input_quantity, first.output_quantity, first.cached_input_quantity, first.cache_write_quantity) == (
        3500,
        700,
        1200,
        300,
    )
    assert (first.requests, first.requests_slot, first.other_quantity) == (3, 0, None)
    output_only = lines[3]
    assert (output_only.input_quantity, output_only.output_quantity, output_only.requests_slot) == (None, 90, 1)
    assert output_only.service_tier == "batch"
    # An unpriced model: its tokens are records without cost.
    private = lines[6]
    assert (private.input_cost, private.input_basis) == (None, "unknown")


@pytest.mark.parametrize(
    ("row", "why"),
    [
        (f"{DAY_1},proj_a,1,,key_a,gpt-4o-2024-08-06,False,default,,12.5,1,0,0,,12,1,0,0,0,0,0,0,0", "fraction"),
        (f"{DAY_1},proj_a,1,,key_a,gpt-4o-2024-08-06,False,default,,-5,1,0,0,,0,1,0,0,0,0,0,0,0", "negative"),
        (f"{DAY_1},proj_a,1,,key_a,,False,default,,5,1,0,0,,5,1,0,0,0,0,0,0,0", "no model"),
        (f"{DAY_1},proj_a,1,,key_a,gpt-4o-2024-08-06,False,default,,5,1,9,0,,5,1,0,0,0,0,0,0,0", "cached > input"),
        (f"{DAY_1},proj_a,1,,key_a,gpt-4o-2024-08-06,False,default,,5,1,0,0,,5,1,0,0,0,0,0,0", "short row"),
    ],
)
def test_bad_rows_fall_back_to_the_row_parsers_messages(row: str, why: str, db, price_catalog) -> None:
    good = f"{DAY_1},proj_a,1,,key_a,gpt-4o-2024-08-06,False,default,,5,1,0,0,,5,1,0,0,0,0,0,0,0"
    organization = _organization("bad")

    upload = _ingest(organization, "usage.csv", f"{HEADER}\n{good}\n{row}\n".encode())

    assert upload.status == "failed", why
    assert upload.errors and all(error["row"] == 3 for error in upload.errors), upload.errors
    assert not LedgerEntry.objects.filter(organization=organization).exists()


def test_null_markers_are_read_by_the_row_parser_with_the_same_result(db, price_catalog) -> None:
    row = f"{DAY_1},proj_a,1,,key_a,gpt-4o-2024-08-06,False,default,,5,null,0,0,,5,1,0,0,0,0,0,0,0"
    upload = _ingest(_organization("nulls"), "usage.csv", f"{HEADER}\n{row}\n".encode())

    assert (upload.status, upload.summary["read_by"]) == ("succeeded", "rows")
    assert upload.summary["tokens"]["input"] == 5


@pytest.mark.parametrize(
    "usd_per_million", ["0.15", "0.075", "0.01875", "1.234567", "0.333333", "150", "0", "0.0000001"]
)
def test_vectorized_costs_round_as_the_row_path_does(usd_per_million: str) -> None:
    import random
    from decimal import Decimal

    import numpy as np

    from ingest.ledger_writer import _cost_units, estimate, per_token

    rng = random.Random(usd_per_million)
    quantities = [0, 1, 5, 999, 10**6, 123_456_789_012, *(rng.randrange(1, 10**11) for _ in range(200))]
    usd_per_token = per_token(Decimal(usd_per_million))
    # Two price keys: the price, and no price (rows of an unpriced key must come out as 0).
    units = _cost_units(
        np.array(quantities, dtype=np.int64), [usd_per_token.scaleb(10), None], np.zeros(len(quantities), dtype=int)
    )
    expected = [int(estimate(quantity, usd_per_token).scaleb(10)) for quantity in quantities]
    assert [int(unit) for unit in units] == expected
    unpriced = _cost_units(
        np.array(quantities, dtype=np.int64), [usd_per_token.scaleb(10), None], np.ones(len(quantities), dtype=int)
    )
    assert not any(int(unit) for unit in unpriced)
