"""Format detection at upload reads a bounded amount: the web process holds a few MiB per request at most.

Memory is measured with tracemalloc around ``upload_create`` (the web side of an upload); the file is read
from disk, so only what the service itself allocates counts. A JSON document too large to parse in the web
process is accepted after a check of its first bytes, then detected and ingested (or failed) by the worker.
"""

from __future__ import annotations

import gzip
import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from ingest.models import LedgerEntry, Upload
from ingest.parsers import IngestError, detect_format
from ingest.services import upload_create, upload_ingest
from tests.ingest.test_services import HEADER, usage_row

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
PEAK_LIMIT = 8 * MiB
SAMPLE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "openai" / "cookbook_usage_completions_ungrouped_2025-01.json"
)
SAMPLE_TOKENS = {"input": 16_832_844, "output": 747_463, "cached_input": 168_128, "cache_write": 0}
EMPTY_BUCKET = b'  {"object": "bucket", "start_time": 1739232000, "end_time": 1739318400, "results": []}'
LONG_HEADER = "the header line is longer than 65,536 bytes; is this a CSV export? Expected a first line of column names"


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root: Path) -> list[Path]:
    return [path for path in media_root.rglob("*") if path.is_file()]


def upload_measured(organization, path: Path) -> tuple[Upload | IngestError, int]:
    """``upload_create`` of the file at ``path``, and the peak of memory it allocated (bytes)."""
    tracemalloc.start()
    try:
        with path.open("rb") as source:
            result: Upload | IngestError = upload_create(organization=organization, source=source, filename=path.name)
    except IngestError as error:
        result = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, peak


def big_json(path: Path, size: int, tail: bytes = b"\n]") -> Path:
    """SAMPLE's 31 buckets followed by empty buckets up to ``size`` bytes, then ``tail``: the same records."""
    inner = SAMPLE.read_bytes().strip()[1:-1].rstrip()
    with path.open("wb") as out:
        out.write(b"[" + inner)
        written = len(inner) + 1
        while written < size:
            out.write(b",\n" + EMPTY_BUCKET)
            written += len(EMPTY_BUCKET) + 2
        out.write(tail)
    return path


def test_a_gzip_whose_header_line_expands_to_50_mib_is_refused_holding_little(
    organization, media_root, tmp_path: Path
) -> None:
    path = tmp_path / "header.csv.gz"
    column_names = (("x" * 999 + ",") * 1024).encode()  # 1 MiB of a header line, 1,000 bytes per name
    with gzip.open(path, "wb") as out:
        for _ in range(50):
            out.write(column_names)
    assert path.stat().st_size < MiB

    result, peak = upload_measured(organization, path)

    assert isinstance(result, IngestError)
    assert [(e.row, e.message) for e in result.errors] == [(1, LONG_HEADER)]
    assert peak < PEAK_LIMIT, f"peak {peak:,} bytes"
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == []


def test_header_length_limit_is_on_the_header_only(tmp_path: Path) -> None:
    extra = ",".join(f"custom_column_{index:05}" for index in range(3_000))  # about 60 KiB of names
    under = tmp_path / "wide.csv"
    under.write_text(f"{HEADER},{extra}\n{usage_row('proj_a')}{',' * 3_000}\n")
    over = tmp_path / "wider.csv"
    over.write_text(f"{HEADER},{extra},{extra}\n")

    assert detect_format(under).NAME == "openai_usage"
    with pytest.raises(IngestError) as caught:
        detect_format(over)
    assert [(e.row, e.message) for e in caught.value.errors] == [(1, LONG_HEADER)]


def test_a_20_mib_json_is_accepted_without_parsing_it_and_the_worker_ingests_it(
    organization, media_root, tmp_path: Path
) -> None:
    path = big_json(tmp_path / "usage.json", 20 * MiB)

    upload, peak = upload_measured(organization, path)

    assert isinstance(upload, Upload)
    assert peak < PEAK_LIMIT, f"peak {peak:,} bytes"
    assert (upload.status, upload.format) == (Upload.Status.QUEUED, "")  # the worker detects the format

    landed = upload_ingest(upload_id=upload.pk)

    assert (landed.status, landed.format, landed.errors) == (Upload.Status.SUCCEEDED, "openai_api", [])
    assert landed.summary["tokens"] == SAMPLE_TOKENS
    assert (landed.summary["rows_read"], landed.summary["records"]) == (26, 62)


def test_a_large_json_that_is_cut_off_is_accepted_and_fails_whole_on_the_worker(
    organization, media_root, tmp_path: Path
) -> None:
    path = big_json(tmp_path / "cut.json", 8 * MiB, tail=b",\n  {")
    lines = path.read_bytes().count(b"\n") + 1

    upload = upload_create(organization=organization, source=io.BytesIO(path.read_bytes()), filename="cut.json")
    failed = upload_ingest(upload_id=upload.pk)

    assert failed.status == Upload.Status.FAILED
    assert failed.errors == [
        {
            "row": lines,
            "column": None,
            "message": f"the JSON document stops at line {lines:,} before it is complete (2 brackets still "
            "open): the file seems cut off; expected one whole JSON document as the API returned it",
        }
    ]
    assert LedgerEntry.objects.count() == 0


def test_a_20_mib_json_nested_too_deep_is_refused_at_upload_from_its_first_bytes(
    organization, media_root, tmp_path: Path
) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * (10 * MiB) + b"]" * (10 * MiB))

    result, peak = upload_measured(organization, path)

    assert isinstance(result, IngestError)
    assert [(e.row, e.message) for e in result.errors] == [
        (
            1,
            "the JSON document nests deeper than 64 levels (at line 1, column 65); expected an API response as "
            "returned, which nests fewer than 10 levels",
        )
    ]
    assert peak < PEAK_LIMIT, f"peak {peak:,} bytes"
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_zip_of_50_000_files_is_refused_before_its_directory_is_loaded(
    organization, media_root, tmp_path: Path
) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(50_000):
            archive.writestr(f"usage-{index:05}.csv", b"")

    result, peak = upload_measured(organization, path)

    assert isinstance(result, IngestError)
    [error] = result.errors
    assert error.message.startswith("the zip archive lists 50,000 files (")
    assert error.message.endswith(
        "bytes of directory); expected at most 1,000 files and 262,144 bytes of directory: upload the exports "
        "in several archives"
    )
    assert peak < PEAK_LIMIT, f"peak {peak:,} bytes"
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == []
