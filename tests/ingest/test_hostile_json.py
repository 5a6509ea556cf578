"""Hostile JSON through the real upload path (web, command, worker): a clear message, and nothing half-stored.

The JSON readers get the same treatment as the CSV readers in test_bad_input.py. A file refused at upload
leaves no Upload row and no file under MEDIA_ROOT; a file that fails on the worker leaves the ledger as it
was. Every message says what is wrong, where (line and column, or result and field) and what was expected.
"""

from __future__ import annotations

import codecs
import gzip
import io
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from ingest.models import LedgerEntry, Upload
from ingest.parsers import IngestError
from ingest.services import upload_create, upload_ingest

pytestmark = pytest.mark.django_db

SAMPLE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "openai" / "cookbook_usage_completions_ungrouped_2025-01.json"
)
# Hand-computed totals of SAMPLE (see test_parsers_api_json.py): 26 results, 62 records.
SAMPLE_TOKENS = {"input": 16_832_844, "output": 747_463, "cached_input": 168_128, "cache_write": 0}
# Line 9 of SAMPLE is `        "input_tokens": 141201,` (the key at column 9, the value at column 25);
# line 10 is `        "output_tokens": 9756,`.
FIRST_INPUT_TOKENS = b'"input_tokens": 141201,'
FIRST_OUTPUT_TOKENS = b'"output_tokens": 9756,'
DEEP = b"[" * 200_000 + b"]" * 200_000
DEEP_MESSAGE = (
    "the JSON document nests deeper than 64 levels (at line 1, column 65); expected an API response as "
    "returned, which nests fewer than 10 levels"
)
OUT_OF_RANGE = "is out of range; expected a count or an amount below 10^30 in at most 40 characters"
NOT_A_NUMBER = "is not a JSON number; expected a finite number (JSON has no NaN or Infinity)"
KNOWN_RESPONSES = (
    "is not a known API response; expected a page, a list of pages or a list of buckets as returned by one "
    "of: OpenAI Usage/Costs API JSON, Anthropic Admin API usage/cost report JSON"
)


def sample() -> bytes:
    return SAMPLE.read_bytes()


def with_first_input_tokens(value: bytes) -> bytes:
    """SAMPLE with the value of result 1's ``input_tokens`` (line 9, column 25) written as ``value``."""
    content = sample()
    assert content.count(FIRST_INPUT_TOKENS) == 1
    return content.replace(FIRST_INPUT_TOKENS, b'"input_tokens": ' + value + b",")


def cut_after_line(content: bytes, lines: int) -> bytes:
    return b"".join(content.splitlines(keepends=True)[:lines])


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root: Path) -> set[Path]:
    return {path for path in media_root.rglob("*") if path.is_file()}


def ledger(organization) -> list[tuple]:
    return list(
        LedgerEntry.objects.filter(organization=organization)
        .order_by("id")
        .values_list("id", "token_type", "quantity", "cost")
    )


@pytest.fixture
def loaded(organization, openai_sample: Path, media_root: Path) -> None:
    """A ledger that already holds one good export, so "unchanged" means something."""
    upload = upload_create(organization=organization, source=io.BytesIO(openai_sample.read_bytes()), filename="a.csv")
    assert upload_ingest(upload_id=upload.pk).status == Upload.Status.SUCCEEDED


# Refused at upload (the web process detects the format): (content, file name, row, column, message).
REFUSED_AT_UPLOAD = {
    "nested 200,000 deep": (DEEP, "deep.json", 1, None, DEEP_MESSAGE),
    "nested 200,000 deep, gzipped": (gzip.compress(DEEP), "deep.json.gz", 1, None, DEEP_MESSAGE),
    "cut off": (
        cut_after_line(sample(), 100),
        "cut.json",
        100,
        None,
        "the JSON document stops at line 100 before it is complete (4 brackets still open): the file seems "
        "cut off; expected one whole JSON document as the API returned it",
    ),
    "not JSON after all": (
        b'[\n  {"object": "bucket",, "results": []}\n]',
        "broken.json",
        2,
        None,
        "not valid JSON at line 2, column 23 (Expecting property name enclosed in double quotes); expected one "
        "whole JSON document as the API returned it",
    ),
    "top level is a list of numbers": (
        b"[1, 2, 3]",
        "numbers.json",
        None,
        None,
        f"the JSON document (a list of 3 items) {KNOWN_RESPONSES}",
    ),
    "top level is another object": (
        b'{"usage": [], "total": 3}',
        "other.json",
        None,
        None,
        f"the JSON document (an object with the keys 'usage', 'total') {KNOWN_RESPONSES}",
    ),
    "an exponent of a trillion": (
        with_first_input_tokens(b"1e999999999999"),
        "huge.json",
        9,
        None,
        f"the number 1e999999999999 at line 9, column 25 {OUT_OF_RANGE}",
    ),
    "a 5,000-digit integer": (
        with_first_input_tokens(b"9" * 5000),
        "long.json",
        9,
        None,
        f"the number 99999999999999999999... (5,000 characters) at line 9, column 25 {OUT_OF_RANGE}",
    ),
    "NaN": (with_first_input_tokens(b"NaN"), "nan.json", 9, None, f"NaN at line 9, column 25 {NOT_A_NUMBER}"),
    "-Infinity": (
        with_first_input_tokens(b"-Infinity"),
        "inf.json",
        9,
        None,
        f"-Infinity at line 9, column 25 {NOT_A_NUMBER}",
    ),
    "a duplicate key": (
        sample().replace(FIRST_OUTPUT_TOKENS, b'"input_tokens": 9756,', 1),
        "twice.json",
        10,
        None,
        "the key 'input_tokens' at line 10, column 9 appears twice in one object; expected each key once, as "
        "the API returns it",
    ),
    "invalid UTF-8 after the sniffed head": (
        b"[\n" + b" " * 70_000 + b'\n"caf\xe9"\n]',
        "latin1.json",
        3,
        None,
        "the file is not UTF-8 text (undecodable byte 0xe9 at line 3, column 5); expected UTF-8 JSON",
    ),
    "UTF-16 with a byte order mark": (
        codecs.BOM_UTF16_LE + sample().decode().encode("utf-16-le"),
        "utf16.json",
        None,
        None,
        "the file is UTF-16 text (it starts with a UTF-16 byte order mark); expected UTF-8: save or export it as UTF-8",
    ),
    "empty": (b"", "empty.json", None, None, "the file is empty; expected a CSV export with a header row"),
}


@pytest.mark.parametrize("case", list(REFUSED_AT_UPLOAD))
def test_hostile_json_is_refused_at_upload_and_nothing_is_stored(organization, loaded, media_root, case) -> None:
    content, name, row, column, message = REFUSED_AT_UPLOAD[case]
    ledger_before, files_before, uploads_before = ledger(organization), stored_files(media_root), Upload.objects.count()

    with pytest.raises(IngestError) as caught:
        upload_create(organization=organization, source=io.BytesIO(content), filename=name)

    assert [(e.row, e.column, e.message) for e in caught.value.errors] == [(row, column, message)]
    assert Upload.objects.count() == uploads_before
    assert stored_files(media_root) == files_before
    assert ledger(organization) == ledger_before


def test_a_text_where_a_count_is_expected_fails_the_upload_with_its_result_and_field(
    organization, loaded, media_root
) -> None:
    before = ledger(organization)
    upload = upload_create(
        organization=organization, source=io.BytesIO(with_first_input_tokens(b'"lots"')), filename="text.json"
    )

    failed = upload_ingest(upload_id=upload.pk)

    assert failed.status == Upload.Status.FAILED
    assert failed.errors == [
        {
            "row": 1,
            "column": "input_tokens",
            "message": "result 1 (bucket 1): 'lots' is not a whole non-negative count",
        }
    ]
    assert ledger(organization) == before


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (codecs.BOM_UTF8 + sample(), "bom.json"),
        (gzip.compress(sample()), "usage.json.gz"),
        (b"\n\n  " + sample() + b"\n\n", "padded.json"),
    ],
    ids=["UTF-8 BOM", "gzipped", "blank lines around"],
)
def test_well_formed_variants_land_whole(organization, media_root, content: bytes, name: str) -> None:
    upload = upload_create(organization=organization, source=io.BytesIO(content), filename=name)

    landed = upload_ingest(upload_id=upload.pk)

    assert (landed.status, landed.format, landed.errors) == (Upload.Status.SUCCEEDED, "openai_api", [])
    assert landed.summary["tokens"] == SAMPLE_TOKENS
    assert (landed.summary["rows_read"], landed.summary["records"]) == (26, 62)


def test_deep_nesting_gets_400_from_the_api_and_nothing_is_stored(
    api_client_for, analyst, organization, media_root
) -> None:
    response = api_client_for(analyst).post(
        "/api/v1/uploads/",
        {"file": SimpleUploadedFile("deep.json", DEEP), "organization": "acme"},
        format="multipart",
    )

    assert response.status_code == 400
    assert [(e["row"], e["column"], e["message"]) for e in response.json()["errors"]] == [(1, None, DEEP_MESSAGE)]
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == set()
    assert LedgerEntry.objects.count() == 0


def test_deep_nesting_makes_the_command_exit_non_zero_with_the_message(organization, media_root, tmp_path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(DEEP)
    out, err = StringIO(), StringIO()

    # A CommandError is what manage.py prints as one line and exit status 1, without a traceback.
    with pytest.raises(CommandError, match="some files did not land; the ledger holds none of their rows"):
        call_command("ingest", str(path), "--org", "acme", stdout=out, stderr=err)

    assert out.getvalue() == f"{path}: rejected\n"
    assert err.getvalue() == f"  row 1: {DEEP_MESSAGE}\n"
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == set()
    assert LedgerEntry.objects.count() == 0
