"""The OpenAI dashboard usage parser, on the real sample and on hand-written variants (no database)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ingest.parsers import FORMATS, IngestError, ParseStats, detect_format, parse_export
from ingest.parsers import openai as openai_usage

NEW_HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,"
    "service_tier,compute_units,input_tokens,output_tokens,input_cached_tokens,input_cache_write_tokens,"
    "input_uncached_tokens,input_text_tokens,output_text_tokens,input_cached_text_tokens,input_audio_tokens,"
    "input_cached_audio_tokens,output_audio_tokens,input_image_tokens,input_cached_image_tokens,output_image_tokens"
)
OLD_HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,"
    "service_tier,input_tokens,output_tokens,input_cached_tokens,input_audio_tokens,output_audio_tokens"
)
DAY = "1735689600,1735776000,2025-01-01T00:00:00+00:00,2025-01-02T00:00:00+00:00"


def parse_text(text: str) -> tuple[list, ParseStats]:
    stats = ParseStats()
    records = list(openai_usage.parse(io.StringIO(text, newline=""), stats))
    return records, stats


def totals(records: list) -> dict[str, int]:
    result: dict[str, int] = {}
    for record in records:
        result[record.token_type] = result.get(record.token_type, 0) + record.quantity
    return result


def test_real_sample_gives_hand_computed_totals(openai_sample: Path) -> None:
    stats = ParseStats()
    module = detect_format(openai_sample)
    records = list(parse_export(openai_sample, module, stats))

    assert module is FORMATS["openai_usage"]
    assert totals(records) == {"input": 31422, "output": 29}
    assert stats.rows_read == 31
    assert stats.rows_skipped == {"empty time bucket (no usage that day)": 30}
    assert {r.source_row for r in records} == {32}
    assert records[0].model_raw == "gpt-4o-mini-2024-07-18"
    assert records[0].requests == 4
    assert records[0].period_start.isoformat() == "2026-08-31T00:00:00+00:00"


def test_new_schema_uses_uncached_column_and_ignores_modality_breakdowns() -> None:
    row = (
        f"{DAY},proj_a,10.0,user-a,key_a,gpt-4o-2024-08-06,False,default,,"
        "1000.0,200.0,300.0,50.0,650.0,900.0,200.0,300.0,100.0,0.0,0.0,0.0,0.0,0.0"
    )
    records, _ = parse_text(f"{NEW_HEADER}\n{row}\n")

    assert totals(records) == {"input": 650, "output": 200, "cached_input": 300, "cache_write": 50}


def test_new_schema_without_uncached_value_derives_it() -> None:
    row = (
        f"{DAY},proj_a,10.0,user-a,key_a,gpt-4o-2024-08-06,False,default,,"
        "1000.0,200.0,300.0,50.0,,900.0,200.0,300.0,100.0,0.0,0.0,0.0,0.0,0.0"
    )
    records, _ = parse_text(f"{NEW_HEADER}\n{row}\n")

    assert totals(records)["input"] == 1000 - 300 - 50


def test_old_schema_adds_audio_tokens_to_text_tokens() -> None:
    row = f"{DAY},proj_a,3.0,user-a,key_a,gpt-4o-2024-08-06,True,default,1000.0,100.0,200.0,40.0,7.0"
    records, _ = parse_text(f"{OLD_HEADER}\n{row}\n")

    assert totals(records) == {"input": 1000 - 200 + 40, "output": 100 + 7, "cached_input": 200}
    assert {r.service_tier for r in records} == {"batch"}


def test_non_numeric_and_negative_counts_are_reported_with_row_and_column() -> None:
    bad_text = f"{DAY},proj_a,1.0,u,k,gpt-4o,False,default,,lots,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0"
    negative = f"{DAY},proj_a,1.0,u,k,gpt-4o,False,default,,5.0,-1.0,0.0,0.0,5.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0"

    with pytest.raises(IngestError) as caught:
        parse_text(f"{NEW_HEADER}\n{bad_text}\n{negative}\n")

    messages = [(e.row, e.column, e.message) for e in caught.value.errors]
    assert (2, "input_tokens", "'lots' is not a number; expected a token count") in messages
    assert (3, "output_tokens", "'-1.0' is not a whole non-negative token count") in messages


def test_truncated_last_row_is_reported() -> None:
    row = f"{DAY},proj_a,1.0,u,k,gpt-4o,False,default,,5.0,1.0,0.0,0.0,5.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0"
    cut = row[: row.index("default") + 7]

    with pytest.raises(IngestError) as caught:
        parse_text(f"{NEW_HEADER}\n{row}\n{cut}")

    error = caught.value.errors[0]
    assert error.row == 3
    assert (
        error.message == "has 11 fields, expected 26 as in the header (the file seems cut off in the middle of a row)"
    )


def test_unknown_header_names_the_closest_format_and_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("start_time,end_time,input_tokens,cost\n1,2,3,4\n")

    with pytest.raises(IngestError) as caught:
        detect_format(path)

    message = caught.value.errors[0].message
    assert message.startswith("the header matches no known export format. Closest: OpenAI dashboard usage export")
    assert "misses num_model_requests, output_tokens, start_time_iso" in message


def test_semicolon_file_is_told_about_its_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(NEW_HEADER.replace(",", ";") + "\n")

    with pytest.raises(IngestError) as caught:
        detect_format(path)

    assert "another delimiter than a comma" in caught.value.errors[0].message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty; expected a CSV export with a header row"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the file is binary, not text; expected a CSV export (UTF-8 text)"),
        (b"caf\xe9,x\n", "the file is not UTF-8 text (undecodable byte at offset 3); expected a UTF-8 CSV export"),
    ],
)
def test_unreadable_files_get_one_clear_message(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)

    with pytest.raises(IngestError) as caught:
        detect_format(path)

    assert [e.message for e in caught.value.errors] == [expected]


def test_broken_quoting_is_reported_with_its_row() -> None:
    good = f"{DAY},proj_a,1.0,u,k,gpt-4o,False,default,,5.0,1.0,0.0,0.0,5.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0"
    broken = f'{DAY},"proj_a,1.0,u,k,gpt-4o,False,default,,5.0,1.0,0.0,0.0,5.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0'

    with pytest.raises(IngestError) as caught:
        parse_text(f"{NEW_HEADER}\n{good}\n{broken}\n")

    error = caught.value.errors[0]
    assert error.row == 3
    assert error.message.startswith("broken CSV quoting (unexpected end of data)")


def test_bad_bytes_after_the_sniffed_head_are_reported_with_their_row(tmp_path: Path) -> None:
    good = f"{DAY},proj_a,1.0,u,k,gpt-4o,False,default,,5.0,1.0,0.0,0.0,5.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\n"
    path = tmp_path / "latin1.csv"
    path.write_bytes((NEW_HEADER + "\n" + good * 2000).encode() + b"caf\xe9" + good.encode()[4:])

    with pytest.raises(IngestError) as caught:
        list(parse_export(path, detect_format(path), ParseStats()))

    assert caught.value.errors[0].message == "not UTF-8 text (invalid continuation byte); expected UTF-8"


# --- Format version ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "version"),
    [
        (NEW_HEADER, "2026 schema (input_text_tokens, input_cache_write_tokens)"),
        (
            NEW_HEADER.replace("compute_units,", "").replace("input_cache_write_tokens,", ""),
            "2025 schema (input_text_tokens)",
        ),
        (OLD_HEADER, "pre-mid-2025 schema (no input_text_tokens)"),
    ],
)
def test_format_version_names_the_schema_generation(header: str, version: str) -> None:
    _, stats = parse_text(header + "\n")

    assert stats.format_version == version


def test_a_forced_format_without_a_time_column_fails_with_a_clear_message() -> None:
    header = OLD_HEADER.replace("end_time,", "", 1)  # what --format openai_usage could be given
    row = (
        "1735689600,2025-01-01T00:00:00+00:00,2025-01-02T00:00:00+00:00,proj_a,3,,key_a,gpt-4o,False,default,10,5,0,0,0"
    )

    with pytest.raises(IngestError) as raised:
        parse_text(f"{header}\n{row}\n")

    [error] = raised.value.errors
    assert (error.row, error.column) == (1, "end_time")
    assert error.message == "column is missing; expected an OpenAI usage export with start_time and end_time"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("12", 12), ("12.0", 12), (" 12 ", 12), ("1e3", 1000), ("", 0), ("0012", 12)],
)
def test_token_counts_read_the_same_through_the_fast_path_and_the_full_parser(cell, expected) -> None:
    row = f"{DAY},proj_a,1,,key_a,gpt-4o,False,default,{cell},5,0,0,0"

    records, _ = parse_text(f"{OLD_HEADER}\n{row}\n")

    assert totals(records).get("input", 0) == expected
