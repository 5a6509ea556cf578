"""Compressed uploads: .csv.gz and .zip of CSVs land like plain files; bombs and damage are refused."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from ingest.parsers import IngestError, ParseStats, detect_format, parse_export


def token_totals(path: Path, **limits: int) -> dict[str, int]:
    module = detect_format(path, **limits)
    totals: dict[str, int] = {}
    for record in parse_export(path, module, ParseStats(), **limits):
        totals[record.token_type] = totals.get(record.token_type, 0) + record.quantity
    return totals


def test_gzip_and_zip_give_the_same_totals_as_the_plain_file(openai_sample: Path, tmp_path: Path) -> None:
    gz = tmp_path / "usage.csv.gz"
    gz.write_bytes(gzip.compress(openai_sample.read_bytes()))
    archive = tmp_path / "usage.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(openai_sample, "august.csv")
        out.write(openai_sample, "august-again.csv")

    assert token_totals(openai_sample) == {"input": 31422, "output": 29}
    assert token_totals(gz) == {"input": 31422, "output": 29}
    assert token_totals(archive) == {"input": 2 * 31422, "output": 2 * 29}


def test_gzip_bomb_is_refused(tmp_path: Path, openai_sample: Path) -> None:
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(openai_sample.read_bytes() + b"\n" * 5_000_000))

    with pytest.raises(IngestError) as caught:
        token_totals(bomb, max_expanded_bytes=1_000_000)

    assert caught.value.errors[0].message.startswith(
        "bomb.csv.gz expands to more than 1,000,000 bytes; refused as a possible zip or gzip bomb"
    )


def test_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("huge.csv", b"0" * 3_000_000)

    with pytest.raises(IngestError) as caught:
        detect_format(bomb, max_expanded_bytes=1_000_000)

    assert caught.value.errors[0].message.startswith(
        "the zip archive expands to 3,000,000 bytes, over the limit of 1,000,000"
    )


def test_zip_member_errors_name_the_member(tmp_path: Path, openai_sample: Path) -> None:
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(openai_sample, "good.csv")
        out.writestr("cut.csv", openai_sample.read_bytes()[:-40])

    module = detect_format(archive)
    with pytest.raises(IngestError) as caught:
        list(parse_export(archive, module, ParseStats()))

    error = caught.value.errors[0]
    assert error.row == 32
    assert error.message.startswith("in cut.csv: has 18 fields, expected 26")


def test_zip_mixing_formats_is_refused(tmp_path: Path, openai_sample: Path) -> None:
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(openai_sample, "usage.csv")
        out.writestr(
            "other.csv", "usage_date_utc,model,token_type,cost_usd\n2026-01-01,Claude Sonnet 4.5,output,1.00\n"
        )

    with pytest.raises(IngestError) as caught:
        detect_format(archive)

    assert caught.value.errors[0].message == (
        "the archive mixes export formats (usage.csv is openai_usage, other.csv is anthropic_cost); "
        "upload them separately"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (gzip.compress(b"start_time,end_time")[:12], "usage.csv.gz: the compressed data is damaged or cut off"),
        (b"PK\x03\x04garbage", "the zip archive is damaged"),
    ],
)
def test_damaged_archives_get_a_clear_message(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "usage.csv.gz"
    path.write_bytes(content)

    with pytest.raises(IngestError) as caught:
        detect_format(path)

    assert caught.value.errors[0].message.startswith(message)


def test_empty_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w"):
        pass

    with pytest.raises(IngestError) as caught:
        detect_format(path)

    assert caught.value.errors[0].message == "the zip archive holds no files; expected CSV exports inside"
