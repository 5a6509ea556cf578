"""Every kind of bad input, through the real upload path: a row-numbered message and an unchanged ledger."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from ingest.models import LedgerEntry, Upload
from ingest.parsers import IngestError
from ingest.services import upload_create, upload_ingest
from tests.ingest.test_services import HEADER, usage_row

pytestmark = pytest.mark.django_db

GOOD_ROW = usage_row("proj_a")
DAY = "1735689600,1735776000,2025-01-01T00:00:00+00:00,2025-01-02T00:00:00+00:00"


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("usage.csv", HEADER + "\n" + "\n" * 3_000_000)
    return buffer.getvalue()


BAD_INPUTS = {
    "unknown header": (b"when,what\n1,2\n", 1, "the header matches no known export format. Closest: "),
    "wrong delimiter": (HEADER.replace(",", ";").encode() + b"\n", 1, "the header has a single column"),
    "broken quoting": (f'{HEADER}\n{DAY},"proj_a,2.0\n'.encode(), 2, "broken CSV quoting"),
    "truncated": (f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW[:70]}".encode(), 3, "has 4 fields, expected 26"),
    "not UTF-8": ((HEADER + "\n").encode() + b"caf\xe9\n", None, "the file is not UTF-8 text"),
    "negative tokens": (
        f"{HEADER}\n{GOOD_ROW.replace(',100.0,', ',-100.0,', 1)}\n".encode(),
        2,
        "'-100.0' is not a whole",
    ),
    "non-numeric tokens": (
        f"{HEADER}\n{GOOD_ROW.replace(',100.0,', ',lots,', 1)}\n".encode(),
        2,
        "'lots' is not a number",
    ),
    "impossible date": (
        f"{HEADER}\n{GOOD_ROW.replace('1735689600', '99999999999', 1)}\n".encode(),
        2,
        "not a plausible date",
    ),
    "gzip bomb": (
        gzip.compress((HEADER + "\n").encode() + b"\n" * 3_000_000),
        None,
        "expands to more than 1,000,000 bytes",
    ),
    "zip bomb": (zip_bomb(), None, "the zip archive expands to"),
    "over the size limit": ((HEADER + "\n" + GOOD_ROW + "\n").encode() * 3000, None, "over the size limit"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_its_message_and_the_ledger_is_unchanged(organization, openai_sample, settings, case) -> None:
    settings.UPLOAD_MAX_EXPANDED_BYTES = 1_000_000
    settings.UPLOAD_MAX_BYTES = 500_000
    first = upload_create(organization=organization, source=io.BytesIO(openai_sample.read_bytes()), filename="a.csv")
    upload_ingest(upload_id=first.pk)
    before = list(LedgerEntry.objects.order_by("id").values_list("id", "quantity", "cost"))
    content, row, message = BAD_INPUTS[case]

    try:
        upload = upload_create(organization=organization, source=io.BytesIO(content), filename="bad.csv")
    except IngestError as error:
        errors = [e.as_dict() for e in error.errors]
    else:
        upload = upload_ingest(upload_id=upload.pk)
        assert upload.status == Upload.Status.FAILED
        errors = upload.errors

    assert message in errors[0]["message"], errors
    assert errors[0]["row"] == row
    assert list(LedgerEntry.objects.order_by("id").values_list("id", "quantity", "cost")) == before
