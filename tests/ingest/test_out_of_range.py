"""Counts and costs the ledger's columns cannot hold are refused, never crash: tokens and requests are bigint
(at most 9,223,372,036,854,775,807), costs numeric(24, 10) (14 digits before the decimal point).

Every reader family (the CSV readers, the OpenAI usage export's columnar fast path, the JSON API readers, the
billing exports) refuses such a value with its row, column and the limit; the ledger writer refuses what a
parser computed beyond them (a sum of counts, a cost estimated from the list price). Through the service, the
API and ``manage.py ingest`` the file lands whole or not at all.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from types import ModuleType

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from ingest import services
from ingest.ledger_writer import estimate
from ingest.models import LedgerLine, Upload
from ingest.parsers import anthropic_api, anthropic_tokens, aws_cur2, focus, openai, openai_api
from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    parse_money,
    parse_token_count,
    parse_token_counts,
)
from ingest.parsers.openai_columnar import NotColumnar
from ingest.services import upload_create, upload_ingest
from tests.ingest.parser_helpers import edited, parse_text
from tests.ingest.test_services import HEADER

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CUR2 = FIXTURES / "aws" / "cur2_bedrock_daily.csv"
FOCUS_PER_TOKEN = FIXTURES / "focus" / "ai_billing__per_token_foundation_model_api.csv"
ANTHROPIC_TOKENS = FIXTURES / "anthropic" / "claude_api_tokens_2026_03.csv"

MAX_COUNT = 9_223_372_036_854_775_807
TOKENS_LIMIT = "is larger than the ledger holds (at most 9,223,372,036,854,775,807 tokens)"
REQUESTS_LIMIT = "is larger than the ledger holds (at most 9,223,372,036,854,775,807 requests)"
COST_LIMIT = (
    "is larger than the ledger holds (at most 99,999,999,999,999.9999999999, 14 digits before the decimal point)"
)
TWENTY_DIGITS = "100000000000000000000"
TWENTY_FIVE_DIGITS = "1234567890123456789012345"
# 2025-06-01, a day o1-pro (600 USD per million output tokens) has a list price.
JUNE = "1748736000,1748822400,2025-06-01T00:00:00+00:00,2025-06-02T00:00:00+00:00"
JUNE_2 = "1748822400,1748908800,2025-06-02T00:00:00+00:00,2025-06-03T00:00:00+00:00"
JUNE_3 = "1748908800,1748995200,2025-06-03T00:00:00+00:00,2025-06-04T00:00:00+00:00"


def usage_csv_row(
    *, day: str = JUNE, model: str = "gpt-4o-mini-2024-07-18", input_tokens: str = "1000", output_tokens: str = "100"
) -> str:
    """A row of the OpenAI usage export (the header of tests/ingest/test_services.py), uncached column empty."""
    return (
        f"{day},proj_a,2,user-a,key_a,{model},False,default,,{input_tokens},{output_tokens},0,0,,"
        f"{input_tokens},{output_tokens},0,0,0,0,0,0,0"
    )


def usage_csv(*rows: str) -> bytes:
    return "\n".join([HEADER, usage_csv_row(), *rows]).encode() + b"\n"


def openai_usage_json(**counts: object) -> bytes:
    result = {"object": "organization.usage.completions.result", "model": "gpt-4o-mini", **counts}
    bucket = {"object": "bucket", "start_time": 1767225600, "end_time": 1767312000, "results": [result]}
    return json.dumps({"object": "page", "data": [bucket], "has_more": False, "next_page": None}).encode()


def openai_costs_json(amount: str) -> bytes:
    """A Costs API page of one result whose amount is the JSON number ``amount`` as written."""
    result = {"object": "organization.costs.result", "amount": {"value": "AMOUNT", "currency": "usd"}}
    bucket = {"object": "bucket", "start_time": 1767225600, "end_time": 1767312000, "results": [result]}
    page = json.dumps({"object": "page", "data": [bucket], "has_more": False, "next_page": None})
    return page.replace('"AMOUNT"', amount).encode()


def anthropic_usage_result(**counts: object) -> dict[str, object]:
    return {
        "uncached_input_tokens": 10,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
        "model": "claude-sonnet-4-5-20250929",
        **counts,
    }


def anthropic_json(*results: dict[str, object]) -> bytes:
    bucket = {"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z", "results": list(results)}
    return json.dumps({"data": [bucket], "has_more": False, "next_page": None}).encode()


def loads(content: bytes) -> object:
    return json.loads(content, parse_float=Decimal)


def errors_of_text(module: ModuleType, text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(IngestError) as caught:
        parse_text(module, text)
    return [(error.row, error.column, error.message) for error in caught.value.errors]


def errors_of_document(module: ModuleType, document: object) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(IngestError) as caught:
        list(module.parse_document(document, ParseStats()))
    return [(error.row, error.column, error.message) for error in caught.value.errors]


# The shared helpers: parse_token_count, its fast path parse_token_counts, parse_money --------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9223372036854775807", MAX_COUNT),
        ("9223372036854775807.0", MAX_COUNT),
        ("0009223372036854775807", MAX_COUNT),
        ("999999999999999999", 999_999_999_999_999_999),
        ("9.223372036854775807E+18", MAX_COUNT),
    ],
)
def test_the_largest_counts_the_ledger_holds_are_read(value: str, expected: int) -> None:
    errors: list[RowError] = []

    assert parse_token_count(value, row=2, column="input_tokens", errors=errors) == expected
    assert parse_token_counts([value], [("input_tokens", 0)], row=2, errors=errors) == [expected]
    assert errors == []


@pytest.mark.parametrize(
    "value",
    ["9223372036854775808", "9223372036854775808.0", TWENTY_DIGITS, TWENTY_FIVE_DIGITS, "1e30", "1E+999999999"],
)
def test_a_count_beyond_bigint_is_refused_with_row_column_and_the_limit(value: str) -> None:
    errors: list[RowError] = []

    assert parse_token_count(value, row=7, column="input_tokens", errors=errors) == 0
    assert parse_token_counts(["5", value], [("output_tokens", 0), ("input_tokens", 1)], row=7, errors=errors) == [5, 0]
    expected = RowError(row=7, column="input_tokens", message=f"{value!r} {TOKENS_LIMIT}")
    assert errors == [expected, expected]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e20", f"'1e20' {COST_LIMIT}"),
        ("100000000000000", f"'100000000000000' {COST_LIMIT}"),
        # Rounded to the ledger's 10 decimals this is 10^14: one more digit than the column holds.
        ("99999999999999.99999999999", f"'99999999999999.99999999999' {COST_LIMIT}"),
        (
            "-1e20",
            "'-1e20' is smaller than the ledger holds (at least -99,999,999,999,999.9999999999, "
            "14 digits before the decimal point)",
        ),
    ],
)
def test_a_cost_beyond_numeric_24_10_is_refused(value: str, message: str) -> None:
    errors: list[RowError] = []

    assert parse_money(value, row=3, column="cost", errors=errors, expected="an amount of money") is None
    assert errors == [RowError(row=3, column="cost", message=message)]


@pytest.mark.parametrize("value", ["99999999999999.9999999999", "-99999999999999.99999999994", "0.5", "-12.25"])
def test_costs_the_ledger_holds_are_read(value: str) -> None:
    errors: list[RowError] = []

    assert parse_money(value, row=3, column="cost", errors=errors, expected="an amount of money") == Decimal(value)
    assert errors == []


# The CSV readers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [TWENTY_DIGITS, TWENTY_FIVE_DIGITS, f"{TWENTY_DIGITS}.0"])
def test_openai_usage_csv_refuses_a_count_beyond_bigint(value: str) -> None:
    text = usage_csv(usage_csv_row(input_tokens=value)).decode()

    assert errors_of_text(openai, text) == [(3, "input_tokens", f"{value!r} {TOKENS_LIMIT}")]


def test_anthropic_token_csv_refuses_a_count_beyond_bigint() -> None:
    text = edited(ANTHROPIC_TOKENS, {(2, "usage_output_tokens"): TWENTY_FIVE_DIGITS})

    assert errors_of_text(anthropic_tokens, text) == [
        (2, "usage_output_tokens", f"{TWENTY_FIVE_DIGITS!r} {TOKENS_LIMIT}")
    ]


# The JSON API readers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "column", "shown", "limit"),
    [
        ({"input_tokens": 10**20, "output_tokens": 1}, "input_tokens", TWENTY_DIGITS, TOKENS_LIMIT),
        ({"input_tokens": 1, "output_tokens": "1e25"}, "output_tokens", "'1e25'", TOKENS_LIMIT),
        ({"input_tokens": 1, "num_model_requests": 10**20}, "num_model_requests", TWENTY_DIGITS, REQUESTS_LIMIT),
        (
            {"input_tokens": 1, "input_uncached_tokens": 2**63},
            "input_uncached_tokens",
            "9223372036854775808",
            TOKENS_LIMIT,
        ),
    ],
)
def test_openai_usage_api_refuses_a_count_beyond_bigint(
    counts: dict[str, object], column: str, shown: str, limit: str
) -> None:
    document = loads(openai_usage_json(**counts))

    assert errors_of_document(openai_api, document) == [(1, column, f"result 1 (bucket 1): {shown} {limit}")]


def test_openai_costs_api_refuses_an_amount_beyond_the_cost_column() -> None:
    document = loads(openai_costs_json("1e20"))

    assert errors_of_document(openai_api, document) == [(1, "amount.value", f"result 1 (bucket 1): 1E+20 {COST_LIMIT}")]


def test_anthropic_usage_api_refuses_a_count_beyond_bigint() -> None:
    document = loads(anthropic_json(anthropic_usage_result(cache_read_input_tokens=10**20)))

    assert errors_of_document(anthropic_api, document) == [
        (1, "cache_read_input_tokens", f"result 1 (bucket 1): {TWENTY_DIGITS} {TOKENS_LIMIT}")
    ]


@pytest.mark.parametrize(
    ("amount", "refused"),
    [("10000000000000000", True), ("9999999999999999.99", False), ("-10000000000000000", True)],
)
def test_anthropic_cost_api_checks_the_amount_in_dollars_not_cents(amount: str, refused: bool) -> None:
    document = loads(anthropic_json({"currency": "USD", "amount": amount, "model": "claude-sonnet-4-5"}))

    if not refused:
        [record] = list(anthropic_api.parse_document(document, ParseStats()))
        assert record.cost == Decimal(amount) / 100
        return
    [(row, column, message)] = errors_of_document(anthropic_api, document)
    assert (row, column) == (1, "amount")
    assert message.startswith(f"result 1 (bucket 1): {amount!r} (in cents: ")
    assert "than the ledger holds (at " in message


# The billing exports ----------------------------------------------------------------------------------------


def test_aws_cur_refuses_a_cost_and_a_usage_amount_beyond_the_ledger() -> None:
    text = edited(CUR2, {(2, "line_item_net_unblended_cost"): "1e20", (3, "line_item_usage_amount"): "1e17"})

    assert errors_of_text(aws_cur2, text) == [
        (2, "line_item_net_unblended_cost", f"'1e20' {COST_LIMIT}"),
        (3, "line_item_usage_amount", f"'1e17' 1K tokens {TOKENS_LIMIT}"),
    ]


def test_focus_refuses_a_billed_cost_and_a_quantity_beyond_the_ledger() -> None:
    text = edited(FOCUS_PER_TOKEN, {(2, "BilledCost"): "1e20", (3, "ConsumedQuantity"): "1e19"})

    assert errors_of_text(focus, text) == [
        (2, "billedcost", f"'1e20' {COST_LIMIT}"),
        (3, "consumedquantity", f"'1e19' Tokens {TOKENS_LIMIT}"),
    ]


# Through the service: the upload fails with the errors and no ledger line is written --------------------------

SERVICE_CASES = {
    "usage CSV, 25 digits (fast path hands over)": (
        "completions_usage.csv",
        usage_csv(usage_csv_row(input_tokens=TWENTY_FIVE_DIGITS)),
        (3, "input_tokens", f"{TWENTY_FIVE_DIGITS!r} {TOKENS_LIMIT}"),
    ),
    "usage CSV, an estimated cost beyond the cost column": (
        "completions_usage.csv",
        usage_csv(usage_csv_row(model="o1-pro", input_tokens="0", output_tokens="9000000000000000000")),
        (
            3,
            None,
            "the output cost of the row, 5,400,000,000,000,000.0000000000 USD (estimated from the list price), "
            + COST_LIMIT,
        ),
    ),
    "OpenAI Usage API JSON": (
        "usage.json",
        openai_usage_json(input_tokens=10**20, output_tokens=1),
        (1, "input_tokens", f"result 1 (bucket 1): {TWENTY_DIGITS} {TOKENS_LIMIT}"),
    ),
    "OpenAI Costs API JSON": (
        "costs.json",
        openai_costs_json("1e20"),
        (1, "amount.value", f"result 1 (bucket 1): 1E+20 {COST_LIMIT}"),
    ),
    "Anthropic usage report JSON": (
        "usage_report.json",
        anthropic_json(anthropic_usage_result(output_tokens=10**20)),
        (1, "output_tokens", f"result 1 (bucket 1): {TWENTY_DIGITS} {TOKENS_LIMIT}"),
    ),
    "Anthropic usage report JSON, cache writes that add up beyond bigint": (
        "usage_report.json",
        anthropic_json(
            anthropic_usage_result(
                cache_creation={"ephemeral_5m_input_tokens": 5 * 10**18, "ephemeral_1h_input_tokens": 5 * 10**18}
            )
        ),
        (1, None, f"the cache_write tokens of the row, 10,000,000,000,000,000,000, {TOKENS_LIMIT}"),
    ),
    "AWS CUR 2.0": (
        "cur2.csv",
        edited(CUR2, {(4, "line_item_net_unblended_cost"): "1e20"}).encode(),
        (4, "line_item_net_unblended_cost", f"'1e20' {COST_LIMIT}"),
    ),
    "FOCUS": (
        "focus.csv",
        edited(FOCUS_PER_TOKEN, {(2, "EffectiveCost"): "-1e20"}).encode(),
        (
            2,
            "effectivecost",
            "'-1e20' is smaller than the ledger holds (at least -99,999,999,999,999.9999999999, "
            "14 digits before the decimal point)",
        ),
    ),
    "Anthropic token CSV": (
        "claude_api_tokens.csv",
        edited(ANTHROPIC_TOKENS, {(3, "usage_input_tokens_no_cache"): TWENTY_DIGITS}).encode(),
        (3, "usage_input_tokens_no_cache", f"{TWENTY_DIGITS!r} {TOKENS_LIMIT}"),
    ),
}


def _ingest(organization, name: str, content: bytes) -> Upload:
    upload = upload_create(organization=organization, source=io.BytesIO(content), filename=name)
    return upload_ingest(upload_id=upload.pk)


@pytest.mark.parametrize("case", list(SERVICE_CASES))
def test_the_upload_fails_with_the_error_and_nothing_lands(case: str, db, organization) -> None:
    name, content, (row, column, message) = SERVICE_CASES[case]

    upload = _ingest(organization, name, content)

    assert upload.status == Upload.Status.FAILED
    assert upload.errors[0] == {"row": row, "column": column, "message": message}
    assert upload.summary["records"] == 0
    assert not LedgerLine.objects.exists()


def _row_path_only(*args: object, **kwargs: object) -> None:
    raise NotColumnar("turned off by the test")


def test_the_row_path_refuses_the_estimated_cost_as_the_fast_path_does(db, organization, monkeypatch) -> None:
    name, content, (row, column, message) = SERVICE_CASES["usage CSV, an estimated cost beyond the cost column"]
    monkeypatch.setattr(services, "usage_export_batches", _row_path_only)

    upload = _ingest(organization, name, content)

    assert (upload.status, upload.errors[0]) == ("failed", {"row": row, "column": column, "message": message})
    assert not LedgerLine.objects.exists()


@pytest.mark.parametrize("fast", [True, False])
def test_the_largest_counts_land_and_both_paths_total_them_alike(fast: bool, db, organization, monkeypatch) -> None:
    """Counts at the very top of bigint land; totals over them (the upload summary) are not wrapped. One a day:
    the daily rollup adds a day's lines up in a bigint too."""
    if not fast:
        monkeypatch.setattr(services, "usage_export_batches", _row_path_only)
    rows = [usage_csv_row(day=day, input_tokens=str(MAX_COUNT), output_tokens="0") for day in (JUNE_2, JUNE_3)]

    upload = _ingest(organization, "completions_usage.csv", usage_csv(*rows))

    assert upload.status == Upload.Status.SUCCEEDED, upload.errors
    assert upload.summary["read_by"] == ("columns" if fast else "rows")
    assert upload.summary["tokens"]["input"] == 1000 + 2 * MAX_COUNT
    assert sorted(LedgerLine.objects.values_list("input_quantity", flat=True)) == [1000, MAX_COUNT, MAX_COUNT]


def test_the_ledger_writer_refuses_what_a_parser_computed_beyond_the_columns(db, organization, monkeypatch) -> None:
    """The last line of defence: records of any parser are checked where they become lines."""
    moment = datetime(2026, 3, 1, tzinfo=UTC)

    def records(*args: object, **kwargs: object):
        common = {"period_start": moment, "period_end": moment, "provider": "anthropic", "model_raw": "claude"}
        yield CanonicalRecord(**common, token_type="input", quantity=10, source_row=2)
        yield CanonicalRecord(**common, token_type="cache_write", quantity=2**64, source_row=3)
        yield CanonicalRecord(**common, token_type="output", quantity=1, requests=2**63, source_row=4)
        yield CanonicalRecord(**common, token_type="other", quantity=0, cost=Decimal("1e15"), source_row=5)

    monkeypatch.setattr(services, "parse_export", records)

    upload = _ingest(organization, ANTHROPIC_TOKENS.name, ANTHROPIC_TOKENS.read_bytes())

    assert upload.status == Upload.Status.FAILED
    assert upload.errors == [
        {
            "row": 3,
            "column": None,
            "message": f"the cache_write tokens of the row, 18,446,744,073,709,551,616, {TOKENS_LIMIT}",
        },
        {
            "row": 4,
            "column": None,
            "message": f"the requests of the row, 9,223,372,036,854,775,808, {REQUESTS_LIMIT}",
        },
        {"row": 5, "column": None, "message": f"the other cost of the row, 1E+15 USD, {COST_LIMIT}"},
    ]
    assert not LedgerLine.objects.exists()


def test_an_estimate_beyond_28_digits_is_computed_for_the_range_check_to_refuse() -> None:
    """A price per token of 1 USD (a mistyped negotiated price) times the largest count: 29 digits at 10 decimals."""
    assert str(estimate(MAX_COUNT, Decimal(1))) == "9223372036854775807.0000000000"


# Through the API and the command ----------------------------------------------------------------------------


def test_the_api_shows_the_failed_upload_with_the_error(
    db, api_client_for, analyst, organization, django_capture_on_commit_callbacks
) -> None:
    client = api_client_for(analyst)
    content = usage_csv(usage_csv_row(input_tokens=TWENTY_DIGITS))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/uploads/",
            {"file": SimpleUploadedFile("completions_usage.csv", content), "organization": "acme"},
            format="multipart",
        )

    assert response.status_code == 202
    detail = client.get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert detail["status"] == "failed"
    assert detail["errors"][0] == {"row": 3, "column": "input_tokens", "message": f"{TWENTY_DIGITS!r} {TOKENS_LIMIT}"}
    assert not LedgerLine.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "content", "where", "message"),
    [
        (
            "completions_usage.csv",
            usage_csv(usage_csv_row(input_tokens=TWENTY_FIVE_DIGITS)),
            "row 3, column 'input_tokens'",
            f"{TWENTY_FIVE_DIGITS!r} {TOKENS_LIMIT}",
        ),
        (
            "usage.json",
            openai_usage_json(input_tokens=10**20, output_tokens=1),
            "row 1, column 'input_tokens'",
            f"result 1 (bucket 1): {TWENTY_DIGITS} {TOKENS_LIMIT}",
        ),
    ],
)
def test_the_command_exits_non_zero_with_the_message_and_no_traceback(
    name: str, content: bytes, where: str, message: str, organization, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="some files did not land"):
        call_command("ingest", str(path), "--org", "acme", stdout=out, stderr=err)

    assert out.getvalue() == f"{path}: failed\n"
    assert err.getvalue() == f"  {where}: {message}\n"
    assert Upload.objects.get().status == Upload.Status.FAILED
    assert not LedgerLine.objects.exists()
